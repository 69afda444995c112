# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML 1.1 loading as Ruby's Psych.safe_load does it (what pups and the launcher read configs with)."""

import re

from ansible_collections.forumops.discourse.plugins.module_utils.pups.common import (
    HAS_YAML,
    PupsError,
    yaml,
)

# --------------------------------------------------------------------------------------------------
# YAML 1.1 loading as Psych.safe_load does it
# --------------------------------------------------------------------------------------------------

_RE_STRINGY = re.compile(r"^[^\d.:-]?(?:[^\W\d]|[\s!@#$%^&*(){}<>|/\\~;=])+", re.MULTILINE)
_RE_TIME = re.compile(
    r"^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$",
    re.MULTILINE | re.ASCII,
)
_RE_DATE = re.compile(r"^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$", re.MULTILINE | re.ASCII)
_RE_SEXA_INT = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}$", re.MULTILINE)
_RE_SEXA_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}\.[0-9_]*$", re.MULTILINE)
_RE_FLOAT = re.compile(r"^(?:[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?)$", re.MULTILINE)
_RE_INT = re.compile(
    r"^(?:[-+]?0b[_,]*[0-1][0-1_,]*|[-+]?0[_,]*[0-7][0-7_,]*|[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)"
    r"|[-+]?0x[_,]*[0-9a-fA-F][0-9a-fA-F_,]*)$",
    re.MULTILINE,
)


def _ruby_to_i(text):
    match = re.match(r"\s*([-+]?)(\d+(?:_\d+)*)", text)
    if not match:
        return 0
    number = int(match.group(2).replace("_", ""))
    return -number if match.group(1) == "-" else number


def _ruby_to_f(text):
    match = re.match(r"\s*[-+]?(?:\d+(?:_\d+)*)?(?:\.\d+(?:_\d+)*)?(?:[eE][-+]?\d+)?", text)
    try:
        return float(match.group(0).replace("_", "")) if match and match.group(0).strip() else 0.0
    except ValueError:
        return 0.0


class DisallowedClass(PupsError):
    pass


def psych_tokenize(string):
    """Psych::ScalarScanner#tokenize (Psych 4/5, strict_integer: false) for a plain scalar."""
    if string == "":
        return None
    if "\n" in string or _RE_STRINGY.search(string):
        if len(string) > 5:
            return string
        if re.search(r"^[^ytonf~]", string, re.MULTILINE | re.IGNORECASE):
            return string
        if string == "~" or re.search(r"^null$", string, re.MULTILINE | re.IGNORECASE):
            return None
        if re.search(r"^(yes|true|on)$", string, re.MULTILINE | re.IGNORECASE):
            return True
        if re.search(r"^(no|false|off)$", string, re.MULTILINE | re.IGNORECASE):
            return False
        return string
    if _RE_TIME.search(string):
        raise DisallowedClass(f"Tried to load unspecified class: Time ({string!r})")
    if _RE_DATE.search(string):
        raise DisallowedClass(f"Tried to load unspecified class: Date ({string!r})")
    if re.search(r"^\+?\.inf$", string, re.MULTILINE | re.IGNORECASE):
        return float("inf")
    if re.search(r"^-\.inf$", string, re.MULTILINE | re.IGNORECASE):
        return float("-inf")
    if re.search(r"^\.nan$", string, re.MULTILINE | re.IGNORECASE):
        return float("nan")
    if re.search(r"^:.", string, re.MULTILINE):
        raise DisallowedClass(f"Tried to load unspecified class: Symbol ({string!r})")
    if _RE_SEXA_INT.search(string):
        # Psych multiplies part e by 60 ** |e - 2| whatever the number of parts ("1:30" is 5400)
        return sum(_ruby_to_i(n) * 60 ** abs(e - 2) for e, n in enumerate(string.split(":")))
    if _RE_SEXA_FLOAT.search(string):
        return float(sum(_ruby_to_f(n) * 60 ** abs(e - 2) for e, n in enumerate(string.split(":"))))
    if _RE_FLOAT.search(string):
        if re.match(r"\A[-+]?\.\Z", string):
            return string
        cleaned = re.sub(r"\.([Ee]|$)", r"\1", string.replace(",", "").replace("_", ""))
        return float(cleaned)
    if _RE_INT.search(string):
        return _parse_int(string.replace(",", "").replace("_", ""))
    return string


def _parse_int(text):
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if digits.startswith("0b"):
        return sign * int(digits, 0)
    if digits.startswith("0x"):
        return sign * int(digits, 0)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


if HAS_YAML:
    try:
        from yaml.cyaml import CParser as _Parser
    except ImportError:  # pragma: no cover - PyYAML without libyaml
        _Parser = None
    _PLAIN = "tag:forumops,2025:psych-plain"

    class _PsychResolver(yaml.resolver.BaseResolver):
        def resolve(self, kind, value, implicit):
            if kind is yaml.ScalarNode:
                if implicit[0]:
                    if value == "<<":
                        return "tag:yaml.org,2002:merge"
                    return _PLAIN
                return "tag:yaml.org,2002:str"
            return yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)

    class _PsychConstructor(yaml.constructor.SafeConstructor):
        def construct_plain(self, node):
            return psych_tokenize(node.value)

        def construct_tagged_scalar(self, node):
            if isinstance(node, yaml.ScalarNode):
                return psych_tokenize(node.value)
            if isinstance(node, yaml.SequenceNode):
                return self.construct_sequence(node)
            return self.construct_mapping(node)

        def construct_yaml_map(self, node):
            data = {}
            yield data
            value = self.construct_mapping(node)
            data.update(value)
            marks = getattr(self, "row_lines", None)
            if marks is not None:
                marks[id(data)] = node.start_mark.line

    _PsychConstructor.add_constructor(_PLAIN, _PsychConstructor.construct_plain)
    _PsychConstructor.add_constructor("tag:yaml.org,2002:map", _PsychConstructor.construct_yaml_map)
    for _tag in ("int", "float", "bool", "null"):
        _PsychConstructor.add_constructor(
            "tag:yaml.org,2002:" + _tag, _PsychConstructor.construct_tagged_scalar
        )
    _PsychConstructor.add_constructor(None, _PsychConstructor.construct_tagged_scalar)
    for _tag in ("timestamp", "set", "omap", "pairs", "binary"):
        _PsychConstructor.yaml_constructors.pop("tag:yaml.org,2002:" + _tag, None)

    if _Parser is not None:

        class PsychLoader(_Parser, _PsychConstructor, _PsychResolver):
            def __init__(self, stream):
                _Parser.__init__(self, stream)
                _PsychConstructor.__init__(self)
                _PsychResolver.__init__(self)
                self.row_lines = {}

    else:  # pragma: no cover - PyYAML without libyaml

        class PsychLoader(
            yaml.reader.Reader,
            yaml.scanner.Scanner,
            yaml.parser.Parser,
            yaml.composer.Composer,
            _PsychConstructor,
            _PsychResolver,
        ):
            def __init__(self, stream):
                yaml.reader.Reader.__init__(self, stream)
                yaml.scanner.Scanner.__init__(self)
                yaml.parser.Parser.__init__(self)
                yaml.composer.Composer.__init__(self)
                _PsychConstructor.__init__(self)
                _PsychResolver.__init__(self)
                self.row_lines = {}

    def _reject_aliases(node):
        # libyaml's composer resolves aliases to the anchored node: a node met twice is an alias
        seen = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if current is None:
                continue
            if id(current) in seen:
                raise yaml.composer.ComposerError(
                    None, None, "Unknown alias (aliases are not allowed)", current.start_mark
                )
            seen.add(id(current))
            if isinstance(current, yaml.SequenceNode):
                stack.extend(current.value)
            elif isinstance(current, yaml.MappingNode):
                for key, value in current.value:
                    stack.append(key)
                    stack.append(value)


def psych_safe_load(text, source="<string>", line_offset=0, row_lines=None):
    """Psych.safe_load(text): YAML 1.1 types as Ruby sees them, no aliases, no Date/Time/Symbol."""
    loader = PsychLoader(text)
    try:
        # Psych.safe_load reads the first YAML document of the stream and ignores the rest
        if not loader.check_node():
            return None
        node = loader.get_node()
        _reject_aliases(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 + line_offset) if mark is not None else None
        problem = exc.problem or exc.context or str(exc)
        raise PupsError(
            "{}: YAML error at line {}: {}".format(source, line if line is not None else "?", problem)
        ) from exc
    except yaml.YAMLError as exc:
        raise PupsError(f"{source}: YAML error: {exc}") from exc
    except PupsError as exc:
        raise PupsError(f"{source}: {exc}") from exc
    except TypeError as exc:
        raise PupsError(f"{source}: unsupported YAML ({exc})") from exc
    finally:
        loader.dispose()
    if row_lines is not None:
        row_lines.update(loader.row_lines)
    return data
