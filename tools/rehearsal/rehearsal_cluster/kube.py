"""kubectl against the rehearsal cluster."""

import os
import shutil
import subprocess

from .common import FIELD_MANAGER, REPO_ROOT, STATE_DIR, RehearsalError


def tool_env():
    """Environment for kubectl: the project venv's kubectl wins over an older system one."""
    env = dict(os.environ)
    venv_bin = REPO_ROOT / ".venv" / "bin"
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["KUBECONFIG"] = str(STATE_DIR / "kubeconfig")
    return env


def kubectl(*args, input_text=None, check=True):
    env = tool_env()
    if not shutil.which("kubectl", path=env["PATH"]):
        raise RehearsalError("kubectl not found: create the project venv (make setup) or put kubectl on PATH")
    result = subprocess.run(["kubectl", *args], input=input_text, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise RehearsalError(f"kubectl {' '.join(args[:3])} ... failed:\n{result.stderr.strip()}")
    return result


def apply(manifest_text):
    return kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        f"--field-manager={FIELD_MANAGER}",
        "-o",
        "name",
        "-f",
        "-",
        input_text=manifest_text,
    )
