"""module_utils/image: the discourse_image role's decisions as pure functions."""

import hashlib
import json
import os

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import image, pups

SHA = "0123456789abcdef0123456789abcdef01234567"
REFS = ["ghcr.io/acme/discourse:v3.5.0-0123456789ab", "ghcr.io/acme/discourse:stable"]
LABELS = {"org.b": "2", "org.a": "1"}


def test_docker_buildx_command_pushes_and_records_metadata():
    commands = image.build_commands(
        "docker", "/b/context", "/b", REFS, LABELS, build_flags=("--platform", "linux/amd64"), push=True
    )
    assert commands == {
        "build": [
            "docker", "buildx", "build", "--file", "/b/context/Dockerfile", "--iidfile", "/b/image-id",
            "--metadata-file", "/b/build-metadata.json", "--label", "org.a=1", "--label", "org.b=2",
            "--tag", REFS[0], "--tag", REFS[1], "--platform", "linux/amd64", "--push", "/b/context",
        ],
        "push": [],
        "digest_file": "/b/build-metadata.json",
        "digest_key": "containerimage.digest",
    }  # fmt: skip


def test_build_secrets_are_given_to_every_builder_by_id_and_file():
    secrets = {"git_credentials": "/run/ci/git-credentials"}
    for builder in ("docker", "podman", "buildah"):
        build = image.build_commands(builder, "/b/context", "/b", REFS[:1], {}, secrets=secrets)["build"]
        at = build.index("--secret")
        assert build[at : at + 2] == ["--secret", "id=git_credentials,src=/run/ci/git-credentials"]
        assert build.count("--secret") == 1


def test_docker_without_push_loads_the_image():
    commands = image.build_commands("docker", "/b/context", "/b", REFS[:1], {})
    assert commands["build"][-2:] == ["--load", "/b/context"]
    assert commands["digest_file"] is None


def test_podman_builds_then_pushes_each_tag_with_a_digest_file():
    commands = image.build_commands(
        "podman", "/b/context", "/b", REFS, LABELS, push=True, executable="/usr/bin/podman"
    )
    assert commands == {
        "build": [
            "/usr/bin/podman", "build", "--file", "/b/context/Dockerfile", "--iidfile", "/b/image-id",
            "--label", "org.a=1", "--label", "org.b=2", "--tag", REFS[0], "--tag", REFS[1], "/b/context",
        ],
        "push": [
            ["/usr/bin/podman", "push", "--digestfile", "/b/push-digest", REFS[0]],
            ["/usr/bin/podman", "push", "--digestfile", "/b/push-digest", REFS[1]],
        ],
        "digest_file": "/b/push-digest",
        "digest_key": None,
    }  # fmt: skip


def test_buildah_global_flags_go_before_the_subcommand_and_push_names_the_transport():
    commands = image.build_commands(
        "buildah", "/b/context", "/b", REFS[:1], {}, global_flags=("--storage-driver", "vfs"),
        build_flags=("--isolation", "chroot"), push=True,
    )  # fmt: skip
    assert commands["build"] == [
        "buildah", "--storage-driver", "vfs", "build", "--file", "/b/context/Dockerfile", "--iidfile",
        "/b/image-id", "--tag", REFS[0], "--isolation", "chroot", "/b/context",
    ]  # fmt: skip
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


def test_unknown_builder_names_the_variable():
    with pytest.raises(image.ImageError, match=r"^discourse_image_builder: 'kaniko' is not one of"):
        image.build_commands("kaniko", "/b/context", "/b", REFS, {})


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
    labels = image.manifest_labels(manifest)
    # the runner's digest is known only after the Discourse image is built: not a label
    assert json.loads(labels["org.forumops.discourse.build-manifest"]) == {
        k: v for k, v in manifest.items() if k not in ("image", "site_settings", "backup_runner")
    }
    assert labels["org.opencontainers.image.revision"] == SHA


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
