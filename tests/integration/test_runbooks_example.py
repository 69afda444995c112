"""The runbooks on the example customer, exactly as a user runs them (issue 22, items 2, 3 and 14).

Each test converges inventories/example with the rehearsal overlay (as `make demo` does) into its
own namespace, then runs a runbook on the same inventory: no connection fact is written by hand,
so the runbooks must publish them the way playbooks/site.yml does. kwok plays CloudNativePG for
Clusters labelled forumops.test/operator=kwok (the overlay's discourse_database_cluster_labels);
the test plays it for the Backup, as tests/integration/test_backup_cnpg.py does.
"""

from __future__ import annotations

import pytest

from tests.fixtures.ansible import example_args, play_recap, run_example, start_playbook
from tests.fixtures.rehearsal import STATE_DIR, cnpg_backup_completed, kubectl, kubectl_json, play_operator

pytestmark = pytest.mark.rehearsal

MANIFEST_B = "tests/integration/inventories/upgrade/manifest-b.json"
IMAGE_A = "registry.example.test/forumops/discourse:2026.11.0"
IMAGE_B = (
    "registry.example.test/forumops/discourse:2026.2.0"
    "@sha256:2b2b0a3e5b7d9f2e8c6a4b2d0f1e3c5a7b9d2f4e6c8a0b1d3f5e7c9a2b4d6f81"
)


def extra_vars(**variables):
    """`-e name=value` for each variable, as a user types them."""
    return [arg for name, value in variables.items() for arg in ("-e", f"{name}={value}")]


def run(playbook, namespace, **variables):
    return run_example(playbook, namespace, *extra_vars(**variables), state_dir=STATE_DIR)


def ok(playbook, namespace, **variables):
    result = run(playbook, namespace, **variables)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result


@pytest.fixture
def example_site(ansible, rehearsal_namespace):
    """The example customer converged into its own namespace, which this returns."""
    ok("playbooks/site.yml", rehearsal_namespace)
    return rehearsal_namespace


def exists(kind, name, namespace):
    return kubectl("get", kind, name, "-n", namespace, check=False).returncode == 0


def web_image(namespace):
    deployment = kubectl_json("get", "deployment", "example-forum-web", "-n", namespace)
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_upgrade_then_rollback_on_the_example_inventory(example_site):
    ns = example_site
    upgraded = ok(
        "playbooks/upgrade.yml",
        ns,
        discourse_upgrade_build_manifest=MANIFEST_B,
        discourse_upgrade_skip_backup="true",
        discourse_upgrade_smoke_test="false",
    )
    assert "upgraded to v2026.2.0" in upgraded.stdout
    assert web_image(ns) == IMAGE_B
    history = kubectl_json("get", "configmap", "example-forum-deploy-history", "-n", ns)["data"]
    assert (history["current-image"], history["previous-image"]) == (IMAGE_B, IMAGE_A)
    assert f'"discourse_app_image: {IMAGE_B}"' in " ".join(upgraded.stdout.split())

    # A routine converge with the unchanged inventory (still image A) would roll the code back
    # behind B's post-deploy migrations: refused before any change, naming both images (item 2).
    stale = run("playbooks/site.yml", ns)
    assert stale.returncode != 0
    assert (
        f"example_forum: REFUSED before any change: the inventory deploys {IMAGE_A}, but the site runs "
        f"{IMAGE_B}, recorded in ConfigMap {ns}/example-forum-deploy-history"
    ) in " ".join(stale.stdout.split())
    # Nothing past the checks ran: no bucket setup, no apply.
    assert "Ensure the uploads and backups buckets" not in stale.stdout
    assert "TASK [forumops.discourse.discourse_storage : Apply" not in stale.stdout
    assert web_image(ns) == IMAGE_B
    # With the line upgrade.yml printed, the converge passes and changes nothing.
    followed = ok("playbooks/site.yml", ns, discourse_app_image=IMAGE_B)
    assert play_recap(followed, "example_forum")["changed"] == 0, followed.stdout[-4000:]

    # The post-deploy Job of B completed (kwok), so a code rollback is refused, and nothing moves.
    refused = run("playbooks/rollback.yml", ns)
    assert refused.returncode != 0
    assert "REFUSED: the post-deploy migrations of " + IMAGE_B in " ".join(refused.stdout.split())
    assert web_image(ns) == IMAGE_B


def test_backup_and_restore_on_the_example_inventory(example_site):
    ns = example_site
    backup_name = extra_vars(discourse_backup_cnpg_backup_name="drill-backup")
    process = start_playbook(*example_args("playbooks/backup.yml", ns, *backup_name, state_dir=STATE_DIR))
    output = play_operator(process, "backups.postgresql.cnpg.io", "drill-backup", ns, cnpg_backup_completed())
    assert process.returncode == 0, output[-6000:]

    # Reported (item 1): `-e discourse_backup_confirm_delete_old_cluster=false` deleted the old Cluster.
    restored = ok(
        "playbooks/restore.yml",
        ns,
        discourse_restore_confirm="true",
        discourse_backup_confirm_delete_old_cluster="false",
        # No operator plays the Backup a restore takes first here (test_backup_cnpg.py does).
        discourse_backup_restore_backup_first="false",
    )
    assert exists("clusters.postgresql.cnpg.io", "discourse-pg", ns)
    # kwok made the recovery Cluster healthy because it kept the site's Cluster labels (item 14).
    recovery = kubectl_json("get", "clusters.postgresql.cnpg.io", "discourse-pg-restored", "-n", ns)
    assert recovery["metadata"]["labels"]["forumops.test/operator"] == "kwok"
    env = kubectl_json("get", "configmap", "example-forum-env", "-n", ns)["data"]
    assert env["DISCOURSE_DB_HOST"] == f"discourse-pg-restored-rw.{ns}.svc"
    assert "The app now uses discourse-pg-restored-rw" in " ".join(restored.stdout.split())
