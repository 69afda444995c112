"""Generated secrets are never regenerated under a running site (issue 22, items 5 and 7).

The example customer on the rehearsal cluster (inventories/example plus the overlay, as `make demo`
runs it). A generated Secret that is gone while the objects using its value exist was lost, not
new: the converge stops, saying what was lost and how to restore it, and makes no new value. A
rotation is an explicit input that rolls every consumer. The pods' config checksum is built from
the resourceVersions of every Secret they read, never from a secret value, so a reader with the
`view` role cannot test password guesses against it.

CloudNativePG sets a changed application Secret's password on the primary: its instance manager's
refreshCredentialsFromSecret calls reconcileUser for cluster.GetApplicationSecretName() whenever
the Secret's resourceVersion differs from the one it applied (cloudnative-pg/cloudnative-pg,
internal/management/controller/instance_controller.go, v1.30.0, 4b5e244a7d031f67e025c83c1555e7726ecbbfa1).
The rehearsal runs no operator, so these tests stop at the Secret and the pod templates.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from tests.fixtures.ansible import flat_output, play_recap, run_example
from tests.fixtures.rehearsal import STATE_DIR, fresh_namespace, kubectl, kubectl_json

pytestmark = pytest.mark.rehearsal

KEY_BASE = "example-forum-secret-key-base"
SITE = "example_forum"
ROTATION = "forumops.io/password-rotation"


@pytest.fixture(scope="module")
def site(rehearsal_kubeconfig):
    """One converged example site for the module: each test leaves it converged again."""
    with fresh_namespace("kept-secrets") as namespace:
        converged(namespace)
        yield namespace


def converge(namespace, *extra):
    return run_example("playbooks/site.yml", namespace, *extra, state_dir=STATE_DIR)


def converged(namespace, *extra):
    result = converge(namespace, *extra)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result


def pod_checksum(namespace):
    template = kubectl_json("get", "deployment", "example-forum-web", "-n", namespace)["spec"]["template"]
    return template["metadata"]["annotations"]["forumops.io/config-checksum"]


def checksum_from_what_a_reader_without_the_password_sees(namespace):
    """The annotation recomputed from the env and nginx ConfigMaps, the Deployment's Secret references
    and the role's Secrets' resourceVersions: the password is not an input (Ansible's to_json(sort_keys))."""
    env = kubectl_json("get", "configmap", "example-forum-env", "-n", namespace)["data"]
    container = kubectl_json("get", "deployment", "example-forum-web", "-n", namespace)["spec"]["template"][
        "spec"
    ]["containers"][0]
    secret_env = [
        {
            "name": e["name"],
            "secret": e["valueFrom"]["secretKeyRef"]["name"],
            "key": e["valueFrom"]["secretKeyRef"]["key"],
        }
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    ]
    versions = {
        name: kubectl_json("get", "secret", name, "-n", namespace)["metadata"]["resourceVersion"]
        for name in {ref["secret"] for ref in secret_env}
    }
    nginx = kubectl_json("get", "configmap", "example-forum-nginx", "-n", namespace)["data"]["real-ip.conf"]
    data = {"env": env, "secret_env": secret_env, "revision": "1", "secrets": versions, "nginx": nginx}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def password(namespace, secret):
    return base64.b64decode(
        kubectl_json("get", "secret", secret, "-n", namespace)["data"]["password"]
    ).decode()


def annotations(namespace, kind, name):
    return kubectl_json("get", kind, name, "-n", namespace)["metadata"].get("annotations", {})


def test_the_checksum_follows_every_secret_the_pods_read(site):
    """Five Secrets, three roles: the database's, Valkey's, storage's, SMTP and the key base."""
    ns = site
    container = kubectl_json("get", "deployment", "example-forum-web", "-n", ns)["spec"]["template"]["spec"][
        "containers"
    ][0]
    read = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert read == {
        "discourse-pg-credentials",
        "valkey-password",
        "example-forum-s3-credentials",
        "example-forum-smtp",
        KEY_BASE,
    }
    assert pod_checksum(ns) == checksum_from_what_a_reader_without_the_password_sees(ns)


def test_a_database_password_rotation_makes_one_new_password_and_rolls_the_pods(site):
    ns = site
    before, checksum = password(ns, "discourse-pg-credentials"), pod_checksum(ns)

    converged(ns, "-e", "discourse_database_password_rotation=2026-12-02")
    rotated = password(ns, "discourse-pg-credentials")
    assert rotated != before and len(rotated) == 32
    assert annotations(ns, "secret", "discourse-pg-credentials")[ROTATION] == "2026-12-02"
    assert pod_checksum(ns) != checksum
    assert pod_checksum(ns) == checksum_from_what_a_reader_without_the_password_sees(ns)

    # The same token again is not a new rotation: nothing changes.
    again = converged(ns, "-e", "discourse_database_password_rotation=2026-12-02")
    assert play_recap(again.stdout, SITE)["changed"] == 0, again.stdout[-4000:]
    assert password(ns, "discourse-pg-credentials") == rotated
    converged(ns)
    assert password(ns, "discourse-pg-credentials") == rotated


def test_a_valkey_password_rotation_restarts_valkey_and_rolls_the_pods_even_after_a_lost_secret(site):
    ns = site
    before, checksum = password(ns, "valkey-password"), pod_checksum(ns)
    valkey = kubectl_json("get", "statefulset", "valkey", "-n", ns)["spec"]["template"]["metadata"][
        "annotations"
    ]
    # Lost, and nothing to restore it from: the rotation token is the way to a new password.
    kubectl("delete", "secret", "valkey-password", "-n", ns)

    converged(ns, "-e", "discourse_valkey_password_rotation=after-the-loss")
    rotated = password(ns, "valkey-password")
    assert rotated != before and len(rotated) == 32
    assert annotations(ns, "secret", "valkey-password")[ROTATION] == "after-the-loss"
    restarted = kubectl_json("get", "statefulset", "valkey", "-n", ns)["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert restarted["forumops.io/password-checksum"] != valkey["forumops.io/password-checksum"]
    assert restarted["forumops.io/config-checksum"] == valkey["forumops.io/config-checksum"]
    assert pod_checksum(ns) != checksum
    again = converged(ns, "-e", "discourse_valkey_password_rotation=after-the-loss")
    assert play_recap(again.stdout, SITE)["changed"] == 0, again.stdout[-4000:]
    assert password(ns, "valkey-password") == rotated
    converged(ns)


def test_a_customer_secret_without_its_key_is_named_and_a_change_to_it_rolls_the_pods(site):
    """The SMTP credentials from a Secret the customer keeps: the role never writes it."""
    ns = site
    kubectl("create", "secret", "generic", "customer-smtp", "-n", ns, "--from-literal=user-name=forum")
    use_it = ("-e", "discourse_app_smtp_existing_secret=customer-smtp")
    incomplete = converge(ns, *use_it)
    assert incomplete.returncode != 0
    assert (
        f"Secret {ns}/customer-smtp has no key 'password' (DISCOURSE_SMTP_PASSWORD reads it)."
        in flat_output(incomplete)
    )

    kubectl(
        "patch", "secret", "customer-smtp", "-n", ns, "-p", json.dumps({"stringData": {"password": "first"}})
    )
    converged(ns, *use_it)
    checksum = pod_checksum(ns)
    # Rotated by the customer, by hand: the next converge rolls the pods, with no revision to bump.
    kubectl(
        "patch", "secret", "customer-smtp", "-n", ns, "-p", json.dumps({"stringData": {"password": "second"}})
    )
    converged(ns, *use_it)
    assert pod_checksum(ns) != checksum
    assert pod_checksum(ns) == checksum_from_what_a_reader_without_the_password_sees(ns)
    converged(ns)
    kubectl("delete", "secret", "customer-smtp", "-n", ns)


def test_a_lost_secret_key_base_stops_the_converge_and_rotation_is_explicit(site):
    ns = site
    original = kubectl_json("get", "secret", KEY_BASE, "-n", ns)["data"]["secret-key-base"]
    checksum = pod_checksum(ns)
    assert checksum == checksum_from_what_a_reader_without_the_password_sees(ns)

    # Reported: deleting the Secret made the next converge create a new key base silently.
    kubectl("delete", "secret", KEY_BASE, "-n", ns)
    lost = converge(ns)
    assert lost.returncode != 0
    assert (
        f"Secret {ns}/{KEY_BASE} is gone, but Deployment {ns}/example-forum-web exists: the value it held is "
        "still in use and a new one would not match it, so none is made. Restore the Secret from your backup"
    ) in flat_output(lost)
    assert kubectl("get", "secret", KEY_BASE, "-n", ns, check=False).returncode != 0
    assert pod_checksum(ns) == checksum

    # A Secret without its key is an error naming Secret and key.
    kubectl("create", "secret", "generic", KEY_BASE, "-n", ns, "--from-literal=something-else=x")
    incomplete = converge(ns)
    assert incomplete.returncode != 0
    assert f"Secret {ns}/{KEY_BASE} has no key 'secret-key-base'." in flat_output(incomplete)
    kubectl("delete", "secret", KEY_BASE, "-n", ns)

    # A deliberate rotation: a new value, and the pods roll.
    converged(ns, "-e", "discourse_app_secret_key_base_rotate=true")
    rotated = kubectl_json("get", "secret", KEY_BASE, "-n", ns)["data"]["secret-key-base"]
    assert rotated != original
    assert len(base64.b64decode(rotated)) == 128
    assert pod_checksum(ns) != checksum
    assert pod_checksum(ns) == checksum_from_what_a_reader_without_the_password_sees(ns)
    converged(ns)


def test_a_new_smtp_password_rolls_the_pods_without_a_hash_of_it(site):
    ns = site
    before = pod_checksum(ns)
    converged(ns, "-e", "discourse_app_smtp_password=another-smtp-password-7e1")
    after = pod_checksum(ns)
    assert after != before
    smtp = kubectl_json("get", "secret", "example-forum-smtp", "-n", ns)["data"]
    assert base64.b64decode(smtp["password"]).decode() == "another-smtp-password-7e1"
    assert after == checksum_from_what_a_reader_without_the_password_sees(ns)
    converged(ns)


@pytest.mark.parametrize(
    ("secret", "user", "hint"),
    [
        (
            "discourse-pg-credentials",
            "Cluster {ns}/discourse-pg",
            "Restore the Secret from your backup of the namespace, or set discourse_database_password",
        ),
        (
            "valkey-password",
            "StatefulSet {ns}/valkey",
            "Restore the Secret from your backup of the namespace, or converge with "
            "-e discourse_valkey_password_rotation=<a new token> for a new password",
        ),
    ],
)
def test_a_lost_database_or_valkey_password_stops_the_converge(site, secret, user, hint):
    """Reported: deleting the Secret made the next converge generate a new password silently, while the
    database (Cluster) and Valkey (StatefulSet) keep the old one."""
    ns = site
    saved = kubectl_json("get", "secret", secret, "-n", ns)
    kubectl("delete", "secret", secret, "-n", ns)
    lost = converge(ns)
    assert lost.returncode != 0
    assert (
        f"Secret {ns}/{secret} is gone, but {user.format(ns=ns)} exists: the value it held is still in use "
        f"and a new one would not match it, so none is made. {hint}"
    ) in flat_output(lost)
    assert kubectl("get", "secret", secret, "-n", ns, check=False).returncode != 0
    # Restored from the "backup", as the message says: the converge passes again.
    restored = {"apiVersion": "v1", "kind": "Secret", "type": saved["type"], "data": saved["data"]}
    restored["metadata"] = {k: saved["metadata"][k] for k in ("name", "labels") if k in saved["metadata"]}
    kubectl("apply", "-n", ns, "-f", "-", input_text=json.dumps(restored))
    converged(ns)
