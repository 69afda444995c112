"""The collection resolves from the checkout exactly as the README promises."""

import pytest


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("module", "forumops.discourse.pups_render", "> MODULE forumops.discourse.pups_render ("),
        (
            "filter",
            "forumops.discourse.site_settings_plan",
            "> FILTER forumops.discourse.site_settings_plan (",
        ),
        ("role", "forumops.discourse.discourse_app", "> ROLE: *forumops.discourse.discourse_app* ("),
    ],
)
def test_ansible_doc_resolves_from_the_checkout(ansible, kind, name, expected):
    result = ansible("ansible-doc", "-t", kind, name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(expected)
    # The collection path is this checkout, not an installed copy.
    assert ".collections/ansible_collections/forumops/discourse" in result.stdout


def test_bad_site_setting_fails_naming_the_variable_and_key(ansible):
    result = ansible("ansible-playbook", "tests/integration/playbooks/site_settings_bad.yml")
    assert result.returncode == 2
    output = " ".join(result.stdout.split())
    assert "discourse_app_site_settings: 'max image size' is not a Discourse setting name" in output
