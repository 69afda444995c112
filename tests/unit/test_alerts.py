"""The PromQL matchers that pick one site's series (module_utils/alerts.py, issue 20: alerts)."""

from ansible_collections.forumops.discourse.plugins.module_utils import alerts

CNPG = {"mode": "cnpg", "cluster_name": "discourse-pg", "host": "discourse-pg-rw.discourse-forum.svc"}
VALKEY = {"host": "valkey.discourse-forum.svc", "port": "6379"}


def test_a_site_with_every_tier_in_its_namespace_gets_every_selector():
    assert alerts.site_selectors("discourse-forum", "forum", CNPG, VALKEY, "forum-tls") == {
        "app": 'namespace="discourse-forum",pod=~"forum-(web|sidekiq)-.+"',
        "web": 'namespace="discourse-forum",deployment="forum-web"',
        "database": 'namespace="discourse-forum",pod=~"discourse-pg-[0-9]+"',
        "valkey": 'namespace="discourse-forum",pod=~"valkey-[0-9]+"',
        "certificate": [
            'name="forum-tls",exported_namespace="discourse-forum"',
            'name="forum-tls",namespace="discourse-forum",exported_namespace=""',
        ],
    }


def test_external_tiers_and_no_certificate_leave_those_selectors_empty():
    selectors = alerts.site_selectors(
        "forum",
        "forum",
        {"mode": "external", "cluster_name": "", "host": "db.example.net"},
        {"host": "cache.example.net"},
    )

    assert (selectors["database"], selectors["valkey"], selectors["certificate"]) == ("", "", [])
    assert alerts.site_selectors("forum", "forum") == dict(selectors, database="", valkey="")


def test_tiers_in_another_namespace_are_selected_there():
    database = {"mode": "cnpg", "cluster_name": "pg", "host": "pg-rw.databases.svc.cluster.local"}

    selectors = alerts.site_selectors("forum", "forum", database, {"host": "cache.shared.svc"})

    assert selectors["database"] == 'namespace="databases",pod=~"pg-[0-9]+"'
    assert selectors["valkey"] == 'namespace="shared",pod=~"cache-[0-9]+"'


def test_a_cnpg_connection_without_a_service_host_falls_back_to_the_site_namespace():
    database = {"mode": "cnpg", "cluster_name": "pg", "host": ""}

    assert (
        alerts.site_selectors("forum", "forum", database)["database"] == 'namespace="forum",pod=~"pg-[0-9]+"'
    )


def test_service_host_accepts_only_service_names():
    assert alerts.service_host("valkey.forum.svc") == ("valkey", "forum")
    assert alerts.service_host("valkey.forum.svc.cluster.local") == ("valkey", "forum")
    assert alerts.service_host("valkey.forum.svc.example.net") is None
    assert alerts.service_host("a.b.c.svc") is None
    assert alerts.service_host(None) is None


def test_values_are_quoted_as_promql_strings():
    assert alerts.quote('a"b\\c') == '"a\\"b\\\\c"'
    assert alerts.matchers(("job", "!=", ""), ("x", "=~", "a|b")) == 'job!="",x=~"a|b"'


def test_alerts_need_the_prometheusrule_crd_whatever_the_database_and_say_how_to_do_without():
    from ansible_collections.forumops.discourse.plugins.module_utils import preflight

    needs = preflight.requirements({"database_mode": "external", "routing": "none", "prometheusrule": True})

    assert needs == [
        {
            "check": "api",
            "api_version": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "what": "the Prometheus operator's PrometheusRule CRD",
            "install": "prometheus-rules",
        }
    ]
    assert preflight.report("forum", needs, []) == (
        "forum: the cluster lacks what this site needs:\n"
        "  - the Prometheus operator's PrometheusRule CRD: install the Prometheus operator "
        "(kube-prometheus-stack), or set discourse_app_alerts_enabled: false"
    )
    assert preflight.requirements({"database_mode": "external", "routing": "none"}) == []


def test_alert_thresholds_are_range_checked_by_their_names():
    from ansible_collections.forumops.discourse.plugins.module_utils import inputs

    assert inputs.int_errors("discourse_app_alerts_http_5xx_percent", 0) == [
        "discourse_app_alerts_http_5xx_percent must be between 1 and 100; got 0."
    ]
    assert inputs.int_errors("discourse_app_alerts_valkey_memory_percent", 101) == [
        "discourse_app_alerts_valkey_memory_percent must be between 1 and 100; got 101."
    ]
    assert inputs.int_errors("discourse_app_alerts_sidekiq_dead_jobs_per_hour", 0) == [
        "discourse_app_alerts_sidekiq_dead_jobs_per_hour must be at least 1; got 0."
    ]
    assert inputs.int_errors("discourse_app_alerts_backup_max_age_hours", 0) == [
        "discourse_app_alerts_backup_max_age_hours must be at least 1; got 0."
    ]
    assert inputs.int_errors("discourse_app_alerts_http_5xx_percent", 5) == []
