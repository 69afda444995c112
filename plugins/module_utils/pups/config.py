# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pups::Config: the launcher's document concatenation, pups' merge, params, the commands
(exec, replace, file, merge) and --gen-docker-run-args (Pups::Docker)."""

import re

from ansible_collections.forumops.discourse.plugins.module_utils.pups.common import (
    FILE_SEPARATOR,
    PupsError,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.psych import (
    psych_safe_load,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.ruby import (
    _ruby_class,
    parse_ruby_regex,
    ruby_eq,
    ruby_gsub_str,
    ruby_sub,
    ruby_to_s,
    ruby_truthy,
)

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
    if kind == "merge":
        if isinstance(body, dict):
            raise PupsError("undefined method `from_hash' for Pups::MergeCommand (merge needs a string)")
        if not isinstance(body, str):
            return body
        filename, target = parse_merge_command(body)
        if not isinstance(params.get(target), dict):
            raise PupsError(f"merge: param {target!r} is not a hash to merge into {filename}")
        return "{} ${}".format(interpolate_params(filename, params) or "", target)
    if kind not in ("exec", "file", "replace"):
        raise PupsError(f"Invalid run command {kind}")
    if isinstance(body, str):
        if kind == "exec":
            return interpolate_params(body, params)
        raise PupsError(
            f"undefined method `from_str' for Pups::{kind.capitalize()}Command ({kind} needs a hash)"
        )
    if not isinstance(body, dict):
        return body  # Command.run ignores anything but a String or a Hash
    out = dict(body)
    if kind == "exec":
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
    elif kind == "file":
        if not isinstance(body.get("path"), str):
            raise PupsError("file `path` must be a string, got {}".format(_ruby_class(body.get("path"))))
        out["path"] = interpolate_params(body["path"], params)
        if ruby_truthy(body.get("contents")):
            out["contents"] = interpolate_params(body["contents"], params)
    else:
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
# ReplaceCommand
# --------------------------------------------------------------------------------------------------


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
