#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: logical_restore
short_description: Verify a Discourse backup in S3 and stream its database dump into PostgreSQL
version_added: "0.1.0"
description:
  - Restores the database of a backup written by M(forumops.discourse.logical_backup) or by Discourse
    itself into a database, streaming it from S3 into C(psql --single-transaction
    --variable=ON_ERROR_STOP=1). All three kinds Discourse writes are read - C(.sql.gz) (SQL only),
    C(.tar.gz) (its C(dump.sql.gz) member) and the C(.tar) of Discourse 2026 (its directory-format
    dump, which C(pg_restore --file=-) turns into SQL). A C(.sql.gz) or C(.tar.gz) is never written to
    disk; the dump directory of a C(.tar) is, to a temporary directory, because pg_restore needs random
    access to it. Uploads in an archive are skipped (counted in RV(uploads_skipped), with a warning).
  - Refuses, before anything is loaded, a backup whose schema version (the C(-v<version>) of its file
    name) is newer than the target's (O(target_version), or the newest migration of the image's build
    manifest O(manifest)), exactly as Discourse's own restore does.
  - Refuses, before anything is loaded, a backup whose bytes do not match the sha256 recorded with the
    object. The object is read twice - once to verify the checksum, once to load it - and the second
    read is hashed too; if the object changed in between, psql is stopped before its transaction
    commits, so the target is left as it was.
  - Applies Discourse's restore filter to the dump (drops C(CREATE SCHEMA), C(COMMENT ON SCHEMA),
    C(DROP SCHEMA) and C(SET default_table_access_method) statements of the schema section).
  - With O(verify_only=true), only verifies (checksum and version) and loads nothing.
author:
  - forumops engineering (@forumops)
requirements:
  - boto3
  - psycopg2
  - psql of the server's major version or newer
options:
  key:
    description: Object key of the backup. Exactly one of O(key) and O(latest) is required.
    type: str
  latest:
    description: Restore the newest backup of O(site) in the bucket's folder.
    type: bool
    default: false
  site:
    description: The site whose newest backup O(latest) picks.
    type: str
  db:
    description:
      - The target database. It must exist, have the extensions Discourse needs, and (with
        O(require_empty=true)) have no table in schema public. Connect as the role that should own
        the restored objects (the dump carries no owners).
    required: true
  s3:
    description: The backups bucket; O(latest) looks in its O(s3.folder).
  target_version:
    description:
      - The newest schema version the target's code knows (14 digits). Exactly one of
        O(target_version) and O(manifest) is required.
    type: str
  manifest:
    description:
      - The target image's build manifest (path of its JSON file, or the manifest as a dictionary);
        its newest pre- or post-deploy migration is the target version.
    type: raw
  verify_only:
    description: Verify the checksum and the version, and load nothing.
    type: bool
    default: false
  require_empty:
    description: Refuse a target database that has tables in schema public.
    type: bool
    default: true
  allow_unverified:
    description:
      - Restore an object that has no C(sha256) metadata (for example a backup Discourse made itself).
    type: bool
    default: false
  pg_bin_dir:
    description: >-
      Directory holding C(psql) (and C(pg_restore) for a C(.tar)); empty to pick them from
      C(/usr/lib/postgresql/*/bin), C(/usr/pgsql-*/bin) and C(PATH): the newest psql whose major is
      the server's or older, and the newest pg_restore (it only writes SQL, and reads every older
      archive).
    type: path
extends_documentation_fragment:
  - forumops.discourse.postgres
  - forumops.discourse.s3
attributes:
  check_mode:
    support: full
    description: In check mode the module verifies the backup (version and checksum) and loads nothing.
  diff_mode:
    support: none
    description: Nothing to diff.
"""

EXAMPLES = r"""
- name: Restore the newest backup of the site into a fresh database
  forumops.discourse.logical_restore:
    latest: true
    site: "{{ discourse_site_name }}"
    manifest: "{{ discourse_backup_build_manifest }}"
    db:
      host: 127.0.0.1
      database: discourse_drill
      user: discourse
      password: "{{ __discourse_backup_db_password }}"
    s3:
      bucket: "{{ discourse_storage_connection.backups_bucket }}"
      endpoint_url: "{{ discourse_storage_connection.endpoint }}"
  register: __discourse_backup_restored
"""

RETURN = r"""
key:
  description: The object key restored (or verified).
  returned: always
  type: str
filename:
  description: Its file name.
  returned: always
  type: str
schema_version:
  description: The backup's schema version, from its file name.
  returned: always
  type: str
target_version:
  description: The target's schema version the backup was checked against.
  returned: always
  type: str
version_check:
  description: One line about the version comparison.
  returned: always
  type: str
sha256:
  description: The verified sha256 of the object.
  returned: always
  type: str
verified:
  description: Whether the checksum was verified (false only with O(allow_unverified) and no metadata).
  returned: always
  type: bool
restored:
  description: Whether the dump was loaded and committed.
  returned: always
  type: bool
restored_version:
  description: The highest row of schema_migrations in the target after the restore.
  returned: when restored
  type: str
tables:
  description: Number of tables in schema public of the target after the restore.
  returned: when restored
  type: int
dropped_statements:
  description: >-
    The lines the restore filter removed from the dump: Discourse's own (schema statements), and
    what a newer pg_dump writes that an older server or psql refuses (C(\\restrict), C(SET
    transaction_timeout), C(COMMENT ON EXTENSION)).
  returned: when restored
  type: list
  elements: str
psql:
  description: >-
    The psql that loaded the dump (its C(--version) line): the newest installed of the server's
    major or older, as upstream's C(BackupRestore::PostgresTools) picks it.
  returned: when restored
  type: str
  sample: psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
kind:
  description: The kind of backup file, from its name.
  returned: always
  type: str
  choices: [sql.gz, tar.gz, tar]
pg_restore:
  description: The pg_restore that read a C(.tar)'s dump directory (its C(--version) line).
  returned: when a .tar was restored
  type: str
uploads_skipped:
  description: Files outside the database dump (uploads) in the archive, which were not restored.
  returned: when restored
  type: int
created_functions:
  description:
    - The read-only trigger functions of schema C(discourse_functions) the restore created before the
      triggers that call them (the dump of schema public has the triggers, not the functions), as
      Discourse's restorer does.
  returned: when restored
  type: list
  elements: str
"""

import contextlib  # noqa: E402
import hashlib  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import (  # noqa: E402
    backup,
    backup_archive,
    backup_io,
    migrations,
)

READ_SIZE = 1 << 20


def newest_key(client, s3, site):
    prefix = backup.object_key(s3["folder"], "")
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3["bucket"], Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    found = backup.sort_backups([k for k in keys if backup.listed_by_discourse(k, s3["folder"])], site)
    if not found:
        raise backup.BackupError(f"no backup of site {site!r} in s3://{s3['bucket']}/{prefix}")
    return found[0]["key"]


def object_sha256(client, bucket, key):
    """Hash the object's bytes by streaming it once."""
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(READ_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


def stream_restore(client, bucket, key, kind, command, env, expected_sha256=None, pg_restore=None):
    """Stream the dump inside the object through Discourse's filter into psql (one transaction).

    The object's bytes are hashed while they are read; psql is killed before it reaches the end of
    its input (so its single transaction never commits) when they do not match expected_sha256, or
    the object is damaged or incomplete. Returns (the filter: its dropped statements and created
    functions, the archive reader: its skipped uploads).
    """
    process = backup.start_stream(command, env, reading=False)
    drainer, stderr_lines = backup_io.drain_stderr(process)
    digest = hashlib.sha256()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    archive = backup_archive.ArchiveReader(
        backup_archive.HashingReader(body.iter_chunks(READ_SIZE), digest), kind, key, pg_restore
    )
    sql_filter = backup.SqlHeaderFilter()
    problem = None
    try:
        for sql in archive.sql():
            process.stdin.write(sql_filter.feed(sql))
        if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
            problem = (
                f"the object's bytes changed while it was restored (sha256 {digest.hexdigest()}, "
                f"recorded {expected_sha256})"
            )
        else:
            process.stdin.write(sql_filter.flush())
    except BrokenPipeError:
        pass  # psql stopped at an error (ON_ERROR_STOP): reported below from its exit status
    except backup.BackupError as exc:
        problem = str(exc)
    except BaseException:
        process.kill()
        process.wait()
        raise
    if problem is not None:
        process.kill()
        process.wait()
        raise backup.BackupError(f"{problem}; psql was stopped before committing")
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    process.wait()
    drainer.join()
    if process.returncode != 0:
        raise backup.BackupError(
            f"psql exited with status {process.returncode}; the transaction was rolled back: "
            + " | ".join(stderr_lines[-5:])
        )
    return sql_filter, archive


def target_version(params):
    if params["target_version"]:
        return backup.check_version(params["target_version"], "target_version")
    try:
        image = migrations.load_manifest(params["manifest"])
    except migrations.MigrationError as exc:
        raise backup.BackupError(f"manifest: {exc}") from exc
    return backup.image_schema_version(image)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            key=dict(type="str", no_log=False),
            latest=dict(type="bool", default=False),
            site=dict(type="str"),
            db=dict(type="dict", required=True, options=backup_io.DB_OPTIONS),
            s3=dict(type="dict", required=True, options=backup_io.S3_OPTIONS),
            target_version=dict(type="str"),
            manifest=dict(type="raw"),
            verify_only=dict(type="bool", default=False),
            require_empty=dict(type="bool", default=True),
            allow_unverified=dict(type="bool", default=False),
            pg_bin_dir=dict(type="path"),
        ),
        required_one_of=[("target_version", "manifest")],
        mutually_exclusive=[("target_version", "manifest")],
        required_if=[("latest", True, ["site"])],
        supports_check_mode=True,
    )
    backup_io.require_libraries(module, s3=True, postgres=True)
    params = module.params
    if bool(params["key"]) == bool(params["latest"]):
        module.fail_json(msg="key, latest: give exactly one - the object key, or latest=true with site")
    s3, db = params["s3"], params["db"]
    client = backup_io.s3_client(s3)
    result = dict(changed=False, restored=False, verified=False)
    with backup_io.failing_on_errors(module, "database {database}", db, result):
        key = params["key"] or newest_key(client, s3, params["site"])
        info = backup.parse_filename(key)
        result.update(key=key, filename=info["filename"], schema_version=info["version"])
        result["kind"] = info["kind"]
        pg_restore = None
        if info["kind"] == backup.KIND_TAR:
            pg_restore, result["pg_restore"] = backup_archive.newest_pg_restore(params["pg_bin_dir"])

        # 1. The version: refuse a backup newer than the target's code, before reading it.
        result["target_version"] = target_version(params)
        result["version_check"] = backup.check_restorable(info["version"], result["target_version"])

        # 2. The target: it must be reachable and (by default) empty.
        if not params["verify_only"] and params["require_empty"]:
            tables = backup_io.query_one(db, backup.PUBLIC_TABLES_SQL)
            if tables:
                raise backup.BackupError(
                    f"database {db['database']} already has {tables} tables in schema public; restore "
                    "into a new, empty database (or set require_empty=false to load on top of them)"
                )

        # 3. The checksum: stream the object once and compare, before anything is loaded.
        head = client.head_object(Bucket=s3["bucket"], Key=key)
        recorded = head.get("Metadata", {}).get(backup.SHA256_METADATA_KEY)
        if recorded is None and not params["allow_unverified"]:
            raise backup.BackupError(
                f"{key} has no sha256 metadata: refusing to restore an unverifiable backup "
                "(set allow_unverified=true for backups Discourse made itself)"
            )
        if recorded is not None:
            actual = object_sha256(client, s3["bucket"], key)
            if actual != recorded:
                raise backup.BackupError(
                    f"{key}: sha256 mismatch (object {actual}, recorded {recorded}); the backup is "
                    "corrupt or was altered - refused, nothing was loaded"
                )
            result.update(sha256=actual, verified=True)
        if params["verify_only"]:
            module.exit_json(**result)
        result["changed"] = True
        if module.check_mode:
            module.exit_json(**result)

        # 4. The load: one transaction; the stream is hashed again and must still match.
        command, env, result["psql"] = backup_io.pg_client_command(
            backup.psql_restore_command, "psql", db, params["pg_bin_dir"]
        )
        sql_filter, archive = stream_restore(
            client, s3["bucket"], key, info["kind"], command, env, recorded, pg_restore
        )
        result["uploads_skipped"] = archive.uploads_skipped
        if archive.uploads_skipped:
            module.warn(
                f"{key} carries {archive.uploads_skipped} upload files; the logical method restores the "
                "database only (the site's uploads stay in its uploads bucket)"
            )
        result["dropped_statements"] = sql_filter.dropped
        result["created_functions"] = sql_filter.created
        result["restored"] = True
        result["restored_version"] = backup_io.query_one(db, backup.SCHEMA_VERSION_SQL)
        result["tables"] = backup_io.query_one(db, backup.PUBLIC_TABLES_SQL)
        module.exit_json(**result)


if __name__ == "__main__":
    main()
