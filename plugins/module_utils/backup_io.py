# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules that talk to PostgreSQL and S3 share: argument specs, clients, errors.

logical_backup and logical_restore use all of it, migration_check the PostgreSQL part. The pure
backup logic stays in backup.py (standard library only, also run by the backup Job); the
third-party libraries are imported here, guarded, and reported with missing_required_lib.
The options documented in plugins/doc_fragments/postgres.py and s3.py are the specs below.
"""

import contextlib
import os
import threading

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.forumops.discourse.plugins.module_utils import backup

try:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config as BotocoreConfig

    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported with missing_required_lib
    boto3 = None
    TransferConfig = BotocoreConfig = None
    BOTO3_IMPORT_ERROR = exc

try:
    import psycopg2

    PSYCOPG2_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported with missing_required_lib
    psycopg2 = None
    PSYCOPG2_IMPORT_ERROR = exc

PG_ERRORS = (psycopg2.Error,) if psycopg2 is not None else ()
CONNECT_TIMEOUT = 10

# The `db` option (doc fragment forumops.discourse.postgres).
DB_OPTIONS = dict(
    host=dict(type="str", required=True),
    port=dict(type="int", default=5432),
    database=dict(type="str", required=True),
    user=dict(type="str", required=True),
    password=dict(type="str", no_log=True),
    sslmode=dict(
        type="str",
        default="prefer",
        choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
    ),
)

# The `s3` option, the backups bucket (doc fragment forumops.discourse.s3).
S3_OPTIONS = dict(
    bucket=dict(type="str", required=True),
    folder=dict(type="str", default=backup.DEFAULT_S3_FOLDER),
    endpoint_url=dict(type="str"),
    region=dict(type="str"),
    access_key_id=dict(type="str", no_log=True),
    secret_access_key=dict(type="str", no_log=True),
    path_style=dict(type="bool", default=False),
)


def require_libraries(module, s3=False, postgres=False):
    """Fail the module when a library it is about to use is not installed."""
    if s3 and boto3 is None:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    if postgres and psycopg2 is None:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=str(PSYCOPG2_IMPORT_ERROR))


def s3_client(s3):
    """A boto3 S3 client for the `s3` option."""
    return backup.s3_client(boto3, BotocoreConfig, s3)


def streaming_upload_config(part_size):
    """The boto3 transfer config of a streamed multipart upload: parts of part_size, two in flight."""
    config = TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=2,
        use_threads=True,
    )
    config.max_in_memory_upload_chunks = 2
    return config


def pg_connect(db, **kwargs):
    """A psycopg2 connection for the `db` option; kwargs (such as application_name) go to libpq."""
    return psycopg2.connect(
        host=db["host"],
        port=db["port"],
        dbname=db["database"],
        user=db["user"],
        password=db["password"],
        sslmode=db["sslmode"],
        connect_timeout=CONNECT_TIMEOUT,
        **kwargs,
    )


def query_one(db, sql):
    """The first column of the first row of sql (None without rows), on a connection of its own."""
    conn = pg_connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def server_major(db):
    """The major version of the `db` option's server (server_version_num 180001 -> 18)."""
    return int(query_one(db, "SHOW server_version_num")) // 10000


def pg_client_command(build, program, db, bin_dir):
    """(command, env, version) that run the PostgreSQL client program (pg_dump, psql) that fits the
    `db` option's server, and that program's ``--version`` line.

    build is backup.pg_dump_command or backup.psql_restore_command; the password and sslmode go
    through the environment, never on the command line.
    """
    versions = backup.client_versions(program, bin_dir)
    candidates = [(path, backup.client_major(text)) for path, text in versions.items()]
    path = backup.select_pg_client(program, server_major(db), [c for c in candidates if c[1] is not None])
    command = build(path, db["host"], db["port"], db["user"], db["database"])
    return command, backup.libpq_env(db["password"], db["sslmode"], base=os.environ), versions[path]


def drain_stderr(process, keep=20):
    """Read the process's stderr in a thread, keeping its last `keep` lines; returns (thread, lines)."""
    lines = []

    def drain():
        for line in process.stderr:
            lines.append(line.decode("utf-8", "replace").rstrip())
            del lines[:-keep]

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread, lines


@contextlib.contextmanager
def failing_on_errors(module, db_message, db=None, result=None):
    """Turn errors into fail_json: backup errors as they are, PostgreSQL errors after db_message
    (formatted with the database name), others (boto3/botocore) with their class, never a traceback.

    result (a dict, read when the error happens) is returned with the failure.
    """
    result = {} if result is None else result
    try:
        yield
    except backup.BackupError as exc:
        module.fail_json(msg=str(exc), **result)
    except PG_ERRORS as exc:
        module.fail_json(msg=f"{db_message.format(database=db['database'])}: {exc}".strip(), **result)
    except Exception as exc:  # boto3/botocore errors: report them without a traceback
        module.fail_json(msg=f"{type(exc).__name__}: {exc}", **result)
