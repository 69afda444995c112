"""module_utils/kube: kubeconfig, URLs, readiness, changed detection, redaction, diffs; no server."""

import base64
import os
import socket

import pytest
from ansible.template import trust_as_template

from ansible_collections.forumops.discourse.plugins.module_utils import kube, kube_client, kube_wait
from ansible_collections.forumops.discourse.plugins.module_utils import kubeconfig as kc

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"


def b64(data):
    return base64.b64encode(data).decode()


def kubeconfig(user=None, cluster=None, current="dev"):
    return {
        "clusters": [{"name": "c1", "cluster": cluster or {"server": "https://10.0.0.1:6443/"}}],
        "users": [{"name": "u1", "user": user or {"token": "t0k3n"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1"}}],
        "current-context": current,
    }


def resolve(document, context=None, base_dir="/etc/kube"):
    return kc.resolve_kubeconfig(kc.merge_kubeconfigs([(document, base_dir)]), context)


# kubeconfig -------------------------------------------------------------------------------------


def test_kubeconfig_paths_prefer_the_option_then_k8s_auth_then_kubeconfig_then_home():
    env = {"K8S_AUTH_KUBECONFIG": "/a", "KUBECONFIG": f"/b{os.pathsep}/c"}
    assert kc.kubeconfig_paths("/x", env) == ["/x"]
    assert kc.kubeconfig_paths(None, env) == ["/a"]
    assert kc.kubeconfig_paths(None, {"KUBECONFIG": f"/b{os.pathsep}/c"}) == ["/b", "/c"]
    assert kc.kubeconfig_paths(None, {}) == [os.path.expanduser("~/.kube/config")]


def test_merged_kubeconfigs_keep_the_first_entry_of_a_name_and_the_first_current_context():
    first = ({"clusters": [{"name": "c", "cluster": {"server": "https://one"}}], "current-context": ""}, "/1")
    second = (
        {"clusters": [{"name": "c", "cluster": {"server": "https://two"}}], "current-context": "dev"},
        "/2",
    )
    merged = kc.merge_kubeconfigs([first, second])
    assert merged["clusters"] == {"c": ({"server": "https://one"}, "/1")}
    assert merged["current-context"] == "dev"


def test_a_token_context_resolves_to_server_and_token():
    config = resolve(kubeconfig())
    # The context, server and token are set; every other setting is left as empty_config has it.
    assert config == kc.empty_config("https://10.0.0.1:6443") | {"context": "dev", "token": "t0k3n"}
    assert {key: value for key, value in config.items() if value not in (None, False)} == {
        "context": "dev",
        "server": "https://10.0.0.1:6443",
        "token": "t0k3n",
    }


def test_inline_data_is_decoded_and_relative_files_are_relative_to_the_kubeconfig():
    config = resolve(
        kubeconfig(
            user={
                "client-certificate": "certs/me.crt",
                "client-key-data": b64(b"KEY"),
                "tokenFile": "/run/tok",
            },
            cluster={
                "server": "https://k",
                "certificate-authority-data": b64(CA),
                "insecure-skip-tls-verify": True,
            },
        ),
        base_dir="/home/ops/.kube",
    )
    assert (config["ca_data"], config["insecure"]) == (CA, True)
    assert (config["cert_file"], config["key_data"]) == ("/home/ops/.kube/certs/me.crt", b"KEY")
    assert config["token_file"] == "/run/tok"


def test_an_auth_provider_is_refused_naming_it_and_the_way_out():
    with pytest.raises(kube.KubeError) as error:
        resolve(kubeconfig(user={"auth-provider": {"name": "oidc"}}))
    assert str(error.value) == (
        "kubeconfig user 'u1' uses the auth-provider 'oidc', which kubectl itself has dropped: use the "
        "provider's exec plugin (gke-gcloud-auth-plugin, kubelogin, ...)"
    )


def test_an_unknown_context_lists_the_known_ones():
    with pytest.raises(kube.KubeError) as error:
        resolve(kubeconfig(), context="prod")
    assert str(error.value) == "context 'prod' is not in the kubeconfig (contexts: dev)"


def test_a_missing_explicit_kubeconfig_is_named(tmp_path):
    with pytest.raises(kube.KubeError) as error:
        kc.load_kubeconfig(str(tmp_path / "nope"), environ={})
    assert str(error.value) == f"kubeconfig {tmp_path / 'nope'} does not exist"


def test_a_kubeconfig_file_is_read_and_resolved(tmp_path):
    (tmp_path / "config").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
        "clusters: [{name: c1, cluster: {server: 'https://k:6443', certificate-authority: ca.pem}}]\n"
        "users: [{name: u1, user: {token: abc}}]\n"
        "contexts: [{name: dev, context: {cluster: c1, user: u1}}]\n"
    )
    config = kc.load_kubeconfig(environ={"KUBECONFIG": str(tmp_path / "config")})
    assert (config["server"], config["ca_file"], config["token"]) == (
        "https://k:6443",
        str(tmp_path / "ca.pem"),
        "abc",
    )


def test_explicit_connection_options_override_the_kubeconfig():
    assert kube.connection_overrides(
        {"host": "https://api:6443", "api_key": "tok", "validate_certs": False, "ca_cert": "/ca"}
    ) == {"server": "https://api:6443", "token": "tok", "insecure": True, "ca_file": "/ca", "ca_data": b""}
    assert kube.connection_overrides({"kubeconfig": "/k", "validate_certs": None}) == {}


# URLs --------------------------------------------------------------------------------------------


def test_paths_for_core_group_namespaced_and_cluster_scoped_kinds():
    assert (
        kube_client.resource_path("v1", "secrets", True, "forum", "db")
        == "/api/v1/namespaces/forum/secrets/db"
    )
    assert (
        kube_client.resource_path("apps/v1", "deployments", True, "forum")
        == "/apis/apps/v1/namespaces/forum/deployments"
    )
    assert kube_client.resource_path("postgresql.cnpg.io/v1", "clusters", True, "f", "db") == (
        "/apis/postgresql.cnpg.io/v1/namespaces/f/clusters/db"
    )
    assert kube_client.resource_path("v1", "namespaces", False, None, "forum") == "/api/v1/namespaces/forum"
    assert kube_client.discovery_path("batch/v1") == "/apis/batch/v1"


def test_a_namespaced_kind_without_namespace_is_an_error():
    with pytest.raises(kube.KubeError) as error:
        kube_client.resource_path("v1", "configmaps", True, None, "env")
    assert (
        str(error.value) == "configmaps (v1) are namespaced: the object needs metadata.namespace or namespace"
    )


def test_apply_query_forces_validates_strictly_and_dry_runs_on_request():
    assert (
        kube_client.apply_query("forumops.discourse")
        == "fieldManager=forumops.discourse&force=true&fieldValidation=Strict"
    )
    assert kube_client.apply_query("me", force=False, dry_run=True, validation="Warn") == (
        "fieldManager=me&fieldValidation=Warn&dryRun=All"
    )


def test_selectors_join_with_commas():
    assert kube_client.selector_string(["a=b", "c!=d"]) == "a=b,c!=d"
    assert kube_client.selector_string("a=b") == "a=b"
    assert kube_client.selector_string([]) == ""


def test_discovery_maps_kinds_to_plural_and_scope_without_subresources():
    document = {
        "resources": [
            {"name": "deployments", "kind": "Deployment", "namespaced": True},
            {"name": "deployments/scale", "kind": "Scale", "namespaced": True},
            {"name": "namespaces", "kind": "Namespace", "namespaced": False},
        ]
    }
    assert kube_client.parse_resources(document) == {
        "Deployment": ("deployments", True),
        "Namespace": ("namespaces", False),
    }


# definitions ---------------------------------------------------------------------------------------


def test_multi_document_yaml_and_lists_expand_to_objects_in_order():
    text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\n"
    listed = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}],
    }
    objects = kube.expand_definitions([text, listed])
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [("ConfigMap", "a"), ("Secret", "b")]


def test_a_rendered_template_expands_like_plain_text():
    """A template rendered by ansible-core is a tagged str subclass, which libyaml's loader refuses."""
    text = trust_as_template("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    assert text.__class__ is not str
    expected = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]
    assert kube.expand_definitions(text) == expected


def test_a_definition_without_name_is_refused_naming_what_lacks():
    with pytest.raises(kube.KubeError) as error:
        kube.expand_definitions([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "x"}}])
    assert str(error.value) == "a definition lacks metadata.name: ConfigMap x/?"


# redaction, changes, diffs -------------------------------------------------------------------------


SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "smtp",
        "namespace": "forum",
        "resourceVersion": "7",
        "managedFields": [{"manager": "forumops.discourse"}],
        "annotations": {kube.LAST_APPLIED: '{"data": {"password": "c2VjcmV0"}}', "note": "kept"},
    },
    "data": {"password": "c2VjcmV0", "user": "dXNlcg=="},
    "stringData": {"token": "plain"},
}


def test_secret_values_are_redacted_keys_kept_and_the_input_untouched():
    assert kube.redact(SECRET) == dict(
        SECRET,
        metadata={
            "name": "smtp",
            "namespace": "forum",
            "resourceVersion": "7",
            "annotations": {"note": "kept"},
        },
        data={"password": "<redacted>", "user": "<redacted>"},
        stringData={"token": "<redacted>"},
    )
    assert SECRET["data"]["password"] == "c2VjcmV0"


def test_other_kinds_only_lose_managed_fields():
    config_map = {"kind": "ConfigMap", "metadata": {"name": "e", "managedFields": []}, "data": {"A": "1"}}
    assert kube.redact(config_map) == {"kind": "ConfigMap", "metadata": {"name": "e"}, "data": {"A": "1"}}


def test_changed_means_created_or_a_new_resource_version():
    old = {"metadata": {"resourceVersion": "10"}}
    assert kube.apply_changed(None, old) is True
    assert kube.apply_changed(old, {"metadata": {"resourceVersion": "10"}}) is False
    assert kube.apply_changed(old, {"metadata": {"resourceVersion": "11"}}) is True


def test_dry_run_changed_compares_content_labels_and_annotations_not_status_or_versions():
    live = {
        "kind": "Deployment",
        "metadata": {"name": "w", "resourceVersion": "1", "generation": 1, "labels": {"a": "1"}},
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2},
    }
    same = dict(live, metadata=dict(live["metadata"], resourceVersion="2", generation=2), status={})
    assert kube.dry_run_changed(live, same) is False
    assert kube.dry_run_changed(live, dict(live, spec={"replicas": 3})) is True
    assert kube.dry_run_changed(live, dict(live, metadata={"name": "w", "labels": {"a": "2"}})) is True
    assert kube.dry_run_changed(None, live) is True


def test_diff_lines_name_each_changed_field():
    before = {
        "kind": "ConfigMap",
        "metadata": {"name": "env", "namespace": "f"},
        "data": {"A": "1", "B": "2"},
    }
    after = {
        "kind": "ConfigMap",
        "metadata": {"name": "env", "namespace": "f", "labels": {"x": "y"}},
        "data": {"A": "9"},
    }
    assert kube.diff_lines(before, after) == [
        '~ ConfigMap f/env data.A: "1" -> "9"',
        '~ ConfigMap f/env data.B: "2" -> (absent)',
        '~ ConfigMap f/env metadata.labels.x: (absent) -> "y"',
    ]
    assert kube.diff_lines(None, after) == ["+ ConfigMap f/env (created)"]
    assert kube.diff_lines(before, None, "delete") == ["- ConfigMap f/env (deleted)"]


def test_secret_diffs_never_show_values():
    after = dict(SECRET, data={"password": "bmV3", "user": "dXNlcg=="})
    assert kube.diff_lines(SECRET, after) == ["~ Secret forum/smtp data.password: <redacted> -> <redacted>"]


# readiness ------------------------------------------------------------------------------------------


def deployment(generation=2, observed=2, want=3, replicas=3, updated=3, available=3, conditions=()):
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "f", "generation": generation},
        "spec": {"replicas": want},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


def test_a_deployment_is_ready_when_observed_updated_available_and_no_old_pod_left():
    assert kube_wait.readiness(deployment()) == (True, None)
    assert kube_wait.readiness(deployment(observed=1)) == (False, None)
    assert kube_wait.readiness(deployment(replicas=4)) == (False, None)  # an old ReplicaSet's pod is left
    assert kube_wait.readiness(deployment(updated=2, replicas=2)) == (False, None)
    assert kube_wait.readiness(deployment(available=2)) == (False, None)


def test_a_deployment_past_its_progress_deadline_fails():
    stuck = deployment(
        available=2,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "slow",
            }
        ],
    )
    assert kube_wait.readiness(stuck) == (False, "Deployment f/web exceeded its progress deadline: slow")


def test_a_statefulset_is_ready_when_all_replicas_are_ready_on_the_update_revision():
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "v", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "readyReplicas": 1,
            "currentRevision": "v-1",
            "updateRevision": "v-1",
        },
    }
    assert kube_wait.readiness(sts) == (True, None)
    assert kube_wait.readiness(dict(sts, status=dict(sts["status"], updateRevision="v-2"))) == (False, None)
    assert kube_wait.readiness(dict(sts, status=dict(sts["status"], readyReplicas=0))) == (False, None)


def test_a_job_is_ready_when_complete_and_fails_with_a_hint_when_failed():
    job = {"kind": "Job", "metadata": {"name": "m", "namespace": "f"}, "status": {}}
    assert kube_wait.readiness(job) == (False, None)
    complete = dict(job, status={"conditions": [{"type": "Complete", "status": "True"}]})
    assert kube_wait.readiness(complete) == (True, None)
    failed = dict(
        job,
        status={
            "conditions": [
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "limit"}
            ]
        },
    )
    assert kube_wait.readiness(failed) == (
        False,
        "Job f/m failed (BackoffLimitExceeded: limit). Read its pods' logs (kubectl logs -n f job/m), "
        "fix the cause, delete the Job and run again: an existing Job is not re-run",
    )


def test_a_wait_condition_matches_type_status_and_reason():
    cluster = {
        "kind": "Cluster",
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Healthy"}]},
    }
    assert kube_wait.readiness(cluster, {"type": "Ready"}) == (True, None)
    assert kube_wait.readiness(cluster, {"type": "Ready", "status": "False"}) == (False, None)
    assert kube_wait.readiness(cluster, {"type": "Ready", "reason": "Other"}) == (False, None)
    assert kube_wait.readiness(cluster, {"type": "Available"}) == (False, None)


def test_other_kinds_are_ready_when_they_exist():
    assert kube_wait.readiness({"kind": "ConfigMap", "metadata": {"name": "e"}}) == (True, None)
    assert kube_wait.readiness(None) == (False, None)


# the client ---------------------------------------------------------------------------------------


def test_an_unreachable_api_server_is_named_in_the_error():
    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        config = resolve(kubeconfig(cluster={"server": f"http://127.0.0.1:{port}"}))
        with pytest.raises(kube.KubeError) as error:
            kube_client.KubeClient(config, timeout=5).request("GET", "/api/v1")
    assert str(error.value) == (
        f"cannot reach the Kubernetes API at http://127.0.0.1:{port}: [Errno 111] Connection refused"
    )


class PollingClient:
    """Answers GETs from a script of objects: the wait's only I/O."""

    def __init__(self, answers):
        self.answers = list(answers)

    def get(self, obj, namespace=None):
        return self.answers.pop(0)


def test_a_wait_reports_what_it_waits_for_at_the_first_poll_and_every_ten_seconds():
    pending = deployment(available=1)
    ready = deployment()
    client = PollingClient([pending, pending, pending, ready])
    now = [0.0]
    heard = []

    def sleep(seconds):
        now[0] += 6

    kube_wait.wait_for_objects(
        client, [pending], [pending], "present", None, None, 600, 1, sleep, lambda: now[0], heard.append
    )

    assert heard == [
        "waiting for the readiness of Deployment f/web (0s of 600s)",
        "waiting for the readiness of Deployment f/web (12s of 600s)",
    ]


def test_a_wait_polls_every_tenth_of_a_second_for_two_seconds_then_doubles_up_to_its_interval():
    pending = deployment(available=1)
    client = PollingClient([pending] * 24 + [deployment()])
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    kube_wait.wait_for_objects(
        client, [pending], [pending], "present", None, None, 600, 2, sleep, lambda: now[0]
    )

    assert [round(pause, 2) for pause in slept] == [0.1] * 20 + [0.2, 0.4, 0.8, 1.6, 2.0]


# ---- hand_over: a field the definition leaves out keeps its live value (issue 22, item 10) -------

LIVE_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "ns",
        "managedFields": [
            {
                "manager": "forumops.discourse",
                "operation": "Apply",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
            },
            {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {"f:status": {}}},
        ],
    },
    "spec": {"replicas": 3},
}


def test_a_field_left_out_that_this_manager_owns_is_handed_over_at_its_live_value():
    wanted = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {},
    }
    assert kube.handover_stubs(wanted, LIVE_DEPLOYMENT, ["spec.replicas"], "forumops.discourse") == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
         "spec": {"replicas": 3}}
    ]  # fmt: skip


def test_nothing_is_handed_over_when_the_field_is_applied_not_owned_or_the_object_is_new():
    wanted = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    assert kube.handover_stubs(wanted, LIVE_DEPLOYMENT, ["spec.replicas"], "forumops.discourse") == []
    wanted["spec"] = {}
    assert kube.handover_stubs(wanted, LIVE_DEPLOYMENT, ["spec.replicas"], "someone-else") == []
    assert kube.handover_stubs(wanted, None, ["spec.replicas"], "forumops.discourse") == []
    assert kube.owns(LIVE_DEPLOYMENT, "kube-controller-manager", "status") is False  # an Update, not an Apply
