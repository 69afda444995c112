# Copyright: forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn Discourse site settings into the DISCOURSE_<KEY> environment Discourse reads at boot.

Discourse maps every DISCOURSE_<KEY> variable to the global setting <key>, which also overrides the
site setting of that name. Pure functions, no Ansible imports, so they are unit-tested directly.
"""

from __future__ import annotations

import re

SETTING_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def scalar_value(value):
    """Render a string, number or boolean; raise TypeError naming any other type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TypeError(type(value).__name__)


def env_value(value):
    """Render one setting value the way Discourse parses it back from the environment."""
    if isinstance(value, (list, tuple)):
        # Discourse list settings are pipe-separated.
        return "|".join(scalar_value(item) for item in value)
    return scalar_value(value)


def site_settings_env(settings, variable="site settings", reserved=()):
    """Return {DISCOURSE_<KEY>: value} for a dict of site settings, sorted by name.

    Raises ValueError naming ``variable`` and the offending key: a key that is not a Discourse
    setting name, a key listed in ``reserved`` (managed elsewhere, for example by a role), or a
    value that is null, a mapping, or a list holding anything but scalars.
    """
    if not isinstance(settings, dict):
        raise ValueError(
            f"{variable} must be a mapping of setting name to value, got {type(settings).__name__}"
        )
    reserved = set(reserved)
    env = {}
    for key in sorted(settings, key=str):
        value = settings[key]
        if not isinstance(key, str) or not SETTING_NAME.match(key):
            raise ValueError(
                f"{variable}: {key!r} is not a Discourse setting name "
                "(lowercase letters, digits and underscores, starting with a letter)"
            )
        if key in reserved:
            raise ValueError(
                f"{variable}: {key!r} is managed by the collection; set it through its own variable"
            )
        if value is None:
            raise ValueError(f"{variable}: {key!r} has no value; remove the key to keep Discourse's default")
        try:
            env["DISCOURSE_" + key.upper()] = env_value(value)
        except TypeError as exc:
            raise ValueError(
                f"{variable}: {key!r} has a value of type {exc}; "
                "use a string, number, boolean or list of those"
            ) from None
    return env
