"""forumops.discourse.k8s_exec against the rehearsal API server: a real exec subresource stream.

The API server upgrades our WebSocket (v5.channel.k8s.io), translates it to the kubelet's stream
and back, as on any cluster since Kubernetes 1.30; kwok's server plays the kubelet and runs the
command on this machine (tools/rehearsal/manifests/kwok-stages.yaml, ClusterExec).

Upstream: kubernetes/client-go v0.36.1 tools/remotecommand/websocket.go (the protocol kubectl
speaks); sigs.k8s.io/kwok v0.8.0 pkg/kwok/server/debugging_exec.go (kwok runs the command locally
and reports a failed command as an error Status carrying "exit status N", where a kubelet sends
NonZeroExitCode with the code: that form is unit-tested in tests/unit/test_kube_exec.py).
"""

from __future__ import annotations

import json

import pytest

from tests.fixtures.ansible import ansible_env, run_tool
from tests.fixtures.rehearsal import KUBECONFIG, STATE_DIR, apply_manifest, kubectl_json, wait_for

pytestmark = pytest.mark.rehearsal

PLAYBOOK = "tests/integration/playbooks/k8s_exec_task.yml"


def pod(namespace, name="target", containers=("app",), labels=None):
    apply_manifest(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]},
        },
        namespace,
    )
    wait_for(
        lambda: kubectl_json("get", "pod", name, "-n", namespace)["status"].get("phase") == "Running",
        f"pod {name} to run",
    )
    return name


def k8s_exec(tmp_path, namespace, target, command, container=None):
    extra = {
        "exec_namespace": namespace,
        "exec_pod": target,
        "exec_command": command,
        "exec_result_file": str(tmp_path / "result.json"),
    }
    if container:
        extra["exec_container"] = container
    env = ansible_env(K8S_AUTH_KUBECONFIG=str(KUBECONFIG))
    completed = run_tool("ansible-playbook", PLAYBOOK, "-e", json.dumps(extra), env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads((tmp_path / "result.json").read_text())


def test_output_of_both_streams_comes_back_whole(rehearsal_namespace, tmp_path):
    target = pod(rehearsal_namespace, containers=("app", "sidecar"))
    # 200000 bytes: several frames with 64-bit lengths; the working directory is kwok's state dir.
    result = k8s_exec(
        tmp_path,
        rehearsal_namespace,
        target,
        ["sh", "-c", "printf 'to err' >&2; pwd; head -c 200000 /dev/zero | tr '\\0' x"],
        container="sidecar",
    )
    assert result["rc"] == 0 and result["return_code"] == 0 and result["changed"] is True
    assert "failed" not in result or result["failed"] is False
    assert result["stderr"] == "to err"
    first, rest = result["stdout"].split("\n", 1)
    assert first == str(STATE_DIR.resolve())
    assert rest == "x" * 200000


def test_a_string_command_is_split_like_a_shell_without_running_one(rehearsal_namespace, tmp_path):
    target = pod(rehearsal_namespace)
    result = k8s_exec(tmp_path, rehearsal_namespace, target, "printf '%s|' 'a b' \"$HOME\" ';'")
    assert result["stdout"] == "a b|$HOME|;|"


def test_a_failing_command_fails_the_task_with_its_output(rehearsal_namespace, tmp_path):
    target = pod(rehearsal_namespace)
    result = k8s_exec(tmp_path, rehearsal_namespace, target, ["sh", "-c", "echo half; exit 3"])
    assert result["failed"] is True
    assert "exit status 3" in result["msg"]


def test_a_missing_pod_is_named(rehearsal_namespace, tmp_path):
    result = k8s_exec(tmp_path, rehearsal_namespace, "no-such-pod", ["true"])
    assert result["failed"] is True
    assert result["msg"] == f'exec in pod {rehearsal_namespace}/no-such-pod: 404 pods "no-such-pod" not found'
