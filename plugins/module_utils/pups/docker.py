# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The launcher's own view of a config (env, labels, expose for `docker run`; which keys are
secret) and the Dockerfile our build generates from it (DESIGN section 4.4)."""

import json
import re

from ansible_collections.forumops.discourse.plugins.module_utils.pups.common import (
    DEFAULT_BUILD_SKIP_TAGS,
    PupsError,
    yaml,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.ruby import (
    ruby_to_s,
    ruby_truthy,
)

DEFAULT_LANG = "en_US.UTF-8"
CONFIG_TARGET = "/tmp/forumops-pups-config.yaml"
# A git credential store file (https://user:token@host lines), mounted only while pups clones: git
# reads it through credential.helper, so no token reaches a layer, .git/config, a label or the manifest.
GIT_CREDENTIALS_SECRET = "git_credentials"
GIT_CREDENTIALS_TARGET = "/run/secrets/git_credentials"
GIT_CREDENTIALS_ENV = (
    f"GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper "
    f"GIT_CONFIG_VALUE_0='store --file={GIT_CREDENTIALS_TARGET}' "
)

# ENV set in the image when bake_env is false (the Go launcher's defaultBakeEnv, plus the *_ON_BOOT set).
DEFAULT_BAKE_ENV = (
    "RAILS_ENV",
    "UNICORN_WORKERS",
    "UNICORN_SIDEKIQS",
    "RUBY_GC_HEAP_GROWTH_MAX_SLOTS",
    "RUBY_GC_HEAP_INIT_SLOTS",
    "RUBY_GC_HEAP_OLDOBJECT_LIMIT_FACTOR",
    "CREATE_DB_ON_BOOT",
    "MIGRATE_ON_BOOT",
    "PRECOMPILE_ON_BOOT",
)

# The Go launcher's utils.KnownSecrets, and more: keys that must never reach ARG, ENV, LABEL or RUN.
KNOWN_SECRETS = frozenset(
    (
        "DISCOURSE_DB_HOST",
        "DISCOURSE_DB_PORT",
        "DISCOURSE_DB_SOCKET",
        "DISCOURSE_DB_REPLICA_HOST",
        "DISCOURSE_DB_REPLICA_PORT",
        "DISCOURSE_DB_USERNAME",
        "DISCOURSE_DB_PASSWORD",
        "DISCOURSE_REDIS_HOST",
        "DISCOURSE_REDIS_PORT",
        "DISCOURSE_REDIS_REPLICA_HOST",
        "DISCOURSE_REDIS_PASSWORD",
        "DISCOURSE_SMTP_ADDRESS",
        "DISCOURSE_SMTP_USER_NAME",
        "DISCOURSE_SMTP_PASSWORD",
        "DISCOURSE_DEVELOPER_EMAILS",
        "DISCOURSE_SECRET_KEY_BASE",
        "DISCOURSE_HOSTNAME",
        "DISCOURSE_SAML_CERT",
        "DISCOURSE_SAML_TITLE",
        "DISCOURSE_SAML_TARGET_URL",
        "DISCOURSE_SAML_NAME_IDENTIFIER_FORMAT",
        "DISCOURSE_MAXMIND_LICENSE_KEY",
        "LETSENCRYPT_ACCOUNT_EMAIL",
    )
)
_SECRET_PREFIXES = ("DISCOURSE_DB_", "DISCOURSE_REDIS_", "DISCOURSE_SMTP_", "DISCOURSE_SAML_")
_SECRET_WORDS = re.compile(
    r"PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(?:^|_)KEY(?:_|$)|ACCESS_KEY|API_KEY|_CERT"
)

# --------------------------------------------------------------------------------------------------
# The launcher's own view: env, labels, expose for `docker run`
# --------------------------------------------------------------------------------------------------


def _bash_read_lines(raw):
    """``while read i`` without -r: backslash escapes, line continuations, IFS trimming."""
    lines, current, i = [], [], 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and i + 1 < len(raw):
            if raw[i + 1] != "\n":
                current.append(raw[i + 1])
            i += 2
            continue
        if char == "\\":
            i += 1
            continue
        if char == "\n":
            lines.append("".join(current).strip(" \t\n"))
            current = []
        else:
            current.append(char)
        i += 1
    lines.append("".join(current).strip(" \t\n"))
    return [line for line in lines if line]


def launcher_env(documents, config_name, launcher="bash", go_env=None, warnings=None):
    """DESIGN §4.1: env, labels and expose as the launcher passes them to ``docker run``."""
    warnings = warnings if warnings is not None else []
    if launcher == "go":
        env = {k: v.replace("{{config}}", config_name) for k, v in (go_env or {}).items()}
        labels, expose = {}, []
        for doc in documents:
            for k, v in (doc.get("labels") or {}).items():
                labels[ruby_to_s(k)] = ruby_to_s(v).replace("{{config}}", config_name)
            if doc.get("expose"):
                expose = [ruby_to_s(p) for p in doc["expose"]]
        return env, labels, expose
    env = {"LANG": DEFAULT_LANG}
    labels, expose = {}, []
    for doc in documents:
        doc_env = doc.get("env") if isinstance(doc, dict) else None
        if ruby_truthy(doc_env):
            if not isinstance(doc_env, dict):
                raise PupsError(f"the launcher cannot merge env {doc_env!r}")
            env.update(doc_env)
        doc_labels = doc.get("labels") if isinstance(doc, dict) else None
        if ruby_truthy(doc_labels):
            if not isinstance(doc_labels, dict):
                raise PupsError(f"the launcher cannot merge labels {doc_labels!r}")
            labels.update(doc_labels)
        doc_expose = doc.get("expose") if isinstance(doc, dict) else None
        if ruby_truthy(doc_expose):
            if not isinstance(doc_expose, list):
                raise PupsError(f"the launcher cannot concatenate expose {doc_expose!r}")
            expose.extend(doc_expose)
    for key, value in env.items():
        if isinstance(value, dict):
            raise PupsError(f"env {key} is a hash; the launcher refuses it (*ERROR.)")
    out_env = {}
    for key, value in env.items():
        raw = f"{ruby_to_s(key)}={ruby_to_s(value)}"
        lines = _bash_read_lines(raw)
        if not lines:
            continue
        if len(lines) > 1:
            warnings.append(
                f"env {key} spans several lines; the bash launcher passes the extra lines as separate "
                "docker arguments"
            )
        line = lines[0].replace("{{config}}", config_name)
        name, _unused, val = line.partition("=")
        out_env[name] = val
    out_labels = {}
    for key, value in labels.items():
        for line in _bash_read_lines(f"{ruby_to_s(key)}={ruby_to_s(value)}"):
            line = " ".join(line.replace("{{config}}", config_name).split())
            name, _unused, val = line.partition("=")
            out_labels[name] = val
    out_expose = []
    for port in expose:
        out_expose.extend(_bash_read_lines(ruby_to_s(port)))
    return out_env, out_labels, out_expose


def _go_env_of(text, source):
    """yaml.v3 into map[string]string: each scalar's own text, null as ""."""
    if not text.strip():
        return {}
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise PupsError(f"{source}: YAML error: {exc}") from exc
    out = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        if key.value != "env":
            continue
        if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null":
            continue
        if not isinstance(value, yaml.MappingNode):
            raise PupsError(f"{source}: env must be a mapping")
        for k, v in value.value:
            if not isinstance(v, yaml.ScalarNode):
                raise PupsError(f"{source}: env {k.value} must be a scalar for the Go launcher")
            null = v.tag == "tag:yaml.org,2002:null" and v.style is None
            out[k.value] = "" if null else v.value
    return out


def go_env_document(env):
    lines = ["env:"]
    for key, value in env.items():
        lines.append(f"  {json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n" if env else "env: {}\n"


# --------------------------------------------------------------------------------------------------
# Dockerfile (DESIGN §4.4)
# --------------------------------------------------------------------------------------------------


def is_secret_env(key, extra_secrets=()):
    key = ruby_to_s(key)
    upper = key.upper()
    if upper in KNOWN_SECRETS or key in extra_secrets:
        return True
    if upper.startswith(_SECRET_PREFIXES):
        return True
    return bool(_SECRET_WORDS.search(upper))


def _docker_quote(value):
    """A double-quoted Dockerfile word: backslash, quote and $ (variable expansion) escaped."""
    return '"{}"'.format(value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$"))


def container_port(entry):
    """The container side of an expose entry: ``host:port:container`` -> container."""
    text = ruby_to_s(entry)
    return text.rsplit(":", 1)[-1] if ":" in text else text


def dockerfile(
    env,
    expose,
    base_image,
    config_sha256,
    discourse_version=None,
    skip_tags=DEFAULT_BUILD_SKIP_TAGS,
    tags=None,
    bake_env=False,
    boot_command="/sbin/boot",
    extra_secrets=(),
    config_file="config.yaml",
    git_credentials=False,
):
    """A BuildKit Dockerfile that runs pups on the bind-mounted config; no secret reaches it.

    With ``git_credentials`` the pups step also mounts the build secret ``git_credentials`` and points
    git's credential helper at it, for plugins in private repositories."""
    if not base_image or re.search(r"\s", base_image):
        raise PupsError(f"base_image {base_image!r} is not an image reference")
    public = [(k, v) for k, v in env.items() if not is_secret_env(k, extra_secrets) and "\n" not in v]
    for key, _unused in public:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise PupsError(f"env key {key!r} cannot be a Dockerfile ARG")
    lines = ["# syntax=docker/dockerfile:1", f"FROM {base_image}"]
    for key, value in sorted(public):
        lines.append(f"ARG {key}={_docker_quote(value)}")
    baked = [k for k, _unused in sorted(public) if bake_env or k in DEFAULT_BAKE_ENV]
    for key in baked:
        lines.append(f"ENV {key}=${{{key}}}")
    ports = sorted({container_port(p) for p in expose if container_port(p)})
    for port in ports:
        if not re.match(r"^[0-9]+(?:-[0-9]+)?(?:/(?:tcp|udp|sctp))?$", port):
            raise PupsError(f"expose entry {port!r} has no valid container port")
        lines.append(f"EXPOSE {port}")
    labels = [("org.forumops.discourse.config-sha256", config_sha256)]
    if discourse_version:
        labels.insert(0, ("org.forumops.discourse.version", discourse_version))
    lines.append("LABEL " + " ".join(f"{k}={_docker_quote(v)}" for k, v in labels))
    pups_args = []
    if tags is not None:
        pups_args.append("--tags=" + ",".join(tags))
    if skip_tags is not None:
        pups_args.append("--skip-tags=" + ",".join(skip_tags))
    for arg in pups_args:
        if not re.match(r"^--[a-z-]+=[A-Za-z0-9_,.-]*$", arg):
            raise PupsError(f"tag list {arg!r} is not safe in a RUN line")
    mounts = f"--mount=type=bind,source={config_file},target={CONFIG_TARGET}"
    git_env = ""
    if git_credentials:
        mounts += f" --mount=type=secret,id={GIT_CREDENTIALS_SECRET},target={GIT_CREDENTIALS_TARGET}"
        git_env = GIT_CREDENTIALS_ENV
    lines.append(
        f"RUN {mounts} cat {CONFIG_TARGET} | "
        f"{git_env}/usr/local/bin/pups {''.join(arg + ' ' for arg in pups_args)}--stdin"
    )
    if boot_command:
        lines.append(f"CMD [{_docker_quote(boot_command)}]")
    return "\n".join(lines) + "\n"
