"""module_utils/app_env: the env ConfigMap keys discourse_app sets and the Secret references, exact."""

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import app_env, names

DATABASE = {
    "host": "discourse-pg-rw.forum.svc",
    "port": 5432,
    "database": "discourse",
    "user": "discourse",
    "secret_name": "discourse-pg-app",
    "sslmode": "require",
}
VALKEY = {"host": "valkey.forum.svc", "port": 6379, "secret_name": "valkey-password"}
STORAGE = {
    "env": {"DISCOURSE_USE_S3": "true", "DISCOURSE_S3_BUCKET": "forum-uploads", "DISCOURSE_S3_ENDPOINT": ""},
    "secret_env": {
        "DISCOURSE_S3_SECRET_ACCESS_KEY": {"name": "forum-s3", "key": "secret-access-key"},
        "DISCOURSE_S3_ACCESS_KEY_ID": {"name": "forum-s3", "key": "access-key-id"},
    },
}


LEAST_DATABASE = {"host": "db", "database": "d", "user": "u"}
# What managed_env returns for a hostname, LEAST_DATABASE and a Valkey host, and nothing else.
LEAST_ENV = {
    "DISCOURSE_HOSTNAME": "forum.example.com",
    "DISCOURSE_DB_HOST": "db",
    "DISCOURSE_DB_PORT": "5432",
    "DISCOURSE_DB_NAME": "d",
    "DISCOURSE_DB_USERNAME": "u",
    "DISCOURSE_DB_SOCKET": "",
    "DISCOURSE_REDIS_HOST": "kv",
    "DISCOURSE_REDIS_PORT": "6379",
    "DISCOURSE_DEVELOPER_EMAILS": "",
    "DISCOURSE_SIDEKIQ_WORKERS": "5",
    "MIGRATE_ON_BOOT": "0",
    "PRECOMPILE_ON_BOOT": "0",
    "CREATE_DB_ON_BOOT": "0",
}
# Each optional input of managed_env and the keys it adds to LEAST_ENV or changes there.
OPTIONAL_SETTINGS = {
    "valkey": (
        {"valkey": {"host": "kv", "port": 6380, "tls": "true", "username": "discourse"}},
        {
            "DISCOURSE_REDIS_PORT": "6380",
            "DISCOURSE_REDIS_USE_SSL": "true",
            "DISCOURSE_REDIS_USERNAME": "discourse",
        },
    ),
    "sslmode": ({"database": {**LEAST_DATABASE, "sslmode": "require"}}, {"PGSSLMODE": "require"}),
    # the storage env, empty values left out
    "storage": (
        {"storage": STORAGE},
        {"DISCOURSE_S3_BUCKET": "forum-uploads", "DISCOURSE_USE_S3": "true"},
    ),
    "developer_emails": (
        {"developer_emails": ["a@example.com", "b@example.com"]},
        {"DISCOURSE_DEVELOPER_EMAILS": "a@example.com,b@example.com"},
    ),
    "sidekiq_concurrency": ({"sidekiq_concurrency": 8}, {"DISCOURSE_SIDEKIQ_WORKERS": "8"}),
    "smtp": (
        {"smtp_address": "smtp.example.com", "smtp_port": 2525, "smtp_enable_start_tls": False},
        {
            "DISCOURSE_SMTP_ADDRESS": "smtp.example.com",
            "DISCOURSE_SMTP_PORT": "2525",
            "DISCOURSE_SMTP_ENABLE_START_TLS": "false",
        },
    ),
    "smtp_domain": ({"smtp_domain": "example.com"}, {"DISCOURSE_SMTP_DOMAIN": "example.com"}),
    "notification_email": (
        {"notification_email": "noreply@example.com"},
        {"DISCOURSE_NOTIFICATION_EMAIL": "noreply@example.com"},
    ),
    "cdn_url": ({"cdn_url": "https://cdn.example.com"}, {"DISCOURSE_CDN_URL": "https://cdn.example.com"}),
    "maxmind_mirror_url": (
        {"maxmind_mirror_url": "https://mirror.example.com/maxmind"},
        {"DISCOURSE_MAXMIND_MIRROR_URL": "https://mirror.example.com/maxmind"},
    ),
    "force_https": ({"force_https": True}, {"DISCOURSE_FORCE_HTTPS": "true"}),
}


def least_site_env(**settings):
    return app_env.managed_env(
        **{"hostname": "forum.example.com", "database": LEAST_DATABASE, "valkey": {"host": "kv"}, **settings}
    )


def test_the_least_a_site_sets():
    assert least_site_env() == LEAST_ENV


@pytest.mark.parametrize("settings, changed", OPTIONAL_SETTINGS.values(), ids=OPTIONAL_SETTINGS.keys())
def test_each_optional_setting_adds_or_changes_its_keys(settings, changed):
    assert least_site_env(**settings) == {**LEAST_ENV, **changed}


def test_smtp_port_and_starttls_default_to_587_and_on():
    assert least_site_env(smtp_address="smtp.example.com") == {
        **LEAST_ENV,
        "DISCOURSE_SMTP_ADDRESS": "smtp.example.com",
        "DISCOURSE_SMTP_PORT": "587",
        "DISCOURSE_SMTP_ENABLE_START_TLS": "true",
    }


def test_every_optional_setting_at_once():
    settings, changed = {}, {}
    for one_setting, its_keys in OPTIONAL_SETTINGS.values():
        settings.update(one_setting)
        changed.update(its_keys)

    env = least_site_env(**settings)

    assert env == {**LEAST_ENV, **changed}


def test_a_tls_flag_is_read_as_ansible_reads_booleans():
    for value, expected in (
        (True, True),
        ("yes", True),
        ("1", True),
        (False, False),
        ("false", False),
        ("", False),
    ):
        env = app_env.managed_env("h", DATABASE, {**VALKEY, "tls": value})
        assert ("DISCOURSE_REDIS_USE_SSL" in env) is expected, value


# The optional login Secrets of secret_refs, with the keys in them named.
SMTP_LOGIN = {"smtp_secret": "forum-smtp", "smtp_user_name_key": "user", "smtp_password_key": "pass"}
MAXMIND_LOGIN = {
    "maxmind_secret": "maxmind",
    "maxmind_account_id_key": "id",
    "maxmind_license_key_key": "key",
}


@pytest.mark.parametrize(
    "logins, smtp_keys, maxmind_keys",
    [
        ({**SMTP_LOGIN, **MAXMIND_LOGIN}, ("user", "pass"), ("id", "key")),
        (
            {"smtp_secret": "forum-smtp", "maxmind_secret": "maxmind"},
            ("user-name", "password"),
            ("account-id", "license-key"),
        ),
    ],
    ids=["keys-named", "default-keys"],
)
def test_secret_references_in_their_order(logins, smtp_keys, maxmind_keys):
    refs = app_env.secret_refs(
        {**DATABASE, "password_key": "pw"},
        VALKEY,
        "forum-secret-key-base",
        "secret-key-base",
        storage=STORAGE,
        **logins,
    )
    assert refs == [
        {"name": "DISCOURSE_DB_PASSWORD", "secret": "discourse-pg-app", "key": "pw"},
        {"name": "DISCOURSE_REDIS_PASSWORD", "secret": "valkey-password", "key": "password"},
        {"name": "DISCOURSE_SMTP_USER_NAME", "secret": "forum-smtp", "key": smtp_keys[0]},
        {"name": "DISCOURSE_SMTP_PASSWORD", "secret": "forum-smtp", "key": smtp_keys[1]},
        {"name": "DISCOURSE_SECRET_KEY_BASE", "secret": "forum-secret-key-base", "key": "secret-key-base"},
        {"name": "DISCOURSE_MAXMIND_ACCOUNT_ID", "secret": "maxmind", "key": maxmind_keys[0]},
        {"name": "DISCOURSE_MAXMIND_LICENSE_KEY", "secret": "maxmind", "key": maxmind_keys[1]},
        {"name": "DISCOURSE_S3_ACCESS_KEY_ID", "secret": "forum-s3", "key": "access-key-id"},
        {"name": "DISCOURSE_S3_SECRET_ACCESS_KEY", "secret": "forum-s3", "key": "secret-access-key"},
    ]
    assert app_env.secret_env(refs[:1]) == [
        {
            "name": "DISCOURSE_DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "discourse-pg-app", "key": "pw"}},
        }
    ]


def test_no_valkey_password_no_smtp_login_no_maxmind():
    refs = app_env.secret_refs(DATABASE, {"host": "kv"}, "sk", "secret-key-base")
    assert refs == [
        {"name": "DISCOURSE_DB_PASSWORD", "secret": "discourse-pg-app", "key": "password"},
        {"name": "DISCOURSE_SECRET_KEY_BASE", "secret": "sk", "key": "secret-key-base"},
    ]


def test_the_pods_behind_a_host_in_the_sites_namespace():
    assert names.peer_pod_labels("discourse-pg-rw.forum.svc", "forum", "database") == {
        "cnpg.io/cluster": "discourse-pg"
    }
    assert names.peer_pod_labels("pg-ro.forum.svc.cluster.local", "forum", "database") == {
        "cnpg.io/cluster": "pg"
    }
    assert names.peer_pod_labels("valkey.forum.svc", "forum", "valkey", "forum_a") == {
        "app.kubernetes.io/name": "valkey",
        "app.kubernetes.io/instance": "forum_a",
    }
    assert names.peer_pod_labels("db.example.net", "forum", "database") == {}
    assert names.peer_pod_labels("pg-rw.other.svc", "forum", "database") == {}
    assert names.peer_pod_labels("", "forum", "valkey", "forum_a") == {}
