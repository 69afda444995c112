# Copyright: forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Discourse site settings: the catalog an image carries, and how each inventory setting reaches it.

Two ways in, as upstream Discourse implements them (discourse/discourse):

- ``locked``: a ``DISCOURSE_<KEY>`` variable. ``SiteSettingExtension#setting`` (lib/site_setting_extension.rb)
  shadows every site setting GlobalSetting answers: the setting is hidden from the admin UI, cannot be
  changed there, and gets no ``_map`` helper (``setup_shadowed_methods``), so list settings break
  callers of ``<name>_map``. GlobalSetting's provider (app/models/global_setting.rb) strips the value
  and coerces only "true"/"false" and ``-?[0-9]+``, so a float, or a string that looks like a number
  or boolean, arrives as another Ruby type.
- ``default``: a database override through ``SiteSetting.set_and_log`` in a Job, which the admin UI
  shows and can change; ``SiteSettings::DbProvider`` publishes the change to running processes.

The catalog follows ``SiteSettings::YamlLoader`` (lib/site_settings/yaml_loader.rb) and
``SiteSettings::TypeSupervisor`` (lib/site_settings/type_supervisor.rb). Pure functions, no Ansible
imports, so they are unit-tested directly.
"""

from __future__ import annotations

import difflib
import re

SETTING_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MODES = ("locked", "default")
# SiteSettings::TypeSupervisor.types (lib/site_settings/type_supervisor.rb).
TYPES = (
    "string",
    "time",
    "integer",
    "float",
    "bool",
    "null",
    "enum",
    "list",
    "url_list",
    "host_list",
    "category_list",
    "value_list",
    "regex",
    "email",
    "username",
    "category",
    "uploaded_image_list",
    "upload",
    "group",
    "group_list",
    "tag_list",
    "color",
    "simple_list",
    "emoji_list",
    "html_deprecated",
    "tag_group_list",
    "file_size_restriction",
)
INTEGER_TYPES = ("integer", "file_size_restriction")
# Scalar types whose value is a string in Ruby (TypeSupervisor#to_rb_value: value.to_s).
STRING_TYPES = ("string", "email", "username", "regex", "color", "group", "category", "time", "url")
UPLOAD_TYPES = ("upload", "uploaded_image_list")
# GlobalSetting::BaseProvider.coerce: these strings do not stay strings.
COERCED = re.compile(r"\A(?:true|false|-?[0-9]+)\Z")
# Characters config/discourse.conf cannot carry (see plugins/module_utils/inputs.py).
CONF_UNSAFE = (("'", "a single quote"), ("\n", "a line break"), ("\r", "a line break"), ("<%", "<%"))


def value_type(value):
    """TypeSupervisor.parse_value_type, by name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise TypeError(type(value).__name__)


def is_list_type(kind):
    return kind == "list" or kind.endswith("_list")


def setting_entry(default, opts, plugin=None):
    """One catalog entry for a setting as YamlLoader yields it (default, opts).

    The type is TypeSupervisor#get_data_type's: ``enum:`` implies enum, a static ``type:`` wins, else
    the default's Ruby type. A static type this list does not know (a newer Discourse) is kept as given.
    """
    kind = opts.get("type") or ("enum" if opts.get("enum") else None)
    entry = {"type": str(kind) if kind else value_type(default), "default": default}
    if isinstance(opts.get("choices"), list):
        entry["choices"] = [str(c) for c in opts["choices"]]
    if is_list_type(entry["type"]) and opts.get("allow_any") is False:
        entry["allow_any"] = False
    for key in ("min", "max"):
        if isinstance(opts.get(key), int) and not isinstance(opts.get(key), bool):
            entry[key] = opts[key]
    for flag in ("secret", "themeable"):
        if opts.get(flag) is True:
            entry[flag] = True
    if plugin:
        entry["plugin"] = str(plugin)
    return entry


def catalog_from_settings(data, plugin=None):
    """{name: entry} of one parsed settings file (config/site_settings.yml or a plugin's
    config/settings.yml): categories, then settings, each a mapping with ``default`` or a bare default."""
    catalog = {}
    for category in (data or {}).values():
        for name, spec in (category or {}).items():
            if isinstance(spec, dict):
                opts = dict(spec)
                default = opts.pop("default", None)
            else:
                default, opts = spec, {}
            catalog[str(name)] = setting_entry(default, opts, plugin)
    return catalog


def site_settings_catalog(sources):
    """Merge ``[(plugin or None, parsed file), ...]``; a later file redefines a setting, as upstream's
    load order does. ``default_locale`` is in no file: SiteSettingExtension defines it, with
    SiteSettings::DefaultsProvider::DEFAULT_LOCALE as its default, and has_setting? accepts it."""
    catalog = {"default_locale": {"type": "enum", "default": "en"}}
    for plugin, data in sources:
        catalog.update(catalog_from_settings(data, plugin))
    return dict(sorted(catalog.items()))


def settings_file_plugin(path, core_root):
    """The plugin a settings file belongs to: None for ``<core>/config/site_settings.yml``, else the
    directory holding ``config/settings.yml`` (a bundled plugin under ``<core>/plugins/`` or a checkout)."""
    path = str(path)
    if path == core_root.rstrip("/") + "/config/site_settings.yml":
        return None
    return path.rstrip("/").split("/")[-3]


# ---- Inventory settings → env or database ----------------------------------------------------------


def _scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError(type(value).__name__)


def _normalise(where, kind, entry, value):
    """(value as Discourse stores it, problem or None)."""
    if is_list_type(kind):
        items = value if isinstance(value, list) else [value]
        try:
            texts = [_scalar_text(item) for item in items]
        except TypeError as exc:
            return None, f"{where} is a {kind} setting; give a list of strings or numbers, not {exc}"
        if entry.get("allow_any") is False and "choices" in entry:
            bad = [t for t in texts if t not in entry["choices"]]
            if bad:
                return (
                    None,
                    f"{where}: {', '.join(bad)} not among the choices ({', '.join(entry['choices'])})",
                )
        return "|".join(texts), None
    if isinstance(value, (list, dict)):
        return None, f"{where} is a {kind} setting; a {type(value).__name__} fits no such setting"
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true", None
        return None, f"{where} is a bool setting; give true or false"
    if kind in INTEGER_TYPES or (kind == "enum" and isinstance(entry.get("default"), int)):
        if isinstance(value, bool) or not re.match(r"\A-?[0-9]+\Z", str(value)):
            return None, f"{where} is an {kind} setting with whole-number values; give a whole number"
        number = int(value)
        if number < entry.get("min", number):
            return None, f"{where}: {number} is below the minimum {entry['min']}"
        if number > entry.get("max", number):
            return None, f"{where}: {number} is above the maximum {entry['max']}"
        if "choices" in entry and str(number) not in entry["choices"]:
            return None, f"{where}: {number} is not one of {', '.join(entry['choices'])}"
        return number, None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"{where} is a float setting; give a number"
        return value, None
    text = _scalar_text(value)
    if kind == "enum" and "choices" in entry and text not in entry["choices"]:
        return None, f"{where}: {text!r} is not one of {', '.join(entry['choices'])}"
    return text, None


def _env_unsafe(kind, stored):
    """Why DISCOURSE_<KEY> cannot carry this (normalised) value faithfully, or None."""
    if is_list_type(kind):
        return "a list setting set from the environment loses its _map helper"
    if kind == "float":
        return "the environment gives Discourse a string or integer, not a float"
    text = _scalar_text(stored)
    for mark, what in CONF_UNSAFE:
        if mark in text:
            return f"the value holds {what}, which config/discourse.conf cannot carry"
    if isinstance(stored, str) and (not text.strip() or text != text.strip() or COERCED.match(text)):
        return "GlobalSetting would drop an empty value, strip it, or read it as a number or boolean"
    return None


def site_settings_plan(
    settings,
    catalog=None,
    modes=None,
    reserved=(),
    variable="discourse_app_site_settings",
    modes_variable="discourse_app_site_settings_mode",
):
    """Split inventory site settings into ``{"env": {DISCOURSE_<KEY>: text}, "database": {name: value}}``.

    ``catalog`` is the image's catalog (build manifest ``site_settings``); without one, names are
    checked for shape only and the type is the value's own. ``modes`` maps a name to ``locked`` (env)
    or ``default`` (database); a name without a mode is locked when the environment can carry it and
    set in the database otherwise. Raises ValueError listing every problem, one per line.
    """
    if not isinstance(settings, dict):
        raise ValueError(
            f"{variable} must be a mapping of setting name to value, got {type(settings).__name__}"
        )
    modes = modes or {}
    if not isinstance(modes, dict):
        raise ValueError(f"{modes_variable} must be a mapping of setting name to locked or default")
    catalog = catalog or {}
    reserved = set(reserved)
    problems, env, database = [], {}, {}
    for key in sorted(modes, key=str):
        if key not in settings:
            problems.append(f"{modes_variable}: {key!r} is not in {variable}")
        elif modes[key] not in MODES:
            problems.append(f"{modes_variable}.{key}: {modes[key]!r} is not locked or default")
    for key in sorted(settings, key=str):
        value, where = settings[key], f"{variable}.{key}"
        if not isinstance(key, str) or not SETTING_NAME.match(key):
            problems.append(
                f"{variable}: {key!r} is not a Discourse setting name "
                "(lowercase letters, digits and underscores, starting with a letter)"
            )
            continue
        if key in reserved:
            problems.append(
                f"{variable}: {key!r} is managed by the collection; set it through its own variable"
            )
            continue
        if value is None:
            problems.append(f"{variable}: {key!r} has no value; remove the key to keep Discourse's default")
            continue
        if catalog and key not in catalog:
            close = difflib.get_close_matches(key, list(catalog), n=3, cutoff=0.6)
            hint = f" (closest: {', '.join(close)})" if close else ""
            problems.append(
                f"{variable}: {key!r} is not a site setting of this image's Discourse or plugins{hint}"
            )
            continue
        try:
            entry = catalog.get(key) or {"type": "list" if isinstance(value, list) else value_type(value)}
        except TypeError as exc:
            problems.append(
                f"{where} has a value of type {exc}; use a string, number, boolean or list of those"
            )
            continue
        kind = entry["type"]
        if entry.get("secret"):
            problems.append(
                f"{where} is a secret setting: an inventory value would land in a ConfigMap or a Job; "
                "set it in the admin UI"
            )
            continue
        if kind in UPLOAD_TYPES:
            problems.append(f"{where} is an {kind} setting (upload ids); set it in the admin UI")
            continue
        stored, problem = _normalise(where, kind, entry, value)
        if problem:
            problems.append(problem)
            continue
        unsafe = _env_unsafe(kind, stored)
        mode = modes.get(key) or ("default" if unsafe else "locked")
        if mode == "locked" and unsafe:
            problems.append(f"{where} cannot be locked: {unsafe}; use mode default")
        elif mode == "default" and entry.get("themeable"):
            problems.append(
                f"{where} is themeable: Discourse sets it per theme, not with set_and_log; lock it"
            )
        elif mode == "locked":
            env["DISCOURSE_" + key.upper()] = _scalar_text(stored)
        elif mode == "default":
            database[key] = stored
    if problems:
        raise ValueError("\n".join(problems))
    return {"env": env, "database": database}
