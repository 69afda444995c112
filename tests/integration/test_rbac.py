"""The deployer RBAC (module_utils/rbac.py): what a converge, an upgrade and a backup call, enough
for all three, and nothing a run does not need, on the rehearsal API server with RBAC on.

The scenario is the example customer's: a first converge of a new site, a no-op converge, the
upgrade runbook to build manifest B (backup skipped, no smoke test: no Discourse runs here), and an
on-demand CloudNativePG backup (the test plays the operator, as test_runbooks_example.py does).
Recorded once as the admin (step by step, FORUMOPS_KUBE_RECORD), it gives the rules and the first
step that needs each; the deployer then runs it with the rules, and once without each rule, up to
the step that first needs it.

Upstream: kubernetes/apiserver v0.36.1 pkg/endpoints/request/requestinfo.go (how a request becomes
verb, apiGroup, resource, subresource, namespace and name) and pkg/endpoints/handlers/patch.go (an
apply that creates is also authorized as create), read from the Go module proxy's zip; what a rule
grants is what the rehearsal's kube-apiserver v1.36.3 (RBAC on) enforces, which is the test.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils import rbac
from tests.fixtures.ansible import ansible_env, example_args, run_tool, start_playbook
from tests.fixtures.rehearsal import (
    KUBECONFIG,
    STATE_DIR,
    apply_manifest,
    cnpg_backup_completed,
    fresh_namespace,
    kubectl,
    play_operator,
)

pytestmark = pytest.mark.rehearsal

MANIFEST_B = "tests/integration/inventories/upgrade/manifest-b.json"
BACKUP = "rbac-backup"


STEPS = [
    ("first converge", "playbooks/site.yml", ()),
    ("no-op converge", "playbooks/site.yml", ()),
    (
        "upgrade",
        "playbooks/upgrade.yml",
        (
            "-e", f"discourse_upgrade_build_manifest={MANIFEST_B}",
            "-e", "discourse_upgrade_skip_backup=true",
            "-e", "discourse_upgrade_smoke_test=false",
        ),
    ),
    ("backup", "playbooks/backup.yml", ("-e", f"discourse_backup_cnpg_backup_name={BACKUP}")),
]  # fmt: skip


def run_step(namespace, kubeconfig, env, step):
    """(name, returncode, output) of one of STEPS."""
    name, playbook, extra = step
    connection = ("-e", f"discourse_kubeconfig={kubeconfig}")
    args = example_args(playbook, namespace, *connection, *extra, state_dir=STATE_DIR)
    if name == "backup":
        process = start_playbook(*args, env=env)
        output = play_operator(
            process, "backups.postgresql.cnpg.io", BACKUP, namespace, cnpg_backup_completed()
        )
        return name, process.returncode, output
    completed = run_tool("ansible-playbook", *args, env=env)
    return name, completed.returncode, completed.stdout + completed.stderr


def scenario(namespace, kubeconfig, env, steps_to_run=4):
    """Run the first steps_to_run STEPS, stopping at the first that fails."""
    done = []
    for step in STEPS[:steps_to_run]:
        done.append(run_step(namespace, kubeconfig, env, step))
        if done[-1][1] != 0:
            break
    return done


def token_kubeconfig(path, namespace):
    """A kubeconfig whose user is the ServiceAccount `deployer` of the namespace (a real token)."""
    token = kubectl("create", "token", "deployer", "-n", namespace, "--duration=3600s").stdout.strip()
    config = yaml.safe_load(KUBECONFIG.read_text())
    config["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path


def grant(namespace, rules_by_scope):
    """Create the deployer ServiceAccount and apply (as the admin) the RBAC objects for it."""
    kubectl("create", "serviceaccount", "deployer", "-n", namespace)
    objects = rbac.deployer_objects(namespace, {"kind": "ServiceAccount", "name": "deployer"}, rules_by_scope)
    for obj in objects:
        apply_manifest(obj)
    return objects


def revoke(objects):
    for obj in objects:
        kind = obj["kind"].lower() + ".rbac.authorization.k8s.io"
        scope = ["-n", obj["metadata"]["namespace"]] if "namespace" in obj["metadata"] else []
        kubectl("delete", kind, obj["metadata"]["name"], *scope, "--ignore-not-found")


def literal(rules_by_scope):
    """RULES as it should be written in module_utils/rbac.py."""
    lines = ["RULES = {"]
    for scope, found in rules_by_scope.items():
        lines.append(f'    "{scope}": [')
        for rule in found:
            group, resource, verbs = rule["apiGroups"][0], rule["resources"][0], json.dumps(rule["verbs"])
            lines.append(f'        rule("{group}", "{resource}", {verbs}),')
        lines.append("    ],")
    return "\n".join([*lines, "}"])


@pytest.fixture(scope="module")
def recorded(rehearsal_kubeconfig, tmp_path_factory):
    """The scenario as the admin with every request recorded: (steps, the rules each step used)."""
    record = tmp_path_factory.mktemp("rbac") / "requests.jsonl"
    env = ansible_env(**{rbac.RECORD_ENV: str(record)})
    steps, used, seen = [], [], 0
    with fresh_namespace("rbac-recorded") as ns:
        for step in STEPS:
            steps.append(run_step(ns, rehearsal_kubeconfig, env, step))
            lines = record.read_text().splitlines()
            used.append(rbac.rules([json.loads(line) for line in lines[seen:]], ns))
            seen = len(lines)
            if steps[-1][1] != 0:
                break
        records = [json.loads(line) for line in record.read_text().splitlines()]
        return steps, used, rbac.rules(records, ns)


def first_step_using(used, scope, rule):
    """1-based number of the first step whose requests needed one of the rule's verbs."""
    for number, rules_of_step in enumerate(used, 1):
        for found in rules_of_step[scope]:
            if found["apiGroups"] == rule["apiGroups"] and found["resources"] == rule["resources"]:
                return number
    raise AssertionError(f"no step used {rule}")


def test_the_rules_are_what_a_converge_an_upgrade_and_a_backup_call(recorded):
    steps, _used, derived = recorded
    assert [(step, code) for step, code, _out in steps] == [
        ("first converge", 0), ("no-op converge", 0), ("upgrade", 0), ("backup", 0)
    ], steps[-1][2][-4000:]  # fmt: skip
    assert derived == rbac.RULES, "module_utils/rbac.py should say:\n" + literal(derived)


def test_the_deployer_rbac_is_enough_for_all_four_steps(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    objects = grant(ns, rbac.RULES)
    try:
        steps = scenario(ns, token_kubeconfig(tmp_path / "deployer", ns), ansible_env())
    finally:
        revoke(objects)
    assert [(step, code) for step, code, _out in steps] == [
        ("first converge", 0), ("no-op converge", 0), ("upgrade", 0), ("backup", 0)
    ], steps[-1][2][-4000:]  # fmt: skip


RULE_IDS = [
    (scope, index, f"{scope}:{rule['apiGroups'][0] or 'core'}/{rule['resources'][0]}")
    for scope, found in rbac.RULES.items()
    for index, rule in enumerate(found)
]


@pytest.mark.parametrize(("scope", "index"), [r[:2] for r in RULE_IDS], ids=[r[2] for r in RULE_IDS])
def test_without_any_one_rule_a_403_naming_it_fails_a_step_or_voids_a_check(
    recorded, rehearsal_namespace, tmp_path, scope, index
):
    """Inside the namespace every rule is needed for a step to pass. The cluster-wide reads serve
    the preflight, which by design does not fail on a 403 (an identity without cluster reads is not
    a missing operator) but reports the check it could not make: that is what is lost there."""
    _steps, used, _derived = recorded
    ns = rehearsal_namespace
    rule = rbac.RULES[scope][index]
    fewer = {key: list(found) for key, found in rbac.RULES.items()}
    del fewer[scope][index]
    objects = grant(ns, fewer)
    try:
        # Up to the first step that used the rule: it fails there, or (a preflight read) voids a check.
        steps_to_run = first_step_using(used, scope, rule)
        steps = scenario(ns, token_kubeconfig(tmp_path / "deployer", ns), ansible_env(), steps_to_run)
    finally:
        revoke(objects)
    step, code, _output = steps[-1]
    if scope != "cluster":
        assert code != 0, f"every step passed without {rule}"
    group, resource = rule["apiGroups"][0], rule["resources"][0]
    words = " ".join(" ".join(output for _step, _code, output in steps).split())
    named = rf'cannot ({"|".join(rule["verbs"])}) resource "{resource}"'
    if group:
        named += rf' in API group "{re.escape(group)}"'
    assert re.search(named, words), f"{step}: {words[-3000:]}"
