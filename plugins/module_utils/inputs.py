# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks every role input gets from its name and type, in pure Python (no Ansible imports).

Argument specs check types and choices; they cannot say that a replica count is not negative, that
``2GB`` is no Kubernetes quantity or that hour 25 does not exist. The rules here follow the
inputs' naming (``*_replicas``, ``*_timeout``, ``*_size``, ``*_resources``, ``*_schedule``, ...),
so a new input of that kind is checked without an entry of its own. Each message names the
variable and its value. Cross-field checks are per role (module_utils/cross_field.py).
"""

from __future__ import annotations

import re

PLACEHOLDER = "CHANGE-ME"

# Kubernetes resource.Quantity (apimachinery pkg/api/resource/quantity.go: decimal or binary SI
# suffix, or a decimal exponent).
QUANTITY_RE = re.compile(r"\A[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[mkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?\Z")
# nginx sizes (client_max_body_size 10m) and Valkey memory (maxmemory 512mb).
NGINX_SIZE_RE = re.compile(r"\A[0-9]+[kKmMgG]?\Z")
VALKEY_MEMORY_RE = re.compile(r"\A[0-9]+(?:[kmg]b?)?\Z", re.I)
# (suffix, lowest value, highest value or None); the first matching suffix decides.
INT_RULES = (
    ("_port", 1, 65535),
    ("_timeout", 1, None),
    ("_deadline_seconds", 1, None),
    ("_threshold", 1, None),
    ("_utilization", 1, None),
    ("_seconds", 0, None),
    ("_replicas", 0, None),
    ("_instances", 1, None),
    ("_processes", 0, None),
    ("_sidekiqs", 0, None),
    ("_workers", 0, None),
    ("_concurrency", 1, None),
    ("_mb", 0, None),
    ("_max_unavailable", 0, None),
    ("_days", 0, None),
    ("_percent", 1, 100),
    ("_per_hour", 1, None),
    ("_hours", 1, None),
)
# CloudNativePG's ScheduledBackup takes six fields (robfig/cron with seconds); names are allowed for
# months and weekdays.
CRON_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31))
CRON_FIELDS += (("month", 1, 12), ("day of week", 0, 7))
CRON_NAMES = {
    "month": ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    "day of week": ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
}
RESOURCE_KEYS = ("requests", "limits")


def int_errors(name, value):
    for suffix, low, high in INT_RULES:
        if name.endswith(suffix):
            if value < low or (high is not None and value > high):
                bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
                return [f"{name} must be {bounds}; got {value}."]
            return []
    return []


def quantity_errors(name, value, allow_empty):
    if value == "" and allow_empty:
        return []
    if QUANTITY_RE.match(value):
        return []
    return [f"{name} must be a Kubernetes quantity such as 10Gi or 512Mi; got {value!r}."]


def resources_errors(name, value):
    errors = []
    for key in sorted(set(value) - set(RESOURCE_KEYS)):
        errors.append(f"{name} may hold requests and limits only; got {key!r}.")
    for key in RESOURCE_KEYS:
        section = value.get(key) or {}
        if not isinstance(section, dict):
            errors.append(
                f"{name}.{key} must be a mapping such as {{cpu: 500m, memory: 1Gi}}; got {section!r}."
            )
            continue
        for resource, quantity in sorted(section.items()):
            if not QUANTITY_RE.match(str(quantity)):
                where = f"{name}.{key}.{resource}"
                errors.append(f"{where} must be a Kubernetes quantity such as 500m or 1Gi; got {quantity!r}.")
    return errors


def nginx_size_errors(name, value, allow_empty):
    if NGINX_SIZE_RE.match(value):
        return []
    return [f"{name} must be an nginx size such as 10m or 1g; got {value!r}."]


def valkey_memory_errors(name, value, allow_empty):
    if value == "" or VALKEY_MEMORY_RE.match(value):
        return []
    return [f"{name} must be empty or a Valkey memory size such as 512mb or 2gb; got {value!r}."]


def _cron_value(field, text):
    names = CRON_NAMES.get(field, [])
    if text.upper() in names:
        return names.index(text.upper()) + (1 if field == "month" else 0)
    return int(text) if text.isdigit() else None


def cron_errors(name, value, allow_empty=False, fields=CRON_FIELDS):
    parts = str(value).split()
    if len(parts) != len(fields):
        names = ", ".join(field[0] for field in fields)
        return [f"{name} must have {len(fields)} fields ({names}); got {len(parts)} in {value!r}."]
    errors = []
    for (field, low, high), part in zip(fields, parts):  # noqa: B905 - lengths checked; Python 3.8 targets
        for item in part.split(","):
            base, _slash, step = item.partition("/")
            if step and not step.isdigit():
                errors.append(f"{name}: the {field} step {step!r} is not a number ({value!r}).")
            if base in ("*", "?"):
                continue
            for bound in base.split("-", 1):
                number = _cron_value(field, bound)
                if number is None or not low <= number <= high:
                    errors.append(f"{name}: {field} {bound!r} is not between {low} and {high} ({value!r}).")
    return errors


# Inputs whose values become DISCOURSE_* variables. At boot discourse_docker's copy-env
# (templates/web.template.yml) writes each as `key = '<value>'` into config/discourse.conf, and
# GlobalSetting's FileProvider reads the file line by line after ERB, taking '([^']*)': a quote cuts
# the value, a line break ends it, `<%` is evaluated. Jobs read the environment and see it whole,
# so web pods and Jobs would disagree. discourse_app_extra_env counts for its DISCOURSE_* keys; site
# settings are checked by module_utils/site_settings.py, which sets such values in the database.
DISCOURSE_CONF_INPUTS = frozenset(
    {
        "discourse_app_extra_env",
        "discourse_app_hostname",
        "discourse_app_cdn_url",
        "discourse_app_developer_emails",
        "discourse_app_notification_email",
        "discourse_app_smtp_address",
        "discourse_app_smtp_domain",
        "discourse_app_smtp_user_name",
        "discourse_app_smtp_password",
        "discourse_database_password",
        "discourse_valkey_external_password",
        "discourse_valkey_external_username",
        "discourse_storage_access_key_id",
        "discourse_storage_secret_access_key",
    }
)
DISCOURSE_CONF_UNSAFE = (
    ("'", "a single quote"),
    ("\n", "a line break"),
    ("\r", "a line break"),
    ("<%", "<%"),
)


def discourse_conf_errors(name, value):
    """One message per value (path like placeholders()) that config/discourse.conf cannot hold.
    Values are never quoted in the message: some are passwords."""
    if isinstance(value, dict):
        items = value.items()
        if name == "discourse_app_extra_env":
            items = [(key, item) for key, item in items if str(key).startswith("DISCOURSE_")]
        return [e for key, item in items for e in discourse_conf_errors(f"{name}.{key}", item)]
    if isinstance(value, list):
        return [
            e for index, item in enumerate(value) for e in discourse_conf_errors(f"{name}[{index}]", item)
        ]
    text = str(value)
    found = [what for mark, what in DISCOURSE_CONF_UNSAFE if mark in text]
    if not found:
        return []
    return [
        f"{name} holds {found[0]}: Discourse writes it to config/discourse.conf as key = '<value>' at boot "
        "and reads it back up to the first quote or line break (after ERB), so the pods would get another "
        "value than the Jobs. Use a value without ', line breaks and <%."
    ]


# (suffix, check(name, value, allow_empty)); the first matching suffix decides.
STR_RULES = (
    ("_upload_size", nginx_size_errors),
    ("_size", quantity_errors),
    ("_maxmemory", valkey_memory_errors),
    ("_schedule", cron_errors),
)


def str_errors(name, value, allow_empty):
    for suffix, check in STR_RULES:
        if name.endswith(suffix):
            return check(name, value, allow_empty)
    return []


def placeholders(value, path):
    """Paths of the values that still hold new_customer.yml's CHANGE-ME."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in placeholders(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in placeholders(item, f"{path}[{index}]")]
    return [path] if isinstance(value, str) and PLACEHOLDER in value else []


def input_errors(options, values, defaults_empty=()):
    """Messages for the inputs of one role.

    ``options`` is the role's argument spec (name -> option); ``values`` the validated inputs;
    ``defaults_empty`` the names whose default is "" (an empty size there means "not used").
    """
    errors = []
    for name, option in options.items():
        if name not in values or values[name] is None:
            continue
        value = values[name]
        kind = option.get("type", "str")
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            errors += int_errors(name, value)
        elif kind == "str" and isinstance(value, str) and PLACEHOLDER not in value:
            errors += str_errors(name, value, name in defaults_empty)
        elif kind == "dict" and name.endswith("_resources") and isinstance(value, dict):
            errors += resources_errors(name, value)
        if name in DISCOURSE_CONF_INPUTS:
            errors += discourse_conf_errors(name, value)
        errors += [
            f"{path} still holds the placeholder {PLACEHOLDER} (playbooks/new_customer.yml wrote it): "
            "set the real value, for vault values with ansible-vault edit."
            for path in placeholders(value, name)
        ]
    return errors
