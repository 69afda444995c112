"""discourse_storage on the rehearsal cluster: MinIO mode, and the credentials Secret of both modes.

Pods do not really run there (kwok marks them Ready), so in minio mode the bucket setup cannot
reach MinIO and is switched off (discourse_storage_manage_buckets=false); what is checked is the API
contract: the StatefulSet becomes Ready, the Services, and a Secret generated once and then kept.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from tests.fixtures.ansible import flat_output
from tests.fixtures.rehearsal import kubectl, kubectl_json
from tests.integration.test_storage_s3 import BACKUPS, UPLOADS, converge, recap

pytestmark = pytest.mark.rehearsal

SITE = "rehearsal_forum"
NAME = "rehearsal-forum"  # the site name as a DNS label


def cluster_vars(namespace, kubeconfig, tmp_path, **overrides):
    values = {
        "discourse_site_name": SITE,
        "discourse_namespace": namespace,
        "discourse_hostname": "forum.rehearsal.test",
        "discourse_kubeconfig": str(kubeconfig),
        "discourse_storage_uploads_bucket": UPLOADS,
        "discourse_storage_backups_bucket": BACKUPS,
        "storage_connection_out": str(tmp_path / "connection.json"),
    }
    values.update(overrides)
    return values


def secret_data(namespace, name=f"{NAME}-s3-credentials"):
    secret = kubectl_json("get", "secret", name, "-n", namespace)
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}, secret


def test_minio_mode_converges_and_keeps_its_generated_secret(
    ansible, rehearsal_kubeconfig, rehearsal_namespace, tmp_path
):
    values = cluster_vars(
        rehearsal_namespace,
        rehearsal_kubeconfig,
        tmp_path,
        discourse_storage_mode="minio",
        discourse_storage_manage_buckets=False,
        discourse_storage_minio_storage_size="1Gi",
    )
    first = converge(ansible, tmp_path, values)
    assert first.returncode == 0, first.stdout + first.stderr
    keys, secret = secret_data(rehearsal_namespace)
    assert sorted(keys) == ["access-key-id", "secret-access-key"]
    assert re.fullmatch(r"[A-Z0-9]{20}", keys["access-key-id"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", keys["secret-access-key"])
    assert keys["secret-access-key"] not in first.stdout + first.stderr
    assert secret["metadata"]["labels"]["app.kubernetes.io/instance"] == SITE

    statefulset = kubectl_json("get", "statefulset", f"{NAME}-minio", "-n", rehearsal_namespace)
    assert statefulset["status"]["readyReplicas"] == 1
    assert statefulset["metadata"]["labels"] == {
        "app.kubernetes.io/name": "minio",
        "app.kubernetes.io/instance": SITE,
        "app.kubernetes.io/component": "object-storage",
        "app.kubernetes.io/part-of": "discourse",
        "app.kubernetes.io/managed-by": "forumops.discourse",
    }
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
    assert env["MINIO_DOMAIN"] == "s3.forum.rehearsal.test"
    assert env["MINIO_ROOT_USER"] == {
        "secretKeyRef": {"name": f"{NAME}-s3-credentials", "key": "access-key-id"}
    }
    assert env["MINIO_ROOT_PASSWORD"] == {
        "secretKeyRef": {"name": f"{NAME}-s3-credentials", "key": "secret-access-key"}
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    pvc = kubectl_json("get", "pvc", f"data-{NAME}-minio-0", "-n", rehearsal_namespace)
    assert pvc["status"]["phase"] == "Bound"

    client = kubectl_json("get", "service", f"{NAME}-minio", "-n", rehearsal_namespace)
    assert [(p["name"], p["port"]) for p in client["spec"]["ports"]] == [("s3", 9000)]
    assert client["spec"]["selector"] == {
        "app.kubernetes.io/name": "minio",
        "app.kubernetes.io/instance": SITE,
    }
    headless = kubectl_json("get", "service", f"{NAME}-minio-headless", "-n", rehearsal_namespace)
    assert headless["spec"]["clusterIP"] == "None"

    connection = json.loads((tmp_path / "connection.json").read_text())
    assert connection["endpoint"] == "https://s3.forum.rehearsal.test"
    assert connection["env"]["DISCOURSE_S3_ENDPOINT"] == "https://s3.forum.rehearsal.test"
    assert connection["credentials_secret"] == f"{NAME}-s3-credentials"
    assert connection["path_style"] is False

    second = converge(ansible, tmp_path, values)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second)["changed"] == 0, second.stdout
    assert secret_data(rehearsal_namespace)[0] == keys


@pytest.mark.s3
def test_external_mode_keeps_the_inventory_keys_in_the_secret(
    ansible, s3_server, rehearsal_kubeconfig, rehearsal_namespace, tmp_path
):
    values = cluster_vars(
        rehearsal_namespace,
        rehearsal_kubeconfig,
        tmp_path,
        discourse_storage_endpoint=s3_server.endpoint,
        discourse_storage_path_style=True,
        discourse_storage_access_key_id="AKIAFORUMTEST",
        discourse_storage_secret_access_key="forum-secret-not-for-logs",
        discourse_storage_credentials_secret="forum-s3",
    )
    first = converge(ansible, tmp_path, values)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "forum-secret-not-for-logs" not in first.stdout + first.stderr
    keys, _unused = secret_data(rehearsal_namespace, "forum-s3")
    assert keys == {"access-key-id": "AKIAFORUMTEST", "secret-access-key": "forum-secret-not-for-logs"}
    assert sorted(b["Name"] for b in s3_server.client().list_buckets()["Buckets"]) == [BACKUPS, UPLOADS]

    second = converge(ansible, tmp_path, values)
    assert recap(second)["changed"] == 0, second.stdout

    # Without keys in the inventory the role reads them from the existing Secret.
    del values["discourse_storage_access_key_id"], values["discourse_storage_secret_access_key"]
    third = converge(ansible, tmp_path, values)
    assert third.returncode == 0, third.stdout + third.stderr
    assert recap(third)["changed"] == 0, third.stdout


def test_external_mode_without_keys_or_secret_fails_naming_them(
    ansible, rehearsal_kubeconfig, rehearsal_namespace, tmp_path
):
    values = cluster_vars(
        rehearsal_namespace, rehearsal_kubeconfig, tmp_path, discourse_storage_endpoint="http://127.0.0.1:9"
    )
    result = converge(ansible, tmp_path, values)
    assert result.returncode != 0
    output = flat_output(result)
    assert (
        f"discourse_storage_access_key_id is empty, so the Secret {NAME}-s3-credentials in namespace "
        f"{rehearsal_namespace} must exist with the keys access-key-id and secret-access-key" in output
    )
    assert kubectl(
        "get", "secret", f"{NAME}-s3-credentials", "-n", rehearsal_namespace, check=False
    ).returncode
