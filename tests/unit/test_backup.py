"""plugins/module_utils/backup.py: Discourse's backup names, version rule, commands and streams."""

import gzip
import hashlib
import io
import shlex
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import backup
from ansible_collections.forumops.discourse.plugins.module_utils.migrations import ImageMigrations
from tests.fixtures.discourse_archives import PG_DUMP_SELECTION

UTC = timezone.utc  # noqa: UP017 - the module under test avoids datetime.UTC too


def test_parameterize_follows_rails():
    assert backup.parameterize("Forum.Example.com") == "forum-example-com"
    assert backup.parameterize("  Ünïcode Forum -- Test!! ") == "unicode-forum-test"
    with pytest.raises(backup.BackupError, match="no letters or digits"):
        backup.parameterize("!!!")


def test_build_filename_is_discourse_sql_only_name():
    when = datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)
    name = backup.build_filename("forum.example.com", when, "20250301093000")
    assert name == "forum-example-com-2025-03-01-120005-v20250301093000.sql.gz"
    # A timestamp in another zone is written in UTC.
    other = when.astimezone(timezone(timedelta(hours=2)))
    assert backup.build_filename("forum.example.com", other, 20250301093000) == name
    # Discourse's MetaDataHandler and S3 listing rules accept it.
    assert backup.discourse_version(name) == "20250301093000"
    assert backup.listed_by_discourse("default/" + name)
    assert not backup.listed_by_discourse("other/" + name)
    assert not backup.listed_by_discourse("default/sub/" + name)


def test_build_filename_rejects_a_bad_version():
    with pytest.raises(backup.BackupError, match="'2025' is not a 14-digit migration version"):
        backup.build_filename("site", datetime(2025, 1, 1, tzinfo=UTC), "2025")


def test_parse_filename_round_trips_and_rejects_other_names():
    info = backup.parse_filename("default/forum-example-com-2025-03-01-120005-v20250301093000.sql.gz")
    assert info == {
        "filename": "forum-example-com-2025-03-01-120005-v20250301093000.sql.gz",
        "prefix": "forum-example-com",
        "timestamp": datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
        "version": "20250301093000",
        "kind": "sql.gz",
        "discourse": None,
    }
    assert backup.parse_filename("x-2025-03-01-120005-v20250301093000.tar.gz")["kind"] == "tar.gz"
    for bad in (
        "forum-2025-03-01-120005-v2025030109300.sql.gz",  # 13 digits
        "forum-2025-03-01-120005.sql.gz",  # no version
        "forum-2025-03-01-120005-v20250301093000.sql",  # not gzip
        "Forum-2025-03-01-120005-v20250301093000.sql.gz",  # not parameterized
        "forum-2025-03-01-120005-v20250301093000.tar",  # a .tar names the Discourse version too
        "forum-2025-03-01-120005-v2026-1-0-2025030109300.tar",  # 13 digits
        "forum-2025-03-01-120005-v2026-1-0-20250301093000.tar.gz",  # 2026 names are plain tars
    ):
        with pytest.raises(backup.BackupError, match="is not a Discourse backup file name"):
            backup.parse_filename(bad)
    with pytest.raises(backup.BackupError, match="2025-13-01-120005 is not a date and time"):
        backup.parse_filename("forum-2025-13-01-120005-v20250301093000.sql.gz")


def test_parse_filename_reads_the_2026_creators_tar_name():
    """Creator#initialize_state (discourse/discourse lib/backup_restore/creator.rb at
    7e1a51f603485d66988b3b65a7e51cddfefa4cf8): "#{filename}-v#{Discourse::VERSION::STRING.tr(".", "-")}
    -#{BackupRestore.current_database_version}.tar"."""
    name = "forum-example-com-2026-12-03-101500-v2026-1-0-latest-20261120080000.tar"
    assert backup.parse_filename("default/" + name) == {
        "filename": name,
        "prefix": "forum-example-com",
        "timestamp": datetime(2026, 12, 3, 10, 15, 0, tzinfo=UTC),
        "version": "20261120080000",
        "kind": "tar",
        "discourse": "2026-1-0-latest",
    }
    assert backup.parse_filename("f-2026-12-03-101500-v3-5-0-beta8-dev-20250301093000.tar")["discourse"] == (
        "3-5-0-beta8-dev"
    )
    assert backup.discourse_version(name) == "20261120080000"
    assert backup.listed_by_discourse("default/" + name)
    assert backup.discourse_commands(filename=name)["restore"] == (
        f"discourse restore --no-disable-emails {name}"
    )


def test_sort_backups_picks_the_newest_of_every_kind():
    keys = [
        "default/forum-2026-11-01-000000-v20261001000000.sql.gz",
        "default/forum-2026-12-01-000000-v2026-1-0-latest-20261101000000.tar",
        "default/forum-2026-11-15-000000-v20261001000000.tar.gz",
    ]
    assert [b["kind"] for b in backup.sort_backups(keys, "forum")] == ["tar", "tar.gz", "sql.gz"]


def test_sort_backups_is_newest_first_for_one_site():
    keys = [
        "default/forum-2025-01-01-000000-v20240101000000.sql.gz",
        "default/forum-2025-03-01-000000-v20250101000000.sql.gz",
        "default/other-2026-01-01-000000-v20250101000000.sql.gz",
        "default/forum-2025-02-01-000000-v20250101000000.sql.gz",
        "default/readme.txt",
    ]
    assert [b["key"] for b in backup.sort_backups(keys, "Forum")] == [keys[1], keys[3], keys[0]]
    assert len(backup.sort_backups(keys)) == 4


def test_check_restorable_refuses_newer_backups_only():
    assert backup.check_restorable("20250101000000", "20250101000000") == (
        "backup and target are both at schema version 20250101000000"
    )
    assert backup.check_restorable("20240101000000", "20250101000000").startswith(
        "backup at schema version 20240101000000, target at 20250101000000"
    )
    with pytest.raises(backup.BackupError, match="20250101000001 is newer than the target's 20250101000000"):
        backup.check_restorable("20250101000001", "20250101000000")


def test_image_schema_version_is_the_newest_pre_or_post_migration():
    image = ImageMigrations(["20250101000000", "20250301000000"], ["20250201000000"], [])
    assert backup.image_schema_version(image) == "20250301000000"
    with pytest.raises(backup.BackupError, match="lists no migrations"):
        backup.image_schema_version(ImageMigrations([], [], []))


def test_pg_dump_and_psql_commands_match_discourse_flags_without_passwords():
    dump = backup.pg_dump_command("pg_dump", "db.ns.svc", 5432, "discourse", "discourse")
    # discourse/discourse lib/backup_restore/creator.rb (260fbe3861c2b698d999e36c1d8e7206b64cd543)
    # pg_dump_command: -T public.pg_* and the data of the nested hot-score caches are left out.
    assert dump == [
        "pg_dump",
        *PG_DUMP_SELECTION,
        "--format=plain",
        "--host=db.ns.svc",
        "--port=5432",
        "--username=discourse",
        "--dbname=discourse",
    ]
    psql = backup.psql_restore_command("psql", "h", "5433", "u", "d")
    assert psql == [
        "psql",
        "--no-psqlrc",
        "--quiet",
        "--single-transaction",
        "--variable=ON_ERROR_STOP=1",
        "--host=h",
        "--port=5433",
        "--username=u",
        "--dbname=d",
    ]
    assert backup.libpq_env("s3cret", "require", base={"PATH": "/bin"}) == {
        "PATH": "/bin",
        "PGPASSWORD": "s3cret",
        "PGSSLMODE": "require",
    }


def test_discourse_method_commands_as_data():
    commands = backup.discourse_commands(
        filename="default/forum-2025-03-01-120005-v20250301093000.tar.gz",
        sql_only=False,
        s3_uploads=True,
        backup_name="forum-2025-03-01-120005",
    )
    assert commands == {
        "backup": "discourse backup --s3-uploads forum-2025-03-01-120005",
        "list": "discourse restore",
        "enable_restore": "discourse enable_restore",
        # script/discourse (f67af10342321ecf82e0024243b748ea34bf22c7): restore has
        # `option :disable_emails, type: :boolean, default: true`; Thor's --no- form turns it off.
        "restore": "discourse restore --no-disable-emails forum-2025-03-01-120005-v20250301093000.tar.gz",
        "disable_restore": "discourse disable_restore",
    }
    assert backup.discourse_commands()["backup"] == "discourse backup --sql-only"
    # k8s_exec splits its command with shlex: each is one argv.
    assert shlex.split(commands["restore"]) == [
        "discourse",
        "restore",
        "--no-disable-emails",
        "forum-2025-03-01-120005-v20250301093000.tar.gz",
    ]
    # Asked for (a copy of the site): Discourse's own default.
    assert (
        backup.discourse_commands(filename="f-2025-03-01-120005-v20250301093000.sql.gz", disable_emails=True)[
            "restore"
        ]
        == "discourse restore f-2025-03-01-120005-v20250301093000.sql.gz"
    )
    with pytest.raises(backup.BackupError, match="Discourse restores only files named"):
        backup.discourse_commands(filename="dump.sql")
    with pytest.raises(backup.BackupError, match="must be letters, digits"):
        backup.discourse_commands(backup_name="x; rm -rf /")


def test_gzip_hashing_reader_streams_one_gzip_member_and_hashes_what_it_hands_out():
    raw = b"".join(b"row %d\n" % i for i in range(200_000))
    calls = []
    reader = backup.GzipHashingReader(io.BytesIO(raw), chunk_size=4096, on_eof=lambda: calls.append(1))
    parts = []
    while True:
        part = reader.read(10_000)
        if not part:
            break
        assert len(part) <= 10_000
        parts.append(part)
    data = b"".join(parts)
    assert gzip.decompress(data) == raw
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()
    assert (reader.raw_bytes, reader.compressed_bytes, calls) == (len(raw), len(data), [1])


def test_gzip_hashing_reader_propagates_a_failure_at_the_end_of_the_stream():
    def fail():
        raise backup.BackupError("pg_dump exited with status 1")

    reader = backup.GzipHashingReader(io.BytesIO(b"partial"), on_eof=fail)
    with pytest.raises(backup.BackupError, match="status 1"):
        reader.read(1 << 20)


def filtered(dump, size):
    """The filter's output for the dump fed in chunks of ``size`` bytes, and the filter."""
    sql_filter = backup.SqlHeaderFilter()
    out = b"".join(sql_filter.feed(dump[i : i + size]) for i in range(0, len(dump), size))
    return out + sql_filter.flush(), sql_filter


@pytest.mark.parametrize(
    ("dump", "kept", "dropped"),
    [
        pytest.param(
            b"SET client_encoding = 'UTF8';\n"
            b"CREATE SCHEMA public;\n"
            b"COMMENT ON SCHEMA public IS 'standard public schema';\n"
            b"SET default_table_access_method = heap;\n"
            b"CREATE TABLE public.t (x text);\n"
            b"COPY public.t (x) FROM stdin;\n"
            b"CREATE SCHEMA looks like SQL but is data\n"
            b"\\.\n",
            b"SET client_encoding = 'UTF8';\n"
            b"CREATE TABLE public.t (x text);\n"
            b"COPY public.t (x) FROM stdin;\n"
            b"CREATE SCHEMA looks like SQL but is data\n"
            b"\\.\n",
            [
                "CREATE SCHEMA public;",
                "COMMENT ON SCHEMA public IS 'standard public schema';",
                "SET default_table_access_method = heap;",
            ],
            id="schema-statements-only-before-the-first-copy",
        ),
        # pg_dump 18's frame: \restrict <key> first, SET transaction_timeout (PostgreSQL 17+) among the
        # SETs, COMMENT ON EXTENSION (owner only) after CREATE EXTENSION, \unrestrict <key> last. A COPY
        # row cannot begin with \unrestrict: COPY doubles backslashes.
        pytest.param(
            b"\\restrict Ab12\n"
            b"SET statement_timeout = 0;\n"
            b"SET transaction_timeout = 0;\n"
            b"CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;\n"
            b"COMMENT ON EXTENSION hstore IS 'data type for storing sets of (key, value) pairs';\n"
            b"CREATE TABLE public.t (x text);\n"
            b"COPY public.t (x) FROM stdin;\n"
            b"\\\\unrestrict in the data\n"
            b"\\.\n"
            b"CREATE INDEX t_x ON public.t USING btree (x);\n"
            b"\\unrestrict Ab12\n",
            b"SET statement_timeout = 0;\n"
            b"CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;\n"
            b"CREATE TABLE public.t (x text);\n"
            b"COPY public.t (x) FROM stdin;\n"
            b"\\\\unrestrict in the data\n"
            b"\\.\n"
            b"CREATE INDEX t_x ON public.t USING btree (x);\n",
            [
                "\\restrict Ab12",
                "SET transaction_timeout = 0;",
                "COMMENT ON EXTENSION hstore IS 'data type for storing sets of (key, value) pairs';",
                "\\unrestrict Ab12",
            ],
            id="what-a-newer-pg-dump-writes-and-an-older-server-refuses",
        ),
    ],
)
def test_sql_header_filter_drops_what_the_restore_must_not_run(dump, kept, dropped):
    for size in (1, 7, 9, 64, len(dump)):
        out, sql_filter = filtered(dump, size)
        assert out == kept, size
        assert sql_filter.dropped == dropped, size


@pytest.mark.parametrize(
    ("command", "server", "expected"),
    [
        ("pg_dump", 15, "/usr/lib/postgresql/15/bin/pg_dump"),
        ("pg_dump", 16, "/opt/pg18/pg_dump"),
        ("psql", 16, "/usr/lib/postgresql/15/bin/psql"),
        ("psql", 18, "/opt/pg18/psql"),
    ],
)
def test_the_client_fits_the_server_as_upstream_picks_it(command, server, expected):
    """discourse/discourse lib/backup_restore/postgres_tools.rb (86159e6bb7278cefdf10deb57ac823760bd4b2b1):
    pg_dump of the server's major or newer, the oldest such; psql of the server's major or older,
    the newest such."""
    directories = {15: "/usr/lib/postgresql/15/bin", 18: "/opt/pg18"}
    candidates = [(f"{d}/{command}", major) for major, d in directories.items()]
    assert backup.select_pg_client(command, server, candidates) == expected


def test_no_fitting_client_names_what_was_found():
    with pytest.raises(backup.BackupError) as err:
        backup.select_pg_client("pg_dump", 18, [("/usr/bin/pg_dump", 15)])
    assert str(err.value) == (
        "No compatible pg_dump for PostgreSQL 18: found pg_dump 15 (/usr/bin/pg_dump). Install the "
        "PostgreSQL 18 client tools or newer, or point pg_bin_dir at them."
    )
    assert backup.client_major("pg_dump (PostgreSQL) 18.1") == 18
    assert backup.client_major("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)") == 15
    assert backup.client_major("not a client") is None


def test_sql_header_filter_creates_each_discourse_function_before_the_trigger_that_calls_it():
    """discourse/discourse lib/migration/base_dropper.rb (02b45d20) create_readonly_function and
    column_dropper.rb (07189971) mark_readonly; lib/backup_restore/database_restorer.rb (294ca33b)
    create_missing_discourse_functions runs before the dump is loaded. The trigger lines are
    pg_dump's (one line, schema-qualified)."""
    column_trigger = (
        b"CREATE TRIGGER topics_legacy_readonly BEFORE INSERT OR UPDATE OF legacy ON public.topics"
        b" FOR EACH ROW WHEN ((new.legacy IS NOT NULL))"
        b" EXECUTE FUNCTION discourse_functions.raise_topics_legacy_readonly();\n"
    )
    table_trigger = (
        b"CREATE TRIGGER old_things_readonly BEFORE INSERT OR DELETE OR UPDATE ON public.old_things FOR EACH"
        b" STATEMENT EXECUTE FUNCTION discourse_functions.raise_old_things_readonly();\n"
    )
    dump = b"COPY public.topics (id) FROM stdin;\n1\n\\.\n" + column_trigger + table_trigger
    for size in (5, 64, len(dump)):
        out, sql_filter = filtered(dump, size)
        assert out == (
            b"COPY public.topics (id) FROM stdin;\n1\n\\.\n"
            b"CREATE SCHEMA IF NOT EXISTS discourse_functions;\n"
            b"CREATE OR REPLACE FUNCTION discourse_functions.raise_topics_legacy_readonly()"
            b" RETURNS trigger AS $rcr$\n"
            b"  BEGIN\n"
            b"    RAISE EXCEPTION 'Discourse: legacy in topics is readonly';\n"
            b"  END\n"
            b"$rcr$ LANGUAGE plpgsql;\n"
            + column_trigger
            + b"CREATE SCHEMA IF NOT EXISTS discourse_functions;\n"
            b"CREATE OR REPLACE FUNCTION discourse_functions.raise_old_things_readonly()"
            b" RETURNS trigger AS $rcr$\n"
            b"  BEGIN\n"
            b"    RAISE EXCEPTION 'Discourse: old_things is read only';\n"
            b"  END\n"
            b"$rcr$ LANGUAGE plpgsql;\n" + table_trigger
        ), size
        assert sql_filter.created == [
            "discourse_functions.raise_topics_legacy_readonly()",
            "discourse_functions.raise_old_things_readonly()",
        ]


def test_the_stream_writes_gzip_that_gunzip_reads_whichever_compressor_is_installed():
    """ISA-L (isal, a runtime requirement) or zlib: one gzip member either way, which Discourse's
    restore (gunzip) and Python's gzip read; each zlib level maps to an ISA-L level 0-3."""
    data = b"".join(b"COPY row %d\twith tab and text\n" % i for i in range(50_000))
    for level in range(10):
        compressor = backup.gzip_compressor(level)
        packed = compressor.compress(data) + compressor.flush()
        assert gzip.decompress(packed) == data, level
        decompressor = backup.gzip_decompressor()
        assert decompressor.decompress(packed) == data and decompressor.eof, level
    assert backup.isal_zlib is not None  # installed by make setup, so the fast path is the tested one
    assert backup.ISAL_LEVELS[backup.DEFAULT_COMPRESSION_LEVEL] == 1
    with pytest.raises(backup.GZIP_ERRORS):
        backup.gzip_decompressor().decompress(b"not gzip at all")
