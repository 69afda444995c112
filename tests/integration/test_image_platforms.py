"""One lock, two platforms: build_image.yml builds linux/amd64 and linux/arm64 with Debian's buildah
(vfs, chroot isolation) into one manifest list, pushes it to a real registry and records both digests.

- The base stands in for discourse/base, which upstream publishes as one multi-platform tag:
  discourse/discourse_docker .github/workflows/build.yml at e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd
  builds each arch on its own runner, pushes by digest and joins them with `docker buildx imagetools
  create`, and that commit's launcher names the same `discourse/base:2.0.20260803-0122` on x86_64 and
  aarch64 hosts. Here: a manifest list of two busybox images, Debian's busybox-static of each arch
  (tests/fixtures/debian.py), each with a recording `pups`.
- The arm64 RUN step really runs, on this amd64 machine through QEMU user emulation registered in
  binfmt_misc (Debian's qemu-user-static and binfmt-support; tools/debian-packages): the recording
  pups writes `uname -m`, which must say aarch64 in the arm64 image.
- buildah's behaviour relied on (containers/buildah v1.28.2, 6a35b0ab235df00088b76807d6f8e8c20c1a32e0):
  docs/buildah-build.1.md `--manifest` creates the list when missing and adds the built image, and
  `--platform` selects the base image's instance of that platform; docs/buildah-manifest-push.1.md
  `--all` pushes the images with the list. The pushed images are not byte-identical to the local
  ones (buildah compresses the layers on the way), so the platform digests are read back from the
  registry, by the index digest the push reported.
- The registry is Debian's docker-registry (distribution 2.8). `buildah manifest push` reads
  registries.conf only from the global --registries-conf flag, not from CONTAINERS_REGISTRIES_CONF,
  which is why the test gives it among discourse_image_builder_global_flags.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import image
from tests.fixtures.ansible import flat_output
from tests.fixtures.debian import debian_package_files
from tests.integration import test_image_build as shared
from tests.integration.test_app import MANIFEST as APP_MANIFEST
from tests.integration.test_app import render_app
from tests.integration.test_image_build import build, lock_for, recap

sources = shared.sources  # the module-scoped git repositories of test_image_build

PLATFORMS = ["linux/amd64", "linux/arm64"]
UNAME = {"amd64": "x86_64", "arm64": "aarch64"}
NATIVE = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
BASE = "localhost/forumops-standin-multiarch"
PUPS_STANDIN = """#!/bin/sh
mkdir -p /var/lib/pups-standin
echo "$@" > /var/lib/pups-standin/args
cat > /var/lib/pups-standin/stdin
uname -m > /var/lib/pups-standin/machine
"""
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
)
IMAGE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def arch_of(platform_):
    return platform_.split("/")[1]


@pytest.fixture(scope="module")
def emulation():
    """Every platform other than this machine's needs its QEMU registered in binfmt_misc, with the F
    flag (the interpreter opened at registration), since the RUN steps run in a chroot without it."""
    for platform_ in PLATFORMS:
        arch = arch_of(platform_)
        if arch == NATIVE:
            continue
        entry = Path("/proc/sys/fs/binfmt_misc") / f"qemu-{UNAME[arch]}"
        text = entry.read_text() if entry.is_file() else ""
        flags = next((line.split(":", 1)[1] for line in text.splitlines() if line.startswith("flags:")), "")
        assert text.startswith("enabled") and "F" in flags, (
            f"{platform_} RUN steps need QEMU user emulation: {entry} is missing, disabled or lacks the F "
            "flag. Install qemu-user-static and binfmt-support (make setup does), and in a container "
            "without it mount binfmt_misc first: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc "
            f"&& update-binfmts --enable qemu-{UNAME[arch]}"
        )


@pytest.fixture(scope="module")
def multiarch_base(buildah, emulation):
    """`localhost/forumops-standin-multiarch:1`: a manifest list of a busybox image per platform."""
    list_name = f"{BASE}:1"
    buildah["run"]("manifest", "create", list_name)
    for platform_ in PLATFORMS:
        arch = arch_of(platform_)
        busybox = debian_package_files("bookworm", "busybox-static", arch) / "bin" / "busybox"
        tree = buildah["root"] / f"tree-{arch}"
        for directory in ("bin", "usr/local/bin", "tmp"):
            (tree / directory).mkdir(parents=True)
        shutil.copy2(busybox, tree / "bin" / "busybox")
        for applet in ("sh", "cat", "echo", "mkdir", "uname"):
            (tree / "bin" / applet).symlink_to("busybox")
        (tree / "usr/local/bin/pups").write_text(PUPS_STANDIN)
        (tree / "usr/local/bin/pups").chmod(0o755)
        container = buildah["run"]("from", "--arch", arch, "--os", "linux", "scratch").stdout.strip()
        buildah["run"]("copy", container, f"{tree}/", "/")
        buildah["run"]("config", "--arch", arch, "--os", "linux", "--cmd", '["/bin/sh"]', container)
        buildah["run"]("commit", "--quiet", container, f"{BASE}:1-{arch}")
        buildah["run"]("rm", container)
        buildah["run"]("manifest", "add", list_name, f"containers-storage:{BASE}:1-{arch}")
    return {"repository": BASE, "tag": "1", "digest": ""}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Debian's docker-registry on a free loopback port, plain HTTP; {host, registries_conf}."""
    root = tmp_path_factory.mktemp("registry")
    host = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {host}\n  secret: forumops-test-only\n"
    )
    conf = root / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    log = open(root / "registry.log", "w")  # noqa: SIM115 - closed after the process ends
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, (root / "registry.log").read_text()
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                break
        except (urllib.error.URLError, OSError):
            assert time.monotonic() < deadline, "docker-registry did not answer within 20 s"
            time.sleep(0.2)
    yield {"host": host, "registries_conf": conf}
    process.terminate()
    process.wait(timeout=20)
    log.close()


def registry_get(host, path, accept):
    """(body bytes, Docker-Content-Digest) of a registry API GET."""
    request = urllib.request.Request(f"http://{host}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), response.headers.get("Docker-Content-Digest", "")


def build_platforms(sources, buildah, ansible, tmp_path, repository, base, push=True, **variables):
    lock = lock_for(
        sources,
        base_image=base,
        image={"repository": repository, "precompile": "build", "platforms": PLATFORMS},
    )
    vars_ = {
        "discourse_image_builder": "buildah",
        "discourse_image_builder_global_flags": buildah["flags"] + variables.pop("global_flags", []),
        "discourse_image_builder_flags": ["--isolation", "chroot", "--pull=never"],
        "discourse_image_push": push,
        **variables,
    }
    result = build(ansible, tmp_path, lock, "-e", json.dumps(vars_))
    path = tmp_path / "out" / "build-manifest.json"
    manifest = json.loads(path.read_text()) if result.returncode == 0 else None
    return {"result": result, "manifest": manifest, "out": tmp_path / "out"}


@pytest.fixture(scope="module")
def pushed(sources, buildah, multiarch_base, registry, ansible, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("image-platforms")
    built = build_platforms(
        sources, buildah, ansible, tmp_path, f"{registry['host']}/forum/discourse", multiarch_base,
        global_flags=["--registries-conf", str(registry["registries_conf"])], discourse_image_tags=["stable"],
    )  # fmt: skip
    assert built["result"].returncode == 0, built["result"].stdout[-6000:] + built["result"].stderr
    return built


def test_the_build_succeeds_with_one_build_per_platform(pushed):
    assert recap(pushed["result"])["failed"] == 0
    out = pushed["out"]
    for platform_ in PLATFORMS:
        assert (out / f"image-id-{platform_.replace('/', '-')}").read_text().strip()
    assert not (out / "image-id").exists()  # no single-platform image


def test_the_registry_holds_one_index_with_an_image_per_platform_as_recorded(pushed, registry):
    section = pushed["manifest"]["image"]
    repository, tag = section["reference"].rsplit(":", 1)
    name = repository.split("/", 1)[1]
    body, served = registry_get(registry["host"], f"{name}/manifests/{tag}", INDEX_TYPES)
    index = json.loads(body)
    # image.digest is the index's: what the tag resolves to, and the SHA-256 of its bytes
    assert section["digest"] == served == "sha256:" + hashlib.sha256(body).hexdigest()
    entries = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]
    }
    assert entries == section["platforms"]
    assert list(section["platforms"]) == PLATFORMS
    assert len(set(section["platforms"].values())) == 2
    # the second tag is the same index
    assert registry_get(registry["host"], f"{name}/manifests/stable", INDEX_TYPES)[1] == section["digest"]


def test_each_platforms_image_says_its_architecture_and_carries_the_labels(pushed, registry):
    section = pushed["manifest"]["image"]
    name = section["reference"].split("/", 1)[1].rsplit(":", 1)[0]
    for platform_, digest in section["platforms"].items():
        body, served = registry_get(registry["host"], f"{name}/manifests/{digest}", IMAGE_TYPES)
        assert served == digest
        config_digest = json.loads(body)["config"]["digest"]
        config = json.loads(registry_get(registry["host"], f"{name}/blobs/{config_digest}", "*/*")[0])
        assert (config["os"], config["architecture"]) == tuple(platform_.split("/"))
        labels = config["config"]["Labels"]
        assert labels[image.MANIFEST_LABEL] == image.manifest_labels(pushed["manifest"])[image.MANIFEST_LABEL]


def test_the_pups_step_ran_on_each_architecture(pushed, buildah):
    """The stand-in pups wrote `uname -m` in the RUN step: the arm64 image's step ran as aarch64."""
    config_yaml = (pushed["out"] / "context" / "config.yaml").read_text()
    for platform_ in PLATFORMS:
        image_id = (pushed["out"] / f"image-id-{platform_.replace('/', '-')}").read_text().strip()
        container = buildah["run"]("from", "--pull-never", image_id).stdout.strip()
        try:
            mount = Path(buildah["run"]("mount", container).stdout.strip())
            recorded = mount / "var/lib/pups-standin"
            assert (recorded / "machine").read_text() == UNAME[arch_of(platform_)] + "\n"
            assert (recorded / "args").read_text() == "--skip-tags=precompile,migrate,db --stdin\n"
            assert (recorded / "stdin").read_text() == config_yaml
        finally:
            buildah["run"]("umount", container)
            buildah["run"]("rm", container)


def test_the_local_manifest_list_holds_the_two_platforms(pushed, buildah):
    for reference in (
        pushed["manifest"]["image"]["reference"],
        pushed["manifest"]["image"]["reference"].rsplit(":", 1)[0] + ":stable",
    ):
        listed = json.loads(buildah["run"]("manifest", "inspect", reference).stdout)
        assert [(m["platform"]["os"], m["platform"]["architecture"]) for m in listed["manifests"]] == [
            ("linux", "amd64"),
            ("linux", "arm64"),
        ]


def test_the_app_role_pins_the_index_so_each_node_pulls_its_platform(pushed, tmp_path):
    """discourse_app reads image.reference and image.digest through the image_reference filter
    (module_utils/image.py pinned_reference), the one place that builds the reference pods pull."""
    section = pushed["manifest"]["image"]
    manifest = tmp_path / "build-manifest.json"
    manifest.write_text(json.dumps({**APP_MANIFEST, "image": section}))
    documents = render_app(tmp_path, "-e", f"discourse_app_build_manifest={manifest}")
    web = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-web"))
    images = {c["image"] for c in web["spec"]["template"]["spec"]["containers"]}
    assert images == {f"{section['reference']}@{section['digest']}"}


def test_a_second_build_of_the_same_lock_starts_a_fresh_list(
    pushed, sources, buildah, multiarch_base, registry, ansible, tmp_path
):
    """The list an earlier build left is removed first: --manifest would otherwise add the new
    images next to the old ones (two linux/amd64 entries)."""
    again = build_platforms(
        sources, buildah, ansible, tmp_path, f"{registry['host']}/forum/discourse", multiarch_base,
        global_flags=["--registries-conf", str(registry["registries_conf"])], discourse_image_tags=["stable"],
    )  # fmt: skip
    assert again["result"].returncode == 0, again["result"].stdout[-6000:] + again["result"].stderr
    reference = again["manifest"]["image"]["reference"]
    assert reference == pushed["manifest"]["image"]["reference"]  # the same inputs, the same tag
    listed = json.loads(buildah["run"]("manifest", "inspect", reference).stdout)
    assert len(listed["manifests"]) == 2
    assert list(again["manifest"]["image"]["platforms"]) == PLATFORMS


def test_without_push_the_platforms_are_listed_without_digests(
    sources, buildah, multiarch_base, ansible, tmp_path
):
    built = build_platforms(
        sources,
        buildah,
        ansible,
        tmp_path,
        "registry.example.test/forum/discourse",
        multiarch_base,
        push=False,
    )
    assert built["result"].returncode == 0, built["result"].stdout[-6000:] + built["result"].stderr
    assert built["manifest"]["image"]["digest"] == ""
    assert built["manifest"]["image"]["platforms"] == {"linux/amd64": "", "linux/arm64": ""}
    listed = json.loads(buildah["run"]("manifest", "inspect", built["manifest"]["image"]["reference"]).stdout)
    assert sorted(m["platform"]["architecture"] for m in listed["manifests"]) == ["amd64", "arm64"]


def test_a_base_without_the_platform_fails_the_build(sources, buildah, multiarch_base, ansible, tmp_path):
    """An amd64-only base cannot give an arm64 image: buildah refuses to use it for --platform
    linux/arm64 rather than mislabel it, and the role stops at that platform's build."""
    amd64_only = {"repository": BASE, "tag": "1-amd64", "digest": ""}
    built = build_platforms(
        sources, buildah, ansible, tmp_path, "registry.example.test/forum/discourse", amd64_only, push=False
    )
    assert built["result"].returncode == 2
    text = flat_output(built["result"])
    assert "failed: [localhost] (item=linux/arm64)" in text
    assert "(item=linux/amd64)" in text  # amd64 was built first
    assert not (built["out"] / "build-manifest.json").exists()


def test_a_failed_push_fails_the_build_even_when_buildah_exits_0(
    sources, buildah, multiarch_base, ansible, tmp_path
):
    """buildah's `manifest push --digestfile` exits 0 after a failed push and leaves an empty digest
    file (containers/buildah cmd/buildah/manifest.go manifestPush at v1.28.2 and 5b1b18eeb: the
    digest file's write replaces the push error). The role must fail, not record "not pushed"."""
    closed = free_port()  # nothing listens there
    built = build_platforms(
        sources, buildah, ansible, tmp_path, f"127.0.0.1:{closed}/forum/discourse", multiarch_base
    )
    assert built["result"].returncode == 2
    text = flat_output(built["result"])
    # With this buildah the push "succeeds" and the digest check stops the build; a buildah that
    # reports the failure stops it at the push.
    assert "the push recorded no digest in" in text or "non-zero return code" in text
    assert not (built["out"] / "build-manifest.json").exists()
