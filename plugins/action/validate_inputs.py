# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check every input of the named roles (or of a playbook) at once, before any change.

For each role: its argument spec (types, choices; ``-e`` strings converted as Ansible does), the
rules module_utils/inputs.py derives from the inputs' names, and the role's own cross-field checks
(module_utils/cross_field.py). One failure lists every error of every role.
A playbook's inputs come from playbooks/vars/argument_specs.yml; each boolean one is published as the
fact ``__<input>`` (a role's are in its vars/main.yml).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.yaml import yaml_load
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

from ansible_collections.forumops.discourse.plugins.module_utils import cross_field, inputs, new_customer
from ansible_collections.forumops.discourse.plugins.plugin_utils import template_vars

COLLECTION_DIR = os.path.join(os.path.dirname(__file__), "..", "..")
ROLES_DIR = os.path.join(COLLECTION_DIR, "roles")
PLAYBOOK_SPECS = os.path.join(COLLECTION_DIR, "playbooks", "vars", "argument_specs.yml")
# A playbook's own cross-field check and what it reads besides its inputs: {name: internal}.
PLAYBOOK_CHECKS = {
    "new_customer": (new_customer.errors, {"destination": "__discourse_site_new_customer_dest"})
}
SPEC = {"roles": {"type": "list", "elements": "str", "default": []}, "playbook": {"type": "str"}}


def playbook_spec(name):
    with open(PLAYBOOK_SPECS, encoding="utf-8") as handle:
        specs = yaml_load(handle)["argument_specs"]
    if name not in specs:
        raise AnsibleActionFail(f"validate_inputs: playbooks/vars/argument_specs.yml has no entry {name}")
    return specs[name].get("options") or {}


def role_spec(role):
    """The main entry point's options and the names whose default is "" (read once per process)."""
    if role not in _SPECS:
        base = os.path.join(ROLES_DIR, role)
        try:
            with open(os.path.join(base, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
                options = yaml_load(handle)["argument_specs"]["main"].get("options") or {}
            with open(os.path.join(base, "defaults", "main.yml"), encoding="utf-8") as handle:
                defaults = yaml_load(handle) or {}
        except (OSError, KeyError, TypeError) as exc:
            message = f"validate_inputs: {role} is not a role of this collection: {exc}"
            raise AnsibleActionFail(message) from None
        _SPECS[role] = (options, {name for name, value in defaults.items() if value == ""})
    return _SPECS[role]


_SPECS: dict = {}


def preload():
    """Called by the forumops.discourse.preload callback in the controller, before the workers fork:
    every role's specs, read once for the whole run instead of once per task."""
    for role in sorted(os.listdir(ROLES_DIR)):
        if os.path.exists(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")):
            role_spec(role)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        checked = ArgumentSpecValidator(SPEC).validate(self._task.args)
        if checked.error_messages:
            raise AnsibleActionFail("validate_inputs: " + "; ".join(checked.error_messages))
        params = checked.validated_parameters
        errors = []
        for role in params["roles"]:
            errors += self._role_errors(role, task_vars)
        if params["playbook"]:
            errors += self._playbook_errors(params["playbook"], task_vars, result)
        result["changed"] = False
        if errors:
            site = task_vars.get("inventory_hostname", "")
            result["failed"] = True
            listed = "\n- ".join(errors)
            result["msg"] = f"{site}: {len(errors)} input error(s), nothing was changed:\n- {listed}"
            result["input_errors"] = errors
        return result

    def _templar_over(self, available, task_vars):
        """A templar over the variables template_vars.py rendered once (all of them when it could not)."""
        if available is None:
            return self._templar, task_vars
        return self._templar.copy_with_new_env(available_variables=available), available

    def _values(self, options, task_vars):
        templar, variables = self._templar_over(
            template_vars.rendered_once(self._templar, options, task_vars), task_vars
        )
        values, errors = {}, []
        for name in options:
            if name in task_vars:
                try:
                    values[name] = templar.template(variables[name])
                except AnsibleError as exc:
                    errors.append(f"{name}: {exc.message}")
        return values, errors

    def _playbook_errors(self, playbook, task_vars, result):
        options = playbook_spec(playbook)
        values, errors = self._values(options, task_vars)
        validated = ArgumentSpecValidator(options).validate(values, validate_role_argument_spec=True)
        errors += validated.error_messages + inputs.input_errors(options, validated.validated_parameters)
        if playbook in PLAYBOOK_CHECKS and not validated.error_messages:
            check, internals = PLAYBOOK_CHECKS[playbook]
            context = {
                key: self._templar.template(task_vars[internal]) for key, internal in internals.items()
            }
            errors += check(validated.validated_parameters, context)
        if not errors:
            booleans = {n: o for n, o in options.items() if o.get("type") == "bool"}
            result["ansible_facts"] = {f"__{n}": validated.validated_parameters[n] for n in booleans}
        return errors

    def _role_errors(self, role, task_vars):
        options, defaults_empty = role_spec(role)
        values, errors = self._values(options, task_vars)
        validated = ArgumentSpecValidator(options).validate(values, validate_role_argument_spec=True)
        errors += validated.error_messages
        typed = not errors  # the role's own checks assume the argument spec's types
        errors += inputs.input_errors(options, validated.validated_parameters, defaults_empty)
        if not typed:
            return errors
        render_dir = self._templar.template(task_vars.get("discourse_render_dir", ""))
        context, context_errors = self._context(role, task_vars)
        if context_errors:
            return errors + context_errors
        return errors + cross_field.CHECKS[role](validated.validated_parameters, render_dir or "", context)

    def _context(self, role, task_vars):
        """The derived values the role's check reads (module_utils/cross_field.py CONTEXT); a filter
        that refuses its input while one is worked out gives its message as the error."""
        internals, removed = cross_field.CONTEXT.get(role, ({}, ()))
        context = {"removed": [name for name in removed if name in task_vars]}
        errors = []
        # An internal is an expression: the variables it reads are found in its parse.
        texts = {key: trust_as_template("{{ " + internal + " }}") for key, internal in internals.items()}
        needed = template_vars.needed_variables(
            self._templar, [(t, None) for t in texts.values()], task_vars, ()
        )
        templar, _variables = self._templar_over(needed, task_vars)
        for key, text in texts.items():
            try:
                context[key] = templar.template(text)
            except AnsibleError as exc:
                errors.append(exc.message)
        return context, errors
