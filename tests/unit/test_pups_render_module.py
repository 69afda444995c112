"""forumops.discourse.pups_render as Ansible runs it: arguments, check mode, files, changed, failures."""

import os

from ansible_collections.forumops.discourse.plugins.modules import pups_render
from tests.fixtures.ansible import run_module_main

ROOT = os.path.join(os.path.dirname(__file__), "fixtures", "pups")
APP = os.path.join(ROOT, "containers", "app.yml")


def run_module(args, capsys, check_mode=False):
    return run_module_main(pups_render.main, args, capsys, check_mode)


def test_returns_the_rendered_plan_without_dest(capsys):
    result = run_module({"templates_root": ROOT, "config": APP, "tags": ["db", "migrate"]}, capsys)
    assert result["changed"] is False
    assert [
        row["exec"] if isinstance(row["exec"], str) else row["exec"]["hook"] for row in result["run"]
    ] == [
        "echo before migrate discourse",
        "db_migrate",
        "db_setup",
    ]
    assert result["params"]["reqs_per_second"] == 20
    assert "files" not in result
    assert "Skipped missing after_code hook" in result["pups_warnings"]


def test_writes_the_build_context_and_is_idempotent(tmp_path, capsys):
    dest = tmp_path / "context"
    args = {"templates_root": ROOT, "config": APP, "dest": str(dest), "params": {"version": "v3.5.0"}}
    first = run_module(args, capsys)
    assert first["changed"] is True
    assert first["files"] == {"config.yaml": True, "Dockerfile": True}
    assert (dest / "config.yaml").read_text() == first["pups_input"]
    assert (dest / "Dockerfile").read_text() == first["dockerfile"]
    assert 'org.forumops.discourse.version="v3.5.0"' in first["dockerfile"]
    second = run_module(args, capsys)
    assert second["changed"] is False
    assert second["files"] == {"config.yaml": False, "Dockerfile": False}


def test_check_mode_reports_the_change_and_writes_nothing(tmp_path, capsys):
    dest = tmp_path / "context"
    result = run_module({"templates_root": ROOT, "config": APP, "dest": str(dest)}, capsys, check_mode=True)
    assert result["changed"] is True
    assert not dest.exists()


def test_only_a_changed_file_is_rewritten(tmp_path, capsys):
    args = {"templates_root": ROOT, "config": APP, "dest": str(tmp_path)}
    run_module(args, capsys)
    changed = run_module(dict(args, bake_env=True), capsys)
    assert changed["files"] == {"config.yaml": False, "Dockerfile": True}


def test_config_as_a_dict_and_config_name(capsys):
    config = {"templates": ["templates/cache.template.yml"], "env": {"A": "on"}}
    result = run_module({"templates_root": ROOT, "config": config, "config_name": "web_only"}, capsys)
    assert result["labels"] == {"app_name": "web_only_discourse"}
    assert result["env"]["A"] == "on"


def test_parse_error_fails_naming_the_file_and_line(capsys):
    broken = os.path.join(ROOT, "containers", "broken.yml")
    result = run_module({"templates_root": ROOT, "config": broken}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith(broken + ": YAML error at line ")


def test_unknown_command_fails_naming_the_row(capsys):
    config = os.path.join(ROOT, "containers", "unknown-command.yml")
    result = run_module({"templates_root": ROOT, "config": config}, capsys)
    assert result["failed"] is True
    assert "unknown-command.yml, run row 2 (line 5)" in result["msg"]
    assert "Invalid run command shell" in result["msg"]
