# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least-privilege RBAC of a deploying identity, derived from the requests our client makes.

With FORUMOPS_KUBE_RECORD=<file> set, KubeClient appends one JSON line per API request (method,
path, query). ``request_attributes`` turns a request into the attributes the API server authorizes
(k8s.io/apiserver v0.36.1 pkg/endpoints/request/requestinfo.go: verb from the method, get vs list by a name
in the path, watch=true, resources and subresources by position); ``rules`` folds them into
Role and ClusterRole rules. RULES is what a converge, an upgrade and a backup of the example site
call (tests/integration/test_rbac.py checks that it still is, and that it is enough and minimal);
``deployer_objects`` renders it for one site namespace and one subject.
"""

from __future__ import annotations

import json
import os
import urllib.parse

RECORD_ENV = "FORUMOPS_KUBE_RECORD"
NAME = "forumops-discourse-deployer"


def rule(group, resource, verbs):
    return {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs)}


# What a recorded first converge, no-op converge, upgrade and backup of the example site call:
# tests/integration/test_rbac.py records them and, when they differ, prints what to put here.
RULES = {
    "cluster": [
        rule("", "services", ["list"]),
        rule("apiextensions.k8s.io", "customresourcedefinitions", ["get"]),
        rule("apps", "deployments", ["list"]),
        rule("cert-manager.io", "clusterissuers", ["get"]),
        rule("networking.k8s.io", "ingressclasses", ["get"]),
        rule("storage.k8s.io", "storageclasses", ["list"]),
    ],
    "namespace": [
        rule("", "namespaces", ["get", "patch"]),
    ],
    "namespaced": [
        rule("", "configmaps", ["create", "get", "patch"]),
        rule("", "pods", ["list"]),
        rule("", "secrets", ["create", "get", "list", "patch"]),
        rule("", "services", ["create", "get", "patch"]),
        rule("apps", "deployments", ["create", "get", "list", "patch"]),
        rule("apps", "statefulsets", ["create", "get", "patch"]),
        rule("barmancloud.cnpg.io", "objectstores", ["create", "get", "patch"]),
        rule("batch", "jobs", ["create", "get"]),
        rule("monitoring.coreos.com", "prometheusrules", ["create", "get", "patch"]),
        rule("networking.k8s.io", "ingresses", ["create", "get", "patch"]),
        rule("networking.k8s.io", "networkpolicies", ["create", "get", "patch"]),
        rule("policy", "poddisruptionbudgets", ["create", "get", "patch"]),
        rule("postgresql.cnpg.io", "backups", ["create", "get", "list", "patch"]),
        rule("postgresql.cnpg.io", "clusters", ["create", "get", "patch"]),
        rule("postgresql.cnpg.io", "databases", ["create", "get", "patch"]),
        rule("postgresql.cnpg.io", "scheduledbackups", ["create", "get", "patch"]),
    ],
}


def record(method, path, query, status):
    """Append one request and its response status to $FORUMOPS_KUBE_RECORD (when set)."""
    target = os.environ.get(RECORD_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            entry = {"method": method, "path": path, "query": query, "status": status}
            handle.write(json.dumps(entry) + "\n")


def request_attributes(method, path, query="", status=None):
    """{verbs, group, resource, subresource, namespace, name} of a resource request; None otherwise.

    A server-side apply that created its object (201) was authorized as patch and as create
    (k8s.io/apiserver pkg/endpoints/handlers/patch.go: an apply to a missing object is a create).
    """
    parts = [urllib.parse.unquote(p) for p in path.split("?")[0].strip("/").split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None  # /version, /api, /apis, /apis/<group>/<version>: discovery, not resources
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource, name, subresource = rest[0], (rest[1:2] or [""])[0], (rest[2:3] or [""])[0]
    if resource == "namespaces" and name:
        namespace = name
    params = urllib.parse.parse_qs(query)
    if method == "GET":
        verb = "get" if name else ("watch" if params.get("watch") == ["true"] else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method)
        if method == "DELETE":
            verb = "delete" if name else "deletecollection"
    verbs = [verb]
    if method == "PATCH" and status == 201:
        verbs.append("create")
    if subresource == "exec":
        # create on pods/exec, also over a WebSocket GET (AuthorizePodWebsocketUpgradeCreatePermission)
        verbs = ["create"]
    return {
        "verbs": verbs,
        "group": group,
        "resource": resource,
        "subresource": subresource,
        "namespace": namespace,
        "name": name,
    }


def rules(records, site_namespace):
    """{cluster, namespace, namespaced}: rules for cluster-scoped kinds, for the site's Namespace
    object itself, and for kinds inside the site's namespace. Requests into other namespaces are
    refused here: a site's converge must stay in its namespace."""
    folded = {"cluster": {}, "namespace": {}, "namespaced": {}}
    for entry in records:
        attributes = request_attributes(entry["method"], entry["path"], entry["query"], entry["status"])
        if attributes is None:
            continue
        resource = attributes["resource"]
        if attributes["subresource"]:
            resource += "/" + attributes["subresource"]
        if attributes["resource"] == "namespaces":
            if attributes["name"] not in ("", site_namespace):
                raise ValueError(f"a request reached namespace {attributes['name']}: {entry['path']}")
            scope = "namespace"
        elif attributes["namespace"]:
            if attributes["namespace"] != site_namespace:
                raise ValueError(f"a request left the site's namespace: {entry['path']}")
            scope = "namespaced"
        else:
            scope = "cluster"
        key = (attributes["group"], resource)
        folded[scope].setdefault(key, set()).update(attributes["verbs"])
    return {
        scope: [rule(group, resource, verbs) for (group, resource), verbs in sorted(found.items())]
        for scope, found in folded.items()
    }


def deployer_objects(namespace, subject, rules_by_scope=None):
    """ClusterRoles, Role and bindings that give ``subject`` exactly RULES for one site namespace.

    subject: {kind: ServiceAccount|User|Group, name, namespace (ServiceAccount only)}.
    """
    found = rules_by_scope or RULES
    subject = dict(subject)
    if subject.get("kind") == "ServiceAccount":
        subject.setdefault("namespace", namespace)
    else:
        subject["apiGroup"] = "rbac.authorization.k8s.io"  # User and Group subjects need it
    labels = {"app.kubernetes.io/managed-by": "forumops.discourse", "app.kubernetes.io/part-of": "discourse"}
    site_name = f"{NAME}-{namespace}"
    namespace_rules = [dict(entry, resourceNames=[namespace]) for entry in found["namespace"]]

    group = "rbac.authorization.k8s.io"

    def rbac_object(kind, name, in_namespace=None, **body):
        meta = {"name": name, "labels": labels}
        if in_namespace:
            meta["namespace"] = in_namespace
        return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": meta, **body}

    def role(kind, name, granted, in_namespace=None):
        return rbac_object(kind, name, in_namespace, rules=granted)

    def binding(kind, name, role_kind, role_name, in_namespace=None):
        ref = {"apiGroup": group, "kind": role_kind, "name": role_name}
        return rbac_object(kind, name, in_namespace, roleRef=ref, subjects=[subject])

    return [
        role("ClusterRole", NAME, found["cluster"]),
        binding("ClusterRoleBinding", site_name, "ClusterRole", NAME),
        role("ClusterRole", site_name, namespace_rules),
        binding("ClusterRoleBinding", f"{site_name}-namespace", "ClusterRole", site_name),
        role("Role", NAME, found["namespaced"], namespace),
        binding("RoleBinding", NAME, "Role", NAME, namespace),
    ]
