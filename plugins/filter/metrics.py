# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins of site metrics (documentation in site_dashboard.yml, prometheus_plugin_dir.yml
and sidekiq_collector.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils.metrics import (
    prometheus_plugin_dir,
    sidekiq_collector,
    site_dashboard,
)


def _site_dashboard(dashboard, namespace, site, name):
    try:
        return site_dashboard(dashboard, namespace, site, name)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {
            "site_dashboard": _site_dashboard,
            "prometheus_plugin_dir": prometheus_plugin_dir,
            "sidekiq_collector": sidekiq_collector,
        }
