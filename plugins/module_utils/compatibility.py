# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which commit of a plugin a Discourse version wants, read from the plugin's ``.discourse-compatibility``.

Pure functions, no I/O: the caller reads the file and resolves the ref. They follow upstream's parser,
``Discourse.find_compatible_resource`` in discourse/discourse ``lib/version.rb`` (read at
00903f6b1194b2a4be74d41f9aaa8c8bff0a6495; discourse/docker_manager keeps a copy of the same code in
``lib/docker_manager/fallback_compatibility_parser.rb`` at f34b19b519bffac17b3bd0d219bb8f24a7455d5f,
"the compatibility parser introduced in discourse/discourse#22714"), and its spec
``spec/lib/version_spec.rb`` (077bf13f1f9e52b092124d4641563623c595e026). The image build runs the same
parser: ``plugin:pull_compatible_all`` (``lib/tasks/plugin.rake`` at 09eae9857f6084ddcc7a9dd9fcd7db057bd496fe)
calls ``Discourse.find_compatible_git_resource`` for each plugin, which reads the file at the plugin's
upstream branch head, and ``git reset --hard``s the plugin to the ref it returns, or leaves it where it is
when it returns nil.

The file is a YAML mapping ``<requirement>: <git ref>``. A requirement is a RubyGems requirement whose
operator is ``<=`` or ``<``; a bare version means ``<=``. The entries are sorted by version (``<`` before
``<=`` at the same version) and the first one the Discourse version satisfies names the ref; when none
does, the plugin's branch head is the compatible commit.

Versions compare as RubyGems' ``Gem::Version`` does (rubygems ``lib/rubygems/version.rb``; the unit tests
compare this module with the ``ruby`` on the machine): numeric and letter segments, a version with a
letter segment is a pre-release (``3.5.0.beta3 < 3.5.0``), ``-`` reads as ``.pre.``
(``2026.3.0-latest`` is ``2026.3.0.pre.latest``), trailing zeros do not count (``3.5 == 3.5.0``).
"""

import datetime
import functools
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

FILENAME = ".discourse-compatibility"

# Ruby's \s is ASCII whitespace only; Python's would also take Unicode spaces.
_S = "[ \t\r\n\f\v]"
# Gem::Version::VERSION_PATTERN
_VERSION = r"[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_ANCHORED_VERSION = re.compile(rf"\A{_S}*(?:{_VERSION})?{_S}*\Z")
# Gem::Requirement::PATTERN with Gem::Requirement::OPS, in RubyGems' order (the regex backtracks to "<=")
_REQUIREMENT = re.compile(rf"\A{_S}*(=|!=|>|<|>=|<=|~>)?{_S}*({_VERSION}){_S}*\Z")
_SEGMENT = re.compile(r"[0-9]+|[a-z]+", re.IGNORECASE)
ALLOWED_OPERATORS = ("<=", "<")


class InvalidVersionListError(ValueError):
    """The file is not a version list upstream accepts (upstream's Discourse::InvalidVersionListError)."""


class GemVersion:
    """A RubyGems Gem::Version: ``text`` as RubyGems keeps it, and its canonical segments."""

    def __init__(self, text):
        text = str(text)
        if not _ANCHORED_VERSION.match(text):
            raise ValueError(f"Malformed version number string {text}")
        # Gem::Version#initialize: blank is "0"; "-" starts a pre-release, spelt ".pre."
        text = text.strip(" \t\r\n\f\v") or "0"
        self.text = text.replace("-", ".pre.")
        self.canonical = _canonical_segments(self.text)

    def __repr__(self):
        return f"GemVersion({self.text!r})"

    def __str__(self):
        return self.text


def _canonical_segments(text):
    """Gem::Version#canonical_segments: numbers as ints, letters as strings, the release part and the
    pre-release part (from the first letter segment on) each without trailing zeros."""
    segments = [int(s) if s.isdigit() else s for s in _SEGMENT.findall(text)]
    first_letter = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    canonical = []
    for part in (segments[:first_letter], segments[first_letter:]):
        while part and part[-1] == 0:
            part = part[:-1]
        canonical.extend(part)
    return canonical


def compare_versions(left, right):
    """-1, 0 or 1 as Gem::Version#<=>: segment by segment, a missing one is 0, letters before numbers."""
    left = left if isinstance(left, GemVersion) else GemVersion(left)
    right = right if isinstance(right, GemVersion) else GemVersion(right)
    if left.text == right.text or left.canonical == right.canonical:
        return 0
    lhs, rhs = left.canonical, right.canonical
    for index in range(max(len(lhs), len(rhs))):
        a = lhs[index] if index < len(lhs) else 0
        b = rhs[index] if index < len(rhs) else 0
        if a == b:
            continue
        if isinstance(a, str) and not isinstance(b, str):
            return -1
        if isinstance(b, str) and not isinstance(a, str):
            return 1
        return -1 if a < b else 1
    return 0


def _ruby_to_s(value):
    """What Ruby's to_s gives for a YAML scalar, so an odd key is named as upstream names it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_requirement(key):
    """(operator, GemVersion) of a version list key, as Gem::Requirement.parse; a bare version is "="."""
    text = _ruby_to_s(key)
    match = _REQUIREMENT.match(text)
    if not match:
        raise InvalidVersionListError(f"Invalid version specifier: {text}")
    return match.group(1) or "=", GemVersion(match.group(2))


def satisfies(target, operator, version):
    """Whether the Discourse version ``target`` satisfies ``<operator> <version>`` (only < and <=)."""
    order = compare_versions(target, version)
    if operator == "<":
        return order < 0
    if operator == "<=":
        return order <= 0
    raise ValueError(f"operator must be one of {' or '.join(ALLOWED_OPERATORS)}, not {operator!r}")


def valid_ref_name(ref):
    """Whether ``git check-ref-format --allow-onelevel <ref>`` accepts ``ref`` (git 2.39's rules in
    Documentation/git-check-ref-format.txt; the unit tests compare with the git on the machine).

    A leading "-" fails too: git takes it for an option and exits non-zero, which upstream reads as an
    invalid ref name.
    """
    if not isinstance(ref, str) or not ref or ref.startswith("-") or ref == "@":
        return False
    if any(bad in ref for bad in ("..", "@{", "//")) or ref[0] == "/" or ref[-1] in "/.":
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c in " ~^:?*[\\" for c in ref):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/"))


def _has_ruby_disallowed(data):
    """Whether YAML.safe_load would refuse the data: dates and times are not among its permitted classes."""
    if isinstance(data, (datetime.date, datetime.datetime)):
        return True
    if isinstance(data, dict):
        return any(_has_ruby_disallowed(k) or _has_ruby_disallowed(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_ruby_disallowed(v) for v in data)
    return False


def load_version_list(text):
    """The file's mapping, or None for an empty file; InvalidVersionListError when upstream would not
    read it as a mapping (YAML errors, aliases, dates and non-mappings alike: upstream rescues the
    YAML error and then refuses anything that is not a Hash)."""
    if text is None or not text.strip():
        return None
    try:
        data = yaml.safe_load(text)
        aliased = any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text))
    except yaml.YAMLError as exc:
        raise InvalidVersionListError(f"not valid YAML: {exc}") from exc
    if aliased:
        raise InvalidVersionListError("YAML aliases are not allowed")
    if not isinstance(data, dict):
        kinds = {type(None): "an empty document", str: "a string", list: "a list"}
        kind = kinds.get(type(data), f"a {type(data).__name__}")
        raise InvalidVersionListError(f"not a mapping of Discourse versions to git refs but {kind}")
    if _has_ruby_disallowed(data):
        raise InvalidVersionListError("dates and times are not allowed (YAML.safe_load refuses them)")
    return data


def _entry_order(left, right):
    """Upstream's sort_by [version, operator == "<" ? 0 : 1]: by version, "<" before "<=" and "="."""
    order = compare_versions(left[0][1], right[0][1])
    if order:
        return order
    return (left[0][0] != "<") - (right[0][0] != "<")


def compatible_ref(text, target_version):
    """The git ref the ``.discourse-compatibility`` text names for Discourse ``target_version``
    (``3.5.0``, ``3.5.0.beta3``, without the tag's ``v``), or None when no entry matches (then the
    plugin's branch head is compatible).

    Raises InvalidVersionListError where upstream raises: a file that is not a mapping, a key that is
    not a requirement, an operator other than <= or < (only when the search reaches that entry, as
    upstream checks it inside its find), a ref name git refuses. Entries at equal versions keep the
    file's order (Ruby's sort_by does not promise one). Two keys that parse alike (``3.5.0`` and
    ``= 3.5.0``) are one entry holding the later ref, as in Ruby's Hash#transform_keys.
    """
    version_list = load_version_list(text)
    if version_list is None:
        return None
    entries = {}
    for key, ref in version_list.items():
        operator, version = parse_requirement(key)
        entries[(operator, version.text)] = ((operator, version), ref)
    ordered = sorted(entries.values(), key=functools.cmp_to_key(_entry_order))
    target = GemVersion(target_version)
    for (operator, version), ref in ordered:
        if operator == "=":
            operator = "<="
        if operator not in ALLOWED_OPERATORS:
            raise InvalidVersionListError(
                f"Invalid version specifier operator for '{operator} {version}'. "
                "Operator must be one of <= or <"
            )
        if satisfies(target, operator, version):
            if ref is None:
                raise InvalidVersionListError(f"Invalid ref name: '{operator} {version}' has no ref")
            if not isinstance(ref, str):
                # upstream hands a non-string to git and crashes; an all-digit short SHA must be quoted
                raise InvalidVersionListError(
                    f"Invalid ref name: {_ruby_to_s(ref)} is a YAML {type(ref).__name__}, not a string "
                    "(quote it)"
                )
            if not valid_ref_name(ref):
                raise InvalidVersionListError(f"Invalid ref name: {ref}")
            return ref
    return None
