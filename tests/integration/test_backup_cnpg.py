"""discourse_backup with the cnpg and discourse methods, run by ansible-playbook.

cnpg runs against the rehearsal cluster (real kube-apiserver, the real CloudNativePG and Barman
Cloud plugin CRDs): the objects must be accepted by the API server and be what the CloudNativePG
and plugin-barman-cloud documentation require. CloudNativePG does not run there, so the test plays
the operator where the role waits (Backup phase, Cluster Ready condition). The discourse method's
commands are checked as data, then run through the API server's exec stream in a web pod, where
kwok runs them on this machine: `discourse` there is a stand-in that records its arguments (no
Discourse runs here), found first on kwok's PATH (<state>/exec-bin).
"""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import backup
from tests.fixtures.ansible import REPO_ROOT, changed_failed, run_with_vars, start_playbook, write_varfile
from tests.fixtures.rehearsal import (
    KUBECONFIG,
    STATE_DIR,
    ansible_kube_env,
    apply_manifest,
    cnpg_backup_completed,
    cnpg_cluster_status,
    cnpg_connection,
    kubectl,
    kubectl_json,
    play_operator,
    wait_for,
)

PLAYBOOK = "tests/integration/playbooks/backup_role.yml"
SITE = "forum_a"
PLUGIN = "barman-cloud.cloudnative-pg.io"


def write_vars(tmp_path, namespace, **variables):
    extra = {
        "discourse_kubeconfig": str(KUBECONFIG),
        "discourse_namespace": namespace,
        "discourse_site_name": SITE,
        "discourse_database_connection": cnpg_connection(namespace),
        "backup_facts_file": str(tmp_path / "facts.json"),
        "discourse_backup_wait_timeout": 120,
        **variables,
    }
    return write_varfile(tmp_path, extra)


def start(varfile):
    return start_playbook(PLAYBOOK, "-e", f"@{varfile}", env=ansible_kube_env())


def facts(tmp_path):
    return json.loads((tmp_path / "facts.json").read_text())


def run_playing_operator(varfile, kind, name, namespace, status):
    """Run the playbook; once kind/name exists, set its status as the operator would."""
    return play_operator(start(varfile), kind, name, namespace, status, finish=300)


def backup_status(phase, error=None):
    status = {
        "phase": phase,
        "method": "plugin",
        "backupId": "20250301T120000",
        "startedAt": "2025-03-01T12:00:00Z",
        "stoppedAt": "2025-03-01T12:01:00Z",
    }
    if error:
        status["error"] = error
    return status


@pytest.mark.rehearsal
def test_on_demand_backup_is_a_plugin_backup_that_is_waited_for_listed_and_idempotent(
    rehearsal_namespace, tmp_path
):
    ns = rehearsal_namespace
    varfile = write_vars(tmp_path, ns, discourse_backup_cnpg_backup_name="before-upgrade")
    output = run_playing_operator(varfile, "backup", "before-upgrade", ns, backup_status("completed"))
    assert changed_failed(output) == {"changed": 1, "failed": 0}, output

    spec = kubectl_json("get", "backup", "before-upgrade", "-n", ns)["spec"]
    # plugin-barman-cloud's usage.md: method plugin, pluginConfiguration.name of the plugin.
    assert spec == {
        "cluster": {"name": "discourse-pg"},
        "method": "plugin",
        "pluginConfiguration": {"name": PLUGIN},
    }
    report = facts(tmp_path)["report"]
    assert report["backup"] == "before-upgrade"
    assert [(b["name"], b["phase"], b["method"], b["backup_id"]) for b in report["backups"]] == [
        ("before-upgrade", "completed", "plugin", "20250301T120000")
    ]

    # Second run: the same Backup object, already completed: nothing changes.
    again = run_with_vars(PLAYBOOK, varfile)
    assert changed_failed(again.stdout) == {"changed": 0, "failed": 0}, again.stdout


@pytest.mark.rehearsal
def test_failed_backup_fails_the_role_with_the_operator_error(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    varfile = write_vars(tmp_path, ns, discourse_backup_cnpg_backup_name="nightly-1")
    output = run_playing_operator(
        varfile, "backup", "nightly-1", ns, backup_status("failed", error="can't upload: AccessDenied")
    )
    assert changed_failed(output)["failed"] == 1
    assert f"Backup {ns}/nightly-1 of cluster discourse-pg failed: can't upload: AccessDenied." in " ".join(
        output.split()
    )


@pytest.mark.rehearsal
def test_restore_recovers_into_a_new_cluster_from_the_object_store_and_switches_the_site(
    rehearsal_namespace, tmp_path
):
    ns = rehearsal_namespace
    varfile = write_vars(
        tmp_path,
        ns,
        discourse_backup_action="restore",
        discourse_backup_restore_confirm=True,
        discourse_backup_cnpg_recovery_target_time="2025-03-01T11:59:00Z",
        discourse_backup_cnpg_instances=2,
        # The Backup taken first is played in test_restore_playbook_switches_the_app_to_the_recovered_cluster.
        discourse_backup_restore_backup_first=False,
    )
    output = run_playing_operator(varfile, "cluster", "discourse-pg-restored", ns, cnpg_cluster_status())
    assert changed_failed(output)["failed"] == 0, output

    cluster = kubectl_json("get", "cluster", "discourse-pg-restored", "-n", ns)
    spec = cluster["spec"]
    # CloudNativePG recovery.md + plugin-barman-cloud usage.md: bootstrap.recovery.source names an
    # externalClusters entry that reads the OLD cluster's archive through the plugin (serverName =
    # old cluster); spec.plugins makes the new cluster archive too, under its own serverName.
    assert spec["bootstrap"] == {
        "recovery": {
            "source": "discourse-pg",
            "database": "discourse",
            "owner": "discourse",
            "secret": {"name": "discourse-pg-credentials"},
            "recoveryTarget": {"targetTime": "2025-03-01T11:59:00Z"},
        }
    }
    assert spec["externalClusters"] == [
        {
            "name": "discourse-pg",
            # enabled/isWALArchiver: the CRD's defaults, filled in by the API server.
            "plugin": {
                "name": PLUGIN,
                "enabled": True,
                "isWALArchiver": False,
                "parameters": {"barmanObjectName": "discourse-pg-backups", "serverName": "discourse-pg"},
            },
        }
    ]
    assert spec["plugins"] == [
        {
            "name": PLUGIN,
            "enabled": True,
            "isWALArchiver": True,
            "parameters": {"barmanObjectName": "discourse-pg-backups", "serverName": "discourse-pg-restored"},
        }
    ]
    assert spec["instances"] == 2
    assert cluster["metadata"]["labels"]["app.kubernetes.io/instance"] == SITE
    assert facts(tmp_path)["connection"] == {
        **cnpg_connection(ns, "discourse-pg-restored"),
        "cluster_name": "discourse-pg-restored",
    }
    assert "set discourse_database_cluster_name: discourse-pg-restored in the inventory" in " ".join(
        output.split()
    )


def test_restore_without_confirmation_is_refused_before_any_api_call(tmp_path):
    # No kubeconfig that works: the role must stop in validation.
    varfile = write_vars(
        tmp_path, "ns-x", discourse_backup_action="restore", discourse_kubeconfig="/nonexistent"
    )
    proc = run_with_vars(PLAYBOOK, varfile)
    assert proc.returncode != 0
    assert "discourse_backup_restore_confirm: a restore replaces what the site serves" in proc.stdout


@pytest.mark.rehearsal
def test_old_cluster_is_deleted_only_when_confirmed_and_unused(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    old = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "discourse-pg", "namespace": ns},
        "spec": {"instances": 1, "storage": {"size": "1Gi"}},
    }
    apply_manifest(old, ns)
    env_cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "forum-a-env",
            "namespace": ns,
            "labels": {
                "app.kubernetes.io/name": "discourse",
                "app.kubernetes.io/instance": SITE,
                "app.kubernetes.io/component": "config",
            },
        },
        "data": {"DISCOURSE_DB_HOST": f"discourse-pg-rw.{ns}.svc"},
    }
    apply_manifest(env_cm, ns)
    variables = dict(
        discourse_backup_action="restore",
        discourse_backup_confirm_delete_old_cluster=True,
        discourse_backup_cnpg_old_cluster_name="discourse-pg",
        discourse_database_cluster_name="discourse-pg-restored",
    )
    varfile = write_vars(tmp_path, ns, **variables)
    refused = run_with_vars(PLAYBOOK, varfile)
    assert refused.returncode != 0
    assert f"still uses discourse-pg-rw.{ns}.svc" in " ".join(refused.stdout.split())
    assert kubectl("get", "cluster", "discourse-pg", "-n", ns, check=False).returncode == 0

    env_cm["data"]["DISCOURSE_DB_HOST"] = f"discourse-pg-restored-rw.{ns}.svc"
    apply_manifest(env_cm, ns)
    deleted = run_with_vars(PLAYBOOK, varfile)
    assert changed_failed(deleted.stdout) == {"changed": 1, "failed": 0}, deleted.stdout
    assert kubectl("get", "cluster", "discourse-pg", "-n", ns, check=False).returncode != 0


def test_discourse_method_commands_as_data(tmp_path):
    def plan(**variables):
        varfile = write_vars(
            tmp_path,
            "ns-x",
            discourse_backup_method="discourse",
            discourse_backup_discourse_dry_run=True,
            **variables,
        )
        proc = run_with_vars(PLAYBOOK, varfile)
        assert proc.returncode == 0, proc.stdout
        return facts(tmp_path)["plan"]

    restore_file = "forum-a-2025-03-01-120005-v20250301093000.sql.gz"
    expected = backup.discourse_commands(filename=restore_file)
    # By default the site is backed up first, under a name `latest` never picks.
    first, *rest = plan(
        discourse_backup_action="restore",
        discourse_backup_restore_confirm=True,
        discourse_backup_discourse_restore_file=restore_file,
    )
    assert re.fullmatch(r"discourse backup --sql-only forum-a-before-restore-\d{4}-\d{2}-\d{2}-\d{6}", first)
    assert (
        rest
        == plan(
            discourse_backup_action="restore",
            discourse_backup_restore_confirm=True,
            discourse_backup_discourse_restore_file=restore_file,
            discourse_backup_restore_backup_first=False,
        )
        == [
            expected["enable_restore"],
            expected["restore"],
            expected["disable_restore"],
        ]
        == [
            "discourse enable_restore",
            "discourse restore --no-disable-emails forum-a-2025-03-01-120005-v20250301093000.sql.gz",
            "discourse disable_restore",
        ]
    )
    # Asked for: Discourse's default, e-mail off for non-staff after the restore.
    assert (
        plan(
            discourse_backup_action="restore",
            discourse_backup_restore_confirm=True,
            discourse_backup_discourse_restore_file=restore_file,
            discourse_backup_discourse_disable_emails=True,
        )[2]
        == f"discourse restore {restore_file}"
    )
    assert plan(discourse_backup_action="list") == ["discourse restore"]

    (command,) = plan(discourse_backup_action="backup")
    match = re.fullmatch(r"discourse backup --sql-only (forum-a-\d{4}-\d{2}-\d{2}-\d{6})", command)
    assert match, command
    assert command == backup.discourse_commands(backup_name=match[1])["backup"]
    (command,) = plan(
        discourse_backup_action="backup",
        discourse_backup_discourse_sql_only=False,
        discourse_backup_discourse_s3_uploads=True,
    )
    assert command.startswith("discourse backup --s3-uploads forum-a-")


@pytest.mark.rehearsal
def test_restore_playbook_switches_the_app_to_the_recovered_cluster(rehearsal_namespace):
    """playbooks/restore.yml end to end: recovery Cluster, then the app role with the new host."""
    ns = rehearsal_namespace
    inventory = REPO_ROOT / "tests/integration/inventories/app"
    for name, data in {
        # The roles' Secret names: restore.yml publishes the connections from their inputs.
        "discourse-db-credentials": {"password": "db-pw-5d2e8a1c"},
        "valkey-password": {"password": "valkey-pw-7b3f9e0d"},
        "app-forum-s3-credentials": {
            "access-key-id": "AKIAAPPTEST0001",
            "secret-access-key": "s3-secret-3c8e1f6a9d",
        },
    }.items():
        apply_manifest(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}, ns
        )
    process = start_playbook(
        "-i",
        inventory,
        "playbooks/restore.yml",
        "-e",
        f"discourse_namespace={ns}",
        "-e",
        "discourse_restore_confirm=true",
        "-e",
        "discourse_database_cluster_name=discourse-db",
        "-e",
        "discourse_backup_wait_timeout=120",
        env=ansible_kube_env(),
    )
    # First a Backup of the site's Cluster (named after the time), then the recovery Cluster.
    backup_name = wait_for(
        lambda: (
            process.poll() is not None
            or next(
                (
                    b["metadata"]["name"]
                    for b in kubectl_json("get", "backups.postgresql.cnpg.io", "-n", ns)["items"]
                    if b["metadata"]["name"].startswith("discourse-db-before-restore-")
                ),
                None,
            )
        ),
        "the Backup taken before the restore",
    )
    assert isinstance(backup_name, str), process.communicate()[0][-4000:]
    patch = json.dumps({"status": cnpg_backup_completed()})
    kubectl(
        "patch",
        "backups.postgresql.cnpg.io",
        backup_name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
    )
    output = play_operator(process, "cluster", "discourse-db-restored", ns, cnpg_cluster_status())
    assert process.returncode == 0, output[-4000:]
    assert kubectl_json("get", "backups.postgresql.cnpg.io", backup_name, "-n", ns)["spec"]["cluster"] == {
        "name": "discourse-db"
    }
    assert f"(first backed up as Backup {backup_name})" in " ".join(output.split())
    app_env = kubectl_json("get", "configmap", "app-forum-env", "-n", ns)["data"]
    assert app_env["DISCOURSE_DB_HOST"] == f"discourse-db-restored-rw.{ns}.svc"
    assert app_env["DISCOURSE_DB_NAME"] == "discourse"
    web = kubectl_json("get", "deployment", "app-forum-web", "-n", ns)
    password_env = [
        e
        for e in web["spec"]["template"]["spec"]["containers"][0]["env"]
        if e["name"] == "DISCOURSE_DB_PASSWORD"
    ]
    assert password_env == [
        {
            "name": "DISCOURSE_DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "discourse-db-credentials", "key": "password"}},
        }
    ]
    recovered = kubectl_json("get", "cluster", "discourse-db-restored", "-n", ns)["spec"]
    assert recovered["bootstrap"]["recovery"]["secret"] == {"name": "discourse-db-credentials"}
    assert recovered["externalClusters"][0]["plugin"]["parameters"]["serverName"] == "discourse-db"


@pytest.mark.rehearsal
def test_cnpg_drill_recovers_a_throwaway_cluster_without_archiving_and_deletes_it(
    rehearsal_namespace, tmp_path
):
    ns = rehearsal_namespace
    varfile = write_vars(tmp_path, ns, discourse_backup_action="drill")
    process = start(varfile)
    try:
        drill = wait_for(
            lambda: process.poll() is not None or kubectl_json("get", "clusters", "-n", ns)["items"],
            "the drill Cluster",
            timeout=180,
        )
        assert process.poll() is None, process.communicate()[0]
        (cluster,) = drill
        kubectl(
            "patch",
            "cluster",
            "discourse-pg-drill",
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": cnpg_cluster_status()}),
        )
        output, _unused = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert changed_failed(output)["failed"] == 0, output
    spec = cluster["spec"]
    assert cluster["metadata"]["name"] == "discourse-pg-drill"
    assert cluster["metadata"]["labels"]["app.kubernetes.io/component"] == "restore-drill"
    assert spec["instances"] == 1
    assert "plugins" not in spec  # a drill never archives into the object store
    assert spec["bootstrap"]["recovery"]["source"] == "discourse-pg"
    assert spec["externalClusters"][0]["plugin"]["parameters"] == {
        "barmanObjectName": "discourse-pg-backups",
        "serverName": "discourse-pg",
    }
    report = facts(tmp_path)["report"]
    assert report == {
        "method": "cnpg",
        "drill_cluster": "discourse-pg-drill",
        "recovered_from": "discourse-pg",
        "phase": "Cluster in healthy state",
        "ready_instances": 2,
        "kept": False,
    }
    assert kubectl_json("get", "clusters", "-n", ns)["items"] == []


@pytest.fixture
def discourse_stand_in(tmp_path):
    """A `discourse` on kwok's PATH that logs its arguments; `restore broken-...` fails."""
    log = tmp_path / "discourse-calls"
    script = STATE_DIR / "exec-bin" / "discourse"
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >> {log}\n"
        'case "$*" in *broken-*) echo "restore failed" >&2; exit 1;; esac\n'
        'echo "discourse $1: done"\n'
    )
    script.chmod(0o755)
    yield log
    script.unlink()


def test_discourse_method_runs_its_commands_in_a_web_pod(rehearsal_namespace, tmp_path, discourse_stand_in):
    ns = rehearsal_namespace
    labels = {"app.kubernetes.io/name": "discourse", "app.kubernetes.io/instance": SITE}
    apply_manifest(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "forum-web", "labels": {**labels, "app.kubernetes.io/component": "web"}},
            "spec": {"containers": [{"name": "discourse", "image": "discourse"}]},
        },
        ns,
    )
    wait_for(
        lambda: kubectl_json("get", "pod", "forum-web", "-n", ns)["status"].get("phase") == "Running",
        "web pod",
    )

    def run(**variables):
        varfile = write_vars(tmp_path, ns, discourse_backup_method="discourse", **variables)
        return run_with_vars(PLAYBOOK, varfile)

    done = run(discourse_backup_action="backup")
    assert done.returncode == 0, done.stdout
    report = facts(tmp_path)["report"]
    assert report["pod"] == "forum-web"
    assert re.fullmatch(
        r"backup --sql-only forum-a-\d{4}-\d{2}-\d{2}-\d{6}\n", discourse_stand_in.read_text()
    )
    assert report["stdout"] == ["discourse backup: done\n"]

    good = "forum-a-2025-03-01-120005-v20250301093000.sql.gz"
    restore = {"discourse_backup_action": "restore", "discourse_backup_restore_confirm": True}
    discourse_stand_in.write_text("")
    done = run(**restore, discourse_backup_discourse_restore_file=good)
    assert done.returncode == 0, done.stdout
    first, *rest = discourse_stand_in.read_text().splitlines()
    assert re.fullmatch(r"backup --sql-only forum-a-before-restore-\d{4}-\d{2}-\d{2}-\d{6}", first)
    assert rest == [
        "enable_restore",
        f"restore --no-disable-emails {good}",
        "disable_restore",
    ]

    # A failed restore still forbids restores again, and the play fails with the command's output.
    broken = "broken-2025-03-01-120005-v20250301093000.sql.gz"
    discourse_stand_in.write_text("")
    failed = run(**restore, discourse_backup_discourse_restore_file=broken)
    assert failed.returncode == 2, failed.stdout
    assert "restore failed" in failed.stdout, failed.stdout[-3000:]
    assert discourse_stand_in.read_text().splitlines()[1:] == [
        "enable_restore",
        f"restore --no-disable-emails {broken}",
        "disable_restore",
    ]
