"""Every role's interface, one parametrised test per rule: each input has a default and a typed,
described argument spec that agrees with it; names carry the role's prefix; secrets are never
logged by argument validation."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT

ROLES = sorted(
    p.name for p in (REPO_ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file()
)
# Inputs that carry a secret value (not the name of a Secret or of one of its keys).
SECRET_INPUT = re.compile(r"(password|secret_access_key|_token)$")


def load(role, relative):
    path = REPO_ROOT / "roles" / role / relative
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def options(role):
    return load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]


def test_every_role_with_inputs_is_checked():
    # discourse_site reads the other roles' inputs and the playbooks' and has none of its own.
    without = sorted(p.name for p in (REPO_ROOT / "roles").iterdir() if p.name not in ROLES)
    assert without == ["discourse_site"]
    assert ROLES == [
        "discourse_app",
        "discourse_backup",
        "discourse_database",
        "discourse_image",
        "discourse_storage",
        "discourse_valkey",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_declared_and_every_declared_input_has_a_default(role):
    assert sorted(load(role, "defaults/main.yml")) == sorted(options(role))


@pytest.mark.parametrize("role", ROLES)
def test_every_input_is_typed_and_described(role):
    assert [
        name
        for name, spec in options(role).items()
        if spec.get("type") not in {"str", "bool", "int", "float", "list", "dict", "path"}
        or not spec.get("description")
    ] == []


@pytest.mark.parametrize("role", ROLES)
def test_inputs_and_internals_are_named_after_the_role(role):
    assert [name for name in load(role, "defaults/main.yml") if not name.startswith(f"{role}_")] == []
    assert [name for name in load(role, "vars/main.yml") if not name.startswith(f"__{role}_")] == []


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_are_in_the_argument_spec_and_agree(role):
    """A computed default ("{{ ... }}") is described in the spec in words; a literal one is given there
    exactly."""
    defaults = load(role, "defaults/main.yml")
    disagree = [
        name
        for name, spec in options(role).items()
        if "{{" not in str(defaults[name]) and spec.get("default", object()) != defaults[name]
    ]
    assert disagree == []


@pytest.mark.parametrize("role", ROLES)
def test_secret_inputs_are_never_logged(role):
    assert [
        name
        for name, spec in options(role).items()
        if SECRET_INPUT.search(name) and spec.get("no_log") is not True
    ] == []
