"""The collection resolves from the checkout exactly as the README promises, and the collection a user
installs from its built tarball works with nothing but the dependencies galaxy.yml declares."""

import json
import os
import subprocess
import sysconfig
import tarfile

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, VENV_BIN, ansible_env, run_tool


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


def test_the_built_tarball_works_installed_with_only_its_declared_dependencies(tmp_path):
    """ansible-galaxy builds the tarball; it installs into an empty collections path offline, first
    refused while a declared dependency is missing, then with the declared ones taken from the
    ansible package's bundled copies; ansible-doc and a render of the example inventory then run from
    that path alone (no checkout, no bundled collections), and the render equals the checkout's."""
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    collections = tmp_path / "collections"
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
        "ANSIBLE_NOCOLOR": "1",
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
    }
    (tmp_path / "no-kubeconfig").write_text("apiVersion: v1\nkind: Config\nclusters: []\n")

    def tool(*args, cwd=tmp_path):
        return subprocess.run(
            [str(VENV_BIN / args[0]), *map(str, args[1:])],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
            check=False,
        )  # fmt: skip

    built = tool("ansible-galaxy", "collection", "build", "--output-path", tmp_path / "dist", cwd=REPO_ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    tarball = tmp_path / "dist" / f"forumops-discourse-{galaxy['version']}.tar.gz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("MANIFEST.json"))
        license_text = archive.extractfile("LICENSE").read().decode()
    assert (
        manifest["collection_info"]["dependencies"]
        == galaxy["dependencies"]
        == {"community.postgresql": ">=4.0.0,<5.0.0"}
    )
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    assert "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007" in license_text
    assert not [n for n in names if n.startswith((".venv", ".collections", ".rehearsal", "tools/rehearsal"))]

    missing = tool("ansible-galaxy", "collection", "install", tarball, "-p", collections, "--offline")
    assert missing.returncode != 0
    assert (
        "community.postgresql:>=4.0.0,<5.0.0 (dependency of forumops.discourse"
        in missing.stdout + missing.stderr
    )

    # The ansible package's copies, in this environment's site-packages.
    bundled = os.path.join(sysconfig.get_paths()["purelib"], "ansible_collections")
    for name in galaxy["dependencies"]:
        source = os.path.join(bundled, *name.split("."))
        installed = tool("ansible-galaxy", "collection", "install", source, "-p", collections)
        assert installed.returncode == 0, installed.stdout + installed.stderr
    installed = tool("ansible-galaxy", "collection", "install", tarball, "-p", collections, "--offline")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    present = sorted(f"{p.parent.name}.{p.name}" for p in collections.glob("ansible_collections/*/*"))
    assert present == sorted(["forumops.discourse", *galaxy["dependencies"]])

    here = collections / "ansible_collections" / "forumops" / "discourse"
    for kind, name in (("module", "k8s_apply"), ("role", "discourse_app"), ("filter", "image_reference")):
        doc = tool("ansible-doc", "-t", kind, f"forumops.discourse.{name}")
        assert doc.returncode == 0, doc.stderr
        assert str(here) in doc.stdout

    example = ["-i", REPO_ROOT / "inventories/example", "--vault-password-file",
               REPO_ROOT / "inventories/example/vault-password.txt"]  # fmt: skip
    rendered = tool("ansible-playbook", *example, "forumops.discourse.site", "-e",
                    f"discourse_render_dir={tmp_path / 'installed'}")  # fmt: skip
    assert rendered.returncode == 0, rendered.stdout[-3000:] + rendered.stderr
    checkout = run_tool("ansible-playbook", *example, "playbooks/site.yml", "-e",
                        f"discourse_render_dir={tmp_path / 'checkout'}",
                        env=ansible_env(KUBECONFIG=env["KUBECONFIG"]))  # fmt: skip
    assert checkout.returncode == 0, checkout.stdout[-3000:] + checkout.stderr
    files = sorted(p.relative_to(tmp_path / "installed") for p in (tmp_path / "installed").rglob("*.yaml"))
    assert [str(f) for f in files] == [
        *(f"example_forum/{tier}.yaml" for tier in ("app", "database", "kustomization", "storage", "valkey")),
        "kustomization.yaml",  # the render directory's: its sites (docs/gitops.md)
    ]
    for path in files:
        assert (tmp_path / "installed" / path).read_text() == (tmp_path / "checkout" / path).read_text(), path
