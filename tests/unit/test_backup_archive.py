"""plugins/module_utils/backup_archive.py: the dump inside each kind of Discourse backup file.

The .tar kind needs pg_restore and is tested on real PostgreSQL in
tests/integration/test_backup_formats.py; here the readers run on in-memory archives laid out as
upstream's creators lay them out (discourse/discourse lib/backup_restore/creator.rb at
b740c22bd11cbe2d309be1dde9eebbbba3ef33d1 and 7e1a51f603485d66988b3b65a7e51cddfefa4cf8).
"""

import gzip
import hashlib
import io
import tarfile

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import backup, backup_archive

SQL = b"SET statement_timeout = 0;\nCOPY public.users (id) FROM stdin;\n1\n\\.\n"


def tar_bytes(members, compress=False):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read(data, kind, chunk=7):
    """(SQL, uploads skipped, sha256 of the bytes read) of an archive given in small chunks."""
    digest = hashlib.sha256()
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    reader = backup_archive.ArchiveReader(backup_archive.HashingReader(chunks, digest), kind, "default/x")
    sql = b"".join(reader.sql())
    return sql, reader.uploads_skipped, digest.hexdigest()


def test_hashing_reader_hands_out_and_hashes_every_byte():
    digest = hashlib.sha256()
    reader = backup_archive.HashingReader([b"abc", b"", b"defgh"], digest)
    assert reader.read(2) == b"ab"
    assert reader.read(4) == b"cdef"
    reader.drain()
    assert reader.read(10) == b""
    assert digest.hexdigest() == hashlib.sha256(b"abcdefgh").hexdigest()


def test_sql_gz_is_the_gunzipped_dump():
    data = gzip.compress(SQL)
    assert read(data, backup.KIND_SQL) == (SQL, 0, hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("dump_name", ["dump.sql.gz", "dump.sql"])
def test_tar_gz_yields_its_dump_and_counts_the_uploads(dump_name):
    dump = gzip.compress(SQL) if dump_name.endswith(".gz") else SQL
    data = tar_bytes(
        [
            (dump_name, dump),
            ("uploads/default", None),
            ("uploads/default/original/1X/a.png", b"png"),
            ("uploads/default/original/1X/b.txt", b"txt"),
        ],
        compress=True,
    )
    # The whole object is read, so its checksum covers the uploads after the dump too.
    assert read(data, backup.KIND_TAR_GZ) == (SQL, 2, hashlib.sha256(data).hexdigest())


def test_tar_gz_without_a_dump_is_refused():
    data = tar_bytes([("uploads/default/a.png", b"png")], compress=True)
    with pytest.raises(backup.BackupError, match=r"^default/x holds no dump.sql.gz or dump.sql$"):
        read(data, backup.KIND_TAR_GZ)


def test_a_truncated_sql_gz_is_refused():
    data = gzip.compress(SQL * 50)
    with pytest.raises(backup.BackupError, match=r"^default/x: the gzip stream is truncated$"):
        read(data[: len(data) // 2], backup.KIND_SQL)


def test_a_truncated_tar_gz_is_refused():
    data = tar_bytes([("dump.sql.gz", gzip.compress(SQL * 500)), ("uploads/default/a", b"x" * 5000)], True)
    with pytest.raises(backup.BackupError, match=r"^default/x"):
        read(data[: len(data) // 2], backup.KIND_TAR_GZ)


def test_not_a_gzip_is_refused_naming_the_object():
    with pytest.raises(backup.BackupError, match=r"^default/x is not a valid gzip stream"):
        read(b"plain text, not gzip", backup.KIND_SQL)


def test_a_tar_without_a_directory_dump_is_refused_before_pg_restore():
    data = tar_bytes([("uploads/default/a.png", b"png"), ("db/readme.txt", b"not a dump file")])
    with pytest.raises(
        backup.BackupError, match=r"^default/x holds no directory-format dump \(<dir>/toc.dat\)$"
    ):
        read(data, backup.KIND_TAR)


def test_a_tar_with_two_dump_directories_is_refused():
    data = tar_bytes([("db/toc.dat", b"toc"), ("other/toc.dat", b"toc")])
    with pytest.raises(backup.BackupError, match=r"holds two dump directories: db/, other/$"):
        read(data, backup.KIND_TAR)


def test_only_pg_dump_file_names_are_extracted():
    names = ["toc.dat", "3345.dat.gz", "3346.dat", "blob_16400.dat.gz", "blobs_12.toc", "4001.dat.zst"]
    assert all(backup_archive.DUMP_FILE_RE.match(name) for name in names)
    for bad in ("../toc.dat", "toc.dat/x", "restore.sql", "a.dat.gz", ".toc.dat"):
        assert not backup_archive.DUMP_FILE_RE.match(bad), bad
