# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read objects inside the controller's worker process, like kubernetes.core.k8s_info without the fork."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import kube
from ansible_collections.forumops.discourse.plugins.plugin_utils.kube_action import KubeAction


class ActionModule(KubeAction):
    MODULE = "k8s_get"
    SPEC = kube.GET_SPEC

    def local(self, client, params):
        return kube.run_get(client, params, progress=self.progress)
