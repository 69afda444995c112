"""playbooks/site.yml on the example inventory, against the rehearsal cluster and its S3 stand-in.

Each test converges the example customer into its own namespace (`-e discourse_namespace=...`;
the bucket names derive from it), with the rehearsal's inventory overlay, as `make demo` does; the
first runs the molecule scenario `site`, the example's converge harness, instead.
"""

import json
import re

import boto3
import pytest
import yaml

from tests.fixtures.ansible import play_recap, run_example
from tests.fixtures.molecule import molecule
from tests.fixtures.rehearsal import STATE_DIR, kubectl, kubectl_json, wait_for
from tests.integration.test_app import SIDEKIQ_COMMAND

pytestmark = pytest.mark.rehearsal

SITE = "example_forum"
IMAGE = "registry.example.test/forumops/discourse:2026.11.0"


def converge(ansible, namespace, *extra):
    return run_example("playbooks/site.yml", namespace, *extra, state_dir=STATE_DIR)


def summary(output):
    """The msg list of the 'Summarise the site' task (YAML callback output)."""
    block = output.split("discourse_site : Summarise the site]", 1)[1].split("PLAY RECAP", 1)[0]
    text = block.split("msg:", 1)[1]
    return yaml.safe_load(text)


def s3_buckets():
    overlay = yaml.safe_load((STATE_DIR / "inventory" / "group_vars" / "all.yml").read_text())
    client = boto3.client(
        "s3",
        endpoint_url=overlay["discourse_storage_api_endpoint"],
        region_name="eu-central-1",
        aws_access_key_id="forumops-example-access-key",
        aws_secret_access_key="forumops-example-secret-key-0123456789",
    )
    return {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}


def test_the_example_site_converges_summarises_and_then_changes_nothing(ansible, rehearsal_kubeconfig):
    """The molecule scenario `site` is the example site's converge harness: its converge, idempotence
    and verify steps run here, the output of each asserted; then a preview and `--tags app` on the
    site it converged, and its destroy step."""
    ns = "molecule-site"  # molecule/site/inventory.yml
    try:
        first = molecule("converge", "site")

        assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
        lines = summary(first.stdout)
        assert lines[:6] == [
            f"site: {SITE} -> https://forum.example.test",
            f"cluster: Kubernetes v1.36.3, namespace {ns}",
            f"web example-forum-web: 2/2 ready, image {IMAGE}",
            f"database: discourse-pg-rw.{ns}.svc:5432/discourse (cnpg)",
            f"valkey: valkey.{ns}.svc:6379",
            f"s3: https://objects.example.test, buckets {ns}-uploads and {ns}-backups",
        ]
        changed = lines[6].split(": ", 2)[2].split(", ")
        assert lines[6].startswith(f"changed: {len(changed)} object(s): ")
        for expected in ("Cluster/discourse-pg", "StatefulSet/valkey", "Deployment/example-forum-web"):
            assert expected in changed
        # The tiers ran in order: storage's Secret, then the database, Valkey, the app.
        order = [
            changed.index(name) for name in ("Secret/example-forum-s3-credentials", "Cluster/discourse-pg")
        ]
        order += [changed.index(name) for name in ("StatefulSet/valkey", "Deployment/example-forum-web")]
        assert order == sorted(order)
        assert {f"{ns}-uploads", f"{ns}-backups"} <= s3_buckets()
        # Progress lines name what they wait for.
        assert f"[{SITE}] waiting for the readiness of Deployment {ns}/example-forum-web" in first.stdout

        # Molecule's idempotence step fails on any changed task.
        second = molecule("idempotence", "site")

        assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-2000:]
        assert play_recap(second.stdout, SITE)["changed"] == 0
        assert summary(second.stdout)[-1] == "changed: no Kubernetes object"

        verified = molecule("verify", "site")

        assert verified.returncode == 0, verified.stdout[-5000:] + verified.stderr[-2000:]

        # --check --diff previews a change and makes none.
        preview = converge(
            ansible, ns, "--check", "--diff", "-e", '{"discourse_site_settings": {"title": "Renamed"}}'
        )

        assert preview.returncode == 0, preview.stdout[-5000:]
        assert "DISCOURSE_TITLE" in preview.stdout
        # The checksum annotation would roll the web pods.
        assert summary(preview.stdout)[-1] == (
            "changed: 2 object(s): ConfigMap/example-forum-env, Deployment/example-forum-web"
        )
        env = kubectl_json("get", "configmap", "example-forum-env", "-n", ns)["data"]
        assert env["DISCOURSE_TITLE"] == "Example Forum"

        # --tags app converges the app alone, with the connections discourse_site published.
        app_only = converge(ansible, ns, "--tags", "app", "-e", "discourse_app_web_replicas=3")

        assert app_only.returncode == 0, app_only.stdout[-5000:]
        other_tiers = [
            name
            for role, name in re.findall(
                r"TASK \[forumops\.discourse\.(discourse_\w+) : ([^\]]*)\]", app_only.stdout
            )
            if role not in ("discourse_app", "discourse_site")
        ]
        # Only the connections discourse_site publishes from each tier's publish.yml (tagged always,
        # like the site's checks and summary); no other task of another tier.
        assert other_tiers
        assert [n for n in other_tiers if not n.startswith("Publish")] == []
        assert f"database: discourse-pg-rw.{ns}.svc:5432/discourse (cnpg)" in summary(app_only.stdout)
        deployment = kubectl_json("get", "deployment", "example-forum-web", "-n", ns)
        assert deployment["spec"]["replicas"] == 3
    finally:
        destroyed = molecule("destroy", "site")
        assert destroyed.returncode == 0, destroyed.stdout[-3000:]


def test_the_example_with_separated_sidekiq_runs_the_way_discourse_does(ansible, rehearsal_namespace):
    """The example (TLS at the ingress, S3 as the storage role leaves it) with Sidekiq separated: the
    checks of issue 15 on a real converge. Upstream: lib/demon/sidekiq.rb and config/unicorn.conf.rb
    (see SIDEKIQ_COMMAND in test_app.py), lib/file_store/s3_store.rb with s3_use_acls false (see
    test_storage_s3.py), nginx realip from the before-server outlet (test_web_tier.py)."""
    ns = rehearsal_namespace
    variant = ("-e", "discourse_app_sidekiq_mode=separated")

    first = converge(ansible, ns, *variant)

    assert first.returncode == 0, first.stdout[-5000:]
    sidekiq = kubectl_json("get", "deployment", "example-forum-sidekiq", "-n", ns)
    assert sidekiq["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "/bin/bash",
        "-c",
        SIDEKIQ_COMMAND,
    ]
    web = kubectl_json("get", "deployment", "example-forum-web", "-n", ns)["spec"]["template"]["spec"]
    web_env = {e["name"]: e.get("value") for e in web["containers"][0]["env"]}
    assert web_env["UNICORN_SIDEKIQS"] == "0"
    assert int(web_env["UNICORN_WORKERS"]) >= 1
    assert "/etc/nginx/conf.d/outlets/before-server/10-real-ip.conf" in [
        m["mountPath"] for m in web["containers"][0]["volumeMounts"]
    ]
    env = kubectl_json("get", "configmap", "example-forum-env", "-n", ns)["data"]
    assert (env["DISCOURSE_FORCE_HTTPS"], env["DISCOURSE_S3_USE_ACLS"]) == ("true", "false")
    nginx = kubectl_json("get", "configmap", "example-forum-nginx", "-n", ns)["data"]["real-ip.conf"]
    assert "real_ip_header X-Forwarded-For;" in nginx
    # Pod Security Admission enforces baseline in the site's namespace, and every pod was admitted
    # (the rollout waited for them); a pod baseline forbids is refused there.
    labels = kubectl_json("get", "namespace", ns)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    refused = kubectl(
        "run", "privileged", "-n", ns, "--image=busybox", "--restart=Never",
        '--overrides={"spec":{"containers":[{"name":"privileged","image":"busybox",'
        '"securityContext":{"privileged":true}}]}}',
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and 'violates PodSecurity "baseline:latest"' in refused.stderr, (
        refused.stderr
    )

    second = converge(ansible, ns, *variant)

    assert play_recap(second, SITE)["changed"] == 0, second.stdout[-4000:]


def test_a_cluster_without_what_the_site_needs_fails_listing_it_before_any_change(
    ansible, rehearsal_namespace
):
    ns = rehearsal_namespace

    result = converge(
        ansible, ns, "-e", "discourse_app_ingress_class_name=traefik", "-e", "discourse_app_tls_issuer=acme"
    )

    assert result.returncode == 2
    message = json.loads(
        kubectl("get", "configmaps,secrets,clusters.postgresql.cnpg.io", "-n", ns, "-o", "json").stdout
    )
    assert [item["metadata"]["name"] for item in message["items"]] == ["kube-root-ca.crt"]
    assert f"{ns}-uploads" not in s3_buckets()
    flat = " ".join(result.stdout.split())
    assert (
        f"{SITE}: the cluster lacks what this site needs:"
        " - IngressClass traefik: install an ingress controller that registers this IngressClass,"
        " or change discourse_app_ingress_class_name"
        " - ClusterIssuer acme: create the cert-manager issuer (an ACME ClusterIssuer),"
        " or change discourse_app_tls_issuer"
    ) in flat


@pytest.mark.serial
def test_an_operator_installed_but_not_ready_is_named_with_its_status(ansible, rehearsal_namespace):
    """Reported (issue 22, item 12): preflight said "install it" for an installed operator.

    It scales the one CloudNativePG operator stand-in to zero, which fails every other site's
    preflight meanwhile: it runs alone (marker serial, make integration)."""
    ns = rehearsal_namespace
    operator = ("deployment", "cnpg-controller-manager", "-n", "cnpg-system")
    kubectl("scale", *operator, "--replicas=0")
    try:
        wait_for(
            lambda: not kubectl_json("get", *operator)["status"].get("availableReplicas"),
            "the operator stand-in to have no available replica",
            timeout=60,
        )
        result = converge(ansible, ns)
    finally:
        kubectl("scale", *operator, "--replicas=1")
        wait_for(
            lambda: kubectl_json("get", *operator)["status"].get("availableReplicas") == 1,
            "the operator stand-in to be available again",
            timeout=120,
        )
    assert result.returncode == 2
    assert (
        "- the CloudNativePG operator: installed, not ready: Deployment cnpg-system/cnpg-controller-manager "
        "has 0/0 available"
    ) in " ".join(result.stdout.split())
    assert "releases/cnpg-1.30.1.yaml" not in result.stdout.split("the CloudNativePG operator:", 1)[1]


def test_a_preview_of_a_new_site_says_so_and_creates_nothing(ansible, rehearsal_kubeconfig):
    ns = "site-preview-never-created"

    result = converge(ansible, ns, "--check")

    assert result.returncode == 0, result.stdout[-5000:]
    flat = " ".join(result.stdout.split())
    assert f"{SITE} is a new site: namespace {ns} does not exist, so every object would be created." in flat
    assert kubectl("get", "namespace", ns, check=False).returncode != 0


def test_hpa_handover_and_a_hand_added_env_key_on_a_running_site(ansible, rehearsal_namespace):
    """Reported (issue 22, items 10 and 13): enabling the HPA released spec.replicas and web dropped
    to 1; server-side apply never removes a field it does not own, so a hand-added DISCOURSE_* key
    stayed in the env ConfigMap and reached every new pod. One site, one converge for both."""
    ns = rehearsal_namespace
    fixed = converge(ansible, ns, "-e", "discourse_app_web_replicas=3")
    assert fixed.returncode == 0, fixed.stdout[-4000:]
    kubectl(
        "patch", "configmap", "example-forum-env", "-n", ns, "--type=merge",
        "-p", json.dumps({"data": {"DISCOURSE_HAND_ADDED": "x", "DISCOURSE_TITLE": "Edited"}}),
    )  # fmt: skip
    autoscale = ("-e", "discourse_app_hpa_enabled=true", "-e", "discourse_app_web_replicas=3")

    autoscaled = converge(ansible, ns, *autoscale)

    assert autoscaled.returncode == 0, autoscaled.stdout[-4000:]
    deployment = kubectl_json("get", "deployment", "example-forum-web", "-n", ns, "--show-managed-fields")
    assert deployment["spec"]["replicas"] == 3
    managers = {entry["manager"] for entry in deployment["metadata"]["managedFields"]}
    assert "forumops.discourse-handover" in managers
    assert kubectl_json("get", "hpa", "example-forum-web", "-n", ns)["spec"]["minReplicas"] == 2
    data = kubectl_json("get", "configmap", "example-forum-env", "-n", ns)["data"]
    assert "DISCOURSE_HAND_ADDED" not in data
    assert data["DISCOURSE_TITLE"] == "Example Forum"
    assert "ConfigMap/example-forum-env" in summary(autoscaled.stdout)[-1]
    again = converge(ansible, ns, *autoscale)
    assert play_recap(again, SITE)["changed"] == 0, again.stdout[-4000:]


def test_every_bad_input_of_every_tier_is_reported_at_once_before_any_change(ansible, rehearsal_namespace):
    """Reported (issue 22, item 6): each role validated when it started, so an app input error came
    after the buckets, the Cluster and Valkey existed; and these inputs were not checked at all."""
    ns = rehearsal_namespace
    bad = {
        "discourse_app_web_replicas": -1,
        "discourse_database_storage_size": "2GB",
        "discourse_app_smtp_port": 70000,
        "discourse_app_wait_timeout": -5,
        "discourse_database_backup_schedule": "0 0 25 * * *",
        "discourse_app_smtp_password": "",
        "discourse_app_tls_issuer": "",
        "discourse_storage_read_timeout": 0,
        "discourse_pod_security_level": "strict",
    }
    result = converge(ansible, ns, "-e", json.dumps(bad))

    assert result.returncode == 2
    flat = " ".join(result.stdout.split())
    for message in (
        "discourse_app_web_replicas must be at least 0; got -1.",
        "discourse_database_storage_size must be a Kubernetes quantity such as 10Gi or 512Mi; got '2GB'.",
        "discourse_app_smtp_port must be between 1 and 65535; got 70000.",
        "discourse_app_wait_timeout must be at least 1; got -5.",
        "discourse_database_backup_schedule: hour '25' is not between 0 and 23",
        "discourse_storage_read_timeout must be at least 1; got 0.",
        "discourse_app_smtp_user_name is 'forum@example.test' but discourse_app_smtp_password is empty",
        "discourse_app_tls_enabled is true but discourse_app_tls_issuer is empty",
        "value of discourse_pod_security_level must be one of: privileged, baseline, restricted, got: strict",
    ):
        assert message in flat, message
    assert f"{SITE}: " in flat and "input error(s), nothing was changed" in flat
    # Nothing was applied or created: no object in the namespace, no bucket.
    objects = kubectl_json("get", "configmaps,secrets,clusters.postgresql.cnpg.io", "-n", ns)["items"]
    assert [item["metadata"]["name"] for item in objects] == ["kube-root-ca.crt"]
    assert f"{ns}-uploads" not in s3_buckets()


def test_a_long_namespace_and_an_hpa_with_a_count_outside_its_bounds_are_named(ansible, rehearsal_namespace):
    long_namespace = "n" * 64
    result = converge(
        ansible,
        long_namespace,
        "-e",
        json.dumps({"discourse_app_hpa_enabled": True, "discourse_app_web_replicas": 9}),
    )
    assert result.returncode == 2
    flat = " ".join(result.stdout.split())
    assert f'discourse_storage_namespace ("{long_namespace}") must be Kubernetes object names' in flat
    assert (
        "discourse_app_web_replicas is 9 with discourse_app_hpa_enabled: the autoscaler owns the count, so "
        "it must lie within 1 <= discourse_app_hpa_min_replicas (2) <= discourse_app_web_replicas <= "
        "discourse_app_hpa_max_replicas (6)"
    ) in flat


def test_the_summary_names_the_host_the_app_serves(ansible, tmp_path):
    """discourse_app_hostname (default discourse_hostname) is the one host of a site: the Ingress and
    the summary say the same (render mode: no cluster, no S3)."""
    result = converge(
        ansible,
        "site-hostname",
        "-e",
        f"discourse_render_dir={tmp_path}",
        "-e",
        "discourse_app_hostname=community.example.test",
    )
    assert result.returncode == 0, result.stdout[-5000:]
    assert summary(result.stdout)[0] == f"site: {SITE} -> https://community.example.test"
    documents = yaml.safe_load_all((tmp_path / SITE / "app.yaml").read_text())
    hosts = {rule["host"] for d in documents if d and d["kind"] == "Ingress" for rule in d["spec"]["rules"]}
    assert hosts == {"community.example.test"}
