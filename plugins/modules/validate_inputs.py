#!/usr/bin/python
# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: validate_inputs
short_description: Check every input of one or more of this collection's roles before any change
version_added: "0.1.0"
description:
  - Reads each named role's inputs from the play's variables (as the role would see them, so
    C(-e name=false) strings are converted as Ansible converts them) and reports every problem at
    once, each naming its variable and value, before anything is applied.
  - "Per role: its argument spec (types, choices), the checks the inputs' names call for
    (C(*_port) 1-65535, C(*_timeout) at least 1, counts such as C(*_replicas) not negative, C(*_size)
    a Kubernetes quantity, C(*_resources) requests and limits of quantities, C(*_schedule) a
    six-field cron with every field in range, C(CHANGE-ME) placeholders left by
    C(playbooks/new_customer.yml)), then the role's cross-field checks (module_utils/cross_field.py)."
  - C(playbooks/site.yml) runs it for every tier of every site before its first change; each role
    runs it for itself.
  - Runs as an action on the controller; there is nothing to run on a host.
author:
  - forumops engineering (@forumops)
options:
  roles:
    description: Role names of this collection (for example V(discourse_app)).
    type: list
    elements: str
    default: []
  playbook:
    description:
      - A playbook's entry in C(playbooks/vars/argument_specs.yml) (for example V(upgrade)). Its boolean
        inputs are also published as booleans, the facts C(__<input>).
    type: str
notes:
  - Supports check mode; it only reads variables.
"""

EXAMPLES = r"""
- name: Check the inputs of every tier before any change
  forumops.discourse.validate_inputs:
    roles: [discourse_storage, discourse_database, discourse_valkey, discourse_app]
"""

RETURN = r"""
ansible_facts:
  description: With O(playbook), C(__<input>) for each of its boolean inputs, as a boolean.
  returned: success
  type: dict
input_errors:
  description: Every problem found, each naming its variable.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={
            "roles": {"type": "list", "elements": "str", "default": []},
            "playbook": {"type": "str"},
        }
    )
    module.fail_json(msg="validate_inputs runs as an action plugin on the controller; it has no host part.")


if __name__ == "__main__":
    main()
