# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: secret_refs (documentation in secret_refs.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.secret_refs import secret_refs


class FilterModule:
    def filters(self):
        return {"secret_refs": secret_refs}
