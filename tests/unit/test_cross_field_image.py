"""module_utils/cross_field_image: discourse_image's cross-field input checks, exact messages."""

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import cross_field, cross_field_image

SHA = "0123456789abcdef0123456789abcdef01234567"
# discourse_image's defaults with the pins a lock gives, as the argument spec types them: it fills an
# empty backup_runner's sub-options with None.
IMAGE = {
    "discourse_image_discourse_version": "v3.5.0",
    "discourse_image_discourse_docker_ref": SHA,
    "discourse_image_base_repository": "discourse/base",
    "discourse_image_base_tag": "2.0.20260803-0122",
    "discourse_image_base_digest": "",
    "discourse_image_templates": ["web", "web.ratelimited", "offline-page"],
    "discourse_image_force_templates": False,
    "discourse_image_params": {},
    "discourse_image_plugins": [],
    "discourse_image_env": {},
    "discourse_image_secret_env_keys": [],
    "discourse_image_repository": "ghcr.io/example/discourse",
    "discourse_image_tags": [],
    "discourse_image_platforms": [],
    "discourse_image_backup_runner": {"repository": None, "base_image": None, "postgres_major": None},
    "discourse_image_build": True,
    "discourse_image_push": False,
    "discourse_image_builder": "docker",
    "discourse_image_builder_flags": [],
    "discourse_image_git_credentials_file": "",
    "discourse_image_sbom": False,
    "discourse_image_sbom_format": "spdx-json",
    "discourse_image_sbom_executable": "syft",
    "discourse_image_sign": "none",
    "discourse_image_sign_key": "",
    "discourse_image_sign_sbom": False,
    "discourse_image_sign_executable": "cosign",
}
PINS = (
    "discourse_image_discourse_version must be a git ref of Discourse (a tag such as v3.5.0, a branch or a "
    "commit; got '{}') and discourse_image_discourse_docker_ref a full 40-character discourse_docker commit "
    "(got '{}'); images/<flavour>.yml holds both."
)
BASE = (
    "discourse_image_base_tag must be a pinned tag of {} (not latest; got '{}') and "
    "discourse_image_base_digest empty or sha256:<64 hex> (got '{}')."
)
FORCE = ". Set discourse_image_force_templates: true to build them anyway."
REPOSITORY = (
    "discourse_image_repository must be an image repository without a tag such as ghcr.io/example/discourse "
    "(got '{}'); {}."
)
SECRET = (
    "discourse_image_env: {} is a secret or connection setting; it must come from a Kubernetes Secret at "
    "runtime, never from the image"
)
CREDENTIALS = (
    "discourse_image_git_credentials_file: {} is not a file on the build host (a git credential store file, "
    "one https://x-access-token:TOKEN@host line per host)."
)
NO_COSIGN = (
    "discourse_image_sign_executable: no-such-cosign is not installed on the build host (cosign v2, "
    "https://github.com/sigstore/cosign)"
)
NEEDS_PUSH = (
    "discourse_image_sign: {} needs discourse_image_push: true (cosign signs the digest the registry gives "
    "the pushed image, and stores the signature there)"
)
RUNNER = "discourse_image_backup_runner"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"discourse_image_discourse_version": "", "discourse_image_discourse_docker_ref": "main"},
         [PINS.format("", "main")]),
        ({"discourse_image_discourse_version": "-v3"}, [PINS.format("-v3", SHA)]),
        ({"discourse_image_discourse_version": "release/3.5"}, []),
        ({"discourse_image_base_tag": "latest", "discourse_image_base_digest": "md5:1"},
         [BASE.format("discourse/base", "latest", "md5:1")]),
        ({"discourse_image_base_repository": "Discourse/Base"},
         [BASE.format("Discourse/Base", "2.0.20260803-0122", "")]),
        ({"discourse_image_base_digest": "sha256:" + "a" * 64}, []),
        (
            {"discourse_image_templates": ["web.ssl", "web", "cron", "web"]},
            ["discourse_image_templates: web.ssl is excluded for Kubernetes (TLS is terminated by the "
             "ingress); discourse_image_templates: cron is excluded for Kubernetes (deprecated upstream: "
             "cron is in the base image); discourse_image_templates: web.ratelimited is required by the "
             "architecture brief and is missing; discourse_image_templates: offline-page is required by the "
             "architecture brief and is missing; discourse_image_templates: web must come first (the other "
             "templates change what it writes); discourse_image_templates: a template is listed twice"
             + FORCE],
        ),
        # typed by the argument spec: -e discourse_image_force_templates=false is False
        ({"discourse_image_templates": ["web.ssl"], "discourse_image_force_templates": True}, []),
        (
            {"discourse_image_plugins": [
                {"url": "https://u:p@github.com/x/a.git", "ref": "main", "name": None, "branch": None},
                {"url": "https://github.com/x/a.git", "ref": SHA, "name": None, "branch": None},
            ]},
            ["discourse_image_plugins[0].url: the URL holds credentials (a user and password), which would "
             "reach config.yaml, the plugin's .git/config in the image and the build manifest; use "
             "discourse_image_git_credentials_file (a git credential store file given to the builder as a "
             "build secret) for private repositories; discourse_image_plugins[0].ref: 'main' is not pinned; "
             "give the full 40-character commit SHA (playbooks/check_upstream.yml finds the newest commit "
             "of the branch); discourse_image_plugins: the plugin a is listed twice"],
        ),
        (
            {"discourse_image_env": {"DISCOURSE_DB_PASSWORD": "x", "MY_KEY": "v", "MIGRATE_ON_BOOT": "1"},
             "discourse_image_secret_env_keys": ["MY_KEY"], "discourse_image_params": {"version": "v1"}},
            [SECRET.format("DISCOURSE_DB_PASSWORD") + "; discourse_image_env: MIGRATE_ON_BOOT is set by the "
             "role (see discourse_image_precompile); " + SECRET.format("MY_KEY") + "; "
                                                                                   "discourse_image_params: "
             "version is set with discourse_image_discourse_version"],
        ),
        ({"discourse_image_params": {"version": "v1"}},
         ["discourse_image_params: version is set with discourse_image_discourse_version"]),
        (
            {"discourse_image_repository": "ghcr.io/example/discourse:latest",
             "discourse_image_tags": ["ok", "bad tag"], "discourse_image_push": True,
             "discourse_image_build": False},
            [REPOSITORY.format("ghcr.io/example/discourse:latest",
                               "discourse_image_tags: 'bad tag' is not a valid image tag; "
                               "discourse_image_push needs discourse_image_build: true")],
        ),
        ({"discourse_image_repository": ""}, [REPOSITORY.format("", "the tags are valid")]),
        ({"discourse_image_push": True, "discourse_image_build": False},
         [REPOSITORY.format("ghcr.io/example/discourse",
                            "discourse_image_push needs discourse_image_build: true")]),
        ({"discourse_image_repository": "registry.local:5000/forum/discourse"}, []),
        (
            {"discourse_image_platforms": ["linux/amd64", "linux/x86_64", "windows"],
             "discourse_image_builder_flags": ["--platform=linux/amd64"]},
            ["discourse_image_platforms: linux/x86_64 is listed twice; discourse_image_platforms: 'windows' "
             "is not a platform os/arch[/variant] such as linux/arm64; discourse_image_builder_flags: "
             "--platform is set from discourse_image_platforms (the lock's image.platforms); remove it from "
             "the flags"],
        ),
        ({"discourse_image_git_credentials_file": "/nonexistent/creds"},
         [CREDENTIALS.format("/nonexistent/creds")]),
        ({"discourse_image_git_credentials_file": __file__}, []),
        (
            {RUNNER: {"repository": "ghcr.io/x/b:1", "postgres_major": 12,
                      "base_image": {"repository": "postgres", "tag": "latest", "digest": None}}},
            [f"{RUNNER}.repository must be an image repository without a tag, such as "
             f"ghcr.io/example/discourse-backup (got 'ghcr.io/x/b:1'); {RUNNER}.base_image.tag must be a "
             f"pinned tag such as 18-trixie, not latest (got 'latest'); {RUNNER}.postgres_major must be the "
             "database's PostgreSQL major, 13 or newer (got 12)"],
        ),
        ({RUNNER: {"repository": "ghcr.io/x/b", "postgres_major": 18, "base_image": {
            "repository": "docker.io/library/postgres", "tag": "18-trixie", "digest": None}}}, []),
        (
            {"discourse_image_sign": "key", "discourse_image_sign_sbom": True,
             "discourse_image_sign_executable": "no-such-cosign"},
            [NEEDS_PUSH.format("key")
             + "; discourse_image_sign_key must name the cosign private key (a file on the build host, a KMS "
             "URI or k8s://namespace/secret) when discourse_image_sign is key; discourse_image_sign_sbom "
             "attests the SBOM: it needs discourse_image_sbom: true and discourse_image_sign key or keyless; "
             + NO_COSIGN],
        ),
        (
            {"discourse_image_sbom": True, "discourse_image_sbom_executable": "no-such-syft",
             "discourse_image_builder": "podman",
             "discourse_image_platforms": ["linux/amd64", "linux/arm64"]},
            ["discourse_image_sbom with more than one of discourse_image_platforms needs the docker builder "
             "(syft then scans the pushed index); with buildah or podman build one platform per run; "
             "discourse_image_sbom_executable: no-such-syft is not installed on the build host (syft, "
             "https://github.com/anchore/syft; or set discourse_image_sbom: false)"],
        ),
        # every failed check at once
        (
            {"discourse_image_discourse_docker_ref": "", "discourse_image_base_tag": "latest",
             "discourse_image_templates": ["web"],
             "discourse_image_plugins": [{"url": "x y", "ref": SHA, "name": None, "branch": None}],
             "discourse_image_env": {"1X": "a"}, "discourse_image_repository": "Bad",
             "discourse_image_platforms": ["linux"], "discourse_image_git_credentials_file": "/nope",
             RUNNER: {"repository": "r", "base_image": None, "postgres_major": None},
             "discourse_image_sign": "keyless", "discourse_image_sign_executable": "no-such-cosign"},
            [PINS.format("v3.5.0", ""),
             BASE.format("discourse/base", "latest", ""),
             "discourse_image_templates: web.ratelimited is required by the architecture brief and is "
             "missing; discourse_image_templates: offline-page is required by the architecture brief and is "
             "missing" + FORCE,
             "discourse_image_plugins[0].url: 'x y' is not a git URL usable in a build (no spaces, quotes, "
             "$ or shell characters); discourse_image_plugins[0].name: 'x y' is not a plugin directory name",
             "discourse_image_env: '1X' is not an environment variable name",
             REPOSITORY.format("Bad", "the tags are valid"),
             "discourse_image_platforms: 'linux' is not a platform os/arch[/variant] such as linux/arm64",
             CREDENTIALS.format("/nope"),
             f"{RUNNER}.repository must be an image repository without a tag, such as "
             f"ghcr.io/example/discourse-backup (got 'r'); {RUNNER}.base_image must be a mapping with "
             f"repository, tag and digest; {RUNNER}.postgres_major must be the database's PostgreSQL major, "
             "13 or newer (got None)",
             NEEDS_PUSH.format("keyless") + "; " + NO_COSIGN],
        ),
    ],
)  # fmt: skip
def test_image(changes, expected):
    assert cross_field_image.image_errors({**IMAGE, **changes}) == expected


def test_the_image_role_is_checked_through_the_one_registry():
    assert cross_field.CHECKS["discourse_image"] is cross_field_image.image_errors
