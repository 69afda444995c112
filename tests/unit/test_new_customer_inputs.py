"""playbooks/new_customer.yml's input checks (module_utils/new_customer.py), with exact messages."""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import new_customer

SITE = {"name": "acme_forum", "hostname": "forum.acme.com"}
CONTEXT = {"destination": "/inv/acme"}


def check(exists=(), readable=("/pw",), **values):
    values = {
        "new_customer_name": "acme",
        "new_customer_sites": [SITE],
        "new_customer_vault_password_file": "/pw",
        **values,
    }
    return new_customer.errors(
        values, CONTEXT, exists=lambda p: p in exists, readable=lambda p: p in readable
    )


def test_sites_get_a_namespace_from_their_name_unless_given():
    assert new_customer.customer_sites([SITE, {"name": "b", "hostname": "b.test", "namespace": "own"}]) == [
        {"name": "acme_forum", "hostname": "forum.acme.com", "namespace": "discourse-acme-forum"},
        {"name": "b", "hostname": "b.test", "namespace": "own"},
    ]


def test_good_inputs_pass():
    assert check() == []


def test_every_error_is_reported_at_once():
    assert check(
        new_customer_name=None,
        new_customer_sites=[SITE, {"name": "Acme-Help", "hostname": "https://help.acme.com/"}, SITE],
        new_customer_vault_password_file="",
    ) == [
        "new_customer_name must be a DNS label of at most 40 characters (lowercase letters, digits and '-', "
        "starting and ending with a letter or digit), got nothing.",
        'new_customer_sites[1] ("Acme-Help"): name must be an Ansible host name ([a-z0-9_]+), got '
        '"Acme-Help"; hostname must be a bare host name such as forum.acme.com (no scheme, port or path), '
        'got "https://help.acme.com/"; namespace must be a DNS label of at most 63 characters, got '
        '"discourse-Acme-Help".',
        "new_customer_sites must name each site, hostname and namespace once (one site per namespace); "
        "repeated: acme_forum, forum.acme.com, discourse-acme-forum.",
        "new_customer_vault_password_file must name the customer's vault password file (a non-empty file "
        "kept outside the repository, or an executable that prints the password), got nothing.",
    ]


def test_sites_that_are_not_a_list_of_mappings_are_refused():
    for sites in ([], "acme_forum", [SITE, "x"], None):
        assert check(new_customer_sites=sites)[0].startswith(
            'new_customer_sites must be a non-empty list of sites such as [{"name": "acme_forum", '
        ), sites


def test_an_existing_inventory_and_an_unreadable_password_file_are_refused():
    assert check(exists=("/inv/acme",), readable=()) == [
        "/inv/acme exists; choose another name or remove it (new_customer_name).",
        "new_customer_vault_password_file must name the customer's vault password file (a non-empty file "
        'kept outside the repository, or an executable that prints the password), got "/pw".',
    ]


def test_a_name_longer_than_40_characters_is_refused():
    assert check(new_customer_name="a" * 41)[0].endswith(f'got "{"a" * 41}".')
