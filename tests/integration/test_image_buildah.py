"""A real build of the generated context with Debian's buildah (vfs storage, chroot isolation).

The Discourse image's base is a stand-in made here from a static busybox and a `pups` script that
records its arguments and stdin, so no registry is involved; the assertions are on the image buildah
committed: its config (Env, Cmd, labels), its history (no secret), and what pups received.

The same build makes the logical backup runner from the lock's backup_runner. Its base stands in
for the official postgres image (docker-library/postgres 18/trixie/Dockerfile at
12eb5762e3cf3c44440ed078b59843b5dfbde570: Debian plus that major's PostgreSQL): a real Debian 12
from debootstrap (tests/fixtures/buildah.py), on which the generated Dockerfile's apt-get really
installs python3-boto3 and Debian's postgresql-client-15. Its entry point then backs up Debian's
PostgreSQL 15 into the S3 server, and the backup restores.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import backup_runner, image, supply_chain
from tests.fixtures.ansible import REPO_ROOT
from tests.fixtures.backup_db import (
    BUCKET,
    NEWEST,
    fingerprint,
    fresh_database,
    job_env,
    run_restore,
    seed,
)
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
RECORDED = "var/lib/pups-standin"  # where the stand-in pups writes what it received


@contextlib.contextmanager
def mounted(buildah, reference):
    """The root of a new working container of ``reference``, mounted; unmounted and removed after."""
    container = buildah["run"]("from", "--pull-never", reference).stdout.strip()
    try:
        yield Path(buildah["run"]("mount", container).stdout.strip())
    finally:
        buildah["run"]("umount", container)
        buildah["run"]("rm", container)


def recorded_env(mount):
    """The environment the stand-in pups ran with."""
    text = (mount / RECORDED / "env").read_text(encoding="utf-8")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def standin_base(buildah):
    """The busybox stand-in for discourse/base, with the recording pups."""
    tree = buildah["root"] / "tree"
    for directory in ("bin", "usr/local/bin", "sbin", "tmp"):
        (tree / directory).mkdir(parents=True)
    shutil.copy2("/bin/busybox", tree / "bin" / "busybox")
    for applet in ("sh", "cat", "echo", "env", "mkdir", "["):
        (tree / "bin" / applet).symlink_to("busybox")
    (tree / "usr/local/bin/pups").write_text(PUPS_STANDIN)
    (tree / "usr/local/bin/pups").chmod(0o755)
    container = buildah["run"]("from", "scratch").stdout.strip()
    buildah["run"]("copy", container, f"{tree}/", "/")
    buildah["run"]("config", "--cmd", '["/bin/sh"]', container)
    buildah["run"]("commit", container, f"{BASE}:1")
    buildah["run"]("rm", container)
    return {"repository": BASE, "tag": "1", "digest": ""}


def build_with_buildah(sources, buildah, ansible, tmp_path, lock_changes=None, **variables):
    """Build the stand-in lock with buildah (vfs, chroot); {result, manifest (None on failure), out}."""
    base = {"repository": BASE, "tag": "1", "digest": ""}
    lock = lock_for(sources, base_image=base, **(lock_changes or {}))
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
def built(sources, buildah, standin_base, debian_base, ansible, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("image-buildah")
    return build_with_buildah(
        sources,
        buildah,
        ansible,
        tmp_path,
        lock_changes={"backup_runner": runner_pins(debian_base)},
        discourse_image_tags=["stable"],
    )


RUNNER_REPOSITORY = "registry.example.test/forum/discourse-backup"
RUNNER_CODE = {
    "backup.py": REPO_ROOT / "plugins" / "module_utils" / "backup.py",
    "run.py": REPO_ROOT / "roles" / "discourse_backup" / "files" / "logical_backup_job.py",
}


def runner_pins(base):
    return {"repository": RUNNER_REPOSITORY, "base_image": base, "postgres_major": 15}


TOKEN = "ghp_forumopsTestToken0123456789abcdef"


@pytest.fixture(scope="module")
def built_with_git_credentials(sources, buildah, standin_base, ansible, tmp_path_factory):
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
    with mounted(buildah, reference) as mount:
        assert (mount / RECORDED / "git-credentials").read_text(encoding="utf-8") == "mounted\n"
        env = recorded_env(mount)
        assert env["GIT_CONFIG_KEY_0"] == "credential.helper"
        assert env["GIT_CONFIG_VALUE_0"] == "store --file=/run/secrets/git_credentials"
        leaked = subprocess.run(
            ["grep", "-rlF", TOKEN, mount], capture_output=True, text=True, check=False
        ).stdout.split()
        assert leaked == []
        assert not (mount / "run/secrets/git_credentials").exists()


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
    # discourse_docker and plugin commits (no source: the lock's Discourse repository is a local path)
    expected_labels.update(supply_chain.provenance_labels(manifest))
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
    with mounted(buildah, reference) as mount:
        args = (mount / RECORDED / "args").read_text(encoding="utf-8")
        stdin = (mount / RECORDED / "stdin").read_text(encoding="utf-8")
        env = recorded_env(mount)
    assert args == "--skip-tags=precompile,migrate,db --stdin\n"
    assert stdin == (built["out"] / "context" / "config.yaml").read_text()
    # ARGs reach the build step's environment, secrets never were ARGs
    assert env["DISCOURSE_DEFAULT_LOCALE"] == "de"
    assert env["MIGRATE_ON_BOOT"] == "0"
    assert not [k for k in env if k.startswith("DISCOURSE_DB_")]


def test_the_build_makes_the_backup_runner_and_records_it(built, buildah, debian_base):
    plan = backup_runner.runner_plan(
        runner_pins(debian_base), {name: path.read_text() for name, path in RUNNER_CODE.items()}
    )
    assert built["manifest"]["backup_runner"] == {
        "reference": plan["reference"],
        "digest": "",  # not pushed
        "platforms": {},  # the build host's only
        "base_image": {"tag": "localhost/forumops-standin-debian:bookworm", "digest": ""},
        "postgres_major": 15,
    }
    assert plan["reference"].startswith(f"{RUNNER_REPOSITORY}:pg15-")
    context = built["out"] / "backup-runner" / "context"
    assert sorted(p.name for p in context.iterdir()) == ["Dockerfile", "backup.py", "run.py"]
    assert (context / "Dockerfile").read_text() == plan["dockerfile"]
    for name, path in RUNNER_CODE.items():
        assert (context / name).read_text() == path.read_text()
    info = json.loads(buildah["run"]("inspect", "--type", "image", plan["reference"]).stdout)
    config = info["OCIv1"]["config"]
    assert config["Entrypoint"] == ["python3", "/opt/forumops/run.py"]
    assert config["User"] == "65534:65534"
    assert {k: config["Labels"][k] for k in plan["labels"]} == plan["labels"]
    path = "PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert path in config["Env"]


@pytest.mark.postgres
@pytest.mark.s3
def test_the_runners_entry_point_backs_up_postgres_15_into_s3(
    built, buildah, debian_postgres, s3_server, ansible, tmp_path
):
    """The runner's own entry point, as the Job starts it (its user, no ConfigMap over its code),
    against Debian's PostgreSQL 15 and the S3 server; the object then restores into a new database."""
    server = debian_postgres(15)
    source = fresh_database(server, "runner_source")
    seed(server, source)
    s3_server.client().create_bucket(Bucket=BUCKET)
    reference = built["manifest"]["backup_runner"]["reference"]
    config = json.loads(buildah["run"]("inspect", "--type", "image", reference).stdout)["OCIv1"]["config"]
    env = job_env(server, source, s3_server)
    container = buildah["run"]("from", "--pull-never", reference).stdout.strip()
    try:
        env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
        assert buildah["run"]("run", "--isolation", "chroot", container, "--", "id", "-u").stdout == "65534\n"
        proc = subprocess.run(
            ["buildah", *buildah["flags"], "run", "--isolation", "chroot", *env_args, container, "--",
             *config["Entrypoint"]],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        buildah["run"]("rm", container)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    # Debian's client of the server's major, found in /usr/lib/postgresql/15/bin
    assert report["pg_dump"].startswith("pg_dump (PostgreSQL) 15."), report["pg_dump"]
    assert report["schema_version"] == NEWEST
    assert report["key"].startswith("default/forum-example-com-")
    head = s3_server.client().head_object(Bucket=BUCKET, Key=report["key"])
    assert head["Metadata"] == {"sha256": report["sha256"], "pg-dump": report["pg_dump"]}

    target = fresh_database(server, "runner_target")
    restored, proc = run_restore(ansible, tmp_path, server, s3_server, target, key=report["key"])
    assert restored.get("failed") is not True, restored.get("msg") or proc.stderr
    assert fingerprint(server, target) == fingerprint(server, source)
