# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each role's cross-field input checks, in pure Python (no Ansible imports).

plugins/action/validate_inputs.py calls a role's function here with the role's inputs as its
argument spec typed them (so ``-e flag=false`` is False) and the play's ``discourse_render_dir``,
after the checks by type (argument spec) and by name (module_utils/inputs.py). Each function returns
every problem at once, each message naming its variables; a mode's checks run only in that mode.
"""

from __future__ import annotations

import json
import re

from ansible_collections.forumops.discourse.plugins.module_utils.cross_field_image import image_errors
from ansible_collections.forumops.discourse.plugins.module_utils.metrics import (
    PROMETHEUS_PLUGIN,
    prometheus_plugin,
)
from ansible_collections.forumops.discourse.plugins.module_utils.names import DNS_LABEL_RE, HOSTNAME_RE
from ansible_collections.forumops.discourse.plugins.module_utils.supply_chain import verify_problems

# Kubernetes names: a namespace is a DNS label (names.py), most objects a DNS subdomain; a
# CloudNativePG Cluster a DNS label of at most 50 characters starting with a letter.
CNPG_CLUSTER_RE = re.compile(r"^[a-z]([-a-z0-9]{0,48}[a-z0-9])?$")
SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

# --- discourse_valkey ----------------------------------------------------------------------------

# valkey.conf directives the role owns; discourse_valkey_extra_config may not set them.
VALKEY_MANAGED_DIRECTIVES = (
    "bind", "port", "protected-mode", "dir", "daemonize", "supervised", "logfile", "appendonly",
    "appendfsync", "appendfilename", "appenddirname", "maxmemory", "maxmemory-policy",
    "cluster-enabled", "cluster-config-file", "requirepass", "masterauth", "masteruser", "aclfile",
    "include", "user", "unixsocket", "replicaof", "slaveof",
)  # fmt: skip
# Byte multipliers: Valkey's units (k = 1000, kb = 1024) and Kubernetes quantities.
VALKEY_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}
QUANTITY_UNITS = {"": 1, "k": 1000, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20}
QUANTITY_UNITS.update({"Gi": 2**30, "Ti": 2**40})
# A Valkey size (512mb, 1gb, 100000) and a Kubernetes quantity of bytes (2Gi, 512Mi, 1.5G).
VALKEY_SIZE_RE = re.compile(r"^([0-9]+)(b|k|kb|m|mb|g|gb)?$")
BYTES_QUANTITY_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")


def valkey_errors(v, render_dir="", context=None):
    """discourse_valkey: names, the image, extra_config against the managed directives, maxmemory
    below the memory limit, the external server's address, and password rotation's mode."""
    statefulset = v["discourse_valkey_mode"] == "statefulset"
    external = v["discourse_valkey_mode"] == "external"
    errors = []
    namespace, site = v["discourse_valkey_namespace"], v["discourse_valkey_site_name"]
    name, secret = v["discourse_valkey_name"], v["discourse_valkey_secret_name"]
    if not (
        DNS_LABEL_RE.match(namespace)
        and len(namespace) <= 63
        and LABEL_VALUE_RE.match(site)
        and len(site) <= 63
        and re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", name)
        and len(name) <= 40
        and SUBDOMAIN_RE.match(secret)
        and len(secret) <= 253
    ):
        errors.append(
            f"discourse_valkey_namespace ({namespace}) must be a namespace name, discourse_valkey_site_name "
            f"({site}) a label value (63 characters at most), discourse_valkey_name ({name}) a DNS label of "
            "at most 40 characters starting with a letter (it names the Services and the StatefulSet's "
            f"pods), and discourse_valkey_secret_name ({secret}) a Secret name."
        )
    image = v["discourse_valkey_image"]
    if statefulset and not (image and not re.search(r"\s", image)):
        errors.append(f"discourse_valkey_image ({image}) must be an image reference.")
    extra = v["discourse_valkey_extra_config"]
    refused = [key.lower() for key in extra if key.lower() in VALKEY_MANAGED_DIRECTIVES]
    blanks = [key for key in extra if re.search(r"\s", key)]
    breaks = [value for value in extra.values() if "\n" in str(value)]
    if statefulset and (refused or blanks or breaks):
        what = ", ".join(refused) or "directives with blanks in their name or values with line breaks"
        errors.append(
            f"discourse_valkey_extra_config may not set {what}: the role manages "
            f"{', '.join(VALKEY_MANAGED_DIRECTIVES)} (use the role's own inputs)."
        )
    maxmemory = v["discourse_valkey_maxmemory"]
    size = VALKEY_SIZE_RE.match(maxmemory.lower())
    limit = str((v["discourse_valkey_resources"].get("limits") or {}).get("memory", ""))
    quantity = BYTES_QUANTITY_RE.match(limit)
    if statefulset and maxmemory and size and quantity:
        maxmemory_bytes = int(size[1]) * VALKEY_UNITS[size[2] or ""]
        limit_bytes = int(float(quantity[1]) * QUANTITY_UNITS[quantity[2] or ""])
        if maxmemory_bytes >= limit_bytes:
            errors.append(
                f"discourse_valkey_maxmemory ({maxmemory}, {maxmemory_bytes} bytes) must be below the memory "
                f"limit in discourse_valkey_resources.limits.memory ({limit}, {limit_bytes} bytes); leave "
                "about a quarter of the limit for the AOF rewrite and client buffers."
            )
    host, port = v["discourse_valkey_external_host"], v["discourse_valkey_external_port"]
    if external and not (
        host
        and not re.search(r"[\s/]", host)
        and 1 <= port <= 65535
        and (v["discourse_valkey_external_tls"] or not v["discourse_valkey_external_tls_ca_cert"])
        and v["discourse_valkey_external_connect_timeout"] >= 1
    ):
        errors.append(
            "In external mode discourse_valkey_external_host must be a host name or address (no scheme, no "
            f'path; it is "{host}"), discourse_valkey_external_port a TCP port ({port}), '
            "discourse_valkey_external_tls_ca_cert needs discourse_valkey_external_tls: true, and "
            "discourse_valkey_external_connect_timeout must be positive."
        )
    if v["discourse_valkey_password_rotation"] and not (statefulset and not v["discourse_valkey_render_dir"]):
        errors.append(
            "discourse_valkey_password_rotation rotates the password the role generates in statefulset mode; "
            "in external mode change discourse_valkey_external_password, in render mode the Secret is yours."
        )
    if v.get("discourse_valkey_metrics_enabled"):
        metrics_image = v.get("discourse_valkey_metrics_image") or ""
        keys = v.get("discourse_valkey_metrics_check_single_keys") or []
        bad_keys = [key for key in keys if not re.match(r"^(db[0-9]+=)?[^\s,=]+$", str(key))]
        if not statefulset:
            errors.append(
                "discourse_valkey_metrics_enabled runs an exporter next to the Valkey StatefulSet; in "
                "external mode scrape the server where it runs (or use the discourse-prometheus plugin's "
                "redis_primary_available), and leave it false."
            )
        elif not metrics_image or re.search(r"\s", metrics_image) or bad_keys:
            errors.append(
                f"discourse_valkey_metrics_image ({metrics_image}) must be an image reference and each of "
                "discourse_valkey_metrics_check_single_keys a key or db<N>=<key> without blanks, commas or "
                f"a second '=' (got {bad_keys})."
            )
    return errors


# --- discourse_database --------------------------------------------------------------------------

PG_IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# CloudNativePG reads the major from the tag.
CNPG_IMAGE_RE = re.compile(r"^[^\s@]+:[0-9]+[^\s@]*(@sha256:[0-9a-f]{64})?$")


def database_errors(v, render_dir="", context=None):
    """discourse_database: names and identifiers, the image tag, the pooler, backups' bucket,
    Secret, retention and endpoint, the external server, and the password and its rotation."""

    def got(key):
        return f"got '{v['discourse_database_' + key]}'"

    cnpg = v["discourse_database_mode"] == "cnpg"
    backups = cnpg and v["discourse_database_backup_enabled"]
    external = v["discourse_database_mode"] == "external"
    create, manage = v["discourse_database_external_create"], v["discourse_database_external_manage_secret"]
    password, rotation = v["discourse_database_password"], v["discourse_database_password_rotation"]
    image, endpoint = v["discourse_database_image"], v["discourse_database_backup_endpoint"]
    cluster, pooler = v["discourse_database_cluster_name"], v["discourse_database_pooler_name"]
    port = v["discourse_database_external_port"]
    checks = [
        (
            DNS_LABEL_RE.match(v["discourse_database_namespace"]),
            "discourse_database_namespace: must be a Kubernetes namespace name (a DNS label), "
            + got("namespace"),
        ),
        (
            re.match(r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$", v["discourse_database_secret_name"]),
            f"discourse_database_secret_name: must be a Kubernetes object name, {got('secret_name')}",
        ),
        (
            PG_IDENTIFIER_RE.match(v["discourse_database_name"]),
            f"discourse_database_name: must be a lower-case PostgreSQL identifier, {got('name')}",
        ),
        (
            PG_IDENTIFIER_RE.match(v["discourse_database_owner"])
            and v["discourse_database_owner"] not in ("postgres", "streaming_replica"),
            "discourse_database_owner: must be a lower-case PostgreSQL identifier other than postgres and "
            f"streaming_replica, {got('owner')}",
        ),
        (
            not password or len(password) >= 16,
            "discourse_database_password: must be empty (generated once) or at least 16 characters long",
        ),
        (
            not cnpg or CNPG_CLUSTER_RE.match(cluster),
            "discourse_database_cluster_name: must be a DNS label of at most 50 characters starting with a "
            f"letter, {got('cluster_name')}",
        ),
        (
            not cnpg or not image or CNPG_IMAGE_RE.match(image),
            "discourse_database_image: needs a tag that starts with the PostgreSQL major version "
            f"(CloudNativePG reads it), {got('image')}",
        ),
        (
            not cnpg
            or not v["discourse_database_pooler_enabled"]
            or (pooler != cluster and re.match(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", pooler)),
            "discourse_database_pooler_name: must be a DNS label different from the Cluster's name, "
            + got("pooler_name"),
        ),
        (
            not backups
            or re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", v["discourse_database_backup_bucket"]),
            "discourse_database_backup_bucket: backups are enabled but no valid bucket is set "
            f"({got('backup_bucket')}); set it, or run the storage role first so it defaults from "
            "discourse_storage_connection.backups_bucket",
        ),
        (
            not backups or SUBDOMAIN_RE.match(v["discourse_database_backup_credentials_secret"]),
            "discourse_database_backup_credentials_secret: backups are enabled but no Secret with "
            f"access-key-id and secret-access-key is named ({got('backup_credentials_secret')})",
        ),
        (
            not backups or re.match(r"^[1-9][0-9]*[dwm]$", v["discourse_database_backup_retention"]),
            f"discourse_database_backup_retention: must look like 30d, 4w or 6m, {got('backup_retention')}",
        ),
        (
            not backups or not endpoint or re.match(r"^https?://[^/\s]+", endpoint),
            "discourse_database_backup_endpoint: must be empty (AWS S3) or an http(s) URL, "
            + got("backup_endpoint"),
        ),
        (
            not external or v["discourse_database_external_host"],
            "discourse_database_external_host: external mode needs the server's host name",
        ),
        (
            not external or 0 < port < 65536,
            f"discourse_database_external_port: must be a TCP port, got {port}",
        ),
        (
            not external or manage or not create or password,
            "discourse_database_password: must be set when discourse_database_external_create is true and "
            "discourse_database_external_manage_secret is false (no Secret to keep a generated password in)",
        ),
        (
            not rotation or not password,
            "discourse_database_password_rotation: rotates the generated password; with "
            "discourse_database_password set, change that value instead",
        ),
        (
            not rotation or not render_dir,
            "discourse_database_password_rotation: has no effect in render mode, where the credentials "
            "Secret is yours",
        ),
        (
            not rotation or not external or (create and manage),
            "discourse_database_password_rotation: in external mode needs "
            "discourse_database_external_create and discourse_database_external_manage_secret true (the "
            "role sets the new password on the server and in the Secret)",
        ),
    ]
    return [message for ok, message in checks if not ok]


# --- discourse_storage ---------------------------------------------------------------------------

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ENDPOINT_RE = re.compile(r"^https?://[^/\s]+/?$")
DNS_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def storage_errors(v, render_dir="", context=None):
    """discourse_storage: two different bucket names, endpoints and the CDN URL, the key pair,
    MinIO's domain, object names, lifecycle days, timeouts and how uploads become readable."""

    def q(key):
        return json.dumps(v["discourse_storage_" + key])

    uploads, backups = v["discourse_storage_uploads_bucket"], v["discourse_storage_backups_bucket"]
    endpoint, api, cdn = (
        v["discourse_storage_endpoint"],
        v["discourse_storage_api_endpoint"],
        v["discourse_storage_cdn_url"],
    )
    key_id = v["discourse_storage_access_key_id"]
    public_read, prefixes = (
        v["discourse_storage_uploads_public_read"],
        v["discourse_storage_uploads_public_prefixes"],
    )
    checks = [
        (
            BUCKET_RE.match(uploads) and BUCKET_RE.match(backups) and uploads != backups,
            f"discourse_storage_uploads_bucket ({q('uploads_bucket')}) and "
            f"discourse_storage_backups_bucket ({q('backups_bucket')}) must be two "
            "different S3 bucket names: 3-63 characters of lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit. The backups bucket stays private, so it cannot be "
            "the uploads bucket.",
        ),
        (
            (not endpoint or ENDPOINT_RE.match(endpoint))
            and (not api or ENDPOINT_RE.match(api))
            and (not cdn or re.match(r"^https?://[^\s]+$", cdn)),
            f"discourse_storage_endpoint ({q('endpoint')}) and discourse_storage_api_endpoint "
            f"({q('api_endpoint')}) must be empty (AWS) or a URL with scheme and host and no path, such as "
            f"https://fsn1.your-objectstorage.com; discourse_storage_cdn_url ({q('cdn_url')}) must be empty "
            "or a URL with scheme.",
        ),
        (
            bool(key_id) == bool(v["discourse_storage_secret_access_key"]),
            "Set both discourse_storage_access_key_id and discourse_storage_secret_access_key, or neither "
            f"(then the Secret {v['discourse_storage_credentials_secret']} must already exist).",
        ),
        (
            v["discourse_storage_mode"] != "minio"
            or (DNS_NAME_RE.match(v["discourse_storage_minio_domain"]) and endpoint and not key_id),
            f"minio mode needs discourse_storage_minio_domain (now {q('minio_domain')}; "
            "by default s3.<discourse_hostname>) to be a DNS name whose subdomains are the buckets, a "
            "non-empty discourse_storage_endpoint, and no discourse_storage_access_key_id (the role "
            "generates MinIO's keys).",
        ),
        (
            re.match(r"^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$", v["discourse_storage_name"])
            and re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", v["discourse_storage_credentials_secret"])
            and DNS_LABEL_RE.match(v["discourse_storage_namespace"]),
            f"discourse_storage_name ({q('name')}, from the site name), "
            f"discourse_storage_credentials_secret ({q('credentials_secret')}) and "
            f"discourse_storage_namespace ({q('namespace')}) must be Kubernetes object names (lowercase "
            "letters, digits and hyphens; the name starts with a letter and has at most 42 characters).",
        ),
        (
            v["discourse_storage_abort_multipart_days"] >= 1
            and v["discourse_storage_backups_expire_days"] >= 0
            and v["discourse_storage_connect_timeout"] >= 1
            and v["discourse_storage_read_timeout"] >= 1
            and (v["discourse_storage_bucket_policies"] or not public_read)
            and prefixes
            and not [prefix for prefix in prefixes if re.match("^/", prefix)],
            "discourse_storage_abort_multipart_days must be at least 1 (now "
            f"{v['discourse_storage_abort_multipart_days']}), discourse_storage_backups_expire_days at "
            f"least 0 (now {v['discourse_storage_backups_expire_days']}), discourse_storage_connect_timeout "
            f"and discourse_storage_read_timeout at least 1 (now {v['discourse_storage_connect_timeout']} "
            f"and {v['discourse_storage_read_timeout']}); discourse_storage_uploads_public_read needs "
            "discourse_storage_bucket_policies; discourse_storage_uploads_public_prefixes must be key "
            "prefixes without a leading slash.",
        ),
        (
            public_read or cdn,
            "discourse_storage_uploads_public_read is false and discourse_storage_cdn_url is empty: "
            "Discourse sends no object ACLs (DISCOURSE_S3_USE_ACLS=false), so browsers could fetch no "
            "upload. Set discourse_storage_cdn_url to the CDN or custom domain that reads the bucket, or "
            "let the role make the uploads prefixes public (discourse_storage_uploads_public_read: true, "
            "which needs bucket policies).",
        ),
    ]
    return [message for ok, message in checks if not ok]


# --- discourse_app -------------------------------------------------------------------------------

# Derived values the app's checks read, by the role's internal that holds each (validate_inputs
# templates them; a filter that refuses its input there reports through the error it raises).
APP_CONTEXT = {
    "image": "__discourse_app_image",
    "managed_env": "__discourse_app_managed_env",
    "secret_env": "__discourse_app_secret_env",
    "settings_env": "__discourse_app_settings_env",
    "real_ip_conf": "__discourse_app_real_ip_conf",
    "manifest_plugins": "__discourse_app_manifest_plugins",
}
# Inputs that were removed: setting one is an error that says what replaced it.
APP_REMOVED = {
    "discourse_app_sidekiq_processes": (
        "discourse_app_sidekiq_processes was removed: each Sidekiq pod runs one Sidekiq process; scale "
        "with discourse_app_sidekiq_replicas and threads with discourse_app_sidekiq_concurrency."
    ),
}


def _uses_s3(storage):
    return str(((storage or {}).get("env") or {}).get("DISCOURSE_USE_S3", "false")).lower() == "true"


def app_errors(v, render_dir="", context=None):
    """discourse_app: host and object names, the image, HPA bounds, SMTP login, TLS issuer, Sidekiq
    mode, custom resources, the connections of the other roles, S3 for several pods and for assets,
    the Gateway, URLs, and extra env that overrides what the role manages.

    ``context`` holds the derived values named in APP_CONTEXT and ``removed``, the removed inputs
    that are set."""
    context = context or {}
    db, kv = v["discourse_app_database_connection"], v["discourse_app_valkey_connection"]
    database_ok = isinstance(db, dict) and all(
        db.get(key) for key in ("host", "database", "user", "secret_name")
    )
    valkey_ok = isinstance(kv, dict) and bool(kv.get("host"))
    autoscaled = v["discourse_app_hpa_enabled"]
    hostname, name, image = v["discourse_app_hostname"], v["discourse_app_name"], context.get("image", "")
    web, low, high = (
        v["discourse_app_web_replicas"],
        v["discourse_app_hpa_min_replicas"],
        v["discourse_app_hpa_max_replicas"],
    )
    managed = set()
    if database_ok and valkey_ok:
        managed = set(context.get("managed_env") or {}) | {
            ref["name"] for ref in context.get("secret_env") or []
        }
        managed |= {"UNICORN_WORKERS", "UNICORN_SIDEKIQS"}
    overridden = [key for key in v["discourse_app_extra_env"] if key in managed]
    mode, sidekiqs = v["discourse_app_sidekiq_mode"], v["discourse_app_web_sidekiqs"]
    cdn, mirror = v["discourse_app_cdn_url"], v["discourse_app_maxmind_mirror_url"]
    s3 = _uses_s3(v["discourse_app_storage_connection"])
    checks = [
        (
            isinstance(hostname, str) and HOSTNAME_RE.match(hostname),
            "discourse_app_hostname (default: discourse_hostname) must be a bare DNS host name without "
            f"scheme, port or path, such as forum.example.com; got '{hostname}'.",
        ),
        (
            re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name) and len(name) <= 39,
            "discourse_app_name must be a DNS label of at most 39 characters (Job names add '-migrate-post-' "
            f"and a 10-character image hash); got '{name}'.",
        ),
        (
            image and not re.search(r"\s", image),
            "Set discourse_app_image, or discourse_app_build_manifest to a build manifest JSON with "
            f"image.reference (and image.digest); got image '{image}'.",
        ),
        (
            not autoscaled or 1 <= low <= web <= high,
            f"discourse_app_web_replicas is {web} with discourse_app_hpa_enabled: the autoscaler owns the "
            f"count, so it must lie within 1 <= discourse_app_hpa_min_replicas ({low}) <= "
            f"discourse_app_web_replicas <= discourse_app_hpa_max_replicas ({high}); set the HPA bounds "
            "instead of a fixed count.",
        ),
        (
            not v["discourse_app_smtp_user_name"]
            or v["discourse_app_smtp_password"]
            or v["discourse_app_smtp_existing_secret"],
            f"discourse_app_smtp_user_name is '{v['discourse_app_smtp_user_name']}' but "
            "discourse_app_smtp_password is empty (and no discourse_app_smtp_existing_secret): Discourse "
            "would log in with an empty password.",
        ),
        (
            not v["discourse_app_tls_enabled"]
            or v["discourse_app_routing"] == "none"
            or v["discourse_app_tls_issuer"]
            or v["discourse_app_tls_secret_name"] != name + "-tls",
            "discourse_app_tls_enabled is true but discourse_app_tls_issuer is empty: nothing issues the "
            f"certificate Secret {v['discourse_app_tls_secret_name']}. Name the cert-manager issuer, or set "
            "discourse_app_tls_secret_name to the Secret you create yourself.",
        ),
        (
            mode == "separated" or sidekiqs >= 1,
            f"discourse_app_sidekiq_mode '{mode}' needs discourse_app_web_sidekiqs >= 1 (Sidekiq in the web "
            f"pods); got {sidekiqs}.",
        ),
        *[
            (False, message)
            for removed, message in APP_REMOVED.items()
            if removed in context.get("removed", ())
        ],
        (
            (v["discourse_app_web_resources_preset"] != "custom" or v["discourse_app_web_resources"])
            and (
                v["discourse_app_sidekiq_resources_preset"] != "custom"
                or v["discourse_app_sidekiq_resources"]
            ),
            "discourse_app_web_resources_preset / discourse_app_sidekiq_resources_preset 'custom' needs "
            "discourse_app_web_resources / discourse_app_sidekiq_resources ({requests: …, limits: …}).",
        ),
        (
            database_ok,
            "discourse_app_database_connection (default: the discourse_database_connection fact) needs host, "
            "database, user and secret_name; run the discourse_database role first or set it.",
        ),
        (
            valkey_ok,
            "discourse_app_valkey_connection (default: the discourse_valkey_connection fact) needs host (and "
            "secret_name for the password); run the discourse_valkey role first or set it.",
        ),
        (
            (web <= 1 and not autoscaled) or s3,
            f"discourse_app_web_replicas is {web}{' with an autoscaler' if autoscaled else ''}: several web "
            "pods need S3 uploads (no RWX volumes). Set discourse_app_storage_connection (the "
            "discourse_storage_connection fact) or use one replica.",
        ),
        (
            not v["discourse_app_assets_upload"] or s3,
            "discourse_app_assets_upload is true but the storage connection has no S3 (DISCOURSE_USE_S3): "
            "rake s3:upload_assets and s3:expire_missing_assets exit 1 without it. Set "
            "discourse_app_storage_connection (the discourse_storage_connection fact) or leave the default.",
        ),
        (
            v["discourse_app_routing"] != "gateway" or v["discourse_app_gateway_parent_refs"],
            "discourse_app_gateway_parent_refs must name the Gateway when discourse_app_routing is gateway.",
        ),
        (
            not cdn or re.match("^https?://", cdn),
            f"discourse_app_cdn_url must start with http:// or https:// (got '{cdn}').",
        ),
        (
            not mirror or re.match(r"^https?://[^\s?#]+$", mirror),
            "discourse_app_maxmind_mirror_url must be an http:// or https:// URL without query or fragment "
            f"(got '{mirror}').",
        ),
        (
            not overridden,
            f"discourse_app_extra_env sets variables the role manages: {', '.join(overridden)}.",
        ),
    ]
    # Render mode for GitOps (module_utils/gitops.py, docs/gitops.md).
    if render_dir and v.get("discourse_app_gitops_secrets") == "external-secrets":
        checks.append(
            (
                v.get("discourse_app_gitops_secret_store"),
                "discourse_app_gitops_secrets is external-secrets but discourse_app_gitops_secret_store is "
                "empty: name the ClusterSecretStore (or SecretStore, discourse_app_gitops_secret_store_kind) "
                "the ExternalSecrets read from.",
            )
        )
    if render_dir and v.get("discourse_app_gitops_flavour") == "flux":
        checks.append(
            (
                v.get("discourse_app_gitops_repo_path"),
                "discourse_app_gitops_flavour is flux but discourse_app_gitops_repo_path is empty: the Flux "
                "Kustomizations need the render directory's path in the Git repository.",
            )
        )
    plugins = context.get("manifest_plugins")
    if (
        v.get("discourse_app_metrics_enabled")
        and isinstance(plugins, list)
        and not prometheus_plugin(plugins)
    ):
        checks.append(
            (
                False,
                "discourse_app_metrics_enabled is true but the image's build manifest "
                f"(discourse_app_build_manifest) lists no {PROMETHEUS_PLUGIN} plugin, so nothing in the "
                "pods serves metrics: add https://github.com/discourse/discourse-prometheus to the image "
                "lock's plugins and rebuild (docs/plugins.md), or turn metrics off.",
            )
        )
    if v.get("discourse_app_image_verify"):
        checks += [
            (False, f"discourse_app_image_verify is true but {problem}.")
            for problem in verify_problems(
                v.get("discourse_app_image_verify_key") or "",
                v.get("discourse_app_image_verify_identity") or "",
                v.get("discourse_app_image_verify_identity_regexp") or "",
                v.get("discourse_app_image_verify_oidc_issuer") or "",
            )
        ]
    return [message for ok, message in checks if not ok]


# --- discourse_backup ----------------------------------------------------------------------------

SCHEMA_VERSION_RE = re.compile(r"^[0-9]{14}$")
# A recovery target CloudNativePG takes: RFC 3339, or PostgreSQL's '2025-03-01 11:59:00+00'.
RECOVERY_TIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}")
# A file `discourse restore` lists: <name>-v<14-digit version>.tar.gz, .sql.gz or .tgz.
DISCOURSE_BACKUP_FILE_RE = re.compile(r".*-v[0-9]{14}\.(tar\.gz|sql\.gz|tgz)$")
# The Job's image reads the build manifest, which only a logical backup by Job needs: worked out for
# that run only.
BACKUP_CONTEXT = {
    "logical_job_image": "__discourse_backup_logical_job_image if discourse_backup_method == 'logical' and "
    "discourse_backup_logical_runner == 'job' and discourse_backup_action == 'backup' else ''",
}


def backup_errors(v, render_dir="", context=None):
    """discourse_backup: the namespace, the wait, the target's schema version, a restore's
    confirmation, then the chosen method's names, recovery target, bucket, logins, Job image and
    restore file. ``context`` holds the Job's image (BACKUP_CONTEXT)."""
    action, method = v["discourse_backup_action"], v["discourse_backup_method"]
    namespace, timeout = v["discourse_backup_namespace"], v["discourse_backup_wait_timeout"]
    version = str(v["discourse_backup_target_schema_version"])
    delete_old = v["discourse_backup_confirm_delete_old_cluster"]
    checks = [
        (
            DNS_LABEL_RE.match(namespace),
            "discourse_backup_namespace: must be a Kubernetes namespace name (a DNS label), "
            f"got '{namespace}'",
        ),
        (timeout > 0, f"discourse_backup_wait_timeout: must be a positive number of seconds, got {timeout}"),
        (
            version in ("", "None") or SCHEMA_VERSION_RE.match(version),
            "discourse_backup_target_schema_version: must be empty or a 14-digit migration version, "
            f"got '{version}'",
        ),
        (
            action != "restore" or delete_old or v["discourse_backup_restore_confirm"],
            "discourse_backup_restore_confirm: a restore replaces what the site serves and must be confirmed "
            "explicitly; run playbooks/restore.yml with -e discourse_restore_confirm=true.",
        ),
    ]
    if method == "cnpg":
        cluster, name = v["discourse_backup_cnpg_cluster_name"], v["discourse_backup_cnpg_backup_name"]
        recovery = v["discourse_backup_cnpg_recovery_cluster_name"]
        old = v["discourse_backup_cnpg_old_cluster_name"]
        time = str(v["discourse_backup_cnpg_recovery_target_time"])
        checks += [
            (
                CNPG_CLUSTER_RE.match(cluster),
                "discourse_backup_cnpg_cluster_name: must be the name of the site's CloudNativePG Cluster, "
                f"got '{cluster}'",
            ),
            (
                name == "" or DNS_LABEL_RE.match(name),
                f"discourse_backup_cnpg_backup_name: must be empty or a DNS label, got '{name}'",
            ),
            (
                CNPG_CLUSTER_RE.match(recovery) and recovery != cluster,
                "discourse_backup_cnpg_recovery_cluster_name: must be a new Cluster name (a DNS label of at "
                f"most 50 characters), different from the current cluster '{cluster}'; got '{recovery}'",
            ),
            (
                time == "" or RECOVERY_TIME_RE.match(time),
                "discourse_backup_cnpg_recovery_target_time: must be empty or a timestamp such as "
                f"2025-03-01T11:59:00Z (RFC 3339) or '2025-03-01 11:59:00+00', got '{time}'",
            ),
            (
                not delete_old or (old and old != cluster),
                "discourse_backup_cnpg_old_cluster_name: discourse_backup_confirm_delete_old_cluster is "
                "true: name the OLD cluster to delete here; it must differ from "
                f"discourse_backup_cnpg_cluster_name ('{cluster}'), which must already name the cluster the "
                "site now uses.",
            ),
        ]
    if method == "logical":
        db = v["discourse_backup_logical_db"] or {}
        restore_db = v["discourse_backup_logical_restore_db"] or {}
        admin_db, runner = v["discourse_backup_drill_admin_db"] or {}, v["discourse_backup_logical_runner"]
        checks += [
            (
                v["discourse_backup_s3_bucket"],
                "discourse_backup_s3_bucket: the backups bucket is not known: run the storage role first or "
                "set it",
            ),
            (
                action in ("list", "restore") or db.get("host"),
                "discourse_backup_logical_db: needs host, port, database, user (and secret_name or "
                "discourse_backup_logical_db_password); run the database role first or set it",
            ),
            (
                action != "restore" or restore_db.get("database"),
                "discourse_backup_logical_restore_db: a logical restore loads into an existing, empty "
                "database: give host, port, database and user (a new database, then switch the site to it; "
                "or see docs/backup-restore.md)",
            ),
            (
                runner != "job" or action != "backup" or (context or {}).get("logical_job_image"),
                "discourse_backup_logical_job_image: the Job runner needs an image with python3, boto3 and "
                "pg_dump: set it, or discourse_backup_build_manifest to a build manifest whose backup_runner "
                "section names the runner build_image.yml built from the lock's backup_runner (see "
                "docs/backup-restore.md)",
            ),
            (
                action != "drill" or admin_db.get("host"),
                "discourse_backup_drill_admin_db: a logical drill needs a login (host, port, user) that may "
                "create and drop the drill database",
            ),
            (
                action not in ("restore", "drill")
                or v["discourse_backup_build_manifest"]
                or len(version) == 14,
                "discourse_backup_build_manifest: a restore must know the target image's schema version to "
                "refuse newer backups: give the image's build manifest or "
                "discourse_backup_target_schema_version",
            ),
        ]
    if method == "discourse":
        restore_file = v["discourse_backup_discourse_restore_file"]
        checks += [
            (
                action != "drill",
                "discourse_backup_action: the discourse method has no drill; drill with the cnpg or logical "
                "method",
            ),
            (
                action != "restore" or DISCOURSE_BACKUP_FILE_RE.match(restore_file),
                "discourse_backup_discourse_restore_file: name the backup file to restore (...-v<14-digit "
                f"version>.tar.gz or .sql.gz, as `discourse restore` lists them), got {restore_file}",
            ),
        ]
    return [message for ok, message in checks if not ok]


# The roles whose cross-field checks are here (discourse_image's in cross_field_image.py, kept apart
# for size); validate_inputs calls them by role name.
CHECKS = {
    "discourse_valkey": valkey_errors,
    "discourse_database": database_errors,
    "discourse_storage": storage_errors,
    "discourse_app": app_errors,
    "discourse_backup": backup_errors,
    "discourse_image": image_errors,
}
# What each role's check reads besides its inputs: {name: internal (or an expression over
# internals)} and removed input names.
CONTEXT = {"discourse_app": (APP_CONTEXT, tuple(APP_REMOVED)), "discourse_backup": (BACKUP_CONTEXT, ())}
