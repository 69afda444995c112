"""Converge speed against the peer a user would pick instead: Helm with Bitnami's chart (issue 19).

Run: .venv/bin/python benchmarks/bench_vs_helm.py [--rounds 5] [--sites 20] [--forks 10]
(starts the rehearsal cluster if needed; builds helm from its Go module on first use, cached by
version: tests/fixtures/go_tools.py).

In one run on the rehearsal cluster, for the example customer: the first converge of one new site
against `helm install --wait` of Bitnami's discourse chart 17.0.2 (benchmarks/peers, with the
values its README names); then, interleaved for --rounds rounds, a no-op `site.yml` of one site,
`helm upgrade --wait` of one release with the same values, and `kubectl apply --server-side -k` of
the site's rendered manifests; then the no-op converge of 1, 5 and --sites sites (--forks) against
--sites sequential `helm upgrade --wait` of as many releases. Prints medians, the three ratios
against their targets (1.5x, 1.0x, 1.5x), and per no-op site the task executions (ok + skipped),
the CPU seconds of the controller and its workers, and the wall time. Exits non-zero when a run
fails, not when a target is missed.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections"), os.path.join(ROOT, "tools", "rehearsal")]

from rehearsal_cluster.bootstrap import persistent_volume  # noqa: E402

from tests.fixtures.ansible import play_recap  # noqa: E402
from tests.fixtures.go_tools import go_tool  # noqa: E402
from tests.fixtures.rehearsal import KUBECONFIG, REHEARSAL, STATE_DIR, kubectl, rehearsal_env  # noqa: E402

CHART = os.path.join(ROOT, "benchmarks", "peers", "bitnami-discourse-17.0.2.tgz")
# benchmarks/peers/PROVENANCE: the values for a fair no-op comparison on the rehearsal cluster; kwok
# nodes advertise no ephemeral storage, which the chart's resource presets request.
HELM_VALUES = [
    "auth.username=admin",
    "auth.password=bench-password-0123",  # a throwaway site on the local rehearsal cluster
    "auth.email=admin@example.test",
    "host=forum.example.test",
    "discourse.resourcesPreset=none",
    "sidekiq.resourcesPreset=none",
    "postgresql.primary.resourcesPreset=none",
    "redis.master.resourcesPreset=none",
]
TARGETS = {"one": 1.5, "fleet": 1.0, "first": 1.5}
# Runs ansible-playbook in the same process and reports, at exit, the CPU seconds of that process
# alone: the controller. Its workers are its children; the run's total less this is theirs.
CONTROLLER_CPU = """
import atexit, resource, runpy, sys
def report():
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(f"controller-cpu {own.ru_utime + own.ru_stime:.3f}", file=sys.stderr)
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(command, env=None, timeout=3600):
    """Run a command; (wall seconds, CPU seconds of it and its children, stdout, stderr). Fails the run
    on error."""
    cpu, started = cpu_seconds(), time.monotonic()
    result = subprocess.run(
        [str(part) for part in command], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
    if result.returncode != 0:
        sys.exit(
            f"{' '.join(map(str, command[:4]))} ... failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
        )
    return wall, cpu, result.stdout, result.stderr


def fleet_inventory(run_id, sites):
    hosts = [f"fleet_{n:02d}" for n in range(1, sites + 1)]
    lines = ["---", "all:", "  children:", "    discourse_sites:", "      hosts:"]
    for number, host in enumerate(hosts, 1):
        lines += [
            f"        {host}:",
            f"          discourse_hostname: fleet{number:02d}.example.test",
            f"          discourse_namespace: bench-{run_id}-{number:02d}",
        ]
    for size in sorted({1, min(5, sites), sites}):
        lines += [f"    bench_{size}:", "      hosts:"] + [f"        {host}: {{}}" for host in hosts[:size]]
    return "\n".join(lines) + "\n"


def volumes(run_id, count):
    """Extra PersistentVolumes of the rehearsal's class: each Helm release claims three."""
    return "\n---\n".join(
        json.dumps(
            persistent_volume(
                f"bench-{run_id}-{index:03d}",
                STATE_DIR / "pv" / f"bench-{run_id}-{index:03d}",
                {"forumops.io/bench": run_id},
                reclaim="Delete",
            )
        )
        for index in range(1, count + 1)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()
    if subprocess.run([str(REHEARSAL), "status"], capture_output=True, check=False).returncode != 0:
        subprocess.run([str(REHEARSAL), "up"], check=True)
    subprocess.run([str(REHEARSAL), "reclaim"], check=True)
    helm = go_tool("helm")
    env = rehearsal_env()
    run_id = uuid.uuid4().hex[:6]
    releases = [(f"h{n:02d}", f"bench-{run_id}-helm-{n:02d}") for n in range(1, args.sites + 1)]

    def helm_run(verb, release, namespace, *extra):
        command = [helm, verb, release, CHART, "--namespace", namespace, "--wait", "--timeout", "10m"]
        command += [arg for value in HELM_VALUES for arg in ("--set", value)]
        return measured([*command, "--kubeconfig", KUBECONFIG, *extra], env=env)

    with tempfile.TemporaryDirectory() as scratch:
        inventory = os.path.join(scratch, "fleet.yml")
        with open(inventory, "w", encoding="utf-8") as handle:
            handle.write(fleet_inventory(run_id, args.sites))
        example = [
            "-i",
            os.path.join(ROOT, "inventories/example"),
            "-i",
            STATE_DIR / "inventory",
            "-i",
            inventory,
        ]
        example += ["--vault-password-file", os.path.join(ROOT, "inventories/example/vault-password.txt")]

        def site(limit, *extra):
            command = [sys.executable, "-c", CONTROLLER_CPU, os.path.join(ROOT, ".venv/bin/ansible-playbook"),
                       *example, os.path.join(ROOT, "playbooks/site.yml"), "--limit", limit,
                       *extra]  # fmt: skip
            return measured(command, env=env)

        try:
            kubectl("apply", "-f", "-", input_text=volumes(run_id, 3 * args.sites + 3))
            first_ours = site("bench_1")
            first_helm = helm_run("install", *releases[0], "--create-namespace")
            site(f"bench_{args.sites}", "--forks", str(args.forks))  # the other sites, unmeasured
            for release, namespace in releases[1:]:
                helm_run("install", release, namespace, "--create-namespace")
            render_dir = os.path.join(scratch, "render")
            kubectl_ns = f"bench-{run_id}-kubectl"
            kubectl("create", "namespace", kubectl_ns)
            site(
                "bench_1",
                "-e",
                f"discourse_render_dir={render_dir}",
                "-e",
                f"discourse_namespace={kubectl_ns}",
            )
            apply = ["kubectl", "apply", "--server-side", "--field-manager=forumops.discourse", "-k",
                     os.path.join(render_dir, "fleet_01"), "--kubeconfig", KUBECONFIG]  # fmt: skip
            measured(apply, env=env)
            ours, helms, applies, tasks = [], [], [], []
            for _round in range(args.rounds):
                wall, cpu, output, errors = site("bench_1")
                recap = play_recap(output, "fleet_01")
                if recap["changed"] != 0:
                    sys.exit(
                        "a repeated converge of fleet_01 changed something: not a no-op\n" + output[-3000:]
                    )
                controller = float(errors.rsplit("controller-cpu ", 1)[1].split()[0])
                ours.append((wall, cpu, controller, cpu - controller))
                tasks.append(recap["ok"] + recap["skipped"])
                helms.append(helm_run("upgrade", *releases[0])[:2])
                applies.append(measured(apply, env=env)[:2])
            growth = {1: statistics.median(entry[0] for entry in ours)}
            for size in sorted({min(5, args.sites), args.sites} - {1}):
                wall, _cpu, output, _errors = site(f"bench_{size}", "--forks", str(args.forks))
                changed = [play_recap(output, f"fleet_{n:02d}")["changed"] for n in range(1, size + 1)]
                if any(changed):
                    sys.exit(f"the {size} sites' repeated converge changed something: {changed}")
                growth[size] = wall
            started = time.monotonic()
            for release, namespace in releases:
                helm_run("upgrade", release, namespace)
            helm_fleet = time.monotonic() - started
        finally:
            for namespace in [n for _r, n in releases] + [
                f"bench-{run_id}-{n:02d}" for n in range(1, args.sites + 1)
            ]:
                kubectl("delete", "namespace", namespace, "--wait=false", check=False)
            kubectl("delete", "namespace", f"bench-{run_id}-kubectl", "--wait=false", check=False)
            kubectl("delete", "pv", "-l", f"forumops.io/bench={run_id}", "--wait=false", check=False)

    def median(pairs, index=0):
        return statistics.median(pair[index] for pair in pairs)

    one, helm_one, apply_one = median(ours), median(helms), median(applies)
    fleet = growth[args.sites]
    ratios = {"one": one / helm_one, "fleet": fleet / helm_fleet, "first": first_ours[0] / first_helm[0]}
    cpu_ours, cpu_helm = median(ours, 1), median(helms, 1)
    lines = [
        f"helm {helm.parent.name}, chart {os.path.basename(CHART)}, {args.rounds} rounds, forks {args.forks}",
        f"first converge of one new site: ours {first_ours[0]:.2f} s, "
        f"helm install --wait {first_helm[0]:.2f} s",
        f"no-op, one site, median of {args.rounds}: ours {one:.2f} s, helm upgrade --wait {helm_one:.2f} s, "
        f"kubectl apply --server-side -k {apply_one:.2f} s",
        f"per no-op site: {statistics.median(tasks):.0f} task executions (ok + skipped), "
        f"{cpu_ours:.2f} CPU s (controller {median(ours, 2):.2f}, workers {median(ours, 3):.2f}; "
        f"helm {cpu_helm:.2f}), wall {one:.2f} s",
        "fleet no-op: "
        + ", ".join(f"{n} site(s) {t:.2f} s" for n, t in sorted(growth.items()))
        + f"; {args.sites} sequential helm upgrades {helm_fleet:.2f} s",
    ]
    labels = {
        "one": "one site no-op / helm upgrade",
        "fleet": f"{args.sites} sites no-op / {args.sites} helm upgrades",
        "first": "first converge / helm install",
    }
    for key, label in labels.items():
        verdict = "met" if ratios[key] <= TARGETS[key] else "missed"
        lines.append(f"ratio {label}: {ratios[key]:.2f}x (target at most {TARGETS[key]}x: {verdict})")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
