# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins of the images' supply chain (documentation in image_provenance_labels.yml and
image_supply_chain_problems.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils import supply_chain


def image_provenance_labels(manifest, source=""):
    try:
        return supply_chain.provenance_labels(manifest, source=source)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"image_provenance_labels: not a build manifest ({exc})") from None


def image_supply_chain_problems(inputs):
    try:
        return supply_chain.build_problems(inputs)
    except KeyError as exc:
        raise AnsibleFilterError(f"image_supply_chain_problems: {exc} is missing") from None


class FilterModule:
    def filters(self):
        return {
            "image_provenance_labels": image_provenance_labels,
            "image_supply_chain_problems": image_supply_chain_problems,
        }
