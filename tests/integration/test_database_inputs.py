"""Bad discourse_database input fails before any API call, naming the variable.

The kubeconfig points at a file that does not exist: any Kubernetes call would fail with a
kubeconfig error instead of the validation message these tests expect.
"""

from __future__ import annotations

import pytest

from tests.fixtures.ansible import flat_output, write_varfile

PLAYBOOK = "tests/integration/playbooks/database_converge.yml"


def converge(ansible, tmp_path, **variables):
    extra = {
        "discourse_kubeconfig": str(tmp_path / "no-such-kubeconfig"),
        "discourse_namespace": "forum-a",
        "discourse_site_name": "forum_a",
        **variables,
    }
    return ansible("ansible-playbook", PLAYBOOK, "-e", f"@{write_varfile(tmp_path, extra)}")


BACKUPS = {
    "discourse_database_backup_enabled": True,
    "discourse_database_backup_bucket": "forum-a-backups",
    "discourse_database_backup_credentials_secret": "forum-a-s3",
}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param(
            {"discourse_database_mode": "patroni"},
            "value of discourse_database_mode must be one of: cnpg, external, got: patroni",
            id="unknown-mode",
        ),
        pytest.param(
            {"discourse_database_postgresql_major": 13},
            "value of discourse_database_postgresql_major must be one of: 14, 15, 16, 17, 18, got: 13",
            id="major-too-old",
        ),
        pytest.param(
            {"discourse_database_postgresql_major": 19},
            "value of discourse_database_postgresql_major must be one of: 14, 15, 16, 17, 18, got: 19",
            id="major-too-new",
        ),
        pytest.param(
            {**BACKUPS, "discourse_database_backup_schedule": "0 3 * * *"},
            "discourse_database_backup_schedule must have 6 fields (second, minute, hour, day of month, "
            "month, day of week); got 5 in '0 3 * * *'.",
            id="five-field-schedule",
        ),
        pytest.param(
            {**BACKUPS, "discourse_database_backup_schedule": "0 0 25 * * *"},
            "discourse_database_backup_schedule: hour '25' is not between 0 and 23 ('0 0 25 * * *').",
            id="hour-25",
        ),
        pytest.param(
            {**BACKUPS, "discourse_database_backup_bucket": ""},
            "discourse_database_backup_bucket: backups are enabled but no valid bucket is set (got '')",
            id="backups-without-bucket",
        ),
        pytest.param(
            {"discourse_database_backup_enabled": True},
            "discourse_database_backup_bucket: backups are enabled but no valid bucket is set (got '')",
            id="backups-without-storage-role",
        ),
        pytest.param(
            {"discourse_database_storage_size": "ten gigs"},
            "discourse_database_storage_size must be a Kubernetes quantity such as 10Gi or 512Mi; "
            "got 'ten gigs'.",
            id="storage-size",
        ),
        pytest.param(
            {"discourse_database_mode": "external"},
            "discourse_database_external_host: external mode needs the server's host name",
            id="external-without-host",
        ),
    ],
)
def test_bad_input_fails_before_any_api_call(ansible, tmp_path, variables, expected):
    result = converge(ansible, tmp_path, **variables)

    assert result.returncode != 0
    output = flat_output(result)  # undo YAML line folding
    assert expected in output, output
    assert "kubeconfig" not in output.replace("discourse_kubeconfig", "")


def test_the_schedule_five_field_message_shows_the_value_and_field_count(ansible, tmp_path):
    result = converge(ansible, tmp_path, **BACKUPS, discourse_database_backup_schedule="0 3 * * *")

    output = " ".join(result.stdout.split())
    assert "got 5 in '0 3 * * *'" in output


def test_backup_inputs_default_from_the_storage_roles_connection(ansible, tmp_path):
    render = tmp_path / "render"
    storage = {
        "backups_bucket": "forum-a-backups",
        "endpoint": "https://s3.example.test",
        "region": "eu-central",
        "credentials_secret": "forum-a-s3",
    }
    result = converge(
        ansible,
        tmp_path,
        discourse_render_dir=str(render),
        discourse_database_backup_enabled=True,
        discourse_storage_connection=storage,
    )

    assert result.returncode == 0, result.stdout
    text = (render / "forum_a" / "database.yaml").read_text()
    assert 'destinationPath: "s3://forum-a-backups/cnpg"' in text
    assert 'endpointURL: "https://s3.example.test"' in text
    assert text.count("name: forum-a-s3") == 2
