"""Supply chain, for real: an SBOM of the built image, its provenance labels, a cosign signature, and
the site refusing an image that is unsigned or signed by someone else before anything is applied.

The tools are built from their Go modules (tests/fixtures/go_tools.py): cosign v2.6.4, syft v1.51.0
and the CNCF Distribution registry v3.1.1, which runs on 127.0.0.1 over plain HTTP with storage in a
temporary directory. buildah builds the stand-in lock of test_image_build on a real Debian 12 root
(debootstrap) with a recording `pups`, pushes it there (`insecure = true` for that registry in a
registries.conf given with CONTAINERS_REGISTRIES_CONF), and playbooks/build_image.yml writes the
SBOM and signs the pushed digest with a key pair made here by `cosign generate-key-pair`.

Upstream behaviour relied on:
- cosign (sigstore/cosign v2.6.4, 26261f05411d5552949ee1d97df1f8e55ec0e13d):
  cmd/cosign/cli/generate/generate_key_pair.go `readPasswordFn` (the key password from
  COSIGN_PASSWORD, else a terminal, else stdin); cmd/cosign/cli/options/sign.go `--tlog-upload`
  (true by default: no Rekor here, so false), options/verify.go `--insecure-ignore-tlog`;
  cmd/cosign/errors/exit_codes.go with pkg/cosign/verify.go `verifySignatures` (exit 10 "no
  signatures found", 12 "no matching signatures"); go-containerregistry's name.Registry.Scheme
  (plain HTTP for a loopback registry), so cosign needs no --allow-http-registry for 127.0.0.1.
- syft (anchore/syft v1.51.0, 2293641e3bd628a01bb37639318d62c0ebe89b39):
  cmd/syft/internal/commands/scan.go (the `oci-archive:` scheme), its dpkg cataloger reads
  /var/lib/dpkg/status, so every installed Debian package appears with a pkg:deb purl.
- the registry (distribution/distribution v3.1.1, 9a8d98b679740cd514aa7e7d84d23d442a5ef54c):
  cmd/registry/config-dev.yml (`registry serve <config>`, storage.filesystem.rootdirectory, http.addr).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
import urllib.request

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, ansible_env, flat_output, play_recap, run_tool
from tests.fixtures.go_tools import go_tool
from tests.fixtures.postgres import free_port
from tests.integration import test_image_build as shared
from tests.integration.test_image_build import lock_for

sources = shared.sources  # the module-scoped git repositories of test_image_build

PASSWORD = "cosign-test-pw-6d1f0a"
PUPS_STANDIN = """#!/bin/sh
mkdir -p /var/lib/pups-standin
echo "$@" > /var/lib/pups-standin/args
cat > /var/lib/pups-standin/stdin
"""
BASE = "localhost/forumops-standin-debian-pups"


@pytest.fixture(scope="module")
def tools():
    return {name: str(go_tool(name)) for name in ("cosign", "syft", "registry")}


@pytest.fixture(scope="module")
def registry(tools, tmp_path_factory):
    """A Distribution registry on 127.0.0.1 (plain HTTP), and a registries.conf that lets
    containers/image push to it without TLS."""
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    log = open(root / "registry.log", "w")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen([tools["registry"], "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=2) as response:
                assert response.status == 200
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "registry.log").read_text()) from None
            time.sleep(0.2)
    conf = root / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')
    yield {"host": host, "registries_conf": str(conf)}
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def keys(tools, tmp_path_factory):
    """Two cosign key pairs: the one the site trusts and someone else's."""
    root = tmp_path_factory.mktemp("cosign-keys")
    pairs = {}
    for name in ("trusted", "other"):
        subprocess.run(
            [tools["cosign"], "generate-key-pair", "--output-key-prefix", name],
            cwd=root, env={"PATH": "/usr/bin:/bin", "HOME": str(root), "COSIGN_PASSWORD": PASSWORD},
            stdin=subprocess.DEVNULL, check=True, capture_output=True,
        )  # fmt: skip
        pairs[name] = {"key": str(root / f"{name}.key"), "pub": str(root / f"{name}.pub")}
    assert "ENCRYPTED SIGSTORE PRIVATE KEY" in (root / "trusted.key").read_text()
    return pairs


def cosign(tools, *args, check=True):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "COSIGN_PASSWORD": PASSWORD}
    return subprocess.run(
        [tools["cosign"], *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=check,
    )


@pytest.fixture(scope="module")
def standin_base(buildah, debian_base):
    """The Debian 12 root with a recording pups: the Dockerfile's RUN step really runs on Debian."""
    tree = buildah["root"] / "pups-tree"
    (tree / "usr/local/bin").mkdir(parents=True)
    (tree / "usr/local/bin/pups").write_text(PUPS_STANDIN)
    (tree / "usr/local/bin/pups").chmod(0o755)
    container = buildah["run"](
        "from", "--pull-never", f"{debian_base['repository']}:{debian_base['tag']}"
    ).stdout
    container = container.strip()
    buildah["run"]("copy", container, f"{tree}/", "/")
    buildah["run"]("commit", "--quiet", container, f"{BASE}:1")
    buildah["run"]("rm", container)
    return {"repository": BASE, "tag": "1", "digest": ""}


def build_vars(buildah, tools, registry, keys, **changes):
    return {
        "discourse_image_builder": "buildah",
        "discourse_image_builder_global_flags": buildah["flags"],
        "discourse_image_builder_flags": ["--isolation", "chroot", "--pull=never"],
        "discourse_image_push": True,
        "discourse_image_sbom": True,
        "discourse_image_sbom_executable": tools["syft"],
        "discourse_image_sign": "key",
        "discourse_image_sign_key": keys["trusted"]["key"],
        "discourse_image_sign_flags": ["--tlog-upload=false"],
        "discourse_image_sign_sbom": True,
        "discourse_image_sign_executable": tools["cosign"],
        **changes,
    }


def run_build(sources, standin_base, registry, tmp_path, variables, runner_base=None):
    lock = lock_for(
        sources,
        base_image=standin_base,
        image={"repository": f"{registry['host']}/forum/discourse", "precompile": "build"},
    )
    if runner_base:
        # The logical backup runner too (test_image_buildah): apt-get adds python3-boto3 and
        # postgresql-client-15 to the Debian root, so its SBOM must list them.
        lock["backup_runner"] = {
            "repository": f"{registry['host']}/forum/discourse-backup",
            "base_image": runner_base,
            "postgres_major": 15,
        }
    lock_file = tmp_path / "lock.yml"
    lock_file.write_text("---\n" + yaml.safe_dump(lock, sort_keys=False))
    env = ansible_env(CONTAINERS_REGISTRIES_CONF=registry["registries_conf"], COSIGN_PASSWORD=PASSWORD)
    return run_tool(
        "ansible-playbook", "playbooks/build_image.yml",
        "-e", f"discourse_image_lock_file={lock_file}",
        "-e", f"discourse_image_cache_dir={tmp_path / 'cache'}",
        "-e", f"discourse_image_output_dir={tmp_path / 'out'}",
        "-e", json.dumps(variables),
        env=env, timeout=1800,
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(sources, buildah, standin_base, debian_base, registry, tools, keys, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("image-supply-chain")
    variables = build_vars(buildah, tools, registry, keys)
    result = run_build(sources, standin_base, registry, tmp_path, variables, runner_base=debian_base)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "build-manifest.json").read_text())
    return {"result": result, "manifest": manifest, "out": out}


def pinned(manifest):
    repository = manifest["image"]["reference"].rsplit(":", 1)[0]
    return f"{repository}@{manifest['image']['digest']}"


def push_unsigned(buildah, registry, base, name):
    """Push the stand-in base under another name; returns repository@digest (never signed here)."""
    reference = f"{registry['host']}/forum/{name}:1"
    digest_file = buildah["root"] / f"{name}.digest"
    buildah["run"](
        "push", "--tls-verify=false", "--digestfile", str(digest_file), f"{base['repository']}:{base['tag']}",
        f"docker://{reference}",
    )  # fmt: skip
    return f"{registry['host']}/forum/{name}@{digest_file.read_text().strip()}"


@pytest.fixture(scope="module")
def unsigned_image(buildah, registry, standin_base):
    return push_unsigned(buildah, registry, standin_base, "unsigned")


@pytest.fixture(scope="module")
def other_key_image(buildah, registry, standin_base, tools, keys):
    image = push_unsigned(buildah, registry, standin_base, "other-signed")
    cosign(tools, "sign", "--yes", "--key", keys["other"]["key"], "--tlog-upload=false", image)
    return image


def verify_module(tools, image, pub, *flags):
    """forumops.discourse.image_verify through ansible's ad-hoc one-line output: (rc, result dict)."""
    args = {
        "image": image,
        "key": pub,
        "flags": ["--insecure-ignore-tlog=true", *flags],
        "executable": tools["cosign"],
    }
    proc = run_tool(
        "ansible", "localhost", "-o", "-m", "forumops.discourse.image_verify", "-a", json.dumps(args)
    )
    line = next(line for line in proc.stdout.splitlines() if line.startswith("localhost |"))
    return proc.returncode, json.loads(line.split("=>", 1)[1])


# ---- SBOM -----------------------------------------------------------------------------------------


def dpkg_installed(root):
    """Package names dpkg records as installed in a Debian root (what syft's dpkg cataloger reads)."""
    names, package = set(), None
    for line in (root / "var/lib/dpkg/status").read_text().splitlines():
        if line.startswith("Package: "):
            package = line.split(": ", 1)[1]
        elif line.startswith("Status: ") and line.endswith(" installed") and package:
            names.add(package)
    return names


def test_the_sbom_lists_every_debian_package_of_the_image_and_the_manifest_records_it(built):
    from tests.fixtures.debian import debian_root

    record = built["manifest"]["supply_chain"]["image"]["sbom"]
    sbom_path = built["out"] / "sbom.spdx.json"
    data = sbom_path.read_bytes()
    assert record == {
        "file": "sbom.spdx.json",
        "format": "spdx-json",
        "sha256": hashlib.sha256(data).hexdigest(),
        "packages": record["packages"],
        # a release binary says syft-1.51.0; `go install` stamps no version (syft sets it with -ldflags)
        "generator": "syft-[not provided]",
    }
    sbom = json.loads(data)
    assert sbom["spdxVersion"] == "SPDX-2.3"
    debs = {
        p["name"]
        for p in sbom["packages"]
        for ref in p.get("externalRefs", [])
        if ref.get("referenceType") == "purl" and ref["referenceLocator"].startswith("pkg:deb/debian/")
    }
    expected = dpkg_installed(debian_root("bookworm"))
    assert {"bash", "dpkg", "libc6", "coreutils", "apt"} <= expected
    assert debs == expected
    assert record["packages"] >= len(expected)
    # the archive syft scanned is gone
    assert not (built["out"] / "image.oci.tar").exists()


def test_the_backup_runner_gets_its_own_sbom_and_signature_with_the_packages_its_build_installed(
    built, tools, keys
):
    record = built["manifest"]["supply_chain"]["backup_runner"]
    data = (built["out"] / "backup-runner" / "sbom.spdx.json").read_bytes()
    assert record["sbom"]["file"] == "backup-runner/sbom.spdx.json"
    assert record["sbom"]["sha256"] == hashlib.sha256(data).hexdigest()
    names = {p["name"] for p in json.loads(data)["packages"]}
    assert {"python3-boto3", "postgresql-client-15", "bash"} <= names
    runner = built["manifest"]["backup_runner"]
    image = f"{runner['reference'].rsplit(':', 1)[0]}@{runner['digest']}"
    assert record["signature"] == {"mode": "key", "reference": image, "sbom_attested": True}
    rc, result = verify_module(tools, image, keys["trusted"]["pub"])
    assert rc == 0, result


# ---- Labels ---------------------------------------------------------------------------------------


def test_labels_link_the_image_to_the_commits_of_its_lock(built, buildah, sources):
    config = json.loads(
        buildah["run"]("inspect", "--type", "image", built["manifest"]["image"]["reference"]).stdout
    )
    labels = config["OCIv1"]["config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == "v3.5.0"
    assert labels["org.opencontainers.image.revision"] == sources["discourse_commit"]
    assert labels["org.opencontainers.image.base.name"] == f"{BASE}:1"
    assert labels["org.forumops.discourse.discourse-docker.commit"] == sources["docker_commit"]
    assert labels["org.forumops.discourse.plugin.discourse-solved.commit"] == sources["plugin_commit"]
    # the lock's Discourse repository is a local path here: no web address to name
    assert "org.opencontainers.image.source" not in labels


# ---- Signing and verification ---------------------------------------------------------------------


def test_the_build_signs_the_pushed_digest_and_the_module_verifies_it(built, tools, keys):
    manifest = built["manifest"]
    image = pinned(manifest)
    assert manifest["supply_chain"]["image"]["signature"] == {
        "mode": "key",
        "reference": image,
        "sbom_attested": True,
    }
    rc, result = verify_module(tools, image, keys["trusted"]["pub"])
    assert rc == 0, result
    assert result["digest"] == manifest["image"]["digest"]
    assert result["signatures"] == 1
    assert result["changed"] is False
    # the key's password never reached the output
    assert PASSWORD not in built["result"].stdout + built["result"].stderr


def test_the_sbom_attestation_verifies_and_carries_the_sbom(built, tools, keys):
    proc = cosign(
        tools, "verify-attestation", "--key", keys["trusted"]["pub"], "--insecure-ignore-tlog=true",
        "--type", "spdxjson", pinned(built["manifest"]),
    )  # fmt: skip
    statement = json.loads(base64.b64decode(json.loads(proc.stdout.splitlines()[0])["payload"]))
    assert statement["predicateType"] == "https://spdx.dev/Document"
    sbom = json.loads((built["out"] / "sbom.spdx.json").read_text())
    assert {p["name"] for p in statement["predicate"]["packages"]} == {p["name"] for p in sbom["packages"]}


def test_an_unsigned_image_is_refused_with_a_clear_message(unsigned_image, tools, keys):
    rc, result = verify_module(tools, unsigned_image, keys["trusted"]["pub"])
    assert rc != 0
    assert result["msg"].startswith(f"{unsigned_image} is not signed: cosign found no signature for it")
    assert "discourse_image_sign" in result["msg"]


def test_an_image_signed_with_another_key_is_refused(other_key_image, built, tools, keys):
    for image, pub in (
        (other_key_image, keys["trusted"]["pub"]),
        (pinned(built["manifest"]), keys["other"]["pub"]),
    ):
        rc, result = verify_module(tools, image, pub)
        assert rc != 0
        assert result["msg"].startswith(
            f"{image} is signed, but no signature verifies against the public key {pub}: it was signed by "
            "someone else or has been tampered with"
        ), result["msg"]


def test_signing_without_a_push_fails_before_the_build(
    sources, buildah, standin_base, registry, tools, keys, tmp_path
):
    variables = build_vars(buildah, tools, registry, keys, discourse_image_push=False)
    result = run_build(sources, standin_base, registry, tmp_path, variables)
    assert result.returncode == 2
    assert "discourse_image_sign: key needs discourse_image_push: true" in flat_output(result)
    assert "TASK [forumops.discourse.discourse_image : Build the" not in result.stdout


# ---- The site refuses to roll it out --------------------------------------------------------------


def empty_kubeconfig(tmp_path):
    """A kubeconfig with no cluster: any API call through it fails."""
    path = tmp_path / "empty-kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    return path


def site(tmp_path, tools, image, pub):
    variables = {
        "discourse_kubeconfig": str(empty_kubeconfig(tmp_path)),
        "discourse_app_image": image,
        "discourse_app_image_verify": True,
        "discourse_app_image_verify_key": pub,
        "discourse_app_image_verify_flags": ["--insecure-ignore-tlog=true"],
        "discourse_app_image_verify_executable": tools["cosign"],
    }
    return run_tool(
        "ansible-playbook", "-i", "inventories/example", "--vault-password-file",
        "inventories/example/vault-password.txt", "playbooks/site.yml", "-e", json.dumps(variables),
    )  # fmt: skip


REFUSALS = {
    "unsigned": ("unsigned_image", "is not signed"),
    "other-key": ("other_key_image", "is signed, but no signature verifies against the public key"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_the_site_refuses_the_image_before_anything_is_applied(case, request, tools, keys, tmp_path):
    fixture, expected = REFUSALS[case]
    image = request.getfixturevalue(fixture)
    result = site(tmp_path, tools, image, keys["trusted"]["pub"])
    output = flat_output(result)
    assert result.returncode == 2, output
    assert f"{image} {expected}" in output
    assert play_recap(result, "example_forum")["failed"] == 1
    # before the cluster is even asked: no preflight, no namespace, no tier
    assert "Check that the cluster answers" not in output
    assert "Ensure the site's namespace exists" not in output
    assert "TASK [forumops.discourse.discourse_storage : Apply" not in output
    assert play_recap(result, "example_forum")["changed"] == 0


def test_the_site_lets_a_signed_image_through_to_the_cluster(built, tools, keys, tmp_path):
    result = site(tmp_path, tools, pinned(built["manifest"]), keys["trusted"]["pub"])
    output = result.stdout
    verified = output.index("TASK [forumops.discourse.discourse_app : Verify the image's cosign signature")
    assert output[verified:].split("\n", 2)[1] == "ok: [example_forum]", output[verified : verified + 2000]
    # the next step is the cluster's: this kubeconfig has none, so the run stops there
    assert "discourse_site : Check that the cluster answers" in output[verified:]
    assert result.returncode == 2


def test_the_app_role_alone_refuses_an_unsigned_image_before_any_api_call(
    unsigned_image, tools, keys, tmp_path
):
    variables = {
        "discourse_app_image": unsigned_image,
        "discourse_app_image_verify": True,
        "discourse_app_image_verify_key": keys["trusted"]["pub"],
        "discourse_app_image_verify_flags": ["--insecure-ignore-tlog=true"],
        "discourse_app_image_verify_executable": tools["cosign"],
    }
    kubeconfig = empty_kubeconfig(tmp_path)
    env = ansible_env(K8S_AUTH_KUBECONFIG=str(kubeconfig), KUBECONFIG=str(kubeconfig))
    inventory = REPO_ROOT / "tests/integration/inventories/app"
    playbook = REPO_ROOT / "tests/integration/playbooks/app_converge.yml"
    result = run_tool(
        "ansible-playbook", "-i", inventory, playbook, "-e", "discourse_namespace=verify",
        "-e", json.dumps(variables), env=env,
    )  # fmt: skip
    output = flat_output(result)
    assert result.returncode == 2, output
    assert f"{unsigned_image} is not signed" in output
    assert "TASK [forumops.discourse.discourse_app : Create" not in result.stdout
    assert "TASK [forumops.discourse.discourse_app : Apply" not in result.stdout
    assert play_recap(result, "app_forum")["changed"] == 0


def test_an_upgrade_refuses_an_unsigned_target_image_in_its_preflight(unsigned_image, tools, keys, tmp_path):
    repository, digest = unsigned_image.split("@")
    manifest = tmp_path / "build-manifest.json"
    image = {"reference": f"{repository}:1", "digest": digest}
    manifest.write_text(json.dumps({"discourse": {"version": "v3.5.0"}, "image": image}))
    variables = {
        "discourse_kubeconfig": str(empty_kubeconfig(tmp_path)),
        "discourse_upgrade_build_manifest": str(manifest),
        "discourse_app_image_verify": True,
        "discourse_app_image_verify_key": keys["trusted"]["pub"],
        "discourse_app_image_verify_flags": ["--insecure-ignore-tlog=true"],
        "discourse_app_image_verify_executable": tools["cosign"],
    }
    result = run_tool(
        "ansible-playbook", "-i", "inventories/example", "--vault-password-file",
        "inventories/example/vault-password.txt", "playbooks/upgrade.yml", "-e", json.dumps(variables),
    )  # fmt: skip
    output = flat_output(result)
    assert result.returncode == 2, output
    assert f"{repository}:1@{digest} is not signed" in output
    # the namespace check is the preflight's first API call
    assert "Check that the Kubernetes API answers" not in output
