"""Every kind of backup file Discourse writes restores with forumops.discourse.logical_restore.

The files are made from a real PostgreSQL 18 database with a Discourse-shaped schema (and a
read-only column trigger whose function lives in schema discourse_functions, as
lib/migration/base_dropper.rb makes them) by following upstream's creators
(tests/fixtures/discourse_archives.py): the SQL-only .sql.gz and the .tar.gz with uploads of
lib/backup_restore/creator.rb at b740c22bd11cbe2d309be1dde9eebbbba3ef33d1, and the .tar of a
directory-format dump written by upstream's ArchiveWriter as creator.rb at
7e1a51f603485d66988b3b65a7e51cddfefa4cf8 writes it. They carry no sha256 metadata, as Discourse's own
backups do not, so the restores pass allow_unverified.
"""

import os

import pytest

from tests.fixtures import discourse_archives
from tests.fixtures.ansible import ansible_env
from tests.fixtures.backup_db import (
    BUCKET,
    NEWEST,
    READONLY_COLUMN,
    TRIGGERS_SQL,
    fingerprint,
    fresh_database,
    run,
    run_restore,
    s3_args,
)
from tests.fixtures.postgres import DEBIAN_MAJORS, WHEEL_MAJOR, client_major_for

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

UPLOADS = {
    "original/1X/0123456789abcdef0123456789abcdef01234567.png": b"\x89PNG fake image",
    "original/1X/fedcba9876543210fedcba9876543210fedcba98.txt": b"an attachment",
    "optimized/1X/0123456789abcdef0123456789abcdef01234567_2_10x10.png": b"a thumbnail",  # left out
}
STAMP = "2026-12-03-101500"
NAMES = {
    "sql.gz": f"forum-example-com-{STAMP}-v{NEWEST}.sql.gz",
    "tar.gz": f"forum-example-com-{STAMP}-v{NEWEST}.tar.gz",
    "tar": f"forum-example-com-{STAMP}-v2026-1-0-latest-{NEWEST}.tar",
}


def make(kind, server, dbname, work):
    if kind == "sql.gz":
        return discourse_archives.sql_gz(server, dbname, work)
    if kind == "tar.gz":
        return discourse_archives.tar_gz(server, dbname, work, UPLOADS)
    return discourse_archives.creator_tar(server, dbname, work, UPLOADS)


def put(s3, name, data):
    key = f"default/{name}"
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=data)
    return key


def restore(*args, **options):
    """run_restore of a backup that carries no schema version to check (allow_unverified)."""
    return run_restore(*args, allow_unverified=True, **options)


@pytest.fixture
def readonly_source(source_db, postgres_server):
    postgres_server.query(READONLY_COLUMN, source_db)
    return source_db


@pytest.mark.parametrize("kind", ["sql.gz", "tar.gz", "tar"])
def test_each_kind_restores_every_table_and_the_read_only_trigger(
    ansible, tmp_path, postgres_server, bucket, readonly_source, target_db, kind
):
    data = make(kind, postgres_server, readonly_source, tmp_path / "made")
    key = put(bucket, NAMES[kind], data)

    restored, proc = restore(ansible, tmp_path, postgres_server, bucket, target_db, key=key)

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert restored["kind"] == kind
    assert restored["schema_version"] == NEWEST
    # The thumbnail is left out by the creator; the two originals are in the archive, not restored.
    assert restored["uploads_skipped"] == {"sql.gz": 0, "tar.gz": 2, "tar": 2}[kind]
    assert restored["created_functions"] == ["discourse_functions.raise_topics_legacy_views_readonly()"]
    assert fingerprint(postgres_server, target_db) == fingerprint(postgres_server, readonly_source)
    assert postgres_server.query(TRIGGERS_SQL, target_db) == postgres_server.query(
        TRIGGERS_SQL, readonly_source
    )
    if kind == "tar":
        assert restored["pg_restore"].startswith("pg_restore (PostgreSQL) 18."), restored["pg_restore"]


def test_latest_picks_the_newest_backup_whatever_its_kind(
    ansible, tmp_path, postgres_server, bucket, source_db, target_db
):
    put(
        bucket,
        f"forum-example-com-2026-11-01-000000-v{NEWEST}.sql.gz",
        make("sql.gz", postgres_server, source_db, tmp_path / "a"),
    )
    put(
        bucket,
        f"forum-example-com-2026-11-15-000000-v{NEWEST}.tar.gz",
        make("tar.gz", postgres_server, source_db, tmp_path / "b"),
    )
    newest = put(
        bucket,
        f"forum-example-com-2026-12-01-000000-v2026-1-0-latest-{NEWEST}.tar",
        make("tar", postgres_server, source_db, tmp_path / "c"),
    )

    listed, proc = run(
        ansible, tmp_path, "logical_backup", mode="list", site="Forum.Example.com", s3=s3_args(bucket)
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert [b["kind"] for b in listed["backups"]] == ["tar", "tar.gz", "sql.gz"]

    restored, proc = restore(
        ansible, tmp_path, postgres_server, bucket, target_db, latest=True, site="Forum.Example.com"
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert restored["key"] == newest
    assert fingerprint(postgres_server, target_db) == fingerprint(postgres_server, source_db)


@pytest.mark.parametrize("major", [m for m in DEBIAN_MAJORS if m < WHEEL_MAJOR])
def test_a_pg_dump_18_directory_archive_restores_into_an_older_major(
    ansible, tmp_path, postgres_server, debian_postgres, bucket, source_db, major
):
    """pg_restore 18 reads the archive (archive version 1.16, which older pg_restore refuses) and
    writes SQL; psql of the server's major loads it through the same filter as a plain dump. Both
    are picked by the module from Debian's directories and PATH (PostgreSQL 18's last on it)."""
    key = put(bucket, NAMES["tar"], make("tar", postgres_server, source_db, tmp_path / "made"))
    server = debian_postgres(major)
    target = fresh_database(server, f"tar_from_18_into_{major}")

    path = f"{ansible_env()['PATH']}{os.pathsep}{postgres_server.bin_dir}"

    restored, proc = restore(
        ansible, tmp_path, server, bucket, target, server_bin_dir=False, env={"PATH": path}, key=key
    )

    assert proc.returncode == 0, proc.stdout[-3000:]
    assert restored["psql"].startswith(f"psql (PostgreSQL) {client_major_for(major)}."), restored["psql"]
    assert restored["pg_restore"].startswith("pg_restore (PostgreSQL) 18."), restored["pg_restore"]
    assert fingerprint(server, target) == fingerprint(postgres_server, source_db)
