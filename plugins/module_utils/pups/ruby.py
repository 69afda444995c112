# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ruby semantics pups depends on: to_s/inspect, truthiness, String#sub/#gsub replacements and
regex literals (ReplaceCommand.guess_replace_type evals "/.../flags"), translated to Python."""

import math
import re
from decimal import Decimal

from ansible_collections.forumops.discourse.plugins.module_utils.pups.common import (
    PupsError,
)

# --------------------------------------------------------------------------------------------------
# Ruby stringification
# --------------------------------------------------------------------------------------------------

HASH_ARROW = "=>"  # Hash#inspect before Ruby 3.4 (the discourse/base image's Ruby 3.3): {"a"=>1}


def ruby_float_to_s(value):
    """Float#to_s: shortest round-trip digits, fixed notation when -4 < decimal exponent <= 15."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    _unused, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digit_tuple).lstrip("0")
    decpt = len("".join(str(d) for d in digit_tuple)) + exponent - (len(digit_tuple) - len(digits))
    digits = digits.rstrip("0") or "0"
    if -4 < decpt <= 15:
        if decpt <= 0:
            return "{}0.{}{}".format(sign, "0" * -decpt, digits)
        if decpt >= len(digits):
            return f"{sign}{digits}{'0' * (decpt - len(digits))}.0"
        return f"{sign}{digits[:decpt]}.{digits[decpt:]}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}e{decpt - 1:+03d}"


def _ruby_str_inspect(value):
    out = ['"']
    specials = {
        '"': '\\"',
        "\\": "\\\\",
        "\n": "\\n",
        "\t": "\\t",
        "\r": "\\r",
        "\f": "\\f",
        "\v": "\\v",
        "\b": "\\b",
        "\a": "\\a",
        "\x1b": "\\e",
    }
    length = len(value)
    for index, char in enumerate(value):
        if char in specials:
            out.append(specials[char])
        elif char == "#" and index + 1 < length and value[index + 1] in "{$@":
            out.append("\\#")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}" if ord(char) != 0x7F else "\\x7F")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def ruby_inspect(value):
    """Object#inspect for the types Psych's safe_load produces."""
    if value is None:
        return "nil"
    if isinstance(value, str):
        return _ruby_str_inspect(value)
    if isinstance(value, list):
        return "[" + ", ".join(ruby_inspect(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(ruby_inspect(k) + HASH_ARROW + ruby_inspect(v) for k, v in value.items()) + "}"
    return ruby_to_s(value)


def ruby_to_s(value):
    """Object#to_s: nil -> "", true -> "true", 1.5 -> "1.5", arrays and hashes as their inspect."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ruby_float_to_s(value)
    if isinstance(value, (list, dict)):
        return ruby_inspect(value)
    return str(value)


def ruby_truthy(value):
    return value is not None and value is not False


def ruby_eq(left, right):
    """Ruby ==, as Array#index uses it (true != 1, unlike Python)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, dict) and isinstance(right, dict):
        return len(left) == len(right) and all(k in right and ruby_eq(v, right[k]) for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(ruby_eq(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return False
    if isinstance(left, str) != isinstance(right, str):
        return False
    return left == right


# --------------------------------------------------------------------------------------------------
# String#sub / #gsub replacement semantics (rb_reg_regsub)
# --------------------------------------------------------------------------------------------------


class _Match:
    """What rb_reg_regsub needs from a match: group spans, names, and the subject."""

    __slots__ = ("names", "spans", "subject")

    def __init__(self, subject, spans, names=None):
        self.subject = subject
        self.spans = spans
        self.names = names or {}


def _expand_replacement(repl, match):
    if "\\" not in repl:
        return repl
    out = []
    subject = match.subject
    spans = match.spans
    i = 0
    length = len(repl)
    while i < length:
        char = repl[i]
        if char != "\\" or i + 1 >= length:
            out.append(char)
            i += 1
            continue
        nxt = repl[i + 1]
        i += 2
        if nxt in "123456789":
            # only for a regexp without named groups; a String pattern has no groups: dropped
            if match.names:
                continue
            number = int(nxt)
            if number < len(spans) and spans[number][0] >= 0:
                out.append(subject[spans[number][0] : spans[number][1]])
            continue
        if nxt == "k":
            if i < length and repl[i] == "<":
                end = repl.find(">", i + 1)
                if end < 0:
                    raise PupsError(f"invalid group name reference format in replacement {repl!r}")
                name = repl[i + 1 : end]
                if name not in match.names:
                    raise PupsError(f"undefined group name reference {name!r} in replacement {repl!r}")
                number = match.names[name]
                if spans[number][0] >= 0:
                    out.append(subject[spans[number][0] : spans[number][1]])
                i = end + 1
                continue
            out.append("\\k")
            continue
        if nxt in "0&":
            out.append(subject[spans[0][0] : spans[0][1]])
        elif nxt == "`":
            out.append(subject[: spans[0][0]])
        elif nxt == "'":
            out.append(subject[spans[0][1] :])
        elif nxt == "+":
            number = len(spans) - 1
            while number > 0 and spans[number][0] < 0:
                number -= 1
            if number > 0:
                out.append(subject[spans[number][0] : spans[number][1]])
        elif nxt == "\\":
            out.append("\\")
        else:
            out.append("\\" + nxt)
    return "".join(out)


def ruby_gsub_str(text, pattern, repl):
    """String#gsub(String, String): every occurrence, backslash sequences in repl interpreted."""
    if "\\" not in repl:
        return text.replace(pattern, repl)
    out = []
    pos = 0
    search = 0
    step = len(pattern)
    while search <= len(text):
        found = text.find(pattern, search)
        if found < 0:
            break
        out.append(text[pos:found])
        out.append(_expand_replacement(repl, _Match(text, [(found, found + step)])))
        pos = found + step
        if step == 0:
            if found < len(text):
                out.append(text[found])
            pos = found + 1
            search = found + 1
        else:
            search = pos
    out.append(text[pos:])
    return "".join(out)


def _regex_match_obj(text, match):
    spans = [match.span(i) for i in range(match.re.groups + 1)]
    return _Match(text, spans, match.re.groupindex)


def _replacement_for(to, text, match_obj):
    if isinstance(to, dict):
        # String#sub(pattern, Hash): the matched text is looked up, a missing key gives ""
        matched = text[match_obj.spans[0][0] : match_obj.spans[0][1]]
        return ruby_to_s(to.get(matched))
    return _expand_replacement(to, match_obj)


def ruby_sub(text, pattern, to, global_=False):
    """String#sub / #gsub with a String or compiled regex pattern and a String or Hash replacement."""
    if not isinstance(to, (str, dict)):
        raise PupsError(f"no implicit conversion of {_ruby_class(to)} into String (replace `to`)")
    if isinstance(pattern, str):
        if global_ and isinstance(to, str):
            return ruby_gsub_str(text, pattern, to)
        found = text.find(pattern)
        if found < 0:
            return text
        spans = [(found, found + len(pattern))]
        if global_:
            out, pos, search = [], 0, 0
            while search <= len(text):
                found = text.find(pattern, search)
                if found < 0:
                    break
                end = found + len(pattern)
                out.append(text[pos:found])
                out.append(_replacement_for(to, text, _Match(text, [(found, end)])))
                pos = end
                search = end if end > found else end + 1
                if end == found and found < len(text):
                    out.append(text[found])
                    pos = found + 1
            out.append(text[pos:])
            return "".join(out)
        return text[:found] + _replacement_for(to, text, _Match(text, spans)) + text[found + len(pattern) :]
    if global_:
        out, pos = [], 0
        for match in pattern.finditer(text):
            out.append(text[pos : match.start()])
            out.append(_replacement_for(to, text, _regex_match_obj(text, match)))
            pos = match.end()
        out.append(text[pos:])
        return "".join(out)
    match = pattern.search(text)
    if match is None:
        return text
    return (
        text[: match.start()]
        + _replacement_for(to, text, _regex_match_obj(text, match))
        + text[match.end() :]
    )


def _ruby_class(value):
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    return {int: "Integer", float: "Float", str: "String", list: "Array", dict: "Hash"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------------------------------
# Ruby regex literals (ReplaceCommand.guess_replace_type evals "/.../flags")
# --------------------------------------------------------------------------------------------------

_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\r\\n\\f\\v",
    "blank": " \\t",
    "xdigit": "0-9a-fA-F",
    "punct": "!-/:-@\\[-`{-~",
    "word": "\\w",
    "cntrl": "\\x00-\\x1f\\x7f",
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}


def _translate_regex_body(body):
    """Onigmo syntax -> Python re syntax for the constructs templates use."""
    out = []
    i = 0
    length = len(body)
    in_class = False
    while i < length:
        char = body[i]
        if char == "\\" and i + 1 < length:
            nxt = body[i + 1]
            if nxt == "z":
                out.append("\\Z")
            elif nxt == "Z":
                out.append("(?=\\n?\\Z)")
            elif nxt == "h":
                out.append("0-9a-fA-F" if in_class else "[0-9a-fA-F]")
            elif nxt == "H":
                if in_class:
                    raise PupsError(f"\\H inside a character class is not supported: /{body}/")
                out.append("[^0-9a-fA-F]")
            elif nxt == "k" and i + 2 < length and body[i + 2] == "<":
                end = body.index(">", i)
                out.append(f"(?P={body[i + 3 : end]})")
                i = end + 1
                continue
            elif nxt in "pgGRXK" and not in_class:
                raise PupsError(f"Ruby regex escape \\{nxt} has no Python equivalent: /{body}/")
            else:
                out.append(char + nxt)
            i += 2
            continue
        if in_class:
            if char == "[" and body.startswith("[:", i):
                end = body.find(":]", i + 2)
                name = body[i + 2 : end] if end > 0 else ""
                negate = name.startswith("^")
                if negate or name not in _POSIX_CLASSES:
                    raise PupsError(f"POSIX bracket [:{name}:] is not supported: /{body}/")
                out.append(_POSIX_CLASSES[name])
                i = end + 2
                continue
            if char == "[":
                raise PupsError(f"nested character classes are not supported: /{body}/")
            if char == "]":
                in_class = False
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            i += 1
            if i < length and body[i] == "^":
                out.append("^")
                i += 1
            if i < length and body[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if char == "(" and body.startswith("(?<", i) and i + 3 < length and body[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        if char == "(" and body.startswith("(?", i):
            # inline options: Ruby m is Python s
            match = re.match(r"\(\?([imx]*)(?:-([imx]*))?(:|\))", body[i:])
            if match:
                on, off, end = match.group(1), match.group(2) or "", match.group(3)
                on, off = on.replace("m", "s"), off.replace("m", "s")
                out.append("(?" + on + ("-" + off if off else "") + end)
                i += match.end()
                continue
        out.append(char)
        i += 1
    return "".join(out)


_REGEX_CACHE = {}


def parse_ruby_regex(literal):
    """Compile a Ruby regex literal such as ``/upstream[^\\}]+\\}/m`` to a Python pattern.

    Ruby's ``^``/``$`` are always line anchors (re.M); Ruby ``m`` is dot-matches-newline (re.S);
    ``i`` and ``x`` are the same; \\d, \\w and \\s are ASCII-only in Ruby (re.ASCII).
    """
    cached = _REGEX_CACHE.get(literal)
    if cached is not None:
        return cached
    text = literal.rstrip()
    end = None
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "/":
            end = i
            break
        i += 1
    if end is None:
        raise PupsError(f"unterminated regexp meets end of file: {literal!r}")
    body, flags_text = text[1:end], text[end + 1 :]
    if not re.match(r"^[imxounse]*$", flags_text):
        raise PupsError(f"pups evaluates {literal!r} as Ruby code and it is not a plain regex literal")
    if "#{" in body or re.search(r"#[$@]", body):
        raise PupsError(f"regex literal {literal!r} interpolates Ruby code; not supported")
    flags = re.MULTILINE | re.ASCII
    if "m" in flags_text:
        flags |= re.DOTALL
    if "i" in flags_text:
        flags |= re.IGNORECASE
    if "x" in flags_text:
        flags |= re.VERBOSE
    try:
        compiled = re.compile(_translate_regex_body(body), flags)
    except re.error as exc:
        raise PupsError(f"cannot translate regex literal {literal!r}: {exc}") from exc
    _REGEX_CACHE[literal] = compiled
    return compiled
