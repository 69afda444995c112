#!/usr/bin/python
# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: k8s_exec
short_description: Run a command in a pod's container, like kubernetes.core.k8s_exec without the module fork
version_added: "0.1.0"
description:
  - Runs O(command) in a container of a running pod through the API server's C(exec) subresource
    (the WebSocket channel protocol kubectl uses) and returns its output and exit code once it exits.
  - On a local connection the action plugin of the same name runs it inside the controller's worker
    process with the client of M(forumops.discourse.k8s_apply); on any other connection this module
    runs on the host.
  - Fails when the command exits non-zero, with its output in the result.
author:
  - forumops engineering (@forumops)
options:
  namespace:
    description: Namespace of the pod.
    type: str
    required: true
  pod:
    description: Name of the pod.
    type: str
    required: true
  container:
    description: Container to run in; the pod's default container when unset.
    type: str
  command:
    description:
      - The command, as a list of words or as one string split like a shell would (no shell runs it).
    type: raw
    required: true
  timeout:
    description: Seconds to wait for output before giving up on the command.
    type: int
    default: 3600
extends_documentation_fragment:
  - forumops.discourse.k8s_auth
notes:
  - Does not support check mode; the command could change anything.
seealso:
  - module: kubernetes.core.k8s_exec
requirements:
  - PyYAML (for kubeconfig files)
"""

EXAMPLES = r"""
- name: Take a Discourse backup in a web pod
  forumops.discourse.k8s_exec:
    namespace: forum
    pod: forum-web-7d9c9b7f6-x2x5q
    container: web
    command: discourse backup --sql-only
"""

RETURN = r"""
stdout:
  description: What the command wrote to its standard output.
  returned: always
  type: str
stderr:
  description: What the command wrote to its standard error.
  returned: always
  type: str
rc:
  description: The command's exit code.
  returned: always
  type: int
return_code:
  description: The same as RV(rc), under the name M(kubernetes.core.k8s_exec) uses.
  returned: always
  type: int
"""

from ansible_collections.forumops.discourse.plugins.module_utils import kube  # noqa: E402


# Not in check mode: a command's effect cannot be previewed.
def main():
    kube.module_main(kube.EXEC_SPEC, kube.run_exec, supports_check_mode=False)


if __name__ == "__main__":
    main()
