# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: alert_selectors (documentation in alert_selectors.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.alerts import site_selectors


def alert_selectors(namespace, app_name, database=None, valkey=None, certificate=""):
    return site_selectors(namespace, app_name, database=database, valkey=valkey, certificate=certificate)


class FilterModule:
    def filters(self):
        return {"alert_selectors": alert_selectors}
