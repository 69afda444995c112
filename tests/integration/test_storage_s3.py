"""discourse_storage's bucket setup against a real S3-compatible HTTP server (moto_server).

The role runs in external mode with the key pair in the inventory and render mode on, with the
bucket setup asked for (discourse_storage_render_bucket_setup), so these tests need no Kubernetes:
the bucket setup talks to the S3 server, and the manifests go to a file
(tests/integration/test_storage_rehearsal.py covers the Secret and MinIO on the rehearsal cluster).
What the role set is read back with boto3 and compared with Discourse's rules written out here.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from botocore.exceptions import ClientError

from ansible_collections.forumops.discourse.plugins.module_utils import s3_buckets as logic
from ansible_collections.forumops.discourse.plugins.module_utils import s3_buckets_io
from ansible_collections.forumops.discourse.plugins.modules import s3_buckets
from tests.fixtures.ansible import flat_output, play_recap, run_module_main
from tests.fixtures.s3 import S3Server, free_port
from tests.fixtures.s3_rules import (
    ASSETS_RULE,
    BACKUP_DIRECT_UPLOAD_RULE,
    DIRECT_UPLOAD_RULE,
    public_uploads_policy,
)

pytestmark = pytest.mark.s3

PLAYBOOK = "tests/integration/playbooks/storage_converge.yml"
UPLOADS = "forum-uploads"
BACKUPS = "forum-backups"
SECRET_KEY = "test-secret-key-do-not-print-7Qx"
SECRET_NAME = "forum-one-s3-credentials"  # from the site name forum_one


def public_access_block(client, bucket):
    return client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]


def access_block(acls, policy):
    """A PublicAccessBlockConfiguration: ``acls`` blocks and ignores public ACLs, ``policy`` blocks
    public bucket policies and restricts public buckets."""
    return {
        "BlockPublicAcls": acls,
        "IgnorePublicAcls": acls,
        "BlockPublicPolicy": policy,
        "RestrictPublicBuckets": policy,
    }


def lifecycle_rule(rule_id, prefix, **action):
    return {"ID": rule_id, "Filter": {"Prefix": prefix}, "Status": "Enabled", **action}


def abort_rule(days):
    return lifecycle_rule(
        "forumops-abort-incomplete-multipart-uploads",
        "",
        AbortIncompleteMultipartUpload={"DaysAfterInitiation": days},
    )


EXPIRE_RULE = lifecycle_rule("forumops-expire-backups", "default/", Expiration={"Days": 30})


def foreign_rule(days):
    """A lifecycle rule of someone else's (CloudNativePG's WAL archive) on the backups bucket."""
    return lifecycle_rule("cnpg-wal", "cnpg/", Expiration={"Days": days})


def render_vars(tmp_path, site="forum_one", hostname="forum.example.test", **overrides):
    """A site with the two buckets whose manifests go to tmp_path/render."""
    return {
        "discourse_site_name": site,
        "discourse_namespace": site.replace("_", "-"),
        "discourse_hostname": hostname,
        "discourse_render_dir": str(tmp_path / "render"),
        "discourse_storage_uploads_bucket": UPLOADS,
        "discourse_storage_backups_bucket": BACKUPS,
        **overrides,
    }


def site_vars(s3_server, tmp_path, **overrides):
    values = {
        # The bucket setup in render mode is a step asked for by name.
        "discourse_storage_render_bucket_setup": True,
        "discourse_storage_endpoint": s3_server.endpoint,
        "discourse_storage_path_style": True,
        "discourse_storage_access_key_id": s3_server.access_key_id,
        "discourse_storage_secret_access_key": SECRET_KEY,
        # moto implements the public access block API, as AWS does.
        "discourse_storage_public_access_block": True,
        "storage_connection_out": str(tmp_path / "connection.json"),
    }
    return render_vars(tmp_path, **{**values, **overrides})


def converge(ansible, tmp_path, values):
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(values))
    return ansible("ansible-playbook", PLAYBOOK, "-e", f"@{path}")


recap = play_recap


def converged(ansible, tmp_path, values):
    result = converge(ansible, tmp_path, values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr
    return result


@pytest.fixture
def converge_site(ansible, s3_server, tmp_path):
    """converged() with site_vars(**overrides)."""

    def run(**overrides):
        return converged(ansible, tmp_path, site_vars(s3_server, tmp_path, **overrides))

    return run


def lifecycle(client, bucket):
    return client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]


def error_code(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


def test_external_mode_creates_both_buckets_with_discourses_rules(converge_site, s3_server, tmp_path):
    # A CDN with its own access to the bucket: no public policy (the default one is tested below).
    cdn = {
        "discourse_storage_uploads_public_read": False,
        "discourse_storage_cdn_url": "https://cdn.forum.test",
    }
    converge_site(**cdn)
    client = s3_server.client()

    assert sorted(b["Name"] for b in client.list_buckets()["Buckets"]) == [BACKUPS, UPLOADS]
    assert client.get_bucket_cors(Bucket=UPLOADS)["CORSRules"] == [ASSETS_RULE, DIRECT_UPLOAD_RULE]
    assert client.get_bucket_cors(Bucket=BACKUPS)["CORSRules"] == [BACKUP_DIRECT_UPLOAD_RULE]
    assert lifecycle(client, UPLOADS) == [abort_rule(7)]
    assert lifecycle(client, BACKUPS) == [abort_rule(7)]
    # Backups: private in every respect; uploads: object ACLs usable, public policies blocked.
    assert public_access_block(client, BACKUPS) == access_block(acls=True, policy=True)
    assert public_access_block(client, UPLOADS) == access_block(acls=False, policy=True)
    assert error_code(client.get_bucket_policy, Bucket=UPLOADS) == "NoSuchBucketPolicy"
    assert error_code(client.get_bucket_policy, Bucket=BACKUPS) == "NoSuchBucketPolicy"
    assert "Status" not in client.get_bucket_versioning(Bucket=UPLOADS)

    # The contract with discourse_app: plain settings plus Secret references, never the key pair.
    assert json.loads((tmp_path / "connection.json").read_text()) == {
        "endpoint": s3_server.endpoint,
        "region": "us-east-1",
        "uploads_bucket": UPLOADS,
        "backups_bucket": BACKUPS,
        "path_style": True,
        "cdn_url": "https://cdn.forum.test",
        "credentials_secret": SECRET_NAME,
        "env": {
            "DISCOURSE_USE_S3": "true",
            "DISCOURSE_S3_BUCKET": UPLOADS,
            "DISCOURSE_S3_REGION": "us-east-1",
            "DISCOURSE_S3_ENDPOINT": s3_server.endpoint,
            "DISCOURSE_S3_CDN_URL": "https://cdn.forum.test",
            "DISCOURSE_S3_INSTALL_CORS_RULE": "false",
            "DISCOURSE_S3_USE_ACLS": "false",
            "DISCOURSE_BACKUP_LOCATION": "s3",
            "DISCOURSE_S3_BACKUP_BUCKET": BACKUPS,
        },
        "secret_env": {
            "DISCOURSE_S3_ACCESS_KEY_ID": {"name": SECRET_NAME, "key": "access-key-id"},
            "DISCOURSE_S3_SECRET_ACCESS_KEY": {"name": SECRET_NAME, "key": "secret-access-key"},
        },
    }
    # Render mode wrote no Secret, only the note naming it.
    rendered = (tmp_path / "render" / "forum_one" / "storage.yaml").read_text()
    assert SECRET_KEY not in rendered
    assert s3_server.access_key_id not in rendered
    assert "the Secret forum-one-s3-credentials in namespace\n# forum-one with the keys" in rendered


def test_second_run_changes_nothing(ansible, s3_server, tmp_path):
    values = site_vars(s3_server, tmp_path, discourse_storage_backups_expire_days=30)
    first = converged(ansible, tmp_path, values)
    assert recap(first)["changed"] > 0
    second = converged(ansible, tmp_path, values)
    assert recap(second)["changed"] == 0, second.stdout


def test_public_read_and_backup_expiry_are_switched_on_and_off(converge_site, s3_server):
    client = s3_server.client()
    converge_site(
        discourse_storage_uploads_public_read=True,
        discourse_storage_backups_expire_days=30,
        discourse_storage_abort_multipart_days=3,
        discourse_storage_versioning=True,
    )
    assert json.loads(client.get_bucket_policy(Bucket=UPLOADS)["Policy"]) == public_uploads_policy(UPLOADS)
    assert public_access_block(client, UPLOADS) == access_block(acls=False, policy=False)
    assert error_code(client.get_bucket_policy, Bucket=BACKUPS) == "NoSuchBucketPolicy"
    assert lifecycle(client, UPLOADS) == [abort_rule(3)]
    assert lifecycle(client, BACKUPS) == [abort_rule(3), EXPIRE_RULE]
    assert client.get_bucket_versioning(Bucket=UPLOADS)["Status"] == "Enabled"
    assert client.get_bucket_versioning(Bucket=BACKUPS)["Status"] == "Enabled"

    # Switched off again (a CDN reads the bucket now): the policy goes, the expiry rule goes,
    # versioning is suspended.
    converge_site(
        discourse_storage_abort_multipart_days=3,
        discourse_storage_uploads_public_read=False,
        discourse_storage_cdn_url="https://cdn.forum.test",
    )
    assert error_code(client.get_bucket_policy, Bucket=UPLOADS) == "NoSuchBucketPolicy"
    assert public_access_block(client, UPLOADS)["BlockPublicPolicy"]
    assert lifecycle(client, BACKUPS) == [abort_rule(3)]
    assert client.get_bucket_versioning(Bucket=UPLOADS)["Status"] == "Suspended"


def test_uploads_work_without_object_acls_and_are_public_by_the_bucket_policy(
    converge_site, s3_server, tmp_path
):
    """Reported: uploads fail on a new AWS bucket. Discourse sends an ACL only while s3_use_acls is
    true (its default): `return if !SiteSetting.s3_use_acls` in FileStore::ObjectStorage::S3.acl_for
    (discourse/discourse lib/file_store/object_storage/s3.rb, cf57faae3b2ec8a87784fd2a4dcc3512d3386aba;
    `acl: SiteSetting.s3_use_acls ? "public-read" : nil` in lib/tasks/s3.rake,
    d78dd4ed98923d5f4199172d91cc6a2595a16a64), and new AWS buckets enforce bucket-owner ownership and
    refuse ACLs. A DISCOURSE_* variable shadows the site setting of that name
    (lib/site_setting_extension.rb, 0a9b83a6d3b18c1e9ec42b799011e7a4b94e4fa5). moto accepts ACLs on
    any bucket, so the refusal itself cannot be replayed here: the env must tell Discourse not to send
    one, and the uploads must be public without it."""
    client = s3_server.client()
    converge_site()
    facts = json.loads((tmp_path / "connection.json").read_text())
    assert facts["env"]["DISCOURSE_S3_USE_ACLS"] == "false"
    assert "DISCOURSE_S3_USE_ACLS" not in facts["secret_env"]
    # What Discourse then sends for an ordinary upload: no ACL header. It is stored...
    client.put_object(Bucket=UPLOADS, Key="uploads/default/original/1X/a.png", Body=b"png")
    # ...and public by the policy the role left on the bucket, without an object ACL.
    statement = json.loads(client.get_bucket_policy(Bucket=UPLOADS)["Policy"])["Statement"]
    assert statement == public_uploads_policy(UPLOADS)["Statement"]
    assert not public_access_block(client, UPLOADS)["BlockPublicPolicy"]


def test_no_public_read_and_no_cdn_is_refused_before_any_call(ansible, s3_server, tmp_path):
    values = site_vars(s3_server, tmp_path, discourse_storage_uploads_public_read=False)
    result = converge(ansible, tmp_path, values)
    assert result.returncode != 0
    assert (
        "discourse_storage_uploads_public_read is false and discourse_storage_cdn_url is empty: "
        "Discourse sends no object ACLs (DISCOURSE_S3_USE_ACLS=false), so browsers could fetch no upload."
    ) in " ".join(result.stdout.split())


def test_rules_of_others_on_the_buckets_are_kept(converge_site, s3_server):
    client = s3_server.client()
    client.create_bucket(Bucket=BACKUPS)
    cnpg_rule = foreign_rule(90)
    client.put_bucket_lifecycle_configuration(Bucket=BACKUPS, LifecycleConfiguration={"Rules": [cnpg_rule]})
    converge_site()
    assert lifecycle(client, BACKUPS) == [cnpg_rule, abort_rule(7)]


def test_wrong_credentials_fail_naming_the_variables(ansible, converge_site, s3_server, tmp_path):
    access_key_id, secret_access_key = s3_server.require_auth()
    # The server now checks signatures: an unknown key is refused...
    assert error_code(s3_server.client().list_buckets) == "InvalidAccessKeyId"

    result = converge(ansible, tmp_path, site_vars(s3_server, tmp_path))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"Setting up the buckets at {s3_server.endpoint}" in output
    assert "The endpoint refused the credentials: check discourse_storage_access_key_id and" in output
    assert SECRET_KEY not in output

    # ...and the user's own key is accepted, so the failure above was the credentials.
    converge_site(
        discourse_storage_access_key_id=access_key_id, discourse_storage_secret_access_key=secret_access_key
    )
    client = s3_server.client(access_key_id, secret_access_key)
    assert sorted(b["Name"] for b in client.list_buckets()["Buckets"]) == [BACKUPS, UPLOADS]


def test_unreachable_endpoint_fails_naming_it(ansible, s3_server, tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = converge(
        ansible,
        tmp_path,
        site_vars(
            s3_server, tmp_path, discourse_storage_endpoint=endpoint, discourse_storage_connect_timeout=2
        ),
    )
    assert result.returncode != 0
    output = flat_output(result)
    assert (
        f"The S3 endpoint {endpoint} (discourse_storage_api_endpoint, by default discourse_storage_endpoint)"
        in output
    )
    assert s3_server.client().list_buckets()["Buckets"] == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"discourse_storage_uploads_bucket": "Forum_Uploads"},
            'discourse_storage_uploads_bucket ("Forum_Uploads")',
        ),
        ({"discourse_storage_backups_bucket": UPLOADS}, "The backups bucket stays private"),
        (
            {"discourse_storage_mode": "s3"},
            "value of discourse_storage_mode must be one of: external, minio, got: s3",
        ),
        ({"discourse_storage_endpoint": "s3.example.com"}, 'discourse_storage_endpoint ("s3.example.com")'),
        ({"discourse_storage_secret_access_key": ""}, "Set both discourse_storage_access_key_id and"),
        (
            {"discourse_storage_abort_multipart_days": 0},
            "discourse_storage_abort_multipart_days must be at least 1",
        ),
        ({"discourse_storage_versioning": "sometimes"}, "discourse_storage_versioning"),
        (
            {"discourse_storage_uploads_public_read": True, "discourse_storage_bucket_policies": False},
            "discourse_storage_uploads_public_read needs discourse_storage_bucket_policies",
        ),
    ],
    ids=[
        "bucket-name",
        "same-buckets",
        "mode",
        "endpoint-scheme",
        "half-key-pair",
        "abort-days",
        "bool",
        "public-without-policies",
    ],
)
def test_bad_input_fails_before_any_api_call(ansible, s3_server, tmp_path, overrides, message):
    result = converge(ansible, tmp_path, site_vars(s3_server, tmp_path, **overrides))
    assert result.returncode != 0
    output = flat_output(result)
    assert message in output
    assert s3_server.client().list_buckets()["Buckets"] == []
    assert not (tmp_path / "render").exists()


# --- forumops.discourse.s3_buckets on its own: the module the role's bucket setup is -----------------


@pytest.fixture
def module(s3_server, capsys):
    def run(buckets, **kwargs):
        return run_module_main(s3_buckets.main, module_args(s3_server, buckets, **kwargs), capsys)

    return run


def module_args(s3_server, buckets, check_mode=False, diff=False, secret_key=None):
    return {
        "connection": {
            "endpoint_url": s3_server.endpoint,
            "access_key": s3_server.access_key_id,
            "secret_key": secret_key or s3_server.secret_access_key,
            "addressing_style": "path",
            "connect_timeout": 2,
        },
        "buckets": buckets,
        "_ansible_check_mode": check_mode,
        "_ansible_diff": diff,
    }


BACKUPS_ENTRY = {
    "name": BACKUPS,
    "versioning": False,
    "public_access": {
        "block_public_acls": True,
        "ignore_public_acls": True,
        "block_public_policy": True,
        "restrict_public_buckets": True,
    },
    "manage_policy": True,
    "policy": None,
    "cors": [
        {
            "allowed_headers": ["*"],
            "allowed_methods": ["GET", "HEAD", "PUT"],
            "allowed_origins": ["*"],
            "expose_headers": ["ETag"],
            "max_age_seconds": 3000,
        }
    ],
    "lifecycle_rules": [
        {
            "id": "forumops-abort-incomplete-multipart-uploads",
            "abort_incomplete_multipart_upload_days": 7,
        },
        {"id": "forumops-expire-backups", "prefix": "default/", "expiration_days": 30},
    ],
}


def test_module_check_mode_reports_a_new_bucket_and_creates_nothing(module, s3_server):
    result = module([BACKUPS_ENTRY], check_mode=True, diff=True)
    assert result["changed"] is True
    assert result["buckets"] == [
        {
            "name": BACKUPS,
            "changed": True,
            "changes": [
                "created",
                "public access block",
                "cors",
                "lifecycle rule forumops-abort-incomplete-multipart-uploads added",
                "lifecycle rule forumops-expire-backups added",
            ],
        }
    ]
    assert result["diff"][0]["before_header"] == f"bucket {BACKUPS} (absent)"
    assert result["diff"][0]["after"]["lifecycle"] == [abort_rule(7), EXPIRE_RULE]
    assert s3_server.client().list_buckets()["Buckets"] == []


def test_module_converges_once_then_only_reads(module, s3_server):
    first = module([BACKUPS_ENTRY])
    assert first["buckets"][0]["changes"][0] == "created"
    client = s3_server.client()
    assert lifecycle(client, BACKUPS) == [abort_rule(7), EXPIRE_RULE]
    assert client.get_bucket_cors(Bucket=BACKUPS)["CORSRules"] == [BACKUP_DIRECT_UPLOAD_RULE]

    second = module([BACKUPS_ENTRY], diff=True)
    assert second == {
        "changed": False,
        "buckets": [{"name": BACKUPS, "changed": False, "changes": []}],
        "diff": [],
        "invocation": second["invocation"],
    }
    # The secret key never comes back, not even in the invocation.
    assert s3_server.secret_access_key not in json.dumps(second)


def test_module_check_mode_on_an_existing_bucket_changes_nothing(module, s3_server):
    module([BACKUPS_ENTRY])
    entry = dict(
        BACKUPS_ENTRY,
        cors=[],
        lifecycle_rules=BACKUPS_ENTRY["lifecycle_rules"][:1],
        lifecycle_absent=["forumops-expire-backups"],
        versioning=True,
    )
    result = module([entry], check_mode=True, diff=True)
    assert result["buckets"][0]["changes"] == [
        "versioning enabled",
        "cors removed",
        "lifecycle rule forumops-expire-backups removed",
    ]
    assert result["diff"][0]["before"]["lifecycle"] == [abort_rule(7), EXPIRE_RULE]
    assert result["diff"][0]["after"]["lifecycle"] == [abort_rule(7)]
    client = s3_server.client()
    assert lifecycle(client, BACKUPS) == [abort_rule(7), EXPIRE_RULE]
    assert client.get_bucket_cors(Bucket=BACKUPS)["CORSRules"] == [BACKUP_DIRECT_UPLOAD_RULE]
    assert "Status" not in client.get_bucket_versioning(Bucket=BACKUPS)

    # Without check mode the same entry does exactly that, and a foreign rule survives it.
    cnpg_rule = foreign_rule(9)
    client.put_bucket_lifecycle_configuration(
        Bucket=BACKUPS, LifecycleConfiguration={"Rules": [cnpg_rule, abort_rule(7), EXPIRE_RULE]}
    )
    module([entry])
    assert lifecycle(client, BACKUPS) == [cnpg_rule, abort_rule(7)]
    assert error_code(client.get_bucket_cors, Bucket=BACKUPS) == "NoSuchCORSConfiguration"
    assert client.get_bucket_versioning(Bucket=BACKUPS)["Status"] == "Enabled"


def test_module_refused_key_names_the_call_and_hides_the_secret(module, s3_server):
    s3_server.require_auth()
    result = module([BACKUPS_ENTRY], secret_key=SECRET_KEY)
    assert result["failed"] is True
    assert result["msg"] == (
        f"head_bucket on bucket {BACKUPS} failed: 403 Forbidden: the key may not use this bucket,"
        " or the name belongs to another account"
    )
    assert "endpoint_unreachable" not in result
    assert SECRET_KEY not in json.dumps(result)


def test_module_unreachable_endpoint_is_flagged(capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"
    args = module_args(S3Server(endpoint=endpoint), [{"name": BACKUPS}])
    result = run_module_main(s3_buckets.main, args, capsys)
    assert result["failed"] is True
    assert result["endpoint_unreachable"] is True
    assert result["msg"] == f'Could not connect to the endpoint URL: "{endpoint}/{BACKUPS}"'


def test_role_check_mode_changes_no_bucket(ansible, converge_site, s3_server, tmp_path):
    converge_site(discourse_storage_backups_expire_days=30)
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(site_vars(s3_server, tmp_path, discourse_storage_abort_multipart_days=3)))
    result = ansible("ansible-playbook", PLAYBOOK, "-e", f"@{path}", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed: [localhost]" in result.stdout
    client = s3_server.client()
    assert lifecycle(client, BACKUPS) == [abort_rule(7), EXPIRE_RULE]
    assert lifecycle(client, UPLOADS) == [abort_rule(7)]


@pytest.fixture
def stalled_endpoint():
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung S3 endpoint)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_stalled_endpoint_fails_after_the_read_timeout_and_says_what_it_waits_for(
    ansible, s3_server, tmp_path, stalled_endpoint
):
    """Reported (issue 22, item 8): a stalled endpoint hung the converge 3 minutes without a word."""
    values = site_vars(
        s3_server, tmp_path, discourse_storage_endpoint=stalled_endpoint, discourse_storage_read_timeout=3
    )
    started = time.monotonic()
    result = converge(ansible, tmp_path, values)
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    output = flat_output(result)
    assert (
        f"[localhost] waiting for {stalled_endpoint} to answer head_bucket on bucket {UPLOADS} (2s)" in output
    )
    assert "or does not answer within 3s (discourse_storage_read_timeout)" in output
    assert "head_bucket on bucket forum-uploads got no answer in 2 attempts of read_timeout each" in output
    # Two attempts of 3 s, not botocore's default of 60 s each.
    assert elapsed < 60, elapsed


def test_creating_a_bucket_another_converge_just_created_is_a_success(s3_server):
    """Reported (issue 22, item 9): two converges of a new site at once; the second one's CreateBucket
    answers BucketAlreadyOwnedByYou (outside us-east-1, as AWS does)."""
    client = s3_server.client()
    method, kwargs = logic.create_call("raced-bucket", "eu-central-1")
    client.create_bucket(**kwargs)
    assert s3_buckets_io.call(client, method, kwargs, ("BucketAlreadyOwnedByYou",)) is None
    with pytest.raises(s3_buckets_io.S3Failure, match="BucketAlreadyOwnedByYou"):
        s3_buckets_io.call(client, method, kwargs)
