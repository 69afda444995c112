"""End to end: our fixture template set rendered for upstream's three build steps, and the Dockerfile."""

import hashlib
import os

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import pups

ROOT = os.path.join(os.path.dirname(__file__), "fixtures", "pups")
APP = os.path.join(ROOT, "containers", "app.yml")
TEMPLATES = [
    "templates/web.template.yml",
    "templates/web.ratelimited.template.yml",
    "templates/offline-page.template.yml",
    "templates/db-tasks.template.yml",
    "templates/cache.template.yml",
]


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def render(**kwargs):
    return pups.render_files(ROOT, APP, **kwargs)


CODE = {
    "exec": {
        "cd": "/var/www/discourse",
        "hook": "code",
        "tag": "build",
        "cmd": ["git reset --hard", "git fetch --depth 1 origin tests-passed"],
    }
}
PLUGINS = {
    "exec": {
        "cd": "/var/www/discourse/plugins",
        "cmd": [
            "git clone https://github.com/discourse/docker_manager.git",
            "git clone https://github.com/discourse/discourse-solved.git",
        ],
    }
}
DB_MIGRATE = {
    "exec": {
        "cd": "/var/www/discourse",
        "tag": "migrate",
        "hook": "db_migrate",
        "cmd": ["su discourse -c 'bundle exec rake db:migrate'"],
    }
}
PRECOMPILE = {
    "exec": {
        "cd": "/var/www/discourse",
        "tag": "precompile",
        "hook": "assets_precompile",
        "cmd": ["su discourse -c 'bundle exec rake assets:precompile'"],
    }
}
DB_SETUP = {"exec": {"tag": "db", "hook": "db_setup", "cmd": "su postgres -c 'createdb discourse' || true"}}


def test_pups_input_is_the_launchers_concatenation():
    expected = "hack: true"
    for name in TEMPLATES:
        expected += " _FILE_SEPERATOR_ " + read(name).rstrip("\n")
    expected += " _FILE_SEPERATOR_ " + read("containers/app.yml").rstrip("\n") + "\n"
    assert render()["pups_input"] == expected


def test_build_step_skips_precompile_migrate_db():
    result = render(skip_tags=["precompile", "migrate", "db"])
    assert result["run"] == [
        {"exec": "echo preparing tests-passed"},
        CODE,
        PLUGINS,
        {
            "file": {
                "tag": "build",
                "path": "/etc/service/unicorn/run",
                "chmod": "+x",
                "contents": "#!/bin/bash\ncd /var/www/discourse\nexec bundle exec unicorn\n",
            }
        },
        {
            "exec": {
                "cd": "/var/www/discourse",
                "tag": "build",
                "hook": "bundle_exec",
                "cmd": ["bundle install --deployment"],
            }
        },
        {
            "replace": {
                "tag": "build",
                "filename": "/etc/nginx/conf.d/discourse.conf",
                "from": "/upstream[^\\}]+\\}/m",
                "to": "upstream discourse {\n  server 127.0.0.1:3000;\n}",
            }
        },
        {
            "replace": {
                "filename": "/etc/nginx/conf.d/discourse.conf",
                "from": "/server.+{/",
                "to": "limit_req_zone $binary_remote_addr zone=flood:10m rate=20r/s;\nserver {\n",
            }
        },
        {
            # the last template's trailing newline went with the launcher's $(cat file)
            "replace": {
                "filename": "/etc/nginx/conf.d/discourse.conf",
                "from": "/location @discourse {/",
                "to": "location @discourse {\n  limit_req zone=flood burst=12 nodelay;",
            }
        },
        {
            "exec": {
                "tag": "build",
                "cmd": "git clone https://github.com/discourse/discourse-offline-page.git "
                "/var/www/discourse-offline",
            }
        },
        {"exec": {"tag": "build", "hook": "cache", "cmd": "echo cache for https://cdn-forum.example.com"}},
        {"exec": 'echo "configured for forum.example.com"'},
    ]
    assert result["warnings"][:2] == [
        "Skipped missing after_assets_precompile hook",
        "Skipped missing before_db_migrate hook",
    ]


def test_migrate_step_runs_db_and_migrate_rows_with_their_hooks():
    result = render(tags=["db", "migrate"])
    assert result["run"] == [{"exec": "echo before migrate discourse"}, DB_MIGRATE, DB_SETUP]
    assert result["warnings"][:3] == [
        "Skipped missing after_assets_precompile hook",
        "Skipped missing after_code hook",
        "Skipped missing before_code hook",
    ]


def test_configure_step_runs_db_and_precompile_rows_with_their_hooks():
    result = render(tags=["db", "precompile"])
    assert result["run"] == [PRECOMPILE, {"exec": {"cmd": "echo offline after precompile"}}, DB_SETUP]


def test_params_are_merged_in_insertion_order_with_overrides():
    result = render(params={"version": "v3.5.0", "extra": 1})
    assert result["params"] == {
        "home": "/var/www/discourse",
        "version": "v3.5.0",
        "reqs_per_second": 20,
        "reqs_per_minute": 200,
        "burst_per_second": 12,
        "db_name": "discourse",
        "extra": "1",
    }
    assert result["run"][1]["exec"]["cmd"][1] == "git fetch --depth 1 origin v3.5.0"


def test_environment_is_what_pups_sees_and_never_the_controllers():
    result = render(environment={"DISCOURSE_HOSTNAME": "other.example.com", "env_template_site": "cdn2"})
    # the config's env is exported over the process environment; env_template_<x> adds <x>
    assert result["run"][-1] == {"exec": 'echo "configured for forum.example.com"'}
    assert result["config"]["env"]["DISCOURSE_CDN_URL"] == "https://cdn-cdn2.example.com"
    assert "PATH" not in render()["config"]["env"]


def test_launcher_env_labels_and_expose():
    result = render()
    assert result["env"] == {
        "LANG": "en_US.UTF-8",
        "RAILS_ENV": "production",
        "UNICORN_WORKERS": "8",
        "DISCOURSE_DB_HOST": "data",
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "1",
        "CREATE_DB_ON_BOOT": "1",
        # the launcher knows {{config}}, not env_template
        "DISCOURSE_CDN_URL": "https://cdn-{{site}}.example.com",
        "DISCOURSE_HOSTNAME": "forum.example.com",
        "DISCOURSE_DEVELOPER_EMAILS": "admin@example.com",
    }
    assert result["labels"] == {"app_name": "app_discourse"}
    assert result["expose"] == ["8080:80"]


def test_docker_run_args_as_pups_prints_them():
    assert render()["docker_run_args"] == (
        "--env RAILS_ENV=production --env UNICORN_WORKERS=8 --env DISCOURSE_DB_HOST=data "
        "--env MIGRATE_ON_BOOT=0 --env PRECOMPILE_ON_BOOT=1 --env CREATE_DB_ON_BOOT=1 "
        "--env DISCOURSE_CDN_URL=https://cdn-forum.example.com "
        "--env LANG=en_US.UTF-8 --env DISCOURSE_HOSTNAME=forum.example.com "
        "--env DISCOURSE_DEVELOPER_EMAILS=admin@example.com --label app_name=\\{\\{config\\}\\}_discourse "
        "--publish 8080:80"
    )


def test_dockerfile_for_the_build_step():
    result = render()
    digest = hashlib.sha256(result["pups_input"].encode("utf-8")).hexdigest()
    assert result["dockerfile"] == (
        "# syntax=docker/dockerfile:1\n"
        # pups.DEFAULT_BASE_IMAGE: the base the vendored launcher names (tests/fixtures/upstream).
        "FROM discourse/base:2.0.20260803-0122\n"
        'ARG CREATE_DB_ON_BOOT="1"\n'
        'ARG DISCOURSE_CDN_URL="https://cdn-{{site}}.example.com"\n'
        'ARG LANG="en_US.UTF-8"\n'
        'ARG MIGRATE_ON_BOOT="0"\n'
        'ARG PRECOMPILE_ON_BOOT="1"\n'
        'ARG RAILS_ENV="production"\n'
        'ARG UNICORN_WORKERS="8"\n'
        "ENV CREATE_DB_ON_BOOT=${CREATE_DB_ON_BOOT}\n"
        "ENV MIGRATE_ON_BOOT=${MIGRATE_ON_BOOT}\n"
        "ENV PRECOMPILE_ON_BOOT=${PRECOMPILE_ON_BOOT}\n"
        "ENV RAILS_ENV=${RAILS_ENV}\n"
        "ENV UNICORN_WORKERS=${UNICORN_WORKERS}\n"
        "EXPOSE 80\n"
        'LABEL org.forumops.discourse.version="tests-passed" '
        f'org.forumops.discourse.config-sha256="{digest}"\n'
        "RUN --mount=type=bind,source=config.yaml,target=/tmp/forumops-pups-config.yaml "
        "cat /tmp/forumops-pups-config.yaml | /usr/local/bin/pups --skip-tags=precompile,migrate,db --stdin\n"
        'CMD ["/sbin/boot"]\n'
    )


def test_dockerfile_mounts_git_credentials_only_in_the_pups_step():
    """Private plugins: git reads a credential store file mounted as a build secret (BuildKit
    `RUN --mount=type=secret`), never a token in a URL, layer or label (issue 22, item 4)."""
    result = render(git_credentials=True)
    run_line = [line for line in result["dockerfile"].splitlines() if line.startswith("RUN ")]
    assert run_line == [
        "RUN --mount=type=bind,source=config.yaml,target=/tmp/forumops-pups-config.yaml "
        "--mount=type=secret,id=git_credentials,target=/run/secrets/git_credentials "
        "cat /tmp/forumops-pups-config.yaml | GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper "
        "GIT_CONFIG_VALUE_0='store --file=/run/secrets/git_credentials' "
        "/usr/local/bin/pups --skip-tags=precompile,migrate,db --stdin"
    ]
    assert "git_credentials" not in render()["dockerfile"]


def test_dockerfile_never_carries_secrets():
    result = render(bake_env=True)
    for secret in (
        "DISCOURSE_DB_HOST",
        "data",
        "DISCOURSE_HOSTNAME",
        "forum.example.com",
        "admin@example.com",
    ):
        assert secret not in result["dockerfile"]
    assert "ENV DISCOURSE_CDN_URL=${DISCOURSE_CDN_URL}\n" in result["dockerfile"]
    assert any("DISCOURSE_DB_HOST" in w for w in result["warnings"])


@pytest.mark.parametrize(
    "key",
    [
        "DISCOURSE_DB_PASSWORD",
        "DISCOURSE_REDIS_HOST",
        "DISCOURSE_SMTP_USER_NAME",
        "DISCOURSE_SECRET_KEY_BASE",
        "DISCOURSE_SAML_CERT",
        "DISCOURSE_S3_SECRET_ACCESS_KEY",
        "DISCOURSE_MAXMIND_LICENSE_KEY",
    ],
)
def test_secret_keys_are_recognised(key):
    assert pups.is_secret_env(key)
    text = pups.dockerfile(
        {key: "s3cr3t", "RAILS_ENV": "production"}, [], "discourse/base:x", "0" * 64, bake_env=True
    )
    assert key not in text and "s3cr3t" not in text


def test_dockerfile_exposes_the_container_port_not_the_text_after_the_first_colon():
    text = pups.dockerfile({}, ["127.0.0.1:8080:80", "2222:22", "443", "80"], "discourse/base:x", "0" * 64)
    assert [line for line in text.splitlines() if line.startswith("EXPOSE")] == [
        "EXPOSE 22",
        "EXPOSE 443",
        "EXPOSE 80",
    ]


def test_dockerfile_quotes_dollar_and_quotes_in_arg_defaults():
    text = pups.dockerfile({"A": 'x$y"z'}, [], "discourse/base:x", "0" * 64)
    assert 'ARG A="x\\$y\\"z"\n' in text


def test_dockerfile_tags_are_configurable():
    text = pups.dockerfile({}, [], "discourse/base:x", "0" * 64, skip_tags=None, tags=["db", "migrate"])
    assert "/usr/local/bin/pups --tags=db,migrate --stdin" in text


def test_base_image_comes_from_the_option_then_the_config():
    assert (
        render(base_image="discourse/base:2.0.1")["dockerfile"].splitlines()[1] == "FROM discourse/base:2.0.1"
    )


def test_config_given_as_a_dict_keeps_strings_as_strings():
    result = pups.render_files(
        ROOT,
        config_data={
            "templates": ["templates/db-tasks.template.yml"],
            "env": {"A": "yes", "B": "1,000", "C": "1:30"},
        },
        config_name="web_only",
        tags=["db"],
    )
    assert result["config"]["env"] == {"A": "yes", "B": "1,000", "C": "1:30"}
    # the db_migrate anchor lives in web.template.yml, which this config does not use
    assert result["run"] == [DB_SETUP]
    assert result["warnings"] == ["Skipped missing before_db_migrate hook"]


def test_go_launcher_documents_and_env():
    result = render(launcher="go")
    assert result["pups_input"].startswith(read(TEMPLATES[0]) + "_FILE_SEPERATOR_")
    assert "_FILE_SEPERATOR_env:\n" in result["pups_input"]
    assert result["pups_input"].endswith('  "DISCOURSE_DEVELOPER_EMAILS": "admin@example.com"\n')
    # later wins, the text of the scalar as yaml.v3 decodes it into a string, no LANG default
    assert result["env"]["UNICORN_WORKERS"] == "8"
    assert result["env"]["DISCOURSE_CDN_URL"] == "https://cdn-{{site}}.example.com"
    assert next(iter(result["env"])) == "RAILS_ENV"


# ---- errors -----------------------------------------------------------------------------------------


def test_yaml_error_names_the_file_and_its_line():
    with pytest.raises(pups.PupsError, match=r"containers/broken.yml: YAML error at line \d+"):
        pups.render_files(ROOT, os.path.join(ROOT, "containers", "broken.yml"))


def test_unknown_command_names_the_template_and_row():
    with pytest.raises(
        pups.PupsError,
        match=r"containers/unknown-command.yml, run row 2 \(line 5\).*Invalid run command shell",
    ):
        pups.render_files(ROOT, os.path.join(ROOT, "containers", "unknown-command.yml"))


def test_missing_template_names_the_config():
    with pytest.raises(pups.PupsError, match=r"template templates/nope\.yml cannot be read"):
        pups.render_files(ROOT, config_data={"templates": ["templates/nope.yml"]})


def test_malformed_row_in_a_template_names_the_template():
    with pytest.raises(pups.PupsError, match=r"templates/x.yml, run row 2 \(line 3\)"):
        pups.render("run: []\n", [("templates/x.yml", "run:\n  - exec: ok\n  - file: not a hash\n")], "app")


def test_line_of_a_parse_error_inside_a_template_counts_from_the_file_start():
    template = "\n\nparams:\n  a: 1\n  b: c: d\n"
    with pytest.raises(pups.PupsError, match=r"^templates/t.yml: YAML error at line 5"):
        pups.render("run: []\n", [("templates/t.yml", template)], "app")
