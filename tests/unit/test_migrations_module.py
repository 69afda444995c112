"""forumops.discourse.migration_check without a database: argument rules, results, failures, warnings."""

import pytest
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.forumops.discourse.plugins.modules import migration_check
from tests.fixtures import migration_results
from tests.fixtures.ansible import run_module_main

MANIFEST = {"migrations": {"pre": migration_results.PRE, "post": migration_results.POST}}


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Ansible keeps module warnings in a process-wide dict; other tests' runs must not leak into ours."""
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})


def run_module(args, capsys, check_mode=False):
    return run_module_main(migration_check.main, args, capsys, check_mode)


def test_applied_versions_against_a_manifest(capsys):
    result = run_module({"applied_versions": migration_results.APPLIED, "manifest": MANIFEST}, capsys)
    assert {key: value for key, value in result.items() if key not in ("invocation", "warnings")} == {
        "changed": False,
        **migration_results.ONE_PRE_AND_ONE_POST_PENDING,
        "migration_warnings": [],
    }


def test_check_mode_gives_the_same_result(capsys):
    args = {"applied_versions": ["20250101000000"], "manifest": MANIFEST}
    normal = run_module(args, capsys)
    checked = run_module(args, capsys, check_mode=True)
    assert checked == normal


def test_a_downgrade_is_refused(capsys):
    result = run_module(
        {"applied_versions": [*MANIFEST["migrations"]["pre"], "20250201000000"], "manifest": MANIFEST}, capsys
    )
    assert result["failed"] is True
    assert result["msg"] == (
        "the database is ahead of the image: 1 applied migration(s) the image does not ship "
        "(20250201000000); refusing a downgrade (set allow_downgrade to accept it)"
    )
    assert result["downgrade"] is True
    assert result["unknown"] == ["20250201000000"]


def test_a_long_downgrade_message_lists_five_versions(capsys):
    unknown = [f"2026010100000{i}" for i in range(7)]
    result = run_module({"applied_versions": unknown, "manifest": MANIFEST}, capsys)
    assert result["msg"] == (
        "the database is ahead of the image: 7 applied migration(s) the image does not ship ("
        + ", ".join(unknown[:5])
        + ", ...); refusing a downgrade (set allow_downgrade to accept it)"
    )


def test_a_downgrade_is_allowed_when_asked(capsys):
    args = {"applied_versions": ["20250201000000"], "manifest": MANIFEST, "allow_downgrade": True}
    result = run_module(args, capsys)
    assert "failed" not in result
    assert result["downgrade"] is True
    assert result["pending_pre"] == ["20250101000000", "20250102000000"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"manifest": MANIFEST}, "one of the following is required: db, applied_versions"),
        ({"applied_versions": []}, "one of the following is required: manifest, source_dir"),
        (
            {"applied_versions": [], "manifest": MANIFEST, "source_dir": "/srv/discourse"},
            "parameters are mutually exclusive: manifest|source_dir",
        ),
        (
            {
                "applied_versions": [],
                "db": {"host": "db", "database": "discourse", "user": "discourse"},
                "manifest": MANIFEST,
            },
            "parameters are mutually exclusive: db|applied_versions",
        ),
        (
            {"db": {"host": "db", "user": "discourse"}, "manifest": MANIFEST},
            "missing required arguments: database found in db",
        ),
        (
            {"applied_versions": ["2025-01-01"], "manifest": MANIFEST},
            "applied_versions[0] is '2025-01-01', not a migration version",
        ),
        (
            {"applied_versions": [], "manifest": {"migrations": {"pre": ["1"], "post": []}}},
            "manifest: migrations.pre[0] is '1', not a 14-digit version",
        ),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(args, message, capsys):
    result = run_module(args, capsys)
    assert result["failed"] is True
    assert result["msg"] == message


def test_source_dir_warnings_are_returned_and_shown(tmp_path, capsys):
    (tmp_path / "db" / "migrate").mkdir(parents=True)
    (tmp_path / "db" / "migrate" / "20250101000000_create_posts.rb").write_text("")
    (tmp_path / "db" / "migrate" / "helper.rb").write_text("")
    result = run_module({"applied_versions": ["20250101000000"], "source_dir": str(tmp_path)}, capsys)
    warning = (
        "db/migrate/helper.rb: ignored, not a migration file name (<14-digit version>_<snake_case_name>.rb)"
    )
    assert result["migration_warnings"] == [warning]
    # That each one is also an Ansible warning is checked through ansible-playbook in
    # tests/integration/test_migration_check.py: in this process, once a controller plugin has been
    # imported, ansible-core sends module warnings to its display instead of the result.
    assert result["summary"] == (
        "up to date; database at 20250101000000, image at 20250101000000; rollback to the previous image safe"
    )
