#!/usr/bin/python
# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: k8s_get
short_description: Read Kubernetes objects in process, like kubernetes.core.k8s_info without the module fork
version_added: "0.1.0"
description:
  - Reads one object by name, or lists objects by label and field selectors, and returns them in
    RV(resources) the way M(kubernetes.core.k8s_info) does, so tasks can switch by changing the
    module name.
  - On a local connection the action plugin of the same name reads inside the controller's worker
    process with the small REST client the M(forumops.discourse.k8s_apply) action uses; on any other
    connection this module runs on the host.
  - Secrets are returned with their data, as C(k8s_info) does; give such tasks C(no_log) true.
  - Connection options set with C(module_defaults) for C(group/forumops.discourse.discourse) apply.
author:
  - forumops engineering (@forumops)
options:
  api_version:
    description: API version of the kind, such as C(v1), C(apps/v1) or C(postgresql.cnpg.io/v1).
    type: str
    default: v1
  kind:
    description: The kind to read, such as C(Secret).
    type: str
    required: true
  name:
    description: Name of one object; all matching objects when unset.
    type: str
  namespace:
    description: Namespace to read from; all namespaces when unset for a namespaced kind.
    type: str
  label_selectors:
    description: Label selectors such as C(app.kubernetes.io/instance=forum), all of which must match.
    type: list
    elements: str
    default: []
  field_selectors:
    description: Field selectors such as C(status.phase=Running), all of which must match.
    type: list
    elements: str
    default: []
  managed_fields:
    description: Keep C(metadata.managedFields) in the objects (to check which field manager owns what).
    type: bool
    default: false
  wait:
    description:
      - Wait until the object(s) are ready, with the readiness rules of M(forumops.discourse.k8s_apply)
        (or O(wait_condition)); a named object that does not exist yet is waited for.
    type: bool
    default: false
extends_documentation_fragment:
  - forumops.discourse.k8s_auth
  - forumops.discourse.k8s_wait
notes:
  - Supports check mode; it only reads.
seealso:
  - module: forumops.discourse.k8s_apply
  - module: kubernetes.core.k8s_info
requirements:
  - PyYAML (for kubeconfig files)
"""

EXAMPLES = r"""
- name: Read the existing Valkey password
  forumops.discourse.k8s_get:
    kind: Secret
    name: forum-valkey
    namespace: forum
  register: valkey_secret
  no_log: true

- name: List this image's Jobs
  forumops.discourse.k8s_get:
    api_version: batch/v1
    kind: Job
    namespace: forum
    label_selectors:
      - app.kubernetes.io/instance=forum
"""

RETURN = r"""
resources:
  description:
    - The objects found (without C(metadata.managedFields) unless O(managed_fields)); empty when none matched.
  returned: always
  type: list
  elements: dict
api_found:
  description: Whether the API server serves the kind; false (and no failure) for a CRD that is not installed.
  returned: always
  type: bool
"""

from ansible_collections.forumops.discourse.plugins.module_utils import kube  # noqa: E402


def main():
    kube.module_main(kube.GET_SPEC, kube.run_get)


if __name__ == "__main__":
    main()
