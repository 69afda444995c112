"""The logical method's Job runner: its manifests on the rehearsal cluster, its code for real.

The Job's container runs roles/discourse_backup/files/logical_backup_job.py next to the collection's
plugins/module_utils/backup.py (both from one ConfigMap). The rehearsal cluster cannot run images,
so the script itself runs here, exactly as the Job runs it (same files side by side, libpq and AWS
environment variables), against the real PostgreSQL 18 and S3 servers.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import backup_runner
from tests.fixtures.ansible import REPO_ROOT, run_with_vars, write_varfile
from tests.fixtures.backup_db import BUCKET, NEWEST, job_env, seed
from tests.fixtures.rehearsal import KUBECONFIG, cnpg_connection, kubectl_json, wait_for

PLAYBOOK = "tests/integration/playbooks/backup_role.yml"
MODULE_UTILS = REPO_ROOT / "plugins" / "module_utils" / "backup.py"
RUNNER = REPO_ROOT / "roles" / "discourse_backup" / "files" / "logical_backup_job.py"


@pytest.mark.postgres
@pytest.mark.s3
def test_job_script_streams_the_same_backup_as_the_module(tmp_path, postgres_server, postgres_db, s3_server):
    seed(postgres_server, postgres_db)
    s3_server.client().create_bucket(Bucket=BUCKET)
    workdir = tmp_path / "opt-forumops"
    workdir.mkdir()
    shutil.copy(MODULE_UTILS, workdir / "backup.py")
    shutil.copy(RUNNER, workdir / "run.py")
    env = {
        "PATH": f"{postgres_server.bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONDONTWRITEBYTECODE": "1",
        **job_env(postgres_server, postgres_db, s3_server),
    }
    proc = subprocess.run(
        [sys.executable, str(workdir / "run.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema_version"] == NEWEST
    assert report["key"].startswith("default/forum-example-com-")
    assert report["key"].endswith(f"-v{NEWEST}.sql.gz")
    obj = s3_server.client().get_object(Bucket=BUCKET, Key=report["key"])
    data = obj["Body"].read()
    assert obj["Metadata"] == {"sha256": hashlib.sha256(data).hexdigest(), "pg-dump": report["pg_dump"]}
    assert report["sha256"] == obj["Metadata"]["sha256"]
    # Debian's older pg_dump is installed too (/usr/lib/postgresql/*/bin): the one that fits the
    # server ran, as upstream's PostgresTools.find picks it.
    assert report["pg_dump"].startswith("pg_dump (PostgreSQL) 18."), report["pg_dump"]
    sql = gzip.decompress(data).decode()
    assert " OWNER TO " not in sql
    assert "\nCOPY public.posts " in sql


def job_variables(ns, tmp_path, **overrides):
    return {
        "discourse_kubeconfig": str(KUBECONFIG),
        "discourse_namespace": ns,
        "discourse_site_name": "forum_a",
        "discourse_backup_method": "logical",
        "discourse_backup_logical_job_image": "registry.example/forumops/pg-backup:18",
        "discourse_backup_wait_timeout": 120,
        "discourse_database_connection": cnpg_connection(ns),
        "discourse_storage_connection": {
            "backups_bucket": "forum-a-backups",
            "endpoint": "https://objects.example.test",
            "region": "eu-central",
            "path_style": True,
            "credentials_secret": "forum-a-s3",
        },
        "backup_facts_file": str(tmp_path / "facts.json"),
        **overrides,
    }


def play_backup_role(tmp_path, variables):
    return run_with_vars(PLAYBOOK, write_varfile(tmp_path, variables))


@pytest.mark.rehearsal
def test_job_runner_applies_the_script_configmap_and_a_job_without_secret_values(
    rehearsal_namespace, tmp_path
):
    ns = rehearsal_namespace
    proc = play_backup_role(tmp_path, job_variables(ns, tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    job_name = json.loads((tmp_path / "facts.json").read_text())["report"]["job"]
    assert job_name.startswith("forum-a-backup-")

    job = wait_for(lambda: kubectl_json("get", "job", job_name, "-n", ns), "the Job")
    assert job["status"]["succeeded"] == 1
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/forumops/pg-backup:18"
    assert container["command"] == ["python3", "/opt/forumops/run.py"]
    env = {item["name"]: item for item in container["env"]}
    assert env["PGHOST"]["value"] == f"discourse-pg-rw.{ns}.svc"
    assert env["PGPASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "discourse-pg-credentials", "key": "password"}
    }
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {
        "secretKeyRef": {"name": "forum-a-s3", "key": "access-key-id"}
    }
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "forum-a-s3", "key": "secret-access-key"}
    }
    assert env["S3_PATH_STYLE"]["value"] == "true"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True

    configmap = kubectl_json("get", "configmap", "forum-a-logical-backup", "-n", ns)
    assert configmap["data"]["backup.py"] == MODULE_UTILS.read_text()
    assert configmap["data"]["run.py"] == RUNNER.read_text()


@pytest.mark.rehearsal
def test_the_job_runs_the_runner_the_build_manifest_records(rehearsal_namespace, tmp_path):
    """No image given: the Job runs the runner build_image.yml built next to the Discourse image
    (the build manifest's backup_runner section, by digest); with neither, the role stops first."""
    ns = rehearsal_namespace
    plan = backup_runner.runner_plan(
        {
            "repository": "registry.example.test/forum/discourse-backup",
            "base_image": {"repository": "docker.io/library/postgres", "tag": "18-trixie"},
            "postgres_major": 18,
        },
        {"backup.py": MODULE_UTILS.read_text(), "run.py": RUNNER.read_text()},
    )
    digest = "sha256:" + "5e" * 32
    manifest = tmp_path / "build-manifest.json"
    manifest.write_text(json.dumps({"backup_runner": backup_runner.runner_manifest(plan, digest)}))

    missing = play_backup_role(tmp_path, job_variables(ns, tmp_path, discourse_backup_logical_job_image=""))
    assert missing.returncode != 0
    assert "discourse_backup_logical_job_image: the Job runner needs an image" in missing.stdout
    assert kubectl_json("get", "jobs", "-n", ns)["items"] == []

    proc = play_backup_role(
        tmp_path,
        job_variables(
            ns, tmp_path, discourse_backup_logical_job_image="", discourse_backup_build_manifest=str(manifest)
        ),
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    job_name = json.loads((tmp_path / "facts.json").read_text())["report"]["job"]
    job = kubectl_json("get", "job", job_name, "-n", ns)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{plan['reference']}@{digest}"
    assert plan["reference"].startswith("registry.example.test/forum/discourse-backup:pg18-")
