"""discourse_database in cnpg mode against the rehearsal cluster (real kube-apiserver, real CRDs).

CloudNativePG does not run there, so the test plays the operator where the role waits: it sets
the Cluster's status to what the operator reports for a healthy cluster.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, changed_failed, start_playbook, write_varfile
from tests.fixtures.rehearsal import (
    KUBECONFIG,
    ansible_kube_env,
    cnpg_cluster_status,
    cnpg_connection,
    kubectl,
    kubectl_json,
    wait_for,
)

pytestmark = pytest.mark.rehearsal

PLAYBOOK = "tests/integration/playbooks/database_converge.yml"
ROLE_VARS = yaml.safe_load((REPO_ROOT / "roles" / "discourse_database" / "vars" / "main.yml").read_text())
EXTENSION_SQL = ROLE_VARS["__discourse_database_extension_sql"]
EXTENSIONS = ROLE_VARS["__discourse_database_extensions"]

STORAGE = {
    "endpoint": "https://objects.example.test",
    "region": "eu-central",
    "uploads_bucket": "forum-a-uploads",
    "backups_bucket": "forum-a-backups",
    "credentials_secret": "forum-a-s3",
}
LABELS = {
    "app.kubernetes.io/name": "postgresql",
    "app.kubernetes.io/instance": "forum_a",
    "app.kubernetes.io/component": "database",
    "app.kubernetes.io/part-of": "discourse",
    "app.kubernetes.io/managed-by": "forumops.discourse",
}


def write_vars(tmp_path, namespace, **variables):
    extra = {
        "discourse_kubeconfig": str(KUBECONFIG),
        "discourse_namespace": namespace,
        "discourse_site_name": "forum_a",
        "database_facts_file": str(tmp_path / "facts.json"),
        **variables,
    }
    return write_varfile(tmp_path, extra)


def start_converge(varfile):
    return start_playbook(PLAYBOOK, "-e", f"@{varfile}", env=ansible_kube_env())


def play_operator(namespace, name="discourse-pg", instances=2, healthy=True):
    """Set the status CloudNativePG writes on the Cluster."""
    status = cnpg_cluster_status(instances, healthy)
    kubectl(
        "patch",
        "cluster",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def converge_playing_the_operator(varfile, namespace):
    """Run the playbook; once the Cluster exists, report it healthy. Returns the output."""
    process = start_converge(varfile)
    try:
        wait_for(
            lambda: (
                process.poll() is not None
                or kubectl("get", "cluster", "discourse-pg", "-n", namespace, check=False).returncode == 0
            ),
            "the role to create the Cluster",
            timeout=180,
        )
        if process.poll() is None:
            play_operator(namespace)
        output, _unused = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    return output


def secret_password(namespace, name="discourse-pg-credentials"):
    secret = kubectl_json("get", "secret", name, "-n", namespace)
    return secret, base64.b64decode(secret["data"]["password"]).decode()


def test_cnpg_mode_applies_every_object_waits_for_ready_and_is_idempotent(rehearsal_namespace, tmp_path):
    namespace = rehearsal_namespace
    varfile = write_vars(
        tmp_path,
        namespace,
        discourse_storage_connection=STORAGE,
        discourse_database_backup_enabled=True,
        discourse_database_pooler_enabled=True,
        discourse_database_podmonitor_enabled=True,
        discourse_database_storage_class="rehearsal-local",
        discourse_database_parameters={"max_connections": 200, "shared_buffers": "256MB"},
        discourse_database_wait_timeout=120,
    )

    first = converge_playing_the_operator(varfile, namespace)

    assert changed_failed(first)["failed"] == 0, first
    # The role waited for the Cluster's Ready condition (k8s_get's wait loop reports its progress).
    assert "discourse_database : Wait for the Cluster's Ready condition" in first
    secret, password = secret_password(namespace)
    assert password not in first
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert base64.b64decode(secret["data"]["username"]).decode() == "discourse"
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)

    cluster = kubectl_json("get", "cluster", "discourse-pg", "-n", namespace)
    spec = cluster["spec"]
    assert cluster["metadata"]["labels"] == LABELS
    assert spec["instances"] == 2
    assert spec["imageName"] == "ghcr.io/cloudnative-pg/postgresql:18.3-standard-trixie"
    assert spec["storage"]["size"] == "10Gi"
    assert spec["storage"]["storageClass"] == "rehearsal-local"
    assert spec["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
    assert spec["postgresql"]["parameters"] == {"max_connections": "200", "shared_buffers": "256MB"}
    initdb = spec["bootstrap"]["initdb"]
    assert initdb["database"] == "discourse"
    assert initdb["owner"] == "discourse"
    assert initdb["secret"] == {"name": "discourse-pg-credentials"}
    assert initdb["postInitTemplateSQL"] == EXTENSION_SQL
    assert initdb["postInitApplicationSQL"] == EXTENSION_SQL
    assert spec["plugins"] == [
        {
            "name": "barman-cloud.cloudnative-pg.io",
            "enabled": True,
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": "discourse-pg-backups"},
        }
    ]

    database = kubectl_json("get", "databases.postgresql.cnpg.io", "discourse-pg-discourse", "-n", namespace)
    assert database["spec"]["cluster"] == {"name": "discourse-pg"}
    assert (database["spec"]["name"], database["spec"]["owner"]) == ("discourse", "discourse")
    assert database["spec"]["extensions"] == [{"name": name, "ensure": "present"} for name in EXTENSIONS]

    store = kubectl_json("get", "objectstores.barmancloud.cnpg.io", "discourse-pg-backups", "-n", namespace)
    assert store["spec"]["retentionPolicy"] == "30d"
    configuration = store["spec"]["configuration"]
    assert configuration["destinationPath"] == "s3://forum-a-backups/cnpg"
    assert configuration["endpointURL"] == "https://objects.example.test"
    assert configuration["s3Credentials"] == {
        "accessKeyId": {"name": "forum-a-s3", "key": "access-key-id"},
        "secretAccessKey": {"name": "forum-a-s3", "key": "secret-access-key"},
    }

    scheduled = kubectl_json(
        "get", "scheduledbackups.postgresql.cnpg.io", "discourse-pg-backup", "-n", namespace
    )
    assert scheduled["spec"]["schedule"] == "0 0 3 * * *"
    assert scheduled["spec"]["method"] == "plugin"
    assert scheduled["spec"]["pluginConfiguration"] == {"name": "barman-cloud.cloudnative-pg.io"}
    assert scheduled["spec"]["cluster"] == {"name": "discourse-pg"}

    pooler = kubectl_json("get", "poolers.postgresql.cnpg.io", "discourse-pg-pooler-rw", "-n", namespace)
    assert pooler["spec"]["pgbouncer"]["poolMode"] == "session"
    assert pooler["spec"]["type"] == "rw"

    monitor = kubectl_json("get", "podmonitors.monitoring.coreos.com", "discourse-pg", "-n", namespace)
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "cnpg.io/cluster": "discourse-pg",
        "cnpg.io/podRole": "instance",
    }
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics"}]

    facts = json.loads((tmp_path / "facts.json").read_text())
    assert facts == {
        **cnpg_connection(namespace),
        "pooler_host": f"discourse-pg-pooler-rw.{namespace}.svc",
        "mode": "cnpg",
        "cluster_name": "discourse-pg",
    }

    # Second run: nothing changes, the password is kept, the Cluster is still ready.
    second = start_converge(varfile).communicate(timeout=300)[0]
    assert changed_failed(second) == {"changed": 0, "failed": 0}, second
    assert secret_password(namespace)[1] == password


def test_the_rendered_manifests_pass_strict_server_side_validation(rehearsal_namespace, tmp_path):
    # The role applies with the Python client; kubectl's strict validation also rejects fields the
    # CRDs do not know, which a lenient apply would silently drop.
    render = tmp_path / "render"
    varfile = write_vars(
        tmp_path,
        rehearsal_namespace,
        discourse_render_dir=str(render),
        discourse_storage_connection=STORAGE,
        discourse_database_backup_enabled=True,
        discourse_database_pooler_enabled=True,
        discourse_database_pooler_mode="transaction",
        discourse_database_podmonitor_enabled=True,
        discourse_database_wal_storage_size="2Gi",
    )
    output = start_converge(varfile).communicate(timeout=300)[0]
    assert changed_failed(output)["failed"] == 0, output
    manifest = render / "forum_a" / "database.yaml"
    text = manifest.read_text()
    assert "kind: Secret" not in text
    assert "Secret " + rehearsal_namespace + "/discourse-pg-credentials" in text

    result = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "--field-manager=forumops.discourse",
        "-f",
        str(manifest),
    )

    assert sorted(result.stdout.split("\n")) == sorted(
        [
            "",
            "cluster.postgresql.cnpg.io/discourse-pg serverside-applied (server dry run)",
            "database.postgresql.cnpg.io/discourse-pg-discourse serverside-applied (server dry run)",
            "objectstore.barmancloud.cnpg.io/discourse-pg-backups serverside-applied (server dry run)",
            "scheduledbackup.postgresql.cnpg.io/discourse-pg-backup serverside-applied (server dry run)",
            "pooler.postgresql.cnpg.io/discourse-pg-pooler-rw serverside-applied (server dry run)",
            "podmonitor.monitoring.coreos.com/discourse-pg serverside-applied (server dry run)",
        ]
    )


def test_the_wait_fails_with_the_clusters_phase_when_it_never_gets_ready(rehearsal_namespace, tmp_path):
    namespace = rehearsal_namespace
    varfile = write_vars(tmp_path, namespace, discourse_database_wait=False, discourse_database_instances=1)
    output = start_converge(varfile).communicate(timeout=300)[0]
    assert changed_failed(output)["failed"] == 0, output
    play_operator(namespace, instances=1, healthy=False)

    varfile = write_vars(
        tmp_path, namespace, discourse_database_wait_timeout=4, discourse_database_instances=1
    )
    output = start_converge(varfile).communicate(timeout=300)[0]

    assert changed_failed(output)["failed"] == 1
    flat = " ".join(output.split())
    assert (
        f"Cluster {namespace}/discourse-pg did not report Ready=True within 4s: phase 'Setting up primary'"
        " (Creating primary instance), ready instances 0/1." in flat
    )


def test_a_given_password_is_used_and_an_existing_one_is_never_replaced(rehearsal_namespace, tmp_path):
    namespace = rehearsal_namespace
    kubectl(
        "create",
        "secret",
        "generic",
        "discourse-pg-credentials",
        "-n",
        namespace,
        "--type=kubernetes.io/basic-auth",
        "--from-literal=username=discourse",
        "--from-literal=password=kept-from-an-earlier-run-0001",
    )
    varfile = write_vars(tmp_path, namespace, discourse_database_wait=False)

    output = start_converge(varfile).communicate(timeout=300)[0]

    assert changed_failed(output)["failed"] == 0, output
    assert secret_password(namespace)[1] == "kept-from-an-earlier-run-0001"
