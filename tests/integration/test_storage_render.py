"""discourse_storage in render mode: manifests for GitOps, and never a secret value in them."""

from __future__ import annotations

import socket

import yaml

from tests.integration.test_storage_s3 import converge, recap, render_vars

SITE = "render_forum"
HOSTNAME = "forum.render.test"


def test_minio_mode_renders_the_objects_and_names_the_secret_it_leaves_out(ansible, tmp_path):
    values = render_vars(
        tmp_path,
        SITE,
        HOSTNAME,
        discourse_storage_mode="minio",
        discourse_storage_minio_ingress_enabled=True,
        discourse_storage_minio_ingress_class="nginx",
        discourse_storage_minio_ingress_cluster_issuer="letsencrypt-dns",
    )
    result = converge(ansible, tmp_path, values)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / "render" / "render_forum" / "storage.yaml").read_text()
    assert text.startswith(
        "# discourse_storage for site render_forum (minio mode).\n"
        "# Not rendered: the Secret render-forum-s3-credentials in namespace\n"
        "# render-forum with the keys access-key-id and secret-access-key must exist\n"
    )
    documents = [doc for doc in yaml.safe_load_all(text) if doc]
    assert [(doc["kind"], doc["metadata"]["name"]) for doc in documents] == [
        ("Service", "render-forum-minio-headless"),
        ("Service", "render-forum-minio"),
        ("StatefulSet", "render-forum-minio"),
        ("Ingress", "render-forum-minio"),
    ]
    assert all(doc["metadata"]["namespace"] == "render-forum" for doc in documents)
    ingress = documents[3]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [
        "s3.forum.render.test",
        "*.s3.forum.render.test",
    ]
    assert ingress["spec"]["tls"] == [
        {"hosts": ["s3.forum.render.test", "*.s3.forum.render.test"], "secretName": "render-forum-minio-tls"}
    ]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-dns"}
    # The bucket setup waits for MinIO to exist: nothing talked to an S3 API.
    assert "Check that the S3 endpoint accepts connections" not in result.stdout

    again = converge(ansible, tmp_path, values)
    assert recap(again)["changed"] == 0, again.stdout


def test_render_mode_calls_no_s3_unless_the_bucket_setup_is_asked_for(ansible, tmp_path):
    """External mode, key pair in the inventory, an endpoint nothing listens on: rendering still
    succeeds and no step talks to S3; asking for the bucket setup by name makes that step run (and
    fail here, naming the endpoint)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    values = render_vars(
        tmp_path,
        SITE,
        HOSTNAME,
        discourse_storage_endpoint=closed,
        discourse_storage_access_key_id="AKIARENDER",
        discourse_storage_secret_access_key="render-secret-never-sent",
        storage_connection_out=str(tmp_path / "connection.json"),
    )

    rendered = converge(ansible, tmp_path, values)

    assert rendered.returncode == 0, rendered.stdout[-3000:]
    bucket_step = rendered.stdout.split("Ensure the uploads and backups buckets with their access", 1)[1]
    assert bucket_step.split("TASK [", 1)[0].strip().endswith("skipping: [localhost]"), bucket_step[:500]
    assert (tmp_path / "render" / "render_forum" / "storage.yaml").exists()

    asked = converge(ansible, tmp_path, {**values, "discourse_storage_render_bucket_setup": True})

    assert asked.returncode == 2
    assert closed in " ".join(asked.stdout.split())
