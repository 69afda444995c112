"""discourse_database's constants: the images and extension packages of what it supports
(tests/unit/test_role_interface.py checks its inputs like every role's)."""

from __future__ import annotations

import re

import yaml

from tests.fixtures.ansible import REPO_ROOT

ROLE = REPO_ROOT / "roles" / "discourse_database"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())


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
