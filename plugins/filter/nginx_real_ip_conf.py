# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: nginx_real_ip_conf (documentation in nginx_real_ip_conf.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils.nginx import real_ip_conf


def _real_ip_conf(cidrs, variable="trusted proxy CIDRs"):
    try:
        return real_ip_conf(cidrs, variable=variable)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"nginx_real_ip_conf": _real_ip_conf}
