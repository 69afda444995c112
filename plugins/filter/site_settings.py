# Copyright: forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: site_settings_plan (documentation in site_settings_plan.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils.site_settings import site_settings_plan


def _site_settings_plan(settings, catalog=None, modes=None, reserved=None, **names):
    try:
        return site_settings_plan(settings, catalog or {}, modes or {}, reserved or (), **names)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"site_settings_plan": _site_settings_plan}
