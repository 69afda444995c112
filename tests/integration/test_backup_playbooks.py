"""playbooks/backup.yml, restore.yml and restore_drill.yml with the logical method, for real.

A site whose database is on the real PostgreSQL 18 server and whose backups bucket is on the real
S3 server (moto) is backed up with playbooks/backup.yml; restore_drill.yml restores the newest
backup into a throwaway database, verifies it and drops it; restore.yml restores it into a new
database only when confirmed.
"""

import gzip

import pytest

from tests.fixtures import discourse_archives
from tests.fixtures.backup_db import (
    BUCKET,
    NEWEST,
    READONLY_COLUMN,
    bucket_keys,
    corrupt,
    debug_report,
    drill_inventory,
    failed_msg,
    fingerprint,
    public_tables,
    restore_inventory,
    run_playbook,
)

pytestmark = [pytest.mark.postgres, pytest.mark.s3]


def test_backup_then_drill_restores_verifies_and_drops_the_drill_database(
    ansible, tmp_path, postgres_server, s3_server, site_db
):
    inv = drill_inventory(tmp_path, postgres_server, s3_server, site_db)
    made = run_playbook(ansible, "playbooks/backup.yml", inv)
    assert made.returncode == 0, made.stdout[-3000:]
    report = debug_report(made.stdout)
    assert report["method"] == "logical"
    assert report["schema_version"] == NEWEST
    assert report["key"].startswith("default/forum-example-com-")

    drill = run_playbook(ansible, "playbooks/restore_drill.yml", inv)
    assert drill.returncode == 0, drill.stdout[-3000:]
    result = debug_report(drill.stdout)
    counts = {t: fingerprint(postgres_server, site_db)[t][0] for t in ("users", "topics", "posts")}
    assert result["key"] == report["key"]
    assert result["sha256"] == report["sha256"]
    assert result["sha256_verified"] is True
    assert result["schema_version"] == NEWEST
    assert result["tables"] == 4
    assert result["rows"] == counts == {"users": 500, "topics": 1000, "posts": 4000}
    assert result["kept"] is False
    leftovers = postgres_server.query(
        "SELECT datname FROM pg_database WHERE datname ~ %s", args=("_drill_[0-9]{14}$",)
    )
    assert leftovers == []


def test_drill_restores_discourses_own_tar_with_a_read_only_trigger(
    ansible, tmp_path, postgres_server, s3_server, site_db
):
    """The newest backup is one Discourse wrote: the .tar of a directory-format dump (creator.rb at
    7e1a51f603485d66988b3b65a7e51cddfefa4cf8), of a database with a read-only column trigger whose
    function is in schema discourse_functions (lib/migration/base_dropper.rb). It has no sha256, so
    the drill loads it only with discourse_backup_logical_allow_unverified."""
    postgres_server.query(READONLY_COLUMN, site_db)
    data = discourse_archives.creator_tar(
        postgres_server, site_db, tmp_path / "made", {"original/1X/a.png": b"png"}
    )
    key = f"default/forum-example-com-2026-12-03-101500-v2026-1-0-latest-{NEWEST}.tar"
    s3_server.client().put_object(Bucket=BUCKET, Key=key, Body=data)

    refused = run_playbook(
        ansible, "playbooks/restore_drill.yml", drill_inventory(tmp_path, postgres_server, s3_server, site_db)
    )
    assert refused.returncode != 0
    assert f"{key} has no sha256 metadata: refusing to restore an unverifiable backup" in refused.stdout

    inv = drill_inventory(
        tmp_path, postgres_server, s3_server, site_db, discourse_backup_logical_allow_unverified=True
    )
    drill = run_playbook(ansible, "playbooks/restore_drill.yml", inv)
    assert drill.returncode == 0, drill.stdout[-3000:]
    result = debug_report(drill.stdout)
    assert (result["key"], result["kind"], result["sha256_verified"]) == (key, "tar", False)
    assert result["schema_version"] == NEWEST
    assert result["rows"] == {"users": 500, "topics": 1000, "posts": 4000}
    leftovers = postgres_server.query(
        "SELECT datname FROM pg_database WHERE datname ~ %s", args=("_drill_[0-9]{14}$",)
    )
    assert leftovers == []


def test_restore_playbook_needs_confirmation_then_backs_up_and_restores_into_a_new_database(
    ansible, tmp_path, postgres_server, s3_server, site_db, restore_target
):
    inv = restore_inventory(tmp_path, postgres_server, s3_server, site_db, restore_target)
    made = run_playbook(ansible, "playbooks/backup.yml", inv)
    assert made.returncode == 0, made.stdout[-3000:]
    backup_key = debug_report(made.stdout)["key"]

    refused = run_playbook(ansible, "playbooks/restore.yml", inv)
    assert refused.returncode != 0
    assert "run playbooks/restore.yml with -e discourse_restore_confirm=true" in refused.stdout
    assert public_tables(postgres_server, restore_target) == 0
    assert bucket_keys(s3_server) == [backup_key]  # refused before anything, the backup first included

    restored = run_playbook(ansible, "playbooks/restore.yml", inv, "-e", "discourse_restore_confirm=true")
    assert restored.returncode == 0, restored.stdout[-3000:]
    report = debug_report(restored.stdout)
    assert (report["database"], report["schema_version"], report["tables"]) == (restore_target, NEWEST, 4)
    assert report["key"] == backup_key
    assert fingerprint(postgres_server, restore_target) == fingerprint(postgres_server, site_db)
    # The site's database was backed up first, under a name `latest` never picks.
    before = report["backup_before"]["key"]
    assert before.startswith("default/forum-example-com-before-restore-"), before
    assert bucket_keys(s3_server) == sorted([backup_key, before])


def fail_halfway(s3, key):
    """Put a statement that fails after the users' data, as Discourse's own unverified backup."""
    client = s3.client()
    sql = gzip.decompress(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    first_copy_end = sql.index(b"\n\\.\n") + 4
    broken = sql[:first_copy_end] + b"INSERT INTO no_such_table VALUES (1);\n" + sql[first_copy_end:]
    client.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(broken))


@pytest.mark.parametrize(
    ("damage", "extra", "message"),
    [
        (corrupt, {}, "sha256 mismatch"),
        (None, {"discourse_backup_target_schema_version": "20250115093000"}, "is newer than the target's"),
        (
            fail_halfway,
            {"discourse_backup_logical_allow_unverified": True},
            'relation "no_such_table" does not exist',
        ),
    ],
    ids=["corrupted-archive", "newer-schema", "load-fails-halfway"],
)
def test_a_failed_restore_leaves_the_site_database_and_the_target_as_they_were(
    ansible, tmp_path, postgres_server, s3_server, site_db, restore_target, damage, extra, message
):
    """The logical restore loads into a new database in one transaction
    (psql --single-transaction, ON_ERROR_STOP): the site's own database is never written, and the
    target has no table after any failure."""
    inv = restore_inventory(tmp_path, postgres_server, s3_server, site_db, restore_target, **extra)
    made = run_playbook(ansible, "playbooks/backup.yml", inv)
    assert made.returncode == 0, made.stdout[-3000:]
    if damage is not None:
        damage(s3_server, debug_report(made.stdout)["key"])
    site_before = fingerprint(postgres_server, site_db)

    failed = run_playbook(ansible, "playbooks/restore.yml", inv, "-e", "discourse_restore_confirm=true")

    assert failed.returncode != 0
    assert message in failed_msg(failed.stdout)
    assert fingerprint(postgres_server, site_db) == site_before
    assert public_tables(postgres_server, restore_target) == 0
