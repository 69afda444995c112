"""Site settings through a converge: locked ones in the env ConfigMap, default ones set by a Job.

Upstream (discourse/discourse):
- lib/site_setting_extension.rb (008328b23a7d80f2b5268c0123a39ba87946b37e): ``#setting`` shadows every
  setting GlobalSetting answers (hidden, no ``_map`` helper for lists); ``set_and_log(name, value)``
  returns nil when the value is unchanged, else logs the change as the system user.
- config/site_settings.yml (00011e9cd999c967003ea3f629b3386565dec332): the catalog, read from
  tests/fixtures/upstream/discourse/config/site_settings.yml (an excerpt, see PROVENANCE).

The Job's command is run here by the real bash and the real Ruby, with ``su`` and ``bundle`` as stand-ins
that keep their argument contract (``su USER -c CMD``, ``bundle exec rails runner CODE``) and a
``SiteSetting`` that records what ``set_and_log`` received: that proves the quoting and the JSON types.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils.site_settings import site_settings_catalog
from tests.fixtures.ansible import REPO_ROOT, flat_output, play_recap
from tests.integration.test_app import MANIFEST, NAME, converge, empty_kubeconfig, render_app

UPSTREAM = REPO_ROOT / "tests/fixtures/upstream/discourse/config/site_settings.yml"
SETTINGS = {
    "title": "Acme Forum",
    "login_required": True,
    "contact_email": "staff@acme.test",
    "share_links": ["twitter", "email"],
    "site_description": "Where Acme talks",
    "suggested_topics": 8,
}
MODES = {"site_description": "default", "suggested_topics": "default"}
# What the Job must write: the list joined as Discourse stores it, the integer as an integer.
DATABASE = {"share_links": "twitter|email", "site_description": "Where Acme talks", "suggested_topics": 8}


@pytest.fixture(scope="module")
def manifest_with_catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("manifest") / "build-manifest.json"
    catalog = site_settings_catalog([(None, yaml.safe_load(UPSTREAM.read_text()))])
    path.write_text(json.dumps({**MANIFEST, "site_settings": catalog}))
    return path


def settings_args(manifest, settings, modes=None):
    values = {"discourse_site_settings": settings, "discourse_site_settings_mode": modes or {}}
    return ["-e", f"discourse_app_build_manifest={manifest}", "-e", json.dumps(values)]


def test_locked_settings_are_env_and_default_ones_a_job_after_the_rollout(manifest_with_catalog, tmp_path):
    documents = render_app(tmp_path, *settings_args(manifest_with_catalog, SETTINGS, MODES))

    env = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == f"{NAME}-env")
    assert {k: v for k, v in env["data"].items() if k in {f"DISCOURSE_{s.upper()}" for s in SETTINGS}} == {
        "DISCOURSE_TITLE": "Acme Forum",
        "DISCOURSE_LOGIN_REQUIRED": "true",
        "DISCOURSE_CONTACT_EMAIL": "staff@acme.test",
    }
    order = [f"{d['kind']}/{d['metadata']['name']}" for d in documents]
    # The Job is named by the values it writes, so it runs again only when they change.
    payload = json.dumps(DATABASE, sort_keys=True)
    job_name = f"{NAME}-settings-{hashlib.sha256(payload.encode()).hexdigest()[:10]}"
    assert order.index(f"Job/{job_name}") > order.index(f"Deployment/{NAME}-web")
    job = documents[order.index(f"Job/{job_name}")]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "site-settings"
    assert {"name": "FORUMOPS_SITE_SETTINGS", "value": payload} in container["env"]
    assert container["command"][:2] == ["/bin/bash", "-c"]

    # Run the command: SiteSetting receives each value with its type; only changed names are printed.
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "su").write_text('#!/bin/bash\n[ "$1 $2" = "discourse -c" ] || exit 64\nexec bash -c "$3"\n')
    (stubs / "bundle").write_text(
        '#!/bin/bash\n[ "$1 $2 $3" = "exec rails runner" ] || exit 64\n'
        f'exec ruby -rjson -r{tmp_path}/site_setting.rb -e "$4"\n'
    )
    (tmp_path / "site_setting.rb").write_text(
        textwrap.dedent(
            """\
            # Stand-in for SiteSetting: share_links already holds the value (set_and_log returns nil).
            class SiteSetting
              CURRENT = { "share_links" => "twitter|email" }
              def self.set_and_log(name, value)
                STDERR.puts JSON.generate([name, value])
                CURRENT[name] == value ? nil : (CURRENT[name] = value)
              end
            end
            """
        )
    )
    for stub in ("su", "bundle"):
        (stubs / stub).chmod(0o755)
    script = container["command"][2].replace("cd /var/www/discourse", f"cd {tmp_path}")
    run = subprocess.run(
        ["/bin/bash", "-c", script],
        env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "FORUMOPS_SITE_SETTINGS": payload},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "site_description\nsuggested_topics\n"
    assert [json.loads(line) for line in run.stderr.splitlines()] == [
        ["share_links", "twitter|email"],
        ["site_description", "Where Acme talks"],
        ["suggested_topics", 8],
    ]


def test_only_locked_settings_need_no_job(manifest_with_catalog, tmp_path):
    documents = render_app(tmp_path, *settings_args(manifest_with_catalog, {"title": "Acme Forum"}))
    assert [
        d["metadata"]["name"]
        for d in documents
        if d["kind"] == "Job" and "-settings-" in d["metadata"]["name"]
    ] == []


def test_settings_the_image_does_not_have_or_cannot_take_fail_before_any_api_call(
    manifest_with_catalog, tmp_path
):
    settings = {
        "max_favorite_badge": 3,
        "share_links": ["twitter", "myspace"],
        "github_client_secret": "s3cr3t",
        "logo": 12,
        "title": "Acme",
        "maximum_session_age": 0,
    }
    result = converge(
        "bad-input",
        *settings_args(manifest_with_catalog, settings, {"title": "sometimes"}),
        kubeconfig=empty_kubeconfig(tmp_path),
    )
    output = flat_output(result)
    assert result.returncode == 2, output
    v = "discourse_app_site_settings"
    for message in (
        "discourse_app_site_settings_mode.title: 'sometimes' is not locked or default",
        f"{v}.github_client_secret is a secret setting",
        f"{v}.logo is an upload setting (upload ids); set it in the admin UI",
        f"{v}: 'max_favorite_badge' is not a site setting of this image's Discourse or plugins "
        "(closest: max_favorite_badges)",
        f"{v}.maximum_session_age: 0 is below the minimum 1",
        f"{v}.share_links: myspace not among the choices (twitter, facebook, email)",
    ):
        assert message in output, message
    assert "s3cr3t" not in output
    assert play_recap(result, host="app_forum")["changed"] == 0
    assert "TASK [forumops.discourse.discourse_app : Apply" not in output
