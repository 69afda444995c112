# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins of site names (documentation in resource_name.yml and peer_pod_labels.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.names import (
    peer_pod_labels,
    resource_name,
)


class FilterModule:
    def filters(self):
        return {"resource_name": resource_name, "peer_pod_labels": peer_pod_labels}
