"""No-op converge with an exec-plugin kubeconfig against the same with a token kubeconfig (issue 17).

Run: .venv/bin/python benchmarks/bench_kube_access.py   (starts the rehearsal cluster if needed)
Converges the example site once into a fresh namespace (setup), then runs its no-op converge with
two kubeconfigs for the same ServiceAccount, interleaved, five rounds each: one with the token in
the kubeconfig, one whose user is an exec plugin printing that token (the credential is cached, so
the plugin runs once). Prints the medians, their ratio (target: within 5 %) and how often the
plugin ran. Exits non-zero when a converge fails, not when the target is missed.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

import yaml  # noqa: E402

from tests.fixtures.ansible import ansible_env, example_args, play_recap, run_tool  # noqa: E402
from tests.fixtures.rehearsal import KUBECONFIG, REHEARSAL, STATE_DIR, kubectl  # noqa: E402

ROUNDS = 5
TARGET = 1.05


def kubeconfig(path, user):
    config = yaml.safe_load(KUBECONFIG.read_text())
    config["users"][0]["user"] = user
    path.write_text(yaml.safe_dump(config))
    return path


def converge(namespace, config, env):
    args = example_args(
        "playbooks/site.yml", namespace, "-e", f"discourse_kubeconfig={config}", state_dir=STATE_DIR
    )
    started = time.monotonic()
    result = run_tool("ansible-playbook", *args, env=env)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        print(result.stdout[-3000:], file=sys.stderr)
        sys.exit(1)
    return seconds, play_recap(result, "example_forum")["changed"]


def main():
    if subprocess.run([str(REHEARSAL), "status"], capture_output=True, check=False).returncode != 0:
        subprocess.run([str(REHEARSAL), "up"], check=True)
    namespace = f"bench-access-{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="bench-access-"))
    kubectl("create", "namespace", namespace)
    try:
        kubectl("create", "serviceaccount", "deployer", "-n", namespace)
        kubectl(
            "create", "clusterrolebinding", f"{namespace}-deployer", "--clusterrole=cluster-admin",
            f"--serviceaccount={namespace}:deployer",
        )  # fmt: skip
        token = kubectl("create", "token", "deployer", "-n", namespace, "--duration=3600s").stdout.strip()
        count = work / "runs"
        count.touch()
        plugin = work / "plugin"
        credential = {
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {"token": token},
        }
        plugin.write_text(f"#!/bin/sh\necho run >> {count}\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
        plugin.chmod(0o755)
        by_token = kubeconfig(work / "token", {"token": token})
        by_exec = kubeconfig(
            work / "exec", {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
        )
        env = ansible_env(FORUMOPS_KUBE_CACHE_DIR=str(work / "cache"))
        converge(namespace, by_token, env)  # setup: the first converge creates the site
        times = {"token": [], "exec": []}
        for _round in range(ROUNDS):
            for name, config in (("token", by_token), ("exec", by_exec)):
                seconds, changed = converge(namespace, config, env)
                if changed:
                    print(f"a no-op converge changed {changed} objects", file=sys.stderr)
                    sys.exit(1)
                times[name].append(seconds)
        token_s, exec_s = statistics.median(times["token"]), statistics.median(times["exec"])
        runs = count.read_text().count("run")
        print(
            f"no-op converge, median of {ROUNDS}: token kubeconfig {token_s:.2f} s, "
            f"exec plugin {exec_s:.2f} s, ratio {exec_s / token_s:.3f} (target <= {TARGET}); "
            f"the plugin ran {runs} time(s) in {ROUNDS} converges"
        )
    finally:
        kubectl("delete", "clusterrolebinding", f"{namespace}-deployer", "--ignore-not-found")
        subprocess.run(
            ["kubectl", "--kubeconfig", str(KUBECONFIG), "delete", "namespace", namespace, "--wait=false"],
            capture_output=True,
            check=False,
        )


if __name__ == "__main__":
    main()
