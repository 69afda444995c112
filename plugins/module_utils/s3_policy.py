# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bucket policies (for the s3_buckets module): what to do to a bucket's policy, and how to compare.

No Ansible or boto3 imports, so it is unit-tested directly.
"""

from __future__ import annotations

import json

# S3 assumes this version for a policy document that names none.
DEFAULT_VERSION = "2008-10-17"

# The policy elements whose value may be a single string or a list with the same meaning.
_LISTABLE = ("Action", "NotAction", "Resource", "NotResource")


def parse_policy(policy):
    """A policy document from a dict or its JSON text; None, "" and "null" mean no policy."""
    if policy is None:
        return None
    if isinstance(policy, str):
        text = policy.strip()
        if text in ("", "null"):
            return None
        policy = json.loads(text)
    if not isinstance(policy, dict):
        raise ValueError("a bucket policy must be a JSON object")
    return policy or None


def _normalise_principal(principal):
    if principal == "*":
        return {"AWS": ("*",)}
    if isinstance(principal, dict):
        return {key: _as_sorted_tuple(value) for key, value in principal.items()}
    return principal


def _as_sorted_tuple(value):
    if isinstance(value, list):
        return tuple(
            sorted(json.dumps(item, sort_keys=True) if not isinstance(item, str) else item for item in value)
        )
    return (value,)


def _normalise_statement(statement):
    normalised = {}
    for key, value in statement.items():
        if key in _LISTABLE:
            normalised[key] = _as_sorted_tuple(value)
        elif key in ("Principal", "NotPrincipal"):
            normalised[key] = _normalise_principal(value)
        else:
            normalised[key] = value
    return json.dumps(normalised, sort_keys=True, default=list)


def normalise(policy):
    """A canonical form: equal for documents S3 treats as the same policy."""
    policy = parse_policy(policy)
    if policy is None:
        return None
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    canonical = {key: value for key, value in policy.items() if key != "Statement"}
    canonical.setdefault("Version", DEFAULT_VERSION)
    canonical["Statement"] = sorted(_normalise_statement(statement) for statement in statements)
    return json.dumps(canonical, sort_keys=True)


def plan(current, desired, state):
    """What to do: "put", "delete" or None (nothing), given the current and desired documents."""
    if state == "absent" or parse_policy(desired) is None:
        return "delete" if parse_policy(current) is not None else None
    return None if normalise(current) == normalise(desired) else "put"
