# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logical backup inside the cluster: the same stream as forumops.discourse.logical_backup.

Runs in the Job the discourse_backup role creates, next to backup.py (the collection's
plugins/module_utils/backup.py, mounted from the same ConfigMap). Needs python3, boto3, pg_dump and
psql. Everything comes from the environment: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
PGSSLMODE (libpq's own variables), BACKUP_SITE, BACKUP_BUCKET, BACKUP_FOLDER, S3_ENDPOINT, S3_REGION,
S3_PATH_STYLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Prints the object key and its sha256.
"""

import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone

import backup
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def psql_value(sql):
    """One value from the database (libpq's PG* variables say which)."""
    return subprocess.run(
        ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--command", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main():
    env = os.environ
    version = backup.check_version(psql_value(backup.SCHEMA_VERSION_SQL), "the database's schema version")
    filename = backup.build_filename(env["BACKUP_SITE"], datetime.now(timezone.utc), version)  # noqa: UP017
    key = backup.object_key(env.get("BACKUP_FOLDER", backup.DEFAULT_S3_FOLDER), filename)
    s3 = {
        "endpoint_url": env.get("S3_ENDPOINT"),
        "region": env.get("S3_REGION"),
        "path_style": env.get("S3_PATH_STYLE") == "true",
    }
    client = backup.s3_client(boto3, Config, s3)
    bucket = env["BACKUP_BUCKET"]
    server = int(psql_value("SHOW server_version_num")) // 10000
    versions = backup.client_versions("pg_dump")
    candidates = [(path, backup.client_major(text)) for path, text in versions.items()]
    pg_dump = backup.select_pg_client("pg_dump", server, [c for c in candidates if c[1] is not None])
    command = backup.pg_dump_command(
        pg_dump, env["PGHOST"], env.get("PGPORT", 5432), env["PGUSER"], env["PGDATABASE"]
    )
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    failed = threading.Event()

    def check_pg_dump():
        if process.wait() != 0:
            failed.set()
            raise backup.BackupError(f"pg_dump exited with status {process.returncode}")

    reader = backup.GzipHashingReader(process.stdout, on_eof=check_pg_dump)
    config = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=2)
    config.max_in_memory_upload_chunks = 2
    client.upload_fileobj(reader, bucket, key, ExtraArgs={"ContentType": "application/gzip"}, Config=config)
    if failed.is_set():
        sys.exit(1)
    digest = reader.hexdigest()
    client.copy(
        {"Bucket": bucket, "Key": key},
        bucket,
        key,
        ExtraArgs={
            "Metadata": {backup.SHA256_METADATA_KEY: digest, backup.PG_DUMP_METADATA_KEY: versions[pg_dump]},
            "MetadataDirective": "REPLACE",
            "ContentType": "application/gzip",
        },
    )
    report = {
        "key": key,
        "sha256": digest,
        "size": reader.compressed_bytes,
        "schema_version": version,
        "pg_dump": versions[pg_dump],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
