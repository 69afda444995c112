# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render mode for GitOps: which file each rendered document goes to, and how the GitOps tool keeps
the order the API path keeps. Pure Python (no Ansible, no YAML): documents in, documents out.

The API path converges a site tier by tier and waits at each step: the other tiers (database,
Valkey, storage) and the app's config tier, then this image's pre-deploy Jobs, then the Deployments,
then the post-deploy Jobs. Render mode writes the same documents as one kustomize base per site
(``<render dir>/<site>/``), and per ``flavour``:

- ``none``: no ordering; ``kubectl apply -k`` applies everything at once.
- ``argocd``: Argo CD sync waves and hooks (argo-cd docs/user-guide/sync-waves.md: phases, then waves,
  lower first, each wave applied once the one before is in sync and healthy; resources/hooks without
  a wave are in wave 0; resource_hooks.md: ``Sync`` hooks run with the manifests of their wave,
  ``PostSync`` hooks after all resources are healthy). ExternalSecrets wave -1; the other tiers and
  the config tier wave 0 (no annotation, so the other roles' files need none); pre-deploy Jobs Sync
  hooks in wave 1; Deployments wave 2; post-deploy Jobs PostSync hooks. Not PreSync: a PreSync hook
  runs before any manifest of the sync, so on a new site before its database, Secrets and ConfigMap.
  Hooks are deleted by ``BeforeHookCreation`` only (gitops-engine's default when none is given,
  pkg/sync/hook/delete_policy.go), never ``HookSucceeded``: the completed Job of each image stays as
  the record that its step ran, and a Job name carries the image's hash, so another image's Job is
  never deleted.
- ``flux``: four kustomize directories per site (infra, pre, app, post) and one Flux Kustomization
  (kustomize.toolkit.fluxcd.io/v1) each, chained by ``dependsOn`` with ``wait: true`` (kustomize-
  controller docs/spec/v1/kustomizations.md: a Kustomization is applied only after its dependencies
  are Ready, and with ``wait`` it is Ready only when every object it applied is healthy). Jobs carry
  ``kustomize.toolkit.fluxcd.io/force: enabled`` (recreated when an immutable field changes) and
  ``kustomize.toolkit.fluxcd.io/prune: disabled`` (another image's Job stays as its record). Not
  ``ssa: IfNotPresent``: kustomize-controller does not health-check skipped objects, so a failed
  Job would let the next reconcile roll out.
"""

from __future__ import annotations

import copy
import posixpath

FLAVOURS = ("none", "argocd", "flux")
SECRETS_MODES = ("none", "external-secrets")
# Flux: one directory and one Kustomization per stage, each depending on the one before.
FLUX_STAGES = ("infra", "pre", "app", "post")
# The other roles' files (discourse_database, discourse_valkey, discourse_storage), in apply order.
INFRA_FILES = ("database.yaml", "valkey.yaml", "storage.yaml")
# The phases of the app's documents, in the API path's order.
PHASES = ("config", "pre", "workloads", "post")

ARGOCD = "argocd.argoproj.io/"
FLUX = "kustomize.toolkit.fluxcd.io/"
ARGOCD_WAVES = {"secrets": "-1", "pre": "1", "workloads": "2"}
ESO_API_VERSION = "external-secrets.io/v1"
KUSTOMIZE = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
TOOL_NAMESPACES = {"argocd": "argocd", "flux": "flux-system"}


def tier_dir(render_dir, site, flavour="none"):
    """The directory of a site's tier files (database.yaml, valkey.yaml, storage.yaml)."""
    base = f"{render_dir}/{site}"
    return f"{base}/infra" if flavour == "flux" else base


def repo_path(*parts):
    """Join path parts for a Git repository, without a leading './' or empty parts."""
    pieces = []
    for part in parts:
        pieces += [p for p in str(part or "").split("/") if p not in ("", ".")]
    return "/".join(pieces)


def annotate(document, annotations):
    """A copy of `document` with `annotations` added to its metadata."""
    result = copy.deepcopy(document)
    metadata = result.setdefault("metadata", {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
    return result


def secret_keys(refs, database=None):
    """{Secret: [keys]} a site reads, in first-use order: the app's references ({name, secret, key})
    and, for a CloudNativePG database, its credentials Secret (CloudNativePG reads its password)."""
    keys = {}
    for ref in refs or []:
        names = keys.setdefault(ref["secret"], [])
        if ref["key"] not in names:
            names.append(ref["key"])
    database = database or {}
    if database.get("mode") == "cnpg" and database.get("secret"):
        names = keys.setdefault(database["secret"], [])
        if "password" not in names:
            names.append("password")
    return keys


def external_secrets(keys, namespace, store, labels=None, key_prefix="", database=None):
    """One ExternalSecret per Secret of `keys` ({Secret: [keys]}): each key is the property of the
    same name of the remote secret `<key_prefix><Secret>` in the store ({name, kind}). The database's
    Secret of a CloudNativePG cluster becomes kubernetes.io/basic-auth with the owner as username
    (target.template with mergePolicy Merge: the fetched keys, plus the templated username)."""
    database = database or {}
    basic_auth = database.get("secret") if database.get("mode") == "cnpg" else None
    documents = []
    for secret, names in keys.items():
        target = {"name": secret, "creationPolicy": "Owner"}
        if secret == basic_auth:
            target["template"] = {
                "type": "kubernetes.io/basic-auth",
                "mergePolicy": "Merge",
                "data": {"username": database.get("user", "")},
            }
        documents.append(
            {
                "apiVersion": ESO_API_VERSION,
                "kind": "ExternalSecret",
                "metadata": {"name": secret, "namespace": namespace, "labels": dict(labels or {})},
                "spec": {
                    "refreshInterval": "1h",
                    "secretStoreRef": {
                        "kind": store.get("kind") or "ClusterSecretStore",
                        "name": store["name"],
                    },
                    "target": target,
                    "data": [
                        {"secretKey": key, "remoteRef": {"key": f"{key_prefix}{secret}", "property": key}}
                        for key in names
                    ],
                },
            }
        )
    return documents


def argocd_phases(phases, secrets):
    """The app's documents and the ExternalSecrets, annotated for Argo CD (see the module's doc)."""
    hook = {ARGOCD + "hook-delete-policy": "BeforeHookCreation"}
    return {
        "secrets": [annotate(d, {ARGOCD + "sync-wave": ARGOCD_WAVES["secrets"]}) for d in secrets],
        "config": [copy.deepcopy(d) for d in phases.get("config") or []],
        "pre": [
            annotate(d, {ARGOCD + "hook": "Sync", ARGOCD + "sync-wave": ARGOCD_WAVES["pre"], **hook})
            for d in phases.get("pre") or []
        ],
        "workloads": [
            annotate(d, {ARGOCD + "sync-wave": ARGOCD_WAVES["workloads"]})
            for d in phases.get("workloads") or []
        ],
        "post": [annotate(d, {ARGOCD + "hook": "PostSync", **hook}) for d in phases.get("post") or []],
    }


def flux_phases(phases, secrets):
    """The app's documents and the ExternalSecrets, with Flux's per-object policies on the Jobs."""
    job = {FLUX + "force": "enabled", FLUX + "prune": "disabled"}
    return {
        "secrets": [copy.deepcopy(d) for d in secrets],
        "config": [copy.deepcopy(d) for d in phases.get("config") or []],
        "pre": [annotate(d, job) for d in phases.get("pre") or []],
        "workloads": [copy.deepcopy(d) for d in phases.get("workloads") or []],
        "post": [annotate(d, job) for d in phases.get("post") or []],
    }


def kustomization(resources, comment):
    return {"header": [comment], "documents": [{**KUSTOMIZE, "resources": list(resources)}]}


def secrets_header(namespace, keys, secrets, store, key_prefix, database=None):
    """Comment lines naming every Secret and key the site reads: made by the ExternalSecrets, or to
    be created out of band (a CloudNativePG database's Secret: basic-auth with the owner's name)."""
    database = database or {}
    basic_auth = database.get("secret") if database.get("mode") == "cnpg" else None
    listed = []
    for secret, names in keys.items():
        if secret == basic_auth and not secrets:
            user = database.get("user")
            listed.append(f"  {secret} (type kubernetes.io/basic-auth, keys: username={user}, password)")
        else:
            listed.append(f"  {secret} (keys: {', '.join(names)})")
    if secrets:
        where = f"{store.get('kind') or 'ClusterSecretStore'} {store.get('name')}"
        return [
            f"These Secrets of namespace {namespace} come from the ExternalSecrets in secrets.yaml",
            f"({where}; remote key {key_prefix}<Secret>, one property per key):",
            *listed,
        ]
    return [
        f"These Secrets are NOT written here and must exist in namespace {namespace}",
        "(create them out of band, e.g. with sealed-secrets or external-secrets):",
        *listed,
    ]


ORDER_NOTES = {
    "none": [
        "Apply order matters: the pre-deploy Job must complete before the Deployments roll out and",
        "the post-deploy Job runs after them (the role's API mode does this; render with",
        "discourse_gitops_flavour argocd or flux to have the GitOps tool keep that order).",
    ],
    "argocd": [
        "Argo CD keeps the API path's order: ExternalSecrets sync wave -1; the other tiers and the",
        "config below wave 0; the pre-deploy Jobs Sync hooks in wave 1; the Deployments wave 2; the",
        "post-deploy Jobs PostSync hooks. Hooks are deleted only before a hook of the same name is",
        "created again (BeforeHookCreation): each image's Jobs stay as the record that they ran.",
    ],
}


def tool_objects(options, stage_paths):
    """The Argo CD Application (argocd with a repository URL) or the Flux Kustomizations (flux) of
    the site, as {path: file}; none otherwise."""
    flavour, site, namespace = options["flavour"], options["site"], options["namespace"]
    repo = options.get("repo") or {}
    labels = dict(options.get("labels") or {})
    tool_namespace = options.get("tool_namespace") or TOOL_NAMESPACES.get(flavour, "")
    if flavour == "argocd" and repo.get("url"):
        application = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": namespace, "namespace": tool_namespace, "labels": labels},
            "spec": {
                "project": options.get("argocd_project") or "default",
                "source": {
                    "repoURL": repo["url"],
                    "targetRevision": repo.get("revision") or "HEAD",
                    "path": repo_path(repo.get("path"), site),
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                "syncPolicy": {
                    "automated": {"prune": True, "selfHeal": True},
                    "syncOptions": ["CreateNamespace=true"],
                    "managedNamespaceMetadata": {"labels": dict(options.get("namespace_labels") or {})},
                },
            },
        }
        header = [
            f"Argo CD Application of site {site}: syncs {application['spec']['source']['path']} of",
            f"{repo['url']} into namespace {namespace}.",
            "No resources finalizer: deleting the Application leaves the site (database included) running.",
        ]
        return {f"argocd/{site}.yaml": {"header": header, "documents": [application]}}
    if flavour == "flux":
        timeouts = options.get("timeouts") or {}
        documents = []
        for index, stage in enumerate(FLUX_STAGES):
            spec = {}
            if index:
                spec["dependsOn"] = [{"name": f"{namespace}-{FLUX_STAGES[index - 1]}"}]
            spec.update(
                {
                    "interval": "10m",
                    "retryInterval": "1m",
                    "timeout": f"{int(timeouts.get(stage, 900))}s",
                    "path": "./" + repo_path(repo.get("path"), stage_paths[stage]),
                    "prune": True,
                    "wait": True,
                    "sourceRef": {
                        "kind": "GitRepository",
                        "name": options.get("flux_source") or "flux-system",
                    },
                }
            )
            documents.append(
                {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "metadata": {
                        "name": f"{namespace}-{stage}",
                        "namespace": tool_namespace,
                        "labels": labels,
                    },
                    "spec": spec,
                }
            )
        header = [
            f"Flux Kustomizations of site {site}, applied in this order (dependsOn, wait):",
            "infra (the tiers, the Secrets, the app's config), pre (this image's pre-deploy Jobs),",
            "app (the Deployments), post (the post-deploy Jobs).",
        ]
        return {f"flux/{site}.yaml": {"header": header, "documents": documents}}
    return {}


def site_files(phases, options):
    """The files of one site, relative to the render directory: {path: {"header": [comment lines],
    "documents": [...]}}. The caller writes them in order (a path's directory before the path).

    `phases`: the app's documents, {"config", "pre", "workloads", "post": [...]} in apply order.
    `options`: site, namespace, flavour (none|argocd|flux), labels (of generated objects),
    infra_files (the other roles' files that exist for the site), secret_refs ([{name, secret, key}]),
    database ({mode, secret, user}), secrets (none|external-secrets), secret_store ({name, kind}),
    secret_key_prefix, repo ({url, revision, path}), tool_namespace, argocd_project, flux_source,
    namespace_labels, timeouts ({stage: seconds}).
    """
    flavour, site, namespace = options["flavour"], options["site"], options["namespace"]
    if flavour not in FLAVOURS:
        raise ValueError(
            f"discourse_app_gitops_flavour must be one of {', '.join(FLAVOURS)}; got '{flavour}'."
        )
    mode = options.get("secrets") or "none"
    if mode not in SECRETS_MODES:
        raise ValueError(
            f"discourse_app_gitops_secrets must be one of {', '.join(SECRETS_MODES)}; got '{mode}'."
        )
    store = options.get("secret_store") or {}
    key_prefix = options.get("secret_key_prefix") or ""
    keys = secret_keys(options.get("secret_refs"), options.get("database"))
    secrets = (
        external_secrets(keys, namespace, store, options.get("labels"), key_prefix, options.get("database"))
        if mode == "external-secrets"
        else []
    )
    if flavour == "argocd":
        ordered = argocd_phases(phases, secrets)
    elif flavour == "flux":
        ordered = flux_phases(phases, secrets)
    else:
        ordered = {"secrets": secrets, **{phase: list(phases.get(phase) or []) for phase in PHASES}}
    secret_lines = secrets_header(namespace, keys, secrets, store, key_prefix, options.get("database"))
    infra = [name for name in INFRA_FILES if name in (options.get("infra_files") or [])]
    files = {}
    if flavour == "flux":
        stage_paths = {stage: f"{site}/{stage}" for stage in FLUX_STAGES}
        contents = {
            "infra": (
                "config.yaml",
                ordered["config"],
                "the app's config tier (ConfigMaps, Service, routing, policies)",
            ),
            "pre": ("jobs.yaml", ordered["pre"], "this image's pre-deploy Jobs"),
            "app": ("workloads.yaml", ordered["workloads"], "the web (and Sidekiq) Deployments"),
            "post": ("jobs.yaml", ordered["post"], "the post-deploy Jobs"),
        }
        files[f"{site}/kustomization.yaml"] = kustomization(
            FLUX_STAGES,
            f"Site {site}: the four stages Flux applies in order (flux/{site}.yaml); one kustomize base.",
        )
        for stage in FLUX_STAGES:
            filename, documents, what = contents[stage]
            resources = [filename]
            if stage == "infra":
                resources = (["secrets.yaml"] if secrets else []) + infra + [filename]
                if secrets:
                    files[f"{site}/infra/secrets.yaml"] = {
                        "header": [f"ExternalSecrets of site {site}: the Secrets its pods and tiers read."],
                        "documents": ordered["secrets"],
                    }
            files[f"{site}/{stage}/kustomization.yaml"] = kustomization(
                resources, f"Site {site}, stage {stage} (Flux Kustomization {namespace}-{stage})."
            )
            header = [f"Site {site}, stage {stage}: {what}."]
            if stage == "infra":
                header += secret_lines
            files[f"{site}/{stage}/{filename}"] = {"header": header, "documents": documents}
        files.update(tool_objects(options, stage_paths))
        return files

    app_documents = ordered["config"] + ordered["pre"] + ordered["workloads"] + ordered["post"]
    files[f"{site}/kustomization.yaml"] = kustomization(
        (["secrets.yaml"] if secrets else []) + infra + ["app.yaml"],
        "Written by forumops.discourse.discourse_app: one kustomize base per site.",
    )
    if secrets:
        files[f"{site}/secrets.yaml"] = {
            "header": [f"ExternalSecrets of site {site}: the Secrets its pods and tiers read."],
            "documents": ordered["secrets"],
        }
    files[f"{site}/app.yaml"] = {
        "header": [
            f"Discourse app of site {site}, written by forumops.discourse.discourse_app.",
            *ORDER_NOTES[flavour],
            *secret_lines,
        ],
        "documents": app_documents,
    }
    files.update(tool_objects(options, {}))
    return files


def owned_paths(site):
    """Every path under the render directory that the app role may write for `site`, in any flavour:
    what is not written this time is stale (a file or a directory) and removed."""
    return [
        f"{site}/app.yaml",
        f"{site}/secrets.yaml",
        *[f"{site}/{stage}" for stage in FLUX_STAGES],
        *[f"{site}/{name}" for name in INFRA_FILES],
        f"argocd/{site}.yaml",
        f"flux/{site}.yaml",
    ]


def stale_paths(site, flavour, written):
    """The owned paths of `site` that this render does not write (`written`: the paths of site_files).
    The other roles' files at the site's top level are stale only in the flux layout (they live in
    infra/ there); a stage directory is stale outside it."""
    keep = set(written)
    keep |= {path.rsplit("/", 1)[0] for path in written if path.count("/") >= 2}
    stale = []
    for path in owned_paths(site):
        if path in keep:
            continue
        if path.split("/", 1)[1] in INFRA_FILES and flavour != "flux":
            continue
        stale.append(path)
    return stale


def customer_sites(paths, render_dir):
    """The site directories among `paths` (found kustomization.yaml files): those directly below
    `render_dir`, by name, sorted."""
    root = posixpath.normpath(render_dir)
    sites = set()
    for path in paths:
        site_dir = posixpath.dirname(posixpath.normpath(path))
        if posixpath.basename(path) == "kustomization.yaml" and posixpath.dirname(site_dir) == root:
            sites.add(posixpath.basename(site_dir))
    return sorted(sites)


def customer_kustomization(sites):
    """The customer's kustomization.yaml: every site directory (a kustomize base) of the render
    directory."""
    return {
        "header": [
            "Written by forumops.discourse: every site of this render directory (kustomize build .).",
            "GitOps tools apply each site through its own path, in order (docs/gitops.md).",
        ],
        "documents": [{**KUSTOMIZE, "resources": sorted(sites)}],
    }
