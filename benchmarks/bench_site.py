"""playbooks/site.yml speed (issue 10): one site against kubectl, and a fleet of 20 against one site.

Run: .venv/bin/python benchmarks/bench_site.py   (starts the rehearsal cluster if needed)
Adds 20 sites of the example customer (each in its own namespace) to the example inventory with
the rehearsal overlay, converges them once (setup), then measures in the same run, medians of
three where it says so:
- one site's no-op converge (`--limit` to the first site) against `kubectl apply --server-side -k`
  of the same site's manifests written by render mode (target: at most 2x), and the floor of any
  ansible-playbook run against that host (a play with one debug task);
- the no-op converge of all 20 sites with forks 10 against the one site's (target: at most 3x).
Exits non-zero when a target is missed. Deletes its namespaces at the end.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

from benchmarks.bench_app_converge import FLOOR_PLAY, RUNS, timed  # noqa: E402
from tests.fixtures.ansible import play_recap, run_tool  # noqa: E402
from tests.fixtures.rehearsal import REHEARSAL, STATE_DIR, kubectl, rehearsal_env  # noqa: E402

SITES = 20
FORKS = 10
TARGET_SINGLE = 2.0
TARGET_FLEET = 3.0


def fleet_inventory(run_id):
    lines = ["---", "all:", "  children:", "    discourse_sites:", "      hosts:"]
    for number in range(1, SITES + 1):
        lines += [
            f"        fleet_{number:02d}:",
            f"          discourse_hostname: fleet{number:02d}.example.test",
            f"          discourse_namespace: bench-{run_id}-{number:02d}",
        ]
    lines += ["    bench_fleet:", "      hosts:"] + [
        f"        fleet_{n:02d}: {{}}" for n in range(1, SITES + 1)
    ]
    return "\n".join(lines) + "\n"


def playbook(inventory, path, *extra):
    started = time.monotonic()
    result = run_tool(
        "ansible-playbook",
        "-i",
        os.path.join(ROOT, "inventories/example"),
        "-i",
        str(STATE_DIR / "inventory"),
        "-i",
        inventory,
        "--vault-password-file",
        os.path.join(ROOT, "inventories/example/vault-password.txt"),
        path,
        *extra,
        env=rehearsal_env(),
        timeout=3600,
    )
    if result.returncode != 0:
        sys.exit(
            f"{os.path.basename(path)} {' '.join(extra)} failed:\n{result.stdout[-4000:]}\n{result.stderr}"
        )
    return time.monotonic() - started, result.stdout


def main():
    if subprocess.run([str(REHEARSAL), "status"], capture_output=True, check=False).returncode != 0:
        subprocess.run([str(REHEARSAL), "up"], check=True)
    # 21 Valkey volumes: the PersistentVolumes earlier runs released must be Available again.
    subprocess.run([str(REHEARSAL), "reclaim"], check=True)
    run_id = uuid.uuid4().hex[:6]
    site_yml = os.path.join(ROOT, "playbooks/site.yml")
    with tempfile.TemporaryDirectory() as scratch:
        inventory = os.path.join(scratch, "fleet.yml")
        with open(inventory, "w", encoding="utf-8") as handle:
            handle.write(fleet_inventory(run_id))
        floor_yml = os.path.join(scratch, "floor.yml")
        with open(floor_yml, "w", encoding="utf-8") as handle:
            handle.write(FLOOR_PLAY)
        try:
            setup, _output = playbook(inventory, site_yml, "--limit", "bench_fleet", "--forks", str(FORKS))
            one, output = timed(lambda: playbook(inventory, site_yml, "--limit", "fleet_01")[1])
            if play_recap(output, "fleet_01")["changed"] != 0:
                sys.exit("a repeated converge of fleet_01 changed something: not a no-op\n" + output[-3000:])
            floor, _output = timed(lambda: playbook(inventory, floor_yml, "--limit", "fleet_01"))
            # Rendered for a namespace of their own: applying them over fleet_01's objects would
            # strip what only API mode sets (the Valkey password checksum) and spoil the fleet no-op.
            render_dir = os.path.join(scratch, "render")
            kubectl_ns = f"bench-{run_id}-kubectl"
            kubectl("create", "namespace", kubectl_ns)
            playbook(
                inventory,
                site_yml,
                "--limit",
                "fleet_01",
                "-e",
                f"discourse_render_dir={render_dir}",
                "-e",
                f"discourse_namespace={kubectl_ns}",
            )
            apply = ("apply", "--server-side", "--field-manager=forumops.discourse", "-k")
            kustomization = os.path.join(render_dir, "fleet_01")
            kubectl(*apply, kustomization)  # creates; the measured runs are no-ops, like the converge
            baseline, _output = timed(lambda: kubectl(*apply, kustomization))
            fleet, output = timed(
                lambda: playbook(inventory, site_yml, "--limit", "bench_fleet", "--forks", str(FORKS))[1],
                runs=1,
            )
            changed = [play_recap(output, f"fleet_{n:02d}")["changed"] for n in range(1, SITES + 1)]
            if any(changed):
                sys.exit(f"the fleet's repeated converge changed something: {changed}")
        finally:
            for suffix in [f"{n:02d}" for n in range(1, SITES + 1)] + ["kubectl"]:
                kubectl("delete", "namespace", f"bench-{run_id}-{suffix}", "--wait=false", check=False)
    single, scale = one / baseline, fleet / one
    print(f"setup: first converge of {SITES} sites with forks {FORKS}: {setup:.1f} s")
    print(f"kubectl apply --server-side -k (one site's manifests), median of {RUNS}: {baseline:.2f} s")
    print(f"floor (ansible-playbook, one debug task, one site), median of {RUNS}: {floor:.2f} s")
    print(f"one site no-op converge, median of {RUNS}: {one:.2f} s")
    print(f"{SITES} sites no-op converge, forks {FORKS}: {fleet:.2f} s")
    print(f"ratio one site / kubectl apply: {single:.1f}x (target at most {TARGET_SINGLE:.0f}x)")
    print(f"ratio floor / kubectl apply: {floor / baseline:.1f}x (no Ansible run can go below this)")
    print(f"ratio {SITES} sites / one site: {scale:.1f}x (target at most {TARGET_FLEET:.0f}x)")
    return 0 if single <= TARGET_SINGLE and scale <= TARGET_FLEET else 1


if __name__ == "__main__":
    sys.exit(main())
