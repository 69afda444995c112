"""discourse_valkey on the rehearsal cluster: the StatefulSet converges, becomes Ready, stays put.

Real kube-apiserver, controller-manager and scheduler bind the data volume to a pre-created PV; kwok
marks the pod Running and Ready. The second run must change nothing and keep the password.
"""

import base64
import hashlib
import re

import pytest

from tests.fixtures.rehearsal import apply_manifest, kubectl_json
from tests.fixtures.valkey import SESSION_PASSWORD, external_connection, recap, run_role

pytestmark = pytest.mark.rehearsal

LABELS = {
    "app.kubernetes.io/name": "valkey",
    "app.kubernetes.io/instance": "forum",
    "app.kubernetes.io/component": "cache",
    "app.kubernetes.io/part-of": "discourse",
    "app.kubernetes.io/managed-by": "forumops.discourse",
}


def run_forum(ansible, tmp_path, kubeconfig, namespace, **inputs):
    """The role for site "forum" in namespace; returns (process, published facts or None)."""
    return run_role(
        ansible,
        tmp_path,
        discourse_kubeconfig=str(kubeconfig),
        discourse_namespace=namespace,
        discourse_site_name="forum",
        **inputs,
    )


def converge(ansible, tmp_path, kubeconfig, namespace, **inputs):
    result, facts = run_forum(ansible, tmp_path, kubeconfig, namespace, **inputs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, facts


def get(kind, name, namespace):
    return kubectl_json("get", kind, name, "-n", namespace)


def password_of(namespace, name="valkey-password"):
    return base64.b64decode(get("secret", name, namespace)["data"]["password"]).decode()


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_statefulset_converges_ready_and_idempotent(
    ansible, tmp_path, rehearsal_kubeconfig, rehearsal_namespace
):
    ns = rehearsal_namespace
    first, facts = converge(ansible, tmp_path, rehearsal_kubeconfig, ns)

    assert recap(first)["changed"] >= 1
    assert facts == {
        "host": f"valkey.{ns}.svc",
        "port": 6379,
        "secret_name": "valkey-password",
        "password_key": "password",
        "username": "",
        "tls": False,
    }
    sts = get("statefulset", "valkey", ns)
    assert sts["status"]["readyReplicas"] == 1
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    pod = get("pod", "valkey-0", ns)
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
    pvc = get("pvc", "data-valkey-0", ns)
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"

    for kind, name in [
        ("secret", "valkey-password"),
        ("configmap", "valkey"),
        ("service", "valkey"),
        ("service", "valkey-headless"),
        ("networkpolicy", "valkey"),
        ("statefulset", "valkey"),
    ]:
        assert get(kind, name, ns)["metadata"]["labels"] == LABELS, (kind, name)

    password = password_of(ns)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)
    conf = get("configmap", "valkey", ns)["data"]["valkey.conf"]
    assert password not in conf
    assert sts["spec"]["template"]["metadata"]["annotations"] == {
        "forumops.io/config-checksum": sha256(conf),
        "forumops.io/password-checksum": sha256(sha256(password)),
    }
    pod_spec = sts["spec"]["template"]["spec"]
    assert pod_spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 999,
        "runAsGroup": 999,
        "fsGroup": 999,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = pod_spec["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {m["mountPath"]: m["name"] for m in container["volumeMounts"]} == {
        "/data": "data",
        "/etc/valkey": "config",
        "/tmp": "tmp",
    }
    assert get("service", "valkey-headless", ns)["spec"]["clusterIP"] == "None"
    assert get("networkpolicy", "valkey", ns)["spec"] == {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": "valkey", "app.kubernetes.io/instance": "forum"}
        },
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "discourse",
                                "app.kubernetes.io/instance": "forum",
                            }
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 6379}],
            }
        ],
    }

    second, _facts = converge(ansible, tmp_path, rehearsal_kubeconfig, ns)

    assert recap(second)["changed"] == 0, second.stdout
    assert password_of(ns) == password
    assert password not in first.stdout + second.stdout + first.stderr + second.stderr


def test_changing_maxmemory_rolls_the_pod_and_keeps_the_password(
    ansible, tmp_path, rehearsal_kubeconfig, rehearsal_namespace
):
    ns = rehearsal_namespace
    converge(ansible, tmp_path, rehearsal_kubeconfig, ns, discourse_valkey_maxmemory="256mb")
    before = get("statefulset", "valkey", ns)
    password = password_of(ns)
    objects = [
        ("secret", "valkey-password"),
        ("configmap", "valkey"),
        ("service", "valkey-headless"),
        ("service", "valkey"),
        ("networkpolicy", "valkey"),
        ("statefulset", "valkey"),
    ]
    versions = {obj: get(*obj, ns)["metadata"]["resourceVersion"] for obj in objects[:-1]}
    versions[objects[-1]] = before["metadata"]["generation"]

    changed, _facts = converge(
        ansible, tmp_path, rehearsal_kubeconfig, ns, discourse_valkey_maxmemory="384mb"
    )

    after = get("statefulset", "valkey", ns)
    conf = get("configmap", "valkey", ns)["data"]["valkey.conf"]
    assert "\nmaxmemory 384mb\n" in conf
    assert recap(changed)["changed"] == 1
    # Only the ConfigMap and the StatefulSet's pod template changed; the other objects were left alone.
    changed_objects = [
        obj
        for obj in objects
        if get(*obj, ns)["metadata"]["resourceVersion" if obj[0] != "statefulset" else "generation"]
        != versions[obj]
    ]
    assert changed_objects == [("configmap", "valkey"), ("statefulset", "valkey")]
    annotations_before = before["spec"]["template"]["metadata"]["annotations"]
    annotations_after = after["spec"]["template"]["metadata"]["annotations"]
    assert annotations_after["forumops.io/config-checksum"] == sha256(conf)
    assert (
        annotations_after["forumops.io/config-checksum"] != annotations_before["forumops.io/config-checksum"]
    )
    assert (
        annotations_after["forumops.io/password-checksum"]
        == annotations_before["forumops.io/password-checksum"]
    )
    # A new pod-template revision, rolled out before the role returned.
    assert after["status"]["updateRevision"] != before["status"]["updateRevision"]
    assert after["status"]["currentRevision"] == after["status"]["updateRevision"]
    assert after["status"]["readyReplicas"] == 1
    assert password_of(ns) == password


@pytest.mark.valkey
def test_external_mode_writes_the_secret_once_and_reads_it_back(
    ansible, tmp_path, rehearsal_kubeconfig, rehearsal_namespace, valkey_server
):
    ns = rehearsal_namespace
    inputs = {
        "discourse_valkey_mode": "external",
        "discourse_valkey_external_host": valkey_server.host,
        "discourse_valkey_external_port": valkey_server.port,
    }
    first, facts = converge(
        ansible,
        tmp_path,
        rehearsal_kubeconfig,
        ns,
        discourse_valkey_external_password=SESSION_PASSWORD,
        **inputs,
    )
    second, _facts = converge(
        ansible,
        tmp_path,
        rehearsal_kubeconfig,
        ns,
        discourse_valkey_external_password=SESSION_PASSWORD,
        **inputs,
    )
    # Without the password in the inventory, the role checks the server with the Secret's.
    from_secret, secret_facts = converge(ansible, tmp_path, rehearsal_kubeconfig, ns, **inputs)

    assert password_of(ns) == SESSION_PASSWORD
    assert get("secret", "valkey-password", ns)["metadata"]["labels"] == LABELS
    assert recap(first)["changed"] == 1  # the Secret
    assert recap(second)["changed"] == 0
    assert recap(from_secret)["changed"] == 0
    assert facts == secret_facts == external_connection(valkey_server)
    # No StatefulSet for an external server.
    assert kubectl_json("get", "statefulsets", "-n", ns)["items"] == []


def test_an_api_failure_is_reported_although_the_apply_task_hides_its_output(
    ansible, tmp_path, rehearsal_kubeconfig
):
    # The apply task is no_log (the Secret carries the password); its error is re-raised, redacted.
    result, facts = run_forum(ansible, tmp_path, rehearsal_kubeconfig, "valkey-namespace-that-does-not-exist")

    output = " ".join(result.stdout.split())
    assert result.returncode == 2
    assert facts is None
    assert "Applying the Valkey objects in namespace valkey-namespace-that-does-not-exist failed" in output
    assert '"valkey-namespace-that-does-not-exist" not found' in output.replace("\\", "")


def test_an_existing_secret_without_a_password_is_never_replaced(
    ansible, tmp_path, rehearsal_kubeconfig, rehearsal_namespace
):
    ns = rehearsal_namespace
    apply_manifest(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "valkey-password"},
            "stringData": {"other": "kept-as-it-is"},
        },
        ns,
    )

    result, facts = run_forum(ansible, tmp_path, rehearsal_kubeconfig, ns)

    output = " ".join(result.stdout.split())
    assert result.returncode == 2, output
    assert facts is None
    assert (
        f'Secret {ns}/valkey-password exists but has no non-empty key "password"; it is not replaced.'
        in output
    )
    secret = get("secret", "valkey-password", ns)
    assert {key: base64.b64decode(value).decode() for key, value in secret["data"].items()} == {
        "other": "kept-as-it-is"
    }
    # Nothing else was applied.
    assert (
        kubectl_json(
            "get", "statefulsets,configmaps,services", "-n", ns, "-l", "app.kubernetes.io/name=valkey"
        )["items"]
        == []
    )
