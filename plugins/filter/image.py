# Copyright: forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins of the discourse_image role (documentation in image_*.yml beside this file)."""

from __future__ import annotations

import base64
import glob
import os

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils import (
    backup_runner,
    image,
    image_build,
    image_lock,
    pups,
    site_settings,
)


def _secret_test(extra_secrets):
    extra = tuple(extra_secrets or ())
    return lambda key: pups.is_secret_env(key, extra)


def _guard(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except (image.ImageError, backup_runner.RunnerError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(str(exc)) from None


def image_problems(value, kind, variable=None, force=False, extra_secrets=None, build_flags=None):
    if kind == "templates":
        return image.refused_templates(
            value or [], force=force, variable=variable or "discourse_image_templates"
        )
    if kind == "plugins":
        return image.plugin_problems(value or [], variable=variable or "discourse_image_plugins")
    if kind == "env":
        return image.env_problems(
            value or {}, _secret_test(extra_secrets), variable=variable or "discourse_image_env"
        )
    if kind == "tags":
        return image.tag_problems(value or [], variable=variable or "discourse_image_tags")
    if kind == "backup_runner":
        return backup_runner.runner_problems(value, variable=variable or "discourse_image_backup_runner")
    if kind == "platforms":
        return image.platform_problems(
            value if value is not None else [],
            build_flags or (),
            variable=variable or "discourse_image_platforms",
        )
    raise AnsibleFilterError(f"image_problems: unknown kind {kind!r}")


def image_container_config(
    templates, version, params=None, env=None, plugins=None, precompile="build", base_image=None
):
    return _guard(
        image.container_config,
        templates,
        version,
        params=params,
        env=env,
        plugins=plugins,
        precompile=precompile,
        base_image=base_image,
    )


def image_tag(
    version,
    base_image,
    discourse_docker_ref,
    templates,
    params=None,
    plugins=None,
    env=None,
    precompile="build",
    platforms=None,
):
    inputs = _guard(
        image.tag_inputs,
        base_image,
        discourse_docker_ref,
        templates,
        params,
        plugins,
        env,
        precompile,
        list(platforms or []),
    )
    return _guard(image.image_tag, version, inputs)


def image_build_commands(builder, *args, **kwargs):
    return _guard(image_build.build_commands, builder, *args, **kwargs)


def image_index_command(builder, reference, digest, executable=None, global_flags=None):
    return _guard(
        image_build.index_command,
        builder,
        reference,
        digest,
        executable=executable or None,
        global_flags=tuple(global_flags or ()),
    )


def image_pushed_digest(slurped, key=None):
    """The digest every push wrote: ``slurped`` is ansible.builtin.slurp's results over the digest files."""
    files = [
        (item.get("source") or item.get("item"), base64.b64decode(item.get("content") or "").decode("utf-8"))
        for item in slurped or []
    ]
    return _guard(image_build.pushed_digest, files, key=key or None)


def image_platform_digests(index_text, platforms, digest=""):
    return _guard(image_build.platform_digests, index_text, list(platforms or []), digest=digest or "")


def image_runtime_env(launcher_env, precompile="build", extra_secrets=None):
    return image.runtime_env(launcher_env or {}, precompile, _secret_test(extra_secrets))


def image_migrations(files, core_root, plugin_roots=None):
    paths = [f["path"] if isinstance(f, dict) else f for f in files or []]
    return image.classify_migrations(paths, core_root, list(plugin_roots or []))


def image_site_settings(core_root, plugin_roots=None):
    """The site settings catalog of a Discourse checkout and plugin checkouts: config/site_settings.yml,
    then each bundled plugin's plugins/*/config/settings.yml, then each checkout's config/settings.yml."""
    paths = [os.path.join(core_root, "config", "site_settings.yml")]
    paths += sorted(glob.glob(os.path.join(core_root, "plugins", "*", "config", "settings.yml")))
    paths += [os.path.join(root, "config", "settings.yml") for root in plugin_roots or []]
    sources = []
    for path in paths:
        if path != paths[0] and not os.path.exists(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            raise AnsibleFilterError(f"image_site_settings: cannot read {path}: {exc}") from None
        sources.append((site_settings.settings_file_plugin(path, core_root), data))
    try:
        return site_settings.site_settings_catalog(sources)
    except (AttributeError, TypeError) as exc:
        raise AnsibleFilterError(
            f"image_site_settings: a settings file is not shaped like Discourse's: {exc}"
        ) from None


def image_manifest(data):
    return _guard(
        image.build_manifest,
        data["discourse_version"],
        data["discourse_commit"],
        data["base_image"],
        data.get("base_digest", ""),
        data["discourse_docker_commit"],
        data["templates"],
        data.get("plugins", []),
        data["config_hash"],
        data["reference"],
        data.get("digest", ""),
        data["migrations"],
        data.get("runtime_env", {}),
        data.get("plugin_commits", []),
        data.get("site_settings", {}),
        backup_runner.runner_manifest(
            data.get("backup_runner_plan") or {},
            data.get("backup_runner_digest", ""),
            platforms=_platform_map(data.get("platforms"), data.get("backup_runner_platform_digests")),
        ),
        platforms=_platform_map(data.get("platforms"), data.get("platform_digests")),
    )


def _platform_map(platforms, digests):
    """{platform: digest} in the order of ``platforms``; "" for a platform not pushed."""
    digests = digests or {}
    return {str(p): str(digests.get(p) or "") for p in platforms or []}


def image_plugins(plugins):
    return _guard(image.normalize_plugins, plugins or [])


def image_backup_runner(spec, files, platforms=None):
    return _guard(backup_runner.runner_plan, spec or {}, dict(files or {}), platforms=list(platforms or []))


def image_lock_inputs(lock, path):
    try:
        return image_lock.lock_inputs(lock, path)
    except image_lock.LockError as exc:
        raise AnsibleFilterError(str(exc)) from None


def image_reference(section):
    return image.pinned_reference(section)


def image_labels(manifest):
    return _guard(image.manifest_labels, manifest)


class FilterModule:
    def filters(self):
        return {
            "image_problems": image_problems,
            "image_container_config": image_container_config,
            "image_tag": image_tag,
            "image_build_commands": image_build_commands,
            "image_index_command": image_index_command,
            "image_pushed_digest": image_pushed_digest,
            "image_platform_digests": image_platform_digests,
            "image_runtime_env": image_runtime_env,
            "image_migrations": image_migrations,
            "image_manifest": image_manifest,
            "image_site_settings": image_site_settings,
            "image_labels": image_labels,
            "image_plugins": image_plugins,
            "image_backup_runner": image_backup_runner,
            "image_reference": image_reference,
            "image_lock_inputs": image_lock_inputs,
        }
