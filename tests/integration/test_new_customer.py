"""playbooks/new_customer.yml and the inventory layout docs/inventories.md describes.

No cluster: the playbook writes files and ansible-inventory reads them back, with real ansible-vault
encryption and decryption.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, flat_output, run_tool

EXAMPLE = REPO_ROOT / "inventories/example"
VAULT_VARIABLES = (
    "vault_discourse_smtp_password",
    "vault_discourse_s3_access_key_id",
    "vault_discourse_s3_secret_access_key",
)
SITES = (
    {"name": "acme_forum", "hostname": "forum.acme.com"},
    {"name": "acme_support", "hostname": "support.acme.com", "namespace": "acme-help"},
)


def scaffold(inventories, password_file, name="acme", sites=SITES):
    return run_tool(
        "ansible-playbook",
        "playbooks/new_customer.yml",
        "-e",
        json.dumps(
            {
                "new_customer_name": name,
                "new_customer_sites": sites,
                "new_customer_inventories_dir": str(inventories),
                "new_customer_vault_password_file": str(password_file),
            }
        ),
    )


def tree(directory):
    """{relative path: sha256} of every file under directory."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def password_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vault") / "acme"
    path.write_text("acme-vault-password-for-tests\n")
    return path


@pytest.fixture(scope="module")
def acme(tmp_path_factory, password_file):
    """The inventory new_customer.yml scaffolds for two sites (written once for this module)."""
    inventories = tmp_path_factory.mktemp("inventories")
    result = scaffold(inventories, password_file)
    assert result.returncode == 0, result.stdout + result.stderr
    return inventories / "acme"


def test_hosts_yml_lists_the_sites_with_their_namespaces_and_the_first_as_canary(acme):
    assert yaml.safe_load((acme / "hosts.yml").read_text()) == {
        "all": {
            "children": {
                "discourse_sites": {
                    "hosts": {
                        "acme_forum": {
                            "discourse_hostname": "forum.acme.com",
                            "discourse_namespace": "discourse-acme-forum",
                        },
                        "acme_support": {
                            "discourse_hostname": "support.acme.com",
                            "discourse_namespace": "acme-help",
                        },
                    }
                },
                "discourse_canary": {"hosts": {"acme_forum": {}}},
            }
        }
    }


def test_the_inventory_has_exactly_the_scaffolded_files(acme, password_file):
    assert sorted(tree(acme)) == [
        "README.md",
        "group_vars/all/defaults.yml",
        "group_vars/all/main.yml",
        "group_vars/all/vault.yml",
        "hosts.yml",
    ]
    assert (acme / "host_vars").is_dir()
    assert (acme / "group_vars/all/defaults.yml").read_bytes() == (
        EXAMPLE / "group_vars/all/defaults.yml"
    ).read_bytes()
    # main.yml is the example's with the example's own values as placeholders (issue 22, item 11).
    example_lines = (EXAMPLE / "group_vars/all/main.yml").read_text().splitlines()
    customer_lines = (acme / "group_vars/all/main.yml").read_text().splitlines()
    changed = [(old, new) for old, new in zip(example_lines, customer_lines, strict=True) if old != new]
    assert changed == [
        ("discourse_storage_endpoint: https://objects.example.test", "discourse_storage_endpoint: CHANGE-ME"),
        (
            "discourse_app_image: registry.example.test/forumops/discourse:2026.11.0",
            "discourse_app_image: CHANGE-ME",
        ),
        ("  - admin@example.test", "  - CHANGE-ME"),
        ("discourse_app_smtp_address: smtp.example.test", "discourse_app_smtp_address: CHANGE-ME"),
        ("discourse_app_smtp_user_name: forum@example.test", "discourse_app_smtp_user_name: CHANGE-ME"),
        ("  title: Example Forum", "  title: CHANGE-ME"),
    ]
    readme = (acme / "README.md").read_text()
    # The vault password file actually used, not a made-up path.
    assert f"ansible-playbook -i {acme} playbooks/site.yml --vault-password-file {password_file}" in readme
    assert "~/.vault" not in readme
    assert "| `acme_forum` (canary) | forum.acme.com | `discourse-acme-forum` |" in readme


def test_vault_yml_is_encrypted_and_private(acme):
    vault = acme / "group_vars/all/vault.yml"
    text = vault.read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert "CHANGE-ME" not in text
    assert "vault_discourse" not in text
    # The body is hex only: nothing of the plaintext survives.
    assert all(set(line) <= set("0123456789abcdef") for line in text.splitlines()[1:])
    assert vault.stat().st_mode & 0o777 == 0o600


def test_ansible_inventory_decrypts_the_vault_for_both_sites(acme, password_file):
    result = run_tool("ansible-inventory", "-i", acme, "--list", "--vault-password-file", password_file)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["discourse_sites"] == {"hosts": ["acme_forum", "acme_support"]}
    assert listing["discourse_canary"] == {"hosts": ["acme_forum"]}
    hostvars = listing["_meta"]["hostvars"]
    assert sorted(hostvars) == ["acme_forum", "acme_support"]
    for site, namespace in (("acme_forum", "discourse-acme-forum"), ("acme_support", "acme-help")):
        assert hostvars[site]["discourse_namespace"] == namespace
        assert hostvars[site]["ansible_connection"] == "local"
        assert {key: hostvars[site][key] for key in VAULT_VARIABLES} == dict.fromkeys(
            VAULT_VARIABLES, "CHANGE-ME"
        )


def test_the_vault_does_not_open_without_the_customers_password(acme, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.write_text("forumops-example-dev\n")
    result = run_tool("ansible-inventory", "-i", acme, "--list", "--vault-password-file", wrong)
    assert result.returncode != 0
    assert "Decryption failed" in flat_output(result)


def test_a_second_run_is_refused_and_changes_nothing(acme, password_file):
    before = tree(acme)
    result = scaffold(acme.parent, password_file, sites=[{"name": "other", "hostname": "other.acme.com"}])
    assert result.returncode == 2
    assert f"{acme} exists; choose another name or remove it (new_customer_name)." in flat_output(result)
    assert tree(acme) == before


@pytest.mark.parametrize(
    ("name", "sites", "message"),
    [
        (
            "Acme",
            SITES,
            "new_customer_name must be a DNS label of at most 40 characters (lowercase letters, digits and "
            "'-', starting and ending with a letter or digit), got \"Acme\".",
        ),
        (
            "a" * 41,
            SITES,
            "new_customer_name must be a DNS label of at most 40 characters",
        ),
        (
            "acme",
            [],
            'new_customer_sites must be a non-empty list of sites such as [{"name": "acme_forum", '
            '"hostname": "forum.acme.com"}] (pass it as JSON with -e), got [].',
        ),
        (
            "acme",
            [{"name": "acme_forum", "hostname": "https://forum.acme.com/"}],
            'new_customer_sites[0] ("acme_forum"): hostname must be a bare host name such as forum.acme.com '
            '(no scheme, port or path), got "https://forum.acme.com/".',
        ),
        (
            "acme",
            [SITES[0], {"name": "Acme-Help", "hostname": "help.acme.com"}],
            'new_customer_sites[1] ("Acme-Help"): name must be an Ansible host name ([a-z0-9_]+), '
            'got "Acme-Help"; '
            'namespace must be a DNS label of at most 63 characters, got "discourse-Acme-Help".',
        ),
        (
            "acme",
            [SITES[0], {"name": "acme_forum", "hostname": "other.acme.com", "namespace": "acme-other"}],
            "new_customer_sites must name each site, hostname and namespace once (one site per namespace); "
            "repeated: acme_forum.",
        ),
        (
            "acme",
            [
                SITES[0],
                {"name": "acme_help", "hostname": "help.acme.com", "namespace": "discourse-acme-forum"},
            ],
            "new_customer_sites must name each site, hostname and namespace once (one site per namespace); "
            "repeated: discourse-acme-forum.",
        ),
    ],
    ids=[
        "uppercase-name",
        "long-name",
        "no-sites",
        "url-hostname",
        "bad-site-name",
        "duplicate-site",
        "shared-namespace",
    ],
)
def test_bad_input_fails_naming_the_variable_before_anything_is_written(
    tmp_path, password_file, name, sites, message
):
    result = scaffold(tmp_path, password_file, name=name, sites=sites)
    assert result.returncode == 2
    assert message in flat_output(result)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_vault_password_file_fails_before_anything_is_written(tmp_path):
    result = scaffold(tmp_path / "inventories", tmp_path / "no-such-file")
    assert result.returncode == 2
    assert (
        "new_customer_vault_password_file must name the customer's vault password file (a non-empty file "
        "kept outside the repository, or an executable that prints the password), "
        f'got "{tmp_path}/no-such-file".'
    ) in flat_output(result)
    assert list(tmp_path.iterdir()) == []


def test_the_example_vault_holds_exactly_the_three_dev_placeholders():
    assert (EXAMPLE / "vault-password.txt").read_text() == "forumops-example-dev\n"
    assert (EXAMPLE / "group_vars/all/vault.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    result = run_tool(
        "ansible-vault",
        "view",
        "--vault-password-file",
        EXAMPLE / "vault-password.txt",
        EXAMPLE / "group_vars/all/vault.yml",
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == {
        "vault_discourse_smtp_password": "example-smtp-password",
        "vault_discourse_s3_access_key_id": "forumops-example-access-key",
        "vault_discourse_s3_secret_access_key": "forumops-example-secret-key-0123456789",
    }


def test_the_example_password_file_is_not_read_as_inventory():
    # A file without a known extension in an inventory directory is parsed as an INI inventory (its
    # line would become a host); .txt is among the extensions ansible skips.
    result = run_tool(
        "ansible-inventory", "-i", EXAMPLE, "--list", "--vault-password-file", EXAMPLE / "vault-password.txt"
    )
    assert result.returncode == 0, result.stderr
    assert sorted(json.loads(result.stdout)["_meta"]["hostvars"]) == ["example_forum"]


@pytest.fixture
def shared(tmp_path):
    """Shared defaults for every customer: an inventory with no hosts, only group_vars/all."""
    directory = tmp_path / "shared"
    (directory / "group_vars/all").mkdir(parents=True)
    (directory / "hosts.yml").write_text("---\n# Shared defaults only: no hosts.\nall: {}\n")
    (directory / "group_vars/all/main.yml").write_text(
        "---\n"
        "discourse_app_web_replicas: 2\n"
        "discourse_site_settings:\n"
        "  title: Shared Title\n"
        "  default_locale: de\n"
    )
    return directory


def site_vars(*sources, password_file):
    args = [arg for source in sources for arg in ("-i", source)]
    result = run_tool(
        "ansible-inventory", *args, "--host", "acme_forum", "--vault-password-file", password_file
    )
    assert result.returncode == 0, result.stderr
    assert "Unable to parse" not in result.stderr
    return json.loads(result.stdout)


def test_shared_defaults_load_first_and_the_customer_wins(shared, acme, password_file):
    hostvars = site_vars(shared, acme, password_file=password_file)
    # Only in the shared defaults: inherited.
    assert hostvars["discourse_app_web_replicas"] == 2
    # In both: the customer's (its scaffolded main.yml) replaces the shared dict as a whole.
    assert (
        hostvars["discourse_site_settings"]
        == yaml.safe_load((acme / "group_vars/all/main.yml").read_text())["discourse_site_settings"]
    )
    assert hostvars["vault_discourse_smtp_password"] == "CHANGE-ME"


def test_the_order_of_inventory_sources_decides(shared, acme, password_file):
    hostvars = site_vars(acme, shared, password_file=password_file)
    assert hostvars["discourse_site_settings"] == {"title": "Shared Title", "default_locale": "de"}


def test_the_unedited_scaffold_is_refused_at_converge_naming_every_placeholder(acme, password_file):
    """Reported (issue 22, item 11): the scaffold converged unedited with CHANGE-ME credentials and the
    example's image, endpoint, title and admin. Refused before any cluster call (no cluster here)."""
    result = run_tool(
        "ansible-playbook", "-i", acme, "--vault-password-file", password_file, "playbooks/site.yml",
        "--limit", "acme_forum",
    )  # fmt: skip
    assert result.returncode == 2
    flat = flat_output(result)
    for path in (
        "discourse_storage_endpoint",
        "discourse_storage_access_key_id",
        "discourse_storage_secret_access_key",
        "discourse_app_image",
        "discourse_app_developer_emails[0]",
        "discourse_app_smtp_address",
        "discourse_app_smtp_user_name",
        "discourse_app_smtp_password",
        "discourse_app_site_settings.title",
    ):
        assert f"{path} still holds the placeholder CHANGE-ME" in flat, path
    assert "the cluster lacks" not in flat
