# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply, deletes, reads and waits over the Kubernetes client, with the pure logic around them.

Standard library plus PyYAML only, so that the k8s_apply/k8s_get action plugins run it inside the
controller's worker process (no module fork, no import of the kubernetes client) and the modules of
the same names run it on a remote host.

Pure functions (unit-tested): definitions, changed detection, Secret redaction and the field-level
diff. The HTTP client (URLs, discovery, `KubeClient`) is module_utils/kube_client.py; reading the
kubeconfig (credentials, exec plugins, proxies) module_utils/kubeconfig.py; readiness and the wait
loop module_utils/kube_wait.py; exec streams module_utils/kube_exec.py.
"""

from __future__ import annotations

import copy
import json
import shlex
import time

from ansible.module_utils.common.yaml import yaml_load_all

from ansible_collections.forumops.discourse.plugins.module_utils import kube_exec
from ansible_collections.forumops.discourse.plugins.module_utils.kube_client import (
    client_for,
    selector_string,
)
from ansible_collections.forumops.discourse.plugins.module_utils.kube_wait import describe, wait_for_objects
from ansible_collections.forumops.discourse.plugins.module_utils.kubeconfig import KubeError, yaml

REDACTED = "<redacted>"
SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Top-level fields that are not the object's content (compared for check mode and diffs).
NOT_CONTENT = ("apiVersion", "kind", "metadata", "status")


# ---------------------------------------------------------------------------------------------
# definitions


def expand_definitions(definitions):
    """A list of objects, a multi-document YAML string, or a mix -> a flat list of object dicts.

    Empty documents are dropped and `kind: List` (or any *List with items) is expanded.
    """
    if definitions is None:
        return []
    if isinstance(definitions, (str, bytes)):
        if yaml is None:
            raise KubeError("YAML definitions need the PyYAML Python package")
        try:
            # A rendered template is a str subclass, which libyaml refuses.
            items = list(yaml_load_all(str(definitions) if isinstance(definitions, str) else definitions))
        except yaml.YAMLError as exc:
            raise KubeError(f"definitions are not valid YAML: {exc}") from None
    elif isinstance(definitions, dict):
        items = [definitions]
    else:
        items = list(definitions)
    objects = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (str, bytes)):
            objects.extend(expand_definitions(item))
            continue
        if not isinstance(item, dict):
            raise KubeError(f"a definition must be a mapping, got {type(item).__name__}: {str(item)[:80]}")
        if str(item.get("kind", "")).endswith("List") and isinstance(item.get("items"), list):
            objects.extend(expand_definitions(item["items"]))
            continue
        objects.append(item)
    for obj in objects:
        missing = [f for f in ("apiVersion", "kind") if not obj.get(f)]
        if not (obj.get("metadata") or {}).get("name"):
            missing.append("metadata.name")
        if missing:
            raise KubeError(f"a definition lacks {', '.join(missing)}: {describe(obj)}")
    return objects


def plain(value):
    """A JSON round trip: plain dicts, lists and strings (drops str/dict subclasses' tags)."""
    return json.loads(json.dumps(value))


# ---------------------------------------------------------------------------------------------
# results: redaction, changed detection, diffs


def redact(obj):
    """A copy of an object fit for results and logs: no Secret values, no managedFields.

    Secrets keep their keys with the value REDACTED, and lose the last-applied annotation (which
    holds the values when kubectl client-side apply was used).
    """
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    if obj.get("kind") == "Secret":
        for field in SECRET_FIELDS:
            if isinstance(obj.get(field), dict):
                obj[field] = dict.fromkeys(obj[field], REDACTED)
        if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
            meta["annotations"].pop(LAST_APPLIED, None)
    return obj


def content(obj):
    """What check mode compares: everything but status and metadata, plus labels and annotations."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    result = {k: v for k, v in obj.items() if k not in NOT_CONTENT}
    result["metadata"] = {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}}
    return result


def apply_changed(before, after):
    """Whether a (real) apply changed the object: created, or a new resourceVersion was stored."""
    if before is None:
        return after is not None
    if after is None:
        return True
    return before["metadata"].get("resourceVersion") != after["metadata"].get("resourceVersion")


def dry_run_changed(before, after):
    """Whether a dry-run apply result differs from the live object (check mode)."""
    return before is None or content(before) != content(after)


def field_changes(before, after, path=""):
    """[(dotted path, before, after)] for the leaves that differ; lists are compared whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            changes.extend(field_changes(before.get(key, _ABSENT), after.get(key, _ABSENT), sub))
        return changes
    if before == after:
        return []
    return [(path, before, after)]


class _Absent:
    def __repr__(self):
        return "(absent)"


_ABSENT = _Absent()


def _show(value, secret):
    if value is _ABSENT:
        return "(absent)"
    if secret:
        return REDACTED
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def diff_lines(before, after, action="apply"):
    """A field-level summary of one object's change; Secret values are never shown."""
    obj = after if after is not None else before
    name = describe(obj)
    if action == "delete":
        return [f"- {name} (deleted)"] if before is not None else []
    if before is None:
        return [f"+ {name} (created)"]
    secret = obj.get("kind") == "Secret"
    lines = []
    for path, old, new in field_changes(content(before), content(after)):
        hidden = secret and path.split(".")[0] in SECRET_FIELDS
        lines.append(f"~ {name} {path}: {_show(old, hidden)} -> {_show(new, hidden)}")
    return lines


# ---------------------------------------------------------------------------------------------
# the whole task: apply or delete a list of objects, optionally wait


def run_apply(
    client,
    definitions,
    field_manager="forumops.discourse",
    force=True,
    state="present",
    namespace=None,
    check_mode=False,
    want_diff=False,
    wait=False,
    wait_condition=None,
    wait_timeout=120,
    wait_sleep=1,
    validation="Strict",
    create_only=False,
    keep=None,
    hand_over=(),
    own_keys=(),
    sleep=time.sleep,
    clock=time.monotonic,
    progress=None,
):
    """Apply (or delete) the objects in order; returns {changed, changed_objects, resources, diff?}.

    Raises KubeError with the object named when the API refuses one or a wait fails. ``keep``
    guards the generated values of the Secrets among the objects, before any is applied: see
    check_kept.
    """
    objects = [plain(obj) for obj in expand_definitions(definitions)]
    for obj in objects if keep and state == "present" else []:
        if obj["kind"] == "Secret":
            check_kept(client, obj, client.get(obj, namespace), keep, namespace)
    changed = False
    results = []
    lines = []
    changed_objects = []
    for obj in objects:
        namespaced = namespace and not obj["metadata"].get("namespace")
        if namespaced and client.resource(obj["apiVersion"], obj["kind"])[1]:
            obj["metadata"]["namespace"] = namespace
        try:
            before = client.get(obj, namespace)
            if state == "absent":
                after = None
                if before is not None:
                    client.delete(obj, namespace, dry_run=check_mode)
                    changed = True
                    changed_objects.append(f"{obj['kind']}/{obj['metadata']['name']}")
                if want_diff:
                    lines.extend(diff_lines(before, None, "delete"))
                results.append(None if before is None else before)
                continue
            if create_only and before is None:
                # Created, not applied: a converge running at the same time that made it first wins,
                # and this one keeps that object (a generated Secret is made once, not twice).
                after = client.create(obj, field_manager, check_mode, namespace, validation)
                if after is None:
                    results.append(client.get(obj, namespace))
                    continue
            elif create_only:
                results.append(before)
                continue
            else:
                for stub in handover_stubs(obj, before, hand_over, field_manager):
                    client.apply(stub, f"{field_manager}-handover", True, check_mode, namespace, validation)
                after = client.apply(obj, field_manager, force, check_mode, namespace, validation)
                for field in own_keys:
                    foreign = sorted(set(after.get(field) or {}) - set(obj.get(field) or {}))
                    if foreign:
                        after = client.remove_keys(obj, field, foreign, field_manager, check_mode, namespace)
        except KubeError as exc:
            raise KubeError(f"{describe(obj)}: {exc}", exc.status, exc.reason) from None
        this_changed = dry_run_changed(before, after) if check_mode else apply_changed(before, after)
        changed = changed or this_changed
        if this_changed:
            changed_objects.append(f"{obj['kind']}/{obj['metadata']['name']}")
        if want_diff and this_changed:
            lines.extend(diff_lines(before, after))
        results.append(after)
    if wait and not check_mode:
        results = wait_for_objects(
            client,
            results,
            objects,
            state,
            namespace,
            wait_condition,
            wait_timeout,
            wait_sleep,
            sleep,
            clock,
            progress,
        )
    outcome = {
        "changed": changed,
        "changed_objects": changed_objects,
        "resources": [redact(r) for r in results if r is not None],
    }
    if want_diff:
        outcome["diff"] = {"prepared": "\n".join(lines)}
    return outcome


def _field(obj, path):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def owns(live, field_manager, path):
    """Whether field_manager's apply owns the dotted path in the live object's managedFields."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            node = entry.get("fieldsV1") or {}
            for part in path.split("."):
                node = node.get(f"f:{part}") if isinstance(node, dict) else None
            if node is not None:
                return True
    return False


def handover_stubs(obj, before, paths, field_manager):
    """What to apply under `<field_manager>-handover` first, to keep the live value of each dotted
    path the definition now leaves out (spec.replicas once an HPA scales the Deployment).

    Server-side apply drops a field its manager stops applying and the API server then defaults it
    (replicas: 1); a field another manager also applied stays (Kubernetes' documented transfer of
    ownership between managers)."""
    stubs = []
    for path in paths if before is not None else ():
        live = _field(before, path)
        if live is None or _field(obj, path) is not None or not owns(before, field_manager, path):
            continue
        meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}
        stub = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}
        node = stub
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = live
        stubs.append(stub)
    return stubs


def check_kept(client, obj, before, keep, namespace=None):
    """Refuse to make a new generated value where the old one is still in use, or is incomplete.

    ``keep``: ``keys`` the existing object's data must hold; ``in_use_by``, refs ({api_version,
    kind, name}) whose existence means the object existed and its value is in use, so creating a
    new one would not match it; ``hint``, what to do, appended to either error.
    """
    hint = f" {keep['hint']}" if keep.get("hint") else ""
    if before is not None:
        data = before.get("data") or {}
        missing = [key for key in keep.get("keys") or [] if not data.get(key)]
        if missing:
            raise KubeError(f"{describe(before)} has no key {', '.join(map(repr, missing))}.{hint}")
        return
    for ref in keep.get("in_use_by") or []:
        user = {"apiVersion": ref["api_version"], "kind": ref["kind"], "metadata": {"name": ref["name"]}}
        user["metadata"]["namespace"] = obj["metadata"].get("namespace") or namespace
        if client.get(user, namespace) is not None:
            raise KubeError(
                f"{describe(obj)} is gone, but {describe(user)} exists: the value it held is still in use "
                f"and a new one would not match it, so none is made.{hint}"
            )


# ---------------------------------------------------------------------------------------------
# argument specs shared by the action plugins and the modules

CONNECTION_SPEC = {
    "kubeconfig": {"type": "raw"},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool"},
    "ca_cert": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "impersonate_user": {"type": "str"},
    "impersonate_groups": {"type": "list", "elements": "str"},
}
CONNECTION_KEYS = tuple(CONNECTION_SPEC)

APPLY_SPEC = dict(
    CONNECTION_SPEC,
    definitions={"type": "raw"},
    template={"type": "raw"},
    namespace={"type": "str"},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    field_manager={"type": "str", "default": "forumops.discourse"},
    force_conflicts={"type": "bool", "default": True},
    validation={"type": "str", "default": "Strict", "choices": ["Strict", "Warn", "Ignore"]},
    wait={"type": "bool", "default": False},
    wait_condition={
        "type": "dict",
        "options": {
            "type": {"type": "str", "required": True},
            "status": {"type": "str", "default": "True", "choices": ["True", "False", "Unknown"]},
            "reason": {"type": "str"},
        },
    },
    wait_timeout={"type": "int", "default": 120},
    wait_sleep={"type": "int", "default": 1},
    create_only={"type": "bool", "default": False},
    keep={
        "type": "dict",
        "options": {
            "keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "in_use_by": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "api_version": {"type": "str", "default": "v1"},
                    "kind": {"type": "str", "required": True},
                    "name": {"type": "str", "required": True},
                },
            },
            "hint": {"type": "str", "default": ""},
        },
    },
    hand_over={"type": "list", "elements": "str", "default": []},
    own_keys={"type": "list", "elements": "str", "default": [], "no_log": False},
)

GET_SPEC = dict(
    CONNECTION_SPEC,
    api_version={"type": "str", "default": "v1"},
    kind={"type": "str", "required": True},
    name={"type": "str"},
    namespace={"type": "str"},
    label_selectors={"type": "list", "elements": "str", "default": []},
    field_selectors={"type": "list", "elements": "str", "default": []},
    managed_fields={"type": "bool", "default": False},
    wait=APPLY_SPEC["wait"],
    wait_condition=APPLY_SPEC["wait_condition"],
    wait_timeout=APPLY_SPEC["wait_timeout"],
    wait_sleep=APPLY_SPEC["wait_sleep"],
)

EXEC_SPEC = dict(
    CONNECTION_SPEC,
    namespace={"type": "str", "required": True},
    pod={"type": "str", "required": True},
    container={"type": "str"},
    command={"type": "raw", "required": True},
    timeout={"type": "int", "default": 3600},
)


def connection_overrides(params):
    """Explicit connection options -> KubeClient config fields that replace the kubeconfig's."""
    overrides = {}
    if params.get("host"):
        overrides["server"] = params["host"]
    if params.get("api_key"):
        overrides["token"] = params["api_key"]
    if params.get("validate_certs") is not None:
        overrides["insecure"] = not params["validate_certs"]
    if params.get("ca_cert"):
        overrides.update(ca_file=params["ca_cert"], ca_data=b"")
    if params.get("client_cert"):
        overrides.update(cert_file=params["client_cert"], cert_data=b"")
    if params.get("client_key"):
        overrides.update(key_file=params["client_key"], key_data=b"")
    if params.get("impersonate_user") or params.get("impersonate_groups"):
        overrides["impersonate"] = {
            "user": params.get("impersonate_user") or "",
            "uid": "",
            "groups": list(params.get("impersonate_groups") or []),
            "extra": {},
        }
    return overrides


def client_from_params(params):
    return client_for(params.get("kubeconfig") or None, params.get("context"), connection_overrides(params))


def run_apply_task(client, params, check_mode, want_diff, progress=None):
    """run_apply with a k8s_apply task's parameters (APPLY_SPEC), from the module or the action."""
    return run_apply(
        client,
        params["definitions"],
        field_manager=params["field_manager"],
        force=params["force_conflicts"],
        state=params["state"],
        namespace=params.get("namespace"),
        check_mode=check_mode,
        want_diff=want_diff,
        wait=params["wait"],
        wait_condition=params.get("wait_condition"),
        wait_timeout=params["wait_timeout"],
        wait_sleep=params["wait_sleep"],
        validation=params["validation"],
        create_only=params["create_only"],
        keep=params.get("keep"),
        hand_over=params["hand_over"],
        own_keys=params["own_keys"],
        progress=progress,
    )


def module_main(argument_spec, run, supports_check_mode=True):
    """A module's main(): run(client, params) with the client its parameters name; a KubeError or
    a result with failed set fails the task."""
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=supports_check_mode)
    try:
        result = run(client_from_params(module.params), module.params)
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


def run_get(client, params, progress=None):
    """k8s_get: {resources: [...]} like kubernetes.core.k8s_info (Secret data included: use no_log)."""
    labels = selector_string(params.get("label_selectors"))
    fields = selector_string(params.get("field_selectors"))
    api_version, kind, name = params.get("api_version") or "v1", params["kind"], params.get("name")
    try:
        client.resource(api_version, kind)
    except KubeError as exc:
        if exc.status == 404:
            return {"changed": False, "resources": [], "api_found": False}
        raise
    if name and not labels and not fields:
        obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
        found = client.get(obj, params.get("namespace"))
        found = [] if found is None else [found]
    else:
        if name:
            fields = ",".join(filter(None, [fields, f"metadata.name={name}"]))
        found = client.list(api_version, kind, params.get("namespace"), labels, fields)
    if params.get("wait"):
        # Like k8s_info: a named object is waited for until it exists and is ready; found ones until ready.
        if name and not found:
            found = [None]
        targets = [
            item or {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}} for item in found
        ]
        found = wait_for_objects(
            client,
            found,
            targets,
            "present",
            params.get("namespace"),
            params.get("wait_condition"),
            params.get("wait_timeout", 120),
            params.get("wait_sleep", 1),
            time.sleep,
            time.monotonic,
            progress,
        )
    if not params.get("managed_fields"):
        for item in found:
            (item.get("metadata") or {}).pop("managedFields", None)
    return {"changed": False, "resources": found, "api_found": True}


def run_exec(client, params):
    """k8s_exec: run the command in the pod; fails (with the output) when it exits non-zero."""
    command = params["command"]
    argv = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    if not argv:
        raise KubeError("k8s_exec: command is empty")
    result = kube_exec.run(
        client, params["namespace"], params["pod"], argv, params.get("container"), params["timeout"]
    )
    result.update(changed=True, return_code=result["rc"])
    where = f"{shlex.join(argv)} in pod {params['namespace']}/{params['pod']}"
    if result["rc"] is None:
        result.update(failed=True, msg=f"{where}: {result['error']}")
    elif result["rc"] != 0:
        result.update(failed=True, msg=f"{where} exited with {result['rc']}")
    return result
