"""What a site needs from its cluster (module_utils/preflight.py): requirements and the report."""

from ansible_collections.forumops.discourse.plugins.module_utils import preflight


def whats(site):
    return [need["what"] for need in preflight.requirements(site)]


def test_the_default_site_needs_cloudnative_pg_only():
    assert whats({}) == ["the CloudNativePG CRDs", "the CloudNativePG operator"]


def test_an_external_database_with_no_routing_needs_nothing():
    assert whats({"database_mode": "external", "routing": "none", "tls_issuer": "letsencrypt"}) == []


def test_a_full_site_needs_everything_in_report_order():
    site = {
        "database_backups": True,
        "podmonitor": True,
        "ingress_class": "nginx",
        "tls_issuer": "letsencrypt",
        "storage_classes": ["fast", "", "fast"],
    }

    assert whats(site) == [
        "the CloudNativePG CRDs",
        "the CloudNativePG operator",
        "the Barman Cloud plugin CRDs",
        "the Barman Cloud plugin",
        "the Prometheus operator CRDs",
        "IngressClass nginx",
        "the cert-manager CRDs",
        "cert-manager",
        "ClusterIssuer letsencrypt",
        "a default StorageClass",
        "StorageClass fast",
    ]


def test_checks_name_the_api_selector_or_object_they_look_for():
    site = {"database_backups": True, "tls_issuer": "ca", "tls_issuer_kind": "Issuer", "namespace": "forum"}

    needs = preflight.requirements(site)

    assert needs[1] == {
        "check": "running",
        "selector": "app.kubernetes.io/name=cloudnative-pg",
        "what": "the CloudNativePG operator",
        "install": "cnpg",
    }
    assert needs[3]["selector"] == "cnpg.io/pluginName=barman-cloud.cloudnative-pg.io"
    assert needs[-1] == {
        "check": "named",
        "api_version": "cert-manager.io/v1",
        "kind": "Issuer",
        "name": "ca",
        "namespace": "forum",
        "what": "Issuer ca in namespace forum",
        "install": "issuer",
    }


def test_a_podmonitor_needs_the_prometheus_operator_whatever_the_database_mode():
    # The app's and Valkey's metrics (discourse_app_metrics_enabled, discourse_valkey_metrics_enabled)
    # create PodMonitors with an external database too; playbooks/site.yml passes podmonitor for them.
    site = {"database_mode": "external", "routing": "none", "podmonitor": True}

    assert preflight.requirements(site) == [
        {
            "check": "api",
            "api_version": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "what": "the Prometheus operator CRDs",
            "install": "prometheus-operator",
        }
    ]
    assert preflight.report("forum", preflight.requirements(site), []) == (
        "forum: the cluster lacks what this site needs:\n"
        "  - the Prometheus operator CRDs: install the Prometheus operator (kube-prometheus-stack), or set "
        "discourse_database_podmonitor_enabled, discourse_app_metrics_enabled and "
        "discourse_valkey_metrics_enabled to false"
    )
    assert whats({"database_mode": "external", "routing": "none"}) == []


def test_gateway_routing_needs_the_gateway_api_and_ignores_the_ingress_class():
    assert whats({"database_mode": "external", "routing": "gateway", "ingress_class": "nginx"}) == [
        "the Gateway API CRDs"
    ]


def test_the_report_lists_what_is_missing_with_how_to_install_it_and_what_could_not_be_checked():
    needs = preflight.requirements({"ingress_class": "traefik"})

    text = preflight.report("forum", [needs[0], needs[2]], [(needs[1], "GET deployments: 403 forbidden")])

    assert text == (
        "forum: the cluster lacks what this site needs:\n"
        "  - the CloudNativePG CRDs: kubectl apply --server-side -f https://raw.githubusercontent.com/"
        "cloudnative-pg/cloudnative-pg/release-1.30/releases/cnpg-1.30.1.yaml, or set "
        "discourse_database_mode: external to use a PostgreSQL server you run\n"
        "  - IngressClass traefik: install an ingress controller that registers this IngressClass, "
        "or change discourse_app_ingress_class_name\n"
        "Could not check:\n"
        "  - the CloudNativePG operator: GET deployments: 403 forbidden"
    )


def test_a_report_of_unchecked_items_only_says_so():
    needs = preflight.requirements({})

    assert preflight.report("forum", [], [(needs[1], "403")]) == (
        "forum: could not check (no permission?):\n  - the CloudNativePG operator: 403"
    )


def test_an_operator_installed_but_not_ready_is_reported_with_its_status():
    """Reported (issue 22, item 12): preflight said "install it" for an operator that was installed."""
    deployment = {
        "metadata": {"namespace": "cnpg-system", "name": "cnpg-controller-manager"},
        "spec": {"replicas": 1},
        "status": {
            "replicas": 1,
            "unavailableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                 "message": "Deployment does not have minimum availability."},
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
            ],
        },
    }  # fmt: skip
    assert preflight.not_ready([deployment]) == (
        "installed, not ready: Deployment cnpg-system/cnpg-controller-manager has 0/1 available "
        "(Available=False: MinimumReplicasUnavailable Deployment does not have minimum availability.) "
        "(kubectl describe it and read its pods' logs)"
    )
    assert preflight.not_ready([]) == ""
    need = preflight.requirements({})[1]
    assert preflight.report("forum", [dict(need, not_ready="installed, not ready: X")], []) == (
        "forum: the cluster lacks what this site needs:\n"
        "  - the CloudNativePG operator: installed, not ready: X"
    )


def test_the_rehearsal_cluster_runs_the_operator_versions_the_preflight_names():
    """One place for the pins: tools/rehearsal reads preflight.py's instead of a copy of its own."""
    import importlib.machinery
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "tools" / "rehearsal" / "rehearsal"
    loader = importlib.machinery.SourceFileLoader("rehearsal_tool", str(path))
    spec = importlib.util.spec_from_loader("rehearsal_tool", loader)
    tool = importlib.util.module_from_spec(spec)
    loader.exec_module(tool)
    versions = tool.load_versions()
    assert {key: versions[key] for key in tool.PREFLIGHT_VERSIONS} == {
        "CNPG_VERSION": "v" + preflight.CNPG_VERSION,
        "BARMAN_CLOUD_VERSION": preflight.BARMAN_CLOUD_VERSION,
        "CERT_MANAGER_VERSION": preflight.CERT_MANAGER_VERSION,
        "GATEWAY_API_VERSION": preflight.GATEWAY_API_VERSION,
    }
    assert not {
        key for key in tool.PREFLIGHT_VERSIONS if key + "=" in (path.parent / "versions.env").read_text()
    }
