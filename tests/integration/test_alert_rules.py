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

from tests.fixtures.ansible import REPO_ROOT, ansible_env, run_tool
from tests.fixtures.go_tools import go_tool
from tests.fixtures.rehearsal import apply_manifest, kubectl_json

INVENTORY = REPO_ROOT / "tests/integration/inventories/app"
PLAYBOOK = REPO_ROOT / "tests/integration/playbooks/app_converge.yml"
METRICS = REPO_ROOT / "tests/fixtures/metrics"
OPERATIONS = REPO_ROOT / "docs/operations.md"
SITE = "app_forum"
NAME = "app-forum"
NS = "render"
RUNBOOK = "https://github.com/forumops/discourse/blob/main/docs/operations.md"
CNPG_CONNECTION = {
    "host": f"discourse-db-rw.{NS}.svc",
    "port": 5432,
    "database": "discourse",
    "user": "discourse",
    "secret_name": "discourse-db-app",
    "password_key": "password",
    "sslmode": "prefer",
    "mode": "cnpg",
    "cluster_name": "discourse-db",
}
WEB_POD = f"{NAME}-web-6f7c9d8b5-x2k4q"
WEB_POD_2 = f"{NAME}-web-6f7c9d8b5-p9m3z"
VALKEY_POD = f"{NAME}-valkey-0"
CERT = f"{NAME}-tls"


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


# --- promtool test rules ------------------------------------------------------------------------
def series(name, labels, values):
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def firing(labels, summary, description, **extra):
    """One expected alert: its labels (without alertname) and annotations, runbook included."""
    return {
        "exp_labels": labels,
        "exp_annotations": {"summary": summary, "description": description, **extra},
    }


def case(alert, title, input_series, eval_time, expected, interval="1m"):
    return {
        "alert": alert,
        "test": {
            "name": f"{alert}: {title}",
            "interval": interval,
            "input_series": input_series,
            "alert_rule_test": [
                {
                    "eval_time": eval_time,
                    "alertname": alert,
                    "exp_alerts": [
                        dict(
                            e,
                            exp_annotations=dict(
                                e["exp_annotations"], runbook_url=f"{RUNBOOK}#{alert.lower()}"
                            ),
                        )
                        for e in expected
                    ],
                }
            ],
        },
        "fires": bool(expected),
    }


def web(namespace=NS, pod=WEB_POD, **labels):
    return {"namespace": namespace, "pod": pod, **labels}


def requests(namespace, status, per_minute):
    labels = web(namespace, db="default", api="web", verb="GET", type="regular", status=status)
    return series("discourse_http_requests", labels, f"0+{per_minute}x40")


def deployment(namespace=NS):
    return {"namespace": namespace, "deployment": f"{NAME}-web"}


def valkey(namespace=NS, pod=VALKEY_POD):
    return {"namespace": namespace, "pod": pod, "container": "redis-exporter"}


def database(pod, namespace=NS):
    return {"namespace": namespace, "pod": pod}


def certificate(exported_namespace, **extra):
    base = {
        "name": CERT,
        "issuer_name": "letsencrypt",
        "issuer_kind": "ClusterIssuer",
        "issuer_group": "cert-manager.io",
    }
    return {**base, "namespace": "cert-manager", "exported_namespace": exported_namespace, **extra}


def w(labels):
    return dict(labels, site=SITE, severity="warning")


def c(labels):
    return dict(labels, site=SITE, severity="critical")


def cases():
    other_web = web("other")
    return [
        case(
            "DiscourseWeb5xxRatioHigh",
            "10% of the answers are 500s",
            [requests(NS, "200", 90), requests(NS, "500", 10), requests("other", "500", 50)],
            "20m",
            [
                firing(
                    w({"namespace": NS}),
                    "More than 5% of Discourse's requests fail with a 5xx",
                    f"10% of the requests Rails answered in namespace {NS} failed with 5xx over 5 minutes, "
                    "for 10 minutes.",
                )
            ],
        ),
        case(
            "DiscourseWeb5xxRatioHigh",
            "1% of the answers are 500s",
            [requests(NS, "200", 99), requests(NS, "500", 1)],
            "20m",
            [],
        ),
        case(
            "DiscourseWebDown",
            "no available replica",
            [
                series("kube_deployment_status_replicas_available", deployment(), "0x20"),
                series("kube_deployment_spec_replicas", deployment(), "2x20"),
            ],
            "10m",
            [
                firing(
                    c({"namespace": NS}),
                    "No Discourse web pod is ready: /srv/status fails everywhere",
                    f"Deployment {NAME}-web in namespace {NS} has had no available replica for 5 minutes "
                    "(or kube-state-metrics reports nothing about it).",
                )
            ],
        ),
        case(
            "DiscourseWebDown",
            "kube-state-metrics knows nothing of the Deployment",
            [series("kube_deployment_status_replicas_available", deployment("other"), "2x20")],
            "10m",
            [
                firing(
                    c(deployment()),
                    "No Discourse web pod is ready: /srv/status fails everywhere",
                    f"Deployment {NAME}-web in namespace {NS} has had no available replica for 5 minutes "
                    "(or kube-state-metrics reports nothing about it).",
                )
            ],
        ),
        case(
            "DiscourseWebDown",
            "two of two replicas available",
            [
                series("kube_deployment_status_replicas_available", deployment(), "2x20"),
                series("kube_deployment_spec_replicas", deployment(), "2x20"),
                series("kube_deployment_status_replicas_available", deployment("other"), "0x20"),
                series("kube_deployment_spec_replicas", deployment("other"), "2x20"),
            ],
            "10m",
            [],
        ),
        case(
            "DiscourseWebDown",
            "scaled to zero on purpose",
            [
                series("kube_deployment_status_replicas_available", deployment(), "0x20"),
                series("kube_deployment_spec_replicas", deployment(), "0x20"),
            ],
            "10m",
            [],
        ),
        case(
            "DiscourseWebPodsNotReady",
            "one of three replicas available",
            [
                series("kube_deployment_status_replicas_available", deployment(), "1x20"),
                series("kube_deployment_spec_replicas", deployment(), "3x20"),
            ],
            "20m",
            [
                firing(
                    w(deployment()),
                    "Some Discourse web pods have not been ready for 15 minutes",
                    f"Deployment {NS}/{NAME}-web wants more replicas than are available (readiness probe GET "
                    "/srv/status) for 15 minutes; 3 are wanted.",
                )
            ],
        ),
        case(
            "DiscourseWebPodsNotReady",
            "three of three replicas available",
            [
                series("kube_deployment_status_replicas_available", deployment(), "3x20"),
                series("kube_deployment_spec_replicas", deployment(), "3x20"),
            ],
            "20m",
            [],
        ),
        case(
            "DiscourseSidekiqQueueLatencyHigh",
            "the default queue waits 400 s (reported by both web pods)",
            [
                series("discourse_sidekiq_queue_latency_seconds", web(queue="default"), "400x20"),
                series(
                    "discourse_sidekiq_queue_latency_seconds", web(pod=WEB_POD_2, queue="default"), "400x20"
                ),
                series("discourse_sidekiq_queue_latency_seconds", web(queue="critical"), "1x20"),
                series(
                    "discourse_sidekiq_queue_latency_seconds", dict(other_web, queue="default"), "9000x20"
                ),
            ],
            "15m",
            [
                firing(
                    w({"namespace": NS, "queue": "default"}),
                    "Sidekiq queue default is behind",
                    f"The oldest job in Sidekiq queue default (namespace {NS}) has waited 6m 40s for 10 "
                    "minutes.",
                )
            ],
        ),
        case(
            "DiscourseSidekiqQueueLatencyHigh",
            "jobs start within seconds",
            [series("discourse_sidekiq_queue_latency_seconds", web(queue="default"), "2x20")],
            "15m",
            [],
        ),
        case(
            "DiscourseSidekiqNotProcessing",
            "50 jobs wait and the job counter stands still",
            [
                series("discourse_sidekiq_jobs_enqueued", web(queue="default"), "50x40"),
                series("discourse_sidekiq_jobs_enqueued", web(pod=WEB_POD_2, queue="default"), "50x40"),
                series(
                    "discourse_sidekiq_job_count", web(job_name="Jobs::ProcessPost", success="true"), "100x40"
                ),
                series(
                    "discourse_sidekiq_job_count",
                    dict(other_web, job_name="Jobs::X", success="true"),
                    "0+9x40",
                ),
            ],
            "30m",
            [
                firing(
                    c({"namespace": NS}),
                    "Sidekiq has jobs waiting but finished none in 15 minutes",
                    f"50 jobs wait in the Sidekiq queues of namespace {NS} and no job has completed "
                    "(successfully or not) for 15 minutes: no Sidekiq process is working.",
                )
            ],
        ),
        case(
            "DiscourseSidekiqNotProcessing",
            "jobs wait and jobs complete",
            [
                series("discourse_sidekiq_jobs_enqueued", web(queue="default"), "50x40"),
                series(
                    "discourse_sidekiq_job_count", web(job_name="Jobs::ProcessPost", success="true"), "0+5x40"
                ),
            ],
            "30m",
            [],
        ),
        case(
            "DiscourseSidekiqDeadSetGrowing",
            "one job dies a minute",
            [
                series("redis_key_size", valkey() | {"db": "db0", "key": "sidekiq:dead"}, "0+1x120"),
                series("redis_key_size", valkey() | {"db": "db0", "key": "sidekiq:retry"}, "0+5x120"),
            ],
            "90m",
            [
                firing(
                    w(valkey() | {"db": "db0", "key": "sidekiq:dead"}),
                    "Sidekiq jobs are dying: they ran out of retries",
                    f"The Sidekiq dead set in {NS} grew by 60 jobs in the last hour.",
                )
            ],
        ),
        case(
            "DiscourseSidekiqDeadSetGrowing",
            "the dead set stays at 5",
            [series("redis_key_size", valkey() | {"db": "db0", "key": "sidekiq:dead"}, "5x120")],
            "90m",
            [],
        ),
        case(
            "DiscourseValkeyMemoryNearMax",
            "950 of 1000 bytes used",
            [
                series("redis_memory_used_bytes", valkey(), "950x20"),
                series("redis_memory_max_bytes", valkey(), "1000x20"),
            ],
            "10m",
            [
                firing(
                    w(valkey()),
                    "Valkey is close to maxmemory; at the cap it refuses writes",
                    f"Valkey {NS}/{VALKEY_POD} uses 95% of its maxmemory (noeviction: writes fail when it is "
                    "full).",
                )
            ],
        ),
        case(
            "DiscourseValkeyMemoryNearMax",
            "half used, and a Valkey without a cap",
            [
                series("redis_memory_used_bytes", valkey(), "500x20"),
                series("redis_memory_max_bytes", valkey(), "1000x20"),
                series("redis_memory_used_bytes", valkey(pod=f"{NAME}-valkey-1"), "9000x20"),
                series("redis_memory_max_bytes", valkey(pod=f"{NAME}-valkey-1"), "0x20"),
            ],
            "10m",
            [],
        ),
        case(
            "DiscourseValkeyAOFErrors",
            "a failed write on one pod, a failed rewrite on another",
            [
                series("redis_aof_last_write_status", valkey(), "0x10"),
                series("redis_aof_last_bgrewrite_status", valkey(), "1x10"),
                series("redis_aof_last_write_status", valkey(pod=f"{NAME}-valkey-1"), "1x10"),
                series("redis_aof_last_bgrewrite_status", valkey(pod=f"{NAME}-valkey-1"), "0x10"),
                series("redis_aof_last_write_status", valkey("other"), "0x10"),
            ],
            "5m",
            [
                firing(
                    c(valkey() | {"failed": "write"}),
                    "Valkey cannot write its append-only file",
                    f"Valkey {NS}/{VALKEY_POD} reports a failed AOF write: a failed write makes it refuse "
                    "writes, "
                    "a failed rewrite lets the file grow.",
                ),
                firing(
                    c(valkey(pod=f"{NAME}-valkey-1") | {"failed": "rewrite"}),
                    "Valkey cannot write its append-only file",
                    f"Valkey {NS}/{NAME}-valkey-1 reports a failed AOF rewrite: a failed write makes it "
                    "refuse "
                    "writes, a failed rewrite lets the file grow.",
                ),
            ],
        ),
        case(
            "DiscourseValkeyAOFErrors",
            "AOF writes and rewrites succeed",
            [
                series("redis_aof_last_write_status", valkey(), "1x10"),
                series("redis_aof_last_bgrewrite_status", valkey(), "1x10"),
            ],
            "5m",
            [],
        ),
        case(
            "DiscourseDatabaseOffline",
            "no instance has PostgreSQL up",
            [
                series("cnpg_collector_up", database("discourse-db-1") | {"cluster": "discourse-db"}, "0x20"),
                series("cnpg_collector_up", database("discourse-db-2") | {"cluster": "discourse-db"}, "0x20"),
            ],
            "10m",
            [
                firing(
                    c({"namespace": NS}),
                    "The site's PostgreSQL cluster has no running instance",
                    f"No instance of CloudNativePG cluster discourse-db in namespace {NS} reports PostgreSQL "
                    "up "
                    "(or none is scraped) for 5 minutes.",
                )
            ],
        ),
        case(
            "DiscourseDatabaseOffline",
            "no instance is scraped",
            [
                series(
                    "cnpg_collector_up",
                    database("discourse-db-1", "other") | {"cluster": "discourse-db"},
                    "1x20",
                )
            ],
            "10m",
            [
                firing(
                    c({"namespace": NS}),
                    "The site's PostgreSQL cluster has no running instance",
                    f"No instance of CloudNativePG cluster discourse-db in namespace {NS} reports PostgreSQL "
                    "up "
                    "(or none is scraped) for 5 minutes.",
                )
            ],
        ),
        case(
            "DiscourseDatabaseOffline",
            "one instance of two is up",
            [
                series("cnpg_collector_up", database("discourse-db-1") | {"cluster": "discourse-db"}, "1x20"),
                series("cnpg_collector_up", database("discourse-db-2") | {"cluster": "discourse-db"}, "0x20"),
            ],
            "10m",
            [],
        ),
        case(
            "DiscourseDatabaseInstanceDown",
            "the second instance is down",
            [
                series("cnpg_collector_up", database("discourse-db-1") | {"cluster": "discourse-db"}, "1x20"),
                series("cnpg_collector_up", database("discourse-db-2") | {"cluster": "discourse-db"}, "0x20"),
                series(
                    "cnpg_collector_up",
                    database("discourse-db-1", "other") | {"cluster": "discourse-db"},
                    "0x20",
                ),
            ],
            "15m",
            [
                firing(
                    w(database("discourse-db-2") | {"cluster": "discourse-db"}),
                    "A PostgreSQL instance of the site is down",
                    f"PostgreSQL in pod {NS}/discourse-db-2 has not answered its instance manager for 10 "
                    "minutes: "
                    "the cluster is not ready.",
                )
            ],
        ),
        case(
            "DiscourseDatabaseInstanceDown",
            "every instance is up (the pooler is no instance)",
            [
                series("cnpg_collector_up", database("discourse-db-1") | {"cluster": "discourse-db"}, "1x20"),
                series("cnpg_collector_up", database("discourse-db-pooler-rw-5d8f-abcde"), "0x20"),
            ],
            "15m",
            [],
        ),
        case(
            "DiscourseDatabaseWALArchivingFailing",
            "the last failure is newer than the last success",
            [
                series("cnpg_pg_stat_archiver_last_failed_time", database("discourse-db-1"), "2000+60x20"),
                series("cnpg_pg_stat_archiver_last_archived_time", database("discourse-db-1"), "1000x20"),
            ],
            "15m",
            [
                firing(
                    w(database("discourse-db-1")),
                    "PostgreSQL cannot archive WAL to the object store",
                    f"The primary {NS}/discourse-db-1 has failed to archive WAL since its last success, for "
                    "10 "
                    "minutes: point-in-time recovery stops there and pg_wal fills up.",
                )
            ],
        ),
        case(
            "DiscourseDatabaseWALArchivingFailing",
            "archiving succeeds, an old failure is history",
            [
                series("cnpg_pg_stat_archiver_last_failed_time", database("discourse-db-1"), "500x20"),
                series("cnpg_pg_stat_archiver_last_archived_time", database("discourse-db-1"), "1000+60x20"),
                series("cnpg_pg_stat_archiver_last_failed_time", database("discourse-db-2"), "-1x20"),
                series("cnpg_pg_stat_archiver_last_archived_time", database("discourse-db-2"), "-1x20"),
            ],
            "15m",
            [],
        ),
        case(
            "DiscourseDatabaseBackupTooOld",
            "the newest backup is from the first hour, 29 hours ago",
            [
                series(
                    "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
                    database("discourse-db-1"),
                    "3600x360",
                )
            ],
            "29h",
            [
                firing(
                    w({"namespace": NS}),
                    "The site's newest database backup is too old",
                    f"The newest base backup of the PostgreSQL cluster in namespace {NS} is 1d 4h 0m 0s old "
                    "(limit 26 hours).",
                )
            ],
            # 30 hours of samples every 5 minutes: within the 5-minute lookback of every evaluation.
            interval="5m",
        ),
        case(
            "DiscourseDatabaseBackupTooOld",
            "a backup completes every 5 minutes",
            [
                series(
                    "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
                    database("discourse-db-1"),
                    "0+300x360",
                )
            ],
            "29h",
            [],
            interval="5m",
        ),
        case(
            "DiscourseCertificateExpiring",
            "expires on day 10, cert-manager scraped without honorLabels",
            [
                series("certmanager_certificate_expiration_timestamp_seconds", certificate(NS), "864000x200"),
                series(
                    "certmanager_certificate_expiration_timestamp_seconds", certificate("other"), "864000x200"
                ),
            ],
            "2h",
            [
                firing(
                    w(certificate(NS)),
                    "The site's TLS certificate expires soon and was not renewed",
                    f"Certificate {CERT} expires in 9d 22h 0m 0s; cert-manager renews well before that, so "
                    "renewal "
                    "is failing.",
                )
            ],
        ),
        case(
            "DiscourseCertificateExpiring",
            "expires on day 10, cert-manager scraped with honorLabels",
            [
                series(
                    "certmanager_certificate_expiration_timestamp_seconds",
                    {k: v for k, v in certificate(NS).items() if k != "exported_namespace"}
                    | {"namespace": NS},
                    "864000x200",
                )
            ],
            "2h",
            [
                firing(
                    w(
                        {k: v for k, v in certificate(NS).items() if k != "exported_namespace"}
                        | {"namespace": NS}
                    ),
                    "The site's TLS certificate expires soon and was not renewed",
                    f"Certificate {CERT} expires in 9d 22h 0m 0s; cert-manager renews well before that, so "
                    "renewal "
                    "is failing.",
                )
            ],
        ),
        case(
            "DiscourseCertificateExpiring",
            "expires on day 60",
            [series("certmanager_certificate_expiration_timestamp_seconds", certificate(NS), "5184000x200")],
            "2h",
            [],
        ),
        case(
            "DiscourseCertificateNotReady",
            "Ready is False",
            [
                series("certmanager_certificate_ready_status", certificate(NS, condition="True"), "0x60"),
                series("certmanager_certificate_ready_status", certificate(NS, condition="False"), "1x60"),
                series("certmanager_certificate_ready_status", certificate(NS, condition="Unknown"), "0x60"),
            ],
            "45m",
            [
                firing(
                    w(certificate(NS, condition="True")),
                    "cert-manager reports the site's certificate not ready",
                    f"Certificate {CERT} has not been Ready for 30 minutes: issuance or renewal fails.",
                )
            ],
        ),
        case(
            "DiscourseCertificateNotReady",
            "Ready is True",
            [
                series("certmanager_certificate_ready_status", certificate(NS, condition="True"), "1x60"),
                series("certmanager_certificate_ready_status", certificate(NS, condition="False"), "0x60"),
                series(
                    "certmanager_certificate_ready_status", certificate("other", condition="True"), "0x60"
                ),
            ],
            "45m",
            [],
        ),
    ]


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
