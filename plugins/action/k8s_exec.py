# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod inside the controller's worker process, like kubernetes.core.k8s_exec."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import kube
from ansible_collections.forumops.discourse.plugins.plugin_utils.kube_action import KubeAction


class ActionModule(KubeAction):
    MODULE = "k8s_exec"
    SPEC = kube.EXEC_SPEC
    _supports_check_mode = False

    def local(self, client, params):
        return kube.run_exec(client, params)
