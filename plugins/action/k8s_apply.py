# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply inside the controller's worker process (no module fork).

On a local connection the plugin talks to the API server itself through module_utils/kube.py;
on any other connection it renders the templates here and runs the k8s_apply module on the host.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible.utils.display import Display

from ansible_collections.forumops.discourse.plugins.module_utils import kube

display = Display()

# Every changed object is also recorded in this host fact, so a play can summarise what it changed.
CHANGES_FACT = "discourse_changed_objects"
# Connection options set for kubernetes.core's modules with module_defaults apply here too, so a
# play's `group/kubernetes.core.k8s: {kubeconfig: ...}` serves both.
INHERITED_DEFAULTS = ("group/kubernetes.core.k8s", "group/k8s", "kubernetes.core.k8s")
TEMPLATE_OPTIONS = (
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "trim_blocks",
)


class KubeAction(ActionBase):
    """Shared by k8s_apply and k8s_get: argument handling, connection defaults, local or remote."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    MODULE = ""
    SPEC: dict = {}

    def _inherited_connection_defaults(self):
        merged = {}
        for defaults in self._task.module_defaults or []:
            for key in INHERITED_DEFAULTS:
                if isinstance(defaults, dict) and isinstance(defaults.get(key), dict):
                    merged.update({k: v for k, v in defaults[key].items() if k in kube.CONNECTION_KEYS})
        return self._templar.template(merged) if merged else {}

    def _params(self):
        args = self._inherited_connection_defaults()
        args.update(self._task.args)
        validator = ArgumentSpecValidator(self.SPEC, mutually_exclusive=[("definitions", "template")])
        validated = validator.validate(args)
        if validated.error_messages:
            raise AnsibleActionFail(f"{self.MODULE}: " + "; ".join(validated.error_messages))
        return validated.validated_parameters

    def _is_local(self):
        return getattr(self._connection, "transport", "") in ("local", "ansible.builtin.local")

    def _remote(self, params, task_vars):
        module_args = {k: v for k, v in params.items() if v is not None and k != "template"}
        return self._execute_module(
            module_name=f"forumops.discourse.{self.MODULE}", module_args=module_args, task_vars=task_vars
        )

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        self._host = task_vars.get("inventory_hostname", "")
        result = super().run(tmp, task_vars)
        params = self._params()
        prepared = self.prepare(params, task_vars)
        if not self._is_local():
            result.update(self._remote(prepared, task_vars))
            return result
        try:
            client = kube.client_from_params(prepared)
            result.update(self.local(client, prepared))
        except kube.KubeError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        return result

    def prepare(self, params, task_vars):
        return params

    def local(self, client, params):
        raise NotImplementedError

    def progress(self, message):
        """Long waits say what they wait for (the worker's display reaches the controller's)."""
        display.display(f"  [{self._host}] {message}")


class ActionModule(KubeAction):
    MODULE = "k8s_apply"
    SPEC = kube.APPLY_SPEC

    def _render(self, templates, task_vars):
        """Render template paths (or {path, variable_start_string, ...} dicts) as the template lookup does.

        One templar serves every template of the task (the lookup deep-copies all variables per file).
        """
        if isinstance(templates, (str, dict)):
            templates = [templates]
        searchpath = []
        for path in task_vars.get("ansible_search_path") or []:
            searchpath.extend([os.path.join(path, "templates"), path])
        rendered = []
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
            templar = self._templar.copy_with_new_env(
                searchpath=[os.path.dirname(source), *searchpath], available_variables=task_vars
            )
            data = trust_as_template(self._loader.get_text_file_contents(source))
            rendered.append(templar.template(data, escape_backslashes=False, overrides=overrides))
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
        return kube.run_apply(
            client,
            params["definitions"],
            field_manager=params["field_manager"],
            force=params["force_conflicts"],
            state=params["state"],
            namespace=params.get("namespace"),
            check_mode=bool(self._task.check_mode),
            want_diff=bool(self._task.diff),
            wait=params["wait"],
            wait_condition=params.get("wait_condition"),
            wait_timeout=params["wait_timeout"],
            wait_sleep=params["wait_sleep"],
            validation=params["validation"],
            create_only=params["create_only"],
            keep=params.get("keep"),
            hand_over=params["hand_over"],
            own_keys=params["own_keys"],
            progress=self.progress,
        )

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        changed = result.get("changed_objects") or []
        if changed:
            before = (task_vars or {}).get(CHANGES_FACT) or []
            result["ansible_facts"] = {CHANGES_FACT: list(before) + list(changed)}
        return result
