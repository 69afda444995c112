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


def main():
    env = os.environ
    version = subprocess.run(
        ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--command", backup.SCHEMA_VERSION_SQL],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    version = backup.check_version(version, "the database's schema version")
    filename = backup.build_filename(env["BACKUP_SITE"], datetime.now(timezone.utc), version)  # noqa: UP017
    key = backup.object_key(env.get("BACKUP_FOLDER", backup.DEFAULT_S3_FOLDER), filename)
    s3 = {
        "endpoint_url": env.get("S3_ENDPOINT"),
        "region": env.get("S3_REGION"),
        "path_style": env.get("S3_PATH_STYLE") == "true",
    }
    client = backup.s3_client(boto3, Config, s3)
    bucket = env["BACKUP_BUCKET"]
    command = ["pg_dump", "--schema=public", "--no-owner", "--no-privileges", "--format=plain"]
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
            "Metadata": {backup.SHA256_METADATA_KEY: digest},
            "MetadataDirective": "REPLACE",
            "ContentType": "application/gzip",
        },
    )
    report = {"key": key, "sha256": digest, "size": reader.compressed_bytes, "schema_version": version}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
