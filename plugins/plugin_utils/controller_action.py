# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the action plugins that do their module's work inside the controller's worker process
on a local connection (no module fork), and run the module of the same name on the host otherwise
(k8s_apply, k8s_get, k8s_exec, cluster_preflight through kube_action.py; s3_buckets).
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.forumops.discourse.plugins.plugin_utils import template_vars

display = Display()


class ControllerAction(ActionBase):
    """The connection test, the module on a remote host, and progress lines on the controller."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    MODULE = ""

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        # ansible-core renders each variable an argument reads in a context of all the host's
        # variables, again at each reference; template_vars.py renders each once, with what it reads.
        return template_vars.template_arg(templar, value)

    def run(self, tmp=None, task_vars=None):
        self._host = (task_vars or {}).get("inventory_hostname", "")
        return super().run(tmp, task_vars)

    def _is_local(self):
        return getattr(self._connection, "transport", "") in ("local", "ansible.builtin.local")

    def _module(self, module_args, task_vars):
        """The module of the same name, run on the host."""
        return self._execute_module(
            module_name=f"forumops.discourse.{self.MODULE}", module_args=module_args, task_vars=task_vars
        )

    def progress(self, message):
        """Long waits say what they wait for (the worker's display reaches the controller's)."""
        display.display(f"  [{self._host}] {message}")
