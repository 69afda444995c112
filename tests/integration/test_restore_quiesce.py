"""playbooks/restore.yml scales the site to zero while it restores, and back even when it fails.

The site's web and Sidekiq Deployments run on the rehearsal cluster (real kube-apiserver and
controllers); its database is on the real PostgreSQL 18 server and its backups bucket on the real
S3 server. A watch on the Deployments records every replica count the API server stored.
"""

import subprocess

import pytest

from tests.fixtures.backup_db import SITE, corrupt, debug_report, failed_msg, restore_inventory, run_playbook
from tests.fixtures.rehearsal import apply_manifest, kubectl_json, rehearsal_env, wait_for

pytestmark = [pytest.mark.rehearsal, pytest.mark.postgres, pytest.mark.s3]

REPLICAS = {"forum-web": 2, "forum-sidekiq": 1}


def deployment(name, replicas):
    labels = {"app.kubernetes.io/name": "discourse", "app.kubernetes.io/instance": SITE}
    component = {"app.kubernetes.io/component": name.rsplit("-", 1)[1]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**labels, **component}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": component},
            "template": {
                "metadata": {"labels": {**labels, **component}},
                "spec": {"containers": [{"name": "discourse", "image": "registry.invalid/discourse:1"}]},
            },
        },
    }


def replicas(namespace):
    items = kubectl_json("get", "deployments", "-n", namespace)["items"]
    return {d["metadata"]["name"]: d["spec"]["replicas"] for d in items}


@pytest.fixture
def site_deployments(rehearsal_namespace):
    apply_manifest(
        {"apiVersion": "v1", "kind": "List", "items": [deployment(n, r) for n, r in REPLICAS.items()]},
        namespace=rehearsal_namespace,
    )
    wait_for(lambda: replicas(rehearsal_namespace) == REPLICAS, "the site's Deployments")
    return rehearsal_namespace


def watch(namespace):
    return subprocess.Popen(
        [
            "kubectl",
            "get",
            "deployments",
            "-n",
            namespace,
            "--watch",
            "-o",
            "jsonpath={.metadata.name}={.spec.replicas}{'\\n'}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=rehearsal_env(),
    )


def seen(watcher):
    watcher.terminate()
    return [line.strip() for line in watcher.communicate()[0].splitlines() if line.strip()]


@pytest.mark.parametrize("outcome", ["restored", "failed"])
def test_restore_scales_the_site_to_zero_and_back(
    ansible,
    tmp_path,
    postgres_server,
    s3_server,
    site_db,
    restore_target,
    site_deployments,
    rehearsal_kubeconfig,
    outcome,
):
    inv = restore_inventory(
        tmp_path,
        postgres_server,
        s3_server,
        site_db,
        restore_target,
        discourse_namespace=site_deployments,
        discourse_kubeconfig=str(rehearsal_kubeconfig),
        discourse_backup_restore_quiesce=True,
    )
    made = run_playbook(ansible, "playbooks/backup.yml", inv)
    assert made.returncode == 0, made.stdout[-3000:]
    if outcome == "failed":
        corrupt(s3_server, debug_report(made.stdout)["key"])
    watcher = watch(site_deployments)

    result = run_playbook(ansible, "playbooks/restore.yml", inv, "-e", "discourse_restore_confirm=true")

    if outcome == "failed":
        assert result.returncode != 0
        assert "sha256 mismatch" in failed_msg(result.stdout)
    else:
        assert result.returncode == 0, result.stdout[-3000:]
    assert replicas(site_deployments) == REPLICAS
    history = seen(watcher)
    for name, count in REPLICAS.items():
        mine = [line for line in history if line.startswith(f"{name}=")]
        # It was running, was scaled to zero during the restore, and has its replicas again.
        assert mine[0] == f"{name}={count}" and f"{name}=0" in mine and mine[-1] == f"{name}={count}", mine
    managers = {
        f["manager"]
        for d in kubectl_json("get", "deployments", "-n", site_deployments, "--show-managed-fields")["items"]
        for f in d["metadata"]["managedFields"]
    }
    assert "forumops.discourse-restore" in managers
