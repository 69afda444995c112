# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply inside the controller's worker process (no module fork).

On a local connection the plugin talks to the API server itself through module_utils/kube.py;
on any other connection it renders the templates here and runs the k8s_apply module on the host.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.template import trust_as_template

from ansible_collections.forumops.discourse.plugins.module_utils import kube
from ansible_collections.forumops.discourse.plugins.plugin_utils import template_vars
from ansible_collections.forumops.discourse.plugins.plugin_utils.kube_action import KubeAction

# Every changed object is also recorded in this host fact, so a play can summarise what it changed.
CHANGES_FACT = "discourse_changed_objects"
TEMPLATE_OPTIONS = (
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "trim_blocks",
)


class ActionModule(KubeAction):
    MODULE = "k8s_apply"
    SPEC = kube.APPLY_SPEC
    MUTUALLY_EXCLUSIVE = [("definitions", "template")]

    def _render(self, templates, task_vars):
        """Render template paths (or {path, variable_start_string, ...} dicts) as the template lookup does.

        One templar serves every template of the task (the lookup deep-copies all variables per file).
        """
        if isinstance(templates, (str, dict)):
            templates = [templates]
        searchpath = []
        for path in task_vars.get("ansible_search_path") or []:
            searchpath.extend([os.path.join(path, "templates"), path])
        entries = []
        for entry in templates or []:
            entry = dict(entry) if isinstance(entry, dict) else {"path": entry}
            if not entry.get("path"):
                raise AnsibleActionFail(f"k8s_apply: a template entry needs a path, got {entry}")
            try:
                source = self._find_needle("templates", str(entry["path"]))
            except AnsibleError as exc:
                raise AnsibleActionFail(f"k8s_apply: {exc}") from None
            overrides = {"trim_blocks": True}
            overrides.update({k: entry[k] for k in TEMPLATE_OPTIONS if k in entry})
            entries.append((source, self._loader.get_text_file_contents(source), overrides))
        # One set of variables for every template of the task, each rendered once (template_vars.py).
        available = template_vars.needed_variables(
            self._templar,
            [(text, overrides) for _source, text, overrides in entries],
            task_vars,
            [*{os.path.dirname(source) for source, _text, _overrides in entries}, *searchpath],
        )
        rendered = []
        for source, text, overrides in entries:
            templar = self._templar.copy_with_new_env(
                searchpath=[os.path.dirname(source), *searchpath],
                available_variables=task_vars if available is None else available,
            )
            rendered.append(
                templar.template(trust_as_template(text), escape_backslashes=False, overrides=overrides)
            )
        return rendered

    def prepare(self, params, task_vars):
        if params.get("template") is not None:
            params = dict(params, definitions=self._render(params["template"], task_vars), template=None)
        try:
            params["definitions"] = kube.plain(kube.expand_definitions(params.get("definitions")))
        except kube.KubeError as exc:
            raise AnsibleActionFail(f"k8s_apply: {exc}") from None
        return params

    def local(self, client, params):
        return kube.run_apply_task(
            client, params, bool(self._task.check_mode), bool(self._task.diff), progress=self.progress
        )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        changed = result.get("changed_objects") or []
        if changed:
            before = (task_vars or {}).get(CHANGES_FACT) or []
            result["ansible_facts"] = {CHANGES_FACT: list(before) + list(changed)}
        return result
