# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""discourse_image's cross-field input checks, in pure Python (no Ansible imports).

Registered in module_utils/cross_field.py CHECKS with the other roles' checks (apart only for that
file's size). The lists of problems come from the functions the role's filters call
(module_utils/image.py, backup_runner.py, supply_chain.py); each former check is one message.
"""

from __future__ import annotations

import os
import re

from ansible_collections.forumops.discourse.plugins.module_utils import (
    backup_runner,
    image,
    pups,
    supply_chain,
)

# A git ref of Discourse (a tag, a branch or a commit) and the base image's repository.
GIT_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
BASE_REPOSITORY_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*$")


def _given(value):
    """A mapping without the keys the argument spec filled in as None: an empty runner stays {}."""
    if isinstance(value, dict):
        return {key: _given(item) for key, item in value.items() if item is not None}
    return value


def _repository_ok(repository):
    # No tag: a colon after the last slash is one, unless a registry port (host:5000/) is there.
    return bool(backup_runner.REPOSITORY_RE.match(repository)) and (
        not re.search(r":[^/]*$", repository) or bool(re.search(r":[0-9]+/", repository))
    )


def image_errors(v, render_dir="", context=None):
    """discourse_image: the Discourse and discourse_docker pins, the base image's pin, templates,
    plugins, baked env and params, the repository and tags, platforms, the git credentials file,
    the backup runner's pins, and the SBOM and signing inputs (with syft and cosign installed)."""
    version, ref = v["discourse_image_discourse_version"], v["discourse_image_discourse_docker_ref"]
    base, tag = v["discourse_image_base_repository"], v["discourse_image_base_tag"]
    digest, repository = v["discourse_image_base_digest"], v["discourse_image_repository"]
    build, push = v["discourse_image_build"], v["discourse_image_push"]
    credentials = v["discourse_image_git_credentials_file"]
    platforms = v["discourse_image_platforms"] if v["discourse_image_platforms"] is not None else []
    extra_secrets = tuple(v["discourse_image_secret_env_keys"] or ())
    templates = image.refused_templates(
        v["discourse_image_templates"] or [], force=v["discourse_image_force_templates"]
    )
    plugins = image.plugin_problems(v["discourse_image_plugins"] or [])
    env = image.env_problems(
        v["discourse_image_env"] or {}, lambda key: pups.is_secret_env(key, extra_secrets)
    )
    if "version" in (v["discourse_image_params"] or {}):
        env.append("discourse_image_params: version is set with discourse_image_discourse_version")
    tags = image.tag_problems(v["discourse_image_tags"] or [])
    if push and not build:
        tags.append("discourse_image_push needs discourse_image_build: true")
    platform = image.platform_problems(platforms, v["discourse_image_builder_flags"] or ())
    runner = backup_runner.runner_problems(_given(v["discourse_image_backup_runner"]))
    supply = supply_chain.build_problems(
        {
            "build": build,
            "push": push,
            "sbom": v["discourse_image_sbom"],
            "sbom_format": v["discourse_image_sbom_format"],
            "sbom_executable": v["discourse_image_sbom_executable"],
            "sign": v["discourse_image_sign"],
            "sign_key": v["discourse_image_sign_key"],
            "sign_sbom": v["discourse_image_sign_sbom"],
            "sign_executable": v["discourse_image_sign_executable"],
            "builder": v["discourse_image_builder"],
            "platforms": platforms,
        }
    )
    checks = [
        (
            version and GIT_REF_RE.match(version) and image.SHA_RE.match(ref),
            "discourse_image_discourse_version must be a git ref of Discourse (a tag such as v3.5.0, a "
            f"branch or a commit; got '{version}') and discourse_image_discourse_docker_ref a full "
            f"40-character discourse_docker commit (got '{ref}'); images/<flavour>.yml holds both.",
        ),
        (
            BASE_REPOSITORY_RE.match(base)
            and image.TAG_RE.match(tag)
            and tag != "latest"
            and (digest == "" or image.DIGEST_RE.match(digest)),
            f"discourse_image_base_tag must be a pinned tag of {base} (not latest; got '{tag}') and "
            f"discourse_image_base_digest empty or sha256:<64 hex> (got '{digest}').",
        ),
        (
            not templates,
            "; ".join(templates) + ". Set discourse_image_force_templates: true to build them anyway.",
        ),
        (not plugins, "; ".join(plugins)),
        (not env, "; ".join(env)),
        (
            _repository_ok(repository) and not tags,
            "discourse_image_repository must be an image repository without a tag such as "
            f"ghcr.io/example/discourse (got '{repository}'); {'; '.join(tags) or 'the tags are valid'}.",
        ),
        (not platform, "; ".join(platform)),
        (
            not credentials or os.path.isfile(credentials),
            f"discourse_image_git_credentials_file: {credentials} is not a file on the build host (a git "
            "credential store file, one https://x-access-token:TOKEN@host line per host).",
        ),
        (not runner, "; ".join(runner)),
        (not supply, "; ".join(supply)),
    ]
    return [message for ok, message in checks if not ok]
