"""playbooks/backup.yml, restore.yml and restore_drill.yml with the logical method, for real.

A site whose database is on the real PostgreSQL 18 server and whose backups bucket is on the real
S3 server (moto) is backed up with playbooks/backup.yml; restore_drill.yml restores the newest
backup into a throwaway database, verifies it and drops it; restore.yml restores it into a new
database only when confirmed.
"""

import json

import pytest
import yaml

from tests.fixtures import discourse_archives
from tests.fixtures.backup_db import BUCKET, NEWEST, READONLY_COLUMN, SITE, fingerprint, fresh_database, seed

pytestmark = [pytest.mark.postgres, pytest.mark.s3]


def inventory(tmp_path, server, s3, dbname, **extra):
    site = {
        "discourse_namespace": "drill-site",
        "discourse_kubeconfig": "/nonexistent/kubeconfig",  # the logical method needs no cluster here
        "discourse_site_name": SITE,
        "discourse_backup_method": "logical",
        "discourse_backup_logical_runner": "controller",
        "discourse_backup_logical_pg_bin_dir": str(server.bin_dir),
        # The database and storage roles' inputs: the playbooks publish the connections from them.
        "discourse_database_mode": "external",
        "discourse_database_external_host": server.host,
        "discourse_database_external_port": server.port,
        "discourse_database_name": dbname,
        "discourse_database_owner": server.user,
        "discourse_database_sslmode": "disable",
        "discourse_backup_logical_db_password": server.password,
        "discourse_storage_backups_bucket": BUCKET,
        "discourse_storage_endpoint": s3.endpoint,
        "discourse_storage_region": s3.region,
        "discourse_storage_path_style": True,
        "discourse_backup_s3_access_key_id": s3.access_key_id,
        "discourse_backup_s3_secret_access_key": s3.secret_access_key,
        "discourse_backup_target_schema_version": NEWEST,
        **extra,
    }
    data = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            },
            "children": {"discourse_sites": {"hosts": {"drill_site": site}}},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def debug_report(output):
    """The msg of the playbook's last task (the report), from the JSON callback."""
    plays = json.loads(output)["plays"]
    return plays[0]["tasks"][-1]["hosts"]["drill_site"]["msg"]


def run(ansible, playbook, inv, *extra):
    from tests.fixtures.ansible import ansible_env

    return ansible(
        "ansible-playbook",
        "-i",
        inv,
        playbook,
        *extra,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"),
    )


@pytest.fixture
def site(postgres_server, postgres_db, s3_server):
    s3_server.client().create_bucket(Bucket=BUCKET)
    seed(postgres_server, postgres_db)
    return postgres_db


def drill_inventory(tmp_path, server, s3, dbname, **extra):
    admin = {"host": server.host, "port": server.port, "user": server.user, "database": "postgres"}
    return inventory(
        tmp_path,
        server,
        s3,
        dbname,
        discourse_backup_drill_admin_db={**admin, "sslmode": "disable"},
        discourse_backup_drill_admin_password=server.password,
        **extra,
    )


def test_backup_then_drill_restores_verifies_and_drops_the_drill_database(
    ansible, tmp_path, postgres_server, s3_server, site
):
    inv = drill_inventory(tmp_path, postgres_server, s3_server, site)
    made = run(ansible, "playbooks/backup.yml", inv)
    assert made.returncode == 0, made.stdout[-3000:]
    report = debug_report(made.stdout)
    assert report["method"] == "logical"
    assert report["schema_version"] == NEWEST
    assert report["key"].startswith("default/forum-example-com-")

    drill = run(ansible, "playbooks/restore_drill.yml", inv)
    assert drill.returncode == 0, drill.stdout[-3000:]
    result = debug_report(drill.stdout)
    counts = {t: fingerprint(postgres_server, site)[t][0] for t in ("users", "topics", "posts")}
    assert result["key"] == report["key"]
    assert result["sha256"] == report["sha256"]
    assert result["sha256_verified"] is True
    assert result["schema_version"] == NEWEST
    assert result["tables"] == 4
    assert result["rows"] == counts == {"users": 500, "topics": 1000, "posts": 4000}
    assert result["kept"] is False
    leftovers = postgres_server.query(
        "SELECT datname FROM pg_database WHERE datname ~ %s", args=("_drill_[0-9]{14}$",)
    )
    assert leftovers == []


def test_drill_restores_discourses_own_tar_with_a_read_only_trigger(
    ansible, tmp_path, postgres_server, s3_server, site
):
    """The newest backup is one Discourse wrote: the .tar of a directory-format dump (creator.rb at
    7e1a51f603485d66988b3b65a7e51cddfefa4cf8), of a database with a read-only column trigger whose
    function is in schema discourse_functions (lib/migration/base_dropper.rb). It has no sha256, so
    the drill loads it only with discourse_backup_logical_allow_unverified."""
    postgres_server.query(READONLY_COLUMN, site)
    data = discourse_archives.creator_tar(
        postgres_server, site, tmp_path / "made", {"original/1X/a.png": b"png"}
    )
    key = f"default/forum-example-com-2026-12-03-101500-v2026-1-0-latest-{NEWEST}.tar"
    s3_server.client().put_object(Bucket=BUCKET, Key=key, Body=data)

    refused = run(
        ansible, "playbooks/restore_drill.yml", drill_inventory(tmp_path, postgres_server, s3_server, site)
    )
    assert refused.returncode != 0
    assert f"{key} has no sha256 metadata: refusing to restore an unverifiable backup" in refused.stdout

    inv = drill_inventory(
        tmp_path, postgres_server, s3_server, site, discourse_backup_logical_allow_unverified=True
    )
    drill = run(ansible, "playbooks/restore_drill.yml", inv)
    assert drill.returncode == 0, drill.stdout[-3000:]
    result = debug_report(drill.stdout)
    assert (result["key"], result["kind"], result["sha256_verified"]) == (key, "tar", False)
    assert result["schema_version"] == NEWEST
    assert result["rows"] == {"users": 500, "topics": 1000, "posts": 4000}
    leftovers = postgres_server.query(
        "SELECT datname FROM pg_database WHERE datname ~ %s", args=("_drill_[0-9]{14}$",)
    )
    assert leftovers == []


def test_restore_playbook_needs_confirmation_then_restores_into_a_new_database(
    ansible, tmp_path, postgres_server, s3_server, site
):
    target = fresh_database(postgres_server, site[:50] + "_new")
    try:
        inv = inventory(
            tmp_path,
            postgres_server,
            s3_server,
            site,
            discourse_backup_logical_restore_db={
                "host": postgres_server.host,
                "port": postgres_server.port,
                "database": target,
                "user": postgres_server.user,
                "sslmode": "disable",
                "secret_name": "unused",
            },
            discourse_backup_logical_restore_db_password=postgres_server.password,
            discourse_restore_switch_app=False,
        )
        assert run(ansible, "playbooks/backup.yml", inv).returncode == 0

        refused = run(ansible, "playbooks/restore.yml", inv)
        assert refused.returncode != 0
        assert "run playbooks/restore.yml with -e discourse_restore_confirm=true" in refused.stdout
        assert postgres_server.query(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", target
        ) == [(0,)]

        restored = run(ansible, "playbooks/restore.yml", inv, "-e", "discourse_restore_confirm=true")
        assert restored.returncode == 0, restored.stdout[-3000:]
        report = debug_report(restored.stdout)
        assert (report["database"], report["schema_version"], report["tables"]) == (target, NEWEST, 4)
        assert fingerprint(postgres_server, target) == fingerprint(postgres_server, site)
    finally:
        postgres_server.query(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
