"""module_utils/rbac: requests to authorization attributes, rules, the deployer's objects.

Upstream: kubernetes/apiserver v0.36.1 pkg/endpoints/request/requestinfo.go (verb from the method:
GET of a name is get, of a collection list (watch=true: watch), POST create, PUT update, PATCH patch,
DELETE delete or deletecollection; /api/v1/namespaces/<ns> is the Namespace itself; the part after
the name is the subresource); pkg/endpoints/handlers/patch.go (an apply to a missing object is also
a create: createAuthorizerAttributes with Verb "create"); kubernetes/kubernetes v1.36.3
pkg/features/kube_features.go and pkg/registry/core/pod/rest/subresources.go
(AuthorizePodWebsocketUpgradeCreatePermission, on by default since 1.35: exec over a WebSocket GET
is authorized as create on pods/exec). All read from the Go module proxy's zips of those versions.
"""

import json

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import rbac


def attrs(method, path, query="", status=200):
    return rbac.request_attributes(method, path, query, status)


def test_requests_become_the_attributes_the_api_server_authorizes():
    assert attrs("GET", "/apis/apps/v1/namespaces/forum/deployments/forum-web") == {
        "verbs": ["get"], "group": "apps", "resource": "deployments", "subresource": "",
        "namespace": "forum", "name": "forum-web",
    }  # fmt: skip
    assert attrs("GET", "/api/v1/namespaces/forum/pods", "labelSelector=a%3Db")["verbs"] == ["list"]
    assert attrs("GET", "/api/v1/pods", "watch=true")["verbs"] == ["watch"]
    assert attrs("GET", "/apis/storage.k8s.io/v1/storageclasses") == {
        "verbs": ["list"], "group": "storage.k8s.io", "resource": "storageclasses", "subresource": "",
        "namespace": "", "name": "",
    }  # fmt: skip
    assert attrs("POST", "/api/v1/namespaces/forum/secrets", status=201)["verbs"] == ["create"]
    assert attrs("PATCH", "/api/v1/namespaces/forum/configmaps/env")["verbs"] == ["patch"]
    assert attrs("PATCH", "/api/v1/namespaces/forum/configmaps/env", status=201)["verbs"] == [
        "patch",
        "create",
    ]
    assert attrs("PUT", "/api/v1/namespaces/forum/configmaps/env")["verbs"] == ["update"]
    assert attrs("DELETE", "/apis/batch/v1/namespaces/forum/jobs/j")["verbs"] == ["delete"]
    assert attrs("DELETE", "/apis/batch/v1/namespaces/forum/jobs")["verbs"] == ["deletecollection"]
    namespace = attrs("PATCH", "/api/v1/namespaces/forum")
    assert (namespace["resource"], namespace["name"], namespace["namespace"]) == (
        "namespaces",
        "forum",
        "forum",
    )
    status = attrs("PATCH", "/apis/postgresql.cnpg.io/v1/namespaces/forum/backups/b/status")
    assert (status["resource"], status["subresource"]) == ("backups", "status")
    exec_stream = attrs("GET", "/api/v1/namespaces/forum/pods/web-0/exec", "command=true", status=101)
    assert (exec_stream["verbs"], exec_stream["subresource"]) == (["create"], "exec")


def test_discovery_and_version_are_not_resources():
    for path in ("/version", "/api", "/api/v1", "/apis", "/apis/apps/v1"):
        assert attrs("GET", path) is None, path


def test_rules_fold_verbs_per_kind_and_scope():
    records = [
        {"method": "GET", "path": "/apis/storage.k8s.io/v1/storageclasses", "query": "", "status": 200},
        {"method": "GET", "path": "/api/v1/namespaces/forum", "query": "", "status": 200},
        {"method": "PATCH", "path": "/api/v1/namespaces/forum", "query": "", "status": 200},
        {"method": "GET", "path": "/api/v1/namespaces/forum/secrets/s", "query": "", "status": 404},
        {"method": "POST", "path": "/api/v1/namespaces/forum/secrets", "query": "", "status": 201},
        {"method": "GET", "path": "/api/v1/namespaces/forum/pods/web/exec", "query": "", "status": 101},
        {"method": "GET", "path": "/apis", "query": "", "status": 200},
    ]
    assert rbac.rules(records, "forum") == {
        "cluster": [{"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["list"]}],
        "namespace": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]}],
        "namespaced": [
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get"]},
        ],
    }


def test_a_request_outside_the_site_namespace_is_refused():
    other = [{"method": "GET", "path": "/api/v1/namespaces/other/secrets/s", "query": "", "status": 200}]
    with pytest.raises(ValueError, match="left the site's namespace"):
        rbac.rules(other, "forum")
    with pytest.raises(ValueError, match="reached namespace other"):
        rbac.rules([dict(other[0], path="/api/v1/namespaces/other")], "forum")


def test_record_appends_json_lines_only_when_asked(tmp_path, monkeypatch):
    target = tmp_path / "requests.jsonl"
    monkeypatch.delenv(rbac.RECORD_ENV, raising=False)
    rbac.record("GET", "/api", "", 200)
    assert not target.exists()
    monkeypatch.setenv(rbac.RECORD_ENV, str(target))
    rbac.record("PATCH", "/api/v1/namespaces/forum", "fieldManager=x", 200)
    rbac.record("GET", "/version", "", 200)
    assert [json.loads(line) for line in target.read_text().splitlines()] == [
        {"method": "PATCH", "path": "/api/v1/namespaces/forum", "query": "fieldManager=x", "status": 200},
        {"method": "GET", "path": "/version", "query": "", "status": 200},
    ]


def test_deployer_objects_bind_each_role_to_the_subject():
    rules = {
        "cluster": [rbac.rule("", "services", ["list"])],
        "namespace": [rbac.rule("", "namespaces", ["get", "patch"])],
        "namespaced": [rbac.rule("batch", "jobs", ["get", "create"])],
    }
    objects = rbac.deployer_objects("forum", {"kind": "ServiceAccount", "name": "deployer"}, rules)
    assert [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects] == [
        ("ClusterRole", "forumops-discourse-deployer", None),
        ("ClusterRoleBinding", "forumops-discourse-deployer-forum", None),
        ("ClusterRole", "forumops-discourse-deployer-forum", None),
        ("ClusterRoleBinding", "forumops-discourse-deployer-forum-namespace", None),
        ("Role", "forumops-discourse-deployer", "forum"),
        ("RoleBinding", "forumops-discourse-deployer", "forum"),
    ]
    assert objects[0]["rules"] == [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]}]
    assert objects[2]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "verbs": ["get", "patch"],
            "resourceNames": ["forum"],
        }
    ]
    assert objects[4]["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get"]}
    ]
    assert [o["roleRef"] for o in objects[1::2]] == [
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "forumops-discourse-deployer",
        },
        {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "forumops-discourse-deployer-forum",
        },
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "forumops-discourse-deployer"},
    ]
    assert objects[5]["subjects"] == [{"kind": "ServiceAccount", "name": "deployer", "namespace": "forum"}]
    users = rbac.deployer_objects("forum", {"kind": "Group", "name": "forum-admins"}, rules)
    assert users[1]["subjects"] == [
        {"kind": "Group", "name": "forum-admins", "apiGroup": "rbac.authorization.k8s.io"}
    ]
