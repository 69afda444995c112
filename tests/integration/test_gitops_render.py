"""Render mode for GitOps (docs/gitops.md; plugins/module_utils/gitops.py) on the example customer.

- Render mode calls nothing outside the filesystem: site.yml runs in a network namespace with no
  network at all, with a kubeconfig that does not exist and S3, PostgreSQL and Valkey endpoints
  that nothing listens on.
- Each flavour's tree is what `kustomize build` (built from its Go module) accepts, per site and per
  Flux stage, and what the rehearsal cluster's API server accepts in a server-side dry run; the
  objects of the GitOps tools (ExternalSecret, Argo CD Application, Flux Kustomization), whose CRDs
  the rehearsal cluster does not have, are validated against their CRDs read from the Go module
  proxy (tests/fixtures/go_modules.py).
- A replay applies the rendered tree to the rehearsal cluster the way Argo CD or Flux would, by
  their documented rules, for image A and then image B, and checks what tests/integration/
  test_upgrade.py checks for the API path: the new image's pre-deploy Job completed before its
  ReplicaSet existed, and the post-deploy Job was created after it; and each image keeps its Jobs.

The rules the replays follow:
- Argo CD (argoproj/argo-cd docs/user-guide/sync-waves.md, resource_hooks.md): phases PreSync, Sync,
  PostSync; within a phase, waves in ascending order (argocd.argoproj.io/sync-wave, default 0), then
  kind, then name; the next wave starts when every resource of the wave is healthy and every hook of
  it has completed; PostSync after all of that. A hook's delete policy (default BeforeHookCreation,
  gitops-engine pkg/sync/hook/delete_policy.go) deletes an existing hook of the same name before
  creating it. Hooks are not part of the app's resources, so never pruned; with automated prune, a
  resource that left the source is deleted.
- Flux (fluxcd/kustomize-controller docs/spec/v1/kustomizations.md): a Kustomization is applied once
  its dependsOn are Ready; it server-side applies its path's `kustomize build`, recreates an object
  whose immutable fields changed when force is on for it, prunes what left the source unless the
  object says kustomize.toolkit.fluxcd.io/prune: disabled, and with wait: true is Ready once every
  object it applied is healthy (kstatus: a Job Complete, a Deployment rolled out).
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, ansible_env
from tests.fixtures.go_modules import crd
from tests.fixtures.go_tools import go_tool
from tests.fixtures.rehearsal import kubectl, kubectl_json, wait_for

SITE = "example_forum"
NAME = "example-forum"
IMAGE_A = "registry.example.test/forumops/discourse:2026.11.0"
IMAGE_B = "registry.example.test/forumops/discourse:2026.12.0"
REPO_URL = "https://git.example.test/gitops.git"
# Kinds whose CRD the rehearsal cluster lacks: validated against the CRD from the module proxy.
TOOL_KINDS = {"ExternalSecret", "Application", "Kustomization"}
# The light site of the replays: external PostgreSQL and Valkey (their operators and pods are not
# what the order is about), one web pod.
LIGHT = {
    "discourse_database_mode": "external",
    "discourse_database_external_host": "pg.example.test",
    "discourse_valkey_mode": "external",
    "discourse_valkey_external_host": "valkey.example.test",
    "discourse_app_web_replicas": 1,
}


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def render(render_dir, namespace, offline=False, **variables):
    """Run playbooks/site.yml on the example customer in render mode into `render_dir` (a customer
    directory), with a kubeconfig that does not exist; `offline` runs it in a network namespace
    of its own (no interface up: every connection fails)."""
    missing = render_dir.parent / "no-such-kubeconfig"
    values = {"discourse_namespace": namespace, "discourse_render_dir": str(render_dir), **variables}
    command = [
        str(REPO_ROOT / ".venv/bin/ansible-playbook"),
        "-i", "inventories/example",
        "--vault-password-file", "inventories/example/vault-password.txt",
        "playbooks/site.yml",
        "-e", json.dumps(values),
    ]  # fmt: skip
    if offline:
        command = ["unshare", "--net", "--", *command]
    env = ansible_env(KUBECONFIG=str(missing), K8S_AUTH_KUBECONFIG=str(missing))
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    return result


def files_of(render_dir):
    return sorted(str(p.relative_to(render_dir)) for p in render_dir.rglob("*") if p.is_file())


def documents(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


def kustomize_build(directory):
    result = subprocess.run(
        [str(go_tool("kustomize")), "build", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kustomize build {directory}:\n{result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def key(document):
    return f"{document['kind']}/{document['metadata']['name']}"


def strict(schema):
    """A CRD's structural schema with unknown fields refused, as the API server's strict field
    validation refuses them (objects that keep unknown fields say so)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {name: strict(value) for name, value in schema.items() if name != "properties"}
    if "properties" in schema:
        result["properties"] = {name: strict(value) for name, value in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            result["additionalProperties"] = False
    return result


def crd_problems(document):
    """What the CRD of the document's kind refuses in it (served version, group, schema)."""
    definition = crd(document["kind"])
    group, _slash, version = document["apiVersion"].rpartition("/")
    if group != definition["spec"]["group"] or document["kind"] != definition["spec"]["names"]["kind"]:
        return [f"{key(document)}: {document['apiVersion']} is not {definition['spec']['group']}"]
    served = {v["name"]: v for v in definition["spec"]["versions"] if v["served"]}
    if version not in served:
        return [f"{key(document)}: version {version} is not served (served: {sorted(served)})"]
    schema = strict(served[version]["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{key(document)}: {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)
    ]


# --- Render mode calls nothing outside the filesystem -----------------------------------------------


@pytest.mark.parametrize(
    ("tiers", "flavours"),
    [
        pytest.param({}, ("none", "argocd", "flux"), id="example"),
        pytest.param(LIGHT, ("flux",), id="external-database-and-valkey"),
    ],
)
def test_render_mode_calls_nothing_outside_the_filesystem(tmp_path, tiers, flavours):
    """No network at all, no kubeconfig, endpoints nothing listens on: the site still renders, since
    no step calls the Kubernetes API, S3, PostgreSQL or Valkey (the bucket setup, the external
    database's setup and the Valkey check run in render mode only when asked for)."""
    port = closed_port()
    endpoints = {
        "discourse_storage_endpoint": f"http://127.0.0.1:{port}",
        "discourse_storage_api_endpoint": f"http://127.0.0.1:{port}",
        "discourse_database_external_port": port,
        "discourse_valkey_external_port": port,
        "discourse_valkey_external_password": "never-sent",
    }
    if tiers:
        endpoints |= {
            "discourse_database_external_host": "127.0.0.1",
            "discourse_valkey_external_host": "127.0.0.1",
        }
    for flavour in flavours:
        render_dir = tmp_path / flavour / "acme"
        result = render(
            render_dir, "forum-offline", offline=True, discourse_gitops_flavour=flavour, **tiers | endpoints
        )
        assert f"manifests written to {render_dir}/{SITE}" in result.stdout
        assert (render_dir / "kustomization.yaml").is_file()
    # The same run with the network up would have failed at the first call: nothing listens there.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


# --- Each flavour builds, and the API server (or the tool's CRD) accepts every file ----------------


EXPECTED_FILES = {
    "none": [
        "example_forum/app.yaml",
        "example_forum/database.yaml",
        "example_forum/kustomization.yaml",
        "example_forum/storage.yaml",
        "example_forum/valkey.yaml",
        "kustomization.yaml",
    ],
    "argocd": [
        "argocd/example_forum.yaml",
        "example_forum/app.yaml",
        "example_forum/database.yaml",
        "example_forum/kustomization.yaml",
        "example_forum/secrets.yaml",
        "example_forum/storage.yaml",
        "example_forum/valkey.yaml",
        "kustomization.yaml",
    ],
    "flux": [
        "example_forum/app/kustomization.yaml",
        "example_forum/app/workloads.yaml",
        "example_forum/infra/config.yaml",
        "example_forum/infra/database.yaml",
        "example_forum/infra/kustomization.yaml",
        "example_forum/infra/secrets.yaml",
        "example_forum/infra/storage.yaml",
        "example_forum/infra/valkey.yaml",
        "example_forum/kustomization.yaml",
        "example_forum/post/jobs.yaml",
        "example_forum/post/kustomization.yaml",
        "example_forum/pre/jobs.yaml",
        "example_forum/pre/kustomization.yaml",
        "flux/example_forum.yaml",
        "kustomization.yaml",
    ],
}


@pytest.mark.rehearsal
@pytest.mark.parametrize("flavour", ["none", "argocd", "flux"])
def test_each_flavour_builds_with_kustomize_and_every_file_is_accepted(
    rehearsal_namespace, tmp_path, flavour
):
    ns = rehearsal_namespace
    render_dir = tmp_path / "acme"
    gitops = {"discourse_gitops_flavour": flavour, "discourse_app_gitops_repo_url": REPO_URL}
    if flavour != "none":
        gitops |= {
            "discourse_gitops_secrets": "external-secrets",
            "discourse_app_gitops_secret_store": "vault",
        }
    render(render_dir, ns, **gitops)

    assert files_of(render_dir) == EXPECTED_FILES[flavour]
    site = render_dir / SITE
    built = kustomize_build(site)
    # The site's base is every object of its files, once.
    rendered = [
        key(d)
        for path in sorted(site.rglob("*.yaml"))
        if path.name != "kustomization.yaml"
        for d in documents(path)
    ]
    assert sorted(key(d) for d in built) == sorted(rendered)
    assert {d["metadata"]["namespace"] for d in built} == {ns}
    # The customer's base is its sites.
    assert sorted(key(d) for d in kustomize_build(render_dir)) == sorted(rendered)
    jobs = {
        d["metadata"]["name"]: d["metadata"].get("annotations") or {} for d in built if d["kind"] == "Job"
    }
    pre, post = [n for n in jobs if "-migrate-pre-" in n], [n for n in jobs if "-migrate-post-" in n]
    assert len(pre) == len(post) == 1
    if flavour == "argocd":
        assert jobs[pre[0]]["argocd.argoproj.io/hook"] == "Sync"
        assert jobs[pre[0]]["argocd.argoproj.io/sync-wave"] == "1"
        assert jobs[post[0]]["argocd.argoproj.io/hook"] == "PostSync"
        web = next(d for d in built if key(d) == f"Deployment/{NAME}-web")
        assert web["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "2"
    if flavour == "flux":
        stages = {
            stage: {key(d) for d in kustomize_build(site / stage)}
            for stage in ("infra", "pre", "app", "post")
        }
        assert stages["pre"] == {f"Job/{pre[0]}"}
        assert stages["app"] == {f"Deployment/{NAME}-web"}
        assert stages["post"] == {f"Job/{post[0]}"}
        assert {"Cluster/discourse-pg", "StatefulSet/valkey", f"ConfigMap/{NAME}-env"} <= stages["infra"]
        assert jobs[pre[0]]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"

    tool_objects = 0
    for path in sorted(render_dir.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or not documents(path):
            continue
        kinds = {d["kind"] for d in documents(path)}
        if kinds & TOOL_KINDS:
            assert kinds <= TOOL_KINDS, path
            problems = [problem for d in documents(path) for problem in crd_problems(d)]
            assert problems == [], path
            tool_objects += len(documents(path))
            continue
        dry_run = kubectl(
            "apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", str(path), check=False
        )
        assert dry_run.returncode == 0, f"{path}:\n{dry_run.stderr}"
    # Five ExternalSecrets, plus the Application or the four Kustomizations.
    assert tool_objects == {"none": 0, "argocd": 6, "flux": 9}[flavour]
    # Dry runs only.
    assert kubectl_json("get", "deployments,jobs", "-n", ns)["items"] == []


def test_the_tools_crds_refuse_what_they_do_not_know():
    """The offline validation can fail: a misspelt field and an unserved version are refused."""
    external_secret = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x"},
        "spec": {"secretStoreRef": {"name": "vault", "kind": "ClusterSecretStore"}, "refreshIntervl": "1h"},
    }
    assert any("refreshIntervl" in p for p in crd_problems(external_secret))
    assert crd_problems({**external_secret, "apiVersion": "external-secrets.io/v1beta1"}) == [
        "ExternalSecret/x: version v1beta1 is not served (served: ['v1'])"
    ]
    flux = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "x"},
    }
    assert any(
        "'prune' is a required property" in p for p in crd_problems({**flux, "spec": {"interval": "1m"}})
    )


# --- Replays: the order Argo CD and Flux keep ---------------------------------------------------------

# Argo CD waits ARGOCD_SYNC_WAVE_DELAY (default 2 s) between waves; Flux re-evaluates a Kustomization
# whose dependencies were not Ready every --requeue-dependency (default 30 s; 2 s here). Both keep the
# timestamps of consecutive steps in different seconds, so an order the render got wrong shows.
WAVE_DELAY = 2
REQUEUE_DEPENDENCY = 2
# gitops-engine pkg/sync/sync_tasks.go kindOrder (the kinds a site has, in that order); other kinds after.
KIND_ORDER = [
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
]  # fmt: skip


def timestamp(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def live(document):
    result = kubectl(
        "get", document["kind"], document["metadata"]["name"], "-n", document["metadata"]["namespace"],
        "-o", "json", check=False,
    )  # fmt: skip
    return json.loads(result.stdout) if result.returncode == 0 else None


def healthy(document):
    """Health as both tools judge the kinds of a site: a Job Complete (a failed one fails the sync),
    a Deployment or StatefulSet rolled out; other kinds once they exist."""
    obj = live(document)
    if obj is None:
        return False
    status = obj.get("status") or {}
    if obj["kind"] == "Job":
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        assert conditions.get("Failed") != "True", f"Job {obj['metadata']['name']} failed"
        return conditions.get("Complete") == "True"
    if obj["kind"] in ("Deployment", "StatefulSet"):
        wanted = obj["spec"].get("replicas", 1)
        counts = [status.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas")]
        rolled = status.get("observedGeneration", 0) >= obj["metadata"]["generation"]
        return rolled and counts == [wanted] * 3
    return True


def wait_healthy(batch, timeout=180):
    for document in batch:
        wait_for(lambda d=document: healthy(d), f"{key(document)} to be healthy", timeout=timeout)


def apply(batch, manager):
    text = "".join("---\n" + yaml.safe_dump(d) for d in batch)
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={manager}",
        "-f",
        "-",
        input_text=text,
    )


def delete(document):
    kubectl(
        "delete", document["kind"], document["metadata"]["name"], "-n", document["metadata"]["namespace"],
        "--ignore-not-found", "--wait=true",
    )  # fmt: skip


class ArgoCD:
    """Syncs an Application from the render directory (the repository's root is its parent)."""

    def __init__(self, repo_root, application_file):
        [self.application] = documents(application_file)
        self.repo_root = repo_root
        self.resources = {}

    @staticmethod
    def annotation(document, name, default=None):
        return (document["metadata"].get("annotations") or {}).get(f"argocd.argoproj.io/{name}", default)

    def sync(self):
        built = kustomize_build(self.repo_root / self.application["spec"]["source"]["path"])
        for phase in ("PreSync", "Sync", "PostSync"):
            tasks = [d for d in built if (self.annotation(d, "hook") or "Sync") == phase]
            for wave in sorted({int(self.annotation(d, "sync-wave", "0")) for d in tasks}):
                batch = [d for d in tasks if int(self.annotation(d, "sync-wave", "0")) == wave]
                batch.sort(
                    key=lambda d: (KIND_ORDER.index(d["kind"]) if d["kind"] in KIND_ORDER else 99, key(d))
                )
                for hook in (d for d in batch if self.annotation(d, "hook")):
                    policies = (self.annotation(hook, "hook-delete-policy") or "BeforeHookCreation").split(
                        ","
                    )
                    if "BeforeHookCreation" in policies:
                        delete(hook)
                apply(batch, "argocd-controller")
                wait_healthy(batch)
                time.sleep(WAVE_DELAY)
        # Automated prune: resources (not hooks) that left the source.
        current = {key(d): d for d in built if not self.annotation(d, "hook")}
        for name, document in self.resources.items():
            if name not in current:
                delete(document)
        self.resources = current


class Flux:
    """Reconciles the Kustomizations of a site from the render directory (the repository's root is
    its parent), in dependsOn order."""

    def __init__(self, repo_root, kustomizations_file):
        self.kustomizations = {d["metadata"]["name"]: d for d in documents(kustomizations_file)}
        self.repo_root = repo_root
        self.inventory = {}

    def order(self):
        ready, order = set(), []
        while len(order) < len(self.kustomizations):
            runnable = sorted(
                name
                for name, k in self.kustomizations.items()
                if name not in ready and all(d["name"] in ready for d in k["spec"].get("dependsOn", []))
            )
            assert runnable, "dependsOn has a cycle or names a Kustomization that does not exist"
            order.append(runnable[0])
            ready.add(runnable[0])
        return order

    def reconcile(self):
        for name in self.order():
            spec = self.kustomizations[name]["spec"]
            if spec.get("dependsOn"):
                time.sleep(REQUEUE_DEPENDENCY)
            built = kustomize_build(self.repo_root / spec["path"])
            for document in built:
                annotations = document["metadata"].get("annotations") or {}
                force = spec.get("force") or annotations.get("kustomize.toolkit.fluxcd.io/force") == "enabled"
                text = yaml.safe_dump(document)
                result = kubectl(
                    "apply", "--server-side", "--force-conflicts", "--field-manager=kustomize-controller",
                    "-f", "-", input_text=text, check=False,
                )  # fmt: skip
                if result.returncode != 0 and force and "field is immutable" in result.stderr:
                    delete(document)
                    apply([document], "kustomize-controller")
                else:
                    assert result.returncode == 0, result.stderr
            previous, current = self.inventory.get(name, {}), {key(d): d for d in built}
            if spec["prune"]:
                for stale, document in previous.items():
                    annotations = document["metadata"].get("annotations") or {}
                    if (
                        stale not in current
                        and annotations.get("kustomize.toolkit.fluxcd.io/prune") != "disabled"
                    ):
                        delete(document)
            self.inventory[name] = current
            if spec.get("wait"):
                wait_healthy(built, timeout=int(spec["timeout"].rstrip("s")))


def site_jobs(namespace):
    items = kubectl_json("get", "jobs", "-n", namespace, "-l", f"app.kubernetes.io/instance={SITE}")["items"]
    return {j["metadata"]["name"]: j for j in items}


def web_replicasets(namespace):
    selector = f"app.kubernetes.io/instance={SITE},app.kubernetes.io/component=web"
    items = kubectl_json("get", "replicasets", "-n", namespace, "-l", selector)["items"]
    return sorted(items, key=lambda rs: rs["metadata"]["creationTimestamp"])


def image_jobs(jobs, image):
    """This image's migration Jobs by step (their names end in the image's hash)."""
    suffix = hashlib.sha256(image.encode()).hexdigest()[:10]
    return {
        step: [j for name, j in jobs.items() if name == f"{NAME}-migrate-{step}-{suffix}"]
        for step in ("pre", "post")
    }


def assert_rolled_out_in_order(namespace, image):
    """The API path's order (tests/integration/test_upgrade.py): the image's pre-deploy Job completed
    before its ReplicaSet existed, its post-deploy Job was created after it; one Job per step."""
    jobs = image_jobs(site_jobs(namespace), image)
    assert [len(jobs["pre"]), len(jobs["post"])] == [1, 1], sorted(site_jobs(namespace))
    [pre], [post] = jobs["pre"], jobs["post"]
    [replicaset] = [
        rs
        for rs in web_replicasets(namespace)
        if rs["spec"]["template"]["spec"]["containers"][0]["image"] == image
    ]
    assert timestamp(pre["status"]["completionTime"]) <= timestamp(
        replicaset["metadata"]["creationTimestamp"]
    )
    assert timestamp(replicaset["metadata"]["creationTimestamp"]) <= timestamp(
        post["metadata"]["creationTimestamp"]
    )
    assert post["status"]["succeeded"] == 1
    return pre, post


def sync_a_then_b(render_dir, namespace, gitops, sync):
    """Sync image A (already rendered), render and sync image B: each rolls out in order, and A's
    Jobs are the same objects afterwards."""
    sync()
    pre_a, post_a = assert_rolled_out_in_order(namespace, IMAGE_A)
    render(render_dir, namespace, discourse_app_image=IMAGE_B, **gitops)
    sync()
    assert_rolled_out_in_order(namespace, IMAGE_B)
    jobs = site_jobs(namespace)
    assert jobs[pre_a["metadata"]["name"]]["metadata"]["uid"] == pre_a["metadata"]["uid"]
    assert jobs[post_a["metadata"]["name"]]["metadata"]["uid"] == post_a["metadata"]["uid"]


@pytest.mark.rehearsal
def test_argocd_replay_keeps_the_order_and_each_images_jobs(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    render_dir = tmp_path / "acme"
    gitops = {"discourse_gitops_flavour": "argocd", "discourse_app_gitops_repo_url": REPO_URL, **LIGHT}
    render(render_dir, ns, discourse_app_image=IMAGE_A, **gitops)
    argocd = ArgoCD(tmp_path, render_dir / "argocd" / f"{SITE}.yaml")
    assert argocd.application["spec"]["source"]["path"] == f"acme/{SITE}"

    # Image A's Jobs are untouched: hooks are never pruned, and BeforeHookCreation deletes only a
    # hook of the same name.
    sync_a_then_b(render_dir, ns, gitops, argocd.sync)
    assert len(web_replicasets(ns)) == 2

    # Another sync of the same image runs its hooks again (BeforeHookCreation): still one Job each.
    before = image_jobs(site_jobs(ns), IMAGE_B)
    argocd.sync()
    after = image_jobs(site_jobs(ns), IMAGE_B)
    assert [len(after["pre"]), len(after["post"])] == [1, 1]
    assert after["pre"][0]["metadata"]["uid"] != before["pre"][0]["metadata"]["uid"]
    assert len(web_replicasets(ns)) == 2


@pytest.mark.rehearsal
def test_flux_replay_keeps_the_order_and_each_images_jobs(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    render_dir = tmp_path / "acme"
    gitops = {"discourse_gitops_flavour": "flux", **LIGHT}
    render(render_dir, ns, discourse_app_image=IMAGE_A, **gitops)
    flux = Flux(tmp_path, render_dir / "flux" / f"{SITE}.yaml")
    assert flux.order() == [f"{ns}-infra", f"{ns}-pre", f"{ns}-app", f"{ns}-post"]

    # Image A's Jobs left the source but are not pruned (kustomize.toolkit.fluxcd.io/prune: disabled).
    sync_a_then_b(render_dir, ns, gitops, flux.reconcile)

    # Reconciling the same image again applies its Jobs unchanged: nothing runs twice.
    before = {name: j["metadata"]["uid"] for name, j in site_jobs(ns).items()}
    flux.reconcile()
    assert {name: j["metadata"]["uid"] for name, j in site_jobs(ns).items()} == before
    assert len(web_replicasets(ns)) == 2
