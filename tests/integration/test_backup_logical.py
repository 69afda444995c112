"""The `logical` backup method end to end: real PostgreSQL 18, a real S3 server (moto), ansible-playbook.

A database with a Discourse-like schema (schema_migrations, users, topics, posts with hstore and
trigram indexes) and a few thousand rows is backed up with forumops.discourse.logical_backup and
restored with forumops.discourse.logical_restore into a fresh database; every table's content, the
sequences and the indexes must be identical. A corrupted object and a backup newer than the
target's schema are refused before anything is loaded.
"""

import gzip
import hashlib
import re

import pytest

from tests.fixtures.backup_db import (
    BUCKET,
    NEWEST,
    READONLY_COLUMN,
    SITE,
    TABLES,
    TRIGGERS_SQL,
    VERSIONS,
    fingerprint,
    fresh_database,
    run,
    run_backup,
    run_restore,
    s3_args,
)
from tests.fixtures.postgres import DEBIAN_BIN_DIRS, DEBIAN_MAJORS, WHEEL_MAJOR, client_major_for

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

DISCOURSE_NAME_RE = re.compile(r"\Aforum-example-com-\d{4}-\d{2}-\d{2}-\d{6}-v(\d{14})\.sql\.gz\Z")


def backup(ansible, tmp_path, server, s3, dbname):
    result, proc = run_backup(ansible, tmp_path, s3, server.db_option(dbname), server.bin_dir)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return result


def assert_nothing_loaded(server, dbname):
    assert server.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", dbname) == [(0,)]


def test_backup_restores_into_a_fresh_database_with_identical_content(
    ansible, tmp_path, postgres_server, bucket, source_db, target_db
):
    made = backup(ansible, tmp_path, postgres_server, bucket, source_db)
    assert made["changed"] is True
    assert made["schema_version"] == NEWEST
    assert made["key"] == "default/" + made["filename"]
    assert DISCOURSE_NAME_RE.match(made["filename"]).group(1) == NEWEST

    # The stored object: its recorded sha256 is the sha256 of its bytes, and it is a gzip of
    # plain SQL for schema public only, with no owners and no privileges.
    client = bucket.client()
    obj = client.get_object(Bucket=BUCKET, Key=made["key"])
    data = obj["Body"].read()
    assert obj["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest(), "pg-dump": made["pg_dump"]}
    assert made["pg_dump"].startswith("pg_dump (PostgreSQL) 18.")
    assert made["sha256"] == hashlib.sha256(data).hexdigest()
    assert made["size"] == len(data)
    assert data[:2] == b"\x1f\x8b"
    sql = gzip.decompress(data).decode()
    assert made["sql_bytes"] == len(sql.encode())
    assert sql.startswith("--\n-- PostgreSQL database dump\n")
    assert " OWNER TO " not in sql
    assert not re.search(r"^(GRANT|REVOKE) ", sql, re.M)
    created = re.findall(r"^CREATE TABLE (\S+) \(", sql, re.M)
    assert sorted(created) == sorted(f"public.{table}" for table in TABLES)
    assert re.findall(r"^CREATE SCHEMA (\S+);", sql, re.M) == ["public"]
    assert "CREATE EXTENSION" not in sql  # extensions belong to the server set-up, as in Discourse
    assert sql.count("\nCOPY public.") == len(TABLES)

    restored, proc = run_restore(ansible, tmp_path, postgres_server, bucket, target_db, key=made["key"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert restored["changed"] is True
    assert restored["verified"] is True
    assert restored["restored"] is True
    assert restored["sha256"] == made["sha256"]
    assert restored["restored_version"] == NEWEST
    assert restored["tables"] == len(TABLES)
    key = re.search(r"^\\restrict (\w+)$", sql, re.M)[1]
    assert restored["dropped_statements"] == [
        f"\\restrict {key}",
        "SET transaction_timeout = 0;",
        "CREATE SCHEMA public;",
        "COMMENT ON SCHEMA public IS 'standard public schema';",
        "SET default_table_access_method = heap;",
        f"\\unrestrict {key}",
    ]
    source = fingerprint(postgres_server, source_db)
    assert source["users"][0] == 500
    assert source["topics"][0] == 1000
    assert source["posts"][0] == 4000
    assert fingerprint(postgres_server, target_db) == source


def test_corrupted_backup_is_refused_and_nothing_is_loaded(
    ansible, tmp_path, postgres_server, bucket, source_db, target_db
):
    made = backup(ansible, tmp_path, postgres_server, bucket, source_db)
    client = bucket.client()
    original = client.get_object(Bucket=BUCKET, Key=made["key"])["Body"].read()
    # A valid gzip of valid SQL that differs by one row, stored with the original's checksum.
    altered = gzip.compress(gzip.decompress(original).replace(b"user17@example.com", b"evil17@example.com"))
    assert altered != original
    client.put_object(Bucket=BUCKET, Key=made["key"], Body=altered, Metadata={"sha256": made["sha256"]})

    refused, proc = run_restore(ansible, tmp_path, postgres_server, bucket, target_db, key=made["key"])
    assert proc.returncode != 0
    assert refused["failed"] is True
    assert refused["msg"] == (
        f"{made['key']}: sha256 mismatch (object {hashlib.sha256(altered).hexdigest()}, recorded "
        f"{made['sha256']}); the backup is corrupt or was altered - refused, nothing was loaded"
    )
    assert refused["restored"] is False
    assert_nothing_loaded(postgres_server, target_db)


def test_backup_newer_than_the_target_schema_is_refused(
    ansible, tmp_path, postgres_server, bucket, source_db, target_db
):
    made = backup(ansible, tmp_path, postgres_server, bucket, source_db)
    older = VERSIONS[1]
    # The target image's build manifest knows migrations up to VERSIONS[1] only.
    manifest = {"migrations": {"pre": VERSIONS[:1], "post": [older]}}
    refused, proc = run_restore(
        ansible, tmp_path, postgres_server, bucket, target_db, key=made["key"], manifest=manifest
    )
    assert proc.returncode != 0
    assert refused["msg"] == (
        f"the backup's schema version {NEWEST} is newer than the target's {older}: restoring it would "
        "need migrations the target's image does not have. Upgrade the image first, or restore an "
        "older backup."
    )
    assert refused["restored"] is False
    assert_nothing_loaded(postgres_server, target_db)


def test_list_is_newest_first_and_latest_restores_the_newest(
    ansible, tmp_path, postgres_server, bucket, source_db, target_db
):
    made = backup(ansible, tmp_path, postgres_server, bucket, source_db)
    client = bucket.client()
    # An older backup of the same site, a backup of another site and a file that is no backup.
    older_key = "default/forum-example-com-2020-01-01-000000-v20240101000000.sql.gz"
    client.copy_object(Bucket=BUCKET, Key=older_key, CopySource={"Bucket": BUCKET, "Key": made["key"]})
    client.put_object(
        Bucket=BUCKET, Key="default/other-site-2030-01-01-000000-v20250301120000.sql.gz", Body=b"x"
    )
    client.put_object(Bucket=BUCKET, Key="default/notes.txt", Body=b"x")

    listed, proc = run(ansible, tmp_path, "logical_backup", mode="list", site=SITE, s3=s3_args(bucket))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert listed["changed"] is False
    assert [entry["key"] for entry in listed["backups"]] == [made["key"], older_key]
    assert listed["backups"][1]["version"] == "20240101000000"
    assert listed["backups"][1]["timestamp"] == "2020-01-01T00:00:00+00:00"

    verified, proc = run(
        ansible,
        tmp_path,
        "logical_restore",
        latest=True,
        site=SITE,
        db=postgres_server.db_option(target_db),
        s3=s3_args(bucket),
        target_version=NEWEST,
        verify_only=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (verified["key"], verified["verified"], verified["restored"]) == (made["key"], True, False)
    assert verified["changed"] is False


def test_failed_pg_dump_leaves_no_object(ansible, tmp_path, postgres_server, bucket, source_db):
    # A role that can read schema_migrations (so the version is known) but not the users table.
    role, password = "backup_reader", "reader-password-0815"  # test-only role on a loopback server
    postgres_server.query(f"DROP ROLE IF EXISTS {role}")
    postgres_server.query(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        postgres_server.query(f"GRANT SELECT ON schema_migrations, topics, posts TO {role}", source_db)
        db = dict(postgres_server.db_option(source_db), user=role, password=password)
        failed, proc = run_backup(ansible, tmp_path, bucket, db, postgres_server.bin_dir)
        assert proc.returncode != 0
        assert failed["msg"].startswith("pg_dump exited with status 1: ")
        assert "permission denied for table users" in failed["msg"]
        assert bucket.client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    finally:
        postgres_server.query(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}", source_db)
        postgres_server.query(f"DROP ROLE IF EXISTS {role}")


# Migration::BaseDropper.create_readonly_function and ColumnDropper.mark_readonly as upstream runs
# them (discourse/discourse lib/migration/base_dropper.rb 02b45d2056886808d520bdb11f6a1d2cdc40d2fd,
# lib/migration/column_dropper.rb 07189971705e53768525871c3fc838cb2330d027).
def test_a_read_only_column_trigger_and_its_discourse_function_survive_the_restore(
    ansible, tmp_path, postgres_server, bucket, source_db, target_db
):
    """Upstream's DatabaseRestorer#create_missing_discourse_functions (lib/backup_restore/
    database_restorer.rb 294ca33bde83e4a1dd28cc2cf6566a9ee890386e) creates the functions before
    loading; the dump of schema public references them from its triggers."""
    postgres_server.query(READONLY_COLUMN, source_db)
    made = backup(ansible, tmp_path, postgres_server, bucket, source_db)
    sql = gzip.decompress(bucket.client().get_object(Bucket=BUCKET, Key=made["key"])["Body"].read()).decode()
    assert "EXECUTE FUNCTION discourse_functions.raise_topics_legacy_views_readonly()" in sql
    assert "CREATE FUNCTION" not in sql  # the dump has the trigger, not the function

    restored, proc = run_restore(ansible, tmp_path, postgres_server, bucket, target_db, key=made["key"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert restored["created_functions"] == ["discourse_functions.raise_topics_legacy_views_readonly()"]
    assert fingerprint(postgres_server, target_db) == fingerprint(postgres_server, source_db)
    triggers = postgres_server.query(TRIGGERS_SQL, target_db)
    assert triggers == postgres_server.query(TRIGGERS_SQL, source_db)
    assert [name for name, _definition in triggers] == ["topics_legacy_views_readonly"]
    # and the column is read-only again
    with pytest.raises(Exception, match="Discourse: legacy_views in topics is readonly"):
        postgres_server.query("UPDATE topics SET legacy_views = 1 WHERE id = 1", target_db)


# The wheel's PostgreSQL 18 and each major of Debian's here (15 on Debian 12, 17 from Debian 13).
TARGET_MAJORS = sorted({WHEEL_MAJOR, *DEBIAN_MAJORS})


@pytest.mark.parametrize("major", TARGET_MAJORS)
def test_a_pg_dump_18_backup_restores_into_each_major_here(
    ansible, tmp_path, postgres_server, debian_postgres, bucket, source_db, major
):
    """pg_dump 18 frames its output with \\restrict/\\unrestrict and sets transaction_timeout, which
    PostgreSQL before 17 rejects. The restore picks its psql as upstream's PostgresTools.find does
    (lib/backup_restore/postgres_tools.rb 86159e6bb7278cefdf10deb57ac823760bd4b2b1): the newest of the
    server's major or older; for Debian's server no pg_bin_dir is given, so the choice is real
    (Debian 13's 17 runs chrooted: its psql is this machine's newest not newer, 15)."""
    made = backup(ansible, tmp_path, postgres_server, bucket, source_db)
    sql = gzip.decompress(bucket.client().get_object(Bucket=BUCKET, Key=made["key"])["Body"].read()).decode()
    assert re.search(r"^\\restrict \w+$", sql, re.M)
    assert "\nSET transaction_timeout = 0;\n" in sql
    server = postgres_server if major == 18 else debian_postgres(major)
    target = fresh_database(server, f"restored_from_18_into_{major}")

    restored, proc = run_restore(
        ansible, tmp_path, server, bucket, target, key=made["key"], server_bin_dir=major == 18
    )

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert restored["psql"].startswith(f"psql (PostgreSQL) {client_major_for(major)}."), restored["psql"]
    assert server.query("SHOW server_version_num")[0][0].startswith(str(major))
    assert fingerprint(server, target) == fingerprint(postgres_server, source_db)


@pytest.mark.parametrize("major", sorted(m for m in DEBIAN_BIN_DIRS if m < 18))
def test_a_pg_dump_older_than_the_server_is_refused_naming_what_was_found(
    ansible, tmp_path, postgres_server, bucket, source_db, major
):
    """An older pg_dump aborts on a newer server; the backup says so before it starts, as
    PostgresTools.find does, and writes no object."""
    result, proc = run_backup(
        ansible, tmp_path, bucket, postgres_server.db_option(source_db), DEBIAN_BIN_DIRS[major]
    )

    assert proc.returncode == 2
    assert result["msg"] == (
        f"No compatible pg_dump for PostgreSQL 18: found pg_dump {major} ({DEBIAN_BIN_DIRS[major]}/pg_dump). "
        "Install the PostgreSQL 18 client tools or newer, or point pg_bin_dir at them."
    )
    assert bucket.client().list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
