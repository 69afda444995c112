"""Wall time of a no-op discourse_app converge against kubectl applying the same manifests.

Run: .venv/bin/python benchmarks/bench_app_converge.py   (starts the rehearsal cluster if needed)
Converges the test site of tests/integration/inventories/app in a fresh namespace on the rehearsal
cluster, then times three more (no-op) converges; renders the same site with the role's render
mode and times `kubectl apply --server-side -k` of those manifests into the same namespace three
times (the baseline: the API work without Ansible). In the same run it times the floor: an
ansible-playbook run of a play with one debug task against the same inventory host (Python start,
inventory, one task), which no role can go below. Medians of three damp the noise of a shared
machine. Prints the times, the ratio converge/kubectl against the 2x target (issue 7), the ratio
floor/kubectl and the role's own cost (converge - floor); exits non-zero above the target.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

from tests.fixtures.ansible import ansible_env, play_recap, run_tool  # noqa: E402
from tests.fixtures.rehearsal import KUBECONFIG, REHEARSAL, apply_manifest, kubectl  # noqa: E402

TARGET_RATIO = 2.0
RUNS = 3
INVENTORY = os.path.join(ROOT, "tests/integration/inventories/app")
PLAYBOOK = os.path.join(ROOT, "tests/integration/playbooks/app_converge.yml")
SITE = "app_forum"
SECRETS = {
    "discourse-db-app": {"password": "bench-db"},
    "app-forum-valkey": {"password": "bench-valkey"},
    "app-forum-s3": {"access-key-id": "bench", "secret-access-key": "bench-s3"},
}
# The floor: what any ansible-playbook run against this inventory host costs before a role runs.
FLOOR_PLAY = """---
- name: Measure the floor of an ansible-playbook run
  hosts: discourse_sites
  gather_facts: false
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: hello
"""


def run_playbook(playbook, namespace, *extra):
    """Run ansible-playbook against the test inventory; returns (seconds, stdout)."""
    env = ansible_env(K8S_AUTH_KUBECONFIG=str(KUBECONFIG), KUBECONFIG=str(KUBECONFIG))
    started = time.monotonic()
    result = run_tool(
        "ansible-playbook",
        "-i",
        INVENTORY,
        playbook,
        "-e",
        f"discourse_namespace={namespace}",
        *extra,
        env=env,
        timeout=900,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{os.path.basename(playbook)} failed:\n{result.stdout[-4000:]}\n{result.stderr}")
    return elapsed, result.stdout


def timed(function, runs=RUNS):
    """Median wall time of `runs` calls, and the last call's result."""
    times = []
    outcome = None
    for _run in range(runs):
        started = time.monotonic()
        outcome = function()
        times.append(time.monotonic() - started)
    return statistics.median(times), outcome


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
        first, _unused = run_playbook(PLAYBOOK, namespace)
        noop, output = timed(lambda: run_playbook(PLAYBOOK, namespace)[1])
        recap = play_recap(output, host=SITE)
        if recap["changed"] != 0:
            sys.exit("a repeated converge changed something: not a no-op\n" + output[-3000:])
        tasks = recap["ok"] + recap["skipped"]
        with tempfile.TemporaryDirectory() as scratch:
            floor_playbook = os.path.join(scratch, "floor.yml")
            with open(floor_playbook, "w", encoding="utf-8") as handle:
                handle.write(FLOOR_PLAY)
            floor, _unused = timed(lambda: run_playbook(floor_playbook, namespace))
            render_dir = os.path.join(scratch, "render")
            run_playbook(PLAYBOOK, namespace, "-e", f"discourse_render_dir={render_dir}")
            baseline, _unused = timed(
                lambda: kubectl(
                    "apply",
                    "--server-side",
                    "--field-manager=forumops.discourse",
                    "-k",
                    os.path.join(render_dir, SITE),
                )
            )
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    ratio = noop / baseline
    print(f"first converge: {first:.2f} s")
    print(f"kubectl apply --server-side -k (same manifests), median of {RUNS}: {baseline:.2f} s")
    print(f"floor (ansible-playbook, one debug task, same host), median of {RUNS}: {floor:.2f} s")
    print(f"no-op converge ({tasks} tasks), median of {RUNS}: {noop:.2f} s")
    print(f"ratio no-op converge / kubectl apply: {ratio:.1f}x (target at most {TARGET_RATIO:.0f}x)")
    print(f"ratio floor / kubectl apply: {floor / baseline:.1f}x (no Ansible run can go below this)")
    print(f"the role's own cost (no-op converge - floor): {noop - floor:.2f} s")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
