"""A real build of the generated context with Debian's buildah (vfs storage, chroot isolation).

The base image is a stand-in made here from a static busybox and a `pups` script that records its
arguments and stdin, so no registry is involved; the assertions are on the image buildah committed:
its config (Env, Cmd, labels), its history (no secret), and what pups received.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import image
from tests.integration import test_image_build as shared
from tests.integration.test_image_build import build, lock_for, recap

sources = shared.sources  # the module-scoped git repositories, shared with test_image_build

PUPS_STANDIN = """#!/bin/sh
mkdir -p /var/lib/pups-standin
echo "$@" > /var/lib/pups-standin/args
cat > /var/lib/pups-standin/stdin
env > /var/lib/pups-standin/env
if [ -r /run/secrets/git_credentials ]; then echo mounted > /var/lib/pups-standin/git-credentials; fi
"""
BASE = "localhost/forumops-standin-base"


@pytest.fixture(scope="module")
def buildah(tmp_path_factory):
    root = tmp_path_factory.mktemp("buildah")
    flags = ["--root", str(root / "storage"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]

    def run(*args, **kwargs):
        return subprocess.run(
            ["buildah", *flags, *args], check=True, capture_output=True, text=True, **kwargs
        )

    tree = root / "tree"
    for directory in ("bin", "usr/local/bin", "sbin", "tmp"):
        (tree / directory).mkdir(parents=True)
    shutil.copy2("/bin/busybox", tree / "bin" / "busybox")
    for applet in ("sh", "cat", "echo", "env", "mkdir", "["):
        (tree / "bin" / applet).symlink_to("busybox")
    (tree / "usr/local/bin/pups").write_text(PUPS_STANDIN)
    (tree / "usr/local/bin/pups").chmod(0o755)
    container = run("from", "scratch").stdout.strip()
    run("copy", container, f"{tree}/", "/")
    run("config", "--cmd", '["/bin/sh"]', container)
    run("commit", container, f"{BASE}:1")
    run("rm", container)
    yield {"run": run, "flags": flags}
    subprocess.run(["buildah", *flags, "rm", "--all"], check=False, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def build_with_buildah(sources, buildah, ansible, tmp_path, **variables):
    """Build the stand-in lock with buildah (vfs, chroot); {result, manifest (None on failure), out}."""
    lock = lock_for(sources, base_image={"repository": BASE, "tag": "1", "digest": ""})
    vars_ = {
        "discourse_image_builder": "buildah",
        "discourse_image_builder_global_flags": buildah["flags"],
        "discourse_image_builder_flags": ["--isolation", "chroot", "--pull=never"],
        **variables,
    }
    result = build(ansible, tmp_path, lock, "-e", json.dumps(vars_))
    manifest = (
        json.loads((tmp_path / "out" / "build-manifest.json").read_text()) if result.returncode == 0 else None
    )
    return {"result": result, "manifest": manifest, "out": tmp_path / "out"}


@pytest.fixture(scope="module")
def built(sources, buildah, ansible, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("image-buildah")
    return build_with_buildah(sources, buildah, ansible, tmp_path, discourse_image_tags=["stable"])


TOKEN = "ghp_forumopsTestToken0123456789abcdef"


@pytest.fixture(scope="module")
def built_with_git_credentials(sources, buildah, ansible, tmp_path_factory):
    """A second build whose plugins would come from a private repository (issue 22, item 4)."""
    tmp_path = tmp_path_factory.mktemp("image-buildah-git")
    credentials = tmp_path / "git-credentials"
    credentials.write_text(f"https://x-access-token:{TOKEN}@github.com\n")
    private = build_with_buildah(
        sources,
        buildah,
        ansible,
        tmp_path,
        discourse_image_tags=["private"],
        discourse_image_git_credentials_file=str(credentials),
    )
    assert private["result"].returncode == 0, private["result"].stdout + private["result"].stderr
    return private


def test_git_credentials_reach_the_pups_step_and_nothing_else(built_with_git_credentials, buildah):
    built = built_with_git_credentials
    reference = built["manifest"]["image"]["reference"]
    info = buildah["run"]("inspect", "--type", "image", reference).stdout
    assert TOKEN not in info  # config, labels (the build manifest) and history
    assert TOKEN not in built["result"].stdout + built["result"].stderr
    for path in (built["out"] / "context").rglob("*"):
        assert not path.is_file() or TOKEN not in path.read_text(errors="replace"), path
    container = buildah["run"]("from", "--pull-never", reference).stdout.strip()
    try:
        mount = buildah["run"]("mount", container).stdout.strip()
        with open(f"{mount}/var/lib/pups-standin/git-credentials", encoding="utf-8") as handle:
            assert handle.read() == "mounted\n"
        with open(f"{mount}/var/lib/pups-standin/env", encoding="utf-8") as handle:
            env = dict(line.split("=", 1) for line in handle.read().splitlines() if "=" in line)
        assert env["GIT_CONFIG_KEY_0"] == "credential.helper"
        assert env["GIT_CONFIG_VALUE_0"] == "store --file=/run/secrets/git_credentials"
        leaked = subprocess.run(
            ["grep", "-rlF", TOKEN, mount], capture_output=True, text=True, check=False
        ).stdout.split()
        assert leaked == []
        assert not Path(mount, "run/secrets/git_credentials").exists()
    finally:
        buildah["run"]("umount", container)
        buildah["run"]("rm", container)


def test_buildah_builds_the_generated_context(built):
    assert built["result"].returncode == 0, built["result"].stdout + built["result"].stderr
    assert recap(built["result"])["failed"] == 0


def test_image_config_labels_and_cmd(built, buildah):
    manifest = built["manifest"]
    reference = manifest["image"]["reference"]
    info = json.loads(buildah["run"]("inspect", "--type", "image", reference).stdout)
    config = info["OCIv1"]["config"]
    config_sha256 = manifest["config_hash"]
    expected_labels = dict(image.manifest_labels(manifest))
    expected_labels["org.forumops.discourse.version"] = "v3.5.0"
    expected_labels["org.forumops.discourse.config-sha256"] = config_sha256
    # buildah stamps its own version
    expected_labels["io.buildah.version"] = buildah["run"]("--version").stdout.split()[2]
    assert config["Labels"] == expected_labels
    assert (
        json.loads(expected_labels["org.forumops.discourse.build-manifest"])["runtime_env"]["MIGRATE_ON_BOOT"]
        == "0"
    )
    assert config["Cmd"] == ["/sbin/boot"]
    baked = dict(item.split("=", 1) for item in config.get("Env", []))
    assert {k: baked[k] for k in baked if k != "PATH"} == {
        "CREATE_DB_ON_BOOT": "0",
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "0",
        "RAILS_ENV": "production",
        "RUBY_GC_HEAP_GROWTH_MAX_SLOTS": "40000",
        "UNICORN_SIDEKIQS": "1",
        "UNICORN_WORKERS": "3",
    }
    # both tags point at the image
    stable = reference.rsplit(":", 1)[0] + ":stable"
    assert (
        json.loads(buildah["run"]("inspect", "--type", "image", stable).stdout)["FromImageID"]
        == info["FromImageID"]
    )


def test_history_and_layers_hold_no_secret(built, buildah):
    reference = built["manifest"]["image"]["reference"]
    info = json.loads(buildah["run"]("inspect", "--type", "image", reference).stdout)
    history = json.dumps(info["History"])
    assert "/usr/local/bin/pups --skip-tags=precompile,migrate,db --stdin" in history
    for word in ("DISCOURSE_DB_", "PASSWORD", "SECRET", "DISCOURSE_HOSTNAME", "DISCOURSE_SMTP"):
        assert word not in history
        assert word not in json.dumps(info["OCIv1"]["config"])


def test_pups_received_the_config_and_the_skip_tags(built, buildah):
    reference = built["manifest"]["image"]["reference"]
    container = buildah["run"]("from", "--pull-never", reference).stdout.strip()
    try:
        mount = buildah["run"]("mount", container).stdout.strip()
        with open(f"{mount}/var/lib/pups-standin/args", encoding="utf-8") as handle:
            assert handle.read() == "--skip-tags=precompile,migrate,db --stdin\n"
        with open(f"{mount}/var/lib/pups-standin/stdin", encoding="utf-8") as handle:
            assert handle.read() == (built["out"] / "context" / "config.yaml").read_text()
        with open(f"{mount}/var/lib/pups-standin/env", encoding="utf-8") as handle:
            env = dict(line.split("=", 1) for line in handle.read().splitlines() if "=" in line)
        # ARGs reach the build step's environment, secrets never were ARGs
        assert env["DISCOURSE_DEFAULT_LOCALE"] == "de"
        assert env["MIGRATE_ON_BOOT"] == "0"
        assert not [k for k in env if k.startswith("DISCOURSE_DB_")]
    finally:
        buildah["run"]("umount", container)
        buildah["run"]("rm", container)
