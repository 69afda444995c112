# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a site's cluster requirements inside the controller's worker process (no module fork)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import preflight
from ansible_collections.forumops.discourse.plugins.plugin_utils.kube_action import KubeAction


class ActionModule(KubeAction):
    MODULE = "cluster_preflight"
    SPEC = preflight.SPEC

    def local(self, client, params):
        return preflight.run(client, params)
