# Copyright: forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: site_settings_env (documentation in site_settings_env.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils.site_settings import site_settings_env


def _site_settings_env(settings, variable="site settings", reserved=None):
    try:
        return site_settings_env(settings, variable=variable, reserved=reserved or ())
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"site_settings_env": _site_settings_env}
