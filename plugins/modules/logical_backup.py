#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: logical_backup
short_description: Stream a Discourse database into S3 as Discourse's own SQL-only backup, or list backups
version_added: "0.1.0"
description:
  - With O(mode=backup), runs C(pg_dump --schema=public --no-owner --no-privileges) against the
    Discourse database and streams its plain SQL output, gzip-compressed, into the backups bucket as
    a multipart upload. Nothing is written to disk.
  - The object is named as Discourse's own SQL-only backup,
    C(<site>-<YYYY-mm-dd-HHMMSS>-v<schema version>.sql.gz), under the folder Discourse's S3 backup
    store reads (C(default/) for a single site), so C(discourse restore FILE) accepts it.
  - The sha256 of the object's bytes is computed while streaming and recorded as the object's
    metadata C(x-amz-meta-sha256); M(forumops.discourse.logical_restore) verifies it.
  - With O(mode=list), lists the backups of O(site) in the bucket, newest first, and changes nothing.
author:
  - forumops engineering (@forumops)
requirements:
  - boto3
  - psycopg2
  - pg_dump of the server's major version or newer
options:
  mode:
    description: Take a backup (V(backup)) or list the existing ones (V(list)).
    type: str
    choices: [backup, list]
    default: backup
  site:
    description:
      - The site name; the backup file name starts with it, parameterized as Rails does (lower case,
        other characters become C(-)).
    type: str
    required: true
  db:
    description:
      - Connection to the Discourse database (the primary, CloudNativePG's C(-rw) service, not a
        transaction-mode pooler). Required with O(mode=backup).
    type: dict
    suboptions:
      host:
        description: Host name or address of the PostgreSQL server.
        type: str
        required: true
      port:
        description: TCP port.
        type: int
        default: 5432
      database:
        description: The Discourse database.
        type: str
        required: true
      user:
        description: Role to dump as (the database owner, or one that can read every table).
        type: str
        required: true
      password:
        description: Its password; passed to pg_dump through the environment, never on a command line.
        type: str
      sslmode:
        description: libpq C(sslmode).
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
        default: prefer
  s3:
    description: The backups bucket.
    type: dict
    required: true
    suboptions:
      bucket:
        description: Bucket name.
        type: str
        required: true
      folder:
        description:
          - Folder inside the bucket. Discourse's S3 backup store uses the site's database name in
            its multisite configuration, C(default) for a single site.
        type: str
        default: default
      endpoint_url:
        description: S3 endpoint URL for S3-compatible services; empty for AWS.
        type: str
      region:
        description: Region of the bucket.
        type: str
      access_key_id:
        description: Access key id; empty to use the AWS SDK's usual credential chain.
        type: str
      secret_access_key:
        description: Secret access key.
        type: str
      path_style:
        description: Address the bucket path-style (most S3-compatible servers) instead of virtual-host style.
        type: bool
        default: false
  pg_bin_dir:
    description: Directory holding C(pg_dump); empty to find it on C(PATH).
    type: path
  compression_level:
    description: gzip level of the object; 4 is what Discourse's C(pg_dump --compress=4) uses.
    type: int
    default: 4
  part_size_mb:
    description:
      - Size of each multipart upload part. Memory use is about four parts, whatever the size of the
        database.
    type: int
    default: 16
attributes:
  check_mode:
    support: full
    description:
      - In check mode the module connects, reads the schema version and reports the object it would write.
  diff_mode:
    support: none
    description: Nothing to diff.
notes:
  - The upload completes only when pg_dump exits with status 0; otherwise the multipart upload is
    aborted and no object is left behind.
  - The checksum is set with a server-side copy of the object onto itself (metadata cannot be sent
    before the stream has been read); an object without C(sha256) metadata is refused by
    M(forumops.discourse.logical_restore).
"""

EXAMPLES = r"""
- name: Back up the site database into the backups bucket
  forumops.discourse.logical_backup:
    site: "{{ discourse_site_name }}"
    db:
      host: "{{ discourse_database_connection.host }}"
      database: "{{ discourse_database_connection.database }}"
      user: "{{ discourse_database_connection.user }}"
      password: "{{ __discourse_backup_db_password }}"
      sslmode: "{{ discourse_database_connection.sslmode }}"
    s3:
      bucket: "{{ discourse_storage_connection.backups_bucket }}"
      endpoint_url: "{{ discourse_storage_connection.endpoint }}"
      region: "{{ discourse_storage_connection.region }}"
      path_style: "{{ discourse_storage_connection.path_style }}"
      access_key_id: "{{ __discourse_backup_access_key_id }}"
      secret_access_key: "{{ __discourse_backup_secret_access_key }}"
  register: __discourse_backup_logical

- name: List the site's backups, newest first
  forumops.discourse.logical_backup:
    mode: list
    site: "{{ discourse_site_name }}"
    s3:
      bucket: forum-backups
  register: __discourse_backup_list
"""

RETURN = r"""
key:
  description: The object key of the backup written (or that would be written in check mode).
  returned: mode=backup
  type: str
  sample: default/forum-example-com-2025-03-01-120000-v20250301093000.sql.gz
filename:
  description: The file name, as C(discourse restore FILE) takes it.
  returned: mode=backup
  type: str
  sample: forum-example-com-2025-03-01-120000-v20250301093000.sql.gz
schema_version:
  description: The highest applied migration of the database (Discourse's backup version).
  returned: mode=backup
  type: str
  sample: "20250301093000"
sha256:
  description: sha256 of the object's bytes, also stored as its metadata C(x-amz-meta-sha256).
  returned: mode=backup and not check mode
  type: str
size:
  description: Bytes stored (compressed).
  returned: mode=backup and not check mode
  type: int
sql_bytes:
  description: Bytes of SQL pg_dump produced (uncompressed).
  returned: mode=backup and not check mode
  type: int
seconds:
  description: Wall-clock duration of the dump and upload.
  returned: mode=backup and not check mode
  type: float
backups:
  description: The site's backups in the bucket, newest first.
  returned: mode=list
  type: list
  elements: dict
  contains:
    key:
      description: Object key.
      type: str
    filename:
      description: File name.
      type: str
    version:
      description: Schema version from the file name.
      type: str
    timestamp:
      description: When it was taken (UTC, ISO 8601), from the file name.
      type: str
    size:
      description: Object size in bytes.
      type: int
"""

import os  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import backup  # noqa: E402

try:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config as BotocoreConfig

    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported with missing_required_lib
    boto3 = None
    BOTO3_IMPORT_ERROR = exc

try:
    import psycopg2

    PSYCOPG2_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported with missing_required_lib
    psycopg2 = None
    PSYCOPG2_IMPORT_ERROR = exc

PG_ERRORS = (psycopg2.Error,) if psycopg2 is not None else ()
CONNECT_TIMEOUT = 10
S3_OPTIONS = dict(
    bucket=dict(type="str", required=True),
    folder=dict(type="str", default=backup.DEFAULT_S3_FOLDER),
    endpoint_url=dict(type="str"),
    region=dict(type="str"),
    access_key_id=dict(type="str", no_log=True),
    secret_access_key=dict(type="str", no_log=True),
    path_style=dict(type="bool", default=False),
)
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


def schema_version(db):
    conn = psycopg2.connect(
        host=db["host"],
        port=db["port"],
        dbname=db["database"],
        user=db["user"],
        password=db["password"],
        sslmode=db["sslmode"],
        connect_timeout=CONNECT_TIMEOUT,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(backup.SCHEMA_VERSION_SQL)
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        raise backup.BackupError(
            f"database {db['database']} has no rows in schema_migrations: not a migrated Discourse database"
        )
    return backup.check_version(row[0], "the database's schema version")


def find_tool(bin_dir, name):
    if bin_dir:
        return os.path.join(bin_dir, name)
    found = shutil.which(name)
    if found is None:
        raise backup.BackupError(f"{name} is not on PATH; install the PostgreSQL client or set pg_bin_dir")
    return found


def list_backups(client, s3, site):
    prefix = backup.object_key(s3["folder"], "")
    keys, sizes = [], {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3["bucket"], Prefix=prefix):
        for item in page.get("Contents", []):
            if backup.listed_by_discourse(item["Key"], s3["folder"]):
                keys.append(item["Key"])
                sizes[item["Key"]] = item["Size"]
    return [
        {
            "key": info["key"],
            "filename": info["filename"],
            "version": info["version"],
            "timestamp": info["timestamp"].isoformat(),
            "size": sizes[info["key"]],
        }
        for info in backup.sort_backups(keys, site)
    ]


def stream_backup(client, s3, key, command, env, level=backup.DEFAULT_COMPRESSION_LEVEL, part_size=16 << 20):
    """Run command (pg_dump) and upload its gzip-compressed stdout to s3 key; set the sha256 metadata.

    Returns a dict with sha256, size, sql_bytes and seconds. Raises BackupError when pg_dump fails
    (the multipart upload is then aborted by boto3 and no object remains).
    """
    started = time.monotonic()
    stderr_lines = []
    process = backup.start_stream(command, env, reading=True)

    def drain_stderr():
        for line in process.stderr:
            stderr_lines.append(line.decode("utf-8", "replace").rstrip())
            del stderr_lines[:-20]

    drainer = threading.Thread(target=drain_stderr, daemon=True)
    drainer.start()

    def check_pg_dump():
        process.wait()
        drainer.join()
        if process.returncode != 0:
            raise backup.BackupError(
                f"pg_dump exited with status {process.returncode}: " + " | ".join(stderr_lines[-5:])
            )

    reader = backup.GzipHashingReader(process.stdout, level=level, on_eof=check_pg_dump)
    config = TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=2,
        use_threads=True,
    )
    config.max_in_memory_upload_chunks = 2
    try:
        client.upload_fileobj(
            reader, s3["bucket"], key, ExtraArgs={"ContentType": "application/gzip"}, Config=config
        )
    except backup.BackupError:
        raise
    except Exception:
        # A failure inside read() (pg_dump failed) may reach us wrapped by the transfer manager.
        if process.poll() is not None and process.returncode != 0:
            check_pg_dump()
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:  # pragma: no cover - on_eof raised already
        check_pg_dump()
    digest = reader.hexdigest()
    client.copy(
        {"Bucket": s3["bucket"], "Key": key},
        s3["bucket"],
        key,
        ExtraArgs={
            "Metadata": {backup.SHA256_METADATA_KEY: digest},
            "MetadataDirective": "REPLACE",
            "ContentType": "application/gzip",
        },
    )
    return {
        "sha256": digest,
        "size": reader.compressed_bytes,
        "sql_bytes": reader.raw_bytes,
        "seconds": round(time.monotonic() - started, 3),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", default="backup", choices=["backup", "list"]),
            site=dict(type="str", required=True),
            db=dict(type="dict", options=DB_OPTIONS),
            s3=dict(type="dict", required=True, options=S3_OPTIONS),
            pg_bin_dir=dict(type="path"),
            compression_level=dict(type="int", default=backup.DEFAULT_COMPRESSION_LEVEL),
            part_size_mb=dict(type="int", default=16),
        ),
        required_if=[("mode", "backup", ["db"])],
        supports_check_mode=True,
    )
    if boto3 is None:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    params = module.params
    s3 = params["s3"]
    client = backup.s3_client(boto3, BotocoreConfig, s3)
    try:
        backup.parameterize(params["site"])
        if params["mode"] == "list":
            module.exit_json(changed=False, backups=list_backups(client, s3, params["site"]))
        if psycopg2 is None:
            module.fail_json(msg=missing_required_lib("psycopg2"), exception=str(PSYCOPG2_IMPORT_ERROR))
        if not 1 <= params["compression_level"] <= 9:
            module.fail_json(msg=f"compression_level: must be 1 to 9, got {params['compression_level']}")
        if not 5 <= params["part_size_mb"] <= 5120:
            module.fail_json(msg=f"part_size_mb: S3 parts are 5 to 5120 MiB, got {params['part_size_mb']}")
        db = params["db"]
        version = schema_version(db)
        now = datetime.now(timezone.utc)  # noqa: UP017 - modules also run on Python < 3.11
        filename = backup.build_filename(params["site"], now, version)
        key = backup.object_key(s3["folder"], filename)
        result = dict(changed=True, key=key, filename=filename, schema_version=version, bucket=s3["bucket"])
        if module.check_mode:
            module.exit_json(**result)
        command = backup.pg_dump_command(
            find_tool(params["pg_bin_dir"], "pg_dump"), db["host"], db["port"], db["user"], db["database"]
        )
        env = backup.libpq_env(db["password"], db["sslmode"], base=os.environ)
        result.update(
            stream_backup(
                client,
                s3,
                key,
                command,
                env,
                level=params["compression_level"],
                part_size=params["part_size_mb"] << 20,
            )
        )
        module.exit_json(**result)
    except backup.BackupError as exc:
        module.fail_json(msg=str(exc))
    except PG_ERRORS as exc:
        module.fail_json(msg=f"cannot read the schema version of {params['db']['database']}: {exc}".strip())
    except Exception as exc:  # boto3/botocore errors: report them without a traceback
        module.fail_json(msg=f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
