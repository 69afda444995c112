"""Metrics and dashboards of a site: discourse_app_metrics_enabled, discourse_app_dashboards_enabled and
discourse_valkey_metrics_enabled, on the rehearsal cluster and with the real exporter binaries.

Upstream facts the objects follow (read from source):
- github.com/discourse/discourse-prometheus 8850b2ee1acb69266f8697c3741f34cca80cad61: plugin.rb
  (GlobalSetting prometheus_collector_port 9405, prometheus_webserver_bind "localhost"; every process
  sends to PrometheusExporter::Client host "localhost"; Sidekiq job metrics on :sidekiq_job_ran),
  lib/collector_demon.rb (execs bin/collector <port> <bind> <parent pid> <pid file> with
  PROMETHEUS_EXPORTER_VERSION set), bin/collector (activates
  gems/<ruby>/specifications/prometheus_exporter-<version>.gemspec).
- discourse/discourse config/pitchfork.conf.rb 0e25a3e8c5a54d045c8a5ddc52d8e4276995c3ab: only the app
  server's master starts DiscoursePluginRegistry.demon_processes, so a Sidekiq-only pod has no collector
  unless the role starts one.
- discourse/prometheus_exporter v2.2.0 (46e88afd2390df4bff2c4035028922525383efca),
  lib/prometheus_exporter/server/web_server.rb: bind "ANY" listens on 0.0.0.0 and ::.
- oliver006/redis_exporter v1.88.0 (16db88a0c2981c365aeca0973c43dd7d6a560f64) main.go: REDIS_ADDR,
  REDIS_PASSWORD, REDIS_EXPORTER_WEB_LISTEN_ADDRESS, REDIS_EXPORTER_CHECK_SINGLE_KEYS; built from its Go
  module here (tests/fixtures/go_tools.py) and run against a real Valkey.
kwok runs the pods, so on the cluster the test checks what the API server holds: the PodMonitors select
exactly the site's web and Sidekiq (or Valkey) pods, those pods have the port the PodMonitor names, the
Service and NetworkPolicy carry the metrics port, the exporter reads the password from the Secret.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import valkey
import yaml

from tests.fixtures.ansible import REPO_ROOT, flat_output
from tests.fixtures.go_tools import TOOLS, go_tool
from tests.fixtures.rehearsal import kubectl_json
from tests.fixtures.valkey import recap as valkey_recap
from tests.fixtures.valkey import render as render_valkey
from tests.integration.test_app import (
    MANIFEST,
    NAME,
    SITE,
    converge,
    create_other_roles_secrets,
    empty_kubeconfig,
    recap,
)
from tests.integration.test_valkey_conf import PASSWORD, pod_server
from tests.integration.test_valkey_statefulset import converge as converge_valkey
from tests.integration.test_valkey_statefulset import password_of
from tests.unit.test_dashboards import DASHBOARDS, metric_names, queries

PLUGIN = {
    "name": "discourse-prometheus",
    "url": "https://github.com/discourse/discourse-prometheus.git",
    # The commit discourse-prometheus's .discourse-compatibility names for Discourse 3.5 (< 3.6.0.beta1-dev).
    "ref": "a1e0ba671e13ceb9541a4d62d3ff7d206393d438",
    "commit": "a1e0ba671e13ceb9541a4d62d3ff7d206393d438",
}
METRICS_ENV = [
    {"name": "DISCOURSE_PROMETHEUS_COLLECTOR_PORT", "value": "9405"},
    {"name": "DISCOURSE_PROMETHEUS_WEBSERVER_BIND", "value": "ANY"},
]
COMPONENTS = "app.kubernetes.io/component"


def manifest_with_plugin(tmp_path, plugins=(PLUGIN,)):
    """The test inventory's build manifest with the plugin list of an image that has the plugin."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "build-manifest.json"
    path.write_text(json.dumps({**MANIFEST, "plugins": list(plugins)}))
    return path


def app_inputs(tmp_path, **inputs):
    return ["-e", json.dumps({"discourse_app_build_manifest": str(manifest_with_plugin(tmp_path)), **inputs})]


def render(tmp_path, **inputs):
    """app.yaml of render mode for the test site, by (kind, name); no cluster behind it."""
    render_dir = tmp_path / "render"
    result = converge(
        "render",
        "-e",
        f"discourse_render_dir={render_dir}",
        *app_inputs(tmp_path, **inputs),
        kubeconfig=empty_kubeconfig(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    documents = [d for d in yaml.safe_load_all((render_dir / SITE / "app.yaml").read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def selector_string(selector):
    """A label selector (matchLabels, matchExpressions with In) as kubectl's -l string."""
    parts = [f"{key}={value}" for key, value in sorted(selector.get("matchLabels", {}).items())]
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        parts.append(f"{expression['key']} in ({','.join(expression['values'])})")
    return ",".join(parts)


def container_ports(pod):
    return {
        port["name"]: port["containerPort"] for c in pod["spec"]["containers"] for port in c.get("ports", [])
    }


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- discourse_app ------------------------------------------------------------------------------


@pytest.mark.rehearsal
def test_app_metrics_podmonitor_selects_the_sites_web_and_sidekiq_pods_on_their_metrics_port(
    rehearsal_namespace, tmp_path
):
    ns = rehearsal_namespace
    create_other_roles_secrets(ns)
    inputs = app_inputs(
        tmp_path,
        discourse_app_metrics_enabled=True,
        discourse_app_sidekiq_mode="hybrid",
        discourse_app_sidekiq_replicas=1,
        discourse_app_metrics_podmonitor_labels={"release": "kube-prometheus-stack"},
    )

    first = converge(ns, *inputs)

    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    monitor = kubectl_json("get", "podmonitors.monitoring.coreos.com", NAME, "-n", ns)
    assert monitor["metadata"]["labels"] == {
        "release": "kube-prometheus-stack",
        "app.kubernetes.io/name": "discourse",
        "app.kubernetes.io/instance": SITE,
        "app.kubernetes.io/component": "metrics",
        "app.kubernetes.io/part-of": "discourse",
        "app.kubernetes.io/managed-by": "forumops.discourse",
    }
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    assert endpoint["relabelings"] == [
        {
            "action": "replace",
            "sourceLabels": [f"__meta_kubernetes_pod_label_app_kubernetes_io_{label}"],
            "targetLabel": target,
        }
        for label, target in (("instance", "site"), ("component", "component"))
    ]
    # The selector picks exactly the running web and Sidekiq pods of the site: not the Job pods.
    selected = kubectl_json("get", "pods", "-n", ns, "-l", selector_string(monitor["spec"]["selector"]))[
        "items"
    ]
    everything = kubectl_json("get", "pods", "-n", ns)["items"]
    expected = [p for p in everything if p["metadata"]["labels"].get(COMPONENTS) in ("web", "sidekiq")]
    assert sorted(p["metadata"]["name"] for p in selected) == sorted(p["metadata"]["name"] for p in expected)
    assert sorted(p["metadata"]["labels"][COMPONENTS] for p in selected) == ["sidekiq", "web", "web"]
    assert any(p["metadata"]["labels"].get(COMPONENTS, "").startswith("migrate") for p in everything)
    # Each selected pod has the port the PodMonitor names, and the plugin's bind and port settings.
    for pod in selected:
        assert container_ports(pod)["metrics"] == 9405, pod["metadata"]["name"]
        env = pod["spec"]["containers"][0]["env"]
        assert [e for e in env if e["name"].startswith("DISCOURSE_PROMETHEUS_")] == METRICS_ENV
    # The Sidekiq pod starts the plugin's collector before Sidekiq.
    sidekiq = next(p for p in selected if p["metadata"]["labels"][COMPONENTS] == "sidekiq")
    command = sidekiq["spec"]["containers"][0]["command"][-1]
    assert "plugins/discourse-prometheus/bin/collector" in command
    assert command.index("bin/collector") < command.index("bundle exec sidekiq")

    # The Service's metrics port reaches the web pods' collectors.
    service = kubectl_json("get", "service", NAME, "-n", ns)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
        {"name": "metrics", "port": 9405, "protocol": "TCP", "targetPort": "metrics"},
    ]
    slices = kubectl_json("get", "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={NAME}")[
        "items"
    ]
    assert {(p["name"], p["port"]) for s in slices for p in s["ports"]} == {("http", 80), ("metrics", 9405)}
    web_ips = sorted(p["status"]["podIP"] for p in selected if p["metadata"]["labels"][COMPONENTS] == "web")
    assert sorted(a for s in slices for e in s["endpoints"] for a in e["addresses"]) == web_ips

    # Only the Prometheus namespace may reach 9405.
    policy = kubectl_json("get", "networkpolicy", f"{NAME}-ingress", "-n", ns)
    assert policy["spec"]["ingress"][1] == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": 9405, "protocol": "TCP"}],
    }

    # The dashboards follow metrics: one ConfigMap for Grafana's sidecar, the site's own copies.
    dashboards = kubectl_json("get", "configmap", f"{NAME}-dashboards", "-n", ns)
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert set(dashboards["data"]) == {
        f"discourse-{ns}-{SITE}.json",
        f"discourse-data-stores-{ns}-{SITE}.json",
    }
    titles = sorted(json.loads(text)["title"] for text in dashboards["data"].values())
    assert titles == [f"Discourse / {SITE} ({ns})", f"Discourse data stores / {SITE} ({ns})"]

    second = converge(ns, *inputs)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr
    assert recap(second)["changed"] == 0, second.stdout


def test_metrics_off_renders_no_port_no_podmonitor_and_dashboards_follow_their_own_switch(tmp_path):
    off = render(tmp_path / "off")
    dashboards_only = render(
        tmp_path / "dashboards", discourse_app_dashboards_enabled=True, discourse_app_sidekiq_mode="separated"
    )
    metrics_only = render(
        tmp_path / "metrics", discourse_app_metrics_enabled=True, discourse_app_dashboards_enabled=False
    )

    for objects in (off, dashboards_only):
        assert ("PodMonitor", NAME) not in objects
        assert [p["name"] for p in objects[("Service", NAME)]["spec"]["ports"]] == ["http"]
        assert len(objects[("NetworkPolicy", f"{NAME}-ingress")]["spec"]["ingress"]) == 1
        for kind, name in objects:
            if kind == "Deployment":
                container = objects[(kind, name)]["spec"]["template"]["spec"]["containers"][0]
                assert "metrics" not in [p["name"] for p in container.get("ports", [])]
                assert "PROMETHEUS" not in json.dumps(container)
    assert ("ConfigMap", f"{NAME}-dashboards") not in off
    assert ("ConfigMap", f"{NAME}-dashboards") in dashboards_only
    assert ("ConfigMap", f"{NAME}-dashboards") not in metrics_only
    assert ("PodMonitor", NAME) in metrics_only


def test_metrics_with_an_image_without_the_plugin_fail_before_any_api_call(tmp_path):
    result = converge(
        "render-check",
        "-e",
        json.dumps(
            {
                "discourse_app_metrics_enabled": True,
                "discourse_app_build_manifest": str(
                    manifest_with_plugin(
                        tmp_path,
                        [
                            {
                                "name": "discourse-solved",
                                "url": "https://github.com/discourse/discourse-solved.git",
                            }
                        ],
                    )
                ),
            }
        ),
        kubeconfig=empty_kubeconfig(tmp_path),
    )

    assert result.returncode == 2
    assert (
        "discourse_app_metrics_enabled is true but the image's build manifest (discourse_app_build_manifest) "
        "lists no discourse-prometheus plugin" in flat_output(result)
    )
    assert "Check every input of the role at once" in result.stdout


def test_the_sidekiq_pods_collector_loop_starts_the_plugins_collector_once_its_gem_is_installed(tmp_path):
    """Runs the rendered Sidekiq command's collector part with bash in a directory laid out like
    /var/www/discourse; `chpst` is a stub on PATH that records how it was called."""
    objects = render(tmp_path, discourse_app_metrics_enabled=True, discourse_app_sidekiq_mode="separated")
    container = objects[("Deployment", f"{NAME}-sidekiq")]["spec"]["template"]["spec"]["containers"][0]
    command = container["command"][-1]
    start = command.index("cd /var/www/discourse && ") + len("cd /var/www/discourse && ")
    collector = command[start : command.index("LD_PRELOAD=")]
    assert collector.startswith("{ while :; do ") and collector.endswith(" & } && ")
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}

    home = tmp_path / "discourse"
    (home / "plugins/discourse-prometheus/bin").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    (bin_dir / "chpst").write_text(
        f'#!/bin/sh\necho "$PROMETHEUS_EXPORTER_VERSION|$HOME|$USER|$*" >> {calls}\nsleep 30\n'
    )
    (bin_dir / "chpst").chmod(0o755)
    script = collector + "echo started"
    process = subprocess.Popen(
        ["/bin/bash", "-c", script],
        cwd=home,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # The command goes on to Sidekiq at once; the loop waits in the background for the gem.
        assert process.stdout.readline() == "started\n"
        time.sleep(1)
        assert not calls.exists()
        specs = home / "plugins/discourse-prometheus/gems/3.3.8/specifications"
        specs.mkdir(parents=True)
        (specs / "prometheus_exporter-2.2.0.gemspec").write_text("")
        deadline = time.monotonic() + 15
        while not calls.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert calls.read_text() == (
            "2.2.0|/home/discourse|discourse|-u discourse:www-data bundle exec ruby "
            "plugins/discourse-prometheus/bin/collector 9405 ANY 0 /dev/null\n"
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- discourse_valkey ---------------------------------------------------------------------------


@pytest.mark.rehearsal
def test_valkey_metrics_sidecar_reads_the_password_from_the_secret_and_the_podmonitor_selects_the_pod(
    ansible, tmp_path, rehearsal_kubeconfig, rehearsal_namespace
):
    ns = rehearsal_namespace
    inputs = {
        "discourse_valkey_metrics_enabled": True,
        "discourse_valkey_metrics_scraper_namespace": "prometheus",
    }

    first, _facts = converge_valkey(ansible, tmp_path, rehearsal_kubeconfig, ns, **inputs)

    password = password_of(ns)
    sts = kubectl_json("get", "statefulset", "valkey", "-n", ns)
    assert sts["status"]["readyReplicas"] == 1
    exporter = next(c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "metrics")
    assert exporter["image"] == "docker.io/oliver006/redis_exporter:v1.88.0"
    assert "command" not in exporter and "args" not in exporter
    assert {e["name"]: e.get("valueFrom") or e["value"] for e in exporter["env"]} == {
        "REDIS_ADDR": "redis://127.0.0.1:6379",
        "REDIS_PASSWORD": {"secretKeyRef": {"name": "valkey-password", "key": "password"}},
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": ":9121",
        "REDIS_EXPORTER_CHECK_SINGLE_KEYS": "db0=sidekiq:dead",
    }
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}]
    # The password is nowhere in the StatefulSet (nor in the output): only the Secret holds it.
    assert password not in json.dumps(sts)
    assert password not in first.stdout + first.stderr

    monitor = kubectl_json("get", "podmonitors.monitoring.coreos.com", "valkey", "-n", ns)
    selected = kubectl_json("get", "pods", "-n", ns, "-l", selector_string(monitor["spec"]["selector"]))[
        "items"
    ]
    assert [p["metadata"]["name"] for p in selected] == ["valkey-0"]
    assert container_ports(selected[0]) == {"valkey": 6379, "metrics": 9121}
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert {r["targetLabel"] for r in monitor["spec"]["podMetricsEndpoints"][0]["relabelings"]} == {
        "site",
        "component",
    }
    policy = kubectl_json("get", "networkpolicy", "valkey", "-n", ns)
    assert policy["spec"]["ingress"][1] == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prometheus"}}}],
        "ports": [{"port": 9121, "protocol": "TCP"}],
    }

    second, _facts = converge_valkey(ansible, tmp_path, rehearsal_kubeconfig, ns, **inputs)
    assert valkey_recap(second)["changed"] == 0, second.stdout


def test_the_pinned_exporter_is_the_one_the_tests_build():
    defaults = yaml.safe_load((REPO_ROOT / "roles/discourse_valkey/defaults/main.yml").read_text())
    assert defaults["discourse_valkey_metrics_image"].rsplit(":", 1)[1] == TOOLS["redis_exporter"][1]


@pytest.mark.valkey
def test_the_rendered_exporter_reads_valkey_with_the_password_from_its_environment(
    ansible, tmp_path, valkey_factory
):
    """The sidecar as rendered (its env, no arguments), run as the real redis_exporter binary against
    the role's valkey.conf in a real valkey-server; the dashboards' redis_* series are all exported."""
    objects, _text = render_valkey(ansible, tmp_path, discourse_valkey_metrics_enabled=True)
    server, _conf, _container = pod_server(objects, valkey_factory)
    containers = objects[("StatefulSet", "valkey")]["spec"]["template"]["spec"]["containers"]
    sidecar = next(c for c in containers if c["name"] == "metrics")
    assert "command" not in sidecar and "args" not in sidecar
    env = {}
    for item in sidecar["env"]:
        if "valueFrom" in item:
            assert item["valueFrom"] == {"secretKeyRef": {"name": "valkey-password", "key": "password"}}
            env[item["name"]] = PASSWORD  # what Kubernetes puts there from the Secret
        else:
            env[item["name"]] = item["value"]
    # Only what differs between the pod and this test: the ports.
    assert env.pop("REDIS_ADDR") == "redis://127.0.0.1:6379"
    assert env.pop("REDIS_EXPORTER_WEB_LISTEN_ADDRESS") == ":9121"
    port = free_port()
    env.update(
        REDIS_ADDR=f"redis://127.0.0.1:{server.port}", REDIS_EXPORTER_WEB_LISTEN_ADDRESS=f"127.0.0.1:{port}"
    )

    client = server.client(password=PASSWORD)
    client.zadd("sidekiq:dead", {"job-1": 1, "job-2": 2, "job-3": 3})
    with pytest.raises(valkey.exceptions.ResponseError):
        client.execute_command("NOSUCHCOMMAND")  # an error reply: redis_errors_total gets a series

    def scrape(environment):
        process = subprocess.Popen(
            [str(go_tool("redis_exporter"))],
            env={"PATH": "/usr/bin:/bin", **environment},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                        return response.read().decode()
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=10)

    text = scrape(env)
    assert re.search(r"^redis_up 1$", text, re.M), text[:2000]
    assert re.search(r'^redis_key_size\{db="db0",key="sidekiq:dead"\} 3$', text, re.M)
    exported = {
        re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        for line in text.splitlines()
        if line[:1].isalpha()
    }
    named = {
        name
        for path in DASHBOARDS
        for _title, expr in queries(path)
        for name in metric_names(expr)
        if name.startswith("redis_")
    }
    assert len(named) >= 10
    assert sorted(named - exported) == []
    # With another password the exporter does not get in: it really used the one from its environment.
    assert re.search(r"^redis_up 0$", scrape({**env, "REDIS_PASSWORD": "not-the-password"}), re.M)


def test_dashboard_lists_name_their_sources():
    for list_file in ("discourse_prometheus.txt", "redis_exporter.txt", "cnpg.txt", "cert_manager.txt"):
        header = (REPO_ROOT / "tests/fixtures/metrics" / list_file).read_text().split("\n\n")[0]
        assert re.search(r"^# repository: github\.com/\S+$", header, re.M), list_file
        assert re.search(r"^# commit: [0-9a-f]{40}\b", header, re.M), list_file
        assert re.search(r"^# paths?: ", header, re.M), list_file
    assert Path(REPO_ROOT / "tests/fixtures/metrics/PROVENANCE").is_file()


def test_every_dashboard_query_is_promql_that_prometheus_parses(tmp_path):
    """Each panel query, with Grafana's variables replaced by values, as a recording rule for
    `promtool check rules` (Prometheus 3.16, built from its Go module: tests/fixtures/go_tools.py)."""
    values = {"$__rate_interval": "5m", "$namespace": "forum", "$site": "forum"}

    def check(expressions):
        rules = []
        for index, expr in enumerate(expressions):
            for variable, value in values.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, expr
            rules.append({"record": f"dashboard:query_{index}", "expr": expr})
        path = tmp_path / f"rules-{len(list(tmp_path.iterdir()))}.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
        return subprocess.run(
            [str(go_tool("promtool")), "check", "rules", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )

    expressions = [expr for path in DASHBOARDS for _title, expr in queries(path)]
    result = check(expressions)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout
    # The check can fail: a query with an unbalanced parenthesis is refused.
    assert check(["sum(rate(discourse_http_requests[5m])"]).returncode != 0
