# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Secrets a pod reads its environment from: are they there, and which version is live."""

from __future__ import annotations


def secret_refs(refs, secrets, namespace):
    """Check each reference ({name, secret, key}: env variable, Secret name, key) against the
    Secrets of the namespace as the API lists them.

    Returns ``versions``, {Secret name: resourceVersion} of every referenced Secret that exists
    (a pod-template checksum over it rolls the pods when any of them changes, whoever changed it),
    and ``problems``, one sentence per missing Secret or key, in the order of ``refs``.
    """
    by_name = {(s.get("metadata") or {}).get("name"): s for s in secrets or []}
    versions = {}
    problems = []
    for ref in refs:
        secret = by_name.get(ref["secret"])
        where = f"Secret {namespace}/{ref['secret']}"
        if secret is None:
            problems.append(f"{where} does not exist ({ref['name']} reads its key '{ref['key']}').")
            continue
        versions[ref["secret"]] = secret["metadata"].get("resourceVersion", "")
        if not (secret.get("data") or {}).get(ref["key"]):
            problems.append(f"{where} has no key '{ref['key']}' ({ref['name']} reads it).")
    return {"versions": versions, "problems": problems}
