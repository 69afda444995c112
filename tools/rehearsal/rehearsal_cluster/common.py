"""Settings and helpers the rest of the tool shares.

Everything is configured by environment variables, listed in tools/rehearsal/README.md.
"""

import contextlib
import fcntl
import os
import time
from pathlib import Path

TOOL_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TOOL_DIR.parent.parent
STATE_DIR = Path(os.environ.get("REHEARSAL_STATE_DIR") or REPO_ROOT / ".rehearsal").resolve()
CACHE_ROOT = Path(
    os.environ.get("REHEARSAL_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "forumops-rehearsal"
)
BIN_DIR_OVERRIDE = os.environ.get("REHEARSAL_BIN_DIR", "")

HOST = "127.0.0.1"
PORTS = {
    "etcd": int(os.environ.get("REHEARSAL_ETCD_PORT", "12379")),
    "etcd-peer": int(os.environ.get("REHEARSAL_ETCD_PEER_PORT", "12380")),
    "kube-apiserver": int(os.environ.get("REHEARSAL_APISERVER_PORT", "16443")),
    "kube-controller-manager": int(os.environ.get("REHEARSAL_CONTROLLER_MANAGER_PORT", "16457")),
    "kube-scheduler": int(os.environ.get("REHEARSAL_SCHEDULER_PORT", "16459")),
    "kwok": int(os.environ.get("REHEARSAL_KWOK_PORT", "16480")),
    "s3": int(os.environ.get("REHEARSAL_S3_PORT", "16900")),
}
PV_COUNT = int(os.environ.get("REHEARSAL_PV_COUNT", "30"))
PV_SIZE = os.environ.get("REHEARSAL_PV_SIZE", "100Gi")
UP_TIMEOUT = int(os.environ.get("REHEARSAL_UP_TIMEOUT", "180"))

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_API_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
FIELD_MANAGER = "forumops-rehearsal"
PV_LABEL = "forumops.test/rehearsal-pv"
BOOTSTRAPPED = STATE_DIR / "bootstrapped"


class RehearsalError(Exception):
    pass


def say(message):
    print(f"[rehearsal] {message}", flush=True)


def elapsed(since):
    seconds = int(time.monotonic() - since)
    return f"{seconds // 60}m{seconds % 60:02d}s"


@contextlib.contextmanager
def locked(path):
    """Serialise concurrent invocations (two test sessions, make -j) on one lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
