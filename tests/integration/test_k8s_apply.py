"""forumops.discourse.k8s_apply / k8s_get on the rehearsal cluster (real kube-apiserver, kwok pods).

Each call runs tests/integration/playbooks/k8s_apply_task.yml: one k8s_apply task, its registered
result written to a JSON file the test reads.
"""

import base64
import itertools
import json
import subprocess
import sys

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import kube
from tests.fixtures.ansible import REPO_ROOT, ansible_env, flat_output, run_tool
from tests.fixtures.rehearsal import KUBECONFIG, ansible_kube_env, kubectl, kubectl_json

pytestmark = pytest.mark.rehearsal

PLAYBOOK = "tests/integration/playbooks/k8s_apply_task.yml"
SECRET_VALUE = "k8s-apply-pw-5d1e9b7c3a"
RECAP = "ok={ok} changed={changed} unreachable=0 failed={failed}"
_calls = itertools.count()


def apply(tmp_path, namespace, definitions, *args, read=False, **options):
    """Run the playbook; returns (CompletedProcess, result dict or None, objects read back or None)."""
    number = next(_calls)
    output = tmp_path / f"result-{number}.json"
    read_output = tmp_path / f"read-{number}.json"
    extra = {"k8s_apply_namespace": namespace, "k8s_apply_output": str(output)}
    if definitions is not None:
        extra["k8s_apply_definitions"] = definitions
    if read:
        extra["k8s_apply_read_output"] = str(read_output)
    extra.update({f"k8s_apply_{k}": v for k, v in options.items()})
    variables = tmp_path / f"vars-{number}.json"
    variables.write_text(json.dumps(extra))
    completed = run_tool(
        "ansible-playbook", PLAYBOOK, "-e", f"@{variables}", *args, env=ansible_kube_env(), timeout=300
    )
    result = json.loads(output.read_text()) if output.exists() else None
    objects = json.loads(read_output.read_text()) if read and read_output.exists() else None
    return completed, result, objects


def resource(api_version, kind, name, **fields):
    """An object named ``name`` with the top-level ``fields`` (spec, data...)."""
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **fields}


def config_map(data, name="settings"):
    return resource("v1", "ConfigMap", name, data=data)


def secret(value=SECRET_VALUE):
    return resource("v1", "Secret", "credentials", stringData={"password": value})


def deployment(replicas=2, image="registry.test/web:1"):
    labels = {"app.kubernetes.io/name": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 3000}]}]},
            },
        },
    }


def statefulset():
    labels = {"app.kubernetes.io/name": "cache"}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "cache"},
        "spec": {
            "serviceName": "cache",
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "valkey", "image": "registry.test/valkey:8"}]},
            },
        },
    }


def job(name, fail=False):
    labels = {"forumops.test/fail": "true"} if fail else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "migrate", "image": "registry.test/m:1"}],
                },
            },
        },
    }


def service():
    spec = {
        "selector": {"app.kubernetes.io/name": "web"},
        "ports": [{"name": "http", "port": 80, "targetPort": 3000}],
    }
    return resource("v1", "Service", "web", spec=spec)


def network_policy():
    spec = {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 3000, "protocol": "TCP"}]}],
    }
    return resource("networking.k8s.io/v1", "NetworkPolicy", "web", spec=spec)


def stored_versions(result):
    """{'Kind name': generation for workloads, resourceVersion for the rest} of a result."""
    return {
        f"{r['kind']} {r['metadata']['name']}": r["metadata"]["generation"]
        if r["kind"] in ("Deployment", "StatefulSet")
        else r["metadata"]["resourceVersion"]
        for r in result["resources"]
    }


def recap(completed, ok, changed, failed=0):
    return RECAP.format(ok=ok, changed=changed, failed=failed) in flat_output(completed.stdout)


def test_create_is_changed_the_same_again_is_not_and_one_field_is(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    objects = [config_map({"A": "1"}), secret(), service(), network_policy(), deployment(), statefulset()]

    first, result, _unused = apply(tmp_path, ns, objects)
    assert first.returncode == 0, first.stdout + first.stderr
    assert result["changed"] is True
    assert [(r["kind"], r["metadata"]["name"], r["metadata"]["namespace"]) for r in result["resources"]] == [
        ("ConfigMap", "settings", ns),
        ("Secret", "credentials", ns),
        ("Service", "web", ns),
        ("NetworkPolicy", "web", ns),
        ("Deployment", "web", ns),
        ("StatefulSet", "cache", ns),
    ]
    assert kubectl_json("get", "configmap", "settings", "-n", ns)["data"] == {"A": "1"}
    stored = kubectl_json("get", "secret", "credentials", "-n", ns)["data"]["password"]
    assert base64.b64decode(stored).decode() == SECRET_VALUE
    managers = {
        m["manager"]
        for m in kubectl_json("get", "deployment", "web", "-n", ns, "--show-managed-fields")["metadata"][
            "managedFields"
        ]
    }
    assert "forumops.discourse" in managers
    versions = stored_versions(result)

    # The API server stores nothing for an apply that changes nothing: every resourceVersion stays
    # (the workloads' generation: their controllers keep writing status).
    second, result, read = apply(tmp_path, ns, objects, read=True)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second, ok=4, changed=0)
    assert (result["changed"], result["changed_objects"]) == (False, [])
    assert stored_versions(result) == versions
    # k8s_get reads what was applied, Secret data included (its task is no_log).
    assert [objs[0]["metadata"]["name"] for objs in read] == [
        "settings",
        "credentials",
        "web",
        "web",
        "web",
        "cache",
    ]
    assert base64.b64decode(read[1][0]["data"]["password"]).decode() == SECRET_VALUE

    objects[0] = config_map({"A": "2"})
    third, result, _unused = apply(tmp_path, ns, objects)
    assert third.returncode == 0, third.stdout + third.stderr
    assert result["changed"] is True
    assert result["changed_objects"] == ["ConfigMap/settings"]
    assert kubectl_json("get", "configmap", "settings", "-n", ns)["data"] == {"A": "2"}
    assert {key for key, value in stored_versions(result).items() if value != versions[key]} == {
        "ConfigMap settings"
    }


def test_templates_render_with_the_play_variables_and_no_deprecation_warning(rehearsal_namespace, tmp_path):
    template = tmp_path / "site.yaml.j2"
    template.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site\n"
        "data:\n  TITLE: {{ k8s_apply_title | to_json }}\n"
        "{% for n in range(2) %}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{{ n }}\n"
        "{% endfor %}\n"
    )
    completed, result, _unused = apply(
        tmp_path, rehearsal_namespace, None, template=[str(template)], title="Café: forum"
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result["changed_objects"] == ["ConfigMap/site", "ConfigMap/extra-0", "ConfigMap/extra-1"]
    assert kubectl_json("get", "configmap", "site", "-n", rehearsal_namespace)["data"] == {
        "TITLE": "Café: forum"
    }
    # kubernetes.core.k8s's action plugin warns about deprecated templating APIs on ansible-core 2.19.
    assert "DEPRECATION" not in completed.stdout + completed.stderr


def test_strict_validation_errors_name_the_object_and_the_field(rehearsal_namespace, tmp_path):
    bad = deployment()
    bad["spec"]["replicaz"] = 3
    completed, _unused, _unused = apply(tmp_path, rehearsal_namespace, [config_map({"A": "1"}), bad])
    assert completed.returncode == 2
    # Server-side apply checks fields against the schema: the API server answers 500 "failed to
    # create typed patch object"; the message names the object, the request and the field.
    path = f"/apis/apps/v1/namespaces/{rehearsal_namespace}/deployments/web"
    output = flat_output(completed.stdout)
    assert (
        f"Deployment {rehearsal_namespace}/web: PATCH {path}: 500 failed to create typed patch object"
        in output
    )
    assert ".spec.replicaz: field not declared in schema" in output
    # Objects before the bad one were applied; the bad one was not.
    assert kubectl_json("get", "configmap", "settings", "-n", rehearsal_namespace)["data"] == {"A": "1"}
    assert kubectl("get", "deployment", "web", "-n", rehearsal_namespace, check=False).returncode == 1


def test_a_cnpg_cluster_applies_idempotently_and_waits_for_its_ready_condition(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "db"},
        "spec": {"instances": 1, "storage": {"size": "1Gi"}},
    }
    first, result, _unused = apply(tmp_path, ns, [cluster])
    assert first.returncode == 0, first.stdout + first.stderr
    assert result["changed"] is True
    assert result["resources"][0]["spec"]["instances"] == 1

    # No operator runs: nothing sets Ready, so a short wait times out naming the object.
    waiting, _unused, _unused = apply(
        tmp_path, ns, [cluster], wait=True, wait_condition={"type": "Ready"}, wait_timeout=2
    )
    assert waiting.returncode == 2
    assert f"timed out after 2s waiting for the readiness of Cluster {ns}/db" in flat_output(waiting.stdout)

    # Playing the operator: the Ready condition is set, the wait succeeds and nothing changed.
    condition = {
        "type": "Ready",
        "status": "True",
        "reason": "ClusterIsReady",
        "message": "Cluster is Ready",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    kubectl(
        "patch", "cluster.postgresql.cnpg.io", "db", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"conditions": [condition]}}),
    )  # fmt: skip
    ready, result, _unused = apply(
        tmp_path, ns, [cluster], wait=True, wait_condition={"type": "Ready"}, wait_timeout=30
    )
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert result["changed"] is False
    assert result["resources"][0]["status"]["conditions"][0]["reason"] == "ClusterIsReady"


def test_wait_returns_ready_deployment_statefulset_and_complete_job(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    completed, result, _unused = apply(
        tmp_path, ns, [deployment(replicas=2), statefulset(), job("migrate")], wait=True, wait_timeout=120
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    web, cache, migrate = result["resources"]
    assert (web["status"]["availableReplicas"], web["status"]["updatedReplicas"]) == (2, 2)
    assert cache["status"]["readyReplicas"] == 1
    assert cache["status"]["currentRevision"] == cache["status"]["updateRevision"]
    assert [c["type"] for c in migrate["status"]["conditions"] if c["status"] == "True"] == [
        "SuccessCriteriaMet",
        "Complete",
    ]

    # A new image rolls out: the wait returns once no pod of the old ReplicaSet is left.
    rolled, result, _unused = apply(
        tmp_path, ns, [deployment(replicas=2, image="registry.test/web:2")], wait=True
    )
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert result["changed"] is True
    pods = kubectl_json("get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=web")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert sorted(p["spec"]["containers"][0]["image"] for p in live) == ["registry.test/web:2"] * 2


def test_a_failed_job_fails_the_wait_at_once_with_how_to_retry(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    completed, _unused, _unused = apply(tmp_path, ns, [job("broken", fail=True)], wait=True, wait_timeout=120)
    assert completed.returncode == 2
    assert f"Job {ns}/broken failed (" in flat_output(completed.stdout)
    assert f"kubectl logs -n {ns} job/broken" in flat_output(completed.stdout)
    # create_only leaves the existing Job alone: not changed, and still reported failed.
    again, _unused, _unused = apply(
        tmp_path, ns, [job("broken", fail=True)], create_only=True, wait=True, wait_timeout=30
    )
    assert again.returncode == 2
    assert recap(again, ok=0, changed=0, failed=1)


def test_check_mode_reports_changes_without_making_them(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    new, result, _unused = apply(tmp_path, ns, [config_map({"A": "1"})], "--check", "--diff")
    assert new.returncode == 0, new.stdout + new.stderr
    assert result["changed"] is True
    assert f"+ ConfigMap {ns}/settings (created)" in flat_output(new.stdout)
    assert kubectl("get", "configmap", "settings", "-n", ns, check=False).returncode == 1

    apply(tmp_path, ns, [config_map({"A": "1"})])
    _unused, result, _unused = apply(tmp_path, ns, [config_map({"A": "1"})], "--check")
    assert result["changed"] is False
    changed, result, _unused = apply(tmp_path, ns, [config_map({"A": "2"})], "--check", "--diff")
    assert result["changed"] is True
    assert f'~ ConfigMap {ns}/settings data.A: "1" -> "2"' in flat_output(changed.stdout)
    assert kubectl_json("get", "configmap", "settings", "-n", ns)["data"] == {"A": "1"}


def test_state_absent_deletes_once(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    apply(tmp_path, ns, [config_map({"A": "1"})])
    gone, result, _unused = apply(tmp_path, ns, [config_map({"A": "1"})], state="absent", wait=True)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert result["changed"] is True
    assert kubectl("get", "configmap", "settings", "-n", ns, check=False).returncode == 1
    _unused, result, _unused = apply(tmp_path, ns, [config_map({"A": "1"})], state="absent")
    assert result["changed"] is False


def test_secret_values_never_appear_in_results_diffs_or_verbose_output(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    outputs = []
    for value in (SECRET_VALUE, SECRET_VALUE + "-rotated"):
        completed, result, _unused = apply(tmp_path, ns, [secret(value)], "-vvv", "--diff")
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert result["changed"] is True
        assert result["resources"][0]["data"] == {"password": "<redacted>"}
        outputs += [completed.stdout, completed.stderr, json.dumps(result)]
    assert f"~ Secret {ns}/credentials data.password: <redacted> -> <redacted>" in outputs[3]
    for text in outputs:
        assert SECRET_VALUE not in text
        assert encoded not in text
    stored = kubectl_json("get", "secret", "credentials", "-n", ns)["data"]["password"]
    assert base64.b64decode(stored).decode() == SECRET_VALUE + "-rotated"


def test_the_module_applies_the_same_way_when_run_on_a_host(rehearsal_namespace, tmp_path):
    # What a non-local connection runs: the module itself, fed its arguments as Ansible does.
    args = {
        "ANSIBLE_MODULE_ARGS": {
            "definitions": [config_map({"A": "1"})],
            "namespace": rehearsal_namespace,
            "kubeconfig": str(KUBECONFIG),
        }
    }
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps(args))
    env = ansible_env(PYTHONPATH=str(REPO_ROOT / ".collections"))
    runs = [
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "plugins/modules/k8s_apply.py"), str(args_file)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        for _unused in range(2)
    ]
    first, second = (json.loads(r.stdout) for r in runs)
    assert (first["changed"], second["changed"]) == (True, False), runs[0].stderr
    assert second["resources"][0]["data"] == {"A": "1"}


def test_an_exec_plugin_that_is_not_installed_fails_with_its_install_hint(rehearsal_namespace, tmp_path):
    config = json.loads(KUBECONFIG.read_text())
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "forumops-no-such-plugin",
            "installHint": "Install the AWS CLI: https://aws.amazon.com/cli/",
        }
    }
    exec_kubeconfig = tmp_path / "exec-kubeconfig"
    exec_kubeconfig.write_text(json.dumps(config))
    variables = tmp_path / "vars.json"
    variables.write_text(
        json.dumps(
            {
                "k8s_apply_definitions": [config_map({"A": "1"})],
                "k8s_apply_namespace": rehearsal_namespace,
                "k8s_apply_output": str(tmp_path / "out.json"),
            }
        )
    )
    env = ansible_env(
        K8S_AUTH_KUBECONFIG=str(exec_kubeconfig), FORUMOPS_KUBE_CACHE_DIR=str(tmp_path / "cache")
    )
    completed = run_tool("ansible-playbook", PLAYBOOK, "-e", f"@{variables}", env=env, timeout=120)
    assert completed.returncode == 2
    assert (
        "exec plugin forumops-no-such-plugin is not installed (not found on PATH). "
        "Install the AWS CLI: https://aws.amazon.com/cli/"
    ) in flat_output(completed.stdout)


class _LateReader:
    """The real client, except that its first read of an object says "absent": what a converge sees
    when another one creates the object between its read and its write."""

    def __init__(self, client):
        self.client = client
        self.lied = False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def get(self, obj, namespace=None):
        if not self.lied:
            self.lied = True
            return None
        return self.client.get(obj, namespace)


@pytest.mark.rehearsal
def test_create_only_keeps_what_a_concurrent_converge_created_first(rehearsal_namespace):
    """Reported (issue 22, item 9): two converges of a new site could both write a generated Secret,
    the second replacing the first's value. create_only POSTs, so the second gets 409 and keeps it."""
    ns = rehearsal_namespace
    client = kube.client_for(str(KUBECONFIG))
    first = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "generated", "namespace": ns},
        "stringData": {"value": "made-by-the-first-converge"},
    }
    assert kube.run_apply(client, [first], create_only=True)["changed"] is True
    second = json.loads(json.dumps(first))
    second["stringData"]["value"] = "made-by-the-second-converge"

    outcome = kube.run_apply(_LateReader(client), [second], create_only=True)

    assert outcome["changed"] is False
    live = kubectl_json("get", "secret", "generated", "-n", ns)["data"]["value"]
    assert base64.b64decode(live).decode() == "made-by-the-first-converge"
