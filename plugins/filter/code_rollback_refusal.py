# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: code_rollback_refusal (documentation in code_rollback_refusal.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.migrations import code_rollback_refusal


class FilterModule:
    def filters(self):
        return {"code_rollback_refusal": code_rollback_refusal}
