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
      - O(db.user) must be able to read every table (the database owner, for example).
  pg_bin_dir:
    description: >-
      Directory holding C(pg_dump); empty to pick one from C(/usr/lib/postgresql/*/bin),
      C(/usr/pgsql-*/bin) and C(PATH): the oldest whose major is the server's or newer. A pg_dump
      older than the server is refused, naming what was found.
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
extends_documentation_fragment:
  - forumops.discourse.postgres
  - forumops.discourse.s3
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
pg_dump:
  description: >-
    The pg_dump that wrote the backup (its C(--version) line), also stored as the object's metadata
    C(x-amz-meta-pg-dump). Chosen like upstream's C(BackupRestore::PostgresTools): the oldest
    installed pg_dump of the server's major or newer.
  returned: mode=backup and not check mode
  type: str
  sample: pg_dump (PostgreSQL) 18.1
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

import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import backup, backup_io  # noqa: E402


def schema_version(db):
    version = backup_io.query_one(db, backup.SCHEMA_VERSION_SQL)
    if version is None:
        raise backup.BackupError(
            f"database {db['database']} has no rows in schema_migrations: not a migrated Discourse database"
        )
    return backup.check_version(version, "the database's schema version")


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
            "kind": info["kind"],
            "timestamp": info["timestamp"].isoformat(),
            "size": sizes[info["key"]],
        }
        for info in backup.sort_backups(keys, site)
    ]


def stream_backup(
    client, s3, key, command, env, client_version, level=backup.DEFAULT_COMPRESSION_LEVEL, part_size=16 << 20
):
    """Run command (pg_dump) and upload its gzip-compressed stdout to s3 key; set the sha256 metadata
    and the pg_dump that wrote it (client_version, its --version line).

    Returns a dict with sha256, size, sql_bytes and seconds. Raises BackupError when pg_dump fails
    (the multipart upload is then aborted by boto3 and no object remains).
    """
    started = time.monotonic()
    process = backup.start_stream(command, env, reading=True)
    drainer, stderr_lines = backup_io.drain_stderr(process)

    def check_pg_dump():
        process.wait()
        drainer.join()
        if process.returncode != 0:
            raise backup.BackupError(
                f"pg_dump exited with status {process.returncode}: " + " | ".join(stderr_lines[-5:])
            )

    reader = backup.GzipHashingReader(process.stdout, level=level, on_eof=check_pg_dump)
    config = backup_io.streaming_upload_config(part_size)
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
            "Metadata": {backup.SHA256_METADATA_KEY: digest, backup.PG_DUMP_METADATA_KEY: client_version},
            "MetadataDirective": "REPLACE",
            "ContentType": "application/gzip",
        },
    )
    return {
        "sha256": digest,
        "pg_dump": client_version,
        "size": reader.compressed_bytes,
        "sql_bytes": reader.raw_bytes,
        "seconds": round(time.monotonic() - started, 3),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", default="backup", choices=["backup", "list"]),
            site=dict(type="str", required=True),
            db=dict(type="dict", options=backup_io.DB_OPTIONS),
            s3=dict(type="dict", required=True, options=backup_io.S3_OPTIONS),
            pg_bin_dir=dict(type="path"),
            compression_level=dict(type="int", default=backup.DEFAULT_COMPRESSION_LEVEL),
            part_size_mb=dict(type="int", default=16),
        ),
        required_if=[("mode", "backup", ["db"])],
        supports_check_mode=True,
    )
    backup_io.require_libraries(module, s3=True)
    params = module.params
    s3 = params["s3"]
    client = backup_io.s3_client(s3)
    with backup_io.failing_on_errors(module, "cannot read the schema version of {database}", params["db"]):
        backup.parameterize(params["site"])
        if params["mode"] == "list":
            module.exit_json(changed=False, backups=list_backups(client, s3, params["site"]))
        backup_io.require_libraries(module, postgres=True)
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
        command, env, client_version = backup_io.pg_client_command(
            backup.pg_dump_command, "pg_dump", db, params["pg_bin_dir"]
        )
        result.update(
            stream_backup(
                client,
                s3,
                key,
                command,
                env,
                client_version,
                level=params["compression_level"],
                part_size=params["part_size_mb"] << 20,
            )
        )
        module.exit_json(**result)


if __name__ == "__main__":
    main()
