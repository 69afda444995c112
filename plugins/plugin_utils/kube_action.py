# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the action plugins that talk to the Kubernetes API (k8s_apply, k8s_get, k8s_exec,
cluster_preflight): argument checks, then the in-process client on a local connection, or the
module of the same name on the host otherwise.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.forumops.discourse.plugins.module_utils import kube

display = Display()


class KubeAction(ActionBase):
    """Argument handling, then the in-process client (local connection) or the module (remote)."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    MODULE = ""
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

    def _is_local(self):
        return getattr(self._connection, "transport", "") in ("local", "ansible.builtin.local")

    def _remote(self, params, task_vars):
        module_args = {k: v for k, v in params.items() if v is not None and k != "template"}
        return self._execute_module(
            module_name=f"forumops.discourse.{self.MODULE}", module_args=module_args, task_vars=task_vars
        )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        self._host = task_vars.get("inventory_hostname", "")
        result = super().run(tmp, task_vars)
        params = self._params()
        prepared = self.prepare(params, task_vars)
        if not self._is_local():
            result.update(self._remote(prepared, task_vars))
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

    def progress(self, message):
        """Long waits say what they wait for (the worker's display reaches the controller's)."""
        display.display(f"  [{self._host}] {message}")
