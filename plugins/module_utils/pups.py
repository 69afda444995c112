# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What upstream's launcher and pups 1.3.0 do to a Discourse container config, in pure Python.

Only PyYAML and the standard library are used, so that this file can be unit-tested without Ansible.
Every rule here was read from the Ruby sources of pups 1.3.0 (``lib/pups/config.rb``, ``cli.rb``,
``*_command.rb``, ``docker.rb``), Psych (Ruby's YAML loader), the bash ``launcher`` of
discourse_docker and the Go launcher v2 (``v2/config/config.go``); comments name the Ruby behaviour
that a rule reproduces.
"""

import hashlib
import json
import math
import re
from decimal import Decimal

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - the module reports it with missing_required_lib
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc

FILE_SEPARATOR = "_FILE_SEPERATOR_"  # upstream's spelling
DEFAULT_BASE_IMAGE = "discourse/base:2.0.20260803-0122"
DEFAULT_BUILD_SKIP_TAGS = ("precompile", "migrate", "db")
DEFAULT_LANG = "en_US.UTF-8"
CONFIG_TARGET = "/tmp/forumops-pups-config.yaml"
# A git credential store file (https://user:token@host lines), mounted only while pups clones: git
# reads it through credential.helper, so no token reaches a layer, .git/config, a label or the manifest.
GIT_CREDENTIALS_SECRET = "git_credentials"
GIT_CREDENTIALS_TARGET = "/run/secrets/git_credentials"
GIT_CREDENTIALS_ENV = (
    f"GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper "
    f"GIT_CONFIG_VALUE_0='store --file={GIT_CREDENTIALS_TARGET}' "
)

# ENV set in the image when bake_env is false (the Go launcher's defaultBakeEnv, plus the *_ON_BOOT set).
DEFAULT_BAKE_ENV = (
    "RAILS_ENV",
    "UNICORN_WORKERS",
    "UNICORN_SIDEKIQS",
    "RUBY_GC_HEAP_GROWTH_MAX_SLOTS",
    "RUBY_GC_HEAP_INIT_SLOTS",
    "RUBY_GC_HEAP_OLDOBJECT_LIMIT_FACTOR",
    "CREATE_DB_ON_BOOT",
    "MIGRATE_ON_BOOT",
    "PRECOMPILE_ON_BOOT",
)

# The Go launcher's utils.KnownSecrets, and more: keys that must never reach ARG, ENV, LABEL or RUN.
KNOWN_SECRETS = frozenset(
    (
        "DISCOURSE_DB_HOST",
        "DISCOURSE_DB_PORT",
        "DISCOURSE_DB_SOCKET",
        "DISCOURSE_DB_REPLICA_HOST",
        "DISCOURSE_DB_REPLICA_PORT",
        "DISCOURSE_DB_USERNAME",
        "DISCOURSE_DB_PASSWORD",
        "DISCOURSE_REDIS_HOST",
        "DISCOURSE_REDIS_PORT",
        "DISCOURSE_REDIS_REPLICA_HOST",
        "DISCOURSE_REDIS_PASSWORD",
        "DISCOURSE_SMTP_ADDRESS",
        "DISCOURSE_SMTP_USER_NAME",
        "DISCOURSE_SMTP_PASSWORD",
        "DISCOURSE_DEVELOPER_EMAILS",
        "DISCOURSE_SECRET_KEY_BASE",
        "DISCOURSE_HOSTNAME",
        "DISCOURSE_SAML_CERT",
        "DISCOURSE_SAML_TITLE",
        "DISCOURSE_SAML_TARGET_URL",
        "DISCOURSE_SAML_NAME_IDENTIFIER_FORMAT",
        "DISCOURSE_MAXMIND_LICENSE_KEY",
        "LETSENCRYPT_ACCOUNT_EMAIL",
    )
)
_SECRET_PREFIXES = ("DISCOURSE_DB_", "DISCOURSE_REDIS_", "DISCOURSE_SMTP_", "DISCOURSE_SAML_")
_SECRET_WORDS = re.compile(
    r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(?:^|_)KEY(?:_|$)|ACCESS_KEY|API_KEY|_CERT"
)


class PupsError(Exception):
    """A config that upstream pups or the launcher would refuse; the message names file and row."""


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


def guess_replace_type(item):
    """ReplaceCommand.guess_replace_type: a value whose first character is "/" is eval'd as a regex."""
    if isinstance(item, str):
        return parse_ruby_regex(item) if item[:1] == "/" else item
    if item is None:
        raise PupsError("undefined method `[]' for nil (replace `from`/`to` is missing)")
    if isinstance(item, list) and item and ruby_eq(item[0], "/"):
        raise PupsError("no implicit conversion of Array into String (eval)")
    return item


def ruby_rindex(text, pattern):
    if isinstance(pattern, str):
        found = text.rfind(pattern)
        return None if found < 0 else found
    for pos in range(len(text), -1, -1):
        if pattern.match(text, pos):
            return pos
    return None


def apply_replace(text, body, params):
    """The text a ``replace`` command writes back (ReplaceCommand#replaced_text)."""
    if not isinstance(body, dict):
        raise PupsError("replace needs a hash with filename, from and to")
    from_ = guess_replace_type(body.get("from"))
    to = guess_replace_type(body.get("to"))
    if not isinstance(from_, (str, re.Pattern)):
        raise PupsError(f"wrong argument type {_ruby_class(from_)} (expected Regexp) in replace `from`")
    if isinstance(to, re.Pattern):
        raise PupsError("no implicit conversion of Regexp into String (replace `to` starts with /)")
    if isinstance(to, str):
        to = interpolate_params(to, params)
    direction = body.get("direction")
    if ruby_truthy(direction) and not isinstance(direction, str):
        raise PupsError(f"undefined method `to_sym' for {direction!r} (replace `direction`)")
    if ruby_to_s(body.get("global")) == "true":
        return ruby_sub(text, from_, to, global_=True)
    if direction == "reverse":
        index = ruby_rindex(text, from_)
        if index is None:
            # upstream: `nil - 1` raises NoMethodError; a reverse replace that finds nothing fails
            raise PupsError(
                "undefined method `-' for nil: reverse replace found no match for {!r}".format(
                    body.get("from")
                )
            )
        # text[0..index - 1]: with index 0 that is text[0..-1], the whole text (upstream quirk)
        head = text if index == 0 else text[:index]
        return head + ruby_sub(text[index:], from_, to)
    return ruby_sub(text, from_, to)


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


# --------------------------------------------------------------------------------------------------
# Documents: the launcher's concatenation and pups' merge
# --------------------------------------------------------------------------------------------------


def deep_merge(first, second, merge_arrays=True):
    """MergeCommand.deep_merge: Hash#merge with a block used only for keys present in both."""
    result = dict(first)
    for key, v2 in second.items():
        if key not in result:
            result[key] = v2
            continue
        v1 = result[key]
        if isinstance(v1, dict) and isinstance(v2, dict):
            result[key] = deep_merge(v1, v2, merge_arrays)
        elif isinstance(v1, list) and isinstance(v2, list):
            result[key] = v1 + v2 if merge_arrays else v2
        elif v2 is None:
            result[key] = v1
        else:
            result[key] = v2
    return result


class Source:
    """One document of the pups input and where it came from."""

    __slots__ = ("name", "text")

    def __init__(self, name, text):
        self.name = name
        self.text = text


def build_bash_input(config_text, config_name_for_errors, templates):
    """The launcher's set_template_info: ``hack: true``, each template, the config; then ``echo``.

    ``templates`` is a list of (name, text). ``$(cat file)`` drops trailing newlines.
    Returns (pups_input, spans) where spans are (start, end, name) of each part in pups_input.
    """
    parts = [("launcher", "hack: true")]
    for name, text in templates:
        parts.append((name, text.rstrip("\n")))
    parts.append((config_name_for_errors, config_text.rstrip("\n")))
    pieces = []
    spans = []
    pos = 0
    for index, (name, text) in enumerate(parts):
        if index:
            pieces.append(" " + FILE_SEPARATOR + " ")
            pos += len(FILE_SEPARATOR) + 2
        pieces.append(text)
        spans.append((pos, pos + len(text), name))
        pos += len(text)
    pieces.append("\n")
    return "".join(pieces), spans


def build_go_input(config_text, config_name_for_errors, templates, env_document):
    """Go launcher v2: raw template contents, the config, then a final env document."""
    parts = [*templates, (config_name_for_errors, config_text)]
    if env_document is not None:
        parts.append(("launcher env", env_document))
    pieces, spans, pos = [], [], 0
    for index, (name, text) in enumerate(parts):
        if index:
            pieces.append(FILE_SEPARATOR)
            pos += len(FILE_SEPARATOR)
        pieces.append(text)
        spans.append((pos, pos + len(text), name))
        pos += len(text)
    return "".join(pieces), spans


def split_documents(pups_input, spans=None):
    """``conf.split("_FILE_SEPERATOR_")`` (trailing empty fields dropped, as Ruby does), each stripped.

    Yields (text, source_name, line_offset) with line_offset the number of the first line of the
    stripped text within its source file, minus one.
    """
    chunks = pups_input.split(FILE_SEPARATOR)
    while chunks and chunks[-1] == "":
        chunks.pop()
    pos = 0
    for chunk in chunks:
        stripped = chunk.strip()
        lead = len(chunk) - len(chunk.lstrip())
        start = pos + lead
        name, offset = "pups input", pups_input.count("\n", 0, start)
        if spans:
            for span_start, span_end, span_name in spans:
                if span_start <= start <= span_end:
                    name = span_name
                    offset = pups_input.count("\n", span_start, start)
                    break
        yield stripped, name, offset
        pos += len(chunk) + len(FILE_SEPARATOR)


def load_documents(pups_input, spans=None, row_sources=None, documents=None):
    """cli.rb --stdin: safe_load each document and fold them with deep_merge(:merge_arrays).

    ``documents`` (a list) receives (source name, document) for each document, as loaded.
    """
    conf = None
    for text, name, offset in split_documents(pups_input, spans):
        lines = {}
        current = psych_safe_load(text, name, offset, lines)
        if documents is not None:
            documents.append((name, current))
        if row_sources is not None and isinstance(current, dict):
            for key in ("run", "hooks"):
                _record_rows(current.get(key), name, offset, lines, row_sources, key)
        if ruby_truthy(conf):
            if not isinstance(current, dict):
                raise PupsError(
                    f"{name}: no implicit conversion of {_ruby_class(current)} into Hash "
                    "(every document must be a mapping)"
                )
            if not isinstance(conf, dict):
                raise PupsError(f"{name}: undefined method `merge' for {_ruby_class(conf)}")
            conf = deep_merge(conf, current, True)
        else:
            conf = current
    if not isinstance(conf, dict):
        raise PupsError(f"the merged pups input is {_ruby_class(conf)}, not a mapping")
    return conf


def _record_rows(value, name, offset, lines, row_sources, key):
    if key == "hooks":
        if isinstance(value, dict):
            for hook_name, rows in value.items():
                _record_rows(rows, name, offset, lines, row_sources, f"hooks.{hook_name}")
        return
    if not isinstance(value, list):
        return
    for index, row in enumerate(value):
        line = lines.get(id(row))
        row_sources[id(row)] = (name, key, index, None if line is None else line + 1 + offset)


# --------------------------------------------------------------------------------------------------
# Pups::Config
# --------------------------------------------------------------------------------------------------


def interpolate_params(cmd, params):
    """Pups::Config.interpolate_params: ``gsub("$#{k}", v.to_s)`` for each param, in insertion order."""
    if not ruby_truthy(cmd):
        return None
    if not isinstance(cmd, str):
        if not params:
            return cmd
        raise PupsError(f"undefined method `gsub!' for {_ruby_class(cmd)} ({cmd!r})")
    processed = cmd
    for key, value in params.items():
        pattern = "$" + ruby_to_s(key)
        if pattern in processed:
            processed = ruby_gsub_str(processed, pattern, ruby_to_s(value))
    return processed


def _row_first(row, where):
    if isinstance(row, dict):
        if not row:
            raise PupsError(f"{where}: undefined method `[]' for nil (empty run row)")
        return next(iter(row.items()))
    raise PupsError(f"{where}: undefined method `first' for {_ruby_class(row)} (a run row must be a mapping)")


class PupsConfig:
    """Pups::Config.new(conf, ignored, tags:, skip_tags:, extra_params:) with ENV as a dict."""

    def __init__(
        self,
        config,
        ignored=None,
        tags=None,
        skip_tags=None,
        extra_params=None,
        environment=None,
        row_sources=None,
    ):
        self.row_sources = row_sources or {}
        self.warnings = []
        self.config = config
        for key in ignored or ():
            config.pop(key, None)
        self._filter_tags(tags, skip_tags)
        for key in ("env_template", "env", "labels", "params"):
            if key not in config:
                config[key] = {}
        for key in ("env_template", "env", "labels", "params"):
            if not isinstance(config[key], dict):
                raise PupsError(
                    f"`{key}` is {_ruby_class(config[key])} in the merged config; pups needs a mapping"
                )
        env = dict(environment or {})
        # combine_template_and_process_env: ENV[k] = v.to_s
        for key, value in config["env"].items():
            if not isinstance(key, str):
                raise PupsError(f"env key {key!r}: no implicit conversion of {_ruby_class(key)} into String")
            env[key] = ruby_to_s(value)
        # prepare_env_template_vars
        env_template = config["env_template"]
        for key, value in list(env.items()):
            if "env_template_" in key:
                env_template[key.replace("env_template_", "")] = ruby_to_s(value)
        self._template(env_template, env)
        self._template(env_template, config["env"])
        self._template(env_template, config["labels"])
        self.env = env
        params = config["params"]
        for item in extra_params or ():
            if isinstance(item, (list, tuple)):
                params[item[0]] = item[1]
                continue
            key_val = item.split("=", 1)
            if len(key_val) == 2:
                params[key_val[0]] = key_val[1]
            else:
                self.warnings.append(f"Malformed param {item}. Expected param to be of the form `key=value`")
        self.user_param_keys = list(params.keys())
        for key, value in env.items():
            params["$ENV_" + key] = value
        self.params = params
        self._inject_hooks()

    @staticmethod
    def _template(env_template, to_transform):
        for key, value in env_template.items():
            needle = f"{{{{{ruby_to_s(key)}}}}}"
            replacement = ruby_to_s(value)
            for tkey, tval in list(to_transform.items()):
                if needle in ruby_to_s(tval):
                    if not isinstance(tval, str):
                        raise PupsError(
                            f"undefined method `gsub' for {_ruby_class(tval)} (env/labels value {tkey!r})"
                        )
                    to_transform[tkey] = ruby_gsub_str(tval, needle, replacement)

    def where(self, row, index=None):
        source = self.row_sources.get(id(row))
        if source is None:
            return f"run row {index + 1 if isinstance(index, int) else index}"
        name, key, position, line = source
        text = f"{name}, {key} row {position + 1}"
        if line is not None:
            text += f" (line {line})"
        return text

    def _filter_tags(self, include_tags, exclude_tags):
        if include_tags is None and exclude_tags is None:
            return
        run = self.config.get("run")
        if run is None:
            raise PupsError("undefined method `select' for nil: the config has no run list to filter by tags")
        for tags, keep_untagged in ((include_tags, False), (exclude_tags, True)):
            if tags is None:
                continue
            kept = []
            for index, row in enumerate(run):
                _unused, body = _row_first(row, self.where(row, index))
                keep = keep_untagged
                if isinstance(body, dict):
                    tag = body.get("tag")
                    listed = any(ruby_eq(tag, t) for t in tags)
                    keep = (not listed) if keep_untagged else listed
                if keep:
                    kept.append(row)
            run = kept
            self.config["run"] = run

    def _inject_hooks(self):
        hooks = self.config.get("hooks")
        if not ruby_truthy(hooks):
            return
        run = self.config.get("run")
        if not isinstance(run, list):
            raise PupsError(f"hooks are defined but `run` is {_ruby_class(run)}")
        if not isinstance(hooks, dict):
            raise PupsError("`hooks` must be a mapping of before_NAME/after_NAME to lists")
        positions = {}
        for index, row in enumerate(run):
            if not isinstance(row, dict):
                continue
            _unused, body = _row_first(row, self.where(row, index))
            if isinstance(body, dict):
                hook = body.get("hook")
                if ruby_truthy(hook):
                    positions[_hashable(hook)] = row
        for full, items in hooks.items():
            if not isinstance(full, str):
                raise PupsError(f"hook name {full!r} must be a string")
            name, offset = None, None
            if re.search(r"^after_", full, re.MULTILINE):
                name, offset = full[6:], 1
            if re.search(r"^before_", full, re.MULTILINE):
                name, offset = full[7:], 0
            anchor = positions.get(name) if name is not None else None
            index = None
            for position, row in enumerate(run):
                if ruby_eq(row, anchor):
                    index = position
                    break
            if index is None:
                self.warnings.append(f"Skipped missing {full} hook")
                continue
            if offset is None:
                raise PupsError(f"hook key {full!r} is neither before_* nor after_*")
            if items is None:
                block = []
            elif isinstance(items, list):
                block = items
            elif isinstance(items, dict):
                block = [[k, v] for k, v in items.items()]
            else:
                block = [items]
            run[index + offset : index + offset] = block

    # ---- what the commands do with params -------------------------------------------------------

    def substituted_run(self):
        """config["run"] with $params applied to exactly the fields pups interpolates."""
        rows = []
        for index, row in enumerate(self.config.get("run") or []):
            rows.append(self.substitute_row(row, index))
        return rows

    def substitute_row(self, row, index=None):
        params = self.params
        where = self.where(row, index)
        if not isinstance(row, dict):
            raise PupsError(f"{where}: a run row must be a mapping, got {_ruby_class(row)}")
        if not row:
            raise PupsError(f"{where}: empty run row")
        out = {}
        for kind, body in row.items():
            try:
                out[kind] = _substitute_command(kind, body, params)
            except PupsError as exc:
                raise PupsError(f"{where}: {exc}") from exc
        return out

    def commands(self):
        """The shell commands, files and replacements pups would perform, in order (for humans/tests)."""
        actions = []
        for index, row in enumerate(self.config.get("run") or []):
            for kind, body in self.substitute_row(row, index).items():
                if kind == "exec":
                    actions.extend(("exec", c) for c in exec_commands(body, None))
                elif kind in ("file", "replace", "merge") and body is not None:
                    actions.append((kind, body))
        return actions

    def docker_run_args(self):
        return generate_docker_run_arguments(self.config)


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


def exec_commands(body, params):
    """ExecCommand: the command lines, with ``cd X && `` prefixed (params already applied if None)."""
    interp = (lambda v: v) if params is None else (lambda v: interpolate_params(v, params))
    if isinstance(body, str):
        return [interp(body)]
    if not isinstance(body, dict):
        return []
    cd = interp(body.get("cd")) if ruby_truthy(body.get("cd")) else None
    cmd = body.get("cmd")
    items = [cmd] if isinstance(cmd, str) else (cmd if isinstance(cmd, list) else [])
    out = []
    for item in items:
        processed = interp(item)
        out.append(f"cd {ruby_to_s(cd)} && {ruby_to_s(processed)}" if ruby_truthy(cd) else processed)
    return out


def _substitute_command(kind, body, params):
    if kind == "exec":
        if isinstance(body, str):
            return interpolate_params(body, params)
        if not isinstance(body, dict):
            return body  # Command.run ignores anything but a String or a Hash
        out = dict(body)
        if ruby_truthy(body.get("cd")):
            out["cd"] = interpolate_params(body["cd"], params)
        cmd = body.get("cmd")
        if isinstance(cmd, str):
            out["cmd"] = interpolate_params(cmd, params)
        elif isinstance(cmd, list):
            out["cmd"] = [
                interpolate_params(item, params) if item is not None else _nil_cmd() for item in cmd
            ]
        if ruby_truthy(body.get("stdin")):
            out["stdin"] = interpolate_params(body["stdin"], params)
        return out
    if kind == "file":
        if isinstance(body, str):
            raise PupsError("undefined method `from_str' for Pups::FileCommand (file needs a hash)")
        if not isinstance(body, dict):
            return body
        out = dict(body)
        if not isinstance(body.get("path"), str):
            raise PupsError("file `path` must be a string, got {}".format(_ruby_class(body.get("path"))))
        out["path"] = interpolate_params(body["path"], params)
        if ruby_truthy(body.get("contents")):
            out["contents"] = interpolate_params(body["contents"], params)
        return out
    if kind == "replace":
        if isinstance(body, str):
            raise PupsError("undefined method `from_str' for Pups::ReplaceCommand (replace needs a hash)")
        if not isinstance(body, dict):
            return body
        out = dict(body)
        from_ = guess_replace_type(body.get("from"))
        if not isinstance(from_, (str, re.Pattern)):
            raise PupsError(f"wrong argument type {_ruby_class(from_)} (expected Regexp) in replace `from`")
        to = guess_replace_type(body.get("to"))
        if isinstance(to, re.Pattern):
            raise PupsError(
                "replace `to` {!r} starts with / and pups evaluates it as a regexp".format(body.get("to"))
            )
        if not isinstance(to, (str, dict)):
            raise PupsError(f"no implicit conversion of {_ruby_class(to)} into String (replace `to`)")
        if not isinstance(body.get("filename"), str):
            raise PupsError(
                "replace `filename` must be a string, got {}".format(_ruby_class(body.get("filename")))
            )
        direction = body.get("direction")
        if ruby_truthy(direction) and not isinstance(direction, str):
            raise PupsError(f"undefined method `to_sym' for {direction!r} (replace `direction`)")
        if isinstance(to, str):
            out["to"] = interpolate_params(to, params)
        return out
    if kind == "merge":
        if isinstance(body, dict):
            raise PupsError("undefined method `from_hash' for Pups::MergeCommand (merge needs a string)")
        if not isinstance(body, str):
            return body
        filename, target = parse_merge_command(body)
        if not isinstance(params.get(target), dict):
            raise PupsError(f"merge: param {target!r} is not a hash to merge into {filename}")
        return "{} ${}".format(interpolate_params(filename, params) or "", target)
    raise PupsError(f"Invalid run command {kind}")


def _nil_cmd():
    raise PupsError("undefined method `gsub!' for nil (exec cmd list item is empty)")


def parse_merge_command(command):
    """MergeCommand.parse_command: ``FILE... $param`` split on whitespace."""
    split = command.split()
    if not split:
        raise PupsError("undefined method `[]' for nil (empty merge command)")
    if split[-1][:1] != "$":
        raise PupsError(f"Invalid merge command {command}")
    return " ".join(split[:-1]), split[-1][1:]


def apply_merge(existing, merge_hash):
    """MergeCommand#run: the YAML file's hash deep-merged with the param (arrays replaced)."""
    if not isinstance(merge_hash, dict):
        raise PupsError(f"no implicit conversion of {_ruby_class(merge_hash)} into Hash (merge param)")
    if not isinstance(existing, dict):
        raise PupsError(f"undefined method `merge' for {_ruby_class(existing)} (merge target file)")
    return deep_merge(existing, merge_hash, merge_arrays=False)


# --------------------------------------------------------------------------------------------------
# --gen-docker-run-args (Pups::Docker)
# --------------------------------------------------------------------------------------------------

_SHELL_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.,:+/@\n]")


def shellescape(value):
    """Shellwords.escape."""
    text = ruby_to_s(value)
    if text == "":
        return "''"
    text = _SHELL_UNSAFE.sub(lambda m: "\\" + m.group(0), text)
    return text.replace("\n", "'\n'")


def _escape_user_string_literal(value):
    if " " in ruby_to_s(value):
        return f'"{shellescape(value)}"'
    return shellescape(value)


def _dig(item, first, second, what):
    try:
        return ruby_to_s(item[first][second])
    except (TypeError, KeyError, IndexError) as exc:
        raise PupsError(f"{what} entry {item!r} needs {first}.{second}") from exc


def generate_docker_run_arguments(config):
    groups = []
    env = config.get("env") or {}
    groups.append(
        " ".join(
            f"--env {ruby_to_s(k)}={_escape_user_string_literal(v)}"
            for k, v in env.items()
            if ruby_to_s(v) != ""
        )
    )
    groups.append(
        " ".join(
            "--link {}:{}".format(_dig(c, "link", "name", "links"), _dig(c, "link", "alias", "links"))
            for c in config.get("links") or []
        )
    )
    groups.append(
        " ".join(
            ("--publish %s" if ":" in ruby_to_s(c) else "--expose %s") % ruby_to_s(c)
            for c in config.get("expose") or []
        )
    )
    groups.append(
        " ".join(
            "--volume {}:{}".format(
                _dig(c, "volume", "host", "volumes"), _dig(c, "volume", "guest", "volumes")
            )
            for c in config.get("volumes") or []
        )
    )
    labels = config.get("labels") or {}
    groups.append(
        " ".join(f"--label {ruby_to_s(k)}={_escape_user_string_literal(v)}" for k, v in labels.items())
    )
    groups.sort(key=lambda s: s.encode("utf-8"))
    return " ".join(groups).strip()


# --------------------------------------------------------------------------------------------------
# The launcher's own view: env, labels, expose for `docker run`
# --------------------------------------------------------------------------------------------------


def _bash_read_lines(raw):
    """``while read i`` without -r: backslash escapes, line continuations, IFS trimming."""
    lines, current, i = [], [], 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            if raw[i + 1] != "\n":
                current.append(raw[i + 1])
            i += 2
            continue
        if char == "\\":
            i += 1
            continue
        if char == "\n":
            lines.append("".join(current).strip(" \t\n"))
            current = []
        else:
            current.append(char)
        i += 1
    lines.append("".join(current).strip(" \t\n"))
    return [line for line in lines if line]


def launcher_env(documents, config_name, launcher="bash", go_env=None, warnings=None):
    """DESIGN §4.1: env, labels and expose as the launcher passes them to ``docker run``."""
    warnings = warnings if warnings is not None else []
    if launcher == "go":
        env = {k: v.replace("{{config}}", config_name) for k, v in (go_env or {}).items()}
        labels, expose = {}, []
        for doc in documents:
            for k, v in (doc.get("labels") or {}).items():
                labels[ruby_to_s(k)] = ruby_to_s(v).replace("{{config}}", config_name)
            if doc.get("expose"):
                expose = [ruby_to_s(p) for p in doc["expose"]]
        return env, labels, expose
    env = {"LANG": DEFAULT_LANG}
    labels, expose = {}, []
    for doc in documents:
        doc_env = doc.get("env") if isinstance(doc, dict) else None
        if ruby_truthy(doc_env):
            if not isinstance(doc_env, dict):
                raise PupsError(f"the launcher cannot merge env {doc_env!r}")
            env.update(doc_env)
        doc_labels = doc.get("labels") if isinstance(doc, dict) else None
        if ruby_truthy(doc_labels):
            if not isinstance(doc_labels, dict):
                raise PupsError(f"the launcher cannot merge labels {doc_labels!r}")
            labels.update(doc_labels)
        doc_expose = doc.get("expose") if isinstance(doc, dict) else None
        if ruby_truthy(doc_expose):
            if not isinstance(doc_expose, list):
                raise PupsError(f"the launcher cannot concatenate expose {doc_expose!r}")
            expose.extend(doc_expose)
    for key, value in env.items():
        if isinstance(value, dict):
            raise PupsError(f"env {key} is a hash; the launcher refuses it (*ERROR.)")
    out_env = {}
    for key, value in env.items():
        raw = f"{ruby_to_s(key)}={ruby_to_s(value)}"
        lines = _bash_read_lines(raw)
        if not lines:
            continue
        if len(lines) > 1:
            warnings.append(
                f"env {key} spans several lines; the bash launcher passes the extra lines as separate "
                "docker arguments"
            )
        line = lines[0].replace("{{config}}", config_name)
        name, _unused, val = line.partition("=")
        out_env[name] = val
    out_labels = {}
    for key, value in labels.items():
        for line in _bash_read_lines(f"{ruby_to_s(key)}={ruby_to_s(value)}"):
            line = " ".join(line.replace("{{config}}", config_name).split())
            name, _unused, val = line.partition("=")
            out_labels[name] = val
    out_expose = []
    for port in expose:
        out_expose.extend(_bash_read_lines(ruby_to_s(port)))
    return out_env, out_labels, out_expose


def _go_env_of(text, source):
    """yaml.v3 into map[string]string: each scalar's own text, null as ""."""
    if not text.strip():
        return {}
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise PupsError(f"{source}: YAML error: {exc}") from exc
    out = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        if key.value != "env":
            continue
        if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null":
            continue
        if not isinstance(value, yaml.MappingNode):
            raise PupsError(f"{source}: env must be a mapping")
        for k, v in value.value:
            if not isinstance(v, yaml.ScalarNode):
                raise PupsError(f"{source}: env {k.value} must be a scalar for the Go launcher")
            null = v.tag == "tag:yaml.org,2002:null" and v.style is None
            out[k.value] = "" if null else v.value
    return out


def go_env_document(env):
    lines = ["env:"]
    for key, value in env.items():
        lines.append(f"  {json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n" if env else "env: {}\n"


# --------------------------------------------------------------------------------------------------
# Dockerfile (DESIGN §4.4)
# --------------------------------------------------------------------------------------------------


def is_secret_env(key, extra_secrets=()):
    key = ruby_to_s(key)
    upper = key.upper()
    if upper in KNOWN_SECRETS or key in extra_secrets:
        return True
    if upper.startswith(_SECRET_PREFIXES):
        return True
    return bool(_SECRET_WORDS.search(upper))


def _docker_quote(value):
    """A double-quoted Dockerfile word: backslash, quote and $ (variable expansion) escaped."""
    return '"{}"'.format(value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$"))


def container_port(entry):
    """The container side of an expose entry: ``host:port:container`` -> container."""
    text = ruby_to_s(entry)
    return text.rsplit(":", 1)[-1] if ":" in text else text


def dockerfile(
    env,
    expose,
    base_image,
    config_sha256,
    discourse_version=None,
    skip_tags=DEFAULT_BUILD_SKIP_TAGS,
    tags=None,
    bake_env=False,
    boot_command="/sbin/boot",
    extra_secrets=(),
    config_file="config.yaml",
    git_credentials=False,
):
    """A BuildKit Dockerfile that runs pups on the bind-mounted config; no secret reaches it.

    With ``git_credentials`` the pups step also mounts the build secret ``git_credentials`` and points
    git's credential helper at it, for plugins in private repositories."""
    if not base_image or re.search(r"\s", base_image):
        raise PupsError(f"base_image {base_image!r} is not an image reference")
    public = [(k, v) for k, v in env.items() if not is_secret_env(k, extra_secrets) and "\n" not in v]
    for key, _unused in public:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise PupsError(f"env key {key!r} cannot be a Dockerfile ARG")
    lines = ["# syntax=docker/dockerfile:1", f"FROM {base_image}"]
    for key, value in sorted(public):
        lines.append(f"ARG {key}={_docker_quote(value)}")
    baked = [k for k, _unused in sorted(public) if bake_env or k in DEFAULT_BAKE_ENV]
    for key in baked:
        lines.append(f"ENV {key}=${{{key}}}")
    ports = sorted({container_port(p) for p in expose if container_port(p)})
    for port in ports:
        if not re.match(r"^[0-9]+(?:-[0-9]+)?(?:/(?:tcp|udp|sctp))?$", port):
            raise PupsError(f"expose entry {port!r} has no valid container port")
        lines.append(f"EXPOSE {port}")
    labels = [("org.forumops.discourse.config-sha256", config_sha256)]
    if discourse_version:
        labels.insert(0, ("org.forumops.discourse.version", discourse_version))
    lines.append("LABEL " + " ".join(f"{k}={_docker_quote(v)}" for k, v in labels))
    pups_args = []
    if tags is not None:
        pups_args.append("--tags=" + ",".join(tags))
    if skip_tags is not None:
        pups_args.append("--skip-tags=" + ",".join(skip_tags))
    for arg in pups_args:
        if not re.match(r"^--[a-z-]+=[A-Za-z0-9_,.-]*$", arg):
            raise PupsError(f"tag list {arg!r} is not safe in a RUN line")
    mounts = f"--mount=type=bind,source={config_file},target={CONFIG_TARGET}"
    git_env = ""
    if git_credentials:
        mounts += f" --mount=type=secret,id={GIT_CREDENTIALS_SECRET},target={GIT_CREDENTIALS_TARGET}"
        git_env = GIT_CREDENTIALS_ENV
    lines.append(
        f"RUN {mounts} cat {CONFIG_TARGET} | "
        f"{git_env}/usr/local/bin/pups {''.join(arg + ' ' for arg in pups_args)}--stdin"
    )
    if boot_command:
        lines.append(f"CMD [{_docker_quote(boot_command)}]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Everything together
# --------------------------------------------------------------------------------------------------


def render(
    config_text,
    templates,
    config_name,
    config_source="config",
    tags=None,
    skip_tags=None,
    params=None,
    environment=None,
    launcher="bash",
    ignore=None,
    bake_env=False,
    base_image=None,
    build_skip_tags=DEFAULT_BUILD_SKIP_TAGS,
    build_tags=None,
    extra_secrets=(),
    git_credentials=False,
):
    """Render a container config the way upstream would; see plugins/modules/pups_render.py.

    ``templates`` is a list of (name, text) in the config's ``templates:`` order.
    """
    if launcher not in ("bash", "go"):
        raise PupsError("launcher must be bash or go")
    warnings = []
    go_env = None
    if launcher == "go":
        go_env = {}
        for name, text in [*templates, (config_source, config_text)]:
            go_env.update(_go_env_of(text, name))
        go_env = {k: v.replace("{{config}}", config_name) for k, v in go_env.items()}
        pups_input, spans = build_go_input(config_text, config_source, templates, go_env_document(go_env))
    else:
        pups_input, spans = build_bash_input(config_text, config_source, templates)

    loaded = []
    row_sources = {}
    merged = load_documents(pups_input, spans, row_sources, loaded)
    documents = [doc if isinstance(doc, dict) else {} for _unused, doc in loaded]
    config_docs = [doc for name, doc in loaded if name == config_source]
    config_doc = config_docs[-1] if config_docs and isinstance(config_docs[-1], dict) else {}
    # the launcher's view first: PupsConfig edits the merged hashes, which may be a document's own
    env, labels, expose = launcher_env(documents, config_name, launcher, go_env, warnings)

    extra = [(k, ruby_to_s(v)) for k, v in (params or {}).items()]
    pups = PupsConfig(
        merged,
        ignored=ignore,
        tags=tags,
        skip_tags=skip_tags,
        extra_params=extra,
        environment=environment,
        row_sources=row_sources,
    )
    warnings.extend(pups.warnings)
    run = pups.substituted_run()
    params_out = {k: pups.params[k] for k in pups.user_param_keys}
    config_out = dict(pups.config)
    config_out["params"] = dict(params_out)
    docker_run_args = pups.docker_run_args()

    config_sha256 = hashlib.sha256(pups_input.encode("utf-8")).hexdigest()
    image = base_image or (
        config_doc.get("base_image") if isinstance(config_doc.get("base_image"), str) else None
    )
    image = image or DEFAULT_BASE_IMAGE
    version = params_out.get("version")
    secrets_present = sorted(k for k, v in env.items() if is_secret_env(k, extra_secrets) and v != "")
    if secrets_present:
        warnings.append(
            "the container config carries secret env keys ({}): they stay out of the Dockerfile, but "
            "config.yaml in the build context holds them; supply them as Kubernetes Secrets instead".format(
                ", ".join(secrets_present)
            )
        )
    text = dockerfile(
        env,
        expose,
        image,
        config_sha256,
        discourse_version=ruby_to_s(version) if version is not None else None,
        skip_tags=build_skip_tags,
        tags=build_tags,
        bake_env=bake_env,
        extra_secrets=extra_secrets,
        git_credentials=git_credentials,
    )
    return {
        "run": run,
        "params": params_out,
        "config": config_out,
        "pups_input": pups_input,
        "env": env,
        "labels": labels,
        "expose": expose,
        "docker_run_args": docker_run_args,
        "dockerfile": text,
        "base_image": image,
        "config_sha256": config_sha256,
        "warnings": warnings,
    }


def template_list(config_doc, config_source="config"):
    """The launcher's ``puts YAML.load(...)['templates']`` split on whitespace."""
    templates = config_doc.get("templates") if isinstance(config_doc, dict) else None
    if templates is None:
        return []
    if isinstance(templates, str):
        return templates.split()
    if not isinstance(templates, list):
        raise PupsError(f"{config_source}: templates must be a list")
    names = []
    for item in templates:
        names.extend(ruby_to_s(item).split())
    return names


if HAS_YAML:

    class _PsychSafeDumper(yaml.SafeDumper):
        """Dumps a dict so that Psych reads every string back as the same string."""

    def _represent_str(dumper, value):
        try:
            same = psych_tokenize(value) == value
        except PupsError:
            same = False
        style = None if same and value.strip() == value and value else "'"
        if "\n" in value:
            style = "|" if value.strip("\n") == value.rstrip("\n") and not value.startswith(" ") else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _PsychSafeDumper.add_representer(str, _represent_str)


def dump_config(data):
    """YAML text for a container config given as a dict (strings stay strings under Psych)."""
    return yaml.dump(
        data, Dumper=_PsychSafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def read_templates(templates_root, names, config_source="config"):
    """The launcher's ``$(cat $template)`` for each name, relative to the discourse_docker root."""
    import os

    out = []
    for name in names:
        path = os.path.join(templates_root, name)
        try:
            with open(path, encoding="utf-8") as handle:
                out.append((name, handle.read()))
        except OSError as exc:
            raise PupsError(
                f"{config_source}: template {name} cannot be read from {path}: {exc.strerror}"
            ) from exc
    return out


def render_files(templates_root, config_path=None, config_data=None, config_name=None, **kwargs):
    """render() for a config file (or dict) and templates resolved under ``templates_root``."""
    import os

    if config_path is not None:
        try:
            with open(config_path, encoding="utf-8") as handle:
                config_text = handle.read()
        except OSError as exc:
            raise PupsError(f"config {config_path} cannot be read: {exc.strerror}") from exc
        source = config_path
        default_name = os.path.splitext(os.path.basename(config_path))[0]
    else:
        config_text = dump_config(config_data)
        source = "config"
        default_name = "app"
    config_doc = psych_safe_load(config_text.strip(), source)
    names = template_list(config_doc, source)
    templates = read_templates(templates_root, names, source)
    return render(config_text, templates, config_name or default_name, config_source=source, **kwargs)
