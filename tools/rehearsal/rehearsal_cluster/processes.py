"""The cluster's processes: command lines, start in their own session, PID files that survive
PID reuse, health checks, and stop."""

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .build import binary_path
from .common import (
    HOST,
    POD_CIDR,
    PORTS,
    REPO_ROOT,
    SERVICE_CIDR,
    STATE_DIR,
    TOOL_DIR,
    UP_TIMEOUT,
    RehearsalError,
    say,
)

# Start order; `down` stops in reverse. kwok starts last, after the CRDs: its stage for
# CloudNativePG Clusters needs the Cluster resource to exist when it starts. s3 (moto_server from
# the project venv) stands in for the customer's S3 provider.
PROCESSES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "s3", "kwok"]


def pid_file(name):
    return STATE_DIR / "pids" / f"{name}.pid"


def running_pid(name):
    """The PID of our process `name`, or None. Guards against PID reuse by checking the binary."""
    try:
        pid_text, exe = pid_file(name).read_text().split("\n")[:2]
        pid = int(pid_text)
        stat = Path(f"/proc/{pid}/stat").read_text()
        actual_exe = os.readlink(f"/proc/{pid}/exe")
    except (OSError, ValueError):
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    if state in ("Z", "X"):
        return None
    if actual_exe.removesuffix(" (deleted)") != exe:
        return None
    return pid


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_process(name, argv, extra_env=None):
    log = STATE_DIR / "logs" / f"{name}.log"
    env = dict(os.environ)
    env.update(extra_env or {})
    with open(log, "ab") as log_handle:
        log_handle.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
        log_handle.flush()
        # A new session: the cluster outlives `up` and is not hit by the caller's Ctrl-C.
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=log_handle,
            cwd=STATE_DIR,
            env=env,
            start_new_session=True,
        )
    pid_file(name).write_text(f"{process.pid}\n{os.path.realpath(argv[0])}\n")


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def http_get(url, client_cert=False, timeout=3):
    if url.startswith("https"):
        if client_cert:
            context = ssl.create_default_context(cafile=str(STATE_DIR / "pki" / "ca.crt"))
            context.load_cert_chain(STATE_DIR / "pki" / "admin.crt", STATE_DIR / "pki" / "admin.key")
        else:
            # The controller-manager and scheduler serve a self-signed in-memory certificate.
            context = ssl._create_unverified_context()
    else:
        context = None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (OSError, ssl.SSLError):
        return None, ""


HEALTH = {
    "etcd": (f"http://{HOST}:{PORTS['etcd']}/health", False),
    "kube-apiserver": (f"https://{HOST}:{PORTS['kube-apiserver']}/readyz", True),
    "kube-controller-manager": (f"https://{HOST}:{PORTS['kube-controller-manager']}/healthz", False),
    "kube-scheduler": (f"https://{HOST}:{PORTS['kube-scheduler']}/healthz", False),
    "kwok": (f"http://{HOST}:{PORTS['kwok']}/healthz", False),
    "s3": (f"http://{HOST}:{PORTS['s3']}/", False),
}


def healthy(name):
    url, client_cert = HEALTH[name]
    status, body = http_get(url, client_cert)
    if name == "etcd":
        return status == 200 and '"health":"true"' in body.replace(" ", "")
    return status == 200


def wait_until(what, check, timeout, name=None):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return
        if name and running_pid(name) is None:
            log = STATE_DIR / "logs" / f"{name}.log"
            raise RehearsalError(f"{name} exited while waiting for {what}; the end of {log}:\n{tail(log)}")
        time.sleep(0.25)
    raise RehearsalError(f"timed out after {timeout}s waiting for {what}")


def tail(path, lines=25):
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def cluster_healthy():
    return all(running_pid(n) for n in PROCESSES) and all(healthy(n) for n in PROCESSES)


def component_argv(name, versions):
    if name == "s3":
        python = REPO_ROOT / ".venv" / "bin" / "python"
        if not python.exists():
            raise RehearsalError(f"{python} not found: the S3 stand-in runs moto from the venv (make setup)")
        return [str(python), "-m", "moto.server", "-H", HOST, "-p", str(PORTS["s3"])]
    pki = STATE_DIR / "pki"
    kubeconfig = STATE_DIR / "kubeconfig"
    exe = str(binary_path(name, versions))
    if name == "etcd":
        peer = f"http://{HOST}:{PORTS['etcd-peer']}"
        client = f"http://{HOST}:{PORTS['etcd']}"
        return [
            exe,
            "--name=rehearsal",
            f"--data-dir={STATE_DIR / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=rehearsal={peer}",
            "--log-level=warn",
            # A throwaway cluster: durability is worth nothing, latency is.
            "--unsafe-no-fsync=true",
            "--auto-compaction-retention=1",
            "--quota-backend-bytes=4294967296",
        ]
    if name == "kube-apiserver":
        return [
            exe,
            f"--bind-address={HOST}",
            f"--secure-port={PORTS['kube-apiserver']}",
            f"--etcd-servers=http://{HOST}:{PORTS['etcd']}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--requestheader-client-ca-file={pki / 'ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            "--authorization-mode=Node,RBAC",
            # exec/logs go to the node's kubelet, which is kwok's server at the node's InternalIP.
            "--kubelet-preferred-address-types=InternalIP",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]
    if name in ("kube-controller-manager", "kube-scheduler"):
        common = [
            exe,
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            f"--bind-address={HOST}",
            f"--secure-port={PORTS[name]}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]
        if name == "kube-scheduler":
            return common
        return [
            *common,
            "--cluster-name=rehearsal",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The default set: deployment, replicaset, statefulset, job, cronjob, persistentvolume-binder,
            # namespace, garbagecollector, serviceaccount(-token), endpointslice, nodelifecycle, ...
            "--controllers=*",
        ]
    if name == "kwok":
        return [
            exe,
            f"--kubeconfig={kubeconfig}",
            f"--config={TOOL_DIR / 'manifests' / 'kwok-stages.yaml'}",
            # Our nodes carry no kwok annotation; manifests must not need to know about kwok.
            "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}",
            f"--server-address={HOST}:{PORTS['kwok']}",
            # The kubelet port the nodes advertise: kwok's server, so the API server's exec reaches it.
            f"--node-port={PORTS['kwok']}",
            "--node-lease-duration-seconds=40",
        ]
    raise KeyError(name)


def start_kwok(versions):
    if running_pid("kwok") and healthy("kwok"):
        return
    # kwok also loads ~/.kwok/kwok.yaml when it exists; a private HOME keeps it out.
    (STATE_DIR / "kwok-home").mkdir(exist_ok=True)
    exec_bin = STATE_DIR / "exec-bin"
    exec_bin.mkdir(exist_ok=True)
    env = {
        "HOME": str(STATE_DIR / "kwok-home"),
        "PATH": f"{exec_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    start_process("kwok", component_argv("kwok", versions), env)
    wait_until("kwok to be healthy", lambda: healthy("kwok"), UP_TIMEOUT, "kwok")


def stop_all(grace=20):
    pids = {n: running_pid(n) for n in reversed(PROCESSES)}
    for name, pid in pids.items():
        if pid:
            say(f"stopping {name} (pid {pid})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            # Stop the clients before etcd, so nothing writes to a dying store.
            deadline = time.monotonic() + (grace if name == "etcd" else 10)
            while running_pid(name) and time.monotonic() < deadline:
                time.sleep(0.1)
    for name, pid in pids.items():
        if pid and running_pid(name):
            say(f"{name} (pid {pid}) ignored SIGTERM; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while running_pid(name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if running_pid(name):
                raise RehearsalError(f"{name} (pid {pid}) survived SIGKILL")
        pid_file(name).unlink(missing_ok=True)
