# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: site_summary (documentation in site_summary.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.summary import site_summary


class FilterModule:
    def filters(self):
        return {"site_summary": site_summary}
