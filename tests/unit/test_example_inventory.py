"""The example inventory's own words are true (issue 22, item 14)."""

from __future__ import annotations

import re
from pathlib import Path

from ansible.parsing.vault import VaultLib, VaultSecret

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example"


def test_every_path_the_example_vault_names_exists():
    password = (EXAMPLE / "vault-password.txt").read_bytes().strip()
    vault = VaultLib([("default", VaultSecret(password))])
    text = vault.decrypt((EXAMPLE / "group_vars" / "all" / "vault.yml").read_bytes()).decode()
    named = re.findall(r"inventories/[\w./-]*\w", text)
    assert named == ["inventories/example/vault-password.txt"]
    assert all((ROOT / path).is_file() for path in named)
