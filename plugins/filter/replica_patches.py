# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: replica_patches (documentation in replica_patches.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def replica_patches(replicas, namespace, to=None):
    """Partial Deployments that set spec.replicas: each recorded count, or ``to`` for all."""
    if not isinstance(replicas, dict):
        raise AnsibleFilterError(
            f"replica_patches: expects a mapping of Deployment names to replicas, got {replicas!r}"
        )
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": int(count if to is None else to)},
        }
        for name, count in sorted(replicas.items())
    ]


class FilterModule:
    def filters(self):
        return {"replica_patches": replica_patches}
