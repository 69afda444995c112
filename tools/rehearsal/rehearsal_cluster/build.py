"""The binaries: built from their Go modules (wrapper modules k8s/, etcd/, kwok/), cached by
version; and `pin`, which regenerates those wrapper modules after a version bump."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

from .common import BIN_DIR_OVERRIDE, CACHE_ROOT, TOOL_DIR, RehearsalError, elapsed, locked, say

# Where each binary comes from: wrapper module directory, the module whose version is pinned,
# the versions.env key, and the main package of each binary.
COMPONENTS = {
    "kubernetes": {
        "dir": TOOL_DIR / "k8s",
        "module": "k8s.io/kubernetes",
        "version_key": "KUBERNETES_VERSION",
        "binaries": {
            "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
            "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
            "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
        },
    },
    "etcd": {
        "dir": TOOL_DIR / "etcd",
        "module": "go.etcd.io/etcd/server/v3",
        "version_key": "ETCD_VERSION",
        # etcd's main package sits at the root of the server module.
        "binaries": {"etcd": "go.etcd.io/etcd/server/v3"},
    },
    "kwok": {
        "dir": TOOL_DIR / "kwok",
        "module": "sigs.k8s.io/kwok",
        "version_key": "KWOK_VERSION",
        "binaries": {"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
    },
}


def go_env():
    env = dict(os.environ)
    # A go.work above the checkout, or a vendor directory, must not change what we build.
    env.update({"GOWORK": "off", "CGO_ENABLED": "0"})
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -mod=mod".strip()
    return env


def required_version(module_dir, module):
    go_mod = (module_dir / "go.mod").read_text()
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(\S+)", go_mod, re.M)
    return match.group(1) if match else None


def component_version(name, versions):
    component = COMPONENTS[name]
    wanted = versions[component["version_key"]]
    pinned = required_version(component["dir"], component["module"])
    if pinned != wanted:
        raise RehearsalError(
            f"{component['dir'] / 'go.mod'} requires {component['module']} {pinned}, but versions.env "
            f"says {wanted}; run `tools/rehearsal/rehearsal pin` to regenerate the go.mod files"
        )
    return wanted


def module_time(module_dir, module):
    """The release time of a module version, used as a reproducible build date."""
    out = subprocess.run(
        ["go", "list", "-m", "-json", module],
        cwd=module_dir,
        env=go_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out).get("Time", "1970-01-01T00:00:00Z")


def ldflags(name, version, module_dir):
    flags = ["-s", "-w"]
    if name == "kubernetes":
        major, minor = version.lstrip("v").split(".")[:2]
        build_date = module_time(module_dir, "k8s.io/kubernetes")
        # hack/lib/version.sh sets the same variables in both packages: component-base feeds
        # `--version` and /version, client-go's copy feeds the client's User-Agent.
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            for key, value in (
                ("gitVersion", version),
                ("gitMajor", major),
                ("gitMinor", minor),
                ("gitCommit", ""),
                ("gitTreeState", "archive"),
                ("buildDate", build_date),
            ):
                flags.append(f"-X={package}.{key}={value}")
    elif name == "etcd":
        # The version number itself is a constant in the source; only the commit is stamped.
        flags.append(f"-X=go.etcd.io/etcd/api/v3/version.GitSHA=module-{version}")
    elif name == "kwok":
        flags.append(f"-X=sigs.k8s.io/kwok/pkg/consts.Version={version.lstrip('v')}")
    return " ".join(flags)


def run_with_progress(argv, label, **kwargs):
    """Run a long command, printing a heartbeat so CI logs show it is alive."""
    started = time.monotonic()
    process = subprocess.Popen(argv, **kwargs)
    next_report = 30
    while process.poll() is None:
        time.sleep(1)
        if time.monotonic() - started >= next_report:
            say(f"  ... still building {label} ({elapsed(started)})")
            next_report += 30
    if process.returncode != 0:
        raise RehearsalError(f"building {label} failed after {elapsed(started)} (exit {process.returncode})")
    return elapsed(started)


def binary_dir(name, versions):
    if BIN_DIR_OVERRIDE:
        return Path(BIN_DIR_OVERRIDE)
    return CACHE_ROOT / f"{name}-{component_version(name, versions)}"


def binary_path(binary, versions):
    for name, component in COMPONENTS.items():
        if binary in component["binaries"]:
            return binary_dir(name, versions) / binary
    raise KeyError(binary)


def build(versions):
    if BIN_DIR_OVERRIDE:
        missing = [
            b
            for c in COMPONENTS.values()
            for b in c["binaries"]
            if not os.access(Path(BIN_DIR_OVERRIDE) / b, os.X_OK)
        ]
        if missing:
            raise RehearsalError(f"REHEARSAL_BIN_DIR={BIN_DIR_OVERRIDE} lacks: {', '.join(missing)}")
        say(f"using binaries from REHEARSAL_BIN_DIR={BIN_DIR_OVERRIDE}")
        return
    if not shutil.which("go"):
        raise RehearsalError("`go` is not on PATH; install Go 1.26 or set REHEARSAL_BIN_DIR")
    with locked(CACHE_ROOT / ".build.lock"):
        for name, component in COMPONENTS.items():
            version = component_version(name, versions)
            target = binary_dir(name, versions)
            todo = [b for b in component["binaries"] if not (target / b).is_file()]
            if not todo:
                say(f"{name} {version}: cached in {target}")
                continue
            target.mkdir(parents=True, exist_ok=True)
            flags = ldflags(name, version, component["dir"])
            for binary in todo:
                say(f"building {binary} {version} (first build on this machine is slow)")
                partial = target / f".{binary}.partial"
                took = run_with_progress(
                    [
                        "go",
                        "build",
                        "-p",
                        str(os.cpu_count() or 2),
                        "-trimpath",
                        "-ldflags",
                        flags,
                        "-o",
                        str(partial),
                        component["binaries"][binary],
                    ],
                    binary,
                    cwd=component["dir"],
                    env=go_env(),
                )
                # Rename last, so an interrupted build never leaves a binary that looks complete.
                os.replace(partial, target / binary)
                say(f"built {binary} {version} in {took}")


def pin(versions):
    """Regenerate the wrapper modules after a version bump in versions.env."""
    k8s_version = versions["KUBERNETES_VERSION"]
    staging_version = "v0." + k8s_version.lstrip("v").split(".", 1)[1]
    info = go_mod_download("k8s.io/kubernetes", k8s_version)
    upstream = (Path(info["Dir"]) / "go.mod").read_text()
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", upstream, re.M)
    go_line = re.search(r"^go .*$", upstream, re.M).group(0)
    godebug = re.search(r"^godebug .*$", upstream, re.M)
    replaces = "\n".join(f"\t{m} => {m} {staging_version}" for m in staging)
    write_go_mod(
        COMPONENTS["kubernetes"]["dir"],
        textwrap.dedent(f"""\
        // Wrapper module: builds kube-apiserver, kube-controller-manager and kube-scheduler from the
        // published k8s.io/kubernetes module. Upstream requires its {len(staging)} staging modules at
        // v0.0.0 and points them at ./staging, so each is replaced by its published release.
        // Generated by `tools/rehearsal/rehearsal pin` from k8s.io/kubernetes@{k8s_version}'s go.mod.
        module forumops.test/rehearsal/k8s

        {go_line}
        """)
        + (f"\n{godebug.group(0)}\n" if godebug else "")
        + textwrap.dedent(f"""
        require k8s.io/kubernetes {k8s_version}

        replace (
        """)
        + replaces
        + "\n)\n",
    )
    write_go_mod(
        COMPONENTS["etcd"]["dir"],
        textwrap.dedent(f"""\
        // Wrapper module: builds the etcd server (package main at the root of
        // go.etcd.io/etcd/server/v3). Upstream's go.mod points its sibling modules at
        // ../api etc.; replaces of a dependency are ignored, so the published
        // releases of the same version are used instead.
        module forumops.test/rehearsal/etcd

        go 1.26.0

        require go.etcd.io/etcd/server/v3 {versions["ETCD_VERSION"]}
        """),
    )
    write_go_mod(
        COMPONENTS["kwok"]["dir"],
        textwrap.dedent(f"""\
        // Wrapper module: builds the kwok controller (sigs.k8s.io/kwok/cmd/kwok), which
        // stands in for kubelets on the rehearsal cluster's nodes.
        module forumops.test/rehearsal/kwok

        go 1.26.0

        require sigs.k8s.io/kwok {versions["KWOK_VERSION"]}
        """),
    )
    for name, component in COMPONENTS.items():
        # Resolving the main packages fills go.sum with exactly what the build needs.
        subprocess.run(
            ["go", "list", "-deps", *component["binaries"].values()],
            cwd=component["dir"],
            env=go_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        say(f"pinned {name}: {component['dir'] / 'go.mod'}")


def write_go_mod(module_dir, text):
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "go.mod").write_text(text)
    (module_dir / "go.sum").unlink(missing_ok=True)


def go_mod_download(module, version):
    env = go_env()
    env["GOFLAGS"] = env["GOFLAGS"].replace("-mod=mod", "").strip()  # meaningless outside a module
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["go", "mod", "download", "-json", f"{module}@{version}"],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
        )
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RehearsalError(f"go mod download {module}@{version} failed: {result.stderr.strip()}") from None
    if info.get("Error") or result.returncode != 0:
        error = info.get("Error") or result.stderr
        raise RehearsalError(f"go mod download {module}@{version} failed: {error}")
    return info
