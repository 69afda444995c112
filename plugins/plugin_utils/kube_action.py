# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the action plugins that talk to the Kubernetes API (k8s_apply, k8s_get, k8s_exec,
cluster_preflight): argument checks, then the in-process client on a local connection, or the
module of the same name on the host otherwise.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.forumops.discourse.plugins.module_utils import kube
from ansible_collections.forumops.discourse.plugins.plugin_utils.controller_action import ControllerAction


class KubeAction(ControllerAction):
    """Argument handling, then the in-process client (local connection) or the module (remote)."""

    SPEC: dict = {}
    MUTUALLY_EXCLUSIVE: list = []

    def _params(self):
        # module_defaults of group/forumops.discourse.discourse are already in the task's args.
        args = dict(self._task.args)
        validator = ArgumentSpecValidator(self.SPEC, mutually_exclusive=self.MUTUALLY_EXCLUSIVE)
        validated = validator.validate(args)
        if validated.error_messages:
            raise AnsibleActionFail(f"{self.MODULE}: " + "; ".join(validated.error_messages))
        return validated.validated_parameters

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        params = self._params()
        prepared = self.prepare(params, task_vars)
        if not self._is_local():
            module_args = {k: v for k, v in prepared.items() if v is not None and k != "template"}
            result.update(self._module(module_args, task_vars))
            return result
        try:
            client = kube.client_from_params(prepared)
            result.update(self.local(client, prepared))
        except kube.KubeError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        return result

    def prepare(self, params, task_vars):
        return params

    def local(self, client, params):
        raise NotImplementedError
