# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
name: preload
type: aggregate
short_description: Load this collection's plugins once in the controller, before the first task forks
version_added: "0.1.0"
description:
  - Ansible forks one worker process per task and host, and the worker loads the task's action
    plugin and every filter plugin of the collection a template names. Loaded in the forking process
    instead, they come with each fork for free; a no-op converge of one site runs about forty tasks.
  - At the start of a playbook this loads the collection's action plugins (with them boto3 and its
    S3 model, and the roles' argument specs), its filter plugins, and Ansible's own filters and
    tests.
  - At the start of each play it compiles the Jinja templates of the play's role variables, task
    arguments and conditionals, which ansible-core would otherwise compile again in every worker
    that renders them (plugin_utils/template_cache.py). Code is kept, never a rendered value.
  - Before each task forks its workers it freezes the garbage collector's view of the controller's
    objects (C(gc.freeze)), so a worker's collections skip the controller's heap instead of walking
    it and copying every page they touch; Python's C(gc) documentation recommends freezing before
    C(fork) for this. The controller's cyclic garbage from before a freeze is kept until it exits.
  - Nothing is cached across runs and nothing is printed; playbooks behave the same without it,
    only slower.
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = forumops.discourse.preload), as this
    repository's C(ansible.cfg) does.
author:
  - forumops engineering (@forumops)
requirements: []
"""

import gc  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from ansible.plugins.callback import CallbackBase  # noqa: E402
from ansible.plugins.loader import action_loader, filter_loader, test_loader  # noqa: E402

from ansible_collections.forumops.discourse.plugins.plugin_utils import template_cache  # noqa: E402

COLLECTION = "forumops.discourse"
ACTION_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "action")


def preload():
    """Load what the workers of this collection's tasks would each load again.

    An action plugin module may define preload() for what it reads on first use (validate_inputs:
    the roles' argument specs; s3_buckets: boto3's S3 model).
    """
    for entry in sorted(os.listdir(ACTION_DIR)):
        if entry.endswith(".py"):
            action = action_loader.get(f"{COLLECTION}.{entry[:-3]}", class_only=True)
            hook = getattr(sys.modules[action.__module__], "preload", None)
            if hook:
                hook()
    # A lookup of one collection filter loads every filter file of the collection (the Jinja2 plugin
    # loader walks the package) after Ansible's own; one builtin test loads the builtin tests.
    filter_loader.get(f"{COLLECTION}.resource_name")
    test_loader.get("ansible.builtin.match")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "forumops.discourse.preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        preload()

    def v2_playbook_on_play_start(self, play):
        template_cache.prime(play)

    # The strategy sends these before it forks the task's workers.
    def v2_playbook_on_task_start(self, task, is_conditional):
        gc.freeze()

    def v2_playbook_on_handler_task_start(self, task):
        gc.freeze()
