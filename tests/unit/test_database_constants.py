"""discourse_database's interface: every default is declared, every declared input has a default."""

from __future__ import annotations

import re

import yaml

from tests.fixtures.ansible import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "discourse_database"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


def test_every_default_is_declared_in_the_argument_spec_and_back():
    assert sorted(DEFAULTS) == sorted(SPEC)


def test_every_input_is_described_and_typed():
    assert [
        name for name, option in SPEC.items() if not option.get("description") or not option.get("type")
    ] == []


def test_public_inputs_and_internals_follow_the_naming_convention():
    assert [name for name in DEFAULTS if not name.startswith("discourse_database_")] == []
    assert [name for name in ROLE_VARS if not name.startswith("__discourse_database_")] == []


def test_literal_defaults_match_the_argument_spec():
    # Templated defaults ("{{ ... }}") are described in prose; literal ones must agree exactly.
    mismatched = [
        name
        for name, option in SPEC.items()
        if "default" in option
        and not (isinstance(DEFAULTS[name], str) and "{{" in DEFAULTS[name])
        and option["default"] != DEFAULTS[name]
    ]
    assert mismatched == []


def test_every_supported_major_has_a_standard_image_whose_tag_starts_with_the_major():
    images = ROLE_VARS["__discourse_database_images"]
    assert sorted(images) == SPEC["discourse_database_postgresql_major"]["choices"]
    for major, image in images.items():
        # CloudNativePG detects the major from the tag; the standard flavour carries pgvector.
        assert re.fullmatch(rf"ghcr\.io/cloudnative-pg/postgresql:{major}\.\d+-standard-trixie", image), image


def test_every_extension_names_what_to_install_when_a_server_lacks_it():
    assert sorted(ROLE_VARS["__discourse_database_extension_packages"]) == sorted(
        ROLE_VARS["__discourse_database_extensions"]
    )
