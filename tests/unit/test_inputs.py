"""module_utils/inputs.py: the checks every input gets from its name and type (issue 22, item 6)."""

from __future__ import annotations

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import inputs, names

GOOD = {
    "discourse_app_web_replicas": 2,
    "discourse_app_smtp_port": 587,
    "discourse_app_wait_timeout": 600,
    "discourse_app_prestop_sleep_seconds": 0,
    "discourse_database_instances": 2,
    "discourse_database_storage_size": "10Gi",
    "discourse_database_wal_storage_size": "",
    "discourse_database_backup_schedule": "0 0 3 * * SUN",
    "discourse_app_upload_size": "10m",
    "discourse_valkey_maxmemory": "512mb",
    "discourse_app_web_resources": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    },
    "discourse_storage_secret_access_key": "s3cr3t",
    "discourse_site_settings": {"title": "Forum"},
}
# Each input's argument spec: the type of its good value (int, str or dict).
SPEC = {name: {"type": type(value).__name__} for name, value in GOOD.items()}


def test_good_inputs_have_no_error():
    assert inputs.input_errors(SPEC, GOOD, defaults_empty={"discourse_database_wal_storage_size"}) == []


def test_each_bad_input_is_named_with_its_value():
    bad = dict(
        GOOD,
        discourse_app_web_replicas=-1,
        discourse_app_smtp_port=70000,
        discourse_app_wait_timeout=0,
        discourse_database_instances=0,
        discourse_database_storage_size="2GB",
        discourse_database_wal_storage_size="",
        discourse_database_backup_schedule="0 0 25 * * *",
        discourse_app_upload_size="10 MB",
        discourse_valkey_maxmemory="lots",
        discourse_app_web_resources={"requests": {"memory": "1 GiB"}, "limts": {}},
    )
    assert inputs.input_errors(SPEC, bad) == [
        "discourse_app_web_replicas must be at least 0; got -1.",
        "discourse_app_smtp_port must be between 1 and 65535; got 70000.",
        "discourse_app_wait_timeout must be at least 1; got 0.",
        "discourse_database_instances must be at least 1; got 0.",
        "discourse_database_storage_size must be a Kubernetes quantity such as 10Gi or 512Mi; got '2GB'.",
        "discourse_database_wal_storage_size must be a Kubernetes quantity such as 10Gi or 512Mi; got ''.",
        "discourse_database_backup_schedule: hour '25' is not between 0 and 23 ('0 0 25 * * *').",
        "discourse_app_upload_size must be an nginx size such as 10m or 1g; got '10 MB'.",
        "discourse_valkey_maxmemory must be empty or a Valkey memory size such as 512mb or 2gb; got 'lots'.",
        "discourse_app_web_resources may hold requests and limits only; got 'limts'.",
        "discourse_app_web_resources.requests.memory must be a Kubernetes quantity such as 500m or 1Gi; "
        "got '1 GiB'.",
    ]


def test_cron_fields_ranges_steps_lists_and_names():
    assert inputs.cron_errors("s", "0 */15 8-18 1,15 JAN-MAR MON-FRI") == []
    assert inputs.cron_errors("s", "0 3 * * *") == [
        "s must have 6 fields (second, minute, hour, day of month, month, day of week); got 5 in '0 3 * * *'."
    ]
    assert inputs.cron_errors("s", "60 0 0 0 13 8") == [
        "s: second '60' is not between 0 and 59 ('60 0 0 0 13 8').",
        "s: day of month '0' is not between 1 and 31 ('60 0 0 0 13 8').",
        "s: month '13' is not between 1 and 12 ('60 0 0 0 13 8').",
        "s: day of week '8' is not between 0 and 7 ('60 0 0 0 13 8').",
    ]
    assert inputs.cron_errors("s", "0 */x * * * *") == [
        "s: the minute step 'x' is not a number ('0 */x * * * *')."
    ]


def test_placeholders_are_named_by_path_never_by_value():
    values = dict(
        GOOD,
        discourse_storage_secret_access_key="CHANGE-ME",
        discourse_site_settings={"title": "CHANGE-ME", "contact_email": "ok@example.org"},
    )
    empty = {"discourse_database_wal_storage_size"}
    fix = "(playbooks/new_customer.yml wrote it): set the real value, for vault values with "
    fix += "ansible-vault edit."
    assert inputs.input_errors(SPEC, values, defaults_empty=empty) == [
        f"discourse_storage_secret_access_key still holds the placeholder CHANGE-ME {fix}",
        f"discourse_site_settings.title still holds the placeholder CHANGE-ME {fix}",
    ]


def test_quantities_follow_kubernetes():
    for good in ("1", "1.5", ".5", "500m", "10Gi", "2G", "1e3", "128974848"):
        assert inputs.QUANTITY_RE.match(good), good
    for bad in ("2GB", "1 Gi", "-1Gi", "Gi", "10gi", ""):
        assert not inputs.QUANTITY_RE.match(bad), bad


# discourse_docker templates/web.template.yml (e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd) writes each
# DISCOURSE_* variable as `key = '<value>'` into config/discourse.conf at boot; discourse/discourse
# app/models/global_setting.rb (1df354041bfdf6595c880df45745ef92c96b2a42) FileProvider#read runs ERB
# over the file and takes /\A\s*([a-z_]+[a-z0-9_]*)\s*=\s*("([^"]*)"|'([^']*)'|[^#]*)/ per line.
CONF_TAIL = (
    ": Discourse writes it to config/discourse.conf as key = '<value>' at boot and reads it back up to "
    "the first quote or line break (after ERB), so the pods would get another value than the Jobs. "
    "Use a value without ', line breaks and <%."
)


def test_values_discourse_conf_cannot_hold_are_named_by_path_never_by_value():
    spec = {
        "discourse_app_site_settings": {"type": "dict"},
        "discourse_app_extra_env": {"type": "dict"},
        "discourse_app_smtp_password": {"type": "str"},
        "discourse_app_developer_emails": {"type": "list"},
        "discourse_app_title_unrelated": {"type": "str"},
    }
    values = {
        # Site settings with such values are set in the database instead (tests/unit/test_site_settings.py).
        "discourse_app_site_settings": {"title": "Bob's forum", "site_description": "ok", "welcome": "a\nb"},
        # Only DISCOURSE_* keys reach discourse.conf; other env keeps its line breaks.
        "discourse_app_extra_env": {"DISCOURSE_X": "<%= 1 %>", "OTHER": "it's\nfine"},
        "discourse_app_smtp_password": "pa'ss\r",
        "discourse_app_developer_emails": ["a@b.test", "o'neil@b.test"],
        "discourse_app_title_unrelated": "it's not an input that reaches discourse.conf",
    }
    assert inputs.input_errors(spec, values) == [
        "discourse_app_extra_env.DISCOURSE_X holds <%" + CONF_TAIL,
        "discourse_app_smtp_password holds a single quote" + CONF_TAIL,
        "discourse_app_developer_emails[1] holds a single quote" + CONF_TAIL,
    ]


def test_generated_and_plain_values_pass_the_discourse_conf_check():
    spec = {"discourse_database_password": {"type": "str"}, "discourse_app_site_settings": {"type": "dict"}}
    values = {
        "discourse_database_password": "Zx81aBcD0123456789abcdefGHIJklmn",
        "discourse_app_site_settings": {
            "title": 'A "quoted" forum',
            "max_image_size_kb": 4096,
            "login_required": True,
        },
    }
    assert inputs.input_errors(spec, values) == []


@pytest.mark.parametrize(
    ("site", "name"),
    [
        ("example_forum", "example-forum"),
        ("Forum.Example.COM", "forum-example-com"),
        ("_x__y-", "x-y"),
        ("a--b", "a--b"),
        ("forum", "forum"),
    ],
)
def test_a_site_name_becomes_the_base_of_its_object_names(site, name):
    assert names.resource_name(site) == name
