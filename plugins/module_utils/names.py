# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names derived from a site's inventory name, defined once for every role and playbook."""

from __future__ import annotations

import re

# A DNS label (a namespace, most object names): at most 63 characters.
DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A host name a site serves: DNS labels joined by dots, at most 253 characters.
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)


def resource_name(site):
    """The DNS-label-safe base of a site's Kubernetes object names: lower case, each run of other
    characters one '-', no '-' at either end (forum_A.example -> forum-a-example)."""
    return re.sub(r"[^a-z0-9-]+", "-", str(site).lower()).strip("-")


def service_in_namespace(host, namespace):
    """The Service name (the first label) of a host name in ``namespace`` (``<svc>.<ns>.svc`` or
    ``<svc>.<ns>.svc.cluster.local``), or None for a host elsewhere."""
    host = str(host or "")
    if host.endswith((f".{namespace}.svc", f".{namespace}.svc.cluster.local")):
        return host.split(".", maxsplit=1)[0]
    return None


def peer_pod_labels(host, namespace, kind, site=""):
    """The labels of the pods behind a database or Valkey host in the site's namespace, which the
    app's egress NetworkPolicy admits; {} for a host outside it. A CloudNativePG Service is
    ``<cluster>-rw``/``-ro``/``-r`` and its pods carry ``cnpg.io/cluster``; the Valkey role's pods
    carry its name and instance labels."""
    service = service_in_namespace(host, namespace)
    if service is None:
        return {}
    if kind == "database":
        return {"cnpg.io/cluster": re.sub(r"-(rw|ro|r)$", "", service)}
    return {"app.kubernetes.io/name": "valkey", "app.kubernetes.io/instance": site}
