"""module_utils/cross_field: each role's cross-field input checks, exact messages."""

import os
import re

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils import cross_field

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "roles")
MANAGED = (
    "bind, port, protected-mode, dir, daemonize, supervised, logfile, appendonly, appendfsync, "
    "appendfilename, appenddirname, maxmemory, maxmemory-policy, cluster-enabled, cluster-config-file, "
    "requirepass, masterauth, masteruser, aclfile, include, user, unixsocket, replicaof, slaveof"
)
# discourse_valkey's defaults, as the argument spec types them for a site "forum" in namespace "forum".
VALKEY = {
    "discourse_valkey_mode": "statefulset",
    "discourse_valkey_namespace": "forum",
    "discourse_valkey_site_name": "forum",
    "discourse_valkey_render_dir": "",
    "discourse_valkey_name": "valkey",
    "discourse_valkey_secret_name": "valkey-password",
    "discourse_valkey_password_rotation": "",
    "discourse_valkey_image": "docker.io/valkey/valkey:8.1.8",
    "discourse_valkey_maxmemory": "",
    "discourse_valkey_extra_config": {},
    "discourse_valkey_resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    "discourse_valkey_external_host": "",
    "discourse_valkey_external_port": 6379,
    "discourse_valkey_external_tls": False,
    "discourse_valkey_external_tls_ca_cert": "",
    "discourse_valkey_external_connect_timeout": 5,
}
NAMES = (
    "discourse_valkey_namespace ({}) must be a namespace name, discourse_valkey_site_name ({}) a label value "
    "(63 characters at most), discourse_valkey_name ({}) a DNS label of at most 40 characters starting with "
    "a "
    "letter (it names the Services and the StatefulSet's pods), and discourse_valkey_secret_name ({}) a "
    "Secret name."
)
EXTERNAL = (
    "In external mode discourse_valkey_external_host must be a host name or address (no scheme, no path; it "
    'is "{}"), discourse_valkey_external_port a TCP port ({}), discourse_valkey_external_tls_ca_cert needs '
    "discourse_valkey_external_tls: true, and discourse_valkey_external_connect_timeout must be positive."
)
ROTATION = (
    "discourse_valkey_password_rotation rotates the password the role generates in statefulset mode; in "
    "external mode change discourse_valkey_external_password, in render mode the Secret is yours."
)


def names(namespace, site, name):
    return NAMES.format(namespace, site, name, "valkey-password")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"discourse_valkey_namespace": "Forum_NS"}, [names("Forum_NS", "forum", "valkey")]),
        ({"discourse_valkey_name": "1valkey"}, [names("forum", "forum", "1valkey")]),
        ({"discourse_valkey_name": "v" * 41}, [names("forum", "forum", "v" * 41)]),
        ({"discourse_valkey_image": "valkey 8"}, ["discourse_valkey_image (valkey 8) must be an image "
                                                  "reference."]),
        (
            {"discourse_valkey_extra_config": {"hz": 20, "MaxMemory-Policy": "allkeys-lru", "save": ""}},
            [f"discourse_valkey_extra_config may not set maxmemory-policy: the role manages {MANAGED} "
             "(use the role's own inputs)."],
        ),
        (
            {"discourse_valkey_extra_config": {"notify-keyspace-events": "Ex\nrequirepass x"}},
            ["discourse_valkey_extra_config may not set directives with blanks in their name or values with "
             "line "
             f"breaks: the role manages {MANAGED} (use the role's own inputs)."],
        ),
        # 512mb is 536870912 bytes, the limit 512Mi too: not below it
        (
            {"discourse_valkey_maxmemory": "512MB"},
            ["discourse_valkey_maxmemory (512MB, 536870912 bytes) must be below the memory limit in "
             "discourse_valkey_resources.limits.memory (512Mi, 536870912 bytes); leave about a quarter of "
             "the "
             "limit for the AOF rewrite and client buffers."],
        ),
        ({"discourse_valkey_maxmemory": "384mb"}, []),
        ({"discourse_valkey_maxmemory": "500m", "discourse_valkey_resources": {"limits": {"memory": "0.5G"}}},
         ["discourse_valkey_maxmemory (500m, 500000000 bytes) must be below the memory limit in "
          "discourse_valkey_resources.limits.memory (0.5G, 500000000 bytes); leave about a quarter of the "
          "limit "
          "for the AOF rewrite and client buffers."]),
        # no limit or an unparsable size: nothing to compare (the size is checked by its name)
        ({"discourse_valkey_maxmemory": "4gb", "discourse_valkey_resources": {}}, []),
        ({"discourse_valkey_maxmemory": "lots"}, []),
        ({"discourse_valkey_mode": "external"}, [EXTERNAL.format("", 6379)]),
        (
            {"discourse_valkey_mode": "external", "discourse_valkey_external_host": "redis://valkey.example.net"},
            [EXTERNAL.format("redis://valkey.example.net", 6379)],
        ),
        (
            {"discourse_valkey_mode": "external", "discourse_valkey_external_host": "v.example.net",
             "discourse_valkey_external_tls_ca_cert": "-----BEGIN CERTIFICATE-----"},
            [EXTERNAL.format("v.example.net", 6379)],
        ),
        # in external mode the StatefulSet's checks do not apply
        (
            {"discourse_valkey_mode": "external", "discourse_valkey_external_host": "v.example.net",
             "discourse_valkey_image": "", "discourse_valkey_maxmemory": "1gb"},
            [],
        ),
        ({"discourse_valkey_password_rotation": "2026-12"}, []),
        ({"discourse_valkey_password_rotation": "2026-12", "discourse_valkey_render_dir": "/r"}, [ROTATION]),
        (
            {"discourse_valkey_password_rotation": "2026-12", "discourse_valkey_mode": "external",
             "discourse_valkey_external_host": "v.example.net"},
            [ROTATION],
        ),
        # the exporter sidecar: statefulset mode only, an image, keys the exporter's list parser takes
        ({"discourse_valkey_metrics_enabled": True, "discourse_valkey_metrics_image": "r/e:v1.88.0",
          "discourse_valkey_metrics_check_single_keys": ["db0=sidekiq:dead", "plain"]}, []),
        ({"discourse_valkey_metrics_enabled": True, "discourse_valkey_metrics_image": "r/e:v1.88.0",
          "discourse_valkey_metrics_check_single_keys": ["a,b", "db0=x=y"]},
         ["discourse_valkey_metrics_image (r/e:v1.88.0) must be an image reference and each of "
          "discourse_valkey_metrics_check_single_keys a key or db<N>=<key> without blanks, commas or a "
          "second '=' (got ['a,b', 'db0=x=y'])."]),
        ({"discourse_valkey_metrics_enabled": True, "discourse_valkey_metrics_image": "",
          "discourse_valkey_metrics_check_single_keys": []},
         ["discourse_valkey_metrics_image () must be an image reference and each of "
          "discourse_valkey_metrics_check_single_keys a key or db<N>=<key> without blanks, commas or a "
          "second '=' (got [])."]),
        ({"discourse_valkey_metrics_enabled": True, "discourse_valkey_mode": "external",
          "discourse_valkey_external_host": "v.example.net"},
         ["discourse_valkey_metrics_enabled runs an exporter next to the Valkey StatefulSet; in external "
          "mode scrape the server where it runs (or use the discourse-prometheus plugin's "
          "redis_primary_available), and leave it false."]),
    ],
)  # fmt: skip
def test_valkey(changes, expected):
    assert cross_field.valkey_errors({**VALKEY, **changes}) == expected


DATABASE = {
    "discourse_database_mode": "cnpg",
    "discourse_database_namespace": "forum",
    "discourse_database_name": "discourse",
    "discourse_database_owner": "discourse",
    "discourse_database_secret_name": "discourse-pg-credentials",
    "discourse_database_password": "",
    "discourse_database_password_rotation": "",
    "discourse_database_cluster_name": "discourse-pg",
    "discourse_database_image": "",
    "discourse_database_pooler_enabled": False,
    "discourse_database_pooler_name": "discourse-pg-pooler-rw",
    "discourse_database_backup_enabled": False,
    "discourse_database_backup_bucket": "",
    "discourse_database_backup_endpoint": "",
    "discourse_database_backup_credentials_secret": "",
    "discourse_database_backup_retention": "30d",
    "discourse_database_external_host": "",
    "discourse_database_external_port": 5432,
    "discourse_database_external_create": False,
    "discourse_database_external_manage_secret": True,
}
BACKUPS = {
    "discourse_database_backup_enabled": True,
    "discourse_database_backup_bucket": "forum-backups",
    "discourse_database_backup_credentials_secret": "forum-s3",
}
EXTERNAL_DB = {"discourse_database_mode": "external", "discourse_database_external_host": "db.example.net"}


@pytest.mark.parametrize(
    ("changes", "render_dir", "expected"),
    [
        ({}, "", []),
        (
            {"discourse_database_namespace": "Forum", "discourse_database_owner": "postgres",
             "discourse_database_password": "short"},
            "",
            ["discourse_database_namespace: must be a Kubernetes namespace name (a DNS label), got 'Forum'",
             "discourse_database_owner: must be a lower-case PostgreSQL identifier other than postgres and "
             "streaming_replica, got 'postgres'",
             "discourse_database_password: must be empty (generated once) or at least 16 characters long"],
        ),
        (
            {"discourse_database_secret_name": "-x", "discourse_database_name": "Discourse"},
            "",
            ["discourse_database_secret_name: must be a Kubernetes object name, got '-x'",
             "discourse_database_name: must be a lower-case PostgreSQL identifier, got 'Discourse'"],
        ),
        (
            {"discourse_database_cluster_name": "1pg",
             "discourse_database_image": "ghcr.io/x/postgresql:latest"},
            "",
            ["discourse_database_cluster_name: must be a DNS label of at most 50 characters starting with a "
             "letter, got '1pg'",
             "discourse_database_image: needs a tag that starts with the PostgreSQL major version "
             "(CloudNativePG "
             "reads it), got 'ghcr.io/x/postgresql:latest'"],
        ),
        ({"discourse_database_image": f"ghcr.io/x/postgresql:17.9-standard-trixie@sha256:{'a' * 64}"},
         "", []),
        (
            {"discourse_database_pooler_enabled": True, "discourse_database_pooler_name": "discourse-pg"},
            "",
            ["discourse_database_pooler_name: must be a DNS label different from the Cluster's name, got "
             "'discourse-pg'"],
        ),
        (BACKUPS, "", []),
        (
            {**BACKUPS, "discourse_database_backup_bucket": "",
             "discourse_database_backup_credentials_secret": "",
             "discourse_database_backup_retention": "30 days",
             "discourse_database_backup_endpoint": "s3.example"},
            "",
            ["discourse_database_backup_bucket: backups are enabled but no valid bucket is set (got ''); set "
             "it, "
             "or run the storage role first so it defaults from discourse_storage_connection.backups_bucket",
             "discourse_database_backup_credentials_secret: backups are enabled but no Secret with "
             "access-key-id "
             "and secret-access-key is named (got '')",
             "discourse_database_backup_retention: must look like 30d, 4w or 6m, got '30 days'",
             "discourse_database_backup_endpoint: must be empty (AWS S3) or an http(s) URL, got "
             "'s3.example'"],
        ),
        (
            {"discourse_database_mode": "external", "discourse_database_external_port": 70000,
             "discourse_database_external_create": True, "discourse_database_external_manage_secret": False},
            "",
            ["discourse_database_external_host: external mode needs the server's host name",
             "discourse_database_external_port: must be a TCP port, got 70000",
             "discourse_database_password: must be set when discourse_database_external_create is true and "
             "discourse_database_external_manage_secret is false (no Secret to keep a generated password "
             "in)"],
        ),
        # the Cluster's checks do not apply to an external server
        ({**EXTERNAL_DB, "discourse_database_cluster_name": "1pg", **BACKUPS,
          "discourse_database_backup_bucket": ""}, "", []),
        ({"discourse_database_password_rotation": "2026-12"}, "", []),
        (
            {"discourse_database_password_rotation": "2026-12", "discourse_database_password": "p" * 16},
            "/render",
            ["discourse_database_password_rotation: rotates the generated password; with "
             "discourse_database_password set, change that value instead",
             "discourse_database_password_rotation: has no effect in render mode, where the credentials "
             "Secret "
             "is yours"],
        ),
        (
            {**EXTERNAL_DB, "discourse_database_password_rotation": "2026-12"},
            "",
            ["discourse_database_password_rotation: in external mode needs "
             "discourse_database_external_create "
             "and discourse_database_external_manage_secret true (the role sets the new password on the "
             "server "
             "and in the Secret)"],
        ),
    ],
)  # fmt: skip
def test_database(changes, render_dir, expected):
    assert cross_field.database_errors({**DATABASE, **changes}, render_dir) == expected


STORAGE = {
    "discourse_storage_mode": "external",
    "discourse_storage_name": "forum",
    "discourse_storage_namespace": "forum",
    "discourse_storage_uploads_bucket": "forum-uploads",
    "discourse_storage_backups_bucket": "forum-backups",
    "discourse_storage_endpoint": "",
    "discourse_storage_api_endpoint": "",
    "discourse_storage_cdn_url": "",
    "discourse_storage_access_key_id": "",
    "discourse_storage_secret_access_key": "",
    "discourse_storage_credentials_secret": "forum-s3-credentials",
    "discourse_storage_minio_domain": "s3.forum.example.com",
    "discourse_storage_connect_timeout": 10,
    "discourse_storage_read_timeout": 30,
    "discourse_storage_abort_multipart_days": 7,
    "discourse_storage_backups_expire_days": 0,
    "discourse_storage_bucket_policies": True,
    "discourse_storage_uploads_public_read": True,
    "discourse_storage_uploads_public_prefixes": ["original/", "optimized/"],
}
BUCKETS = (
    "discourse_storage_uploads_bucket ({}) and discourse_storage_backups_bucket ({}) must be two different "
    "S3 bucket names: 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending "
    "with a letter or digit. The backups bucket stays private, so it cannot be the uploads bucket."
)
ENDPOINTS = (
    "discourse_storage_endpoint ({}) and discourse_storage_api_endpoint ({}) must be empty (AWS) or a URL "
    "with scheme and host and no path, such as https://fsn1.your-objectstorage.com; "
    "discourse_storage_cdn_url ({}) must be empty or a URL with scheme."
)
LIMITS = (
    "discourse_storage_abort_multipart_days must be at least 1 (now {}), "
    "discourse_storage_backups_expire_days at least 0 (now {}), discourse_storage_connect_timeout and "
    "discourse_storage_read_timeout at least 1 (now {} and {}); discourse_storage_uploads_public_read needs "
    "discourse_storage_bucket_policies; discourse_storage_uploads_public_prefixes must be key prefixes "
    "without a leading slash."
)
MINIO = (
    "minio mode needs discourse_storage_minio_domain (now {}; by default s3.<discourse_hostname>) to be a "
    "DNS name whose subdomains are the buckets, a non-empty discourse_storage_endpoint, and no "
    "discourse_storage_access_key_id (the role generates MinIO's keys)."
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"discourse_storage_backups_bucket": "forum-uploads"},
         [BUCKETS.format('"forum-uploads"', '"forum-uploads"')]),
        ({"discourse_storage_uploads_bucket": "Forum_Uploads"},
         [BUCKETS.format('"Forum_Uploads"', '"forum-backups"')]),
        ({"discourse_storage_endpoint": "https://fsn1.your-objectstorage.com/bucket"},
         [ENDPOINTS.format('"https://fsn1.your-objectstorage.com/bucket"', '""', '""')]),
        ({"discourse_storage_endpoint": "https://fsn1.your-objectstorage.com/",
          "discourse_storage_cdn_url": "https://cdn.example.com/forum"}, []),
        ({"discourse_storage_cdn_url": "cdn.example.com"},
         [ENDPOINTS.format('""', '""', '"cdn.example.com"')]),
        ({"discourse_storage_access_key_id": "AKIA"},
         ["Set both discourse_storage_access_key_id and discourse_storage_secret_access_key, or neither "
          "(then the Secret forum-s3-credentials must already exist)."]),
        ({"discourse_storage_mode": "minio", "discourse_storage_endpoint": "https://s3.forum.example.com"},
         []),
        ({"discourse_storage_mode": "minio", "discourse_storage_minio_domain": ""},
         [MINIO.format('""')]),
        ({"discourse_storage_name": "1forum"},
         ['discourse_storage_name ("1forum", from the site name), discourse_storage_credentials_secret '
          '("forum-s3-credentials") and discourse_storage_namespace ("forum") must be Kubernetes object '
          "names (lowercase letters, digits and hyphens; the name starts with a letter and has at most 42 "
          "characters)."]),
        ({"discourse_storage_abort_multipart_days": 0}, [LIMITS.format(0, 0, 10, 30)]),
        ({"discourse_storage_uploads_public_prefixes": ["/original/"]}, [LIMITS.format(7, 0, 10, 30)]),
        ({"discourse_storage_bucket_policies": False}, [LIMITS.format(7, 0, 10, 30)]),
        ({"discourse_storage_uploads_public_read": False},
         ["discourse_storage_uploads_public_read is false and discourse_storage_cdn_url is empty: "
          "Discourse sends no object ACLs (DISCOURSE_S3_USE_ACLS=false), so browsers could fetch no upload. "
          "Set discourse_storage_cdn_url to the CDN or custom domain that reads the bucket, or let the role "
          "make the uploads prefixes public (discourse_storage_uploads_public_read: true, which needs "
          "bucket policies)."]),
        ({"discourse_storage_uploads_public_read": False,
          "discourse_storage_cdn_url": "https://cdn.example.com"}, []),
    ],
)  # fmt: skip
def test_storage(changes, expected):
    assert cross_field.storage_errors({**STORAGE, **changes}) == expected


DB_CONNECTION = {
    "host": "pg-rw.forum.svc",
    "database": "discourse",
    "user": "discourse",
    "secret_name": "pg-app",
}
APP = {
    "discourse_app_hostname": "forum.example.com",
    "discourse_app_name": "forum",
    "discourse_app_database_connection": DB_CONNECTION,
    "discourse_app_valkey_connection": {"host": "valkey.forum.svc"},
    "discourse_app_storage_connection": {"env": {"DISCOURSE_USE_S3": "true"}},
    "discourse_app_hpa_enabled": False,
    "discourse_app_web_replicas": 2,
    "discourse_app_hpa_min_replicas": 2,
    "discourse_app_hpa_max_replicas": 6,
    "discourse_app_smtp_user_name": "",
    "discourse_app_smtp_password": "",
    "discourse_app_smtp_existing_secret": "",
    "discourse_app_tls_enabled": True,
    "discourse_app_routing": "ingress",
    "discourse_app_tls_issuer": "letsencrypt",
    "discourse_app_tls_secret_name": "forum-tls",
    "discourse_app_sidekiq_mode": "unified",
    "discourse_app_web_sidekiqs": 1,
    "discourse_app_web_resources_preset": "moderate",
    "discourse_app_web_resources": {},
    "discourse_app_sidekiq_resources_preset": "moderate",
    "discourse_app_sidekiq_resources": {},
    "discourse_app_assets_upload": False,
    "discourse_app_gateway_parent_refs": [],
    "discourse_app_cdn_url": "",
    "discourse_app_maxmind_mirror_url": "",
    "discourse_app_extra_env": {},
}
APP_CONTEXT = {
    "image": "registry.example/discourse:v3.5.0-0123456789ab",
    "managed_env": {"DISCOURSE_HOSTNAME": "forum.example.com", "DISCOURSE_DB_HOST": "pg-rw.forum.svc"},
    "secret_env": [{"name": "DISCOURSE_DB_PASSWORD", "secret": "pg-app", "key": "password"}],
    "removed": [],
}
NO_DATABASE = (
    "discourse_app_database_connection (default: the discourse_database_connection fact) needs host, "
    "database, user and secret_name; run the discourse_database role first or set it."
)


@pytest.mark.parametrize(
    ("changes", "context", "expected"),
    [
        ({}, {}, []),
        ({"discourse_app_hostname": "https://forum.example.com/"}, {},
         ["discourse_app_hostname (default: discourse_hostname) must be a bare DNS host name without scheme, "
          "port or path, such as forum.example.com; got 'https://forum.example.com/'."]),
        # A label of 64 characters is no DNS label (names.HOSTNAME_RE, which new_customer also uses).
        ({"discourse_app_hostname": "f" * 64 + ".example.com"}, {},
         ["discourse_app_hostname (default: discourse_hostname) must be a bare DNS host name without scheme, "
          f"port or path, such as forum.example.com; got '{'f' * 64}.example.com'."]),
        ({"discourse_app_name": "f" * 40}, {},
         ["discourse_app_name must be a DNS label of at most 39 characters (Job names add '-migrate-post-' "
          f"and a 10-character image hash); got '{'f' * 40}'."]),
        ({}, {"image": ""},
         ["Set discourse_app_image, or discourse_app_build_manifest to a build manifest JSON with "
          "image.reference (and image.digest); got image ''."]),
        ({"discourse_app_hpa_enabled": True, "discourse_app_web_replicas": 8}, {},
         ["discourse_app_web_replicas is 8 with discourse_app_hpa_enabled: the autoscaler owns the count, so "
          "it must lie within 1 <= discourse_app_hpa_min_replicas (2) <= discourse_app_web_replicas <= "
          "discourse_app_hpa_max_replicas (6); set the HPA bounds instead of a fixed count."]),
        ({"discourse_app_smtp_user_name": "mailer"}, {},
         ["discourse_app_smtp_user_name is 'mailer' but discourse_app_smtp_password is empty (and no "
          "discourse_app_smtp_existing_secret): Discourse would log in with an empty password."]),
        ({"discourse_app_smtp_user_name": "mailer", "discourse_app_smtp_existing_secret": "smtp"}, {}, []),
        ({"discourse_app_tls_issuer": ""}, {},
         ["discourse_app_tls_enabled is true but discourse_app_tls_issuer is empty: nothing issues the "
          "certificate Secret forum-tls. Name the cert-manager issuer, or set discourse_app_tls_secret_name "
          "to the Secret you create yourself."]),
        ({"discourse_app_tls_issuer": "", "discourse_app_tls_secret_name": "wildcard-tls"}, {}, []),
        ({"discourse_app_web_sidekiqs": 0}, {},
         ["discourse_app_sidekiq_mode 'unified' needs discourse_app_web_sidekiqs >= 1 (Sidekiq in the web "
          "pods); got 0."]),
        ({"discourse_app_web_sidekiqs": 0, "discourse_app_sidekiq_mode": "separated"}, {}, []),
        ({}, {"removed": ["discourse_app_sidekiq_processes"]},
         ["discourse_app_sidekiq_processes was removed: each Sidekiq pod runs one Sidekiq process; scale "
          "with discourse_app_sidekiq_replicas and threads with discourse_app_sidekiq_concurrency."]),
        ({"discourse_app_sidekiq_resources_preset": "custom"}, {},
         ["discourse_app_web_resources_preset / discourse_app_sidekiq_resources_preset 'custom' needs "
          "discourse_app_web_resources / discourse_app_sidekiq_resources ({requests: …, limits: …})."]),
        # without its connection nothing is managed yet: extra env is not compared
        ({"discourse_app_database_connection": {"host": "db"},
          "discourse_app_extra_env": {"DISCOURSE_HOSTNAME": "x"}}, {}, [NO_DATABASE]),
        ({"discourse_app_valkey_connection": "valkey"}, {},
         ["discourse_app_valkey_connection (default: the discourse_valkey_connection fact) needs host (and "
          "secret_name for the password); run the discourse_valkey role first or set it."]),
        ({"discourse_app_storage_connection": {}, "discourse_app_hpa_enabled": True,
          "discourse_app_web_replicas": 2}, {},
         ["discourse_app_web_replicas is 2 with an autoscaler: several web pods need S3 uploads (no RWX "
          "volumes). Set discourse_app_storage_connection (the discourse_storage_connection fact) or use one "
          "replica."]),
        ({"discourse_app_storage_connection": {}, "discourse_app_web_replicas": 1}, {}, []),
        ({"discourse_app_storage_connection": {"env": {"DISCOURSE_USE_S3": "false"}},
          "discourse_app_web_replicas": 1, "discourse_app_assets_upload": True}, {},
         ["discourse_app_assets_upload is true but the storage connection has no S3 (DISCOURSE_USE_S3): rake "
          "s3:upload_assets and s3:expire_missing_assets exit 1 without it. Set "
          "discourse_app_storage_connection (the discourse_storage_connection fact) or leave the default."]),
        ({"discourse_app_routing": "gateway"}, {},
         ["discourse_app_gateway_parent_refs must name the Gateway when discourse_app_routing is gateway."]),
        ({"discourse_app_cdn_url": "cdn.example.com", "discourse_app_maxmind_mirror_url": "https://m/x?k=1"},
         {},
         ["discourse_app_cdn_url must start with http:// or https:// (got 'cdn.example.com').",
          "discourse_app_maxmind_mirror_url must be an http:// or https:// URL without query or fragment "
          "(got 'https://m/x?k=1')."]),
        ({"discourse_app_extra_env": {"TZ": "UTC", "DISCOURSE_DB_PASSWORD": "x", "UNICORN_WORKERS": "9",
                                      "DISCOURSE_HOSTNAME": "y"}}, {},
         ["discourse_app_extra_env sets variables the role manages: DISCOURSE_DB_PASSWORD, UNICORN_WORKERS, "
          "DISCOURSE_HOSTNAME."]),
        # metrics need discourse-prometheus in the image: known from a build manifest, not from an image name
        ({"discourse_app_metrics_enabled": True},
         {"manifest_plugins": [{"name": "solved", "url": "https://github.com/discourse/discourse-solved"}]},
         ["discourse_app_metrics_enabled is true but the image's build manifest "
          "(discourse_app_build_manifest) lists no discourse-prometheus plugin, so nothing in the pods "
          "serves metrics: add "
          "https://github.com/discourse/discourse-prometheus to the image lock's plugins and rebuild "
          "(docs/plugins.md), or turn metrics off."]),
        ({"discourse_app_metrics_enabled": True},
         {"manifest_plugins": [{"name": "prom", "url": "https://github.com/discourse/discourse-prometheus.git"}]},
         []),
        ({"discourse_app_metrics_enabled": True}, {"manifest_plugins": None}, []),
        ({"discourse_app_metrics_enabled": False}, {"manifest_plugins": []}, []),
    ],
)  # fmt: skip
def test_app(changes, context, expected):
    assert cross_field.app_errors({**APP, **changes}, "", {**APP_CONTEXT, **context}) == expected


# discourse_backup's defaults, as the argument spec types them, for a site in namespace "forum".
BACKUP = {
    "discourse_backup_action": "backup",
    "discourse_backup_method": "cnpg",
    "discourse_backup_namespace": "forum",
    "discourse_backup_wait_timeout": 3600,
    "discourse_backup_restore_confirm": False,
    "discourse_backup_build_manifest": "",
    "discourse_backup_target_schema_version": "",
    "discourse_backup_cnpg_cluster_name": "discourse-pg",
    "discourse_backup_cnpg_backup_name": "",
    "discourse_backup_cnpg_recovery_cluster_name": "discourse-pg-restored",
    "discourse_backup_cnpg_recovery_target_time": "",
    "discourse_backup_cnpg_old_cluster_name": "",
    "discourse_backup_confirm_delete_old_cluster": False,
    "discourse_backup_discourse_restore_file": "",
    "discourse_backup_logical_runner": "controller",
    "discourse_backup_logical_db": {},
    "discourse_backup_logical_restore_db": {},
    "discourse_backup_s3_bucket": "",
    "discourse_backup_drill_admin_db": {},
}
LOGICAL = {
    "discourse_backup_method": "logical",
    "discourse_backup_s3_bucket": "forum-backups",
    "discourse_backup_logical_db": {"host": "db.example.net", "port": 5432, "database": "d", "user": "d"},
}
RESTORE = {"discourse_backup_action": "restore", "discourse_backup_restore_confirm": True}
UNCONFIRMED = (
    "discourse_backup_restore_confirm: a restore replaces what the site serves and must be confirmed "
    "explicitly; run playbooks/restore.yml with -e discourse_restore_confirm=true."
)
OLD_CLUSTER = (
    "discourse_backup_cnpg_old_cluster_name: discourse_backup_confirm_delete_old_cluster is true: name the "
    "OLD cluster to delete here; it must differ from discourse_backup_cnpg_cluster_name ('discourse-pg'), "
    "which must already name the cluster the site now uses."
)
RECOVERY = (
    "discourse_backup_cnpg_recovery_cluster_name: must be a new Cluster name (a DNS label of at most 50 "
    "characters), different from the current cluster '{}'; got '{}'"
)
JOB_IMAGE = (
    "discourse_backup_logical_job_image: the Job runner needs an image with python3, boto3 and pg_dump: set "
    "it, or discourse_backup_build_manifest to a build manifest whose backup_runner section names the "
    "runner build_image.yml built from the lock's backup_runner (see docs/backup-restore.md)"
)
NO_TARGET_VERSION = (
    "discourse_backup_build_manifest: a restore must know the target image's schema version to refuse newer "
    "backups: give the image's build manifest or discourse_backup_target_schema_version"
)
NO_RESTORE_DB = (
    "discourse_backup_logical_restore_db: a logical restore loads into an existing, empty database: give "
    "host, port, database and user (a new database, then switch the site to it; or see "
    "docs/backup-restore.md)"
)
NO_BUCKET = (
    "discourse_backup_s3_bucket: the backups bucket is not known: run the storage role first or set it"
)
NO_DB = (
    "discourse_backup_logical_db: needs host, port, database, user (and secret_name or "
    "discourse_backup_logical_db_password); run the database role first or set it"
)
RESTORE_FILE = (
    "discourse_backup_discourse_restore_file: name the backup file to restore (...-v<14-digit "
    "version>.tar.gz or .sql.gz, as `discourse restore` lists them), got {}"
)


@pytest.mark.parametrize(
    ("changes", "context", "expected"),
    [
        ({}, {}, []),
        ({"discourse_backup_target_schema_version": "20250101000000"}, {}, []),
        (
            {"discourse_backup_namespace": "Forum_NS", "discourse_backup_wait_timeout": 0,
             "discourse_backup_target_schema_version": "2025"},
            {},
            ["discourse_backup_namespace: must be a Kubernetes namespace name (a DNS label), got 'Forum_NS'",
             "discourse_backup_wait_timeout: must be a positive number of seconds, got 0",
             "discourse_backup_target_schema_version: must be empty or a 14-digit migration version, "
             "got '2025'"],
        ),
        ({"discourse_backup_namespace": "n" * 64}, {},
         ["discourse_backup_namespace: must be a Kubernetes namespace name (a DNS label), got "
          f"'{'n' * 64}'"]),
        # the confirmation, typed by the argument spec (-e discourse_backup_restore_confirm=false is False)
        ({"discourse_backup_action": "restore"}, {}, [UNCONFIRMED]),
        (RESTORE, {}, []),
        # deleting the old Cluster later is no restore to confirm, but needs that Cluster's name
        ({"discourse_backup_action": "restore", "discourse_backup_confirm_delete_old_cluster": True}, {},
         [OLD_CLUSTER]),
        ({"discourse_backup_confirm_delete_old_cluster": True,
          "discourse_backup_cnpg_old_cluster_name": "discourse-pg"}, {}, [OLD_CLUSTER]),
        ({"discourse_backup_confirm_delete_old_cluster": True,
          "discourse_backup_cnpg_old_cluster_name": "discourse-pg-old"}, {}, []),
        (
            {"discourse_backup_cnpg_cluster_name": "1pg", "discourse_backup_cnpg_backup_name": "Bad_Name",
             "discourse_backup_cnpg_recovery_cluster_name": "1pg",
             "discourse_backup_cnpg_recovery_target_time": "yesterday"},
            {},
            ["discourse_backup_cnpg_cluster_name: must be the name of the site's CloudNativePG Cluster, "
             "got '1pg'",
             "discourse_backup_cnpg_backup_name: must be empty or a DNS label, got 'Bad_Name'",
             RECOVERY.format("1pg", "1pg"),
             "discourse_backup_cnpg_recovery_target_time: must be empty or a timestamp such as "
             "2025-03-01T11:59:00Z (RFC 3339) or '2025-03-01 11:59:00+00', got 'yesterday'"],
        ),
        ({"discourse_backup_cnpg_recovery_cluster_name": "discourse-pg"}, {},
         [RECOVERY.format("discourse-pg", "discourse-pg")]),
        ({"discourse_backup_cnpg_recovery_cluster_name": "r" * 51}, {},
         [RECOVERY.format("discourse-pg", "r" * 51)]),
        ({"discourse_backup_cnpg_backup_name": "nightly-1",
          "discourse_backup_cnpg_recovery_target_time": "2025-03-01 11:59:00+00"}, {}, []),
        # another method's settings are not checked
        ({**LOGICAL, "discourse_backup_cnpg_cluster_name": "1pg"}, {}, []),
        ({"discourse_backup_method": "logical", "discourse_backup_logical_runner": "job"},
         {"logical_job_image": ""}, [NO_BUCKET, NO_DB, JOB_IMAGE]),
        ({**LOGICAL, "discourse_backup_logical_runner": "job"},
         {"logical_job_image": "registry.example/forum/backup:pg18-0123456789ab"}, []),
        # only a backup runs the Job
        ({**LOGICAL, **RESTORE, "discourse_backup_logical_runner": "job", "discourse_backup_logical_db": {},
          "discourse_backup_logical_restore_db": {"database": "d2"},
          "discourse_backup_build_manifest": "/build/build-manifest.json"}, {}, []),
        ({**LOGICAL, **RESTORE}, {}, [NO_RESTORE_DB, NO_TARGET_VERSION]),
        ({**LOGICAL, **RESTORE, "discourse_backup_logical_restore_db": {"database": "d2"},
          "discourse_backup_target_schema_version": "20250101000000"}, {}, []),
        ({**LOGICAL, "discourse_backup_action": "drill"}, {},
         ["discourse_backup_drill_admin_db: a logical drill needs a login (host, port, user) that may "
          "create and drop the drill database", NO_TARGET_VERSION]),
        ({**LOGICAL, "discourse_backup_action": "drill", "discourse_backup_drill_admin_db": {"host": "db"},
          "discourse_backup_build_manifest": "/build/build-manifest.json"}, {}, []),
        ({"discourse_backup_method": "discourse", "discourse_backup_action": "drill"}, {},
         ["discourse_backup_action: the discourse method has no drill; drill with the cnpg or "
          "logical method"]),
        ({"discourse_backup_method": "discourse", **RESTORE,
          "discourse_backup_discourse_restore_file": "forum.tar.gz"}, {},
         [RESTORE_FILE.format("forum.tar.gz")]),
        ({"discourse_backup_method": "discourse", **RESTORE}, {}, [RESTORE_FILE.format("")]),
        ({"discourse_backup_method": "discourse", **RESTORE,
          "discourse_backup_discourse_restore_file": "forum-2025-03-01-120000-v20250101000000.sql.gz"},
         {}, []),
        # every failed check at once
        (
            {"discourse_backup_namespace": "-ns", "discourse_backup_method": "logical",
             "discourse_backup_action": "restore", "discourse_backup_target_schema_version": "x"},
            {},
            ["discourse_backup_namespace: must be a Kubernetes namespace name (a DNS label), got '-ns'",
             "discourse_backup_target_schema_version: must be empty or a 14-digit migration version, got 'x'",
             UNCONFIRMED, NO_BUCKET, NO_RESTORE_DB, NO_TARGET_VERSION],
        ),
    ],
)  # fmt: skip
def test_backup(changes, context, expected):
    assert cross_field.backup_errors({**BACKUP, **changes}, "", context) == expected


def test_every_role_with_inputs_has_its_checks_here_and_no_other():
    # tests/unit/test_role_interface.py names the roles with inputs (an argument spec).
    with_inputs = [
        r
        for r in sorted(os.listdir(ROLES))
        if os.path.isfile(os.path.join(ROLES, r, "meta", "argument_specs.yml"))
    ]
    assert sorted(cross_field.CHECKS) == with_inputs


def test_every_internal_a_check_reads_is_defined_in_the_role():
    for role, (internals, _removed) in cross_field.CONTEXT.items():
        with open(os.path.join(ROLES, role, "vars", "main.yml"), encoding="utf-8") as handle:
            defined = set(yaml.safe_load(handle))
        for expression in internals.values():
            names = set(re.findall(r"\b__[a-z_]+", expression))
            assert names, expression
            assert names <= defined, (role, names - defined)
