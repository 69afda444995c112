"""forumops.discourse.migration_check run by ansible-playbook against a real PostgreSQL 18.

Each test creates schema_migrations the way Rails does, fills it, and runs the module through
tests/integration/playbooks/migration_check.yml with the JSON stdout callback.
"""

import json

import pytest

from tests.fixtures.ansible import ansible_env

pytestmark = pytest.mark.postgres

PLAYBOOK = "tests/integration/playbooks/migration_check.yml"
PRE = ["20250101000000", "20250102000000", "20250104000000"]
POST = ["20250103000000", "20250105000000"]
MANIFEST = {"image": "registry.example/discourse:v3.5.0", "migrations": {"pre": PRE, "post": POST}}
READER = "migration_reader"
READER_PASSWORD = "reader-secret-4711"  # test-only role on a loopback server


def make_schema_migrations(server, dbname, versions):
    # Rails' definition of the table.
    server.query("CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY)", dbname)
    for version in versions:
        server.query("INSERT INTO schema_migrations (version) VALUES (%s)", dbname, (version,))


def run_check(ansible, tmp_path, check_mode=False, **variables):
    """Run the playbook with migration_check_<key> variables; return (task result, process)."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({f"migration_check_{key}": value for key, value in variables.items()}))
    extra = ["--check"] if check_mode else []
    proc = ansible(
        "ansible-playbook",
        PLAYBOOK,
        "-e",
        f"@{args_file}",
        *extra,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"),
    )
    output = json.loads(proc.stdout)
    result = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result, proc


def fields(result):
    keys = (
        "changed",
        "pending_pre",
        "pending_post",
        "unknown",
        "db_version",
        "target_version",
        "downgrade",
        "rollback_safe",
        "summary",
        "migration_warnings",
    )
    return {key: result.get(key) for key in keys}


def expected(pending_pre, pending_post, unknown, db_version, rollback_safe, summary, warnings=()):
    return {
        "changed": False,
        "pending_pre": pending_pre,
        "pending_post": pending_post,
        "unknown": unknown,
        "db_version": db_version,
        "target_version": "20250105000000",
        "downgrade": bool(unknown),
        "rollback_safe": rollback_safe,
        "summary": summary,
        "migration_warnings": list(warnings),
    }


def test_up_to_date(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, PRE + POST)
    result, proc = run_check(ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST)
    assert proc.returncode == 0, proc.stdout
    assert fields(result) == expected(
        [],
        [],
        [],
        "20250105000000",
        False,
        "up to date; database at 20250105000000, image at 20250105000000; "
        "rollback to the previous image not safe",
    )


def test_pre_deploy_pending_only(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, ["20250101000000", *POST])
    result, proc = run_check(ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST)
    assert proc.returncode == 0, proc.stdout
    assert fields(result) == expected(
        ["20250102000000", "20250104000000"],
        [],
        [],
        "20250105000000",
        True,
        "upgrade: 2 pre-deploy and 0 post-deploy migrations pending; database at 20250105000000, "
        "image at 20250105000000; rollback to the previous image safe",
    )


def test_post_deploy_pending_only(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, PRE)
    result, proc = run_check(ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST)
    assert proc.returncode == 0, proc.stdout
    assert fields(result) == expected(
        [],
        POST,
        [],
        "20250104000000",
        True,
        "upgrade: 0 pre-deploy and 2 post-deploy migrations pending; database at 20250104000000, "
        "image at 20250105000000; rollback to the previous image safe",
    )


def test_pre_and_post_deploy_pending_with_a_manifest_file(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, ["20250101000000"])
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    result, proc = run_check(
        ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=str(manifest)
    )
    assert proc.returncode == 0, proc.stdout
    assert fields(result) == expected(
        ["20250102000000", "20250104000000"],
        POST,
        [],
        "20250101000000",
        True,
        "upgrade: 2 pre-deploy and 2 post-deploy migrations pending; database at 20250101000000, "
        "image at 20250105000000; rollback to the previous image safe",
    )


def test_empty_database(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, [])
    result, proc = run_check(ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST)
    assert proc.returncode == 0, proc.stdout
    assert fields(result) == expected(
        PRE,
        POST,
        [],
        None,
        True,
        "upgrade: 3 pre-deploy and 2 post-deploy migrations pending; database at no migration, "
        "image at 20250105000000; rollback to the previous image safe",
    )


def test_database_ahead_is_refused(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, [*PRE, *POST, "20250201000000"])
    result, proc = run_check(ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST)
    assert proc.returncode == 2
    assert result["failed"] is True
    assert result["msg"] == (
        "the database is ahead of the image: 1 applied migration(s) the image does not ship "
        "(20250201000000); refusing a downgrade (set allow_downgrade to accept it)"
    )
    assert fields(result) == expected(
        [],
        [],
        ["20250201000000"],
        "20250201000000",
        False,
        "downgrade: 1 applied migration unknown to the image; database at 20250201000000, "
        "image at 20250105000000; rollback to the previous image not safe",
    )


def test_database_ahead_is_accepted_with_allow_downgrade(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, [*PRE, *POST, "20250201000000"])
    result, proc = run_check(
        ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST, allow_downgrade=True
    )
    assert proc.returncode == 0, proc.stdout
    assert "failed" not in result
    assert result["downgrade"] is True
    assert result["unknown"] == ["20250201000000"]


def test_plugin_migrations_and_malformed_names_from_a_source_tree(
    ansible, postgres_server, postgres_db, tmp_path
):
    source = tmp_path / "discourse"
    files = [
        "db/migrate/20250101000000_create_posts.rb",
        "db/migrate/20250102000000_add_index_to_posts.rb",
        "db/post_migrate/20250103000000_drop_old_column.rb",
        "plugins/chat/db/migrate/20250104000000_create_chat_channels.rb",
        "plugins/chat/db/post_migrate/2025/20250105000000_drop_chat_column.rb",
        "plugins/chat/db/migrate/add_chat_index.rb",
    ]
    for rel in files:
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text("")
    make_schema_migrations(
        postgres_server, postgres_db, ["20250101000000", "20250102000000", "20250103000000"]
    )
    result, proc = run_check(
        ansible, tmp_path, db=postgres_server.db_option(postgres_db), source_dir=str(source)
    )
    assert proc.returncode == 0, proc.stdout
    warning = (
        "plugins/chat/db/migrate/add_chat_index.rb: ignored, not a migration file name "
        "(<14-digit version>_<snake_case_name>.rb)"
    )
    assert fields(result) == expected(
        ["20250104000000"],
        ["20250105000000"],
        [],
        "20250103000000",
        True,
        "upgrade: 1 pre-deploy and 1 post-deploy migration pending; database at 20250103000000, "
        "image at 20250105000000; rollback to the previous image safe",
        warnings=[warning],
    )
    assert result["warnings"] == [warning]


def test_a_missing_table_fails_naming_the_database(ansible, postgres_server, postgres_db, tmp_path):
    result, proc = run_check(ansible, tmp_path, db=postgres_server.db_option(postgres_db), manifest=MANIFEST)
    assert proc.returncode == 2
    assert result["msg"] == (
        f"database {postgres_db} on {postgres_server.host}:{postgres_server.port} has no schema_migrations "
        "table: Discourse has never migrated it (or this is not the Discourse database)"
    )


def test_check_mode_reads_with_a_select_only_role_and_writes_nothing(
    ansible, postgres_server, postgres_db, tmp_path
):
    make_schema_migrations(postgres_server, postgres_db, PRE)
    postgres_server.query(
        "DO $$ BEGIN CREATE ROLE migration_reader LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    postgres_server.query(f"ALTER ROLE {READER} PASSWORD '{READER_PASSWORD}'")
    postgres_server.query(f"GRANT SELECT ON schema_migrations TO {READER}", postgres_db)
    db = dict(postgres_server.db_option(postgres_db), user=READER, password=READER_PASSWORD)
    before = postgres_server.query("SELECT version FROM schema_migrations ORDER BY version", postgres_db)

    result, proc = run_check(ansible, tmp_path, check_mode=True, db=db, manifest=MANIFEST)

    assert proc.returncode == 0, proc.stdout
    assert result["changed"] is False
    assert result["pending_post"] == POST
    assert (
        postgres_server.query("SELECT version FROM schema_migrations ORDER BY version", postgres_db) == before
    )
    # The password is no_log: neither the output nor the recorded invocation shows it.
    assert READER_PASSWORD not in proc.stdout + proc.stderr
    assert result["invocation"]["module_args"]["db"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    postgres_server.query(f"REVOKE SELECT ON schema_migrations FROM {READER}", postgres_db)


def test_a_wrong_password_fails_without_showing_it(ansible, postgres_server, postgres_db, tmp_path):
    make_schema_migrations(postgres_server, postgres_db, PRE)
    db = dict(postgres_server.db_option(postgres_db), password="not-the-password-1234")
    result, proc = run_check(ansible, tmp_path, db=db, manifest=MANIFEST)
    assert proc.returncode == 2
    assert result["msg"] == (
        f"cannot connect to database {postgres_db} on {postgres_server.host}:{postgres_server.port}: "
        f'connection to server at "{postgres_server.host}", port {postgres_server.port} failed: '
        f'FATAL:  password authentication failed for user "{postgres_server.user}"'
    )
    assert "not-the-password-1234" not in proc.stdout + proc.stderr
