# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The discourse_image role's decisions, in pure Python (standard library only, unit-tested directly).

What goes into the container config that pups renders, which upstream templates a Kubernetes image
may use, the reproducible image tag and its platforms, the env a pod must set at runtime, the
migrations an image contains and the build manifest with its image labels. The builders' command
lines are in image_build.py.
"""

import hashlib
import json
import posixpath
import re

# The brief's template decisions (ARCHITECTURE-BRIEF §3.2, DESIGN §4.5).
REQUIRED_TEMPLATES = ("web", "web.ratelimited", "offline-page")
OPTIONAL_TEMPLATES = ("web.ipv6",)
# (pattern on the short name, reason). A short name is the path under templates/ without .template.yml.
EXCLUDED_TEMPLATES = (
    (re.compile(r"\Aweb\.socketed\Z"), "Kubernetes uses TCP networking, not Unix sockets"),
    (re.compile(r"\Aweb\.letsencrypt(?:\..+)?\Z"), "cert-manager issues the certificates"),
    (re.compile(r"\Aweb\.(?:.+\.)?ssl\Z"), "TLS is terminated by the ingress"),
    (
        re.compile(r"\A(?:new\.)?postgres(?:\..+)?\Z"),
        "the database is CloudNativePG (or an external PostgreSQL)",
    ),
    (re.compile(r"\Aredis(?:\..+)?\Z"), "Redis is the discourse_valkey role's Valkey"),
    (re.compile(r"\Asshd\Z"), "use kubectl exec to enter a pod"),
    (re.compile(r"\Acron\Z"), "deprecated upstream: cron is in the base image"),
    (re.compile(r"\Aweb\.onion\Z"), "a Tor hidden service is out of scope"),
    (re.compile(r"\Aimport/.+\Z"), "import templates are one-time migration tools"),
)

PRECOMPILE_STRATEGIES = ("build", "temporary-services", "on-boot")
BUILDERS = ("docker", "podman", "buildah")
ON_BOOT_KEYS = ("CREATE_DB_ON_BOOT", "MIGRATE_ON_BOOT", "PRECOMPILE_ON_BOOT")
# Used only while building: never part of the runtime env.
BUILD_ONLY_ENV = ("SKIP_DB_AND_REDIS",)

SHA_RE = re.compile(r"\A[0-9a-f]{40}\Z")
# The user-info part of any URL in a text: scheme://<userinfo>@host.
URL_USERINFO_RE = re.compile(r"\b([a-z][a-z0-9+.-]*)://([^/?#\s@]*)@", re.I)
GIT_CREDENTIALS_HINT = (
    "use discourse_image_git_credentials_file (a git credential store file given to the builder as a "
    "build secret) for private repositories"
)
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]*\Z")
# A git URL that is safe inside a shell command and a pups row: no spaces, quotes, $, `, ; or credentials.
URL_RE = re.compile(
    r"\A(?:(?:https?|ssh|git|file)://[^\s'\"$`;&|<>\\]+|git@[^\s'\"$`;&|<>\\]+|/[^\s'\"$`;&|<>\\]+)\Z"
)
MIGRATION_RE = re.compile(r"\A([0-9]{14})_[_a-z0-9]*\.?[_a-z0-9]*\.rb\Z")
TAG_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
# os/arch[/variant] as docker, podman and buildah take it in --platform (linux/amd64, linux/arm64).
PLATFORM_RE = re.compile(r"\A[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9.]+)?\Z")
DIGEST_RE = re.compile(r"\Asha256:[0-9a-f]{64}\Z")

LABEL_PREFIX = "org.forumops.discourse"
MANIFEST_LABEL = LABEL_PREFIX + ".build-manifest"

# The precompile rows our hooks add (DESIGN §4.3). Anchors are upstream web.template.yml hook names.
PRECOMPILE_WITHOUT_DB = (
    "su discourse -c 'SKIP_DB_AND_REDIS=1 SKIP_EMBER_CLI_COMPILE=1 bundle exec rake assets:precompile'"
)
TEMP_PG_DIR = "/tmp/forumops-build-postgres"
_PG_BIN = "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
TEMPORARY_SERVICES_START = (
    f"mkdir -p {TEMP_PG_DIR} /var/run/postgresql",
    f"chown postgres:postgres {TEMP_PG_DIR} /var/run/postgresql",
    f'su postgres -c \'PGBIN={_PG_BIN}; "$PGBIN/initdb" -D {TEMP_PG_DIR} -E UTF8 --locale=C.UTF-8 && '
    f'"$PGBIN/pg_ctl" -D {TEMP_PG_DIR} -w -o "-c listen_addresses= -k /var/run/postgresql" start\'',
    "su postgres -c 'createuser --superuser discourse && createdb --owner=discourse discourse'",
    "redis-server --daemonize yes --save '' --appendonly no",
)
TEMPORARY_SERVICES_STOP = (
    "redis-cli shutdown nosave || true",
    f"su postgres -c 'PGBIN={_PG_BIN}; \"$PGBIN/pg_ctl\" -D {TEMP_PG_DIR} -m fast -w stop'",
    f"rm -rf {TEMP_PG_DIR}",
)


class ImageError(Exception):
    """Bad input; the message names the variable."""


# ---- Templates ----------------------------------------------------------------------------------


def template_short_name(name):
    """``web.ratelimited`` for ``web.ratelimited``, ``templates/web.ratelimited.template.yml`` or
    ``web.ratelimited.template.yml``; ``import/mbox`` for ``templates/import/mbox.template.yml``."""
    short = str(name).strip()
    if short.startswith("templates/"):
        short = short[len("templates/") :]
    for suffix in (".template.yml", ".yml"):
        if short.endswith(suffix):
            short = short[: -len(suffix)]
            break
    return short


def template_path(name):
    """The path relative to a discourse_docker checkout that the container config lists."""
    return f"templates/{template_short_name(name)}.template.yml"


def refused_templates(names, force=False, variable="discourse_image_templates"):
    """Messages for templates the brief excludes or requires; empty when force is true."""
    if force:
        return []
    problems = []
    shorts = [template_short_name(n) for n in names]
    for short in shorts:
        for pattern, reason in EXCLUDED_TEMPLATES:
            if pattern.match(short):
                problems.append(f"{variable}: {short} is excluded for Kubernetes ({reason})")
                break
    for required in REQUIRED_TEMPLATES:
        if required not in shorts:
            problems.append(f"{variable}: {required} is required by the architecture brief and is missing")
    if shorts and shorts[0] != "web":
        problems.append(f"{variable}: web must come first (the other templates change what it writes)")
    if len(set(shorts)) != len(shorts):
        problems.append(f"{variable}: a template is listed twice")
    return problems


# ---- Plugins ------------------------------------------------------------------------------------


def plugin_name(url):
    """The directory a plugin is cloned into: the repository name without ``.git``."""
    base = posixpath.basename(str(url).rstrip("/"))
    return base[:-4] if base.endswith(".git") else base


def plugin_problems(plugins, variable="discourse_image_plugins"):
    """Messages for plugins that cannot be built reproducibly or safely."""
    problems = []
    names = []
    for index, plugin in enumerate(plugins or []):
        where = f"{variable}[{index}]"
        if not isinstance(plugin, dict):
            problems.append(f"{where}: must be a mapping with url and ref")
            continue
        url = str(plugin.get("url") or "")
        ref = str(plugin.get("ref") or "")
        name = str(plugin.get("name") or plugin_name(url))
        if not URL_RE.match(url):
            problems.append(
                f"{where}.url: {url!r} is not a git URL usable in a build (no spaces, quotes, $ or shell "
                "characters)"
            )
        elif url_credentials(url):
            problems.append(
                f"{where}.url: the URL holds credentials ({url_credentials(url)}), which would reach "
                "config.yaml, the plugin's .git/config in the image and the build manifest; "
                + GIT_CREDENTIALS_HINT
            )
        if not SHA_RE.match(ref):
            problems.append(
                f"{where}.ref: {ref!r} is not pinned; give the full 40-character commit SHA "
                "(playbooks/check_upstream.yml finds the newest commit of the branch)"
            )
        if not NAME_RE.match(name):
            problems.append(f"{where}.name: {name!r} is not a plugin directory name")
        names.append(name)
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{variable}: the plugin {name} is listed twice")
    return problems


def url_credentials(text):
    """What kind of credential a URL in ``text`` carries ("a token", "a user and password"), or "".

    A bare user name is no credential over SSH (ssh://git@host); anywhere else a user-info part is
    a token (https://ghp_x@github.com, a Sentry DSN) or a user:password pair."""
    for scheme, userinfo in URL_USERINFO_RE.findall(str(text)):
        if ":" in userinfo:
            return "a user and password"
        if scheme.lower() not in ("ssh", "git+ssh"):
            return "a token"
    return ""


def normalize_plugins(plugins):
    """[{name, url, ref}] in the given order."""
    return [
        {
            "name": str(p.get("name") or plugin_name(p["url"])),
            "url": str(p["url"]),
            "ref": str(p["ref"]),
        }
        for p in plugins or []
    ]


def plugin_hook(plugins):
    """The hooks.after_code rows that clone each plugin at its pinned commit (upstream's samples clone
    into $home/plugins the same way, without the checkout)."""
    if not plugins:
        return []
    cmd = []
    for plugin in normalize_plugins(plugins):
        cmd.append(f"git clone {plugin['url']} {plugin['name']}")
        cmd.append(f"git -C {plugin['name']} -c advice.detachedHead=false checkout {plugin['ref']}")
    return [{"exec": {"cd": "$home/plugins", "cmd": cmd}}]


def plugin_check_hook(plugins):
    """The hooks.after_plugin_compatibility rows: upstream's web.template.yml runs
    `rake plugin:pull_compatible_all` (hook plugin_compatibility, raise_on_fail false), which checks
    a plugin out at the commit its .discourse-compatibility names for this Discourse version. The
    lock is the truth: the build fails naming the plugin, the locked and the actual commit."""
    if not plugins:
        return []
    cmd = []
    for plugin in normalize_plugins(plugins):
        name, ref = plugin["name"], plugin["ref"]
        cmd.append(
            f'actual=$(git -C {name} rev-parse HEAD) && [ "$actual" = {ref} ] || '
            f'{{ echo "discourse_image_plugins: {name} is locked at {ref} but plugin:pull_compatible_all '
            f'moved it to $actual; pin the commit its .discourse-compatibility names" >&2; exit 1; }}'
        )
    return [{"exec": {"cd": "$home/plugins", "cmd": cmd}}]


# ---- Env ----------------------------------------------------------------------------------------


def on_boot_env(precompile):
    """What Kubernetes pods need: never migrate or create the database on boot; precompile on boot only
    for the on-boot strategy."""
    return {
        "CREATE_DB_ON_BOOT": "0",
        "MIGRATE_ON_BOOT": "0",
        "PRECOMPILE_ON_BOOT": "1" if precompile == "on-boot" else "0",
    }


def env_problems(env, is_secret, variable="discourse_image_env"):
    """Messages for env keys that must not be baked: secrets, and the *_ON_BOOT keys the role sets."""
    problems = []
    for key in sorted(env or {}):
        if not re.match(r"\A[A-Za-z_][A-Za-z0-9_]*\Z", str(key)):
            problems.append(f"{variable}: {key!r} is not an environment variable name")
        elif key in ON_BOOT_KEYS or key in BUILD_ONLY_ENV:
            problems.append(f"{variable}: {key} is set by the role (see discourse_image_precompile)")
        elif is_secret(key):
            problems.append(
                f"{variable}: {key} is a secret or connection setting; it must come from a Kubernetes "
                "Secret at runtime, never from the image"
            )
        elif url_credentials(env[key]):
            problems.append(
                f"{variable}: {key} holds a URL with {url_credentials(env[key])}; it would become a "
                "Dockerfile ARG and image metadata. Give it to the pods from a Kubernetes Secret instead"
            )
    return problems


def _stringify(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def runtime_env(launcher_env, precompile, is_secret):
    """The env a pod must set (upstream's launcher passes it to docker run; most of it is only an ARG
    in the image): the launcher env without secrets and build-only keys, with the *_ON_BOOT overrides."""
    env = {
        str(k): _stringify(v)
        for k, v in (launcher_env or {}).items()
        if not is_secret(str(k)) and str(k) not in BUILD_ONLY_ENV
    }
    env.update(on_boot_env(precompile))
    return dict(sorted(env.items()))


# ---- The container config ----------------------------------------------------------------------


def precompile_hooks(precompile):
    """Hooks that implement the precompile strategy on upstream web.template.yml's anchors."""
    if precompile == "build":
        return {
            "after_assets_precompile_build": [
                {"exec": {"cd": "$home", "cmd": [PRECOMPILE_WITHOUT_DB]}},
                # what upstream's precompile-tagged replace row does after a precompile
                {
                    "replace": {
                        "filename": "/etc/service/unicorn/run",
                        "from": "# before precompile",
                        "to": "PRECOMPILE_ON_BOOT=0",
                    }
                },
            ]
        }
    if precompile == "temporary-services":
        return {
            "before_db_migrate": [{"exec": {"cmd": list(TEMPORARY_SERVICES_START)}}],
            "after_assets_precompile": [{"exec": {"cmd": list(TEMPORARY_SERVICES_STOP)}}],
        }
    if precompile == "on-boot":
        return {}
    raise ImageError(
        f"discourse_image_precompile: {precompile!r} is not one of {', '.join(PRECOMPILE_STRATEGIES)}"
    )


def build_skip_tags(precompile):
    """The pups --skip-tags of the image build for a precompile strategy."""
    if precompile == "temporary-services":
        return ["db"]
    return ["precompile", "migrate", "db"]


def container_config(
    templates, version, params=None, env=None, plugins=None, precompile="build", base_image=None
):
    """The container config (the shape of upstream's containers/app.yml) the role renders with pups."""
    if precompile not in PRECOMPILE_STRATEGIES:
        precompile_hooks(precompile)
    params = dict(params or {})
    if "version" in params:
        raise ImageError(
            "discourse_image_params: set the Discourse version with discourse_image_discourse_version"
        )
    config = {"templates": [template_path(t) for t in templates]}
    if base_image:
        config["base_image"] = base_image
    config["params"] = {"version": str(version), **{str(k): params[k] for k in sorted(params)}}
    merged_env = {str(k): _stringify(v) for k, v in sorted((env or {}).items())}
    merged_env.update(on_boot_env(precompile))
    config["env"] = merged_env
    hooks = {}
    clones = plugin_hook(plugins)
    if clones:
        hooks["after_code"] = clones
        hooks["after_plugin_compatibility"] = plugin_check_hook(plugins)
    hooks.update(precompile_hooks(precompile))
    if hooks:
        config["hooks"] = hooks
    return config


# ---- Image reference and tags ------------------------------------------------------------------


def base_image_reference(repository, tag, digest=""):
    ref = f"{repository}:{tag}"
    return f"{ref}@{digest}" if digest else ref


def tag_inputs(
    base_image, discourse_docker_ref, templates, params, plugins, env=None, precompile="build", platforms=()
):
    """Everything the short hash of the image tag covers, as canonical data.

    ``platforms`` counts only when given (a manifest list of those platforms is another artifact than
    one image of the build host's platform), so the tags of single-platform builds stay as they were.
    """
    extra = {"platforms": [normalize_platform(p) for p in platforms]} if platforms else {}
    return {
        **extra,
        "base_image": base_image,
        "discourse_docker": discourse_docker_ref,
        "templates": [template_path(t) for t in templates],
        "params": {str(k): _stringify(v) for k, v in sorted((params or {}).items())},
        "plugins": [
            {"url": p["url"], "ref": p["ref"], "name": p["name"]} for p in normalize_plugins(plugins)
        ],
        "env": {str(k): _stringify(v) for k, v in sorted((env or {}).items())},
        "precompile": precompile,
    }


def short_hash(data, length=12):
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def image_tag(version, inputs):
    """``<discourse version>-<short hash of inputs>``; characters a tag cannot hold become ``-``."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", str(version)).lstrip(".-") or "discourse"
    tag = f"{prefix[:114]}-{short_hash(inputs)}"
    if not TAG_RE.match(tag):
        raise ImageError(f"discourse_image_discourse_version: {version!r} gives no valid image tag")
    return tag


def tag_problems(tags, variable="discourse_image_tags"):
    return [f"{variable}: {t!r} is not a valid image tag" for t in tags or [] if not TAG_RE.match(str(t))]


# ---- Platforms ----------------------------------------------------------------------------------


def normalize_platform(platform):
    """``os/arch[/variant]`` as containerd compares platforms (containerd/platforms database.go
    normalizeArch): x86_64 is amd64, aarch64 is arm64, and the default variants (amd64 v1, arm64 v8)
    are dropped, so linux/arm64/v8 and linux/arm64 are one platform."""
    parts = str(platform).strip().lower().split("/")
    os_, arch = parts[0], parts[1] if len(parts) > 1 else ""
    variant = parts[2] if len(parts) > 2 else ""
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    if (arch, variant) in (("amd64", "v1"), ("arm64", "8"), ("arm64", "v8"), ("arm64", "v8.0")):
        variant = ""
    return "/".join(part for part in (os_, arch, variant) if part)


def platform_problems(platforms, build_flags=(), variable="discourse_image_platforms"):
    """Messages for a platform list that cannot be built."""
    if not isinstance(platforms, (list, tuple)):
        return [f"{variable}: must be a list of platforms such as [linux/amd64, linux/arm64]"]
    problems = []
    seen = []
    for platform in platforms:
        if not PLATFORM_RE.match(str(platform)):
            problems.append(
                f"{variable}: {platform!r} is not a platform os/arch[/variant] such as linux/arm64"
            )
        elif normalize_platform(platform) in seen:
            problems.append(f"{variable}: {platform} is listed twice")
        else:
            seen.append(normalize_platform(platform))
    if platforms and any(str(flag).split("=", 1)[0] == "--platform" for flag in build_flags or ()):
        problems.append(
            "discourse_image_builder_flags: --platform is set from discourse_image_platforms (the lock's "
            "image.platforms); remove it from the flags"
        )
    return problems


# ---- Migrations ---------------------------------------------------------------------------------


def _under(path, root):
    root = root.rstrip("/") + "/"
    return path[len(root) :] if path.startswith(root) else None


def classify_migrations(paths, core_root, plugin_roots=()):
    """Pre- and post-deploy migration versions from file paths (for example ansible.builtin.find's).

    Core: ``db/migrate/*.rb`` and ``plugins/*/db/migrate/*.rb`` are pre-deploy,
    ``db/post_migrate/**/*.rb`` and ``plugins/*/db/post_migrate/**/*.rb`` post-deploy; each external
    plugin checkout the same with its own ``db/``. The version is the file name's leading 14-digit
    timestamp (Rails' migration file name rule); other files are ignored. A version seen twice is
    counted once (pre-deploy wins) and reported.
    """
    pre, post, warnings = {}, {}, []
    for path in sorted(str(p) for p in paths):
        name = posixpath.basename(path)
        match = MIGRATION_RE.match(name)
        if not match:
            continue
        kind = None
        rel = _under(path, core_root)
        roots = [rel] if rel is not None else []
        if rel is not None and rel.startswith("plugins/"):
            parts = rel.split("/", 2)
            roots = [parts[2]] if len(parts) == 3 else []
        if rel is None:
            for root in plugin_roots:
                inner = _under(path, root)
                if inner is not None:
                    roots = [inner]
                    break
        for inner in roots:
            if inner.startswith("db/migrate/") and inner.count("/") == 2:
                kind = "pre"
            elif inner.startswith("db/post_migrate/"):
                kind = "post"
        if kind is None:
            continue
        version = match.group(1)
        if version in pre or version in post:
            first = pre.get(version) or post.get(version)
            warnings.append(f"{path}: version {version} is also used by {first}; counted once")
            continue
        (pre if kind == "pre" else post)[version] = path
    return {"pre": sorted(pre), "post": sorted(post), "warnings": warnings}


# ---- Manifest -----------------------------------------------------------------------------------


def build_manifest(
    discourse_version,
    discourse_commit,
    base_image,
    base_digest,
    discourse_docker_commit,
    templates,
    plugins,
    config_hash,
    reference,
    digest,
    migrations,
    runtime_env_=None,
    plugin_commits=None,
    site_settings=None,
    backup_runner=None,
    platforms=None,
):
    """The build manifest (JSON keys as issue 4 names them, plus the runtime env).

    ``platforms`` maps each platform of a multi-platform build to the digest of its image in the
    pushed index ("" before a push); ``digest`` is then the index's, which each node resolves to its
    own platform's image. {} for a build of one image for the build host's platform.

    ``plugin_commits`` lists the checked-out commit of each plugin, in the order of ``plugins``;
    ``site_settings`` is the catalog of every site setting the image's Discourse and plugins define
    (module_utils/site_settings.py), which the app role validates the inventory against;
    ``backup_runner`` is the logical backup runner built with it (module_utils/backup_runner.py), {}
    when none was.
    """
    plugins = normalize_plugins(plugins)
    commits = list(plugin_commits or [])
    if commits and len(commits) != len(plugins):
        raise ImageError("plugin_commits must list one commit per plugin")
    for index, commit in enumerate(commits):
        plugins[index]["commit"] = str(commit)
    return {
        "discourse": {"version": str(discourse_version), "commit": str(discourse_commit)},
        "base_image": {"tag": str(base_image), "digest": str(base_digest or "")},
        "discourse_docker": {"commit": str(discourse_docker_commit)},
        "templates": [template_path(t) for t in templates],
        "plugins": [
            {"name": p["name"], "url": p["url"], "ref": p["ref"], "commit": p.get("commit", p["ref"])}
            for p in plugins
        ],
        "config_hash": str(config_hash),
        "image": {
            "reference": str(reference),
            "digest": str(digest or ""),
            "platforms": {str(k): str(v or "") for k, v in (platforms or {}).items()},
        },
        "migrations": {"pre": list(migrations.get("pre", [])), "post": list(migrations.get("post", []))},
        "runtime_env": dict(runtime_env_ or {}),
        "site_settings": dict(site_settings or {}),
        "backup_runner": dict(backup_runner or {}),
    }


def pinned_reference(section):
    """``reference@digest`` of a manifest's image section (the reference alone without a digest).

    The one place the app, upgrade and backup roles turn a build manifest into the image a pod pulls.
    For a multi-platform build the digest is the image index's: every node pulls its own platform's
    image from it, so one pinned reference serves amd64 and arm64 nodes alike."""
    reference = str((section or {}).get("reference") or "")
    digest = str((section or {}).get("digest") or "")
    return f"{reference}@{digest}" if digest and "@" not in reference else reference


def manifest_labels(manifest):
    """Image labels: the manifest without its image and backup runner sections (digests are not known
    before the builds) and without the site settings catalog (a thousand entries: too big for a
    label; the manifest file carries it), and the OCI annotations that tools read."""
    body = {k: v for k, v in manifest.items() if k not in ("image", "site_settings", "backup_runner")}
    return {
        MANIFEST_LABEL: json.dumps(body, sort_keys=True, separators=(",", ":")),
        "org.opencontainers.image.version": manifest["discourse"]["version"],
        "org.opencontainers.image.revision": manifest["discourse"]["commit"],
        "org.opencontainers.image.base.name": manifest["base_image"]["tag"],
        "org.opencontainers.image.base.digest": manifest["base_image"]["digest"],
    }
