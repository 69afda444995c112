# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins of the discourse_app role's environment (documentation in app_*.yml beside this file)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import app_env


class FilterModule:
    def filters(self):
        return {
            "app_managed_env": app_env.managed_env,
            "app_secret_refs": app_env.secret_refs,
            "app_secret_env": app_env.secret_env,
        }
