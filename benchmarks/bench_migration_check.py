"""Time of one migration check with 5,000 migrations: tree scan, real PostgreSQL read, comparison.

Run: .venv/bin/python benchmarks/bench_migration_check.py [--runs N]
Starts its own PostgreSQL 18 (tests/fixtures/postgres.py), writes a Discourse-shaped source tree
(core and four plugins, pre- and post-deploy folders, post-deploy subfolders) and fills
schema_migrations with all but 70 of its versions. Measures what the module does after Ansible has
started it - connect and read schema_migrations in a read-only transaction, scan the tree, compare -
and a baseline measured in the same run: a bare connect and SELECT version FROM schema_migrations plus
an os.scandir listing of the same folders, so that numbers from different machines compare.
Prints both medians and their ratio; exits non-zero when the check's median is over the 1 s target.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

import psycopg2  # noqa: E402
from psycopg2.extras import execute_values  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import migrations  # noqa: E402
from ansible_collections.forumops.discourse.plugins.modules import migration_check  # noqa: E402
from tests.fixtures.postgres import start_postgres, stop_postgres  # noqa: E402

TARGET_S = 1.0
# (folder, count): core then four plugins; 5,000 migrations in all.
LAYOUT = [("db/migrate", 3000), ("db/post_migrate", 700)] + [
    (f"plugins/plugin-{index}/db/{kind}", count)
    for index in range(4)
    for kind, count in (("migrate", 250), ("post_migrate", 75))
]
PENDING_PRE, PENDING_POST = 50, 20


def write_tree(root):
    """Write the migration files; return (pre versions, post versions) in the order written."""
    stamp = datetime(2013, 1, 1)
    pre, post = [], []
    for folder, count in LAYOUT:
        post_deploy = folder.endswith("post_migrate")
        for number in range(count):
            stamp += timedelta(hours=7, seconds=13)
            version = stamp.strftime("%Y%m%d%H%M%S")
            # Post-deploy folders use yearly subfolders, as upstream's db/post_migrate may.
            directory = Path(root, folder, version[:4]) if post_deploy else Path(root, folder)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{version}_migration_{number}.rb").write_text("# frozen_string_literal: true\n")
            (post if post_deploy else pre).append(version)
    return pre, post


def median_seconds(function, runs):
    times = []
    for _unused in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="forumops-bench-migrations-"))
    os.chmod(base, 0o755)
    server = None
    try:
        source = base / "discourse"
        pre, post = write_tree(source)
        applied = sorted(pre)[:-PENDING_PRE] + sorted(post)[:-PENDING_POST]

        server = start_postgres(base / "pg")
        server.query("CREATE DATABASE discourse")
        conn = server.connect("discourse")
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY)")
            execute_values(cur, "INSERT INTO schema_migrations (version) VALUES %s", [(v,) for v in applied])
        conn.close()
        db = {
            "host": server.host,
            "port": server.port,
            "database": "discourse",
            "user": server.user,
            "password": server.password,
            "sslmode": "disable",
        }

        def check():
            image = migrations.scan_source(str(source))
            return migrations.compare(migration_check.read_applied_versions(db), image)

        folders = [folder for folder, _unused in LAYOUT]

        def baseline():
            conn = psycopg2.connect(
                host=db["host"], port=db["port"], dbname="discourse", user=db["user"], password=db["password"]
            )
            with conn.cursor() as cur:
                cur.execute("SELECT version FROM schema_migrations")
                cur.fetchall()
            conn.close()
            stack = [str(source / folder) for folder in folders]
            names = 0
            while stack:
                with os.scandir(stack.pop()) as entries:
                    for entry in entries:
                        if entry.is_dir():
                            stack.append(entry.path)
                        else:
                            names += 1
            return names

        result = check()
        assert len(result["pending_pre"]) == PENDING_PRE and len(result["pending_post"]) == PENDING_POST
        assert result["unknown"] == [] and baseline() == len(pre) + len(post)
        for _unused in range(3):
            check()
            baseline()
        check_s = median_seconds(check, args.runs)
        base_s = median_seconds(baseline, args.runs)
    finally:
        if server is not None:
            stop_postgres(server)
        shutil.rmtree(base, ignore_errors=True)

    total = len(pre) + len(post)
    print(f"migrations: {total} ({len(pre)} pre-deploy, {len(post)} post-deploy), applied: {len(applied)}")
    print(f"summary: {result['summary']}")
    print(f"runs: {args.runs}")
    print(
        f"check median: {check_s * 1000:.1f} ms (target < {TARGET_S * 1000:.0f} ms, without Ansible start-up)"
    )
    print(
        f"baseline: connect, SELECT version FROM schema_migrations, scandir the tree: {base_s * 1000:.1f} ms"
    )
    print(f"ratio check/baseline: {check_s / base_s:.2f}")
    return 0 if check_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
