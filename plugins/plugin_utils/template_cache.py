# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compile each Jinja template of a play once, in the controller, for every worker (issue 19).

ansible-core 2.19 compiles a template string each time it renders it (`TemplateEngine.
_compile_template` and `_compile_expression`, ansible/_internal/_templating/_engine.py, tag
v2.19.14), and every task runs in a freshly forked worker, so nothing compiled in one task is there
for the next: a no-op converge of one site compiled 717 templates (298 distinct) in its workers.
`install` memoises both methods; `prime` compiles, in the controller before the play's first fork,
the templates the play's roles and tasks carry, so every worker inherits them compiled (34 left to
compile per site). Priming costs the controller about what one site's workers save; a fleet gains:
five no-op sites took 27% less worker CPU.

A compiled template depends on its source, the options it is compiled with and the environment's
loader (where `{% include %}` looks); the filters, tests and globals it calls are looked up when it
renders, in the worker. So only sources without include, import or extends, with the default
delimiters, are kept, keyed by (kind, source, options): any environment compiles them alike.
The play's roles' template files are compiled too, with the options Ansible's template action and
k8s_apply render a file with (0.2 s for the 38 of site.yml's roles; each site's workers compiled
about 30 of them), and parsed, with the play's templated strings, for template_vars (which parses
what each task's templates read).
Failed compiles are not kept (their error names the source they came from). What is kept is code,
never a rendered value, so no variable, object or bucket is read from a cache.
"""

from __future__ import annotations

import os
import re

from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.forumops.discourse.plugins.plugin_utils import template_vars
from ansible_collections.forumops.discourse.plugins.plugin_utils.template_vars import templated_strings

try:
    from ansible._internal._templating import _engine, _jinja_bits
except ImportError:  # another ansible-core: templates compile as before
    _engine = _jinja_bits = None

# Where the loader, or other delimiters, would make the same source compile differently.
LOADER_DEPENDENT = re.compile(r"{%[-+]?\s*(?:include|import|from|extends)\b|^#jinja2:")
TEMPLATE_MARKERS = ("{{", "{%", "{#")
# The options `_normalize_and_evaluate_conditional` evaluates a `when` with (the same file).
CONDITIONAL = dict(escape_backslashes=False, preserve_trailing_newlines=False)
# The options a template file is rendered with: `templar.template(text, escape_backslashes=False,
# overrides=...)` in lib/ansible/plugins/action/template.py (tag v2.19.14) and in k8s_apply, whose
# overrides are the defaults.
TEMPLATE_FILE = dict(escape_backslashes=False)

_compiled = {}
_installed = []


def _memoised(kind, compile_method):
    def compile_once(engine, source, options):
        key = (kind, str(source), options)
        found = _compiled.get(key)
        if found is not None:
            return found
        compiled = compile_method(engine, source, options)
        if (
            isinstance(compiled, (_jinja_bits.AnsibleTemplate, _jinja_bits.AnsibleTemplateExpression))
            and options.overrides == _jinja_bits.TemplateOverrides.DEFAULT
            and not LOADER_DEPENDENT.search(source)
        ):
            _compiled[key] = compiled
        return compiled

    compile_once.__wrapped__ = compile_method
    return compile_once


def install():
    """Memoise the engine's two compile methods in this process (and the workers it forks)."""
    if _engine is None or _installed:
        return bool(_installed)
    engine = _engine.TemplateEngine
    engine._compile_template = _memoised("template", engine._compile_template)
    engine._compile_expression = _memoised("expression", engine._compile_expression)
    _installed.append(engine)
    return True


def _tasks(block):
    for entry in [*(block.block or []), *(block.rescue or []), *(block.always or [])]:
        if hasattr(entry, "block"):
            yield from _tasks(entry)
        else:
            yield entry


def _conditionals(task):
    """A task's `when` and those of the blocks (and includes) around it: the worker evaluates them all."""
    node = task
    while node is not None:
        for conditional in getattr(node, "when", None) or []:
            if isinstance(conditional, str) and is_trusted_as_template(conditional):
                yield conditional
        node = getattr(node, "_parent", None)


def prime(play):
    """Compile what the play's roles and (statically known) tasks will template; returns the count.

    A source that does not compile is left for the task that templates it to report."""
    if not install():
        return 0
    engine = _engine.TemplateEngine(loader=play._loader)
    template, expression = _engine.TemplateOptions.DEFAULT, _engine.TemplateOptions(**CONDITIONAL)
    template_file = _engine.TemplateOptions(**TEMPLATE_FILE)
    wanted = []
    for role in play.get_roles():
        wanted += [("template", s) for s in templated_strings([role._default_vars, role._role_vars])]
    wanted += [("template", s) for s in templated_strings([play.vars, play.module_defaults])]
    for block in play.compile():
        for task in _tasks(block):
            wanted += [("template", s) for s in templated_strings([task.args, task.vars, task.loop])]
            wanted += [("expression", c.strip()) for c in _conditionals(task) if c.strip()]
    for kind, source in dict.fromkeys(wanted):
        if kind == "template":
            engine._compile_template(source, template)
        elif not any(source.startswith(marker) for marker in TEMPLATE_MARKERS):
            engine._compile_expression(source, expression)
    files = list(_role_template_files(play))
    for text in files:
        if not LOADER_DEPENDENT.search(text):
            engine._compile_template(trust_as_template(text), template_file)
    # What template_vars parses in the workers for the same sources and for the roles' template files.
    template_vars.prime([(s, None) for kind, s in wanted if kind == "template"] + [(t, None) for t in files])
    return len(_compiled)


def _role_template_files(play):
    # A role imported twice (site.yml: discourse_site's checks and its summary) is read once.
    for role_path in dict.fromkeys(role._role_path for role in play.get_roles()):
        for folder, _dirs, files in os.walk(os.path.join(role_path, "templates")):
            for name in sorted(files):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    yield handle.read()
