# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discourse backups as Discourse itself names, writes and restores them, in pure Python.

Standard library only, no Ansible imports, so that this file is unit-tested directly; the modules
logical_backup and logical_restore wrap it with PostgreSQL and S3.

Upstream facts this follows (discourse/discourse lib/backup_restore and script/discourse):

* ``Backuper`` names a backup ``<title.parameterize>-<%Y-%m-%d-%H%M%S>-v<current_version>`` plus
  ``.sql.gz`` (SQL only) or ``.tar.gz`` (with uploads); ``current_version`` is the highest row of
  ``schema_migrations``, a 14-digit timestamp. ``discourse backup NAME`` replaces the
  ``<title>-<timestamp>`` part with NAME.
* The SQL-only file is ``pg_dump --schema=public --no-owner --no-privileges --compress=4``: a gzip of
  a plain-format dump of schema public, without OWNER TO and GRANT statements.
* The S3 store keeps backups under ``<s3_backup_bucket>/<current_db>/`` (``default`` for a single
  site) and lists keys matching ``[^/]*\\.t?gz``.
* ``Creator`` since 2026 (lib/backup_restore/creator.rb at 7e1a51f603485d66988b3b65a7e51cddfefa4cf8)
  names every backup ``<title>-<timestamp>-v<Discourse version, dots as dashes>-<schema version>.tar``:
  a plain tar (``ArchiveWriter``) holding the directory-format dump (``pg_dump --format=directory
  --jobs=N --compress=4``, ``db/toc.dat`` and ``db/<id>.dat.gz``) and, with uploads, the uploads.
* Restore reads the version from the file name (``-v(\\d{14})``) and refuses a backup whose version
  is newer than the running code's schema; it drops the lines starting with ``DROP SCHEMA``,
  ``CREATE SCHEMA``, ``COMMENT ON SCHEMA`` and ``SET default_table_access_method`` (sed) and pipes
  the rest to ``psql --single-transaction --variable=ON_ERROR_STOP=1``.
* ``discourse enable_restore`` / ``discourse restore FILE`` / ``discourse disable_restore`` are the
  command-line restore; ``discourse restore`` without a file lists the backups.
"""

import glob
import hashlib
import os
import re
import shlex
import subprocess
import unicodedata
import zlib

try:  # ISA-L: the same gzip format, several times faster than zlib; optional (the Job may lack it)
    from isal import isal_zlib
except ImportError:  # pragma: no cover - depends on the environment
    isal_zlib = None
from datetime import datetime, timezone

VERSION_PREFIX = "v"
TIMESTAMP_FORMAT = "%Y-%m-%d-%H%M%S"
SQL_SUFFIX = ".sql.gz"
TAR_SUFFIX = ".tar"
# The three kinds of backup file Discourse writes: SQL only, SQL with uploads (both before 2026), and
# the 2026 Creator's tar of a directory-format dump (with or without uploads).
KIND_SQL, KIND_TAR_GZ, KIND_TAR = "sql.gz", "tar.gz", "tar"
# Discourse's own rule for the schema version of a .sql.gz/.tar.gz (MetaDataHandler), and the
# schema version the 2026 Creator puts last in a .tar's name.
DISCOURSE_VERSION_RE = re.compile(r"-" + VERSION_PREFIX + r"(\d{14})|-(\d{14})\.tar\Z")
# Discourse's S3 listing rule (S3BackupStore#file_regex, [^/]*\.t?gz) applied to a base name, with
# the 2026 Creator's .tar (it uploads that name; the store's newer listing rule is not readable here).
DISCOURSE_LIST_RE = re.compile(r"\A[^/]*\.(?:t?gz|tar)\Z", re.IGNORECASE)
# The names Discourse writes and this collection reads: Backuper's two, and Creator's .tar (its
# Discourse version part is Discourse::VERSION::STRING with dots as dashes: 2026-1-0-latest).
FILENAME_RE = re.compile(
    r"\A(?P<prefix>[a-z0-9]+(?:-[a-z0-9]+)*?)-(?P<timestamp>\d{4}-\d{2}-\d{2}-\d{6})-"
    + VERSION_PREFIX
    + r"(?:(?P<version>\d{14})(?P<suffix>\.sql\.gz|\.tar\.gz)"
    r"|(?P<discourse>[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*?)-(?P<tar_version>\d{14})\.tar)\Z"
)
# Lines deleted from the schema part of a dump before psql sees it: DatabaseRestorer#sed_command's
# (lib/backup_restore/database_restorer.rb), and what a pg_dump newer than the target writes:
# SET transaction_timeout (PostgreSQL 17+; older servers reject the parameter), \restrict (psql
# meta-command of pg_dump 18 and the 2025 minor releases; older psql stops at it), and COMMENT ON
# EXTENSION (only the extension's owner may run it; the restoring role usually is not).
# CREATE EXTENSION IF NOT EXISTS stays: it is a no-op where the extension exists and creates it in
# a fresh target (a drill), which upstream's in-place restore never has.
UNWANTED_SQL = (
    "DROP SCHEMA",
    "CREATE SCHEMA",
    "COMMENT ON SCHEMA",
    "SET default_table_access_method",
    "SET transaction_timeout",
    "COMMENT ON EXTENSION",
    "\\restrict ",
)
UNWANTED_SQL_RE = re.compile(rb"^(?:" + b"|".join(re.escape(s.encode()) for s in UNWANTED_SQL) + rb")")
# pg_dump 18 ends the dump with \unrestrict <key>, after the data.
UNRESTRICT = b"\\unrestrict "
# Upstream's pg_dump leaves these out (lib/backup_restore/creator.rb): relations named pg_* (not
# Discourse's), and the data of two caches the site rebuilds.
PG_DUMP_EXCLUDES = (
    "--exclude-table=public.pg_*",
    "--exclude-table-data=public.nested_hot_post_scores",
    "--exclude-table-data=public.nested_hot_score_snapshots",
)
# Discourse's default S3 folder inside the backups bucket for a single-site install.
DEFAULT_S3_FOLDER = "default"
# The metadata key (x-amz-meta-sha256) that records the checksum of the object's bytes.
SHA256_METADATA_KEY = "sha256"
# The metadata key (x-amz-meta-pg-dump) naming the pg_dump that wrote the backup (its --version line).
PG_DUMP_METADATA_KEY = "pg-dump"
DEFAULT_COMPRESSION_LEVEL = 4  # pg_dump --compress=4, as Discourse's Backuper


class BackupError(Exception):
    """Bad input or a backup that must not be used; the message says which and why."""


# ---- File names ---------------------------------------------------------------------------------------


def parameterize(text):
    """Rails' String#parameterize: ASCII, lower case, runs of other characters become one '-'."""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not slug:
        raise BackupError(f"site name {text!r} has no letters or digits to name a backup after")
    return slug


def check_version(version, what="schema version"):
    """A schema version as a 14-digit string (integers are accepted)."""
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not re.fullmatch(r"\d{14}", version):
        raise BackupError(f"{what} {version!r} is not a 14-digit migration version")
    return version


def build_filename(site, when, version, suffix=SQL_SUFFIX):
    """``<site>-<YYYY-mm-dd-HHMMSS>-v<version>.sql.gz`` for a datetime (taken as UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)  # noqa: UP017 - modules also run on Python < 3.11
    stamp = when.strftime(TIMESTAMP_FORMAT)
    return f"{parameterize(site)}-{stamp}-{VERSION_PREFIX}{check_version(version)}{suffix}"


def basename(key):
    return key.rsplit("/", 1)[-1]


def parse_filename(key):
    """Split a backup key (or file name) into prefix, UTC timestamp, schema version and kind.

    kind is KIND_SQL, KIND_TAR_GZ or KIND_TAR; ``discourse`` is the Discourse version a .tar names
    (None for the older kinds). Raises BackupError for a name Discourse would not restore: the
    version must be a 14-digit schema version and the timestamp real.
    """
    name = basename(key)
    match = FILENAME_RE.match(name)
    if match is None:
        raise BackupError(
            f"{name!r} is not a Discourse backup file name (<site>-<YYYY-mm-dd-HHMMSS>-v<14-digit "
            "version>.sql.gz or .tar.gz, or <site>-<YYYY-mm-dd-HHMMSS>-v<Discourse version>-<14-digit "
            "version>.tar)"
        )
    try:
        when = datetime.strptime(match.group("timestamp"), TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)  # noqa: UP017
    except ValueError as exc:
        raise BackupError(f"{name!r}: {match.group('timestamp')} is not a date and time") from exc
    if match.group("tar_version"):
        kind, version = KIND_TAR, match.group("tar_version")
    else:
        kind, version = (
            (KIND_SQL if match.group("suffix") == SQL_SUFFIX else KIND_TAR_GZ),
            match.group("version"),
        )
    return {
        "filename": name,
        "prefix": match.group("prefix"),
        "timestamp": when,
        "version": version,
        "kind": kind,
        "discourse": match.group("discourse"),
    }


def discourse_version(key):
    """The schema version Discourse's restore reads from a file name, or None when it finds none."""
    match = DISCOURSE_VERSION_RE.search(basename(key))
    return (match.group(1) or match.group(2)) if match else None


def listed_by_discourse(key, folder=DEFAULT_S3_FOLDER):
    """Whether Discourse's S3 store lists this key (directly in its folder, ending in .gz/.tgz)."""
    prefix = folder.strip("/") + "/" if folder.strip("/") else ""
    return key.startswith(prefix) and bool(DISCOURSE_LIST_RE.match(key[len(prefix) :]))


def object_key(folder, filename):
    folder = folder.strip("/")
    return f"{folder}/{filename}" if folder else filename


def sort_backups(keys, site=None):
    """The keys that are backups of this collection's naming (of one site when given), newest first.

    Returns a list of dicts (parse_filename plus ``key``); other keys are ignored.
    """
    found = []
    for key in keys:
        try:
            info = parse_filename(key)
        except BackupError:
            continue
        if site is not None and info["prefix"] != parameterize(site):
            continue
        info["key"] = key
        found.append(info)
    found.sort(key=lambda info: (info["timestamp"], info["version"], info["key"]), reverse=True)
    return found


# ---- Versions -----------------------------------------------------------------------------------------


def check_restorable(backup_version, target_version):
    """Refuse a backup newer than the target's schema, as Discourse's restore does.

    Both are 14-digit versions; the target is the highest migration the image ships (or the target
    database's current version). Returns a one-line explanation when the restore may go ahead.
    """
    backup_version = check_version(backup_version, "backup schema version")
    target_version = check_version(target_version, "target schema version")
    if int(backup_version) > int(target_version):
        raise BackupError(
            f"the backup's schema version {backup_version} is newer than the target's {target_version}: "
            "restoring it would need migrations the target's image does not have. Upgrade the image "
            "first, or restore an older backup."
        )
    if backup_version == target_version:
        return f"backup and target are both at schema version {target_version}"
    return (
        f"backup at schema version {backup_version}, target at {target_version}: "
        "the image's migrations bring the restored database up to date"
    )


def image_schema_version(migrations):
    """The highest version of an image's migrations (an object with ``pre`` and ``post`` lists)."""
    versions = list(migrations.pre) + list(migrations.post)
    if not versions:
        raise BackupError("the image's build manifest lists no migrations")
    return max(versions, key=lambda v: (len(v), v))


# ---- Command lines ------------------------------------------------------------------------------------


def pg_dump_command(pg_dump, host, port, user, database):
    """pg_dump writing Discourse's SQL-only dump (plain format) to stdout.

    The password goes through the environment (PGPASSWORD), never the command line. Compression
    happens in the reader that consumes stdout, so the output is one gzip member as with
    ``--compress=4``.
    """
    return [
        pg_dump,
        "--schema=public",
        *PG_DUMP_EXCLUDES,
        "--no-owner",
        "--no-privileges",
        "--format=plain",
        f"--host={host}",
        f"--port={int(port)}",
        f"--username={user}",
        f"--dbname={database}",
    ]


def psql_restore_command(psql, host, port, user, database):
    """psql loading a dump from stdin in one transaction, stopping at the first error."""
    return [
        psql,
        "--no-psqlrc",
        "--quiet",
        "--single-transaction",
        "--variable=ON_ERROR_STOP=1",
        f"--host={host}",
        f"--port={int(port)}",
        f"--username={user}",
        f"--dbname={database}",
    ]


CLIENT_VERSION_RE = re.compile(r"\(PostgreSQL\) (\d+)\.")


def client_major(version_output):
    """The major of ``pg_dump --version``/``psql --version`` output, or None."""
    match = CLIENT_VERSION_RE.search(version_output or "")
    return int(match[1]) if match else None


def select_pg_client(command, server_major, candidates):
    """The client to run against a server of server_major, from ``[(path, major), ...]``.

    Upstream's BackupRestore::PostgresTools.find: pg_dump must be the server's major or newer (an
    older pg_dump refuses the server), and the oldest such is taken, so the dump stays loadable by
    that major's psql; psql must be the server's major or older, and the newest such is taken.
    """
    dumping = command == "pg_dump"
    fitting = [
        (path, major)
        for path, major in candidates
        if (major >= server_major if dumping else major <= server_major)
    ]
    if fitting:
        pick = min if dumping else max
        return pick(fitting, key=lambda c: c[1])[0]
    found = ", ".join(f"{command} {major} ({path})" for path, major in candidates) or f"no {command}"
    raise BackupError(
        f"No compatible {command} for PostgreSQL {server_major}: found {found}. Install the PostgreSQL "
        f"{server_major} client tools or {'newer' if dumping else 'older'}, or point pg_bin_dir at them."
    )


# Where PostgreSQL client programs are installed side by side, one directory per major (the layouts
# upstream's BackupRestore::PostgresTools searches on Linux), then PATH.
CLIENT_DIRECTORIES = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin")


def client_versions(name, bin_dir=None):
    """{path: ``name --version`` output} of every installed copy of name (only bin_dir's when set)."""
    if bin_dir:
        directories = [bin_dir]
    else:
        directories = [d for pattern in CLIENT_DIRECTORIES for d in sorted(glob.glob(pattern))]
        directories += os.environ.get("PATH", "").split(os.pathsep)
    versions = {}
    for directory in directories:
        path = os.path.join(directory, name)
        if path in versions or not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        result = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            versions[path] = result.stdout.strip()
    return versions


def libpq_env(password=None, sslmode=None, base=None):
    env = dict(base or {})
    if password:
        env["PGPASSWORD"] = password
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return env


def discourse_commands(
    filename=None, sql_only=True, s3_uploads=False, backup_name=None, disable_emails=False
):
    """The command lines the ``discourse`` method runs in a web pod (k8s_exec).

    ``discourse`` is the image's /usr/local/bin wrapper (bundle exec script/discourse as the
    discourse user). Returns a dict of shell-quoted strings: backup, list, enable_restore, restore
    (when a file is given), disable_restore. ``discourse restore`` disables e-mail for everyone but
    staff unless told otherwise (script/discourse: ``option :disable_emails, default: true``); an
    in-place restore of the production site keeps e-mail on unless ``disable_emails``.
    """
    backup = ["discourse", "backup"]
    if sql_only:
        backup.append("--sql-only")
    elif s3_uploads:
        backup.append("--s3-uploads")
    if backup_name:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", backup_name):
            raise BackupError(f"backup name {backup_name!r} must be letters, digits, '.', '_' and '-'")
        backup.append(backup_name)
    commands = {
        "backup": shlex.join(backup),
        "list": shlex.join(["discourse", "restore"]),
        "enable_restore": shlex.join(["discourse", "enable_restore"]),
        "disable_restore": shlex.join(["discourse", "disable_restore"]),
    }
    if filename:
        name = basename(filename)
        if discourse_version(name) is None or not DISCOURSE_LIST_RE.match(name):
            raise BackupError(
                f"{name!r}: Discourse restores only files named ...-v<14-digit version>.tar.gz or .sql.gz, "
                "or ...-v<Discourse version>-<14-digit version>.tar"
            )
        emails = [] if disable_emails else ["--no-disable-emails"]
        commands["restore"] = shlex.join(["discourse", "restore", *emails, name])
    return commands


# ---- Streams ------------------------------------------------------------------------------------------


def start_stream(command, env, reading):
    """Start pg_dump (reading=True: we read its stdout) or psql (reading=False: we write its stdin).

    Streaming needs a pipe to a running process, which AnsibleModule.run_command cannot give; the
    other end is always drained (stderr by the caller's thread) so the process never blocks on it.
    """
    if reading:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )


# ISA-L has levels 0-3; each zlib level maps to the ISA-L level of about its size (level 1 writes
# about what zlib 4 writes, Discourse's --compress=4).
ISAL_LEVELS = (0, 1, 1, 1, 1, 2, 2, 3, 3, 3)
GZIP_ERRORS = (zlib.error,) + ((isal_zlib.error,) if isal_zlib is not None else ())


def gzip_compressor(level=DEFAULT_COMPRESSION_LEVEL):
    """A compressobj writing one gzip member (wbits 31): ISA-L's when installed, else zlib's."""
    if isal_zlib is not None:
        return isal_zlib.compressobj(ISAL_LEVELS[level], isal_zlib.DEFLATED, 31)
    return zlib.compressobj(level, zlib.DEFLATED, 31)


def gzip_decompressor():
    """A decompressobj reading gzip (wbits 31): ISA-L's when installed, else zlib's."""
    return (isal_zlib or zlib).decompressobj(31)


class GzipHashingReader:
    """A file-like ``read(n)`` over a raw byte stream that returns it gzip-compressed.

    It hashes (sha256) and counts the compressed bytes as they are handed out, so the checksum of
    the stored object is known when the last byte has been read, without a temporary file. Memory
    is bounded by ``n`` plus one input chunk. ``on_eof`` is called once when the raw stream ends,
    before the final bytes are returned; raising there (a failed pg_dump) aborts the consumer.
    """

    def __init__(self, raw, level=DEFAULT_COMPRESSION_LEVEL, chunk_size=1 << 18, on_eof=None):
        self._raw = raw
        self._compressor = gzip_compressor(level)
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._eof = False
        self._on_eof = on_eof
        self.sha256 = hashlib.sha256()
        self.raw_bytes = 0
        self.compressed_bytes = 0

    def readable(self):
        return True

    def _fill(self, wanted):
        while len(self._buffer) < wanted and not self._eof:
            chunk = self._raw.read(self._chunk_size)
            if chunk:
                self.raw_bytes += len(chunk)
                self._buffer += self._compressor.compress(chunk)
            else:
                self._eof = True
                if self._on_eof is not None:
                    self._on_eof()
                self._buffer += self._compressor.flush()

    def read(self, size=-1):
        if size is None or size < 0:
            self._fill(float("inf"))
            size = len(self._buffer)
        else:
            self._fill(size)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.sha256.update(out)
        self.compressed_bytes += len(out)
        return out

    def hexdigest(self):
        return self.sha256.hexdigest()


# Discourse keeps the trigger functions of read-only tables and columns in schema
# discourse_functions (lib/migration/base_dropper.rb); a dump of schema public has the triggers but
# not the functions, so the restore creates each one the dump names, as upstream's
# DatabaseRestorer#create_missing_discourse_functions does before loading.
FUNCTION_SCHEMA = b"discourse_functions."
READONLY_TRIGGER_RE = re.compile(
    rb"^CREATE TRIGGER \S+ BEFORE (?P<events>.+?) ON (?:public\.)?(?P<table>\w+) "
    rb".*EXECUTE (?:FUNCTION|PROCEDURE) discourse_functions\.(?P<function>raise_\w+_readonly)\(\);"
)


def readonly_function_sql(function, table, column=None):
    """Upstream's Migration::BaseDropper.create_readonly_function, as SQL for psql."""
    message = f"Discourse: {column} in {table} is readonly" if column else f"Discourse: {table} is read only"
    return (
        "CREATE SCHEMA IF NOT EXISTS discourse_functions;\n"
        f"CREATE OR REPLACE FUNCTION discourse_functions.{function}() RETURNS trigger AS $rcr$\n"
        "  BEGIN\n"
        f"    RAISE EXCEPTION '{message}';\n"
        "  END\n"
        "$rcr$ LANGUAGE plpgsql;\n"
    ).encode()


class SqlHeaderFilter:
    """Discourse's restore sed filter, applied where it can match: the schema part of the dump.

    pg_dump writes schema statements (CREATE SCHEMA public, COMMENT ON SCHEMA, SET
    default_table_access_method) before the first ``COPY``; after it come table data, indexes and
    triggers. Chunks there without a discourse_functions trigger pass through without a line split;
    before such a trigger the filter puts the function it calls (``created``). ``feed`` takes
    decompressed bytes and returns the bytes to give psql; ``flush`` returns the rest at the end.
    """

    def __init__(self):
        self._pending = b""
        self._in_header = True
        self.dropped = []
        self.created = []

    def _filter_lines(self, data):
        if not self._in_header and FUNCTION_SCHEMA not in data and UNRESTRICT not in data:
            return data
        out = []
        for line in data.splitlines(keepends=True):
            if line.startswith(b"COPY "):
                self._in_header = False
            # COPY data cannot start a line with a backslash and a letter u: it escapes backslashes.
            if (self._in_header and UNWANTED_SQL_RE.match(line)) or line.startswith(UNRESTRICT):
                self.dropped.append(line.rstrip(b"\n").decode("utf-8", "replace"))
                continue
            trigger = READONLY_TRIGGER_RE.match(line)
            if trigger:
                function, table = trigger["function"].decode(), trigger["table"].decode()
                column = re.search(rb"\bUPDATE OF (\w+)", trigger["events"])
                out.append(readonly_function_sql(function, table, column[1].decode() if column else None))
                self.created.append(f"discourse_functions.{function}()")
            out.append(line)
        return b"".join(out)

    def feed(self, data):
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return self._filter_lines(data[:cut])

    def flush(self):
        rest, self._pending = self._pending, b""
        return self._filter_lines(rest)


# ---- Connections (third-party libraries imported by the modules that use them) ------------------------


def s3_client(boto3, botocore_config, options):
    """A boto3 S3 client from the modules' ``s3`` option (a dict)."""
    return boto3.client(
        "s3",
        endpoint_url=options.get("endpoint_url") or None,
        region_name=options.get("region") or None,
        aws_access_key_id=options.get("access_key_id") or None,
        aws_secret_access_key=options.get("secret_access_key") or None,
        config=botocore_config(
            s3={"addressing_style": "path" if options.get("path_style") else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


SCHEMA_VERSION_SQL = (
    "SELECT version FROM schema_migrations ORDER BY length(version) DESC, version DESC LIMIT 1"
)
PUBLIC_TABLES_SQL = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'"
