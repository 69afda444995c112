"""module_utils/image: the discourse_image role's decisions as pure functions."""

import base64
import hashlib
import json
import os
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.filter import image as image_filters
from ansible_collections.forumops.discourse.plugins.module_utils import image, image_build, pups

SHA = "0123456789abcdef0123456789abcdef01234567"
REFS = ["ghcr.io/acme/discourse:v3.5.0-0123456789ab", "ghcr.io/acme/discourse:stable"]
PLATFORMS = ["linux/amd64", "linux/arm64"]
LABELS = {"org.b": "2", "org.a": "1"}


def docker_buildx_pushing(*platform_flags):
    """The commands of a docker build of REFS with LABELS and --pull that pushes: one buildx command,
    whose metadata file gives the digest."""
    return {
        "list": None,
        "builds": [[
            "docker", "buildx", "build", "--file", "/b/context/Dockerfile", "--iidfile", "/b/image-id",
            "--metadata-file", "/b/build-metadata.json", "--label", "org.a=1", "--label", "org.b=2",
            "--tag", REFS[0], "--tag", REFS[1], *platform_flags, "--pull", "--push", "/b/context",
        ]],
        "tags": [],
        "push": [],
        "digest_files": ["/b/build-metadata.json"],
        "digest_key": "containerimage.digest",
    }  # fmt: skip


def test_docker_buildx_command_pushes_and_records_metadata():
    commands = image_build.build_commands(
        "docker", "/b/context", "/b", REFS, LABELS, build_flags=("--pull",), push=True
    )
    assert commands == docker_buildx_pushing()


def test_build_secrets_are_given_to_every_builder_by_id_and_file():
    secrets = {"git_credentials": "/run/ci/git-credentials"}
    for builder in ("docker", "podman", "buildah"):
        for platforms in ([], PLATFORMS):
            builds = image_build.build_commands(
                builder, "/b/context", "/b", REFS[:1], {}, secrets=secrets, platforms=platforms
            )["builds"]
            for build in builds:
                at = build.index("--secret")
                assert build[at : at + 2] == ["--secret", "id=git_credentials,src=/run/ci/git-credentials"]
                assert build.count("--secret") == 1


def test_docker_without_push_loads_the_image():
    commands = image_build.build_commands("docker", "/b/context", "/b", REFS[:1], {})
    assert commands["builds"][0][-2:] == ["--load", "/b/context"]
    assert commands["digest_files"] == []
    assert commands["digest_key"] is None


def test_podman_builds_then_pushes_each_tag_with_a_digest_file():
    commands = image_build.build_commands(
        "podman", "/b/context", "/b", REFS, LABELS, push=True, executable="/usr/bin/podman"
    )
    assert commands == {
        "list": None,
        "builds": [[
            "/usr/bin/podman", "build", "--file", "/b/context/Dockerfile", "--iidfile", "/b/image-id",
            "--label", "org.a=1", "--label", "org.b=2", "--tag", REFS[0], "--tag", REFS[1], "/b/context",
        ]],
        "tags": [],
        "push": [
            ["/usr/bin/podman", "push", "--digestfile", "/b/push-digest", REFS[0]],
            ["/usr/bin/podman", "push", "--digestfile", "/b/push-digest-1", REFS[1]],
        ],
        "digest_files": ["/b/push-digest", "/b/push-digest-1"],
        "digest_key": None,
    }  # fmt: skip


def test_buildah_global_flags_go_before_the_subcommand_and_push_names_the_transport():
    commands = image_build.build_commands(
        "buildah", "/b/context", "/b", REFS[:1], {}, global_flags=("--storage-driver", "vfs"),
        build_flags=("--isolation", "chroot"), push=True,
    )  # fmt: skip
    assert commands["builds"] == [[
        "buildah", "--storage-driver", "vfs", "build", "--file", "/b/context/Dockerfile", "--iidfile",
        "/b/image-id", "--tag", REFS[0], "--isolation", "chroot", "/b/context",
    ]]  # fmt: skip
    assert commands["push"] == [
        [
            "buildah",
            "--storage-driver",
            "vfs",
            "push",
            "--digestfile",
            "/b/push-digest",
            REFS[0],
            "docker://" + REFS[0],
        ]
    ]
    assert commands["list"] is None and commands["tags"] == []


# ---- Several platforms: one manifest list --------------------------------------------------------


def test_docker_builds_every_platform_in_one_buildx_command_and_pushes_the_index():
    """docker buildx takes a comma-separated --platform and pushes one image index for them
    (docker/buildx docs/reference/buildx_build.md, --platform); its metadata file's
    containerimage.digest is then the index's digest."""
    commands = image_build.build_commands(
        "docker", "/b/context", "/b", REFS, LABELS, build_flags=("--pull",), push=True, platforms=PLATFORMS
    )
    assert commands == docker_buildx_pushing("--platform", "linux/amd64,linux/arm64")


def test_docker_keeps_a_multi_platform_build_without_push_in_the_build_cache():
    # The classic image store cannot load a manifest list; one platform still loads.
    several = image_build.build_commands("docker", "/b/context", "/b", REFS[:1], {}, platforms=PLATFORMS)
    assert several["builds"][0][-3:] == ["--platform", "linux/amd64,linux/arm64", "/b/context"]
    one = image_build.build_commands("docker", "/b/context", "/b", REFS[:1], {}, platforms=["linux/arm64"])
    assert one["builds"][0][-4:] == ["--platform", "linux/arm64", "--load", "/b/context"]


def test_buildah_builds_each_platform_into_a_manifest_list_and_pushes_it_with_all_its_images():
    """buildah-build(1) --manifest: "Creates the manifest list if it does not exist" and adds the
    image; buildah-manifest-push(1) --all: "Push the images mentioned in the manifest list ... in
    addition to the list" (containers/buildah docs at v1.28.2, 6a35b0ab235df00088b76807d6f8e8c20c1a32e0)."""
    commands = image_build.build_commands(
        "buildah", "/b/context", "/b", REFS, LABELS, global_flags=("--storage-driver", "vfs"),
        build_flags=("--isolation", "chroot"), push=True, platforms=PLATFORMS,
        secrets={"git_credentials": "/c"},
    )  # fmt: skip
    b = ["buildah", "--storage-driver", "vfs"]
    dockerfile = "/b/context/Dockerfile"
    assert commands == {
        "list": {
            "name": REFS[0],
            "exists": [*b, "manifest", "exists", REFS[0]],
            "remove": [*b, "manifest", "rm", REFS[0]],
        },
        "builds": [
            [*b, "build", "--platform", "linux/amd64", "--manifest", REFS[0], "--file", dockerfile,
             "--iidfile", "/b/image-id-linux-amd64", "--label", "org.a=1", "--label", "org.b=2",
             "--secret", "id=git_credentials,src=/c", "--isolation", "chroot", "/b/context"],
            [*b, "build", "--platform", "linux/arm64", "--manifest", REFS[0], "--file", dockerfile,
             "--iidfile", "/b/image-id-linux-arm64", "--label", "org.a=1", "--label", "org.b=2",
             "--secret", "id=git_credentials,src=/c", "--isolation", "chroot", "/b/context"],
        ],
        "tags": [[*b, "tag", REFS[0], REFS[1]]],
        "push": [
            [*b, "manifest", "push", "--all", "--digestfile", "/b/push-digest", REFS[0],
             "docker://" + REFS[0]],
            [*b, "manifest", "push", "--all", "--digestfile", "/b/push-digest-1", REFS[0],
             "docker://" + REFS[1]],
        ],
        "digest_files": ["/b/push-digest", "/b/push-digest-1"],
        "digest_key": None,
    }  # fmt: skip


def test_podman_builds_the_manifest_list_the_same_way():
    commands = image_build.build_commands(
        "podman", "/b/context", "/b", REFS[:1], {}, platforms=["linux/arm64"], executable="/usr/bin/podman"
    )
    assert commands == {
        "list": {
            "name": REFS[0],
            "exists": ["/usr/bin/podman", "manifest", "exists", REFS[0]],
            "remove": ["/usr/bin/podman", "manifest", "rm", REFS[0]],
        },
        "builds": [[
            "/usr/bin/podman", "build", "--platform", "linux/arm64", "--manifest", REFS[0], "--file",
            "/b/context/Dockerfile", "--iidfile", "/b/image-id-linux-arm64", "/b/context",
        ]],
        "tags": [],
        "push": [],
        "digest_files": [],
        "digest_key": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("platforms", "flags", "message"),
    [
        (["linux"], (), "discourse_image_platforms: 'linux' is not a platform os/arch[/variant]"),
        (["linux/arm64", "linux/arm64/v8"], (), "discourse_image_platforms: linux/arm64/v8 is listed twice"),
        (["linux/amd64"], ("--platform", "linux/amd64"), "discourse_image_builder_flags: --platform is set"),
        (["linux/amd64"], ("--platform=linux/amd64",), "discourse_image_builder_flags: --platform is set"),
    ],
)
def test_platform_problems_name_the_variable(platforms, flags, message):
    problems = image.platform_problems(platforms, flags)
    assert len(problems) == 1 and problems[0].startswith(message), problems
    with pytest.raises(image.ImageError, match=re.escape(message)):
        image_build.build_commands(
            "buildah", "/b/context", "/b", REFS, {}, build_flags=flags, platforms=platforms
        )


def test_platform_problems_accept_the_platforms_and_a_platform_flag_without_them():
    assert image.platform_problems(PLATFORMS) == []
    assert image.platform_problems(["linux/arm/v7", "linux/arm64/v8"]) == []
    assert image.platform_problems([], ("--platform", "linux/amd64")) == []
    assert image.platform_problems("linux/amd64") == [
        "discourse_image_platforms: must be a list of platforms such as [linux/amd64, linux/arm64]"
    ]


# containerd/platforms database.go normalizeArch (c32f64955de935360dea57a9b9f630d5202c9e34): x86_64 is
# amd64 (variant v1 dropped), aarch64 is arm64 (variant 8, v8, v8.0 dropped). Platform: what it compares as.
NORMALIZED_PLATFORMS = {
    "linux/arm64/v8": "linux/arm64",
    "linux/aarch64": "linux/arm64",
    "linux/x86_64": "linux/amd64",
    "linux/amd64/v1": "linux/amd64",
    "linux/amd64/v3": "linux/amd64/v3",
    "linux/arm/v7": "linux/arm/v7",
}


@pytest.mark.parametrize(("platform", "normalized"), NORMALIZED_PLATFORMS.items())
def test_platforms_compare_as_containerd_normalises_them(platform, normalized):
    assert image.normalize_platform(platform) == normalized


def test_the_index_is_read_by_digest_from_the_registry():
    digest = "sha256:" + "a" * 64
    assert image_build.index_command("docker", "ghcr.io/acme/discourse:v1-abc", digest) == [
        "docker", "buildx", "imagetools", "inspect", "--raw", f"ghcr.io/acme/discourse@{digest}",
    ]  # fmt: skip
    assert image_build.index_command(
        "buildah", "127.0.0.1:5000/forum/discourse:v1-abc", digest, global_flags=("--root", "/s")
    ) == ["buildah", "--root", "/s", "manifest", "inspect", f"127.0.0.1:5000/forum/discourse@{digest}"]
    podman = image_build.index_command("podman", "localhost:5000/d:t", digest, executable="/usr/bin/podman")
    assert podman == [
        "/usr/bin/podman", "manifest", "inspect", f"localhost:5000/d@{digest}",
    ]  # fmt: skip
    with pytest.raises(image.ImageError, match="has no digest"):
        image_build.index_command("buildah", REFS[0], "")


def test_repository_of_drops_tag_and_digest_but_keeps_a_registry_port():
    assert image_build.repository_of("127.0.0.1:5000/forum/discourse:v1") == "127.0.0.1:5000/forum/discourse"
    assert image_build.repository_of("127.0.0.1:5000/forum/discourse") == "127.0.0.1:5000/forum/discourse"
    assert image_build.repository_of("discourse/base:2.0@sha256:" + "b" * 64) == "discourse/base"
    assert image_build.repository_of("busybox") == "busybox"


def test_pushed_digest_needs_a_digest_in_every_file():
    """buildah manifest push --digestfile exits 0 after a failed push and writes an empty file
    (containers/buildah cmd/buildah/manifest.go manifestPush, v1.28.2: `if err = WriteFile(...)`
    replaces the push's error); a build must not record a missing digest as "not pushed"."""
    digest = "sha256:" + "c" * 64
    assert (
        image_build.pushed_digest([("/b/push-digest", digest), ("/b/push-digest-1", digest + "\n")]) == digest
    )
    assert image_build.pushed_digest([]) == ""
    metadata = json.dumps({"containerimage.digest": digest, "image.name": REFS[0]})
    assert (
        image_build.pushed_digest([("/b/build-metadata.json", metadata)], key="containerimage.digest")
        == digest
    )
    empty = r"^the push recorded no digest in /b/push-digest-1 \(got ''\)"
    with pytest.raises(image.ImageError, match=empty):
        image_build.pushed_digest([("/b/push-digest", digest), ("/b/push-digest-1", "")])
    with pytest.raises(image.ImageError, match=r"no digest in /b/m\.json"):
        image_build.pushed_digest([("/b/m.json", "{}")], key="containerimage.digest")
    with pytest.raises(image.ImageError, match="different digests"):
        image_build.pushed_digest([("/a", digest), ("/b", "sha256:" + "d" * 64)])


def test_the_filter_reads_slurped_digest_files_and_names_an_empty_one():
    digest = "sha256:" + "c" * 64
    slurped = [
        {"source": "/b/push-digest", "content": base64.b64encode(digest.encode()).decode(),
         "item": "/b/push-digest"},
        {"source": "/b/push-digest-1", "content": "", "item": "/b/push-digest-1"},
    ]  # fmt: skip
    assert image_filters.image_pushed_digest(slurped[:1]) == digest
    with pytest.raises(AnsibleFilterError, match="no digest in /b/push-digest-1"):
        image_filters.image_pushed_digest(slurped)


def test_the_manifest_filter_lists_every_platform_built_with_its_digest_or_empty():
    data = {
        "discourse_version": "v3.5.0", "discourse_commit": SHA, "base_image": "discourse/base:2.0.1",
        "discourse_docker_commit": SHA, "templates": ["web"], "config_hash": "c0ffee", "reference": "r/d:t",
        "migrations": {"pre": [], "post": []}, "platforms": PLATFORMS,
        "platform_digests": {"linux/arm64": ARM64},
    }  # fmt: skip
    platforms = image_filters.image_manifest(data)["image"]["platforms"]
    assert platforms == {"linux/amd64": "", "linux/arm64": ARM64}
    assert image_filters.image_manifest({**data, "platforms": []})["image"]["platforms"] == {}


# BuildKit's example index: an amd64 image and its attestation manifest (unknown/unknown), from
# moby/buildkit docs/attestations/attestation-storage.md at ede3ed3bc6178e2566e6dc52429fdb3c5cdb033f.
AMD64 = "sha256:23678f31b3b3586c4fb318aecfe64a96a1f0916ba8faf9b2be2abee63fa9e827"
ATTESTATION = "sha256:02cb9aa7600e73fcf41ee9f0f19cc03122b2d8be43d41ce4b21335118f5dd943"
ARM64 = "sha256:" + "e" * 64


def buildkit_index(*extra):
    return json.dumps({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": AMD64, "size": 1234,
             "platform": {"architecture": "amd64", "os": "linux"}},
            *extra,
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ATTESTATION, "size": 1234,
             "annotations": {"vnd.docker.reference.digest": AMD64,
                             "vnd.docker.reference.type": "attestation-manifest"},
             "platform": {"architecture": "unknown", "os": "unknown"}},
        ],
    })  # fmt: skip


def test_platform_digests_skip_attestations_and_accept_the_arm64_variant():
    arm = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ARM64, "size": 1,
           "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}  # fmt: skip
    digests = image_build.platform_digests(buildkit_index(arm), PLATFORMS)
    assert digests == {"linux/amd64": AMD64, "linux/arm64": ARM64}
    assert image_build.platform_digests(buildkit_index(), ["linux/amd64"]) == {"linux/amd64": AMD64}


def test_platform_digests_fail_for_a_missing_or_doubled_platform():
    with pytest.raises(image.ImageError, match=r"has no image for linux/arm64$"):
        image_build.platform_digests(buildkit_index(), PLATFORMS, "sha256:" + "f" * 64)
    twice = {"digest": ARM64, "platform": {"architecture": "amd64", "os": "linux"}}
    with pytest.raises(image.ImageError, match="holds linux/amd64 twice"):
        image_build.platform_digests(buildkit_index(twice), PLATFORMS)
    with pytest.raises(image.ImageError, match="not JSON"):
        image_build.platform_digests("Error: no such manifest", PLATFORMS)


def test_a_single_pushed_image_stands_for_its_one_platform():
    single = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"})
    assert image_build.platform_digests(single, ["linux/arm64"], ARM64) == {"linux/arm64": ARM64}
    with pytest.raises(image.ImageError, match="single image, not an index"):
        image_build.platform_digests(single, PLATFORMS, ARM64)


def test_platforms_change_the_tag_only_when_given():
    base = ("discourse/base:2.0", SHA, ["web"], {}, [])
    assert "platforms" not in image.tag_inputs(*base)
    plain = image.image_tag("v3.5.0", image.tag_inputs(*base))
    assert image.image_tag("v3.5.0", image.tag_inputs(*base, platforms=[])) == plain
    both = image.image_tag("v3.5.0", image.tag_inputs(*base, platforms=PLATFORMS))
    assert both != plain
    assert image.tag_inputs(*base, platforms=["linux/amd64", "linux/arm64/v8"])["platforms"] == PLATFORMS
    assert image.image_tag("v3.5.0", image.tag_inputs(*base, platforms=["linux/amd64"])) != both


def test_unknown_builder_names_the_variable():
    with pytest.raises(image.ImageError, match=r"^discourse_image_builder: 'kaniko' is not one of"):
        image_build.build_commands("kaniko", "/b/context", "/b", REFS, {})


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("web.ssl", "TLS is terminated by the ingress"),
        ("templates/web.letsencrypt.ssl.template.yml", "cert-manager issues the certificates"),
        ("web.socketed", "Unix sockets"),
        ("postgres.15", "CloudNativePG"),
        ("redis", "Valkey"),
        ("sshd", "kubectl exec"),
        ("cron", "deprecated"),
        ("web.onion", "Tor"),
        ("import/mbox", "one-time migration tools"),
    ],
)
def test_excluded_templates_are_refused_with_the_reason(name, reason):
    problems = image.refused_templates(["web", "web.ratelimited", "offline-page", name])
    assert len(problems) == 1
    assert problems[0].startswith(f"discourse_image_templates: {image.template_short_name(name)} is excluded")
    assert reason in problems[0]
    assert image.refused_templates(["web", "web.ratelimited", "offline-page", name], force=True) == []


def test_required_templates_and_order():
    assert image.refused_templates(["web", "web.ratelimited", "offline-page", "web.ipv6"]) == []
    assert image.refused_templates(["web.ratelimited", "web", "offline-page"]) == [
        "discourse_image_templates: web must come first (the other templates change what it writes)"
    ]
    assert image.refused_templates(["web"]) == [
        "discourse_image_templates: web.ratelimited is required by the architecture brief and is missing",
        "discourse_image_templates: offline-page is required by the architecture brief and is missing",
    ]


def test_plugins_must_be_pinned_and_safe():
    assert (
        image.plugin_problems([{"url": "https://github.com/discourse/discourse-solved.git", "ref": SHA}])
        == []
    )
    assert image.plugin_problems(
        [{"url": "https://github.com/discourse/discourse-solved.git", "ref": "main"}]
    ) == [
        "discourse_image_plugins[0].ref: 'main' is not pinned; give the full 40-character commit SHA "
        "(playbooks/check_upstream.yml finds the newest commit of the branch)"
    ]
    leak = (
        "which would reach config.yaml, the plugin's .git/config in the image and the build manifest; use "
        "discourse_image_git_credentials_file (a git credential store file given to the builder as a build "
        "secret) for private repositories"
    )
    assert image.plugin_problems([{"url": "https://u:p@example.test/x.git", "ref": SHA}]) == [
        f"discourse_image_plugins[0].url: the URL holds credentials (a user and password), {leak}"
    ]
    # Reported (issue 22, item 4): a token-only URL passed the check.
    assert image.plugin_problems([{"url": "https://ghp_abc123@github.com/acme/private.git", "ref": SHA}]) == [
        f"discourse_image_plugins[0].url: the URL holds credentials (a token), {leak}"
    ]
    # A user name alone is no credential over SSH.
    assert image.plugin_problems([{"url": "ssh://git@github.com/acme/private.git", "ref": SHA}]) == []
    assert image.plugin_problems([{"url": "git@github.com:acme/private.git", "ref": SHA}]) == []
    assert "not a git URL" in image.plugin_problems([{"url": "https://x/$(id).git", "ref": SHA}])[0]


def test_env_refuses_values_with_credentials_in_a_url():
    env = {
        "HTTPS_PROXY": "http://u:p@proxy.example.test:3128",
        "DISCOURSE_SENTRY_DSN": "https://0123abcd@o1.ingest.sentry.io/42",
        "HTTP_PROXY": "http://proxy.example.test:3128",
        "DISCOURSE_CDN_URL": "https://cdn.example.test",
    }
    assert image.env_problems(env, lambda key: False) == [
        "discourse_image_env: DISCOURSE_SENTRY_DSN holds a URL with a token; it would become a Dockerfile "
        "ARG and image metadata. Give it to the pods from a Kubernetes Secret instead",
        "discourse_image_env: HTTPS_PROXY holds a URL with a user and password; it would become a Dockerfile "
        "ARG and image metadata. Give it to the pods from a Kubernetes Secret instead",
    ]


def test_url_credentials_names_the_kind():
    assert image.url_credentials("https://ghp_x@github.com/a/b.git") == "a token"
    assert image.url_credentials("see http://user:pw@host/ and more") == "a user and password"
    assert image.url_credentials("ssh://git@github.com/a/b.git") == ""
    assert image.url_credentials("ssh://git:pw@github.com/a/b.git") == "a user and password"
    assert image.url_credentials("mailto:admin@example.test https://example.test/a@b") == ""


def test_env_refuses_secrets_and_role_managed_keys():
    assert image.env_problems(
        {"DISCOURSE_SMTP_PASSWORD": "x", "MIGRATE_ON_BOOT": "1", "A": "b"}, pups.is_secret_env
    ) == [
        "discourse_image_env: DISCOURSE_SMTP_PASSWORD is a secret or connection setting; it must come from a "
        "Kubernetes Secret at runtime, never from the image",
        "discourse_image_env: MIGRATE_ON_BOOT is set by the role (see discourse_image_precompile)",
    ]


def test_tag_is_version_and_short_hash_of_canonical_inputs():
    inputs = image.tag_inputs("discourse/base:2.0.1", SHA, ["web"], {"b": 1, "a": "x"}, [], {}, "build")
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    assert image.image_tag("v3.5.0", inputs) == "v3.5.0-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    assert image.image_tag("release/2026.2", inputs).startswith("release-2026.2-")
    other = image.tag_inputs("discourse/base:2.0.1", SHA, ["web"], {"a": "x", "b": 2}, [], {}, "build")
    assert image.image_tag("v3.5.0", other) != image.image_tag("v3.5.0", inputs)


def test_runtime_env_drops_secrets_and_build_only_keys_and_sets_on_boot():
    env = {"LANG": "en_US.UTF-8", "DISCOURSE_DB_HOST": "x", "SKIP_DB_AND_REDIS": "1", "MIGRATE_ON_BOOT": "1"}
    assert image.runtime_env(env, "build", pups.is_secret_env) == {
        "CREATE_DB_ON_BOOT": "0",
        "LANG": "en_US.UTF-8",
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "0",
    }
    assert image.runtime_env(env, "on-boot", pups.is_secret_env)["PRECOMPILE_ON_BOOT"] == "1"


def test_strategies_choose_skip_tags_and_hooks():
    assert image.build_skip_tags("build") == ["precompile", "migrate", "db"]
    assert image.build_skip_tags("temporary-services") == ["db"]
    assert list(image.precompile_hooks("temporary-services")) == [
        "before_db_migrate",
        "after_assets_precompile",
    ]
    assert image.precompile_hooks("on-boot") == {}
    with pytest.raises(image.ImageError, match=r"^discourse_image_precompile: 'never'"):
        image.container_config(["web"], "v1", precompile="never")


def test_migrations_are_classified_by_folder():
    paths = [
        "/d/db/migrate/20240101000000_a.rb",
        "/d/db/migrate/sub/20240101000009_nested_is_not_loaded.rb",
        "/d/db/post_migrate/x/20240102000000_b.rb",
        "/d/plugins/chat/db/migrate/20240103000000_c.rb",
        "/d/spec/fixtures/db/migrate/20240104000000_d.rb",
        "/p/solved/db/post_migrate/20240105000000_e.rb",
        "/p/solved/db/migrate/20240101000000_dup.rb",
    ]
    result = image.classify_migrations(paths, "/d", ["/p/solved"])
    assert result["pre"] == ["20240101000000", "20240103000000"]
    assert result["post"] == ["20240102000000", "20240105000000"]
    assert result["warnings"] == [
        "/p/solved/db/migrate/20240101000000_dup.rb: version 20240101000000 is also used by "
        "/d/db/migrate/20240101000000_a.rb; counted once"
    ]


def test_labels_carry_the_manifest_without_the_image_sections_or_the_settings_catalog():
    manifest = image.build_manifest(
        "v3.5.0",
        SHA,
        "discourse/base:2.0.1",
        "",
        SHA,
        ["web"],
        [],
        "c0ffee",
        "r:t",
        "",
        {"pre": ["1"], "post": []},
        site_settings={"title": {"type": "string", "default": "Discourse"}},
        backup_runner={"reference": "r/backup:pg18-0123456789ab", "digest": "sha256:" + "0" * 64},
    )
    assert manifest["site_settings"] == {"title": {"type": "string", "default": "Discourse"}}
    assert manifest["backup_runner"]["reference"] == "r/backup:pg18-0123456789ab"
    assert manifest["image"] == {"reference": "r:t", "digest": "", "platforms": {}}
    labels = image.manifest_labels(manifest)
    # the runner's digest is known only after the Discourse image is built: not a label
    assert json.loads(labels["org.forumops.discourse.build-manifest"]) == {
        k: v for k, v in manifest.items() if k not in ("image", "site_settings", "backup_runner")
    }
    assert labels["org.opencontainers.image.revision"] == SHA


def test_a_multi_platform_manifest_pins_the_index_and_records_each_platforms_image():
    index = "sha256:" + "1" * 64
    platforms = {"linux/amd64": "sha256:" + "2" * 64, "linux/arm64": "sha256:" + "3" * 64}
    manifest = image.build_manifest(
        "v3.5.0", SHA, "discourse/base:2.0.1", "", SHA, ["web"], [], "c0ffee", "r/d:t", index,
        {"pre": [], "post": []}, platforms=platforms,
    )  # fmt: skip
    assert manifest["image"] == {"reference": "r/d:t", "digest": index, "platforms": platforms}
    assert image.pinned_reference(manifest["image"]) == f"r/d:t@{index}"
    # digests are known only after the push: the labels leave the image section out
    assert "platforms" not in image.manifest_labels(manifest)["org.forumops.discourse.build-manifest"]


def test_the_build_fails_when_pull_compatible_all_moved_a_plugin(tmp_path):
    """discourse/discourse_docker templates/web.template.yml (e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd,
    tests/fixtures/upstream): `rake plugin:pull_compatible_all`, hook plugin_compatibility,
    raise_on_fail false. The after_plugin_compatibility row is run here by the real sh and git on
    a plugin checkout at its locked commit, then moved to another one."""
    import subprocess

    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CONFIG_GLOBAL="/dev/null")  # fmt: skip
    repo = tmp_path / "discourse-solved"
    repo.mkdir()

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True
        )

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "locked")
    locked = git("rev-parse", "HEAD").stdout.strip()
    git("commit", "-q", "--allow-empty", "-m", "compatible")
    moved = git("rev-parse", "HEAD").stdout.strip()
    [row] = image.plugin_check_hook(
        [{"name": "discourse-solved", "url": "https://example.test/s.git", "ref": locked}]
    )
    assert row["exec"]["cd"] == "$home/plugins"
    [command] = row["exec"]["cmd"]

    def run():
        return subprocess.run(
            ["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=False
        )

    failed = run()
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"discourse_image_plugins: discourse-solved is locked at {locked} but plugin:pull_compatible_all "
        f"moved it to {moved}; pin the commit its .discourse-compatibility names"
    )
    git("-c", "advice.detachedHead=false", "checkout", "-q", locked)
    assert run().returncode == 0
