"""plugin_utils/template_vars: the variables a template reads, each rendered once, with the real
ansible-core Templar (no server).

Why it exists: ansible-core renders each template in a context that wraps every host variable and
renders a templated variable again at each reference (ansible/ansible v2.19.14,
lib/ansible/_internal/_templating/_jinja_bits.py `_new_context`, `_flatten_and_lazify_vars`). The
template lookup passes the templar's available variables to the file it renders (same tag,
lib/ansible/plugins/lookup/template.py `run`: `variables=templar.available_variables` in
lib/ansible/_internal/_templating/_jinja_plugins.py `_invoke_lookup`), which is why a variable that
looks up a template needs that file's variables in the set too.
"""

import pytest
from ansible.errors import AnsibleUndefinedVariable
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

from ansible_collections.forumops.discourse.plugins.plugin_utils import template_vars

parse = template_vars._parse


@pytest.fixture(autouse=True, scope="module")
def plugin_loader():
    """The lookups the templates call (password, template) load as ansible-playbook loads them."""
    init_plugin_loader()


def trusted(value):
    """Variables as ansible-core loads them from YAML files: their strings may be templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def render(text, variables, searchpath=()):
    templar = Templar(loader=DataLoader(), variables=variables)
    templar = templar.copy_with_new_env(searchpath=list(searchpath), available_variables=variables)
    return templar.template(trust_as_template(text))


def needed(texts, variables, searchpath=()):
    templar = Templar(loader=DataLoader(), variables=variables)
    return template_vars.needed_variables(
        templar, [(text, None) for text in texts], variables, list(searchpath)
    )


SITE_VARS = {
    "site": "forum",
    "namespace": "{{ site }}-ns",
    "labels": {"instance": "{{ site }}", "part-of": "discourse"},
    "env": "{{ {'NS': namespace} | combine(extra_env) }}",
    "extra_env": {"A": "1"},
    "unrelated": "{{ site }}-other",
    "broken": "{{ missing_variable.attribute }}",
    "inventory_hostname": "fleet_01",
}


def test_references_are_every_name_a_template_loads():
    names, paths = template_vars.references(
        "{% set local = 1 %}{% for item in items %}{{ item ~ local ~ prefix }}{% endfor %}"
        "{% include 'partials/pod.j2' %}{{ lookup('ansible.builtin.template', 'config/a.conf.j2') }}"
        "{{ value | to_nice_yaml }}{{ other is forumops.discourse.some_test }}"
    )
    # `local` and `item` are set by the template itself: passing them on too changes nothing.
    assert names == {"items", "prefix", "value", "other", "lookup", "local", "item"}
    assert paths == {"partials/pod.j2", "config/a.conf.j2"}


@pytest.mark.parametrize(
    "text",
    [
        "{{ vars['discourse_' ~ name] }}",
        "{{ hostvars[inventory_hostname].x }}",
        "{{ lookup('ansible.builtin.vars', 'x') }}",
        "{{ query('varnames', '^discourse_') }}",
        "{{ lookup(plugin, 'x') }}",
        "{{ lookup('template', path) }}",
        "{% include name %}",
        "{{ unclosed",
    ],
)
def test_a_template_reading_variables_by_computed_name_has_no_known_set(text):
    with pytest.raises(template_vars.Dynamic):
        template_vars.references(text)
    assert needed([text], trusted(SITE_VARS)) is None


def test_a_source_is_parsed_once_per_process_whatever_its_whitespace_options(monkeypatch):
    parsed = []
    monkeypatch.setattr(template_vars, "_references", {})
    monkeypatch.setattr(
        template_vars, "_parse", lambda source, options: parsed.append(options) or parse(source, options)
    )
    first = template_vars.references("{{ a }}<< b >>")
    again = template_vars.references("{{ a }}<< b >>", {"trim_blocks": True})
    delimited = template_vars.references(
        "{{ a }}<< b >>", {"variable_start_string": "<<", "variable_end_string": ">>"}
    )

    assert (first, again is first, delimited) == (
        (frozenset({"a"}), frozenset()),
        True,
        (frozenset({"b"}), frozenset()),
    )
    assert parsed == [{}, {"variable_end_string": ">>", "variable_start_string": "<<"}]


def test_a_source_read_by_computed_name_raises_each_time_it_is_asked():
    for _attempt in range(2):
        with pytest.raises(template_vars.Dynamic, match=r"reads \['vars'\]"):
            template_vars.references("{{ vars['x' ~ n] }}")


def test_prime_parses_each_source_and_keeps_what_it_cannot_know(monkeypatch):
    monkeypatch.setattr(template_vars, "_references", {})
    assert (
        template_vars.prime([("{{ a }}", None), ("{{ vars[n] }}", None), ("{{ a }}", {"trim_blocks": True})])
        == 2
    )
    assert template_vars.references("{{ a }}") == (frozenset({"a"}), frozenset())


def test_each_variable_read_is_rendered_once_and_only_those_are_passed_on():
    variables = trusted(SITE_VARS)
    text = "ns={{ namespace }} labels={{ labels }} env={{ env }}"
    available = needed([text], variables)
    assert available == {
        "inventory_hostname": "fleet_01",
        "site": "forum",
        "namespace": "forum-ns",
        "labels": {"instance": "forum", "part-of": "discourse"},
        "env": {"NS": "forum-ns", "A": "1"},
        "extra_env": {"A": "1"},
    }
    assert render(text, available) == render(text, variables)


def test_a_variable_that_fails_to_render_fails_only_where_it_is_read():
    variables = trusted(SITE_VARS)
    guarded = "{{ broken if site == 'other' else namespace }}"
    available = needed([guarded], variables)
    assert available["broken"] == SITE_VARS["broken"]  # passed on unrendered
    assert render(guarded, available) == "forum-ns"
    with pytest.raises(AnsibleUndefinedVariable, match="missing_variable"):
        render("{{ broken }}", needed(["{{ broken }}"], variables))


def test_a_random_variable_has_one_value_in_every_template_of_the_task():
    variables = trusted({"token": "{{ lookup('ansible.builtin.password', '/dev/null', length=32) }}"})
    available = needed(["{{ token }}", "{{ token }}"], variables)
    assert render("{{ token }}", available) == render("{{ token }}", available) == available["token"]
    assert len(available["token"]) == 32


def test_included_and_looked_up_templates_count(tmp_path):
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "pod.j2").write_text("image={{ image }}\n")
    (tmp_path / "valkey.conf.j2").write_text("port {{ port }}\n")
    variables = trusted(
        {
            "image": "{{ registry }}/discourse:1",
            "registry": "registry.example.test",
            "port": 6379,
            "conf": "{{ lookup('ansible.builtin.template', 'valkey.conf.j2') }}",
            "ansible_search_path": [str(tmp_path)],
        }
    )
    text = "{% include 'partials/pod.j2' %}conf={{ conf }}"
    available = needed([text], variables, [str(tmp_path)])
    assert sorted(available) == ["ansible_search_path", "conf", "image", "port", "registry"]
    assert available["conf"] == "port 6379\n"
    expected = "image=registry.example.test/discourse:1conf=port 6379\n"  # include drops its final newline
    assert render(text, available, [str(tmp_path)]) == render(text, variables, [str(tmp_path)]) == expected


def test_variables_that_read_each_other_have_no_known_set():
    variables = trusted({"a": "{{ b }}", "b": "{{ a }}"})
    assert needed(["{{ a }}"], variables) is None


def test_untrusted_strings_stay_text():
    variables = {"registered": "{{ not_a_template_from_a_module }}"}  # a module's result: not trusted
    assert needed(["{{ registered }}"], variables) == {"registered": "{{ not_a_template_from_a_module }}"}


def engine_of(variables):
    """The task's TemplateEngine, as Task._post_validate_args hands it to finalize_task_arg."""
    return Templar(loader=DataLoader(), variables=variables)._engine


@pytest.mark.parametrize(
    "value",
    [
        {"name": "{{ namespace }}", "labels": ["{{ labels }}", "{{ env }}"], "count": 3},
        "{{ broken if site == 'other' else namespace }}",
        "{{ missing | default(omit) }}",  # raises what makes the finalizer drop the argument
        "{{ vars['namespace'] }}",  # read by a computed name: all variables, as before
        "{{ broken }}",
        "plain text",
        7,
    ],
)
def test_a_task_argument_templates_as_ansible_core_templates_it(value):
    """ActionBase.finalize_task_arg (ansible/ansible v2.19.14, lib/ansible/plugins/action/__init__.py)
    returns `templar.template(value)`; template_arg returns the same with fewer variables."""
    variables, value = trusted(SITE_VARS), trusted(value)
    assert outcome(template_vars.template_arg, engine_of(variables), value) == outcome(
        lambda engine, value: engine.template(value), engine_of(variables), value
    )


def outcome(function, *args):
    try:
        return function(*args)
    except Exception as exc:
        return type(exc), str(exc)


def test_a_task_argument_is_rendered_with_only_what_it_reads(monkeypatch):
    passed = []
    rendered_once = template_vars.rendered_once
    monkeypatch.setattr(
        template_vars, "rendered_once", lambda *args: passed.append(rendered_once(*args)) or passed[-1]
    )
    value = trust_as_template("{{ namespace }}/{{ labels.instance }}")
    assert template_vars.template_arg(engine_of(trusted(SITE_VARS)), value) == "forum-ns/forum"
    assert passed == [
        {
            "inventory_hostname": "fleet_01",
            "site": "forum",
            "namespace": "forum-ns",
            "labels": {"instance": "forum", "part-of": "discourse"},
        }
    ]
