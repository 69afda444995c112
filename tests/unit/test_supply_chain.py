"""module_utils/supply_chain: provenance labels, SBOM and cosign command lines, and how cosign's
answers are judged (exit codes of sigstore/cosign v2.6.4, 26261f05411d5552949ee1d97df1f8e55ec0e13d:
cmd/cosign/errors/exit_codes.go). The real binaries run in tests/integration/test_image_supply_chain.py."""

import json

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import cross_field, supply_chain
from tests.unit.test_cross_field import APP, APP_CONTEXT

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
MANIFEST = {
    "discourse": {"version": "v3.5.0", "commit": "1" * 40},
    "discourse_docker": {"commit": "2" * 40},
    "plugins": [
        {"name": "discourse-solved", "url": "https://github.com/discourse/discourse-solved", "ref": "3" * 40,
         "commit": "3" * 40},
        {"name": "Discourse-Math", "url": "https://github.com/discourse/discourse-math", "ref": "4" * 40},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("ghcr.io/acme/discourse:v1", ("ghcr.io/acme/discourse", "v1", "")),
        ("127.0.0.1:5000/forum/discourse", ("127.0.0.1:5000/forum/discourse", "", "")),
        ("127.0.0.1:5000/forum/discourse:v1@" + DIGEST, ("127.0.0.1:5000/forum/discourse", "v1", DIGEST)),
        ("discourse@" + DIGEST, ("discourse", "", DIGEST)),
    ],
)
def test_split_reference_keeps_a_registry_port_out_of_the_tag(reference, expected):
    assert supply_chain.split_reference(reference) == expected


def test_what_is_signed_is_the_repository_at_the_pushed_digest():
    assert (
        supply_chain.pinned("127.0.0.1:5000/forum/discourse:v1", DIGEST)
        == f"127.0.0.1:5000/forum/discourse@{DIGEST}"
    )
    assert supply_chain.pinned(f"ghcr.io/a/b:v1@{DIGEST}") == f"ghcr.io/a/b@{DIGEST}"
    with pytest.raises(supply_chain.SupplyChainError, match="no sha256 digest to sign"):
        supply_chain.pinned("ghcr.io/a/b:v1", "")


@pytest.mark.parametrize(
    ("repo", "url"),
    [
        ("https://github.com/discourse/discourse.git", "https://github.com/discourse/discourse"),
        ("https://x-access-token:secret@github.com/acme/discourse.git", "https://github.com/acme/discourse"),
        ("git@github.com:acme/discourse.git", "https://github.com/acme/discourse"),
        ("ssh://git@git.example.com/forum/discourse", "https://git.example.com/forum/discourse"),
        ("/srv/mirrors/discourse", ""),
        ("", ""),
    ],
)
def test_source_url_is_a_web_address_without_credentials(repo, url):
    assert supply_chain.source_url(repo) == url


def test_provenance_labels_link_discourse_docker_and_each_plugin_commit():
    labels = supply_chain.provenance_labels(MANIFEST, source="https://github.com/discourse/discourse.git")
    assert labels == {
        "org.opencontainers.image.source": "https://github.com/discourse/discourse",
        "org.forumops.discourse.discourse-docker.commit": "2" * 40,
        "org.forumops.discourse.plugin.discourse-solved.commit": "3" * 40,
        # no commit recorded: the locked ref; label keys are lower case
        "org.forumops.discourse.plugin.discourse-math.commit": "4" * 40,
    }
    assert "org.opencontainers.image.source" not in supply_chain.provenance_labels(MANIFEST, "/srv/discourse")


def test_buildah_images_are_scanned_from_an_oci_archive_written_next_to_the_manifest():
    commands = supply_chain.sbom_commands(
        "buildah",
        "127.0.0.1:5000/forum/discourse:v1",
        "/out",
        global_flags=["--root", "/s"],
        executable="/bin/syft",
    )
    assert commands == {
        "export": ["buildah", "--root", "/s", "push", "127.0.0.1:5000/forum/discourse:v1",
                   "oci-archive:/out/image.oci.tar"],
        "scan": ["/bin/syft", "scan", "oci-archive:/out/image.oci.tar", "--output",
                 "spdx-json=/out/sbom.spdx.json", "--source-name", "127.0.0.1:5000/forum/discourse",
                 "--source-version", "v1"],
        "file": "/out/sbom.spdx.json",
        "archive": "/out/image.oci.tar",
    }  # fmt: skip


def test_docker_images_are_scanned_from_the_registry_by_digest_or_from_the_daemon():
    pushed = supply_chain.sbom_commands(
        "docker", "ghcr.io/a/b:v1", "/out", digest=DIGEST, sbom_format="cyclonedx-json"
    )
    assert pushed["export"] is None and pushed["archive"] is None
    assert pushed["scan"][:4] == ["syft", "scan", f"registry:ghcr.io/a/b@{DIGEST}", "--output"]
    assert pushed["file"] == "/out/sbom.cyclonedx.json"
    assert (
        supply_chain.sbom_commands("docker", "ghcr.io/a/b:v1", "/out")["scan"][2] == "docker:ghcr.io/a/b:v1"
    )


SPDX = {
    "creationInfo": {"creators": ["Organization: Anchore, Inc", "Tool: syft-1.51.0"]},
    "packages": [
        {"SPDXID": "SPDXRef-DocumentRoot-Image-forum", "name": "forum"},
        {"SPDXID": "SPDXRef-Package-deb-bash-1", "name": "bash"},
        {"SPDXID": "SPDXRef-Package-deb-libc6-2", "name": "libc6"},
    ],
}


def test_make_sbom_removes_the_archive_even_when_syft_fails_and_records_the_file():
    calls, removed = [], []

    def run(argv, env):
        calls.append((argv[0], env))
        return (0, "", "") if argv[0] == "buildah" else (1, "", "failed to catalog")

    commands = supply_chain.sbom_commands("buildah", "r/x:1", "/out")
    with pytest.raises(
        supply_chain.SupplyChainError,
        match="scanning the image with syft: syft exited with 1: failed to catalog",
    ):
        supply_chain.make_sbom(run, None, removed.append, commands, "spdx-json")
    assert removed == ["/out/image.oci.tar"]
    # syft never looks for updates on the network
    assert calls[1] == ("syft", {"SYFT_CHECK_FOR_APP_UPDATE": "false"})

    data = json.dumps(SPDX).encode()
    record = supply_chain.make_sbom(
        lambda argv, env: (0, "", ""), lambda path: data, removed.append, commands, "spdx-json"
    )
    assert record["file"] == "sbom.spdx.json"
    assert record["packages"] == 2  # the image itself is not a package
    assert record["generator"] == "syft-1.51.0"
    assert len(record["sha256"]) == 64


def test_sign_with_a_key_signs_the_digest_and_attests_the_sbom_with_the_same_flags():
    commands = supply_chain.sign_commands(
        "r.test/forum/discourse:v1", DIGEST, "key", key="/k/cosign.key", flags=["--tlog-upload=false"],
        sbom={"path": "/out/sbom.spdx.json", "format": "spdx-json"},
    )  # fmt: skip
    target = f"r.test/forum/discourse@{DIGEST}"
    assert commands["commands"] == [
        ["cosign", "sign", "--yes", "--key", "/k/cosign.key", "--tlog-upload=false", target],
        ["cosign", "attest", "--yes", "--key", "/k/cosign.key", "--type", "spdxjson", "--predicate",
         "/out/sbom.spdx.json", "--tlog-upload=false", target],
    ]  # fmt: skip
    seen = []
    result = supply_chain.sign(lambda argv, env: seen.append(env) or (0, "", ""), commands, password=None)
    assert result == {"reference": target, "attested_sbom": True}
    # cosign reads COSIGN_PASSWORD and would prompt without it
    assert seen == [{"COSIGN_PASSWORD": ""}, {"COSIGN_PASSWORD": ""}]


def test_keyless_signing_passes_no_key_and_a_failure_names_the_image():
    commands = supply_chain.sign_commands("r.test/x:1", DIGEST, "keyless")
    assert commands["commands"] == [["cosign", "sign", "--yes", f"r.test/x@{DIGEST}"]]
    with pytest.raises(
        supply_chain.SupplyChainError, match=f"signing r.test/x@{DIGEST}: cosign exited with 1: no token"
    ):
        supply_chain.sign(lambda argv, env: (1, "", "no\n token"), commands)
    with pytest.raises(supply_chain.SupplyChainError, match="needs the key"):
        supply_chain.sign_commands("r.test/x:1", DIGEST, "key")


def test_verify_command_with_a_key_or_a_keyless_identity():
    image = f"r.test/x:1@{DIGEST}"
    assert supply_chain.verify_command(image, key="/k.pub", flags=["--insecure-ignore-tlog=true"]) == [
        "cosign", "verify", "--output", "json", "--key", "/k.pub", "--insecure-ignore-tlog=true", image,
    ]  # fmt: skip
    identity = "https://github.com/acme/forums/.github/workflows/discourse-image.yml@refs/heads/main"
    assert supply_chain.verify_command(image, identity=identity, issuer=supply_chain.GITHUB_OIDC_ISSUER) == [
        "cosign", "verify", "--output", "json", "--certificate-identity", identity,
        "--certificate-oidc-issuer", "https://token.actions.githubusercontent.com", image,
    ]  # fmt: skip
    with pytest.raises(supply_chain.SupplyChainError, match="neither key"):
        supply_chain.verify_command(image)


def signature(digest):
    return {
        "critical": {
            "identity": {"docker-reference": "r.test/x"},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }


def test_a_verified_image_reports_its_digest_and_signatures():
    out = json.dumps([signature(DIGEST)])
    result = supply_chain.verification(f"r.test/x:1@{DIGEST}", 0, out, "", key="/k.pub")
    assert result == {"image": f"r.test/x:1@{DIGEST}", "digest": DIGEST, "signatures": 1,
                      "trusted": "the public key /k.pub"}  # fmt: skip
    # a tag alone: the digest comes from what cosign verified
    assert supply_chain.verification("r.test/x:1", 0, out, "", key="/k.pub")["digest"] == DIGEST
    with pytest.raises(supply_chain.SupplyChainError, match="another digest"):
        supply_chain.verification(f"r.test/x@{OTHER}", 0, out, "", key="/k.pub")


@pytest.mark.parametrize(
    ("rc", "message"),
    [
        (
            10,
            r"r.test/x@sha256:.* is not signed: cosign found no signature for it .*\(discourse_image_sign\)",
        ),
        (
            12,
            "is signed, but no signature verifies against the public key /k.pub: it was signed by someone",
        ),
        (11, "does not exist in its registry"),
        (1, r"cosign could not verify .* \(exit 1\): Error: boom"),
    ],
)
def test_cosign_exit_codes_become_messages_that_say_what_is_wrong(rc, message):
    with pytest.raises(supply_chain.SupplyChainError, match=message):
        supply_chain.verification(f"r.test/x@{DIGEST}", rc, "", "Error: boom", key="/k.pub")


def test_keyless_mismatch_names_the_trusted_identity():
    with pytest.raises(
        supply_chain.SupplyChainError, match=r"the keyless signer https://id \(issuer https://iss\)"
    ):
        supply_chain.verification("r.test/x", 12, "", "", identity="https://id", issuer="https://iss")


NEEDS_PUSH = (
    "discourse_image_sign: keyless needs discourse_image_push: true (cosign signs the digest the registry "
    "gives the pushed image, and stores the signature there)"
)
BUILD = {"build": True, "push": True, "sbom": True, "sbom_format": "spdx-json", "sbom_executable": "syft",
         "sign": "key", "sign_key": "", "sign_sbom": False, "sign_executable": "cosign"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sign": "none"}, []),
        ({"sign": "keyless", "push": False}, [NEEDS_PUSH]),
        ({}, ["discourse_image_sign_key must name the cosign private key (a file on the build host, a KMS "
              "URI or k8s://namespace/secret) when discourse_image_sign is key"]),
        ({"sign_key": "/nonexistent/cosign.key"},
         ["discourse_image_sign_key: /nonexistent/cosign.key is not a file on the build host"]),
        ({"sign_key": "awskms:///alias/forum"}, []),
        ({"sign": "none", "sign_sbom": True},
         ["discourse_image_sign_sbom attests the SBOM: it needs discourse_image_sbom: true and "
          "discourse_image_sign key or keyless"]),
        ({"sign": "none", "sbom_executable": "missing-syft"},
         ["discourse_image_sbom_executable: missing-syft is not installed on the build host (syft, "
          "https://github.com/anchore/syft; or set discourse_image_sbom: false)"]),
        ({"sign": "none", "builder": "buildah", "platforms": ["linux/amd64", "linux/arm64"]},
         ["discourse_image_sbom with more than one of discourse_image_platforms needs the docker builder "
          "(syft then scans the pushed index); with buildah or podman build one platform per run"]),
        ({"sign": "none", "builder": "docker", "platforms": ["linux/amd64", "linux/arm64"]}, []),
        ({"sign": "none", "builder": "buildah", "platforms": ["linux/arm64"]}, []),
        # a context-only run needs neither binary
        ({"sign": "keyless", "build": False, "push": False, "sbom_executable": "missing",
          "sign_executable": "x"}, [NEEDS_PUSH]),
    ],
)  # fmt: skip
def test_build_problems_name_the_input(changes, expected):
    installed = {"syft", "cosign"}
    assert supply_chain.build_problems({**BUILD, **changes}, which=lambda name: name in installed) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"discourse_app_image_verify": False}, []),
        ({"discourse_app_image_verify_key": "/k.pub"}, []),
        ({"discourse_app_image_verify_identity": "https://id"}, []),
        ({}, ["discourse_app_image_verify is true but neither discourse_app_image_verify_key (a cosign "
              "public key) nor discourse_app_image_verify_identity or "
              "discourse_app_image_verify_identity_regexp (the keyless signer, for example the build "
              "workflow https://github.com/OWNER/REPO/.github/workflows/discourse-image.yml@refs/heads/main) "
              "is set."]),
        ({"discourse_app_image_verify_key": "/k.pub", "discourse_app_image_verify_identity_regexp": ".*"},
         ["discourse_app_image_verify is true but discourse_app_image_verify_key and "
          "discourse_app_image_verify_identity/discourse_app_image_verify_identity_regexp are both set: "
          "verify with a key or with a keyless identity, not both."]),
        ({"discourse_app_image_verify_identity": "https://id", "discourse_app_image_verify_oidc_issuer": ""},
         ["discourse_app_image_verify is true but discourse_app_image_verify_oidc_issuer must name the OIDC "
          "issuer of the keyless identity."]),
    ],
)  # fmt: skip
def test_app_verification_needs_a_key_or_an_identity(changes, expected):
    inputs = {
        **APP,
        "discourse_app_image_verify": True,
        "discourse_app_image_verify_key": "",
        "discourse_app_image_verify_identity": "",
        "discourse_app_image_verify_identity_regexp": "",
        "discourse_app_image_verify_oidc_issuer": supply_chain.GITHUB_OIDC_ISSUER,
        **changes,
    }
    assert cross_field.app_errors(inputs, "", APP_CONTEXT) == expected


COSIGN_STDERR = """WARNING: Skipping tlog verification is an insecure practice that lacks transparency.
WARNING: Could not fetch trusted_root.json from the TUF repository. Continuing with individual targets.
Error: no matching signatures: invalid signature when validating ASN.1 encoded signature
error during command execution: no matching signatures: invalid signature when validating ASN.1
"""


def test_the_message_quotes_cosigns_error_not_its_warnings():
    with pytest.raises(supply_chain.SupplyChainError) as raised:
        supply_chain.verification("r.test/x", 12, "", COSIGN_STDERR, key="/k.pub")
    assert str(raised.value).endswith(
        "(cosign: Error: no matching signatures: invalid signature when validating ASN.1 encoded signature)."
    )
    assert "WARNING" not in str(raised.value)
