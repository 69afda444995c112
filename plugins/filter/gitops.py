# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugins for render mode's GitOps layout: gitops_files, gitops_tier_dir, gitops_stale,
gitops_customer_kustomization (documentation in gitops_*.yml; the layout in module_utils/gitops.py)."""

from __future__ import annotations

import json

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils import gitops


class _Dumper(yaml.SafeDumper):
    """Block literals for multi-line strings (scripts, nginx and Valkey config stay readable)."""


def _represent_str(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


def _plain(value):
    """Ansible's tagged strings and lazy containers as plain JSON types, which SafeDumper knows."""
    return json.loads(json.dumps(value))


def file_text(content):
    """One file's text: its header as '# ' comment lines, then its documents, each after '---'."""
    header = "".join(f"# {line}\n".replace("# \n", "#\n") for line in content.get("header") or [])
    documents = content.get("documents") or []
    body = yaml.dump_all(
        documents, Dumper=_Dumper, explicit_start=True, sort_keys=False, default_flow_style=False, width=120
    )
    return header + (body if documents else "")


def _documents(texts):
    """The YAML documents of the rendered template texts, in order, empty ones dropped."""
    documents = []
    for text in texts or []:
        try:
            documents += [d for d in yaml.safe_load_all(str(text)) if d]
        except yaml.YAMLError as exc:
            raise AnsibleFilterError(f"a rendered template is not valid YAML: {exc}") from None
    return documents


def gitops_files(phases, options):
    """{path: text} of one site: `phases` maps config, pre, workloads, post to rendered template texts."""
    phases = {phase: _documents(texts) for phase, texts in _plain(phases).items()}
    try:
        files = gitops.site_files(phases, _plain(options))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None
    return {path: file_text(content) for path, content in files.items()}


def gitops_stale(written, site, flavour):
    return gitops.stale_paths(str(site), str(flavour), [str(p) for p in written])


def gitops_tier_dir(render_dir, site, flavour="none"):
    return gitops.tier_dir(str(render_dir), str(site), str(flavour))


def gitops_customer_kustomization(paths, render_dir):
    sites = gitops.customer_sites([str(p) for p in paths], str(render_dir))
    return file_text(gitops.customer_kustomization(sites))


class FilterModule:
    def filters(self):
        return {
            "gitops_files": gitops_files,
            "gitops_stale": gitops_stale,
            "gitops_tier_dir": gitops_tier_dir,
            "gitops_customer_kustomization": gitops_customer_kustomization,
        }
