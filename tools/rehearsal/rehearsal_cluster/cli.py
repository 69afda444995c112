"""The rehearsal cluster: a real Kubernetes control plane on this machine, kwok instead of kubelets.

    rehearsal build     build (or find in the cache) etcd, kube-apiserver,
                        kube-controller-manager, kube-scheduler and kwok
    rehearsal up        build, then start the cluster (does nothing when it already runs)
    rehearsal down      stop every process `up` started, and forget the cluster's state
    rehearsal status    show what runs
    rehearsal reclaim   make Released PersistentVolumes Available again
    rehearsal pin       rewrite the wrapper go.mod/go.sum files from versions.env

Python 3 standard library only: it must run on a fresh machine before any venv exists.
Everything is configured by environment variables, listed in tools/rehearsal/README.md.
"""

import shutil
import subprocess
import sys
import textwrap
import time

from .bootstrap import bootstrap, reclaim
from .build import build, pin
from .common import BOOTSTRAPPED, PORTS, STATE_DIR, UP_TIMEOUT, RehearsalError, elapsed, locked, say
from .pki import ensure_pki, write_kubeconfig
from .processes import (
    PROCESSES,
    cluster_healthy,
    component_argv,
    healthy,
    port_free,
    rss_kib,
    running_pid,
    start_process,
    stop_all,
    wait_until,
)
from .versions import load_versions


def up(versions):
    build(versions)
    started = time.monotonic()
    with locked(STATE_DIR / ".lock"):
        ignore_state_dir()
        if cluster_healthy() and BOOTSTRAPPED.exists():
            say("the rehearsal cluster is already running")
            usage()
            return
        if not cluster_healthy():
            start_cluster(versions, started)
        # Idempotent, so an `up` interrupted after the processes started finishes the job here.
        bootstrap(versions)
        BOOTSTRAPPED.touch()
        say(f"the rehearsal cluster is up in {elapsed(started)}")
        usage()


def start_cluster(versions, started):
    if any(running_pid(n) for n in PROCESSES):
        say("the rehearsal cluster is only partly running; restarting it")
        stop_all()
    BOOTSTRAPPED.unlink(missing_ok=True)
    for directory in ("logs", "pids", "pv"):
        (STATE_DIR / directory).mkdir(parents=True, exist_ok=True)
    busy = [f"{n} {p}" for n, p in PORTS.items() if not port_free(p)]
    if busy:
        raise RehearsalError(
            f"ports in use by something else: {', '.join(busy)} "
            "(override with REHEARSAL_*_PORT, see tools/rehearsal/README.md)"
        )
    ensure_pki()
    write_kubeconfig()
    later = [n for n in PROCESSES if n != "kwok"]
    for name in later:
        start_process(name, component_argv(name, versions))
        if name in ("etcd", "kube-apiserver"):
            wait_until(f"{name} to be ready", lambda n=name: healthy(n), UP_TIMEOUT, name)
            say(f"{name} is ready ({elapsed(started)})")
    for name in later[2:]:
        wait_until(f"{name} to be healthy", lambda n=name: healthy(n), UP_TIMEOUT, name)
    say(f"controller-manager, scheduler and the S3 stand-in are healthy ({elapsed(started)})")


def ignore_state_dir():
    """The state directory ignores itself, whatever the repository's .gitignore says."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    ignore = STATE_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")


def usage():
    print(
        textwrap.dedent(f"""
        Use it with:
          export KUBECONFIG={STATE_DIR / "kubeconfig"}
          kubectl get nodes
        Stop it with: tools/rehearsal/rehearsal down
        """),
        flush=True,
    )


def down():
    with locked(STATE_DIR / ".lock"):
        if not STATE_DIR.exists():
            say("nothing to stop")
            return
        stop_all()
        # The next `up` starts a fresh cluster; logs stay for post-mortems, pki is reused.
        for directory in ("etcd", "pv", "kwok-home"):
            shutil.rmtree(STATE_DIR / directory, ignore_errors=True)
        (STATE_DIR / "kubeconfig").unlink(missing_ok=True)
        BOOTSTRAPPED.unlink(missing_ok=True)
        say("the rehearsal cluster is stopped")


def status():
    total = 0
    any_running = False
    for name in PROCESSES:
        pid = running_pid(name)
        if pid:
            any_running = True
            rss = rss_kib(pid)
            total += rss
            state = "healthy" if healthy(name) else "NOT healthy"
            print(f"{name:<24} pid {pid:<8} {state:<12} rss {rss // 1024:>5} MiB  port {PORTS[name]}")
        else:
            print(f"{name:<24} not running")
    if any_running:
        print(f"{'total':<24} {'':<12} {'':<12} rss {total // 1024:>5} MiB")
        print(f"kubeconfig: {STATE_DIR / 'kubeconfig'}")
    # 0 only for a cluster that `up` finished: tests may use it as it is.
    return 0 if cluster_healthy() and BOOTSTRAPPED.exists() else 3


def main(argv):
    commands = ("build", "up", "down", "status", "reclaim", "pin")
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    command = argv[1]
    versions = load_versions()
    try:
        if command == "build":
            build(versions)
        elif command == "up":
            up(versions)
        elif command == "down":
            down()
        elif command == "status":
            return status()
        elif command == "reclaim":
            reclaim()
        elif command == "pin":
            pin(versions)
    except RehearsalError as error:
        print(f"[rehearsal] error: {error}", file=sys.stderr, flush=True)
        return 1
    except subprocess.CalledProcessError as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else error.stderr
        print(f"[rehearsal] error: {' '.join(map(str, error.cmd))} failed: {stderr or ''}", file=sys.stderr)
        return 1
    return 0
