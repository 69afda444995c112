# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the pups emulation shares: the YAML library, the error, a few names."""

# Imported once here for psych, docker and the renderer (which take it from this module).
try:
    import yaml  # pylint: disable=unused-import

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - the module reports it with missing_required_lib
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc

FILE_SEPARATOR = "_FILE_SEPERATOR_"  # upstream's spelling
DEFAULT_BASE_IMAGE = "discourse/base:2.0.20260803-0122"
DEFAULT_BUILD_SKIP_TAGS = ("precompile", "migrate", "db")


class PupsError(Exception):
    """A config that upstream pups or the launcher would refuse; the message names file and row."""
