"""playbooks/upgrade.yml and playbooks/rollback.yml on the rehearsal cluster.

Three sites (tests/integration/inventories/upgrade) and two build manifests, A and B. kwok runs the
pods: Deployments become ready, Job pods succeed, and a Job pod labelled forumops.test/fail=true
fails (the inventory puts that label on one phase's Job of one site through
discourse_app_job_pod_labels). CloudNativePG does not run here, so the test plays the operator: each
site's Cluster is created Ready beforehand, and a background thread completes every Backup.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import datetime

import pytest

from tests.fixtures.ansible import REPO_ROOT, flat_output, run_tool
from tests.fixtures.rehearsal import (
    ansible_kube_env,
    apply_manifest,
    cnpg_cluster_status,
    kubectl,
    kubectl_json,
)

INVENTORY = REPO_ROOT / "tests/integration/inventories/upgrade"
UPGRADE = REPO_ROOT / "playbooks/upgrade.yml"
ROLLBACK = REPO_ROOT / "playbooks/rollback.yml"
MANIFEST_A = INVENTORY / "manifest-a.json"
MANIFEST_B = INVENTORY / "manifest-b.json"
FAIL = {"forumops.test/fail": "true"}


def image_of(manifest_path):
    image = json.loads(manifest_path.read_text())["image"]
    return f"{image['reference']}@{image['digest']}"


IMAGE_A = image_of(MANIFEST_A)
IMAGE_B = image_of(MANIFEST_B)


def name_of(site):
    return site.replace("_", "-")


def web_selector(site):
    return (
        f"app.kubernetes.io/name=discourse,app.kubernetes.io/instance={site},app.kubernetes.io/component=web"
    )


def run(playbook, namespace, *extra, limit=None, **variables):
    args = [
        "-i",
        INVENTORY / "hosts.yml",
        playbook,
        "-e",
        json.dumps({"discourse_namespace": namespace, **variables}),
    ]
    if limit:
        args += ["--limit", limit]
    return run_tool("ansible-playbook", *args, *extra, env=ansible_kube_env(), timeout=600)


def upgrade(namespace, manifest, limit=None, **variables):
    return run(UPGRADE, namespace, limit=limit, discourse_upgrade_build_manifest=str(manifest), **variables)


def recaps(result):
    return {
        m[1]: {"changed": int(m[2]), "failed": int(m[3])}
        for m in re.finditer(
            r"^(\w+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", result.stdout, re.M
        )
    }


def timestamp(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def other_roles_secrets(namespace, site, database=True):
    """The Secrets the database, Valkey and storage roles would have written, which the pods read
    (the app role stops naming any that is missing)."""
    secrets = {"valkey-password": {"password": "valkey-pw"}}
    secrets[f"{name_of(site)}-s3-credentials"] = {"access-key-id": "AKIAUP", "secret-access-key": "s3-secret"}
    if database:
        secrets[f"{name_of(site)}-pg-credentials"] = {"username": "discourse", "password": "db-pw"}
    for name, data in secrets.items():
        apply_manifest(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}, namespace
        )


def ready_cluster(namespace, site):
    """Each site's CloudNativePG Cluster, Ready as the operator would report it, and the Secrets
    the other roles would have written."""
    other_roles_secrets(namespace, site)
    name = f"{name_of(site)}-pg"
    apply_manifest(
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": name},
            "spec": {"instances": 1, "storage": {"size": "1Gi"}},
        },
        namespace,
    )
    kubectl(
        "patch", "cluster", name, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": cnpg_cluster_status(instances=1)}),
    )  # fmt: skip


class BackupOperator:
    """Completes every new Backup in the namespace, as CloudNativePG and the plugin would."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.completed = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop.wait(0.5):
            items = kubectl_json("get", "backups.postgresql.cnpg.io", "-n", self.namespace)["items"]
            for backup in items:
                if (backup.get("status") or {}).get("phase"):
                    continue
                status = {"phase": "completed", "method": "plugin", "backupId": "20260101T000000"}
                kubectl(
                    "patch", "backup", backup["metadata"]["name"], "-n", self.namespace,
                    "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}),
                )  # fmt: skip
                self.completed.append(backup["metadata"]["name"])

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=10)


def deployed_image(namespace, site):
    deployment = kubectl_json("get", "deployment", f"{name_of(site)}-web", "-n", namespace)
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def replicasets(namespace, site):
    items = kubectl_json("get", "replicasets", "-n", namespace, "-l", web_selector(site))["items"]
    return sorted(items, key=lambda rs: rs["metadata"]["creationTimestamp"])


def jobs(namespace, site):
    items = kubectl_json("get", "jobs", "-n", namespace, "-l", f"app.kubernetes.io/instance={site}")["items"]
    return {j["metadata"]["name"]: j for j in items}


def history(namespace, site):
    return kubectl_json("get", "configmap", f"{name_of(site)}-deploy-history", "-n", namespace)["data"]


def job_name(site, phase, image):
    return f"{name_of(site)}-migrate-{phase}-{hashlib.sha256(image.encode()).hexdigest()[:10]}"


def assert_downgrade_refused(result, site, *unknown_versions):
    """The preflight refused ``site``'s upgrade, naming the applied migrations the image does not
    ship, before any change."""
    assert result.returncode != 0
    assert (
        f"the database is ahead of the image: {len(unknown_versions)} applied migration(s) the image does "
        f"not ship ({', '.join(unknown_versions)}); refusing a downgrade"
    ) in flat_output(result), result.stdout
    assert recaps(result)[site] == {"changed": 0, "failed": 1}


@pytest.mark.rehearsal
def test_upgrade_a_to_b_runs_in_order_records_history_and_refuses_downgrade_and_late_rollback(
    rehearsal_namespace,
):
    ns = rehearsal_namespace
    ready_cluster(ns, "up_a")
    with BackupOperator(ns) as operator:
        first = upgrade(ns, MANIFEST_A, limit="up_a")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "no applied migration versions are recorded" in flat_output(first)
        assert deployed_image(ns, "up_a") == IMAGE_A
        [rs_a] = replicasets(ns, "up_a")

        second = upgrade(ns, MANIFEST_B, limit="up_a")
        assert second.returncode == 0, second.stdout + second.stderr
    # One pre-upgrade Backup per run.
    assert len(operator.completed) == 2, operator.completed

    # The recorded versions of A against B's manifest: B's one new pre- and one new post-deploy
    # migration are pending.
    assert (
        "up_a: upgrade: 1 pre-deploy and 1 post-deploy migration pending; database at 20260101000003, "
        "image at 20260201000002; rollback to the previous image safe"
    ) in flat_output(second), second.stdout
    assert deployed_image(ns, "up_a") == IMAGE_B
    rs_a_again, rs_b = replicasets(ns, "up_a")
    assert rs_a_again["metadata"]["name"] == rs_a["metadata"]["name"]
    all_jobs = jobs(ns, "up_a")
    pre_b = all_jobs[job_name("up_a", "pre", IMAGE_B)]
    post_b = all_jobs[job_name("up_a", "post", IMAGE_B)]
    # Order: pre-deploy completed before the new ReplicaSet existed; post-deploy created after it.
    assert timestamp(pre_b["status"]["completionTime"]) <= timestamp(rs_b["metadata"]["creationTimestamp"])
    assert timestamp(rs_b["metadata"]["creationTimestamp"]) <= timestamp(
        post_b["metadata"]["creationTimestamp"]
    )
    assert post_b["status"]["succeeded"] == 1

    data = history(ns, "up_a")
    assert data["current-image"] == IMAGE_B
    assert data["current-version"] == "v2026.2.0"
    assert data["previous-image"] == IMAGE_A
    assert json.loads(data["applied-versions"]) == [
        "20260101000001", "20260101000002", "20260101000003", "20260201000001", "20260201000002",
    ]  # fmt: skip
    entries = json.loads(data["history"])
    assert [(e["action"], e["image"], e["previous_image"]) for e in entries] == [
        ("upgrade", IMAGE_A, ""),
        ("upgrade", IMAGE_B, IMAGE_A),
    ]
    assert entries[1]["digest"] == IMAGE_B.split("@")[1]
    assert f"up_a: upgraded to v2026.2.0 ({IMAGE_B}); previous {IMAGE_A}" in flat_output(second)

    # Back to A: the database (as recorded) has B's migrations that A does not know: refused in
    # preflight, before any Backup, Job or rollout.
    backups_before = kubectl_json("get", "backups.postgresql.cnpg.io", "-n", ns)["items"]
    down = upgrade(ns, MANIFEST_A, limit="up_a")
    assert_downgrade_refused(down, "up_a", "20260201000001", "20260201000002")
    assert kubectl_json("get", "backups.postgresql.cnpg.io", "-n", ns)["items"] == backups_before
    assert deployed_image(ns, "up_a") == IMAGE_B
    assert history(ns, "up_a") == data

    # B's post-deploy migrations have run: rollback is refused and points to the restore runbook.
    refused = run(ROLLBACK, ns, limit="up_a")
    assert refused.returncode != 0
    assert "REFUSED" in flat_output(refused) and "docs/backup-restore.md" in flat_output(refused), (
        refused.stdout
    )
    assert deployed_image(ns, "up_a") == IMAGE_B


@pytest.mark.rehearsal
def test_fleet_in_waves_of_one_stops_after_a_failed_canary_pre_deploy_job(rehearsal_namespace):
    ns = rehearsal_namespace
    sites = ["up_a", "up_b", "up_c"]
    for site in sites:
        ready_cluster(ns, site)
    first = upgrade(ns, MANIFEST_A, discourse_upgrade_skip_backup=True)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "NO BACKUP before this upgrade" in flat_output(first)
    before = {site: (replicasets(ns, site), set(jobs(ns, site)), history(ns, site)) for site in sites}

    # The canary's pre-deploy Job of B fails.
    failed = upgrade(
        ns,
        MANIFEST_B,
        discourse_upgrade_serial=1,
        discourse_upgrade_skip_backup=True,
        upgrade_test_job_pod_labels={"up_a": {"pre": FAIL}},
    )
    assert failed.returncode != 0
    assert f"up_a: upgrade to {IMAGE_B} FAILED" in flat_output(failed), failed.stdout
    assert f"Nothing was rolled out: the web Deployment still runs {IMAGE_A}" in flat_output(failed)
    # The canary wave was the only one: the other sites never started.
    assert set(recaps(failed)) == {"up_a"}, failed.stdout
    assert "up_b" not in flat_output(failed) and "up_c" not in flat_output(failed)

    # Canary: its pre-deploy Job failed, no new ReplicaSet, A keeps serving, history unchanged.
    pre_b = jobs(ns, "up_a")[job_name("up_a", "pre", IMAGE_B)]
    assert pre_b["status"].get("failed") == 1
    assert job_name("up_a", "post", IMAGE_B) not in jobs(ns, "up_a")
    for site in sites:
        assert deployed_image(ns, site) == IMAGE_A
        rs_before, jobs_before, history_before = before[site]
        assert [r["metadata"]["name"] for r in replicasets(ns, site)] == [
            r["metadata"]["name"] for r in rs_before
        ]
        assert history(ns, site) == history_before
        if site != "up_a":
            assert set(jobs(ns, site)) == jobs_before


@pytest.mark.rehearsal
def test_rollback_after_rollout_before_post_deploy_restores_a(rehearsal_namespace):
    ns = rehearsal_namespace
    ready_cluster(ns, "up_b")
    first = upgrade(ns, MANIFEST_A, limit="up_b", discourse_upgrade_skip_backup=True)
    assert first.returncode == 0, first.stdout + first.stderr

    # B's post-deploy Job fails: the rollout happened, post-deploy migrations did not.
    failed = upgrade(
        ns,
        MANIFEST_B,
        limit="up_b",
        discourse_upgrade_skip_backup=True,
        upgrade_test_job_pod_labels={"up_b": {"post": FAIL}},
    )
    assert failed.returncode != 0
    assert f"The web Deployment now runs {IMAGE_B}" in flat_output(failed), failed.stdout
    assert "playbooks/rollback.yml" in flat_output(failed)
    assert deployed_image(ns, "up_b") == IMAGE_B
    assert jobs(ns, "up_b")[job_name("up_b", "post", IMAGE_B)]["status"].get("failed") == 1
    # The failed upgrade recorded nothing; the rollback's previous image is what ran before it.
    assert history(ns, "up_b")["current-image"] == IMAGE_A

    rolled = run(ROLLBACK, ns, limit="up_b")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert f"up_b: rolled back from {IMAGE_B} to {IMAGE_A}" in flat_output(rolled)
    assert deployed_image(ns, "up_b") == IMAGE_A
    data = history(ns, "up_b")
    assert (data["current-image"], data["previous-image"]) == (IMAGE_A, "")
    assert [(e["action"], e["image"]) for e in json.loads(data["history"])][-1] == ("rollback", IMAGE_A)

    # Nothing further back: a second rollback is refused with a clear message.
    again = run(ROLLBACK, ns, limit="up_b")
    assert again.returncode != 0
    assert "nothing to roll back to" in flat_output(again)


@pytest.mark.rehearsal
@pytest.mark.postgres
def test_external_database_is_read_directly_and_a_database_ahead_stops_before_any_change(
    rehearsal_namespace, postgres_server, postgres_db
):
    ns = rehearsal_namespace
    postgres_server.query(
        "CREATE TABLE schema_migrations (version character varying NOT NULL PRIMARY KEY)", postgres_db
    )
    # A's migrations, and one that neither A nor B ships (a removed plugin, say).
    for version in ["20260101000001", "20260101000002", "20260101000003", "20260115000000"]:
        postgres_server.query("INSERT INTO schema_migrations (version) VALUES (%s)", postgres_db, (version,))
    apply_manifest(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "up-c-db"},
            "stringData": {"password": postgres_server.password},
        },
        ns,
    )
    other_roles_secrets(ns, "up_c", database=False)
    # The database role's inputs: upgrade.yml publishes the connection from them, as site.yml does.
    external = {
        "discourse_database_mode": "external",
        "discourse_database_external_host": postgres_server.host,
        "discourse_database_external_port": postgres_server.port,
        "discourse_database_name": postgres_db,
        "discourse_database_owner": postgres_server.user,
        "discourse_database_secret_name": "up-c-db",
        "discourse_database_sslmode": "disable",
    }

    ahead = upgrade(ns, MANIFEST_B, limit="up_c", **external)
    assert_downgrade_refused(ahead, "up_c", "20260115000000")
    assert (
        kubectl_json("get", "deployments,jobs,configmaps", "-n", ns, "-l", "app.kubernetes.io/instance=up_c")[
            "items"
        ]
        == []
    )

    postgres_server.query("DELETE FROM schema_migrations WHERE version = '20260115000000'", postgres_db)
    ok = upgrade(ns, MANIFEST_B, limit="up_c", **external)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (
        "up_c: upgrade: 1 pre-deploy and 1 post-deploy migration pending; database at 20260101000003, "
        "image at 20260201000002; rollback to the previous image safe"
    ) in flat_output(ok), ok.stdout
    assert "the database is external; take its backup" in flat_output(ok)
    assert deployed_image(ns, "up_c") == IMAGE_B
    assert postgres_server.password not in ok.stdout + ok.stderr + ahead.stdout + ahead.stderr
