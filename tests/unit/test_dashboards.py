"""The Grafana dashboards of discourse_app (roles/discourse_app/files/dashboards) and their site copies.

Every panel query may name only metrics that an exporter really exports: the lists in
tests/fixtures/metrics/ (one per exporter, each citing the upstream repository, path and commit it was
read from; see PROVENANCE there), plus Prometheus's own `up` of every scrape target
(prometheus/prometheus docs/concepts/jobs_instances.md, "Automatically generated labels and time
series"). Every query selects the site: `namespace="$namespace"`, and `site="$site"` for the series
the site's PodMonitors scrape (discourse_app's and discourse_valkey's relabel
app.kubernetes.io/instance to `site`). module_utils/metrics.py fills both variables per site.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "roles/discourse_app/files/dashboards").glob("*.json"))
LISTS = ROOT / "tests/fixtures/metrics"
# The lists the dashboards may read, by metric-name prefix (the site's own scrapes carry `site`).
EXPORTERS = {
    "discourse_prometheus.txt": ("discourse_", True),
    "redis_exporter.txt": ("redis_", True),
    "cnpg.txt": ("cnpg_", False),
    "cert_manager.txt": ("certmanager_", False),
}
PROMETHEUS_SERIES = {"up"}
# PromQL words that are not metric names (operators, modifiers; functions are followed by "(").
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr):
    """The metric names a PromQL expression selects, in order of appearance, without repeats."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = GROUPING.sub(" ", text)  # label lists of aggregations and vector matching
    names = []
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name in KEYWORDS or re.fullmatch(r"[0-9.eE+-]+", name) or name in names:
            continue
        names.append(name)
    return names


def known_series(list_file):
    """The series names a list's metrics are scraped as (a histogram adds _bucket, _sum, _count; a
    summary _sum and _count)."""
    series = set()
    for line in (LISTS / list_file).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, kind = line.split()[:2]
        series.add(name)
        if kind == "histogram":
            series |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        if kind == "summary":
            series |= {f"{name}_sum", f"{name}_count"}
    return series


def queries(path):
    dashboard = json.loads(path.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_metric_names_leave_out_functions_labels_ranges_groupings_and_numbers():
    expr = (
        "histogram_quantile(0.95, sum by (le) (rate(discourse_http_requests_queue_duration_seconds_bucket"
        '{namespace="$namespace", site="$site"}[$__rate_interval]))) / on (pod) group_left(node) '
        'max(kube_pod_info{job="a b", pod=~"x-[0-9]+"}) > bool 1e3 or time() - up offset 5m'
    )

    assert metric_names(expr) == [
        "discourse_http_requests_queue_duration_seconds_bucket",
        "kube_pod_info",
        "up",
    ]
    assert metric_names("sum(rate(a_total[5m])) / sum(rate(a_total[5m]))") == ["a_total"]
    assert metric_names('count_values("v", b)') == ["b"]


def test_every_dashboard_query_names_only_metrics_the_exporters_export():
    allowed = set(PROMETHEUS_SERIES)
    for list_file in EXPORTERS:
        allowed |= known_series(list_file)
    unknown = [
        (path.name, title, name)
        for path in DASHBOARDS
        for title, expr in queries(path)
        for name in metric_names(expr)
        if name not in allowed
    ]

    assert [path.name for path in DASHBOARDS] == ["discourse-data-stores.json", "discourse.json"]
    assert unknown == []


def test_the_lists_hold_what_a_known_typo_is_not():
    # The check can fail: a name one letter off is in no list.
    allowed = set().union(*(known_series(list_file) for list_file in EXPORTERS))
    assert "discourse_http_requests" in allowed
    assert "discourse_http_request" not in allowed
    assert "discourse_http_requests_duration_seconds_bucket" in allowed  # a histogram
    assert "discourse_http_duration_seconds_bucket" not in allowed  # a summary has no buckets


def test_every_query_selects_only_the_site():
    checked = 0
    for path in DASHBOARDS:
        for title, expr in queries(path):
            for name in metric_names(expr):
                site_scraped = name in PROMETHEUS_SERIES or any(
                    name.startswith(prefix) and own for prefix, own in EXPORTERS.values()
                )
                # Every occurrence of the name carries matchers (a bare name would read every site's).
                occurrences = re.findall(rf"(?<![\w:]){name}(\{{[^}}]*\}})?", expr)
                for matchers in occurrences:
                    assert re.search(r'(^\{|[ ,])(exported_)?namespace="\$namespace"', matchers), (
                        title,
                        name,
                    )
                    assert not site_scraped or 'site="$site"' in matchers, (path.name, title, name)
                    checked += 1
    assert checked > 50


def test_every_panel_reads_the_datasource_variable_and_ids_are_unique():
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
                assert panel["targets"], panel["title"]
        names = [variable["name"] for variable in dashboard["templating"]["list"]]
        assert names == ["datasource", "namespace", "site"], path.name


def test_site_dashboard_sets_uid_title_and_the_site_variables():
    dashboard = json.loads((ROOT / "roles/discourse_app/files/dashboards/discourse.json").read_text())

    copy = metrics.site_dashboard(dashboard, "forum-ns", "forum", "discourse")

    assert copy["uid"] == "forumops-" + metrics.hashlib.sha256(b"forum-ns/forum/discourse").hexdigest()[:24]
    assert len(copy["uid"]) == 33
    assert copy["title"] == "Discourse / forum (forum-ns)"
    assert copy["id"] is None
    variables = {v["name"]: v for v in copy["templating"]["list"]}
    assert variables["namespace"]["query"] == "forum-ns"
    assert variables["namespace"]["current"] == {"selected": True, "text": "forum-ns", "value": "forum-ns"}
    assert variables["namespace"]["options"] == [{"selected": True, "text": "forum-ns", "value": "forum-ns"}]
    assert variables["site"]["query"] == "forum"
    assert variables["site"]["hide"] == 2
    assert copy["panels"] == dashboard["panels"]
    # The input is left as it was.
    assert dashboard["title"] == "Discourse"
    assert {v["name"]: v["query"] for v in dashboard["templating"]["list"]}["namespace"] == "forum"


def test_site_dashboard_uids_differ_per_site_and_dashboard_and_repeat_per_run():
    assert metrics.dashboard_uid("a", "forum", "discourse") == metrics.dashboard_uid(
        "a", "forum", "discourse"
    )
    uids = {
        metrics.dashboard_uid(ns, site, name)
        for ns in ("a", "b")
        for site in ("forum", "shop")
        for name in ("discourse", "discourse-data-stores")
    }
    assert len(uids) == 8


def test_site_dashboard_refuses_a_dashboard_without_the_site_variables():
    with pytest.raises(ValueError, match=r"^dashboard custom: no constant variable site \(its queries"):
        metrics.site_dashboard(
            {"title": "x", "templating": {"list": [{"name": "namespace", "type": "constant"}]}},
            "ns",
            "forum",
            "custom",
        )
    with pytest.raises(ValueError, match="no constant variable namespace, site"):
        metrics.site_dashboard(
            {"title": "x", "templating": {"list": [{"name": "site", "type": "custom"}]}},
            "ns",
            "forum",
            "custom",
        )
    with pytest.raises(ValueError, match=r"^dashboard y: not a Grafana dashboard model \(no title\)$"):
        metrics.site_dashboard({"panels": []}, "ns", "forum", "y")


def test_prometheus_plugin_is_found_by_its_repository_name():
    official = {
        "name": "discourse-prometheus",
        "url": "https://github.com/discourse/discourse-prometheus.git",
    }
    fork = {"name": "metrics", "url": "https://git.example.com/ops/discourse-prometheus/"}
    other = {"name": "discourse-solved", "url": "https://github.com/discourse/discourse-solved.git"}

    assert metrics.prometheus_plugin([other, official]) == official
    assert metrics.prometheus_plugin([other]) is None
    assert metrics.prometheus_plugin(None) is None
    assert metrics.prometheus_plugin_dir([other, fork]) == "metrics"
    assert metrics.prometheus_plugin_dir([{"url": "https://github.com/discourse/discourse-prometheus"}]) == (
        "discourse-prometheus"
    )
    assert metrics.prometheus_plugin_dir([]) == "discourse-prometheus"


def test_a_sidekiq_pod_starts_the_plugins_collector_in_a_restarting_loop():
    """github.com/discourse/discourse-prometheus 8850b2ee1acb69266f8697c3741f34cca80cad61
    lib/collector_demon.rb execs bin/collector <port> <bind> <parent pid> <pid file> with
    PROMETHEUS_EXPORTER_VERSION set; a Sidekiq pod does the same (no parent to watch: 0)."""
    assert metrics.sidekiq_collector("prometheus") == (
        "{ while :; do spec=$(ls plugins/prometheus/gems/*/specifications/prometheus_exporter-*.gemspec "
        '2>/dev/null | tail -n 1); if [ -n "$spec" ]; then version=${spec##*/prometheus_exporter-}; '
        "HOME=/home/discourse USER=discourse PROMETHEUS_EXPORTER_VERSION=${version%.gemspec} "
        "chpst -u discourse:www-data bundle exec ruby plugins/prometheus/bin/collector "
        '"$DISCOURSE_PROMETHEUS_COLLECTOR_PORT" "$DISCOURSE_PROMETHEUS_WEBSERVER_BIND" 0 /dev/null; '
        "fi; sleep 5; done & } && "
    )
