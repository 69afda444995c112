"""The site's alerts (issue 20): the PrometheusRule that discourse_app renders, checked by promtool
and accepted by the rehearsal cluster's API server (the prometheus-operator CRD).

The rule is rendered through the role in render mode (no cluster behind it). `promtool test rules`
then feeds it synthetic series named exactly as the exporters name them and proves that each alert
fires when it should and stays silent on a healthy site, and that another site's series (namespace
"other") never raise this site's alerts. The metric names come from upstream source, listed with
their repository, path and commit in tests/fixtures/metrics (PROVENANCE there):

- discourse-prometheus (github.com/discourse/discourse-prometheus 8850b2ee1acb69266f8697c3741f34cca80cad61,
  lib/collector.rb, lib/internal_metric/global.rb; prefix "discourse_" from bin/collector):
  discourse_http_requests{status}, discourse_sidekiq_queue_latency_seconds{queue},
  discourse_sidekiq_jobs_enqueued{queue}, discourse_sidekiq_job_count;
- kube-state-metrics (github.com/kubernetes/kube-state-metrics c92fe0c5ce02d3b52abf54490e00db6c706f2ba5,
  internal/store/deployment.go): kube_deployment_spec_replicas, kube_deployment_status_replicas_available;
- redis_exporter (github.com/oliver006/redis_exporter cd5941f16199f1f1fa9c12b3bf24b509875c955a,
  exporter/exporter.go, exporter/keys.go, exporter/metrics.go): redis_memory_used_bytes,
  redis_memory_max_bytes, redis_aof_last_write_status, redis_aof_last_bgrewrite_status (ok is 1,
  err 0), redis_key_size{db,key};
- CloudNativePG (github.com/cloudnative-pg/cloudnative-pg 74be43402a1b727a34c7e80152316562ad86e98d,
  pkg/management/postgres/webserver/metricserver/pg_collector.go, config/manager/default-monitoring.yaml):
  cnpg_collector_up, cnpg_pg_stat_archiver_last_failed_time, cnpg_pg_stat_archiver_last_archived_time;
  the Barman Cloud plugin (github.com/cloudnative-pg/plugin-barman-cloud
  9967e2caabf20362a5ac5812fc320b25e1f43a2d, internal/cnpgi/instance/metrics.go):
  barman_cloud_cloudnative_pg_io_last_available_backup_timestamp;
- cert-manager (github.com/cert-manager/cert-manager v1.21.1 24e33194fb39488eff2bbf10c6dc640f407cad44,
  internal/collectors/certificate_collector.go): certmanager_certificate_expiration_timestamp_seconds,
  certmanager_certificate_ready_status{condition}; the chart's ServiceMonitor does not honour labels
  (deploy/charts/cert-manager/values.yaml), so the Certificate's namespace arrives as exported_namespace.
- Sidekiq's dead set key "sidekiq:dead": github.com/discourse/discourse lib/discourse.rb
  (486cd22e27eb373dc7c0847f421dc71c1157b1fc, SIDEKIQ_NAMESPACE "sidekiq") and Sidekiq's DeadSet key "dead".
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.fixtures.alert_cases import CERT, CNPG_CONNECTION, NAME, NS, RUNBOOK, SITE, c, cases, valkey
from tests.fixtures.ansible import REPO_ROOT, ansible_env, run_tool
from tests.fixtures.go_tools import go_tool
from tests.fixtures.rehearsal import apply_manifest, kubectl_json

INVENTORY = REPO_ROOT / "tests/integration/inventories/app"
PLAYBOOK = REPO_ROOT / "tests/integration/playbooks/app_converge.yml"
METRICS = REPO_ROOT / "tests/fixtures/metrics"
OPERATIONS = REPO_ROOT / "docs/operations.md"


def render(tmp_path, variables):
    """The documents of app.yaml the role writes in render mode for the test site."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    render_dir = tmp_path / "render"
    varfile = tmp_path / "vars.json"
    varfile.write_text(
        json.dumps(dict(variables, discourse_namespace=NS, discourse_render_dir=str(render_dir)))
    )
    kubeconfig = tmp_path / "empty-kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = ansible_env(K8S_AUTH_KUBECONFIG=str(kubeconfig), KUBECONFIG=str(kubeconfig))
    result = run_tool(
        "ansible-playbook", "-i", INVENTORY, PLAYBOOK, "-e", f"@{varfile}", env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return [d for d in yaml.safe_load_all((render_dir / SITE / "app.yaml").read_text()) if d]


def prometheus_rules(documents):
    return [d for d in documents if d["kind"] == "PrometheusRule"]


@pytest.fixture(scope="module")
def rule(tmp_path_factory):
    """The PrometheusRule of a site with every source: CloudNativePG, in-cluster Valkey, TLS."""
    documents = render(
        tmp_path_factory.mktemp("alerts"),
        {"discourse_app_alerts_enabled": True, "discourse_database_connection": CNPG_CONNECTION},
    )
    (found,) = prometheus_rules(documents)
    return found


@pytest.fixture(scope="module")
def promtool():
    return go_tool("promtool")


def alerts_of(rule):
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def metric_names(expr):
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))


def upstream_metrics():
    names = set()
    for path in METRICS.glob("*.txt"):
        names |= {
            line.split()[0] for line in path.read_text().splitlines() if line and not line.startswith("#")
        }
    return names


def test_the_rule_is_the_sites_and_every_alert_carries_severity_site_and_runbook(rule):
    assert rule["metadata"] == {
        "name": f"{NAME}-alerts",
        "namespace": NS,
        "labels": {
            "app.kubernetes.io/instance": SITE,
            "app.kubernetes.io/part-of": "discourse",
            "app.kubernetes.io/managed-by": "forumops.discourse",
            "app.kubernetes.io/name": "discourse",
            "app.kubernetes.io/component": "alerts",
        },
    }
    assert [g["name"] for g in rule["spec"]["groups"]] == [
        f"{NAME}.discourse-web",
        f"{NAME}.discourse-sidekiq",
        f"{NAME}.valkey",
        f"{NAME}.database",
        f"{NAME}.certificate",
    ]
    for alert in alerts_of(rule):
        assert alert["labels"]["site"] == SITE
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["runbook_url"] == f"{RUNBOOK}#{alert['alert'].lower()}"


def test_every_metric_is_one_an_upstream_exporter_exports(rule):
    known = upstream_metrics()
    used = set().union(*(metric_names(alert["expr"]) for alert in alerts_of(rule)))

    assert used - known == set()
    assert {"discourse_http_requests", "redis_aof_last_write_status", "cnpg_collector_up"} <= used


def test_every_series_selector_is_restricted_to_the_site(rule):
    # Every metric{...} names the site's namespace (or, for cert-manager, the Certificate's name).
    for alert in alerts_of(rule):
        for selector in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{([^}]*)\}", alert["expr"]):
            assert f'namespace="{NS}"' in selector or f'name="{CERT}"' in selector, (alert["alert"], selector)


def test_every_alert_has_its_runbook_entry_and_every_entry_an_alert(rule):
    text = OPERATIONS.read_text()
    section = text.split("\n## Alerts\n", 1)[1].split("\n## ", 1)[0]
    entries = re.findall(r"^### (\w+)$", section, re.M)

    assert sorted(entries) == sorted(alert["alert"] for alert in alerts_of(rule))
    for name in entries:
        body = section.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0]
        for part in ("**What it means.**", "**What to check.**", "**What to do.**"):
            assert part in body, (name, part)


def test_alerts_are_off_by_default_and_a_string_false_keeps_them_off(tmp_path):
    # -e discourse_app_alerts_enabled=false is the string "false": read through the boolean twin.
    assert prometheus_rules(render(tmp_path / "default", {})) == []
    assert prometheus_rules(render(tmp_path / "string", {"discourse_app_alerts_enabled": "false"})) == []


def test_a_site_with_external_database_and_valkey_and_no_tls_watches_only_its_app(tmp_path):
    documents = render(
        tmp_path,
        {
            "discourse_app_alerts_enabled": "true",
            "discourse_app_tls_enabled": False,
            "discourse_app_alerts_rule_labels": {"release": "kube-prometheus-stack"},
            "discourse_app_alerts_labels": {"team": "forums", "severity": "ignored"},
            "discourse_app_alerts_sidekiq_latency_seconds": 120,
            "discourse_valkey_connection": {
                "host": "cache.example.net",
                "port": 6379,
                "secret_name": "app-forum-valkey",
                "password_key": "password",
            },
        },
    )
    (found,) = prometheus_rules(documents)

    assert found["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert [g["name"] for g in found["spec"]["groups"]] == [
        f"{NAME}.discourse-web",
        f"{NAME}.discourse-sidekiq",
    ]
    assert [a["alert"] for a in alerts_of(found)] == [
        "DiscourseWeb5xxRatioHigh",
        "DiscourseWebDown",
        "DiscourseWebPodsNotReady",
        "DiscourseSidekiqQueueLatencyHigh",
        "DiscourseSidekiqNotProcessing",
    ]
    latency = alerts_of(found)[3]
    assert latency["expr"].endswith("> 120")
    assert latency["labels"] == {"team": "forums", "severity": "warning", "site": SITE}


def test_promtool_accepts_the_rules(rule, promtool, tmp_path):
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))

    result = subprocess.run(
        [promtool, "check", "rules", rules_file], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts_of(rule))} rules found" in result.stdout


def test_every_alert_has_a_firing_and_a_healthy_case(rule):
    outcomes = {}
    for item in cases():
        outcomes.setdefault(item["alert"], set()).add(item["fires"])

    assert outcomes == {alert["alert"]: {True, False} for alert in alerts_of(rule)}


def test_each_alert_fires_when_it_should_and_not_on_a_healthy_site(rule, promtool, tmp_path):
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [item["test"] for item in cases()],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))

    result = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_fails_when_an_alert_does_not_fire(rule, promtool, tmp_path):
    # The harness can fail: a healthy site's series with a firing expectation is reported.
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    healthy = next(
        item for item in cases() if item["alert"] == "DiscourseValkeyAOFErrors" and not item["fires"]
    )
    wrong = json.loads(json.dumps(healthy["test"]))
    wrong["alert_rule_test"][0]["exp_alerts"] = [{"exp_labels": c(valkey() | {"failed": "write"})}]
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [wrong]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))

    result = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "DiscourseValkeyAOFErrors" in result.stdout + result.stderr


def test_the_api_server_accepts_the_prometheusrule(rule, rehearsal_namespace):
    # The rehearsal cluster serves prometheus-operator's CRD (monitoring.coreos.com/v1, with its
    # OpenAPI schema): a strict server-side apply rejects an unknown or mistyped field.
    manifest = json.loads(json.dumps(rule))
    manifest["metadata"]["namespace"] = rehearsal_namespace

    apply_manifest(manifest, rehearsal_namespace)

    stored = kubectl_json(
        "get", "prometheusrules.monitoring.coreos.com", f"{NAME}-alerts", "-n", rehearsal_namespace
    )
    assert stored["spec"] == rule["spec"]
