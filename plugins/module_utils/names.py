# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names derived from a site's inventory name, defined once for every role and playbook."""

from __future__ import annotations

import re


def resource_name(site):
    """The DNS-label-safe base of a site's Kubernetes object names: lower case, each run of other
    characters one '-', no '-' at either end (forum_A.example -> forum-a-example)."""
    return re.sub(r"[^a-z0-9-]+", "-", str(site).lower()).strip("-")
