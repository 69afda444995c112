"""Render mode's GitOps layout (plugins/module_utils/gitops.py, plugins/filter/gitops.py).

The annotations follow Argo CD's docs (argoproj/argo-cd docs/user-guide/sync-waves.md and
resource_hooks.md; the default delete policy in gitops-engine pkg/sync/hook/delete_policy.go) and
Flux's (fluxcd/kustomize-controller docs/spec/v1/kustomizations.md: dependsOn, wait, the
kustomize.toolkit.fluxcd.io/force and /prune annotations). tests/integration/test_gitops_render.py
builds the output with kustomize and replays both tools' order on the rehearsal cluster.
"""

from __future__ import annotations

import pytest

from ansible_collections.forumops.discourse.plugins.filter.gitops import file_text, gitops_files
from ansible_collections.forumops.discourse.plugins.module_utils import gitops

LABELS = {"app.kubernetes.io/instance": "forum", "app.kubernetes.io/part-of": "discourse"}


def doc(kind, name, api_version="v1"):
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": "forum-ns"}}


PHASES = {
    "config": [doc("ConfigMap", "forum-env")],
    "pre": [doc("Job", "forum-migrate-pre-abc", "batch/v1"), doc("Job", "forum-assets-abc", "batch/v1")],
    "workloads": [doc("Deployment", "forum-web", "apps/v1")],
    "post": [doc("Job", "forum-migrate-post-abc", "batch/v1")],
}
REFS = [
    {"name": "DISCOURSE_DB_PASSWORD", "secret": "forum-pg", "key": "password"},
    {"name": "DISCOURSE_REDIS_PASSWORD", "secret": "valkey-password", "key": "password"},
    {"name": "DISCOURSE_SMTP_USER_NAME", "secret": "forum-smtp", "key": "user-name"},
    {"name": "DISCOURSE_SMTP_PASSWORD", "secret": "forum-smtp", "key": "password"},
]
DATABASE = {"mode": "cnpg", "secret": "forum-pg", "user": "discourse"}
OPTIONS = {
    "site": "forum",
    "namespace": "forum-ns",
    "flavour": "none",
    "labels": LABELS,
    "infra_files": ["storage.yaml", "database.yaml"],
    "secret_refs": REFS,
    "database": DATABASE,
    "secrets": "none",
    "secret_store": {"name": "vault", "kind": "ClusterSecretStore"},
    "secret_key_prefix": "forum-ns/",
    "repo": {"url": "", "revision": "HEAD", "path": "acme"},
    "tool_namespace": "",
    "argocd_project": "default",
    "flux_source": "flux-system",
    "namespace_labels": {"forumops.io/site": "forum"},
    "timeouts": {"infra": 900, "pre": 1800, "app": 900, "post": 1800},
}


def names(documents):
    return [f"{d['kind']}/{d['metadata']['name']}" for d in documents]


def annotations(documents):
    return {d["metadata"]["name"]: d["metadata"].get("annotations") for d in documents}


def test_tier_files_sit_in_the_site_directory_or_its_infra_stage():
    assert gitops.tier_dir("/srv/acme", "forum") == "/srv/acme/forum"
    assert gitops.tier_dir("/srv/acme", "forum", "argocd") == "/srv/acme/forum"
    assert gitops.tier_dir("/srv/acme", "forum", "flux") == "/srv/acme/forum/infra"


def test_repository_paths_drop_dots_and_empty_parts():
    assert gitops.repo_path("./clusters/acme/", "forum") == "clusters/acme/forum"
    assert gitops.repo_path("", "forum/pre") == "forum/pre"
    assert gitops.repo_path(".", None, "forum") == "forum"


def test_secret_keys_in_first_use_order_and_the_cnpg_password():
    assert gitops.secret_keys(REFS, DATABASE) == {
        "forum-pg": ["password"],
        "valkey-password": ["password"],
        "forum-smtp": ["user-name", "password"],
    }
    # CloudNativePG reads its credentials Secret even when the app's refs do not name it.
    assert gitops.secret_keys(REFS[1:2], DATABASE) == {
        "valkey-password": ["password"],
        "forum-pg": ["password"],
    }
    assert gitops.secret_keys(REFS[:1], {"mode": "external", "secret": "forum-pg"}) == {
        "forum-pg": ["password"]
    }


def external_secret(name, keys, **target):
    """The ExternalSecret of Secret ``name`` from the "vault" SecretStore under the "acme/" prefix: one
    data entry per key, and ``target`` added to its target."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": "forum-ns", "labels": LABELS},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "SecretStore", "name": "vault"},
            "target": {"name": name, "creationPolicy": "Owner", **target},
            "data": [
                {"secretKey": key, "remoteRef": {"key": f"acme/{name}", "property": key}} for key in keys
            ],
        },
    }


def test_an_external_secret_per_secret_and_basic_auth_for_the_cnpg_owner():
    keys = {"forum-pg": ["password"], "forum-smtp": ["user-name", "password"]}
    store = {"name": "vault", "kind": "SecretStore"}
    assert gitops.external_secrets(keys, "forum-ns", store, LABELS, "acme/", DATABASE) == [
        external_secret(
            "forum-pg",
            ["password"],
            template={
                "type": "kubernetes.io/basic-auth",
                "mergePolicy": "Merge",
                "data": {"username": "discourse"},
            },
        ),
        external_secret("forum-smtp", ["user-name", "password"]),
    ]


def test_none_writes_one_base_per_site_with_the_documents_in_api_order():
    files = gitops.site_files(PHASES, OPTIONS)

    assert list(files) == ["forum/kustomization.yaml", "forum/app.yaml"]
    assert files["forum/kustomization.yaml"]["documents"] == [
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            # The other roles' files in apply order, whatever order they were found in.
            "resources": ["database.yaml", "storage.yaml", "app.yaml"],
        }
    ]
    app = files["forum/app.yaml"]
    assert names(app["documents"]) == [
        "ConfigMap/forum-env",
        "Job/forum-migrate-pre-abc",
        "Job/forum-assets-abc",
        "Deployment/forum-web",
        "Job/forum-migrate-post-abc",
    ]
    assert app["documents"][0] == PHASES["config"][0]
    assert app["header"] == [
        "Discourse app of site forum, written by forumops.discourse.discourse_app.",
        "Apply order matters: the pre-deploy Job must complete before the Deployments roll out and",
        "the post-deploy Job runs after them (the role's API mode does this; render with",
        "discourse_gitops_flavour argocd or flux to have the GitOps tool keep that order).",
        "These Secrets are NOT written here and must exist in namespace forum-ns",
        "(create them out of band, e.g. with sealed-secrets or external-secrets):",
        "  forum-pg (type kubernetes.io/basic-auth, keys: username=discourse, password)",
        "  valkey-password (keys: password)",
        "  forum-smtp (keys: user-name, password)",
    ]
    # The input is not changed in place.
    assert "annotations" not in PHASES["pre"][0]["metadata"]


def test_argocd_waves_and_hooks_keep_the_api_order_and_each_images_jobs():
    files = gitops.site_files(PHASES, {**OPTIONS, "flavour": "argocd", "secrets": "external-secrets"})

    assert list(files) == ["forum/kustomization.yaml", "forum/secrets.yaml", "forum/app.yaml"]
    assert files["forum/kustomization.yaml"]["documents"][0]["resources"] == [
        "secrets.yaml",
        "database.yaml",
        "storage.yaml",
        "app.yaml",
    ]
    assert annotations(files["forum/secrets.yaml"]["documents"]) == {
        "forum-pg": {"argocd.argoproj.io/sync-wave": "-1"},
        "valkey-password": {"argocd.argoproj.io/sync-wave": "-1"},
        "forum-smtp": {"argocd.argoproj.io/sync-wave": "-1"},
    }
    hook = "argocd.argoproj.io/hook"
    policy = {"argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"}
    assert annotations(files["forum/app.yaml"]["documents"]) == {
        "forum-env": None,
        "forum-migrate-pre-abc": {hook: "Sync", "argocd.argoproj.io/sync-wave": "1", **policy},
        "forum-assets-abc": {hook: "Sync", "argocd.argoproj.io/sync-wave": "1", **policy},
        "forum-web": {"argocd.argoproj.io/sync-wave": "2"},
        "forum-migrate-post-abc": {hook: "PostSync", **policy},
    }
    assert files["forum/app.yaml"]["header"][1:5] == [
        "Argo CD keeps the API path's order: ExternalSecrets sync wave -1; the other tiers and the",
        "config below wave 0; the pre-deploy Jobs Sync hooks in wave 1; the Deployments wave 2; the",
        "post-deploy Jobs PostSync hooks. Hooks are deleted only before a hook of the same name is",
        "created again (BeforeHookCreation): each image's Jobs stay as the record that they ran.",
    ]
    assert files["forum/app.yaml"]["header"][5:] == [
        "These Secrets of namespace forum-ns come from the ExternalSecrets in secrets.yaml",
        "(ClusterSecretStore vault; remote key forum-ns/<Secret>, one property per key):",
        "  forum-pg (keys: password)",
        "  valkey-password (keys: password)",
        "  forum-smtp (keys: user-name, password)",
    ]


def test_argocd_with_a_repository_writes_the_sites_application():
    repo = {"url": "https://git.example.test/gitops.git", "revision": "main", "path": "./acme/"}
    files = gitops.site_files(
        PHASES, {**OPTIONS, "flavour": "argocd", "repo": repo, "argocd_project": "forums"}
    )

    assert files["argocd/forum.yaml"]["documents"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "forum-ns", "namespace": "argocd", "labels": LABELS},
            "spec": {
                "project": "forums",
                "source": {
                    "repoURL": "https://git.example.test/gitops.git",
                    "targetRevision": "main",
                    "path": "acme/forum",
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "forum-ns"},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": ["CreateNamespace=true"],
                    "managedNamespaceMetadata": {"labels": {"forumops.io/site": "forum"}},
                },
            },
        }
    ]
    # No repository, no Application; none and flux never write one.
    assert "argocd/forum.yaml" not in gitops.site_files(PHASES, {**OPTIONS, "flavour": "argocd"})
    assert "argocd/forum.yaml" not in gitops.site_files(PHASES, {**OPTIONS, "repo": repo})


def test_flux_writes_four_stages_and_kustomizations_chained_by_depends_on():
    files = gitops.site_files(PHASES, {**OPTIONS, "flavour": "flux", "secrets": "external-secrets"})

    assert list(files) == [
        "forum/kustomization.yaml",
        "forum/infra/secrets.yaml",
        "forum/infra/kustomization.yaml",
        "forum/infra/config.yaml",
        "forum/pre/kustomization.yaml",
        "forum/pre/jobs.yaml",
        "forum/app/kustomization.yaml",
        "forum/app/workloads.yaml",
        "forum/post/kustomization.yaml",
        "forum/post/jobs.yaml",
        "flux/forum.yaml",
    ]
    resources = {
        path: f["documents"][0]["resources"]
        for path, f in files.items()
        if path.endswith("kustomization.yaml")
    }
    assert resources == {
        "forum/kustomization.yaml": ["infra", "pre", "app", "post"],
        "forum/infra/kustomization.yaml": ["secrets.yaml", "database.yaml", "storage.yaml", "config.yaml"],
        "forum/pre/kustomization.yaml": ["jobs.yaml"],
        "forum/app/kustomization.yaml": ["workloads.yaml"],
        "forum/post/kustomization.yaml": ["jobs.yaml"],
    }
    job = {"kustomize.toolkit.fluxcd.io/force": "enabled", "kustomize.toolkit.fluxcd.io/prune": "disabled"}
    assert annotations(files["forum/pre/jobs.yaml"]["documents"]) == {
        "forum-migrate-pre-abc": job,
        "forum-assets-abc": job,
    }
    assert annotations(files["forum/post/jobs.yaml"]["documents"]) == {"forum-migrate-post-abc": job}
    assert annotations(files["forum/app/workloads.yaml"]["documents"]) == {"forum-web": None}
    assert annotations(files["forum/infra/secrets.yaml"]["documents"]) == dict.fromkeys(
        ["forum-pg", "valkey-password", "forum-smtp"]
    )

    def kustomization(stage, timeout, depends_on=None):
        spec = {"dependsOn": [{"name": f"forum-ns-{depends_on}"}]} if depends_on else {}
        spec.update(
            {
                "interval": "10m",
                "retryInterval": "1m",
                "timeout": timeout,
                "path": f"./acme/forum/{stage}",
                "prune": True,
                "wait": True,
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            }
        )
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": f"forum-ns-{stage}", "namespace": "flux-system", "labels": LABELS},
            "spec": spec,
        }

    assert files["flux/forum.yaml"]["documents"] == [
        kustomization("infra", "900s"),
        kustomization("pre", "1800s", "infra"),
        kustomization("app", "900s", "pre"),
        kustomization("post", "1800s", "app"),
    ]


def test_a_tool_namespace_and_source_are_used_as_given():
    options = {**OPTIONS, "flavour": "flux", "tool_namespace": "gitops", "flux_source": "fleet"}
    first = gitops.site_files(PHASES, options)["flux/forum.yaml"]["documents"][0]
    assert first["metadata"]["namespace"] == "gitops"
    assert first["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "fleet"}


@pytest.mark.parametrize(
    ("flavour", "written", "stale"),
    [
        (
            "none",
            ["forum/kustomization.yaml", "forum/app.yaml"],
            [
                *["forum/secrets.yaml", "forum/infra", "forum/pre", "forum/app", "forum/post"],
                *["argocd/forum.yaml", "flux/forum.yaml"],
            ],
        ),
        (
            "argocd",
            ["forum/kustomization.yaml", "forum/secrets.yaml", "forum/app.yaml", "argocd/forum.yaml"],
            ["forum/infra", "forum/pre", "forum/app", "forum/post", "flux/forum.yaml"],
        ),
        (
            "flux",
            [
                *["forum/kustomization.yaml", "forum/infra/kustomization.yaml", "forum/pre/jobs.yaml"],
                *["forum/app/workloads.yaml", "forum/post/jobs.yaml", "flux/forum.yaml"],
            ],
            [
                *["forum/app.yaml", "forum/secrets.yaml", "forum/database.yaml", "forum/valkey.yaml"],
                *["forum/storage.yaml", "argocd/forum.yaml"],
            ],
        ),
    ],
)
def test_what_another_layout_wrote_is_stale(flavour, written, stale):
    assert gitops.stale_paths("forum", flavour, written) == stale


def test_the_customer_lists_the_site_directories_right_below_it():
    found = [
        "/srv/acme/kustomization.yaml",
        "/srv/acme/forum_b/kustomization.yaml",
        "/srv/acme//forum_a/kustomization.yaml",
        "/srv/acme/forum_a/infra/kustomization.yaml",
        "/srv/acme/flux/forum_a.yaml",
    ]
    assert gitops.customer_sites(found, "/srv/acme/") == ["forum_a", "forum_b"]
    assert file_text(gitops.customer_kustomization(["forum_b", "forum_a"])) == (
        "# Written by forumops.discourse: every site of this render directory (kustomize build .).\n"
        "# GitOps tools apply each site through its own path, in order (docs/gitops.md).\n"
        "---\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        "- forum_a\n"
        "- forum_b\n"
    )


def test_file_text_keeps_multi_line_strings_readable_and_quotes_what_yaml_would_retype():
    content = {
        "header": ["One file.", "", "Two lines."],
        "documents": [
            {
                "kind": "ConfigMap",
                "data": {"conf": "bind 0.0.0.0\nport 6379\n", "flag": "true", "port": "80"},
            },
            {"kind": "Job", "metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "-1"}}},
        ],
    }
    assert file_text(content) == (
        "# One file.\n"
        "#\n"
        "# Two lines.\n"
        "---\n"
        "kind: ConfigMap\n"
        "data:\n"
        "  conf: |\n"
        "    bind 0.0.0.0\n"
        "    port 6379\n"
        "  flag: 'true'\n"
        "  port: '80'\n"
        "---\n"
        "kind: Job\n"
        "metadata:\n"
        "  annotations:\n"
        "    argocd.argoproj.io/sync-wave: '-1'\n"
    )


def test_the_filter_parses_the_rendered_templates_and_returns_the_texts():
    texts = {
        "config": ["# a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: forum-env}\n---\n"],
        "pre": [],
        "workloads": [],
        "post": [],
    }
    files = gitops_files(texts, {**OPTIONS, "secret_refs": [], "database": {}, "infra_files": []})
    assert files["forum/kustomization.yaml"] == (
        "# Written by forumops.discourse.discourse_app: one kustomize base per site.\n"
        "---\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        "- app.yaml\n"
    )
    assert files["forum/app.yaml"].endswith(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forum-env\n"
    )


def test_an_unknown_flavour_or_secrets_mode_is_refused_naming_the_input():
    with pytest.raises(
        ValueError, match="discourse_app_gitops_flavour must be one of none, argocd, flux; got 'helm'"
    ):
        gitops.site_files(PHASES, {**OPTIONS, "flavour": "helm"})
    with pytest.raises(
        ValueError, match="discourse_app_gitops_secrets must be one of none, external-secrets"
    ):
        gitops.site_files(PHASES, {**OPTIONS, "secrets": "sealed"})


def test_render_mode_inputs_are_checked_together_naming_them():
    from ansible_collections.forumops.discourse.plugins.module_utils import cross_field
    from tests.unit.test_cross_field import APP, APP_CONTEXT

    gitops_inputs = {
        "discourse_app_gitops_flavour": "flux",
        "discourse_app_gitops_secrets": "external-secrets",
        "discourse_app_gitops_secret_store": "",
        "discourse_app_gitops_repo_path": "",
    }
    assert cross_field.app_errors({**APP, **gitops_inputs}, "/srv/acme", APP_CONTEXT) == [
        "discourse_app_gitops_secrets is external-secrets but discourse_app_gitops_secret_store is "
        "empty: name the ClusterSecretStore (or SecretStore, discourse_app_gitops_secret_store_kind) "
        "the ExternalSecrets read from.",
        "discourse_app_gitops_flavour is flux but discourse_app_gitops_repo_path is empty: the Flux "
        "Kustomizations need the render directory's path in the Git repository.",
    ]
    # API mode ignores them; a store and a path satisfy them.
    assert cross_field.app_errors({**APP, **gitops_inputs}, "", APP_CONTEXT) == []
    complete = {
        **gitops_inputs,
        "discourse_app_gitops_secret_store": "vault",
        "discourse_app_gitops_repo_path": "a",
    }
    assert cross_field.app_errors({**APP, **complete}, "/srv/acme", APP_CONTEXT) == []
