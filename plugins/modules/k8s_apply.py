#!/usr/bin/python
# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: k8s_apply
short_description: Server-side apply of Kubernetes objects, in process, with per-kind readiness waits
version_added: "0.1.0"
description:
  - Applies a list of Kubernetes objects with server-side apply (one C(PATCH) with
    C(Content-Type application/apply-patch+yaml) per object, C(fieldValidation=Strict) by default),
    or deletes them, and optionally waits until they are ready.
  - On a local connection the action plugin of the same name does the work inside the
    controller's worker process with a small standard-library REST client, so a task costs
    milliseconds of API time instead of a Python process that imports the C(kubernetes) client. On
    any other connection the templates are rendered on the controller and this module runs on the
    host, like M(kubernetes.core.k8s).
  - Reports C(changed) only when the API server stored a change (the object was created or its
    C(resourceVersion) moved); a server-side apply that changes nothing is not stored.
  - Secret values are never returned or shown in a diff; their keys are, with the value
    C(<redacted>).
  - Connection options set with C(module_defaults) for C(group/forumops.discourse.discourse) apply, so
    one play-level C(kubeconfig) serves every module of the collection that talks to the API.
  - The kubeconfig is read as kubectl reads it, exec credential plugins and proxies included;
    C(auth-provider) users are refused naming it.
author:
  - forumops engineering (@forumops)
options:
  definitions:
    description:
      - The objects to apply - a list of mappings, a multi-document YAML string, or a list mixing
        both. Objects of kind C(List) are expanded.
      - Mutually exclusive with O(template).
    type: raw
  template:
    description:
      - Template file(s) rendered on the controller like the C(ansible.builtin.template) lookup (with
        the task's variables, from the role's C(templates/) directory) whose documents are applied
        in order. A path, or a list of paths, or mappings with C(path) and optionally
        C(variable_start_string), C(variable_end_string), C(comment_start_string),
        C(comment_end_string), C(trim_blocks).
      - Only the action plugin renders templates; the module itself receives O(definitions).
    type: raw
  namespace:
    description: Namespace for namespaced objects whose C(metadata.namespace) is not set.
    type: str
  state:
    description: C(present) applies the objects; C(absent) deletes them (background propagation).
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description: The field manager that owns the applied fields.
    type: str
    default: forumops.discourse
  force_conflicts:
    description: Take ownership of fields another manager set (C(force=true)).
    type: bool
    default: true
  validation:
    description:
      - The API server's field validation (C(fieldValidation)); C(Strict) fails on unknown or
        duplicate fields.
    type: str
    choices: [Strict, Warn, Ignore]
    default: Strict
  create_only:
    description:
      - Leave objects that already exist as they are (not patched); they are still waited for and
        returned. For Jobs whose existence records that a step ran.
    type: bool
    default: false
  keep:
    description:
      - Guards generated values (a Secret created once and never replaced) - each Secret among the
        objects is checked before any object is applied.
    type: dict
    suboptions:
      keys:
        description:
          - Data keys an existing Secret must hold (non-empty); a missing one fails, naming Secret and key.
        type: list
        elements: str
        default: []
      in_use_by:
        description:
          - Objects whose existence means the missing object existed and its value is still in use (the
            Deployment that reads a Secret, the database Cluster that has its password). When the object
            is missing and one of these exists, the task fails instead of creating a new value.
        type: list
        elements: dict
        default: []
        suboptions:
          api_version:
            description: API version of the object.
            type: str
            default: v1
          kind:
            description: Kind of the object.
            type: str
            required: true
          name:
            description: Name of the object, in the same namespace.
            type: str
            required: true
      hint:
        description: What to do instead, appended to either error.
        type: str
        default: ""
  hand_over:
    description:
      - Dotted paths (such as V(spec.replicas)) that the definitions may leave out on purpose while
        another controller takes the field over (an HPA). When this field manager still owns such a
        field, its live value is first applied under C(<field_manager>-handover), so leaving it out
        keeps the value instead of letting the API server reset it.
    type: list
    elements: str
    default: []
  own_keys:
    description:
      - Top-level maps (such as V(data) of a ConfigMap) whose keys the definitions own entirely. Keys
        someone else added (C(kubectl edit), another tool) are removed after the apply; server-side
        apply alone never removes a field it does not own.
    type: list
    elements: str
    default: []
  wait:
    description:
      - Wait until every object is ready (or gone, with O(state=absent)). Deployment - observed,
        updated and available replicas equal the desired count and no pod of an old ReplicaSet is left;
        StatefulSet - ready replicas equal the desired count and the current revision is the update
        revision; DaemonSet - every scheduled pod updated and ready; Job - C(Complete) (C(Failed)
        fails the task at once); Pod - C(Ready). Other kinds are ready when they exist, unless
        O(wait_condition) is given.
      - Not done in check mode.
    type: bool
    default: false
extends_documentation_fragment:
  - forumops.discourse.k8s_auth
  - forumops.discourse.k8s_wait
notes:
  - Supports check mode (server-side dry run, C(dryRun=All); changed when the dry-run result differs
    from the live object) and diff mode (a field-level summary; Secret values redacted).
  - Supports C(module_defaults) of C(group/forumops.discourse.discourse) for the connection options.
seealso:
  - module: forumops.discourse.k8s_get
  - module: kubernetes.core.k8s
requirements:
  - PyYAML (for kubeconfig files and YAML definitions)
"""

EXAMPLES = r"""
- name: Apply the Valkey objects and wait for the StatefulSet
  forumops.discourse.k8s_apply:
    template:
      - networking/service.yaml.j2
      - workloads/statefulset.yaml.j2
    wait: true
    wait_timeout: 300

- name: Apply a ConfigMap given inline
  forumops.discourse.k8s_apply:
    definitions:
      - apiVersion: v1
        kind: ConfigMap
        metadata:
          name: forum-env
          namespace: forum
        data:
          DISCOURSE_HOSTNAME: forum.example.com

- name: Run a Job once and wait for it
  forumops.discourse.k8s_apply:
    template: jobs/migrate.yaml.j2
    create_only: true
    wait: true
    wait_timeout: 1800

- name: Wait for a CloudNativePG cluster to be ready
  forumops.discourse.k8s_apply:
    template: database/cluster.yaml.j2
    wait: true
    wait_condition:
      type: Ready
"""

RETURN = r"""
resources:
  description:
    - The objects as the API server returned them (after the wait, when waiting), without
      C(metadata.managedFields); Secret values replaced with C(<redacted>). Deleted objects are
      returned as they were before the deletion.
  returned: always
  type: list
  elements: dict
changed_objects:
  description: C(Kind/name) of each object that was created, changed or deleted, in order.
  returned: always
  type: list
  elements: str
  sample: [ConfigMap/forum-env, Deployment/forum-web]
ansible_facts:
  description: >-
    On a local connection, the host fact C(discourse_changed_objects) grows by RV(changed_objects),
    so a play can summarise everything its tasks changed (playbooks/site.yml does).
  returned: when an object changed
  type: dict
  contains:
    discourse_changed_objects:
      description: C(Kind/name) of every object changed by this play's k8s_apply tasks so far.
      type: list
      elements: str
diff:
  description: With C(--diff), C(prepared) holds one line per created, deleted or changed field.
  returned: when diff mode is on
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import kube  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=kube.APPLY_SPEC,
        mutually_exclusive=[("definitions", "template")],
        supports_check_mode=True,
    )
    params = module.params
    if params.get("template") is not None:
        module.fail_json(
            msg="template is rendered by the k8s_apply action plugin; the module takes definitions"
        )
    try:
        client = kube.client_from_params(params)
        result = kube.run_apply_task(client, params, module.check_mode, module._diff)
    except kube.KubeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
