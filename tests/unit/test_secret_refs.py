"""secret_refs.py: the Secrets a pod's environment reads, checked against a namespace's listing."""

from ansible_collections.forumops.discourse.plugins.module_utils.secret_refs import secret_refs

REFS = [
    {"name": "DISCOURSE_DB_PASSWORD", "secret": "pg", "key": "password"},
    {"name": "DISCOURSE_REDIS_PASSWORD", "secret": "valkey", "key": "password"},
    {"name": "DISCOURSE_S3_ACCESS_KEY_ID", "secret": "s3", "key": "access-key-id"},
    {"name": "DISCOURSE_S3_SECRET_ACCESS_KEY", "secret": "s3", "key": "secret-access-key"},
]


def secret(name, version, **data):
    return {"metadata": {"name": name, "resourceVersion": version}, "data": data}


def test_every_secret_and_key_present_gives_each_secret_version_once():
    listed = [
        secret("pg", "11", username="ZA==", password="cA=="),
        secret("valkey", "12", password="cA=="),
        secret("s3", "13", **{"access-key-id": "YQ==", "secret-access-key": "cw=="}),
        secret("unrelated", "14", x="eA=="),
    ]
    assert secret_refs(REFS, listed, "forum") == {
        "versions": {"pg": "11", "valkey": "12", "s3": "13"},
        "problems": [],
    }


def test_a_missing_secret_and_a_missing_or_empty_key_are_each_named_with_the_variable():
    listed = [
        secret("pg", "11", username="ZA==", password=""),
        secret("s3", "13", **{"access-key-id": "YQ=="}),
    ]
    assert secret_refs(REFS, listed, "forum") == {
        "versions": {"pg": "11", "s3": "13"},
        "problems": [
            "Secret forum/pg has no key 'password' (DISCOURSE_DB_PASSWORD reads it).",
            "Secret forum/valkey does not exist (DISCOURSE_REDIS_PASSWORD reads its key 'password').",
            "Secret forum/s3 has no key 'secret-access-key' (DISCOURSE_S3_SECRET_ACCESS_KEY reads it).",
        ],
    }


def test_no_listing_names_every_secret():
    assert secret_refs(REFS[:1], [], "forum") == {
        "versions": {},
        "problems": ["Secret forum/pg does not exist (DISCOURSE_DB_PASSWORD reads its key 'password')."],
    }
