"""The asset Jobs: only where Discourse serves assets from the bucket, pruned once the old pods are gone.

Upstream (discourse/discourse):
- lib/tasks/s3.rake d78dd4ed98923d5f4199172d91cc6a2595a16a64: ``s3:upload_assets`` depends on
  ``s3:ensure_cors_rules``, which calls ``ensure_s3_configured!`` (``exit 1`` unless
  ``GlobalSetting.use_s3?``); ``s3:expire_missing_assets`` deletes every object under ``assets/``
  that the current manifest does not name, so it may only run when no pod serves an older manifest.
- app/helpers/application_helper.rb (``script_asset_path``): scripts come from the bucket only
  ``if GlobalSetting.use_s3? && GlobalSetting.s3_cdn_url``; config/environments/production.rb sets
  ``asset_host = GlobalSetting.cdn_url``, "for origin pull cdns", which read the pods.
"""

from __future__ import annotations

import json

import pytest

from tests.fixtures.ansible import play_recap
from tests.fixtures.rehearsal import kubectl_json
from tests.integration.test_app import (
    HOST_VARS,
    NAME,
    SITE,
    converge,
    create_other_roles_secrets,
    render_app,
)

STORAGE = HOST_VARS["discourse_storage_connection"]
S3_CDN = {
    **STORAGE,
    "cdn_url": "https://assets.app.test",
    "env": {**STORAGE["env"], "DISCOURSE_S3_CDN_URL": "https://assets.app.test"},
}


def rendered_jobs(tmp_path, *extra):
    documents = render_app(tmp_path, *extra)
    order = [f"{d['kind']}/{d['metadata']['name']}" for d in documents]
    jobs = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["spec"]["containers"][
            0
        ]["command"][-1]
        for d in documents
        if d["kind"] == "Job"
    }
    return jobs, order


def test_an_origin_pull_cdn_runs_no_asset_job(tmp_path):
    jobs, _order = rendered_jobs(tmp_path, "-e", "discourse_app_cdn_url=https://cdn.app.test")
    assert sorted(jobs) == ["migrate-post", "migrate-pre"]


def test_an_s3_cdn_uploads_before_the_rollout_and_prunes_after_it(tmp_path):
    jobs, order = rendered_jobs(tmp_path, "-e", json.dumps({"discourse_storage_connection": S3_CDN}))
    assert jobs["assets-upload"] == (
        "cd /var/www/discourse && su discourse -c 'bundle exec rake s3:upload_assets'"
    )
    assert jobs["assets-prune"] == (
        "cd /var/www/discourse && su discourse -c 'bundle exec rake s3:expire_missing_assets'"
    )
    names = {
        kind: next(o for o in order if o.startswith(f"Job/{NAME}-{kind}-"))
        for kind in ("assets", "assets-prune")
    }
    web = order.index(f"Deployment/{NAME}-web")
    assert order.index(names["assets"]) < web < order.index(names["assets-prune"])


@pytest.mark.rehearsal
def test_the_prune_job_of_a_new_image_runs_once_no_old_pod_is_left(rehearsal_namespace):
    ns = rehearsal_namespace
    create_other_roles_secrets(ns)
    storage = ["-e", json.dumps({"discourse_storage_connection": S3_CDN})]
    first = converge(ns, *storage, "-e", "discourse_app_image=registry.app.test/discourse:one")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr

    second = converge(ns, *storage, "-e", "discourse_app_image=registry.app.test/discourse:two")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    output = second.stdout
    waited = output.index(
        "TASK [forumops.discourse.discourse_app : Wait until no web or Sidekiq pod of an older image"
    )
    assert output.index("phase pre") < waited < output.index("phase post")

    pods = kubectl_json("get", "pods", "-n", ns, "-l", f"app.kubernetes.io/instance={SITE}")["items"]
    images = {
        p["spec"]["containers"][0]["image"]
        for p in pods
        if p["metadata"]["labels"].get("app.kubernetes.io/component") == "web"
    }
    assert images == {"registry.app.test/discourse:two"}
    jobs = kubectl_json("get", "jobs", "-n", ns, "-l", "app.kubernetes.io/component=assets-prune")["items"]
    assert len(jobs) == 2 and all(j["status"].get("succeeded") == 1 for j in jobs)

    third = converge(ns, *storage, "-e", "discourse_app_image=registry.app.test/discourse:two")
    assert play_recap(third, host=SITE)["changed"] == 0
