"""plugin_utils/template_cache.py: each template compiled once, the same values rendered.

ansible-core 2.19 compiles a template each time it renders it: TemplateEngine._compile_template
and _compile_expression (ansible/ansible tag v2.19.14, lib/ansible/_internal/_templating/
_engine.py), called by `template` and `evaluate_expression`; a conditional is stripped and
evaluated with escape_backslashes=False, preserve_trailing_newlines=False
(`_normalize_and_evaluate_conditional`, same file). These tests render through a real Templar.
"""

from __future__ import annotations

import pytest
from ansible._internal._templating import _engine
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play import Play
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template
from ansible.vars.manager import VariableManager

from ansible_collections.forumops.discourse.plugins.plugin_utils import template_cache, template_vars


@pytest.fixture(autouse=True, scope="module")
def plugin_loader():
    init_plugin_loader()


@pytest.fixture(autouse=True)
def installed():
    """The cache installed for one test, then the engine as ansible-core ships it."""
    originals = (_engine.TemplateEngine._compile_template, _engine.TemplateEngine._compile_expression)
    template_cache._compiled.clear()
    assert template_cache.install() is True
    yield template_cache._compiled
    _engine.TemplateEngine._compile_template, _engine.TemplateEngine._compile_expression = originals
    template_cache._installed.clear()
    template_cache._compiled.clear()


def kept(cache):
    return sorted((kind, source) for kind, source, _options in cache)


def templar(searchpath=None, **variables):
    found = Templar(loader=DataLoader(), variables=variables)
    return found.copy_with_new_env(searchpath=searchpath) if searchpath else found


def test_the_sources_primed_are_the_trusted_templates_inside_a_value():
    value = {
        "a": trust_as_template("{{ x }}"),
        "b": [trust_as_template("plain"), trust_as_template("{% if y %}1{% endif %}"), 3],
        "c": "{{ untrusted }}",
        "d": {"e": (trust_as_template("{# note #}"),)},
    }
    assert list(template_vars.templated_strings(value)) == ["{{ x }}", "{% if y %}1{% endif %}"]


def test_a_template_is_compiled_once_and_renders_each_context_s_values(installed):
    source = trust_as_template("{{ name | upper }}-{{ count | int + 1 }}")
    assert templar(name="alice", count="2").template(source) == "ALICE-3"
    compiled = dict(installed)
    assert templar(name="bob", count="5").template(source) == "BOB-6"
    assert kept(installed) == [("template", "{{ name | upper }}-{{ count | int + 1 }}")]
    assert dict(installed) == compiled  # the second render compiled nothing


def test_a_conditional_is_kept_as_an_expression(installed):
    assert templar(count=1).evaluate_conditional(trust_as_template(" count > 0 ")) is True
    assert templar(count=0).evaluate_conditional(trust_as_template("count > 0")) is False
    assert kept(installed) == [("expression", "count > 0")]


def test_options_are_part_of_the_key(installed):
    """escape_backslashes changes what the same source compiles to: two entries, two results."""
    source = trust_as_template("{{ 'a\\\\b' }}")
    first = templar().template(source)
    second = templar().template(source, escape_backslashes=False)
    assert (first, second, len(installed)) == ("a\\\\b", "a\\b", 2)


def test_a_template_that_includes_is_compiled_where_its_loader_looks(installed, tmp_path):
    """The same source includes another file under each search path: it is never kept."""
    for name, text in (("one", "first"), ("two", "second")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part.j2").write_text(text, encoding="utf-8")
    source = trust_as_template("[{% include 'part.j2' %}]")
    rendered = [templar(searchpath=[str(tmp_path / name)]).template(source) for name in ("one", "two")]
    assert (rendered, kept(installed)) == (["[first]", "[second]"], [])


def test_a_template_that_does_not_compile_is_not_kept_and_fails_each_time(installed):
    for _attempt in (1, 2):
        with pytest.raises(AnsibleError, match="Syntax error"):
            templar().template(trust_as_template("{{ x | }}"))
    assert kept(installed) == []


def test_other_delimiters_are_not_kept(installed):
    source = trust_as_template("<< x >>")
    delimiters = {"variable_start_string": "<<", "variable_end_string": ">>"}
    assert templar(x=1).template(source, overrides=delimiters) == 1
    assert kept(installed) == []


def test_prime_compiles_the_play_s_templates_before_any_task_runs(installed):
    loader = DataLoader()
    play = Play.load(
        {
            "name": "primed",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"greeting": trust_as_template("{{ name | upper }}")},
            "tasks": [
                {
                    "name": "say",
                    "ansible.builtin.debug": {"msg": trust_as_template("{{ greeting }}!")},
                    "when": [trust_as_template("count | int > 0")],
                },
                {
                    "block": [{"name": "inner", "ansible.builtin.debug": {"msg": "plain"}}],
                    "when": trust_as_template("name is defined"),
                },
            ],
        },
        variable_manager=VariableManager(loader=loader),
        loader=loader,
    )
    assert template_cache.prime(play) == 4
    assert kept(installed) == [
        ("expression", "count | int > 0"),
        ("expression", "name is defined"),
        ("template", "{{ greeting }}!"),
        ("template", "{{ name | upper }}"),
    ]
    before = dict(installed)
    assert (
        templar(greeting=trust_as_template("{{ name | upper }}"), name="ann").template(
            trust_as_template("{{ greeting }}!")
        )
        == "ANN!"
    )
    assert dict(installed) == before


def test_prime_compiles_and_parses_the_roles_template_files(installed, tmp_path, monkeypatch):
    """Compiled with the options k8s_apply and Ansible's template action render a file with."""
    role = tmp_path / "roles" / "primed"
    (role / "templates" / "nested").mkdir(parents=True)
    (role / "tasks").mkdir()
    (role / "tasks" / "main.yml").write_text("- ansible.builtin.debug: {msg: hi}\n", encoding="utf-8")
    (role / "templates" / "nested" / "object.yaml.j2").write_text(
        "name: {{ object_name }}\n", encoding="utf-8"
    )
    monkeypatch.setattr(template_vars, "_references", {})
    loader = DataLoader()
    play = Play.load(
        {"name": "primed", "hosts": "localhost", "gather_facts": False, "roles": [str(role)]},
        variable_manager=VariableManager(loader=loader),
        loader=loader,
    )

    template_cache.prime(play)

    assert template_vars._references == {
        ("name: {{ object_name }}\n", ()): (frozenset({"object_name"}), frozenset())
    }
