# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin of playbooks/new_customer.yml (documentation in customer_sites.yml)."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.new_customer import customer_sites


class FilterModule:
    def filters(self):
        return {"customer_sites": customer_sites}
