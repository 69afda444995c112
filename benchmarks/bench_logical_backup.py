"""The logical backup's speed and memory against `pg_dump -Fp | gzip > /dev/null` of the same database.

Run: .venv/bin/python benchmarks/bench_logical_backup.py [--sizes-mb 250,1000]
Starts its own PostgreSQL 18 (tests/fixtures/postgres.py) and S3 server (moto, tests/fixtures/s3.py),
generates a Discourse-shaped database (users, topics, posts with hstore and text) of each size with
generate_series, and measures in the same run, per size:

* baseline: `pg_dump --format=plain ... | gzip > /dev/null` (shell pipeline, gzip's default level);
* logical: forumops.discourse.logical_backup's stream (pg_dump -> gzip level 4 -> sha256 -> S3
  multipart upload -> metadata copy), in a child process whose peak RSS is reported.

Prints the database size, both times, their ratio (target <= 1.0x: faster than the shell pipeline;
the stream compresses with ISA-L when the isal package is installed, as requirements/runtime.txt
does, else zlib), the compressor, and the backup process's peak RSS
per size (target: flat - the same for both sizes). Exits non-zero when the ratio of the largest size
is over the target or the peak RSS grows by more than 50% between the smallest and largest size.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

from tests.fixtures.backup_db import BUCKET, s3_args  # noqa: E402
from tests.fixtures.postgres import start_postgres, stop_postgres  # noqa: E402
from tests.fixtures.s3 import start_moto, stop_moto  # noqa: E402

TARGET_RATIO = 1.0
# One posts row is ~1 kB on disk; users and topics scale with it.
SCHEMA = """
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY);
INSERT INTO schema_migrations VALUES ('20250301120000');
CREATE TABLE users (id serial PRIMARY KEY, username text, email text, created_at timestamp, custom hstore);
CREATE TABLE topics (id serial PRIMARY KEY, title text, user_id integer, created_at timestamp);
CREATE TABLE posts (id bigserial PRIMARY KEY, topic_id integer, user_id integer, raw text, cooked text,
                    meta hstore, created_at timestamp);
"""
FILL = """
INSERT INTO users (username, email, created_at, custom)
  SELECT 'user' || i, 'user' || i || '@example.com', now(), hstore('n', i::text)
  FROM generate_series({start}, {stop}) AS i WHERE i % 20 = 0;
INSERT INTO topics (title, user_id, created_at)
  SELECT 'Topic ' || i || ' ' || md5(i::text), i % 1000, now()
  FROM generate_series({start}, {stop}) AS i WHERE i % 10 = 0;
INSERT INTO posts (topic_id, user_id, raw, cooked, meta, created_at)
  SELECT i % 100000, i % 1000,
         'Post ' || i || ' ' || md5(i::text) || ' ' || md5((i * 7)::text) || ' '
           || repeat('the quick brown fox ' || (i % 97) || ' ', 12),
         '<p>' || md5((i * 3)::text) || repeat(' lorem ipsum ' || (i % 89), 10) || '</p>',
         hstore(ARRAY['likes', 'reads'], ARRAY[(i % 13)::text, (i % 101)::text]), now()
  FROM generate_series({start}, {stop}) AS i;
"""
ROWS_PER_MB = 1000

CHILD = r"""
import json, os, resource, sys
sys.path[:0] = [{root!r}, {collections!r}]
from ansible_collections.forumops.discourse.plugins.module_utils import backup
from ansible_collections.forumops.discourse.plugins.modules import logical_backup
import boto3
from botocore.config import Config
args = json.loads(sys.argv[1])
client = backup.s3_client(boto3, Config, args["s3"])
env = backup.libpq_env(args["password"], "disable", base=os.environ)
result = logical_backup.stream_backup(client, args["s3"], args["key"], args["command"], env, args["pg_dump"])
result["compressor"] = "isal" if backup.isal_zlib is not None else "zlib"
result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(result))
"""


def database_size(server, dbname):
    return server.query("SELECT pg_database_size(current_database())", dbname)[0][0]


def grow(server, dbname, target_bytes):
    """Add batches of rows until the database is at least target_bytes."""
    start = server.query("SELECT coalesce(max(id), 0) FROM posts", dbname)[0][0] + 1
    while database_size(server, dbname) < target_bytes:
        missing_mb = (target_bytes - database_size(server, dbname)) / 1e6
        count = max(10_000, min(200_000, int(missing_mb * ROWS_PER_MB)))
        server.query(FILL.format(start=start, stop=start + count - 1), dbname)
        start += count
    server.query("VACUUM ANALYZE", dbname)


def timed(func):
    started = time.monotonic()
    value = func()
    return time.monotonic() - started, value


def baseline(server, dbname):
    command = (
        f"{server.bin_dir / 'pg_dump'} --format=plain --schema=public --no-owner --no-privileges "
        f"--host={server.host} --port={server.port} --username={server.user} --dbname={dbname} "
        "| gzip > /dev/null"
    )
    env = dict(os.environ, PGPASSWORD=server.password)
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, env=env)


def logical(server, s3, dbname, key):
    from ansible_collections.forumops.discourse.plugins.module_utils import backup

    command = backup.pg_dump_command(
        str(server.bin_dir / "pg_dump"), server.host, server.port, server.user, dbname
    )
    args = {
        "s3": s3_args(s3),
        "key": key,
        "command": command,
        "pg_dump": "pg_dump (PostgreSQL) 18",
        "password": server.password,
    }
    child = CHILD.format(root=ROOT, collections=os.path.join(ROOT, ".collections"))
    out = subprocess.run(
        [sys.executable, "-c", child, json.dumps(args)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="250,1000", help="database sizes to generate, comma-separated")
    options = parser.parse_args()
    sizes = sorted(int(size) for size in options.sizes_mb.split(","))

    base = Path(tempfile.mkdtemp(prefix="bench-logical-"))
    os.chmod(base, 0o755)
    server = start_postgres(base / "pg")
    s3 = start_moto(base)
    rows = []
    try:
        s3.client().create_bucket(Bucket=BUCKET)
        server.query("CREATE DATABASE bench")
        server.query(SCHEMA, "bench")
        for size in sizes:
            generated, _unused = timed(lambda size=size: grow(server, "bench", size * 1_000_000))
            actual = database_size(server, "bench")
            baseline_s, _unused = timed(lambda: baseline(server, "bench"))
            logical_s, result = timed(
                lambda size=size: logical(server, s3, "bench", f"default/bench-{size}.sql.gz")
            )
            rows.append((actual, baseline_s, logical_s, result))
            print(
                f"database {actual / 1e6:8.1f} MB (generated in {generated:5.1f} s): "
                f"pg_dump|gzip {baseline_s:6.1f} s, logical {logical_s:6.1f} s "
                f"(ratio {logical_s / baseline_s:.2f}x), object {result['size'] / 1e6:7.1f} MB "
                f"from {result['sql_bytes'] / 1e6:7.1f} MB SQL, backup process peak RSS "
                f"{result['peak_rss_kib'] / 1024:6.1f} MiB, compressor {result['compressor']}",
                flush=True,
            )
            s3.client().delete_object(Bucket=BUCKET, Key=f"default/bench-{size}.sql.gz")
    finally:
        stop_moto(s3)
        stop_postgres(server)
        shutil.rmtree(base, ignore_errors=True)

    ratio = rows[-1][2] / rows[-1][1]
    rss_small, rss_large = rows[0][3]["peak_rss_kib"], rows[-1][3]["peak_rss_kib"]
    growth = rss_large / rss_small
    print(
        f"largest database: logical / pg_dump|gzip = {ratio:.2f}x (target <= {TARGET_RATIO}x); "
        f"peak RSS {rss_small / 1024:.1f} MiB at {rows[0][0] / 1e6:.0f} MB, {rss_large / 1024:.1f} MiB at "
        f"{rows[-1][0] / 1e6:.0f} MB ({growth:.2f}x; target flat)"
    )
    sys.exit(0 if ratio <= TARGET_RATIO and growth <= 1.5 else 1)


if __name__ == "__main__":
    main()
