# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The environment of a site's Discourse pods, in pure Python (no Ansible imports).

``managed_env`` is what the discourse_app role sets itself in the env ConfigMap (it wins over the
image's runtime env, site settings and extra env); ``secret_refs`` the variables read from Secrets,
names and keys only, never values; ``secret_env`` those in a container's ``env`` shape. The names
are the DISCOURSE_* settings GlobalSetting reads (discourse/discourse config/discourse_defaults.conf)
and libpq's PGSSLMODE: Discourse's database_config has no sslmode of its own.
"""

from __future__ import annotations


def truthy(value):
    """Ansible's ``bool`` filter on a fact's value (a connection fact may carry "true" or True)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "on", "1", "true")


def _by_name(mapping):
    """Jinja's dictsort: items by key, case-insensitively."""
    return sorted((mapping or {}).items(), key=lambda item: str(item[0]).lower())


def managed_env(
    hostname,
    database,
    valkey,
    storage=None,
    developer_emails=(),
    sidekiq_concurrency=5,
    smtp_address="",
    smtp_port=587,
    smtp_enable_start_tls=True,
    smtp_domain="",
    notification_email="",
    cdn_url="",
    maxmind_mirror_url="",
    force_https=False,
):
    """The env ConfigMap's keys the role owns, as strings.

    ``database`` and ``valkey`` are the database and Valkey roles' connection facts; ``storage`` the
    storage role's (its ``env`` is copied, empty values left out). The *_ON_BOOT switches are off:
    migrations and assets run in Jobs and in the image build, never in a booting pod.
    """
    database, valkey = database or {}, valkey or {}
    env = {
        "DISCOURSE_HOSTNAME": hostname,
        "DISCOURSE_DB_HOST": database.get("host"),
        "DISCOURSE_DB_PORT": str(database.get("port", 5432)),
        "DISCOURSE_DB_NAME": database.get("database"),
        "DISCOURSE_DB_USERNAME": database.get("user"),
        "DISCOURSE_DB_SOCKET": "",
        "DISCOURSE_REDIS_HOST": valkey.get("host"),
        "DISCOURSE_REDIS_PORT": str(valkey.get("port", 6379)),
        "DISCOURSE_DEVELOPER_EMAILS": ",".join(developer_emails or ()),
        "DISCOURSE_SIDEKIQ_WORKERS": str(sidekiq_concurrency),
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "0",
        "CREATE_DB_ON_BOOT": "0",
    }
    # GlobalSetting.redis_config: username and ssl from redis_username and redis_use_ssl.
    if truthy(valkey.get("tls", False)):
        env["DISCOURSE_REDIS_USE_SSL"] = "true"
    if valkey.get("username"):
        env["DISCOURSE_REDIS_USERNAME"] = valkey["username"]
    if database.get("sslmode"):
        env["PGSSLMODE"] = database["sslmode"]
    if smtp_address:
        env["DISCOURSE_SMTP_ADDRESS"] = smtp_address
        env["DISCOURSE_SMTP_PORT"] = str(smtp_port)
        env["DISCOURSE_SMTP_ENABLE_START_TLS"] = str(bool(smtp_enable_start_tls)).lower()
    if smtp_domain:
        env["DISCOURSE_SMTP_DOMAIN"] = smtp_domain
    if notification_email:
        env["DISCOURSE_NOTIFICATION_EMAIL"] = notification_email
    if cdn_url:
        env["DISCOURSE_CDN_URL"] = cdn_url
    if maxmind_mirror_url:
        env["DISCOURSE_MAXMIND_MIRROR_URL"] = maxmind_mirror_url
    # TLS ends at the ingress: links, cookies and redirects must still say https.
    if force_https:
        env["DISCOURSE_FORCE_HTTPS"] = "true"
    for name, value in _by_name((storage or {}).get("env")):
        if str(value):
            env[name] = str(value)
    return env


def secret_refs(
    database,
    valkey,
    secret_key_base_secret,
    secret_key_base_key,
    storage=None,
    smtp_secret="",
    smtp_user_name_key="user-name",
    smtp_password_key="password",
    maxmind_secret="",
    maxmind_account_id_key="account-id",
    maxmind_license_key_key="license-key",
):
    """[{name, secret, key}]: each variable the pods read from a Secret, in a fixed order.

    No SMTP login without ``smtp_secret``, no MaxMind download credentials without
    ``maxmind_secret``; the storage connection's ``secret_env`` maps variable names to {name, key}.
    """
    database, valkey = database or {}, valkey or {}

    def ref(name, secret, key):
        return {"name": name, "secret": secret, "key": key}

    refs = [
        ref("DISCOURSE_DB_PASSWORD", database.get("secret_name"), database.get("password_key", "password"))
    ]
    if valkey.get("secret_name"):
        refs.append(
            ref("DISCOURSE_REDIS_PASSWORD", valkey["secret_name"], valkey.get("password_key", "password"))
        )
    if smtp_secret:
        refs.append(ref("DISCOURSE_SMTP_USER_NAME", smtp_secret, smtp_user_name_key))
        refs.append(ref("DISCOURSE_SMTP_PASSWORD", smtp_secret, smtp_password_key))
    refs.append(ref("DISCOURSE_SECRET_KEY_BASE", secret_key_base_secret, secret_key_base_key))
    if maxmind_secret:
        refs.append(ref("DISCOURSE_MAXMIND_ACCOUNT_ID", maxmind_secret, maxmind_account_id_key))
        refs.append(ref("DISCOURSE_MAXMIND_LICENSE_KEY", maxmind_secret, maxmind_license_key_key))
    for name, target in _by_name((storage or {}).get("secret_env")):
        refs.append(ref(name, target["name"], target["key"]))
    return refs


def secret_env(refs):
    """The references as a container's env entries (valueFrom.secretKeyRef)."""
    return [
        {"name": ref["name"], "valueFrom": {"secretKeyRef": {"name": ref["secret"], "key": ref["key"]}}}
        for ref in refs
    ]
