# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database dump inside each kind of Discourse backup file, read as one stream of plain SQL.

Standard library only (no Ansible imports), so that it is unit-tested directly. The layouts are
upstream's (discourse/discourse lib/backup_restore):

* ``.sql.gz`` (Backuper, SQL only): a gzip of a plain-format dump.
* ``.tar.gz`` (Backuper, with uploads, creator.rb at b740c22bd11cbe2d309be1dde9eebbbba3ef33d1): a gzip
  of a tar holding ``dump.sql.gz`` (``dump.sql`` in backups of Discourse 1.5 and older,
  BackupFileHandler::OLD_DUMP_FILENAME) and the ``uploads/`` tree.
* ``.tar`` (Creator at 7e1a51f603485d66988b3b65a7e51cddfefa4cf8, ArchiveWriter): a plain tar whose
  first entry is the directory-format dump (``db/`` with ``toc.dat`` and one ``<id>.dat.gz`` per
  table), then the uploads. pg_restore needs random access to that directory, so it is extracted
  to a temporary directory and ``pg_restore --file=-`` turns it into the same plain SQL a
  ``.sql.gz`` holds.

The uploads are never restored here (the logical method restores the database; a site's uploads
live in its uploads bucket); how many files were skipped is counted.
"""

import os
import re
import subprocess
import tarfile
import tempfile
import threading

from ansible_collections.forumops.discourse.plugins.module_utils import backup

READ_SIZE = 1 << 20
DUMP_MEMBERS = ("dump.sql.gz", "dump.sql")
TOC_FILE = "toc.dat"
# What pg_dump --format=directory writes into its directory: toc.dat, <dump id>.dat(.gz|.lz4|.zst),
# blob_<oid>.dat(...) and blobs(_<id>).toc.
TAR_ERRORS = (tarfile.TarError, EOFError, OSError, *backup.GZIP_ERRORS)
DUMP_FILE_RE = re.compile(r"\A(?:toc\.dat|\d+\.dat|blob_\d+\.dat|blobs(?:_\d+)?\.toc)(?:\.gz|\.lz4|\.zst)?\Z")


class HashingReader:
    """``read(n)`` over an iterator of byte chunks, hashing every byte handed out (sha256)."""

    def __init__(self, chunks, digest):
        self._chunks = iter(chunks)
        self._buffer = b""
        self.digest = digest

    def readable(self):
        return True

    def read(self, size=-1):
        while size is None or size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size is None or size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        self.digest.update(out)
        return out

    def drain(self):
        """Read (and hash) what is left, so the digest covers the whole object."""
        while self.read(READ_SIZE):
            pass


def _gunzip(chunks, what):
    decompressor = backup.gzip_decompressor()
    try:
        for chunk in chunks:
            yield decompressor.decompress(chunk)
        yield decompressor.flush()
    except backup.GZIP_ERRORS as exc:
        raise backup.BackupError(f"{what} is not a valid gzip stream ({exc})") from exc
    if not decompressor.eof:
        raise backup.BackupError(f"{what}: the gzip stream is truncated")


def _read_chunks(fileobj):
    while True:
        chunk = fileobj.read(READ_SIZE)
        if not chunk:
            return
        yield chunk


def _member_chunks(archive, member, what):
    try:
        yield from _read_chunks(archive.extractfile(member))
    except TAR_ERRORS as exc:
        raise backup.BackupError(f"{what}: {member.name} is truncated or damaged ({exc})") from exc


def _open_tar(reader, mode, what):
    try:
        return tarfile.open(fileobj=reader, mode=mode)
    except TAR_ERRORS as exc:
        raise backup.BackupError(f"{what} is not a tar archive ({exc})") from exc


def _members(archive, what):
    try:
        yield from archive
    except TAR_ERRORS as exc:
        raise backup.BackupError(f"{what}: the tar archive is truncated or damaged ({exc})") from exc


class ArchiveReader:
    """The plain SQL of the dump in one backup object of the given kind.

    ``sql()`` yields the SQL in chunks while reading the object (``reader``, a HashingReader) and
    reads it to its end; a damaged or incomplete object raises BackupError before the last chunk.
    ``uploads_skipped`` counts the upload files the archive carried.
    """

    def __init__(self, reader, kind, what, pg_restore=None, tmp_dir=None):
        self.reader = reader
        self.kind = kind
        self.what = what
        self.pg_restore = pg_restore
        self.tmp_dir = tmp_dir
        self.uploads_skipped = 0

    def sql(self):
        if self.kind == backup.KIND_SQL:
            yield from _gunzip(_read_chunks(self.reader), self.what)
        elif self.kind == backup.KIND_TAR_GZ:
            yield from self._tar_gz()
        else:
            yield from self._tar()
        self.reader.drain()

    def _tar_gz(self):
        found = False
        with _open_tar(self.reader, "r|gz", self.what) as archive:
            for member in _members(archive, self.what):
                if member.isfile() and member.name in DUMP_MEMBERS and not found:
                    found = True
                    data = _member_chunks(archive, member, self.what)
                    yield from (
                        _gunzip(data, f"{self.what}: {member.name}") if member.name.endswith(".gz") else data
                    )
                elif member.isfile():
                    self.uploads_skipped += 1
        if not found:
            raise backup.BackupError(f"{self.what} holds no {' or '.join(DUMP_MEMBERS)}")

    def _tar(self):
        with tempfile.TemporaryDirectory(prefix="discourse-restore-", dir=self.tmp_dir) as work:
            dump_dir = self._extract_dump(work)
            yield from self._pg_restore_script(dump_dir)

    def _extract_dump(self, work):
        """Extract the dump directory (the top-level directory holding toc.dat) into work."""
        dump_name, files = None, {}
        with _open_tar(self.reader, "r|", self.what) as archive:
            for member in _members(archive, self.what):
                parts = member.name.strip("/").split("/")
                if len(parts) == 2 and member.isfile() and DUMP_FILE_RE.match(parts[1]):
                    if dump_name not in (None, parts[0]):
                        raise backup.BackupError(
                            f"{self.what} holds two dump directories: {dump_name}/, {parts[0]}/"
                        )
                    dump_name = parts[0]
                    files[parts[1]] = os.path.join(work, parts[1])
                    with open(files[parts[1]], "wb") as out:
                        for chunk in _member_chunks(archive, member, self.what):
                            out.write(chunk)
                elif member.isfile() or member.islnk():
                    self.uploads_skipped += 1
        self.reader.drain()  # the digest is complete before pg_restore reads anything
        if TOC_FILE not in files:
            raise backup.BackupError(f"{self.what} holds no directory-format dump (<dir>/{TOC_FILE})")
        return work

    def _pg_restore_script(self, dump_dir):
        if not self.pg_restore:
            raise backup.BackupError(
                f"{self.what}: restoring a .tar backup needs pg_restore, and none was found"
            )
        process = subprocess.Popen(
            [self.pg_restore, "--format=directory", "--file=-", dump_dir],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        errors = []
        drainer = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
        drainer.start()
        completed = False
        try:
            yield from _read_chunks(process.stdout)
            completed = True
        finally:
            if not completed:  # the consumer stopped (psql failed): pg_restore must not block on its pipe
                process.kill()
            process.wait()
            drainer.join()
        if process.returncode != 0:
            message = b" | ".join(line.rstrip() for line in errors[-5:]).decode("utf-8", "replace")
            raise backup.BackupError(
                f"{self.what}: pg_restore exited with status {process.returncode}: {message}"
            )


def newest_pg_restore(bin_dir=None):
    """(path, --version line) of the newest pg_restore installed (only bin_dir's when set), or (None, None).

    pg_restore reads archives of its own major and older, and only writes a script here (psql of
    the server's major loads it), so the newest one reads every archive.
    """
    versions = backup.client_versions("pg_restore", bin_dir)
    majors = [(backup.client_major(text), path) for path, text in versions.items()]
    majors = [m for m in majors if m[0] is not None]
    if not majors:
        return None, None
    path = max(majors)[1]
    return path, versions[path]
