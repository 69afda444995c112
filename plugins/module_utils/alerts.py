# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PromQL label matchers that pick one site's series out of a shared Prometheus.

Pure: the site's names and the other tiers' published connections in, matcher text out. The
templates/monitoring/prometheusrule.yaml.j2 of discourse_app puts them inside ``metric{...}``.
"""

from __future__ import annotations

import re

# <service>.<namespace>.svc, optionally with the cluster domain.
_SERVICE_HOST = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$"
)


def quote(value):
    """A PromQL string literal (double quotes; backslash and double quote escaped)."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def matchers(*pairs):
    """``(label, op, value)`` triples as PromQL matchers: ``namespace="forum",pod=~"web-.+"``."""
    return ",".join(f"{label}{op}{quote(value)}" for label, op, value in pairs)


def service_host(host):
    """``(service, namespace)`` of an in-cluster Service host name, or None for any other host."""
    match = _SERVICE_HOST.match(str(host or ""))
    return (match.group(1), match.group(3)) if match else None


def site_selectors(namespace, app_name, database=None, valkey=None, certificate=""):
    """Matchers per source of a site's series; empty where the site has no such source.

    - ``app``: the discourse-prometheus metrics of the site's web and Sidekiq pods
      (``<app>-web-…``, ``<app>-sidekiq-…``);
    - ``web``: kube-state-metrics of the web Deployment (``deployment="<app>-web"``);
    - ``database``: the CloudNativePG instances (``<cluster>-<n>``) when the database connection is
      ``cnpg``, in the namespace of its ``-rw`` Service;
    - ``valkey``: the Valkey StatefulSet's pods (``<service>-<n>``, the discourse_valkey role names
      the StatefulSet like its Service) when the Valkey host is an in-cluster Service;
    - ``certificate``: two alternatives (join them with ``or``) for cert-manager's metrics of the
      Certificate named ``certificate`` in the site's namespace. The metrics carry the Certificate's
      namespace in ``namespace``; scraped without honorLabels (cert-manager's chart default), that
      label becomes ``exported_namespace`` and ``namespace`` is cert-manager's own.
    """
    database = database or {}
    valkey = valkey or {}
    result = {
        "app": matchers(("namespace", "=", namespace), ("pod", "=~", f"{app_name}-(web|sidekiq)-.+")),
        "web": matchers(("namespace", "=", namespace), ("deployment", "=", f"{app_name}-web")),
        "database": "",
        "valkey": "",
        "certificate": [],
    }
    cluster = database.get("cluster_name") or ""
    if database.get("mode") == "cnpg" and cluster:
        where = service_host(database.get("host"))
        result["database"] = matchers(
            ("namespace", "=", where[1] if where else namespace), ("pod", "=~", f"{cluster}-[0-9]+")
        )
    where = service_host(valkey.get("host"))
    if where:
        result["valkey"] = matchers(("namespace", "=", where[1]), ("pod", "=~", f"{where[0]}-[0-9]+"))
    if certificate:
        result["certificate"] = [
            matchers(("name", "=", certificate), ("exported_namespace", "=", namespace)),
            matchers(
                ("name", "=", certificate), ("namespace", "=", namespace), ("exported_namespace", "=", "")
            ),
        ]
    return result
