"""module_utils/app_env: the env ConfigMap keys discourse_app sets and the Secret references, exact."""

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


def test_the_least_a_site_sets():
    assert app_env.managed_env(
        "forum.example.com", {"host": "db", "database": "d", "user": "u"}, {"host": "kv"}
    ) == {
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


def test_every_optional_setting_and_the_storage_env():
    env = app_env.managed_env(
        "forum.example.com",
        DATABASE,
        {**VALKEY, "port": 6380, "tls": "true", "username": "discourse"},
        storage=STORAGE,
        developer_emails=["a@example.com", "b@example.com"],
        sidekiq_concurrency=8,
        smtp_address="smtp.example.com",
        smtp_port=2525,
        smtp_enable_start_tls=False,
        smtp_domain="example.com",
        notification_email="noreply@example.com",
        cdn_url="https://cdn.example.com",
        maxmind_mirror_url="https://mirror.example.com/maxmind",
        force_https=True,
    )
    assert env == {
        "DISCOURSE_HOSTNAME": "forum.example.com",
        "DISCOURSE_DB_HOST": "discourse-pg-rw.forum.svc",
        "DISCOURSE_DB_PORT": "5432",
        "DISCOURSE_DB_NAME": "discourse",
        "DISCOURSE_DB_USERNAME": "discourse",
        "DISCOURSE_DB_SOCKET": "",
        "DISCOURSE_REDIS_HOST": "valkey.forum.svc",
        "DISCOURSE_REDIS_PORT": "6380",
        "DISCOURSE_DEVELOPER_EMAILS": "a@example.com,b@example.com",
        "DISCOURSE_SIDEKIQ_WORKERS": "8",
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "0",
        "CREATE_DB_ON_BOOT": "0",
        "DISCOURSE_REDIS_USE_SSL": "true",
        "DISCOURSE_REDIS_USERNAME": "discourse",
        "PGSSLMODE": "require",
        "DISCOURSE_SMTP_ADDRESS": "smtp.example.com",
        "DISCOURSE_SMTP_PORT": "2525",
        "DISCOURSE_SMTP_ENABLE_START_TLS": "false",
        "DISCOURSE_SMTP_DOMAIN": "example.com",
        "DISCOURSE_NOTIFICATION_EMAIL": "noreply@example.com",
        "DISCOURSE_CDN_URL": "https://cdn.example.com",
        "DISCOURSE_MAXMIND_MIRROR_URL": "https://mirror.example.com/maxmind",
        "DISCOURSE_FORCE_HTTPS": "true",
        # the storage env, empty values left out
        "DISCOURSE_S3_BUCKET": "forum-uploads",
        "DISCOURSE_USE_S3": "true",
    }


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


def test_secret_references_in_their_order():
    refs = app_env.secret_refs(
        {**DATABASE, "password_key": "pw"},
        VALKEY,
        "forum-secret-key-base",
        "secret-key-base",
        storage=STORAGE,
        smtp_secret="forum-smtp",
        smtp_user_name_key="user",
        smtp_password_key="pass",
        maxmind_secret="maxmind",
        maxmind_account_id_key="id",
        maxmind_license_key_key="key",
    )
    assert refs == [
        {"name": "DISCOURSE_DB_PASSWORD", "secret": "discourse-pg-app", "key": "pw"},
        {"name": "DISCOURSE_REDIS_PASSWORD", "secret": "valkey-password", "key": "password"},
        {"name": "DISCOURSE_SMTP_USER_NAME", "secret": "forum-smtp", "key": "user"},
        {"name": "DISCOURSE_SMTP_PASSWORD", "secret": "forum-smtp", "key": "pass"},
        {"name": "DISCOURSE_SECRET_KEY_BASE", "secret": "forum-secret-key-base", "key": "secret-key-base"},
        {"name": "DISCOURSE_MAXMIND_ACCOUNT_ID", "secret": "maxmind", "key": "id"},
        {"name": "DISCOURSE_MAXMIND_LICENSE_KEY", "secret": "maxmind", "key": "key"},
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
