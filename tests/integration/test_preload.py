"""The forumops.discourse.preload callback: each plugin is imported once per run, not once per task.

Ansible forks a worker per task (ansible/ansible tag v2.19.14, the version requirements pin:
lib/ansible/plugins/strategy/__init__.py `_queue_task` starts a WorkerProcess), and its plugin
loader keeps loaded plugin modules in process-wide caches (lib/ansible/plugins/loader.py:
MODULE_CACHE, `_load_module_source` checks sys.modules), so what the controller loaded before the
fork is already loaded in the worker; and a collection filter lookup walks every file of the
collection's filter package (`Jinja2Loader.get_with_context`, pkgutil.iter_modules). A probe
action plugin, run in its task's worker, lists what the worker finds loaded.
"""

from __future__ import annotations

import json

from tests.fixtures.ansible import ansible_env, run_tool

PROBE = """\
import gc
import sys

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        boto3 = sys.modules.get("boto3")
        return {
            "modules": sorted(m for m in sys.modules if m.startswith("ansible_collections.forumops")),
            "boto3_session": bool(boto3 and boto3.DEFAULT_SESSION),
            "frozen": gc.get_freeze_count(),
        }
"""
PLAYBOOK = """\
- name: What a worker finds loaded when its task starts
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: List the modules loaded in this worker
      probe: {}
      register: probe
    - name: Write them down
      ansible.builtin.copy:
        content: "{{ probe | to_json }}"
        dest: "{{ playbook_dir }}/probe.json"
        mode: "0600"
"""
PREFIX = "ansible_collections.forumops.discourse.plugins."
# What the site's tasks use: every action plugin, the filters (all in one lookup), and what they import.
EXPECTED = {
    "action.k8s_apply",
    "action.s3_buckets",
    "action.validate_inputs",
    "filter.names",
    "filter.app_env",
    "module_utils.cross_field",
    "module_utils.s3_buckets_io",
}


def worker_modules(tmp_path, callbacks):
    """The collection's modules a task's worker finds loaded, whether boto3's session exists, and how
    many of the controller's objects its garbage collector skips (gc.get_freeze_count())."""
    (tmp_path / "action_plugins").mkdir(exist_ok=True)
    (tmp_path / "action_plugins" / "probe.py").write_text(PROBE, encoding="utf-8")
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    env = ansible_env(ANSIBLE_CALLBACKS_ENABLED=callbacks)
    result = run_tool("ansible-playbook", "-i", "localhost,", playbook, env=env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    probe = json.loads((tmp_path / "probe.json").read_text(encoding="utf-8"))
    loaded = {m.removeprefix(PREFIX) for m in probe["modules"] if m.startswith(PREFIX)}
    return loaded, probe["boto3_session"], probe["frozen"]


def test_a_worker_starts_with_the_collections_plugins_loaded(tmp_path):
    # The repository's ansible.cfg enables it; ansible.posix.timer stands in for "no preload".
    without, without_session, _frozen = worker_modules(tmp_path, "ansible.posix.timer")
    preloaded, session, _frozen = worker_modules(tmp_path, "forumops.discourse.preload")

    # Without it each worker loads them again for its task.
    assert (EXPECTED & without, without_session) == (set(), False)
    # With it the controller loaded them once, before the first fork; boto3's default session (which
    # holds the S3 model) is there too.
    assert (EXPECTED - preloaded, session) == (set(), True)


def test_a_worker_s_garbage_collector_skips_the_controller_s_objects(tmp_path):
    """A collection in a forked worker walks every object the controller had tracked, writing to each
    (copy-on-write copies its page); objects frozen before the fork are skipped. Python's gc docs
    (python/cpython, Doc/library/gc.rst, 3.11 at b80e4c89d8f385ca77a41e2d6302c95d7e10f391, `freeze`)
    advise freezing right before fork(). ansible-core does not freeze (ansible/ansible tag v2.19.14,
    lib/ansible/executor/process/worker.py); the callback does, at each task's start."""
    *_loaded, without = worker_modules(tmp_path, "ansible.posix.timer")
    *_loaded, frozen = worker_modules(tmp_path, "forumops.discourse.preload")

    assert without == 0
    # The controller's heap: Ansible, the collection's plugins, boto3's model (over 100,000 objects).
    assert frozen > 100_000, frozen


CACHE_PROBE = """\
import sys

from ansible.plugins.action import ActionBase

CACHE = "ansible_collections.forumops.discourse.plugins.plugin_utils.template_cache"


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        compiled = sys.modules[CACHE]._compiled if CACHE in sys.modules else {}
        return {"compiled": sorted({f"{kind}: {source}" for kind, source, _options in compiled})}
"""
ROLE_VARS = """\
greeting: "{{ name | upper }}-{{ count | int + 1 }}"
"""
ROLE_TASKS = """\
- name: Read what this worker inherited compiled, before it templates anything
  cache_probe: {}
  register: inherited
  when: count | int > 0

- name: Write it down with the rendered greeting
  ansible.builtin.copy:
    content: "{{ {'inherited': inherited.compiled, 'greeting': greeting} | to_json }}"
    dest: "{{ playbook_dir }}/{{ label }}.json"
    mode: "0600"
"""
CACHE_PLAYBOOK = """\
- name: Templates compiled once for every worker
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    name: ann
    count: "2"
  roles:
    - greeter
"""


def test_each_worker_inherits_the_play_s_templates_compiled(tmp_path):
    """ansible-core 2.19 compiles a template on each render, in the worker of each task
    (ansible/ansible tag v2.19.14, lib/ansible/_internal/_templating/_engine.py `template`,
    `_compile_template`); the callback compiles the play's role variables, task arguments and
    conditionals in the controller, at play start, before the first fork."""
    role = tmp_path / "roles" / "greeter"
    (tmp_path / "action_plugins").mkdir()
    (tmp_path / "action_plugins" / "cache_probe.py").write_text(CACHE_PROBE, encoding="utf-8")
    for folder, text in (("vars", ROLE_VARS), ("tasks", ROLE_TASKS)):
        (role / folder).mkdir(parents=True)
        (role / folder / "main.yml").write_text(text, encoding="utf-8")
    playbook = tmp_path / "play.yml"
    playbook.write_text(CACHE_PLAYBOOK, encoding="utf-8")
    found = {}
    for label, callbacks in (("without", "ansible.posix.timer"), ("with", "forumops.discourse.preload")):
        env = ansible_env(ANSIBLE_CALLBACKS_ENABLED=callbacks)
        result = run_tool("ansible-playbook", "-i", "localhost,", playbook, "-e", f"label={label}", env=env)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        found[label] = json.loads((tmp_path / f"{label}.json").read_text(encoding="utf-8"))

    assert found["without"] == {"inherited": [], "greeting": "ANN-3"}
    assert found["with"] == {
        "inherited": [
            "expression: count | int > 0",
            "template: {{ name | upper }}-{{ count | int + 1 }}",
            "template: {{ playbook_dir }}/{{ label }}.json",
            "template: {{ {'inherited': inherited.compiled, 'greeting': greeting} | to_json }}",
        ],
        "greeting": "ANN-3",
    }


def test_the_repository_configuration_enables_it():
    result = run_tool("ansible-config", "dump", "--only-changed")
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("CALLBACKS_ENABLED")]
    assert "forumops.discourse.preload" in line
