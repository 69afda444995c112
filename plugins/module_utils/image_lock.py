# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An image lock file (images/<flavour>.yml) as the discourse_image role's inputs.

The lock holds every pin of a build; discourse_image's entry point ``lock`` (playbooks/build_image.yml)
reads it, checks it through ``lock_inputs`` and builds with the result. Pure, standard library only.
"""

from __future__ import annotations

import copy

# The pins a build cannot do without, as (section, key).
REQUIRED = (
    ("discourse", "version"),
    ("discourse_docker", "commit"),
    ("base_image", "tag"),
    ("image", "repository"),
)
# Each role input and where the lock keeps it: (input, (section, key) or (key,), default when absent).
# A key that is present keeps its value, even null; only an absent key takes the default.
MISSING = object()
INPUTS = (
    ("discourse_image_discourse_version", ("discourse", "version"), MISSING),
    ("discourse_image_discourse_commit", ("discourse", "commit"), ""),
    ("discourse_image_discourse_repo", ("discourse", "repo"), "https://github.com/discourse/discourse.git"),
    ("discourse_image_discourse_docker_ref", ("discourse_docker", "commit"), MISSING),
    (
        "discourse_image_discourse_docker_repo",
        ("discourse_docker", "repo"),
        "https://github.com/discourse/discourse_docker.git",
    ),
    ("discourse_image_base_repository", ("base_image", "repository"), "discourse/base"),
    ("discourse_image_base_tag", ("base_image", "tag"), MISSING),
    ("discourse_image_base_digest", ("base_image", "digest"), ""),
    ("discourse_image_templates", ("templates",), ["web", "web.ratelimited", "offline-page"]),
    ("discourse_image_params", ("params",), {}),
    ("discourse_image_env", ("env",), {}),
    ("discourse_image_plugins", ("plugins",), []),
    ("discourse_image_repository", ("image", "repository"), MISSING),
    ("discourse_image_precompile", ("image", "precompile"), "build"),
    ("discourse_image_platforms", ("image", "platforms"), []),
    ("discourse_image_backup_runner", ("backup_runner",), {}),
)


class LockError(Exception):
    """A lock file without a pin the build needs; the message names the file and the pins."""


def _get(lock, path):
    """The value at ``path`` (section, key) in the lock, or MISSING; a section that is not a mapping
    has no keys."""
    value = lock
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def _and(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def lock_inputs(lock, path):
    """{discourse_image input: value} of the lock read from ``path``; LockError when a pin of
    REQUIRED is absent. Defaults are copies: the caller may change what it gets."""
    lock = lock if isinstance(lock, dict) else {}
    missing = [".".join(pin) for pin in REQUIRED if _get(lock, pin) is MISSING]
    if missing:
        raise LockError(f"{path} must set {_and(missing)} (see images/default.yml).")
    inputs = {}
    for name, where, default in INPUTS:
        value = _get(lock, where)
        inputs[name] = copy.deepcopy(default) if value is MISSING else value
    return inputs
