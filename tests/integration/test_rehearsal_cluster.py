"""The rehearsal cluster behaves like a real cluster for everything our roles rely on.

Real kube-apiserver, etcd, controller-manager and scheduler; kwok plays the kubelets. No mocks.
"""

import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.fixtures.ansible import run_tool
from tests.fixtures.rehearsal import (
    KUBECONFIG,
    STATE_DIR,
    ansible_kube_env,
    apply_manifest,
    kubectl,
    kubectl_json,
    wait_for,
)

pytestmark = pytest.mark.rehearsal

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # never pulled: kwok only pretends to run it


def pod_template(labels, restart_policy="Always"):
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [{"name": "main", "image": PAUSE_IMAGE}],
        },
    }


def job(name, labels):
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        # No retries: a failing pod must fail the Job at once, not after minutes of back-off.
        "spec": {"backoffLimit": 0, "template": pod_template(labels, restart_policy="Never")},
    }


def job_condition(namespace, name):
    """The Job's terminal condition type (Complete or Failed), or None while it runs."""
    conditions = kubectl_json("get", "job", name, "-n", namespace).get("status", {}).get("conditions", [])
    return next(
        (c["type"] for c in conditions if c["type"] in ("Complete", "Failed") and c["status"] == "True"), None
    )


def test_three_untainted_nodes_are_ready(rehearsal_kubeconfig):
    nodes = kubectl_json("get", "nodes")["items"]

    assert len(nodes) == 3
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node["metadata"]["name"]
        assert not node["spec"].get("taints"), node["spec"].get("taints")


def test_deployment_reaches_two_ready_replicas(rehearsal_namespace):
    apply_manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": pod_template({"app": "web"}),
            },
        },
        rehearsal_namespace,
    )

    kubectl("rollout", "status", "deployment/web", "-n", rehearsal_namespace, "--timeout=60s")

    deployment = kubectl_json("get", "deployment", "web", "-n", rehearsal_namespace)
    assert deployment["status"]["readyReplicas"] == 2
    pods = kubectl_json("get", "pods", "-n", rehearsal_namespace, "-l", "app=web")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Running", "Running"]
    assert all(p["status"].get("podIP") for p in pods)


def test_job_completes(rehearsal_namespace):
    apply_manifest(job("migrate", {"app": "migrate"}), rehearsal_namespace)

    assert (
        wait_for(lambda: job_condition(rehearsal_namespace, "migrate"), "the Job to finish", timeout=60)
        == "Complete"
    )
    assert kubectl_json("get", "job", "migrate", "-n", rehearsal_namespace)["status"]["succeeded"] == 1


def test_job_whose_pod_is_labelled_to_fail_fails(rehearsal_namespace):
    apply_manifest(job("migrate", {"app": "migrate", "forumops.test/fail": "true"}), rehearsal_namespace)

    assert (
        wait_for(lambda: job_condition(rehearsal_namespace, "migrate"), "the Job to finish", timeout=60)
        == "Failed"
    )
    pod = kubectl_json("get", "pods", "-n", rehearsal_namespace, "-l", "app=migrate")["items"][0]
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1


def test_statefulset_with_volume_claim_template_becomes_ready(rehearsal_namespace):
    apply_manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "valkey"},
            "spec": {
                "replicas": 2,
                "serviceName": "valkey",
                "selector": {"matchLabels": {"app": "valkey"}},
                "template": {
                    **pod_template({"app": "valkey"}),
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": PAUSE_IMAGE,
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ]
                    },
                },
                # No storageClassName: the cluster's default StorageClass must serve it.
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
        rehearsal_namespace,
    )

    kubectl("rollout", "status", "statefulset/valkey", "-n", rehearsal_namespace, "--timeout=90s")

    claims = kubectl_json("get", "pvc", "-n", rehearsal_namespace)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-valkey-0", "data-valkey-1"]
    assert {c["status"]["phase"] for c in claims} == {"Bound"}


CNPG_CLUSTER = {
    "apiVersion": "postgresql.cnpg.io/v1",
    "kind": "Cluster",
    "metadata": {"name": "discourse-db"},
    "spec": {
        "instances": 2,
        "imageName": "ghcr.io/cloudnative-pg/postgresql:18",
        "storage": {"size": "10Gi"},
        "bootstrap": {"initdb": {"database": "discourse", "owner": "discourse"}},
        "plugins": [
            {
                "name": "barman-cloud.cloudnative-pg.io",
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": "discourse-backups"},
            }
        ],
    },
}

OBJECT_STORE = {
    "apiVersion": "barmancloud.cnpg.io/v1",
    "kind": "ObjectStore",
    "metadata": {"name": "discourse-backups"},
    "spec": {
        "configuration": {
            "destinationPath": "s3://backups/discourse",
            "endpointURL": "http://s3.example.test:9000",
            "s3Credentials": {
                "accessKeyId": {"name": "backup-credentials", "key": "ACCESS_KEY_ID"},
                "secretAccessKey": {"name": "backup-credentials", "key": "ACCESS_SECRET_KEY"},
            },
        },
        "retentionPolicy": "30d",
    },
}

CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "forum-tls"},
    "spec": {
        "secretName": "forum-tls",
        "dnsNames": ["forum.example.test"],
        "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
    },
}


def misspelled(manifest, correct, wrong):
    """A copy of `manifest` whose spec field `correct` is spelled `wrong`."""
    spec = dict(manifest["spec"])
    spec[wrong] = spec.pop(correct)
    return {**manifest, "spec": spec}


REJECTION = {
    # Server-side apply builds a typed patch from the CRD schema, so unknown fields never pass.
    "server-side-apply": ".spec.{typo}: field not declared in schema",
    # A plain create with fieldValidation=Strict, as the python client and kubectl create send it.
    "create-strict": 'unknown field "spec.{typo}"',
}


def submit(manifest, namespace, method):
    if method == "server-side-apply":
        return apply_manifest(manifest, namespace, check=False)
    return kubectl(
        "create",
        "--validate=strict",
        "-n",
        namespace,
        "-f",
        "-",
        input_text=json.dumps(manifest),
        check=False,
    )


@pytest.mark.parametrize("method", REJECTION)
@pytest.mark.parametrize(
    ("manifest", "field", "typo"),
    [
        (CNPG_CLUSTER, "instances", "instance"),
        (OBJECT_STORE, "retentionPolicy", "retentionPolicies"),
        (CERTIFICATE, "dnsNames", "dnsName"),
    ],
    ids=["cnpg-cluster", "barman-objectstore", "cert-manager-certificate"],
)
def test_real_crd_rejects_misspelled_field_and_accepts_valid_object(
    rehearsal_namespace, manifest, field, typo, method
):
    rejected = submit(misspelled(manifest, field, typo), rehearsal_namespace, method)

    assert rejected.returncode != 0
    assert REJECTION[method].format(typo=typo) in rejected.stderr

    accepted = submit(manifest, rehearsal_namespace, method)
    assert accepted.returncode == 0, accepted.stderr
    stored = kubectl_json(
        "get",
        manifest["kind"].lower() + "." + manifest["apiVersion"].split("/")[0],
        manifest["metadata"]["name"],
        "-n",
        rehearsal_namespace,
    )
    assert stored["spec"][field] == manifest["spec"][field]


def test_a_manifest_list_applies_and_its_deployment_rolls_out(rehearsal_namespace):
    playbook = Path(__file__).parent / "playbooks" / "rehearsal_apply.yml"
    env = ansible_kube_env()

    result = run_tool(
        "ansible-playbook", playbook, "-e", f"rehearsal_namespace={rehearsal_namespace}", env=env, timeout=300
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert kubectl_json("get", "configmap", "site-settings", "-n", rehearsal_namespace)["data"] == {
        "DISCOURSE_HOSTNAME": "forum.example.test"
    }
    assert kubectl_json("get", "service", "web", "-n", rehearsal_namespace)["spec"]["ports"][0]["port"] == 80
    kubectl("rollout", "status", "deployment/web", "-n", rehearsal_namespace, "--timeout=60s")


def test_a_new_cnpg_cluster_labelled_for_kwok_is_reported_healthy_as_the_operator_would(rehearsal_namespace):
    for name, labels in (("pg", {"forumops.test/operator": "kwok"}), ("unlabelled", {})):
        apply_manifest(
            {
                "apiVersion": "postgresql.cnpg.io/v1",
                "kind": "Cluster",
                "metadata": {"name": name, "labels": labels},
                "spec": {"instances": 3, "storage": {"size": "1Gi"}},
            },
            rehearsal_namespace,
        )

    status = wait_for(
        lambda: kubectl_json("get", "cluster", "pg", "-n", rehearsal_namespace).get("status"),
        "kwok's CloudNativePG stage",
        timeout=60,
    )

    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert status["phase"] == "Cluster in healthy state"
    assert (status["instances"], status["readyInstances"]) == (3, 3)
    assert [(c["status"], c["reason"]) for c in ready] == [("True", "ClusterIsReady")]
    # Opt-in: a Cluster created at the same time without the label is left to the test.
    assert "status" not in kubectl_json("get", "cluster", "unlabelled", "-n", rehearsal_namespace)


def test_operator_stand_ins_are_available_under_their_real_names(rehearsal_kubeconfig):
    def available():
        deployments = kubectl_json("get", "deployments", "-A")["items"]
        return sorted(
            f"{d['metadata']['namespace']}/{d['metadata']['name']}"
            for d in deployments
            if d["metadata"]["namespace"] in ("cnpg-system", "cert-manager", "ingress-nginx")
            and d.get("status", {}).get("availableReplicas", 0) >= 1
        )

    names = wait_for(lambda: len(available()) == 4 and available(), "the operator stand-ins", timeout=60)

    assert names == [
        "cert-manager/cert-manager",
        "cnpg-system/barman-cloud",
        "cnpg-system/cnpg-controller-manager",
        "ingress-nginx/ingress-nginx-controller",
    ]
    plugin = kubectl_json("get", "service", "-n", "cnpg-system", "-l", "cnpg.io/pluginName")["items"]
    assert [s["metadata"]["name"] for s in plugin] == ["barman-cloud"]


def test_the_s3_stand_in_answers_on_the_inventory_overlays_endpoint(rehearsal_kubeconfig):
    overlay = yaml.safe_load((STATE_DIR / "inventory" / "group_vars" / "all.yml").read_text())
    with urllib.request.urlopen(overlay["discourse_storage_api_endpoint"] + "/", timeout=10) as response:
        body = response.read().decode()

    assert response.status == 200
    assert "ListAllMyBucketsResult" in body
    assert overlay["discourse_kubeconfig"] == str(KUBECONFIG)
    assert overlay["discourse_database_cluster_labels"] == {"forumops.test/operator": "kwok"}
