"""Wall time of a no-op discourse_app converge against kubectl applying the same manifests.

Run: .venv/bin/python benchmarks/bench_app_converge.py   (starts the rehearsal cluster if needed)
Converges the test site of tests/integration/inventories/app twice in a fresh namespace on the
rehearsal cluster and times the second (no-op) run; renders the same site with the role's render
mode and times `kubectl apply --server-side -k` of those manifests into the same namespace (the
baseline: the API work without Ansible). Prints both and the ratio; exits non-zero above the 2x
target.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

from tests.fixtures.ansible import ansible_env, run_tool  # noqa: E402
from tests.fixtures.rehearsal import KUBECONFIG, REHEARSAL, apply_manifest, kubectl  # noqa: E402

TARGET_RATIO = 2.0
INVENTORY = os.path.join(ROOT, "tests/integration/inventories/app")
PLAYBOOK = os.path.join(ROOT, "tests/integration/playbooks/app_converge.yml")
SITE = "app_forum"
SECRETS = {
    "discourse-db-app": {"password": "bench-db"},
    "app-forum-valkey": {"password": "bench-valkey"},
    "app-forum-s3": {"access-key-id": "bench", "secret-access-key": "bench-s3"},
}


def converge(namespace, *extra):
    env = ansible_env(K8S_AUTH_KUBECONFIG=str(KUBECONFIG), KUBECONFIG=str(KUBECONFIG))
    started = time.monotonic()
    result = run_tool(
        "ansible-playbook",
        "-i",
        INVENTORY,
        PLAYBOOK,
        "-e",
        f"discourse_namespace={namespace}",
        *extra,
        env=env,
        timeout=900,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"converge failed:\n{result.stdout[-4000:]}\n{result.stderr}")
    return elapsed, result.stdout


def main():
    if subprocess.run([str(REHEARSAL), "status"], capture_output=True, check=False).returncode != 0:
        subprocess.run([str(REHEARSAL), "up"], check=True)
    namespace = f"bench-app-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        for name, data in SECRETS.items():
            apply_manifest(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data},
                namespace,
            )
        first, _unused = converge(namespace)
        noop, output = converge(namespace)
        if "changed=0" not in output:
            sys.exit("the second converge changed something: not a no-op\n" + output[-3000:])
        with tempfile.TemporaryDirectory() as render_dir:
            converge(namespace, "-e", f"discourse_render_dir={render_dir}")
            started = time.monotonic()
            kubectl(
                "apply",
                "--server-side",
                "--field-manager=forumops.discourse",
                "-k",
                os.path.join(render_dir, SITE),
            )
            baseline = time.monotonic() - started
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    ratio = noop / baseline
    print(f"first converge: {first:.1f} s")
    print(f"no-op converge: {noop:.1f} s")
    print(f"kubectl apply --server-side -k (same manifests): {baseline:.2f} s")
    print(f"ratio no-op converge / kubectl apply: {ratio:.1f}x (target at most {TARGET_RATIO:.0f}x)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
