"""playbooks/build_image.yml end to end with local git repositories made by the test (no network).

discourse_docker, Discourse and a plugin are small git repositories created here; the role clones them
into its cache, renders the build context with pups_render and writes the build manifest. Expected
files are derived from the inputs and the upstream rules (launcher env merge, Dockerfile shape), not
pasted from a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils import image, pups
from tests.fixtures.ansible import flat_output, play_recap
from tests.fixtures.git import git

WEB = textwrap.dedent(
    """\
    env:
      RAILS_ENV: 'production'
      UNICORN_WORKERS: 3
      UNICORN_SIDEKIQS: 1
      RUBY_GC_HEAP_GROWTH_MAX_SLOTS: 40000
      DISCOURSE_DB_SOCKET: /var/run/postgresql
      DISCOURSE_DB_HOST:
      DISCOURSE_DB_PORT:

    params:
      version: tests-passed
      home: /var/www/discourse
      upload_size: 10m

    run:
      - file:
          path: /etc/service/unicorn/run
          chmod: "+x"
          contents: |
            #!/bin/bash
            # before precompile
            if [[ -z "$PRECOMPILE_ON_BOOT" ]]; then PRECOMPILE_ON_BOOT=1; fi
            exec bundle exec unicorn
      - exec:
          cd: $home
          hook: code
          cmd:
            - git fetch --depth 1 origin $version
            - git -c advice.detachedHead=false checkout $version
      - replace:
          filename: /etc/nginx/conf.d/discourse.conf
          from: /client_max_body_size.+$/
          to: client_max_body_size $upload_size;
      - exec:
          cd: $home
          hook: bundle_exec
          cmd:
            - su discourse -c 'bundle install'
      - exec:
          cd: $home
          cmd:
            - su discourse -c 'LOAD_PLUGINS=0 bundle exec rake plugin:pull_compatible_all'
          hook: plugin_compatibility
          raise_on_fail: false
      - exec:
          cd: $home
          tag: migrate
          hook: db_migrate
          cmd:
            - su discourse -c 'bundle exec rake db:migrate'
      - exec:
          cd: $home
          tag: build
          hook: assets_precompile_build
          cmd:
            - su discourse -c 'bundle exec rake assets:precompile:build'
      - exec:
          cd: $home
          tag: precompile
          hook: assets_precompile
          cmd:
            - su discourse -c 'SKIP_EMBER_CLI_COMPILE=1 bundle exec rake themes:update assets:precompile'
      - replace:
          tag: precompile
          filename: /etc/service/unicorn/run
          from: "# before precompile"
          to: "PRECOMPILE_ON_BOOT=0"
    """
)
RATELIMITED = textwrap.dedent(
    """\
    params:
      reqs_per_second: 12
      reqs_per_minute: 200
    run:
      - replace:
          filename: /etc/nginx/conf.d/discourse.conf
          from: /server.+{/
          to: |
            limit_req_zone $binary_remote_addr zone=flood:10m rate=$reqs_per_secondr/s;
            server {
    """
)
OFFLINE = textwrap.dedent(
    """\
    env:
      MIGRATE_ON_BOOT: 1
      PRECOMPILE_ON_BOOT: 1
      CREATE_DB_ON_BOOT: 1
    run:
      - exec:
          cmd: git clone https://github.com/discourse/discourse-offline-page.git /var/www/offline-page
          raise_on_fail: false
    """
)
EXCLUDED = "run:\n  - exec: echo ssl\n"
LAUNCHER = '#!/bin/bash\nconfig_file=containers/"$config".yml\nimage="discourse/base:2.0.20250722-0020"\n'

CORE_MIGRATIONS = {
    "db/migrate/20240101000000_create_posts.rb": "pre",
    "db/migrate/20240102000000_add_index.rb": "pre",
    "db/post_migrate/20240103000000_drop_column.rb": "post",
    "db/post_migrate/2024/20240104000000_drop_table.rb": "post",
    "plugins/chat/db/migrate/20240105000000_create_chat.rb": "pre",
    "plugins/chat/db/post_migrate/20240106000000_drop_chat_col.rb": "post",
    "db/migrate/README.rb": None,
    "spec/db/migrate/20240109000000_not_a_migration.rb": None,
}
# Settings files shaped like upstream's: core config/site_settings.yml (categories → settings, a
# mapping with default or a bare default; tests/fixtures/upstream/discourse/config/site_settings.yml),
# a bundled plugin's and a plugin checkout's config/settings.yml (the plugins: category).
CORE_SETTINGS = textwrap.dedent(
    """\
    required:
      title:
        client: true
        default: "Discourse"
      top_menu:
        type: list
        list_type: compact
        default: "latest|new"
    basic:
      max_image_size_kb: 4096
    """
)
CHAT_SETTINGS = "chat:\n  chat_enabled:\n    default: true\n    client: true\n"
SOLVED_SETTINGS = "plugins:\n  solved_enabled:\n    default: true\n  accept_all_solutions_trust_level: 4\n"
PLUGIN_MIGRATIONS = {
    "db/migrate/20240107000000_create_solved.rb": "pre",
    "db/post_migrate/20240108000000_drop_solved_col.rb": "post",
}


def make_repo(path, files, tag=None):
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "fixture")
    if tag:
        git(path, "tag", tag)
    return git(path, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("image-sources")
    docker_commit = make_repo(
        root / "discourse_docker",
        {
            "launcher": LAUNCHER,
            "templates/web.template.yml": WEB,
            "templates/web.ratelimited.template.yml": RATELIMITED,
            "templates/offline-page.template.yml": OFFLINE,
            "templates/web.ssl.template.yml": EXCLUDED,
        },
    )
    core_files = {name: "# migration\n" for name in CORE_MIGRATIONS}
    core_files["lib/version.rb"] = "# 3.5.0\n"
    core_files["config/site_settings.yml"] = CORE_SETTINGS
    core_files["plugins/chat/config/settings.yml"] = CHAT_SETTINGS
    discourse_commit = make_repo(root / "discourse", core_files, tag="v3.5.0")
    plugin_commit = make_repo(
        root / "discourse-solved",
        {
            **{n: "# m\n" for n in PLUGIN_MIGRATIONS},
            "plugin.rb": "# name: solved\n",
            "config/settings.yml": SOLVED_SETTINGS,
        },
    )
    return {
        "root": root,
        "docker_commit": docker_commit,
        "discourse_commit": discourse_commit,
        "plugin_commit": plugin_commit,
    }


def lock_for(sources, **changes):
    lock = {
        "discourse": {
            "channel": "release",
            "version": "v3.5.0",
            "commit": sources["discourse_commit"],
            "repo": str(sources["root"] / "discourse"),
        },
        "discourse_docker": {
            "branch": "main",
            "commit": sources["docker_commit"],
            "repo": str(sources["root"] / "discourse_docker"),
        },
        "base_image": {"repository": "discourse/base", "tag": "2.0.20250722-0020", "digest": ""},
        "templates": ["web", "web.ratelimited", "offline-page"],
        "params": {"upload_size": "20m", "reqs_per_second": 20},
        "env": {"DISCOURSE_DEFAULT_LOCALE": "de"},
        "plugins": [
            {
                "name": "discourse-solved",
                "url": str(sources["root"] / "discourse-solved"),
                "branch": "main",
                "ref": sources["plugin_commit"],
            }
        ],
        "image": {"repository": "registry.example.test/forum/discourse", "precompile": "build"},
    }
    for key, value in changes.items():
        lock[key] = value
    return lock


def build(ansible, tmp_path, lock, *extra):
    lock_file = tmp_path / "lock.yml"
    lock_file.write_text("---\n" + yaml.safe_dump(lock, sort_keys=False))
    return ansible(
        "ansible-playbook",
        "playbooks/build_image.yml",
        "-e",
        f"discourse_image_lock_file={lock_file}",
        "-e",
        f"discourse_image_cache_dir={tmp_path / 'cache'}",
        "-e",
        f"discourse_image_output_dir={tmp_path / 'out'}",
        *extra,
    )


def config_document(config_yaml):
    return config_yaml.split("_FILE_SEPERATOR_")[-1].strip()


recap = play_recap


# ---- What the role should produce, derived from the inputs ---------------------------------------

SECRET_FREE_ENV = {
    # the launcher's env: LANG first, then each document's env shallow-merged in order (DESIGN §4.1)
    "LANG": "en_US.UTF-8",
    "RAILS_ENV": "production",
    "UNICORN_WORKERS": "3",
    "UNICORN_SIDEKIQS": "1",
    "RUBY_GC_HEAP_GROWTH_MAX_SLOTS": "40000",
    "DISCOURSE_DEFAULT_LOCALE": "de",
    # offline-page sets 1; the role's config overrides with 0 (precompile=build)
    "MIGRATE_ON_BOOT": "0",
    "PRECOMPILE_ON_BOOT": "0",
    "CREATE_DB_ON_BOOT": "0",
}
BAKED = {"RAILS_ENV", "UNICORN_WORKERS", "UNICORN_SIDEKIQS", "RUBY_GC_HEAP_GROWTH_MAX_SLOTS"} | set(
    image.ON_BOOT_KEYS
)


def expected_config(sources, plugin_url):
    return {
        "templates": [
            "templates/web.template.yml",
            "templates/web.ratelimited.template.yml",
            "templates/offline-page.template.yml",
        ],
        "base_image": "discourse/base:2.0.20250722-0020",
        "params": {"version": "v3.5.0", "reqs_per_second": 20, "upload_size": "20m"},
        "env": {
            "DISCOURSE_DEFAULT_LOCALE": "de",
            "CREATE_DB_ON_BOOT": "0",
            "MIGRATE_ON_BOOT": "0",
            "PRECOMPILE_ON_BOOT": "0",
        },
        "hooks": {
            "after_code": [
                {
                    "exec": {
                        "cd": "$home/plugins",
                        "cmd": [
                            f"git clone {plugin_url} discourse-solved",
                            "git -C discourse-solved -c advice.detachedHead=false checkout "
                            + sources["plugin_commit"],
                        ],
                    }
                }
            ],
            "after_plugin_compatibility": image.plugin_check_hook(
                [{"name": "discourse-solved", "url": plugin_url, "ref": sources["plugin_commit"]}]
            ),
            "after_assets_precompile_build": [
                {
                    "exec": {
                        "cd": "$home",
                        "cmd": [
                            "su discourse -c 'SKIP_DB_AND_REDIS=1 SKIP_EMBER_CLI_COMPILE=1 "
                            "bundle exec rake assets:precompile'"
                        ],
                    }
                },
                {
                    "replace": {
                        "filename": "/etc/service/unicorn/run",
                        "from": "# before precompile",
                        "to": "PRECOMPILE_ON_BOOT=0",
                    }
                },
            ],
        },
    }


def expected_dockerfile(config_sha256, base="discourse/base:2.0.20250722-0020"):
    lines = ["# syntax=docker/dockerfile:1", f"FROM {base}"]
    lines += [f'ARG {k}="{SECRET_FREE_ENV[k]}"' for k in sorted(SECRET_FREE_ENV)]
    lines += [f"ENV {k}=${{{k}}}" for k in sorted(SECRET_FREE_ENV) if k in BAKED]
    lines.append(
        'LABEL org.forumops.discourse.version="v3.5.0" '
        f'org.forumops.discourse.config-sha256="{config_sha256}"'
    )
    lines.append(
        "RUN --mount=type=bind,source=config.yaml,target=/tmp/forumops-pups-config.yaml "
        "cat /tmp/forumops-pups-config.yaml | /usr/local/bin/pups --skip-tags=precompile,migrate,db --stdin"
    )
    lines.append('CMD ["/sbin/boot"]')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def rendered(sources, ansible, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("image-render")
    lock = lock_for(sources)
    first = build(ansible, tmp_path, lock, "-e", "discourse_image_build=false")
    second = build(ansible, tmp_path, lock, "-e", "discourse_image_build=false")
    return {"tmp": tmp_path, "first": first, "second": second, "out": tmp_path / "out", "lock": lock}


def test_render_only_run_succeeds_and_is_idempotent(rendered):
    assert rendered["first"].returncode == 0, rendered["first"].stdout + rendered["first"].stderr
    assert rendered["second"].returncode == 0, rendered["second"].stdout + rendered["second"].stderr
    assert recap(rendered["second"])["changed"] == 0
    assert recap(rendered["second"])["failed"] == 0


def test_config_yaml_is_the_launchers_input_for_the_generated_config(rendered, sources):
    text = (rendered["out"] / "context" / "config.yaml").read_text()
    prefix = "hack: true"
    for template in (WEB, RATELIMITED, OFFLINE):
        prefix += " _FILE_SEPERATOR_ " + template.rstrip("\n")
    prefix += " _FILE_SEPERATOR_ "
    assert text.startswith(prefix)
    config_text = text[len(prefix) :]
    expected = expected_config(sources, str(sources["root"] / "discourse-solved"))
    assert yaml.safe_load(config_text) == expected
    assert text == prefix + pups.dump_config(expected).rstrip("\n") + "\n"


def test_dockerfile_is_exactly_as_derived(rendered):
    context = rendered["out"] / "context"
    config_sha256 = hashlib.sha256((context / "config.yaml").read_bytes()).hexdigest()
    assert (context / "Dockerfile").read_text() == expected_dockerfile(config_sha256)
    assert sorted(os.listdir(context)) == ["Dockerfile", "config.yaml"]


def test_no_secret_reaches_the_build_context(rendered):
    for name in ("Dockerfile", "config.yaml"):
        text = (rendered["out"] / "context" / name).read_text()
        config_part = text.split("_FILE_SEPERATOR_")[-1] if name == "config.yaml" else text
        for key in ("DISCOURSE_DB_", "PASSWORD", "SECRET", "DISCOURSE_HOSTNAME", "DISCOURSE_SMTP"):
            assert key not in config_part, (name, key)


def test_plugin_clone_runs_right_after_the_code_row_and_precompile_without_db(rendered):
    context = rendered["out"] / "context"
    result = pups.render_files(
        str(rendered["tmp"] / "cache" / "git" / "discourse_docker"),
        config_data=yaml.safe_load(config_document((context / "config.yaml").read_text())),
        skip_tags=["precompile", "migrate", "db"],
    )
    cmds = [row["exec"].get("cmd") if isinstance(row.get("exec"), dict) else None for row in result["run"]]
    code = next(i for i, row in enumerate(result["run"]) if row.get("exec", {}).get("hook") == "code")
    assert cmds[code + 1][0].startswith("git clone ") and cmds[code + 1][0].endswith(" discourse-solved")
    # Right after upstream's plugin:pull_compatible_all, the check that no plugin left its lock.
    compatible = next(
        i for i, row in enumerate(result["run"]) if row.get("exec", {}).get("hook") == "plugin_compatibility"
    )
    assert result["run"][compatible + 1]["exec"]["cmd"][0].startswith(
        "actual=$(git -C discourse-solved rev-parse HEAD)"
    )
    build_row = next(
        i
        for i, row in enumerate(result["run"])
        if row.get("exec", {}).get("hook") == "assets_precompile_build"
    )
    assert cmds[build_row + 1] == [image.PRECOMPILE_WITHOUT_DB]
    assert result["run"][build_row + 2] == {
        "replace": {
            "filename": "/etc/service/unicorn/run",
            "from": "# before precompile",
            "to": "PRECOMPILE_ON_BOOT=0",
        }
    }
    assert not any("themes:update" in json.dumps(row) for row in result["run"])
    assert [w for w in result["warnings"] if w.startswith("Skipped missing")] == []


def test_manifest_records_pins_commits_migrations_and_runtime_env(rendered, sources):
    manifest = json.loads((rendered["out"] / "build-manifest.json").read_text())
    plugin_url = str(sources["root"] / "discourse-solved")
    base = "discourse/base:2.0.20250722-0020"
    tag_inputs = {
        "base_image": base,
        "discourse_docker": sources["docker_commit"],
        "templates": expected_config(sources, plugin_url)["templates"],
        "params": {"reqs_per_second": "20", "upload_size": "20m"},
        "plugins": [{"url": plugin_url, "ref": sources["plugin_commit"], "name": "discourse-solved"}],
        "env": {"DISCOURSE_DEFAULT_LOCALE": "de"},
        "precompile": "build",
    }
    digest = hashlib.sha256(
        json.dumps(tag_inputs, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    context = rendered["out"] / "context"
    pre = sorted(
        [n.rsplit("/", maxsplit=1)[-1][:14] for n, k in CORE_MIGRATIONS.items() if k == "pre"]
        + [n.rsplit("/", maxsplit=1)[-1][:14] for n, k in PLUGIN_MIGRATIONS.items() if k == "pre"]
    )
    post = sorted(
        [n.rsplit("/", maxsplit=1)[-1][:14] for n, k in CORE_MIGRATIONS.items() if k == "post"]
        + [n.rsplit("/", maxsplit=1)[-1][:14] for n, k in PLUGIN_MIGRATIONS.items() if k == "post"]
    )
    assert manifest == {
        "discourse": {"version": "v3.5.0", "commit": sources["discourse_commit"]},
        "base_image": {"tag": base, "digest": ""},
        "discourse_docker": {"commit": sources["docker_commit"]},
        "templates": tag_inputs["templates"],
        "plugins": [
            {
                "name": "discourse-solved",
                "url": plugin_url,
                "ref": sources["plugin_commit"],
                "commit": sources["plugin_commit"],
            }
        ],
        "config_hash": hashlib.sha256((context / "config.yaml").read_bytes()).hexdigest(),
        # one image for the build host's platform: no manifest list (test_image_platforms builds one)
        "image": {
            "reference": f"registry.example.test/forum/discourse:v3.5.0-{digest}",
            "digest": "",
            "platforms": {},
        },
        "migrations": {"pre": pre, "post": post},
        "runtime_env": dict(sorted(SECRET_FREE_ENV.items())),
        "backup_runner": {},  # the lock has none (test_image_buildah builds one)
        # TypeSupervisor#get_data_type: a static type: wins, else the default's Ruby type; each
        # plugin's settings are tagged with the directory its settings.yml is in.
        "site_settings": {
            "accept_all_solutions_trust_level": {
                "type": "integer",
                "default": 4,
                "plugin": "discourse-solved",
            },
            "chat_enabled": {"type": "bool", "default": True, "plugin": "chat"},
            "default_locale": {"type": "enum", "default": "en"},
            "max_image_size_kb": {"type": "integer", "default": 4096},
            "solved_enabled": {"type": "bool", "default": True, "plugin": "discourse-solved"},
            "title": {"type": "string", "default": "Discourse"},
            "top_menu": {"type": "list", "default": "latest|new"},
        },
    }
    assert pre == ["20240101000000", "20240102000000", "20240105000000", "20240107000000"]
    assert post == ["20240103000000", "20240104000000", "20240106000000", "20240108000000"]


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (
            {"templates": ["web", "web.ratelimited", "offline-page", "web.ssl"]},
            [],
            "discourse_image_templates: web.ssl is excluded for Kubernetes (TLS is terminated by the "
            "ingress)",
        ),
        (
            {"plugins": [{"url": "https://github.com/discourse/discourse-solved.git", "ref": "main"}]},
            [],
            "discourse_image_plugins[0].ref: 'main' is not pinned",
        ),
        (
            {"plugins": [{"url": "https://github.com/discourse/discourse-solved.git"}]},
            [],
            "missing required arguments: ref",
        ),
        ({}, ["-e", "discourse_image_builder=kaniko"], "discourse_image_builder"),
        (
            {"env": {"DISCOURSE_DB_PASSWORD": "x"}},
            [],
            "discourse_image_env: DISCOURSE_DB_PASSWORD is a secret",
        ),
    ],
)
def test_bad_input_fails_before_anything_runs(sources, ansible, tmp_path, change, extra, message):
    result = build(
        ansible, tmp_path, lock_for(sources, **change), "-e", "discourse_image_build=false", *extra
    )
    assert result.returncode == 2
    assert message in flat_output(result)
    assert not (tmp_path / "cache").exists()
    assert not (tmp_path / "out").exists()
