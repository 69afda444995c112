"""discourse_storage's interface: every input has a default and a typed, described argument spec."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "discourse_storage"


def load(relative):
    return yaml.safe_load((ROLE / relative).read_text())


def test_every_default_is_declared_and_every_declared_input_has_a_default():
    defaults = load("defaults/main.yml")
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)


def test_every_input_is_typed_described_and_named_after_the_role():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in options.items():
        assert name.startswith("discourse_storage_"), name
        assert spec.get("type") in {"str", "bool", "int", "list", "dict"}, name
        assert spec.get("description"), name


def test_plain_defaults_match_the_argument_spec():
    defaults = load("defaults/main.yml")
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in options.items():
        if "default" in spec:
            assert defaults[name] == spec["default"], name
        else:
            # Only computed defaults are left out of the spec (they are described in words).
            assert "{{" in str(defaults[name]), name


def test_the_secret_key_is_never_logged():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["discourse_storage_secret_access_key"].get("no_log") is True
