"""The closing summary of a site converge (module_utils/summary.py)."""

from ansible_collections.forumops.discourse.plugins.module_utils.summary import site_summary, workload_line


def deployment(name, component, ready, wanted, image):
    return {
        "metadata": {"name": name, "labels": {"app.kubernetes.io/component": component}},
        "spec": {"replicas": wanted, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"readyReplicas": ready} if ready else {},
    }


SITE = {
    "name": "forum",
    "hostname": "forum.example.com",
    "server_version": "v1.36.3",
    "namespace": "discourse-forum",
    "deployments": [
        deployment("forum-web", "web", 2, 2, "registry/discourse:1"),
        deployment("forum-sidekiq", "sidekiq", 0, 1, "registry/discourse:1"),
    ],
    "database": {
        "host": "pg-rw.discourse-forum.svc",
        "port": 5432,
        "database": "discourse",
        "pooler_host": "pg-pooler-rw.discourse-forum.svc",
    },
    "database_mode": "cnpg",
    "valkey": {"host": "valkey.discourse-forum.svc", "port": 6379, "tls": False},
    "storage": {"endpoint": "", "uploads_bucket": "up", "backups_bucket": "bk"},
    "changed": ["ConfigMap/forum-env", "Deployment/forum-web"],
}


def test_a_converged_site_is_summarised_line_by_line():
    assert site_summary(SITE) == [
        "site: forum -> https://forum.example.com",
        "cluster: Kubernetes v1.36.3, namespace discourse-forum",
        "sidekiq forum-sidekiq: 0/1 ready, image registry/discourse:1",
        "web forum-web: 2/2 ready, image registry/discourse:1",
        "database: pg-rw.discourse-forum.svc:5432/discourse (cnpg, pooler pg-pooler-rw.discourse-forum.svc)",
        "valkey: valkey.discourse-forum.svc:6379",
        "s3: AWS, buckets up and bk",
        "changed: 2 object(s): ConfigMap/forum-env, Deployment/forum-web",
    ]


def test_a_rendered_site_names_its_directory_and_a_no_op_says_nothing_changed():
    site = dict(SITE, render_dir="/tmp/out", changed=[], database={}, valkey={}, storage={})

    assert site_summary(site) == [
        "site: forum -> https://forum.example.com",
        "manifests written to /tmp/out/forum",
        "changed: no Kubernetes object",
    ]


def test_a_site_without_workloads_says_so():
    assert (
        site_summary(dict(SITE, deployments=[], database={}, valkey={}, storage={}))[2]
        == "workloads: none found"
    )


def test_a_deployment_without_labels_or_status_still_reads():
    assert workload_line({"metadata": {"name": "x"}, "spec": {}}) == "x: 0/1 ready, image ?"
