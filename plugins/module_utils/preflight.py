# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a site needs from its cluster, and how to tell what is missing.

`requirements()` and `report()` are pure; `check()` asks the API server (through a kube_client.KubeClient)
with a handful of cheap requests: discovery of an API group, a label-selected list, a GET by name.
"""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import kube

# The operator versions a site is tested with and the preflight tells users to install; the
# rehearsal cluster (tools/rehearsal) reads them from here too.
CNPG_VERSION = "1.30.1"
BARMAN_CLOUD_VERSION = "v0.15.0"
CERT_MANAGER_VERSION = "v1.21.2"
GATEWAY_API_VERSION = "v1.6.3"

INSTALL = {
    "cnpg": (
        "kubectl apply --server-side -f https://raw.githubusercontent.com/cloudnative-pg/cloudnative-pg/"
        f"release-{CNPG_VERSION.rsplit('.', 1)[0]}/releases/cnpg-{CNPG_VERSION}.yaml, "
        "or set discourse_database_mode: external to use a PostgreSQL server you run"
    ),
    "barman-cloud": (
        "kubectl apply -f https://github.com/cloudnative-pg/plugin-barman-cloud/releases/download/"
        f"{BARMAN_CLOUD_VERSION}/manifest.yaml (needs cert-manager)"
    ),
    "cert-manager": (
        f"kubectl apply -f https://github.com/cert-manager/cert-manager/releases/download/{CERT_MANAGER_VERSION}/"
        "cert-manager.yaml"
    ),
    "gateway-api": (
        f"kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/"
        "standard-install.yaml, plus a Gateway implementation"
    ),
    "prometheus-operator": (
        "install the Prometheus operator (kube-prometheus-stack), or set "
        "discourse_database_podmonitor_enabled, discourse_app_metrics_enabled and "
        "discourse_valkey_metrics_enabled to false"
    ),
    "prometheus-rules": (
        "install the Prometheus operator (kube-prometheus-stack), or set discourse_app_alerts_enabled: false"
    ),
    "ingress": (
        "install an ingress controller that registers this IngressClass, "
        "or change discourse_app_ingress_class_name"
    ),
    "issuer": "create the cert-manager issuer (an ACME ClusterIssuer), or change discourse_app_tls_issuer",
    "storage-class": (
        "create the StorageClass, or mark one as the default "
        '(annotation storageclass.kubernetes.io/is-default-class: "true")'
    ),
}


def requirements(site):
    """The checks a site's settings call for, in report order.

    `site` keys (all optional): database_mode (cnpg|external), database_backups, database_pooler,
    podmonitor, prometheusrule (the site's alerts), routing (ingress|gateway|none), ingress_class,
    tls_issuer, tls_issuer_kind (ClusterIssuer|Issuer), namespace, storage_classes (names; "" means
    the default class).
    """
    needs = []
    if site.get("database_mode", "cnpg") == "cnpg":
        needs.append(_api("postgresql.cnpg.io/v1", "Cluster", "the CloudNativePG CRDs", "cnpg"))
        needs.append(_running("app.kubernetes.io/name=cloudnative-pg", "the CloudNativePG operator", "cnpg"))
        if site.get("database_backups"):
            needs.append(
                _api("barmancloud.cnpg.io/v1", "ObjectStore", "the Barman Cloud plugin CRDs", "barman-cloud")
            )
            needs.append(
                _found(
                    "v1",
                    "Service",
                    "cnpg.io/pluginName=barman-cloud.cloudnative-pg.io",
                    "the Barman Cloud plugin",
                    "barman-cloud",
                )
            )
    # PodMonitors: the database's (CloudNativePG only), the app's and Valkey's metrics (any mode).
    if site.get("podmonitor"):
        needs.append(
            _api(
                "monitoring.coreos.com/v1",
                "PodMonitor",
                "the Prometheus operator CRDs",
                "prometheus-operator",
            )
        )
    if site.get("prometheusrule"):
        needs.append(
            _api(
                "monitoring.coreos.com/v1",
                "PrometheusRule",
                "the Prometheus operator's PrometheusRule CRD",
                "prometheus-rules",
            )
        )
    routing = site.get("routing", "ingress")
    if routing == "gateway":
        needs.append(_api("gateway.networking.k8s.io/v1", "HTTPRoute", "the Gateway API CRDs", "gateway-api"))
    if routing == "ingress" and site.get("ingress_class"):
        needs.append(
            _named(
                "networking.k8s.io/v1",
                "IngressClass",
                site["ingress_class"],
                None,
                f"IngressClass {site['ingress_class']}",
                "ingress",
            )
        )
    if routing != "none" and site.get("tls_issuer"):
        kind = site.get("tls_issuer_kind") or "ClusterIssuer"
        namespace = site.get("namespace") if kind == "Issuer" else None
        needs.append(_api("cert-manager.io/v1", "Certificate", "the cert-manager CRDs", "cert-manager"))
        needs.append(
            _running(
                "app.kubernetes.io/name=cert-manager,app.kubernetes.io/component=controller",
                "cert-manager",
                "cert-manager",
            )
        )
        where = f" in namespace {namespace}" if namespace else ""
        needs.append(
            _named(
                "cert-manager.io/v1",
                kind,
                site["tls_issuer"],
                namespace,
                f"{kind} {site['tls_issuer']}{where}",
                "issuer",
            )
        )
    for name in sorted(set(site.get("storage_classes") or [])):
        if name:
            needs.append(
                _named(
                    "storage.k8s.io/v1", "StorageClass", name, None, f"StorageClass {name}", "storage-class"
                )
            )
        else:
            needs.append(
                {
                    "check": "default_storage_class",
                    "what": "a default StorageClass",
                    "install": "storage-class",
                }
            )
    return needs


def _api(api_version, kind, what, install):
    return {"check": "api", "api_version": api_version, "kind": kind, "what": what, "install": install}


def _running(selector, what, install):
    """A Deployment with these labels has an available replica somewhere in the cluster."""
    return {"check": "running", "selector": selector, "what": what, "install": install}


def _found(api_version, kind, selector, what, install):
    return {
        "check": "found",
        "api_version": api_version,
        "kind": kind,
        "selector": selector,
        "what": what,
        "install": install,
    }


def _named(api_version, kind, name, namespace, what, install):
    return {
        "check": "named",
        "api_version": api_version,
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "what": what,
        "install": install,
    }


def report(site_name, missing, unknown):
    """The failure message: what is missing and how to install it; checks that could not run."""
    lines = [f"{site_name}: the cluster lacks what this site needs:"] if missing else []
    lines += [f"  - {need['what']}: {need.get('not_ready') or INSTALL[need['install']]}" for need in missing]
    if unknown:
        lines.append(f"{site_name}: could not check (no permission?):" if not missing else "Could not check:")
        lines += [f"  - {need['what']}: {reason}" for need, reason in unknown]
    return "\n".join(lines)


def check(client, needs):
    """Evaluate each requirement. Returns (missing, unknown): unknown pairs a need with the reason
    (a 403 from a user without cluster-wide read access is not a missing operator)."""
    missing, unknown = [], []
    for need in needs:
        try:
            present = _present(client, need)
        except kube.KubeError as exc:
            if exc.status in (401, 403):
                unknown.append((need, str(exc)))
                continue
            raise
        if present is not True:
            missing.append(dict(need, not_ready=present) if present else need)
    return missing, unknown


def not_ready(deployments):
    """'' when there is no such Deployment, else what each one reports ("installed, not ready: ...")."""
    states = []
    for item in deployments:
        meta, status = item.get("metadata") or {}, item.get("status") or {}
        wanted = (item.get("spec") or {}).get("replicas", 1)
        available = status.get("availableReplicas", 0)
        state = f"Deployment {meta.get('namespace')}/{meta.get('name')} has {available}/{wanted} available"
        problems = [
            f"{c.get('type')}={c.get('status')}: {c.get('reason', '')} {c.get('message', '')}".strip()
            for c in status.get("conditions") or []
            if c.get("status") != "True" or c.get("type") == "ReplicaFailure"
        ]
        states.append(state + (f" ({'; '.join(problems)})" if problems else ""))
    if not states:
        return ""
    return "installed, not ready: " + "; ".join(states) + " (kubectl describe it and read its pods' logs)"


def _present(client, need):
    """True, False, or for a Deployment that exists but is not available, what it reports."""
    check_kind = need["check"]
    if check_kind == "api":
        try:
            client.resource(need["api_version"], need["kind"])
        except kube.KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True
    if check_kind == "running":
        items = client.list("apps/v1", "Deployment", None, need["selector"])
        if any((item.get("status") or {}).get("availableReplicas", 0) >= 1 for item in items):
            return True
        return not_ready(items)
    if check_kind == "found":
        return bool(client.list(need["api_version"], need["kind"], None, need["selector"]))
    if check_kind == "named":
        obj = {"apiVersion": need["api_version"], "kind": need["kind"], "metadata": {"name": need["name"]}}
        try:
            return client.get(obj, need.get("namespace")) is not None
        except kube.KubeError as exc:
            if exc.status == 404:  # the kind itself is not served
                return False
            raise
    if check_kind == "default_storage_class":
        classes = client.list("storage.k8s.io/v1", "StorageClass")
        return any(
            ((item.get("metadata") or {}).get("annotations") or {}).get(
                "storageclass.kubernetes.io/is-default-class"
            )
            == "true"
            for item in classes
        )
    raise ValueError(f"unknown check {check_kind}")


SPEC = dict(
    kube.CONNECTION_SPEC,
    site={"type": "str", "required": True},
    namespace={"type": "str"},
    database_mode={"type": "str", "default": "cnpg", "choices": ["cnpg", "external"]},
    database_backups={"type": "bool", "default": False},
    database_pooler={"type": "bool", "default": False},
    podmonitor={"type": "bool", "default": False},
    prometheusrule={"type": "bool", "default": False},
    routing={"type": "str", "default": "ingress", "choices": ["ingress", "gateway", "none"]},
    ingress_class={"type": "str", "default": ""},
    tls_issuer={"type": "str", "default": ""},
    tls_issuer_kind={"type": "str", "default": "ClusterIssuer", "choices": ["ClusterIssuer", "Issuer"]},
    storage_classes={"type": "list", "elements": "str", "default": []},
)


def run(client, params):
    """The whole task: the server version, what was checked, and a failure listing what is missing."""
    version = client.request("GET", "/version").get("gitVersion", "")
    needs = requirements(params)
    missing, unknown = check(client, needs)
    result = {
        "changed": False,
        "server_version": version,
        "checked": [need["what"] for need in needs],
        "missing": [need["what"] for need in missing],
        "unknown": [pair[0]["what"] for pair in unknown],
    }
    if missing:
        result.update(failed=True, msg=report(params["site"], missing, unknown))
    elif unknown:
        result["warnings"] = [report(params["site"], [], unknown)]
    return result
