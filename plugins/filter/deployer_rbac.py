# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: deployer_rbac (documentation in deployer_rbac.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.rbac import deployer_objects


class FilterModule:
    def filters(self):
        return {"deployer_rbac": deployer_objects}
