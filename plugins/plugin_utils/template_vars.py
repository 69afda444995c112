# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variables some templates need, each rendered once (issue 19: converge speed).

ansible-core 2.19 renders a template in a context that wraps every variable of the host (about 800
for a site), and renders a templated variable again, in another such context, at each reference
(ansible/_internal/_templating/_jinja_bits.py `_new_context` / `_flatten_and_lazify_vars`, tag
v2.19.14). A manifest that reads a role internal built from ten others pays that for each of them.

`needed_variables` parses the templates and, transitively, the templated variables they read, then
renders each of those variables once, dependencies first, with only the variables it reads. The
caller renders its templates with that small set instead of all variables: the same values, since
each variable is rendered by the same templar from the same inputs. A variable whose rendering
fails is passed on unrendered, so it fails (or is never read) exactly as it would have lazily.
When a template reads variables by computed name (`vars[...]`, `hostvars`, `lookup('vars', ...)`)
the set cannot be known, and `needed_variables` returns None: use all variables.
"""

from __future__ import annotations

import contextlib
import graphlib
import os

import jinja2
from ansible.errors import AnsibleError
from ansible.template import Templar, is_trusted_as_template
from jinja2 import meta, nodes

# Read by the templar or by lookups (search paths, omit), not by name in the templates.
CONTEXT_VARIABLES = ("ansible_search_path", "role_path", "playbook_dir", "inventory_hostname", "omit")
# Names that read other variables by a computed name.
DYNAMIC_NAMES = frozenset({"vars", "hostvars", "varnames"})
DYNAMIC_LOOKUPS = frozenset({"vars", "ansible.builtin.vars", "varnames", "ansible.builtin.varnames"})
TEMPLATE_LOOKUPS = frozenset({"template", "ansible.builtin.template"})
LOOKUP_CALLS = frozenset({"lookup", "query", "q"})


# Only parsed, never compiled or rendered: filter and test names need not exist here.
_PARSER = jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])
# The environment options that change what a source parses to (trim_blocks and the like only
# change whitespace).
PARSE_OPTIONS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
)
# (source, parse options) -> (names, paths), or the Dynamic it raised. A parse depends on nothing
# else, so it is kept for the process; `prime` fills it in the controller before workers fork.
_references = {}


class Dynamic(Exception):
    """A template reads variables by a computed name."""


def _parse(source, options):
    try:
        return _PARSER.overlay(**options).parse(source)
    except jinja2.TemplateSyntaxError as exc:
        # Ansible reports the syntax error when it renders; here, only the set is unknown.
        raise Dynamic(str(exc)) from None


def references(source, options=None):
    """(variable names, template paths) a Jinja source reads: every name it loads, and the files of
    its includes and of its template lookups with a constant path. Parsed once per process.

    The names are a superset of those it reads from its context (jinja2.meta.find_undeclared_variables
    would drop the names it sets itself, at four times the cost: it generates the template's code).
    A variable passed on that the template then sets itself changes nothing."""
    parse_options = tuple(sorted((k, v) for k, v in (options or {}).items() if k in PARSE_OPTIONS))
    key = (str(source), parse_options)
    found = _references.get(key)
    if found is None:
        try:
            found = _references_of(source, dict(parse_options))
        except Dynamic as exc:
            found = exc
        _references[key] = found
    if isinstance(found, Dynamic):
        raise Dynamic(str(found))
    return found


def _references_of(source, options):
    tree = _parse(source, options)
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx == "load"}
    if names & DYNAMIC_NAMES:
        raise Dynamic(f"reads {sorted(names & DYNAMIC_NAMES)}")
    paths = {path for path in meta.find_referenced_templates(tree) if path is not None}
    if None in meta.find_referenced_templates(tree):
        raise Dynamic("includes a template by a computed name")
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name in LOOKUP_CALLS and call.args):
            continue
        plugin = call.args[0]
        if not isinstance(plugin, nodes.Const):
            raise Dynamic("calls a lookup by a computed name")
        if plugin.value in DYNAMIC_LOOKUPS:
            raise Dynamic(f"calls lookup {plugin.value!r}")
        if plugin.value in TEMPLATE_LOOKUPS:
            if not all(isinstance(arg, nodes.Const) for arg in call.args[1:]):
                raise Dynamic("renders a template by a computed path")
            paths.update(arg.value for arg in call.args[1:])
    return frozenset(names), frozenset(paths)


def prime(sources):
    """Parse (Jinja text, options) pairs into the process's memo; returns how many it holds."""
    for source, options in sources:
        with contextlib.suppress(Dynamic):  # kept too: it is raised again where it is read
            references(source, options)
    return len(_references)


def templated_strings(value):
    """Every trusted string inside a value (dicts, lists) that holds a template."""
    if isinstance(value, str):
        if is_trusted_as_template(value) and ("{{" in value or "{%" in value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from templated_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from templated_strings(item)


def needed_variables(templar, sources, task_vars, searchpath):
    """The variables `sources` read, each rendered once; None when unknowable.

    `sources` are (Jinja text, Jinja environment options such as variable_start_string) pairs.
    `searchpath` finds included templates and template lookups, as the caller's templar does.
    """
    try:
        names = set().union(*(_reads(text, searchpath, options) for text, options in sources))
    except Dynamic:
        return None
    return rendered_once(templar, names, task_vars, searchpath)


def template_arg(engine, value):
    """A task argument templated as ansible-core templates it (`ActionBase.finalize_task_arg`), but
    in a context of only the variables it reads, each rendered once; `engine` is the task's
    TemplateEngine, whose available variables are all the host's."""
    texts = list(templated_strings(value))
    if texts:
        templar, sources = Templar._from_template_engine(engine), [(text, None) for text in texts]
        available = needed_variables(templar, sources, engine.available_variables, ())
        if available is not None:
            engine = engine.extend()
            engine.available_variables = available
    return engine.template(value)


def rendered_once(templar, names, task_vars, searchpath=()):
    """`names` and the variables their values read, transitively, each rendered once (a value that
    fails to render stays as it is); None when unknowable."""
    dependencies = {}  # a templated variable's name -> the variables its value reads
    plain = set()
    pending = [name for name in names if name in task_vars]
    try:
        while pending:
            name = pending.pop()
            if name in dependencies or name in plain:
                continue
            texts = list(templated_strings(task_vars[name]))
            if not texts:
                plain.add(name)
                continue
            reads = set().union(*(_reads(text, searchpath) for text in texts))
            dependencies[name] = {read for read in reads if read in task_vars and read != name}
            pending.extend(dependencies[name])
        order = list(graphlib.TopologicalSorter(dependencies).static_order())
    except (Dynamic, graphlib.CycleError):
        return None
    available = {name: task_vars[name] for name in (*CONTEXT_VARIABLES, *plain, *order) if name in task_vars}
    resolver = templar.copy_with_new_env(available_variables=available)
    for name in order:
        if name not in dependencies:
            continue  # a plain variable
        try:
            available[name] = resolver.template(task_vars[name])
        except AnsibleError:
            continue  # rendered lazily where read, failing there as before
        resolver.available_variables = available
    return available


def _reads(source, searchpath, options=None):
    """The variable names a Jinja source reads, with those its included and looked-up templates read."""
    names, paths = (set(found) for found in references(source, options))
    seen = set()
    while paths - seen:
        path = (paths - seen).pop()
        seen.add(path)
        text = _find(path, searchpath)
        if text is None:
            raise Dynamic(f"template {path!r} not found")
        found, included = references(text, options)
        names |= found
        paths |= included
    return names


def _find(path, searchpath):
    for directory in searchpath:
        candidate = os.path.join(directory, path)
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as handle:
                return handle.read()
    return None
