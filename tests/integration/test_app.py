"""discourse_app on the rehearsal cluster: every object through the real API server, in order.

The other roles' facts come from tests/integration/inventories/app (inventory variables); the
Secrets they name are created here. kwok runs the pods: Deployments become ready, Job pods succeed.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, ansible_env, flat_output, play_recap, run_tool
from tests.fixtures.rehearsal import KUBECONFIG, apply_manifest, kubectl, kubectl_json

INVENTORY = REPO_ROOT / "tests/integration/inventories/app"
PLAYBOOK = REPO_ROOT / "tests/integration/playbooks/app_converge.yml"
HOST_VARS = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["all"]["children"]["discourse_sites"][
    "hosts"
]["app_forum"]
MANIFEST = json.loads((INVENTORY / "build-manifest.json").read_text())
IMAGE = f"{MANIFEST['image']['reference']}@{MANIFEST['image']['digest']}"
SITE = "app_forum"
NAME = "app-forum"
WEB_SELECTOR = (
    f"app.kubernetes.io/name=discourse,app.kubernetes.io/instance={SITE},app.kubernetes.io/component=web"
)
# Values of the Secrets the other roles own; the role only references them.
OTHER_SECRETS = {
    "discourse-db-app": {"password": "db-pw-5d2e8a1c"},
    "app-forum-valkey": {"password": "valkey-pw-7b3f9e0d"},
    "app-forum-s3": {"access-key-id": "AKIAAPPTEST0001", "secret-access-key": "s3-secret-3c8e1f6a9d"},
}


def converge(namespace, *extra, kubeconfig=KUBECONFIG, verbosity=None):
    args = ["-i", INVENTORY, PLAYBOOK, "-e", f"discourse_namespace={namespace}", *extra]
    if verbosity:
        args.append(verbosity)
    env = ansible_env(K8S_AUTH_KUBECONFIG=str(kubeconfig), KUBECONFIG=str(kubeconfig))
    return run_tool("ansible-playbook", *args, env=env, timeout=900)


def empty_kubeconfig(tmp_path):
    """A kubeconfig with no cluster: any API call through it fails."""
    path = tmp_path / "empty-kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    return path


def render_app(tmp_path, *extra):
    """The documents of app.yaml that render mode writes for the test site; no cluster behind it."""
    render_dir = tmp_path / "render"
    result = converge(
        "render", "-e", f"discourse_render_dir={render_dir}", *extra, kubeconfig=empty_kubeconfig(tmp_path)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return [d for d in yaml.safe_load_all((render_dir / SITE / "app.yaml").read_text()) if d]


def recap(result):
    return play_recap(result, host="app_forum")


def create_other_roles_secrets(namespace):
    for name, data in OTHER_SECRETS.items():
        apply_manifest(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}, namespace
        )


def timestamp(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def job_condition_time(job, kind):
    return timestamp(
        next(
            c["lastTransitionTime"]
            for c in job["status"]["conditions"]
            if c["type"] == kind and c["status"] == "True"
        )
    )


def web_replicasets(namespace):
    items = kubectl_json("get", "replicasets", "-n", namespace, "-l", WEB_SELECTOR)["items"]
    return sorted(items, key=lambda rs: rs["metadata"]["creationTimestamp"])


def expected_env(namespace, **overrides):
    """The ConfigMap the role must write for the test inventory, derived from its variables."""
    storage = HOST_VARS["discourse_storage_connection"]["env"]
    env = {
        "DISCOURSE_HOSTNAME": HOST_VARS["discourse_hostname"],
        "DISCOURSE_DB_HOST": f"discourse-db-rw.{namespace}.svc",
        "DISCOURSE_DB_PORT": "5432",
        "DISCOURSE_DB_NAME": "discourse",
        "DISCOURSE_DB_USERNAME": "discourse",
        "DISCOURSE_DB_SOCKET": "",
        "DISCOURSE_REDIS_HOST": f"app-forum-valkey.{namespace}.svc",
        "DISCOURSE_REDIS_PORT": "6379",
        "PGSSLMODE": "prefer",
        "DISCOURSE_DEVELOPER_EMAILS": "admin@app.test",
        "DISCOURSE_SIDEKIQ_WORKERS": "5",
        "DISCOURSE_SMTP_ADDRESS": "smtp.app.test",
        "DISCOURSE_SMTP_PORT": "587",
        "DISCOURSE_SMTP_ENABLE_START_TLS": "true",
        # TLS ends at the ingress (discourse_app_tls_enabled): Discourse must still write https links.
        "DISCOURSE_FORCE_HTTPS": "true",
        "DISCOURSE_TITLE": "App Test Forum",
        "DISCOURSE_LOGIN_REQUIRED": "true",
        "DISCOURSE_MAX_IMAGE_SIZE_KB": "4096",
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "0",
        "CREATE_DB_ON_BOOT": "0",
    }
    # The image's runtime env lies below: the role's keys win over it (MIGRATE_ON_BOOT).
    env = {**MANIFEST["runtime_env"], **env}
    # The storage role's env, minus empty values (an empty CDN URL would disable nothing).
    env.update({k: v for k, v in storage.items() if v != ""})
    env.update(overrides)
    return env


@pytest.mark.rehearsal
def test_example_site_converges_in_order_and_a_changed_setting_rolls_the_web_pods(rehearsal_namespace):
    """What a first converge creates, in which order, and what a changed setting rolls. That a second
    converge changes nothing is the molecule scenarios' check (idempotence step of discourse_app and
    site, the converge harnesses of the role and of the example site)."""
    ns = rehearsal_namespace
    create_other_roles_secrets(ns)

    first = converge(ns)
    assert first.returncode == 0, first.stdout + first.stderr

    # Every object was accepted; the web Deployment is ready with the manifest's image.
    deployment = kubectl_json("get", "deployment", f"{NAME}-web", "-n", ns)
    assert deployment["status"]["readyReplicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["resources"] == {
        "requests": {"memory": "1Gi", "cpu": "500m"},
        "limits": {"memory": "2Gi", "cpu": "2"},
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/srv/status"
    assert (
        container["livenessProbe"]["initialDelaySeconds"],
        container["livenessProbe"]["periodSeconds"],
    ) == (120, 30)
    assert container["envFrom"] == [{"configMapRef": {"name": f"{NAME}-env"}}]
    assert kubectl_json("get", "configmap", f"{NAME}-env", "-n", ns)["data"] == expected_env(ns)

    # Jobs in order: pre-deploy completed before the web ReplicaSet existed; post-deploy was
    # created after every web pod was ready.
    image_hash = kubectl_json("get", "job", "-n", ns, "-l", "app.kubernetes.io/component=migrate-pre")[
        "items"
    ][0]["metadata"]["labels"]["forumops.io/image-hash"]
    pre = kubectl_json("get", "job", f"{NAME}-migrate-pre-{image_hash}", "-n", ns)
    post = kubectl_json("get", "job", f"{NAME}-migrate-post-{image_hash}", "-n", ns)
    [replicaset] = web_replicasets(ns)
    assert timestamp(pre["status"]["completionTime"]) <= timestamp(
        replicaset["metadata"]["creationTimestamp"]
    )
    pods = kubectl_json("get", "pods", "-n", ns, "-l", WEB_SELECTOR)["items"]
    last_ready = max(job_condition_time(p, "Ready") for p in pods)
    assert last_ready <= timestamp(post["metadata"]["creationTimestamp"])
    assert post["status"]["succeeded"] == 1
    pre_env = {e["name"]: e.get("value") for e in pre["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert pre_env["SKIP_POST_DEPLOYMENT_MIGRATIONS"] == "1"
    assert pre["spec"]["template"]["spec"]["containers"][0]["command"][-1] == (
        "cd /var/www/discourse && su discourse -c 'bundle exec rake db:migrate'"
    )

    # The Service selects exactly the web pods and its EndpointSlices list their IPs; both
    # Ingresses route the host to the Service.
    service = kubectl_json("get", "service", NAME, "-n", ns)
    selector = ",".join(f"{k}={v}" for k, v in sorted(service["spec"]["selector"].items()))
    selected = kubectl_json("get", "pods", "-n", ns, "-l", selector)["items"]
    assert sorted(p["metadata"]["name"] for p in selected) == sorted(p["metadata"]["name"] for p in pods)
    slices = kubectl_json("get", "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={NAME}")[
        "items"
    ]
    endpoint_ips = sorted(a for s in slices for e in s.get("endpoints") or [] for a in e["addresses"])
    assert endpoint_ips == sorted(p["status"]["podIP"] for p in pods)
    for ingress_name, path in ((NAME, "/"), (f"{NAME}-message-bus", "/message-bus/")):
        ingress = kubectl_json("get", "ingress", ingress_name, "-n", ns)
        rule = ingress["spec"]["rules"][0]
        assert rule["host"] == "forum.app.test"
        assert rule["http"]["paths"][0]["path"] == path
        assert rule["http"]["paths"][0]["backend"]["service"] == {"name": NAME, "port": {"name": "http"}}
        assert ingress["spec"]["tls"] == [{"hosts": ["forum.app.test"], "secretName": f"{NAME}-tls"}]
    bus = kubectl_json("get", "ingress", f"{NAME}-message-bus", "-n", ns)["metadata"]["annotations"]
    assert bus["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert bus["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert bus["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    site = kubectl_json("get", "ingress", NAME, "-n", ns)["metadata"]["annotations"]
    assert site["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert "nginx.ingress.kubernetes.io/proxy-buffering" not in site

    # One env value changes: the ConfigMap changes and the web pods roll to a new ReplicaSet.
    renamed = converge(
        ns,
        "-e",
        json.dumps(
            {
                "discourse_site_settings": {
                    "title": "Renamed Forum",
                    "login_required": True,
                    "max_image_size_kb": 4096,
                }
            }
        ),
    )
    assert renamed.returncode == 0, renamed.stdout + renamed.stderr
    assert recap(renamed)["changed"] >= 2
    assert kubectl_json("get", "configmap", f"{NAME}-env", "-n", ns)["data"] == expected_env(
        ns, DISCOURSE_TITLE="Renamed Forum"
    )
    replicasets = web_replicasets(ns)
    assert len(replicasets) == 2
    assert replicasets[0]["metadata"]["name"] == replicaset["metadata"]["name"]
    assert replicasets[0]["spec"]["replicas"] == 0
    assert replicasets[1]["status"]["readyReplicas"] == 2
    # Same image: its Jobs ran once and are not run again.
    assert len(kubectl_json("get", "jobs", "-n", ns)["items"]) == 2


SIDEKIQ_MODES = {
    # mode: (web UNICORN_SIDEKIQS, whether a Sidekiq Deployment runs)
    "unified": ("1", False),
    "separated": ("0", True),
    "hybrid": ("1", True),
}
# Upstream lib/demon/sidekiq.rb (discourse/discourse 0d3c183c29fd24ad7b50bd50c9ede8ec41ad2123) starts
# Sidekiq in the web master with "-c GlobalSetting.sidekiq_workers -t 5" and these queues, weights
# 8, 4, 2, 1; discourse_docker templates/web.template.yml (e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd)
# runs the app as `LD_PRELOAD=$RUBY_ALLOCATOR HOME=/home/discourse USER=discourse exec thpoff chpst
# -u discourse:www-data -U discourse:www-data bundle exec ...` after image/base/sbin/boot's
# /etc/runit/1. config/unicorn.conf.rb and config/pitchfork.conf.rb refuse UNICORN_WORKERS=0, which
# is why a Sidekiq pod must not start /sbin/boot. First the /shared layout web.template.yml's code
# hook builds in the image, which the pod's emptyDir hides (tests/integration/test_pod_logs.py).
SIDEKIQ_COMMAND = (
    "mkdir -p /shared/log/rails /shared/uploads /shared/backups /shared/tmp/backups /shared/tmp/restores && "
    "touch -a /shared/log/rails/{production,production_errors,unicorn.stdout,unicorn.stderr,sidekiq}.log && "
    "chown -R discourse:www-data /shared/log/rails /shared/uploads /shared/backups /shared/tmp && "
    "/etc/runit/1 && cd /var/www/discourse && "
    "LD_PRELOAD=$RUBY_ALLOCATOR HOME=/home/discourse USER=discourse "
    "exec thpoff chpst -u discourse:www-data -U discourse:www-data "
    'bundle exec sidekiq -e production -c "$DISCOURSE_SIDEKIQ_WORKERS" -t 5 '
    "-q critical,8 -q default,4 -q low,2 -q ultra_low,1"
)


@pytest.mark.rehearsal
@pytest.mark.parametrize("mode", SIDEKIQ_MODES)
def test_sidekiq_mode_yields_expected_deployments_and_env(rehearsal_namespace, mode):
    ns = rehearsal_namespace
    create_other_roles_secrets(ns)

    result = converge(
        ns,
        "-e",
        f"discourse_app_sidekiq_mode={mode}",
        "-e",
        "discourse_app_sidekiq_replicas=2",
        "-e",
        "discourse_app_sidekiq_concurrency=7",
        "-e",
        "discourse_app_sidekiq_max_rss_mb=1500",
        # An external Valkey with TLS and an ACL user, as the valkey role publishes it.
        "-e",
        json.dumps(
            {
                "discourse_valkey_connection": {
                    **HOST_VARS["discourse_valkey_connection"],
                    "tls": True,
                    "username": "forum",
                }
            }
        ),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    web_sidekiqs, dedicated = SIDEKIQ_MODES[mode]
    deployments = {d["metadata"]["name"]: d for d in kubectl_json("get", "deployments", "-n", ns)["items"]}
    expected = [f"{NAME}-web"] + ([f"{NAME}-sidekiq"] if dedicated else [])
    assert sorted(deployments) == sorted(expected)
    env = kubectl_json("get", "configmap", f"{NAME}-env", "-n", ns)["data"]
    assert env["DISCOURSE_SIDEKIQ_WORKERS"] == "7"
    # GlobalSetting.redis_config (discourse/discourse app/models/global_setting.rb,
    # 1df354041bfdf6595c880df45745ef92c96b2a42): username from redis_username, ssl from redis_use_ssl.
    assert (env["DISCOURSE_REDIS_USE_SSL"], env["DISCOURSE_REDIS_USERNAME"]) == ("true", "forum")

    def plain_env(deployment):
        return {
            e["name"]: e["value"]
            for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
            if "value" in e
        }

    web_env = {"UNICORN_WORKERS": "4", "UNICORN_SIDEKIQS": web_sidekiqs}
    if web_sidekiqs != "0":
        web_env["UNICORN_SIDEKIQ_MAX_RSS"] = "1500"
    assert plain_env(deployments[f"{NAME}-web"]) == web_env
    if dedicated:
        sidekiq = deployments[f"{NAME}-sidekiq"]
        container = sidekiq["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["/bin/bash", "-c", SIDEKIQ_COMMAND]
        assert plain_env(sidekiq) == {"FORUMOPS_SIDEKIQ_MAX_RSS_MB": "1500"}
        assert sidekiq["status"]["readyReplicas"] == 2
        labels = sidekiq["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "sidekiq"
        # Not behind the Service: its selector does not match Sidekiq pods.
        selector = kubectl_json("get", "service", NAME, "-n", ns)["spec"]["selector"]
        assert any(labels.get(k) != v for k, v in selector.items())
        probe_command = [
            "/bin/bash",
            "-c",
            "cd /var/www/discourse && HOME=/home/discourse exec chpst -u discourse:www-data "
            "bundle exec ruby /etc/forumops/sidekiq-alive.rb",
        ]
        assert container["livenessProbe"]["exec"]["command"] == probe_command
        assert container["startupProbe"]["exec"]["command"] == probe_command
        assert {"name": "probe", "mountPath": "/etc/forumops", "readOnly": True} in container["volumeMounts"]
        script = kubectl_json("get", "configmap", f"{NAME}-sidekiq-probe", "-n", ns)["data"][
            "sidekiq-alive.rb"
        ]
        assert script == (REPO_ROOT / "roles/discourse_app/files/sidekiq-alive.rb").read_text()
        assert kubectl("get", "pdb", f"{NAME}-sidekiq", "-n", ns, check=False).returncode == 0


@pytest.mark.rehearsal
def test_render_mode_makes_no_api_call_and_kustomize_output_is_accepted(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    bogus = tmp_path / "bogus-kubeconfig"
    bogus.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "nowhere",
                "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "nobody"}}],
                "users": [{"name": "nobody", "user": {"token": "none"}}],
            }
        )
    )
    render_dir = tmp_path / "render"
    render_dir.mkdir()
    (render_dir / SITE).mkdir()
    # Another role's file already in the base: the kustomization must list it too.
    (render_dir / SITE / "valkey.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "valkey-config", "namespace": ns},
                "data": {"valkey.conf": "appendonly yes\n"},
            }
        )
    )

    result = converge(ns, "-e", f"discourse_render_dir={render_dir}", kubeconfig=bogus)

    assert result.returncode == 0, result.stdout + result.stderr
    kustomization = yaml.safe_load((render_dir / SITE / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["valkey.yaml", "app.yaml"]
    documents = [d for d in yaml.safe_load_all((render_dir / SITE / "app.yaml").read_text()) if d]
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in documents)
    image_hash = next(d for d in documents if d["kind"] == "Job")["metadata"]["labels"][
        "forumops.io/image-hash"
    ]
    assert kinds == sorted(
        [
            "ConfigMap/app-forum-env",
            "ConfigMap/app-forum-nginx",
            "Service/app-forum",
            "Ingress/app-forum",
            "Ingress/app-forum-message-bus",
            "NetworkPolicy/app-forum-ingress",
            "NetworkPolicy/app-forum-egress",
            "PodDisruptionBudget/app-forum-web",
            "Deployment/app-forum-web",
            f"Job/app-forum-migrate-pre-{image_hash}",
            f"Job/app-forum-migrate-post-{image_hash}",
        ]
    )
    header = (render_dir / SITE / "app.yaml").read_text().split("---")[0]
    assert "app-forum-smtp (keys: user-name, password)" in header
    assert "app-forum-secret-key-base (keys: secret-key-base)" in header

    dry_run = kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=forumops.discourse",
        "-k",
        str(render_dir / SITE),
        check=False,
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert f"deployment.apps/{NAME}-web serverside-applied (server dry run)" in dry_run.stdout
    # Dry run only: nothing was created.
    assert kubectl_json("get", "deployments", "-n", ns)["items"] == []


@pytest.mark.rehearsal
def test_secret_values_never_appear_in_output_or_rendered_files(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    create_other_roles_secrets(ns)

    result = converge(ns, verbosity="-vvv")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    render_dir = tmp_path / "render"
    rendered = converge(ns, "-e", f"discourse_render_dir={render_dir}", verbosity="-vvv")
    assert rendered.returncode == 0, rendered.stdout[-3000:] + rendered.stderr

    secret = kubectl_json("get", "secret", f"{NAME}-secret-key-base", "-n", ns)
    secret_key_base = base64.b64decode(secret["data"]["secret-key-base"]).decode()
    assert re.fullmatch(r"[0-9a-f]{128}", secret_key_base)
    smtp = kubectl_json("get", "secret", f"{NAME}-smtp", "-n", ns)["data"]
    assert base64.b64decode(smtp["password"]).decode() == HOST_VARS["discourse_app_smtp_password"]
    values = [
        secret_key_base,
        HOST_VARS["discourse_app_smtp_password"],
        *(v for data in OTHER_SECRETS.values() for v in data.values()),
    ]
    haystacks = {
        "converge -vvv": result.stdout + result.stderr,
        "render -vvv": rendered.stdout + rendered.stderr,
    }
    haystacks.update({str(p): p.read_text() for p in render_dir.rglob("*") if p.is_file()})
    for value in values:
        for variant in (value, base64.b64encode(value.encode()).decode()):
            hits = [where for where, text in haystacks.items() if variant in text]
            assert hits == [], f"a secret value appears in {hits}"
    # Annotations hold a checksum and the default container for `kubectl logs` only.
    annotations = kubectl_json("get", "deployment", f"{NAME}-web", "-n", ns)["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations.pop("kubectl.kubernetes.io/default-container") == "logs"
    assert list(annotations) == ["forumops.io/config-checksum"]
    assert re.fullmatch(r"[0-9a-f]{64}", annotations["forumops.io/config-checksum"])


BAD_INPUT = {
    "replicas-0-with-hpa": (
        ["-e", "discourse_app_hpa_enabled=true", "-e", "discourse_app_web_replicas=0"],
        "discourse_app_web_replicas is 0 with discourse_app_hpa_enabled",
    ),
    "unknown-sidekiq-mode": (
        ["-e", "discourse_app_sidekiq_mode=sideways"],
        "value of discourse_app_sidekiq_mode must be one of: unified, separated, hybrid",
    ),
    "removed-sidekiq-processes": (
        ["-e", "discourse_app_sidekiq_processes=3"],
        "discourse_app_sidekiq_processes was removed: each Sidekiq pod runs one Sidekiq process",
    ),
    "sidekiq-concurrency-0": (
        ["-e", "discourse_app_sidekiq_concurrency=0"],
        "discourse_app_sidekiq_concurrency must be at least 1; got 0.",
    ),
    "hostname-with-scheme": (
        ["-e", "discourse_hostname=https://forum.app.test"],
        "discourse_app_hostname (default: discourse_hostname) must be a bare DNS host name",
    ),
    "trusted-proxy-not-a-network": (
        ["-e", json.dumps({"discourse_app_trusted_proxy_cidrs": ["10.0.0.0/8", "10.244.0.1/16"]})],
        "discourse_app_trusted_proxy_cidrs entry '10.244.0.1/16' is not a network address with prefix length",
    ),
    "setting-key-with-spaces": (
        ["-e", json.dumps({"discourse_site_settings": {"max image size": 1}})],
        "discourse_app_site_settings: 'max image size' is not a Discourse setting name",
    ),
    "asset-upload-without-s3": (
        [
            "-e",
            json.dumps(
                {
                    "discourse_storage_connection": {
                        **HOST_VARS["discourse_storage_connection"],
                        "env": {"DISCOURSE_USE_S3": "false"},
                    },
                    "discourse_app_assets_upload": True,
                }
            ),
        ],
        "discourse_app_assets_upload is true but the storage connection has no S3 (DISCOURSE_USE_S3)",
    ),
    "maxmind-mirror-with-query": (
        ["-e", "discourse_app_maxmind_mirror_url=https://geo.example.test/db?token=1"],
        "discourse_app_maxmind_mirror_url must be an http:// or https:// URL without query or fragment",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_fails_before_any_api_call_naming_the_variable(case, tmp_path):
    extra, message = BAD_INPUT[case]
    # No cluster behind this kubeconfig: any API call would fail with a connection error instead.
    bogus = empty_kubeconfig(tmp_path)

    result = converge("bad-input", *extra, kubeconfig=bogus)

    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert message in " ".join(output.split()), output
    assert "TASK [forumops.discourse.discourse_app : Apply" not in output
    assert "TASK [forumops.discourse.discourse_app : Create" not in output
    assert recap(result)["changed"] == 0


def test_every_failed_check_is_reported_in_one_run(tmp_path):
    bogus = empty_kubeconfig(tmp_path)
    extra = {
        "discourse_hostname": "https://forum.app.test",
        "discourse_app_hpa_enabled": True,
        "discourse_app_web_replicas": 0,
        "discourse_app_cdn_url": "cdn.app.test",
        "discourse_app_extra_env": {"DISCOURSE_HOSTNAME": "other.test", "MY_FLAG": "1"},
    }

    result = converge("bad-input", "-e", json.dumps(extra), kubeconfig=bogus)

    output = flat_output(result)
    assert result.returncode == 2, output
    # One failed task (the validation) carries every message, in the order of the checks.
    assert recap(result)["failed"] == 1
    messages = [
        "discourse_app_hostname (default: discourse_hostname) must be a bare DNS host name",
        "discourse_app_web_replicas is 0 with discourse_app_hpa_enabled",
        "discourse_app_cdn_url must start with http:// or https:// (got 'cdn.app.test').",
        "discourse_app_extra_env sets variables the role manages: DISCOURSE_HOSTNAME.",
    ]
    positions = [output.find(message) for message in messages]
    assert -1 not in positions, output
    assert positions == sorted(positions)
    assert "discourse_app_gateway_parent_refs" not in output


def test_pods_get_no_api_token_and_no_service_links(tmp_path):
    """Kubernetes injects <SERVICE>_PORT/_SERVICE_HOST variables for each Service of the namespace
    unless enableServiceLinks is false; one named discourse-... would give DISCOURSE_* variables,
    which GlobalSetting (app/models/global_setting.rb, 1df354041bfdf6595c880df45745ef92c96b2a42)
    reads as settings. Nothing in the pods calls the Kubernetes API."""
    documents = render_app(tmp_path, "-e", "discourse_app_sidekiq_mode=separated")
    pods = {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]["spec"]
        for d in documents
        if d["kind"] in ("Deployment", "Job")
    }
    kinds = sorted(name.split("/")[0] for name in pods)
    assert kinds == ["Deployment", "Deployment", "Job", "Job"]  # web, Sidekiq, migrate-pre, migrate-post
    for name, spec in pods.items():
        assert (spec["automountServiceAccountToken"], spec["enableServiceLinks"]) == (False, False), name


def test_every_discourse_pod_shares_one_pod_spec(tmp_path):
    """Web, Sidekiq and the Jobs get the same scheduling, pull and security fields from one partial
    (templates/partials/pod-spec.yaml.j2)."""
    extra = {
        "discourse_app_sidekiq_mode": "separated",
        "discourse_app_image_pull_secrets": ["regcred", "mirror-cred"],
        "discourse_app_node_selector": {"forumops.io/pool": "forums"},
        "discourse_app_tolerations": [{"key": "forums", "operator": "Exists", "effect": "NoSchedule"}],
    }
    documents = render_app(tmp_path, "-e", json.dumps(extra))
    shared = {
        f"{d['kind']}/{d['metadata']['name']}": {
            key: d["spec"]["template"]["spec"].get(key)
            for key in (
                "automountServiceAccountToken",
                "enableServiceLinks",
                "securityContext",
                "imagePullSecrets",
                "nodeSelector",
                "tolerations",
            )
        }
        for d in documents
        if d["kind"] in ("Deployment", "Job")
    }
    assert len(shared) == 4  # web, Sidekiq, migrate-pre, migrate-post
    expected = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},  # the role's default
        "imagePullSecrets": [{"name": "regcred"}, {"name": "mirror-cred"}],
        "nodeSelector": {"forumops.io/pool": "forums"},
        "tolerations": [{"key": "forums", "operator": "Exists", "effect": "NoSchedule"}],
    }
    for name, fields in shared.items():
        assert fields == expected, name
