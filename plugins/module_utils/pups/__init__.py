# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What upstream's launcher and pups 1.3.0 do to a Discourse container config, in pure Python.

Only PyYAML and the standard library are used, so that the package is unit-tested without Ansible.
By concern: ``common`` (the YAML library, PupsError), ``ruby`` (Ruby string and regex semantics),
``psych`` (YAML as Psych loads it), ``config`` (Pups::Config, its commands and Pups::Docker),
``docker`` (the launcher's env/labels and our Dockerfile), and here: rendering it all together.
Every rule here was read from the Ruby sources of pups 1.3.0 (``lib/pups/config.rb``, ``cli.rb``,
``*_command.rb``, ``docker.rb``), Psych (Ruby's YAML loader), the bash ``launcher`` of
discourse_docker and the Go launcher v2 (``v2/config/config.go``); comments name the Ruby behaviour
that a rule reproduces.
"""

import hashlib

from ansible_collections.forumops.discourse.plugins.module_utils.pups.common import (
    DEFAULT_BASE_IMAGE,
    DEFAULT_BUILD_SKIP_TAGS,
    HAS_YAML,
    YAML_IMPORT_ERROR,
    PupsError,
    yaml,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.config import (
    PupsConfig,
    apply_merge,
    apply_replace,
    build_bash_input,
    build_go_input,
    deep_merge,
    exec_commands,
    load_documents,
    shellescape,
    split_documents,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.docker import (
    _go_env_of,
    dockerfile,
    go_env_document,
    is_secret_env,
    launcher_env,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.psych import (
    psych_safe_load,
    psych_tokenize,
)
from ansible_collections.forumops.discourse.plugins.module_utils.pups.ruby import (
    parse_ruby_regex,
    ruby_to_s,
)

# The API the modules, filters and tests use; the parts live in the submodules named above.
__all__ = [
    "DEFAULT_BASE_IMAGE",
    "HAS_YAML",
    "YAML_IMPORT_ERROR",
    "PupsConfig",
    "PupsError",
    "apply_merge",
    "apply_replace",
    "deep_merge",
    "dockerfile",
    "dump_config",
    "exec_commands",
    "is_secret_env",
    "launcher_env",
    "load_documents",
    "parse_ruby_regex",
    "psych_safe_load",
    "read_templates",
    "render",
    "render_files",
    "ruby_to_s",
    "shellescape",
    "split_documents",
]


# --------------------------------------------------------------------------------------------------
# Everything together
# --------------------------------------------------------------------------------------------------


def render(
    config_text,
    templates,
    config_name,
    config_source="config",
    tags=None,
    skip_tags=None,
    params=None,
    environment=None,
    launcher="bash",
    ignore=None,
    bake_env=False,
    base_image=None,
    build_skip_tags=DEFAULT_BUILD_SKIP_TAGS,
    build_tags=None,
    extra_secrets=(),
    git_credentials=False,
):
    """Render a container config the way upstream would; see plugins/modules/pups_render.py.

    ``templates`` is a list of (name, text) in the config's ``templates:`` order.
    """
    if launcher not in ("bash", "go"):
        raise PupsError("launcher must be bash or go")
    warnings = []
    go_env = None
    if launcher == "go":
        go_env = {}
        for name, text in [*templates, (config_source, config_text)]:
            go_env.update(_go_env_of(text, name))
        go_env = {k: v.replace("{{config}}", config_name) for k, v in go_env.items()}
        pups_input, spans = build_go_input(config_text, config_source, templates, go_env_document(go_env))
    else:
        pups_input, spans = build_bash_input(config_text, config_source, templates)

    loaded = []
    row_sources = {}
    merged = load_documents(pups_input, spans, row_sources, loaded)
    documents = [doc if isinstance(doc, dict) else {} for _unused, doc in loaded]
    config_docs = [doc for name, doc in loaded if name == config_source]
    config_doc = config_docs[-1] if config_docs and isinstance(config_docs[-1], dict) else {}
    # the launcher's view first: PupsConfig edits the merged hashes, which may be a document's own
    env, labels, expose = launcher_env(documents, config_name, launcher, go_env, warnings)

    extra = [(k, ruby_to_s(v)) for k, v in (params or {}).items()]
    pups = PupsConfig(
        merged,
        ignored=ignore,
        tags=tags,
        skip_tags=skip_tags,
        extra_params=extra,
        environment=environment,
        row_sources=row_sources,
    )
    warnings.extend(pups.warnings)
    run = pups.substituted_run()
    params_out = {k: pups.params[k] for k in pups.user_param_keys}
    config_out = dict(pups.config)
    config_out["params"] = dict(params_out)
    docker_run_args = pups.docker_run_args()

    config_sha256 = hashlib.sha256(pups_input.encode("utf-8")).hexdigest()
    image = base_image or (
        config_doc.get("base_image") if isinstance(config_doc.get("base_image"), str) else None
    )
    image = image or DEFAULT_BASE_IMAGE
    version = params_out.get("version")
    secrets_present = sorted(k for k, v in env.items() if is_secret_env(k, extra_secrets) and v != "")
    if secrets_present:
        warnings.append(
            "the container config carries secret env keys ({}): they stay out of the Dockerfile, but "
            "config.yaml in the build context holds them; supply them as Kubernetes Secrets instead".format(
                ", ".join(secrets_present)
            )
        )
    text = dockerfile(
        env,
        expose,
        image,
        config_sha256,
        discourse_version=ruby_to_s(version) if version is not None else None,
        skip_tags=build_skip_tags,
        tags=build_tags,
        bake_env=bake_env,
        extra_secrets=extra_secrets,
        git_credentials=git_credentials,
    )
    return {
        "run": run,
        "params": params_out,
        "config": config_out,
        "pups_input": pups_input,
        "env": env,
        "labels": labels,
        "expose": expose,
        "docker_run_args": docker_run_args,
        "dockerfile": text,
        "base_image": image,
        "config_sha256": config_sha256,
        "warnings": warnings,
    }


def template_list(config_doc, config_source="config"):
    """The launcher's ``puts YAML.load(...)['templates']`` split on whitespace."""
    templates = config_doc.get("templates") if isinstance(config_doc, dict) else None
    if templates is None:
        return []
    if isinstance(templates, str):
        return templates.split()
    if not isinstance(templates, list):
        raise PupsError(f"{config_source}: templates must be a list")
    names = []
    for item in templates:
        names.extend(ruby_to_s(item).split())
    return names


if HAS_YAML:

    class _PsychSafeDumper(yaml.SafeDumper):
        """Dumps a dict so that Psych reads every string back as the same string."""

    def _represent_str(dumper, value):
        try:
            same = psych_tokenize(value) == value
        except PupsError:
            same = False
        style = None if same and value.strip() == value and value else "'"
        if "\n" in value:
            style = "|" if value.strip("\n") == value.rstrip("\n") and not value.startswith(" ") else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _PsychSafeDumper.add_representer(str, _represent_str)


def dump_config(data):
    """YAML text for a container config given as a dict (strings stay strings under Psych)."""
    return yaml.dump(
        data, Dumper=_PsychSafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def read_templates(templates_root, names, config_source="config"):
    """The launcher's ``$(cat $template)`` for each name, relative to the discourse_docker root."""
    import os

    out = []
    for name in names:
        path = os.path.join(templates_root, name)
        try:
            with open(path, encoding="utf-8") as handle:
                out.append((name, handle.read()))
        except OSError as exc:
            raise PupsError(
                f"{config_source}: template {name} cannot be read from {path}: {exc.strerror}"
            ) from exc
    return out


def render_files(templates_root, config_path=None, config_data=None, config_name=None, **kwargs):
    """render() for a config file (or dict) and templates resolved under ``templates_root``."""
    import os

    if config_path is not None:
        try:
            with open(config_path, encoding="utf-8") as handle:
                config_text = handle.read()
        except OSError as exc:
            raise PupsError(f"config {config_path} cannot be read: {exc.strerror}") from exc
        source = config_path
        default_name = os.path.splitext(os.path.basename(config_path))[0]
    else:
        config_text = dump_config(config_data)
        source = "config"
        default_name = "app"
    config_doc = psych_safe_load(config_text.strip(), source)
    names = template_list(config_doc, source)
    templates = read_templates(templates_root, names, source)
    return render(config_text, templates, config_name or default_name, config_source=source, **kwargs)
