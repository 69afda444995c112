#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: pups_render
short_description: Render a Discourse container config exactly as upstream's launcher and pups would
version_added: "0.1.0"
description:
  - Concatenates the container config's templates and the config the way discourse_docker's bash
    launcher (or the Go launcher v2) does, merges the documents as pups 1.3.0 does (YAML 1.1 read the
    way Ruby's Psych reads it, arrays concatenated at every depth, a later null never overrides),
    filters the run list by tags, injects hooks and substitutes C($param) in exactly the fields pups
    substitutes.
  - Optionally writes a BuildKit build context to O(dest) - C(config.yaml) (the pups input) and a
    C(Dockerfile) that runs pups on it - for a database-less image build from C(discourse/base).
  - The Dockerfile never contains a secret (database, Redis and SMTP credentials and hosts,
    SECRET_KEY_BASE, DEVELOPER_EMAILS, HOSTNAME, SAML settings, anything named like a key or password).
  - Hooks whose anchor row is missing (or was filtered out by tags) are reported as warnings, as
    pups logs them.
author:
  - forumops engineering (@forumops)
requirements:
  - PyYAML
options:
  templates_root:
    description:
      - Root of a discourse_docker checkout. The paths in the config's C(templates) list are relative
        to it, as the launcher resolves them.
    type: path
    required: true
  config:
    description:
      - The container config, in the shape of C(containers/app.yml).
      - A string is the path of the config file; a dictionary is the config itself.
    type: raw
    required: true
  config_name:
    description:
      - The name C({{config}}) stands for in env and labels.
      - Defaults to the config file's name without C(.yml), or C(app) for a dictionary.
    type: str
  tags:
    description:
      - Keep only run rows whose first command carries one of these tags (pups C(--tags)).
      - Hooks are injected after filtering; a hook whose anchor was filtered out is skipped.
    type: list
    elements: str
  skip_tags:
    description:
      - Drop run rows whose first command carries one of these tags (pups C(--skip-tags)).
    type: list
    elements: str
  params:
    description:
      - Params that override or extend the config's C(params) (pups C(--params key=value)).
      - Values are passed as strings, as on the command line.
    type: dict
    default: {}
  environment:
    description:
      - The process environment pups would see. The config's C(env) is exported over it, every
        variable becomes the param C($ENV_<NAME>), and C(env_template_<x>) variables add C(<x>) to
        C(env_template). The controller's own environment is never used.
    type: dict
    default: {}
  ignore:
    description:
      - Top-level keys pups drops before processing (pups C(--ignore)).
    type: list
    elements: str
  launcher:
    description:
      - "C(bash) - documents are C(hack: true), the templates in order and the config, joined with
        upstream's C(_FILE_SEPERATOR_); the docker env is a shallow merge over C(LANG=en_US.UTF-8)."
      - C(go) - the raw templates, the config, then a final C(env) document with C({{config}})
        resolved; env is merged later-wins with the scalar text as yaml.v3 reads it.
    type: str
    choices: [bash, go]
    default: bash
  dest:
    description:
      - Directory to write C(config.yaml) and C(Dockerfile) to. Files are only rewritten when their
        content changes; the result reports C(changed) accordingly.
      - Without it nothing is written and the module never reports a change.
    type: path
  bake_env:
    description:
      - Set C(ENV) in the image for every non-secret env key, not only the default set (RAILS_ENV,
        UNICORN_WORKERS, UNICORN_SIDEKIQS, RUBY_GC_*, *_ON_BOOT).
    type: bool
    default: false
  git_credentials:
    description:
      - The pups step mounts the build secret C(git_credentials) (a git credential store file, lines
        such as C(https://x-access-token:TOKEN@github.com)) and git reads it through
        C(credential.helper), so plugins in private repositories clone without a token in any URL,
        layer, label or the build manifest. The builder must be given the secret
        (C(--secret id=git_credentials,src=FILE)).
    type: bool
    default: false
  base_image:
    description:
      - Image for the Dockerfile's C(FROM). Defaults to the config's C(base_image), then to a pinned
        C(discourse/base) tag.
    type: str
  build_skip_tags:
    description:
      - The C(--skip-tags) the Dockerfile's pups run uses.
    type: list
    elements: str
    default: [precompile, migrate, db]
  build_tags:
    description:
      - The C(--tags) the Dockerfile's pups run uses, if any.
    type: list
    elements: str
  secret_env_keys:
    description:
      - More env keys to treat as secrets, on top of the built-in list.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; C(changed) tells whether files would change.
  diff_mode:
    support: none
    description: The written files are returned in full instead of a diff.
notes:
  - Semantics follow pups 1.3.0 and Ruby 3.3 (for example C(Hash#to_s) is C({"a"=>1})).
"""

EXAMPLES = r"""
- name: Render the build context for a DB-less image build
  forumops.discourse.pups_render:
    templates_root: "{{ __discourse_image_checkout }}"
    config: "{{ __discourse_image_checkout }}/containers/app.yml"
    skip_tags: [precompile, migrate, db]
    params:
      version: v3.5.0
    dest: "{{ __discourse_image_context }}"
  register: __discourse_image_rendered

- name: See what the migrate step would run
  forumops.discourse.pups_render:
    templates_root: /srv/discourse_docker
    config:
      templates:
        - templates/web.template.yml
      hooks:
        after_code:
          - exec:
              cd: $home/plugins
              cmd:
                - git clone https://github.com/discourse/discourse-solved.git
    tags: [db, migrate]
  register: __discourse_image_migrate_plan
"""

RETURN = r"""
run:
  description:
    - The final run list after tag filtering and hook injection, with C($param) substituted in the
      fields pups substitutes (exec C(cmd), C(cd), C(stdin), string exec rows; file C(path) and
      C(contents); replace C(to) when a string; the file part of a merge row). Every other key is kept.
  returned: always
  type: list
  elements: dict
params:
  description: The merged params after O(params), without the C($ENV_*) entries.
  returned: always
  type: dict
config:
  description: The merged configuration as pups holds it after loading (params without C($ENV_*)).
  returned: always
  type: dict
pups_input:
  description: The exact text pups reads on stdin; also the content of C(config.yaml).
  returned: always
  type: str
env:
  description: The container env as the launcher passes it to C(docker run).
  returned: always
  type: dict
labels:
  description: The container labels as the launcher passes them to C(docker run).
  returned: always
  type: dict
expose:
  description: The expose entries as the launcher collects them.
  returned: always
  type: list
  elements: str
docker_run_args:
  description: What C(pups --gen-docker-run-args) prints for this input.
  returned: always
  type: str
dockerfile:
  description: The generated Dockerfile.
  returned: always
  type: str
config_sha256:
  description: SHA-256 of C(config.yaml), also recorded as an image label.
  returned: always
  type: str
base_image:
  description: The image the Dockerfile builds from.
  returned: always
  type: str
files:
  description: The files in O(dest) and whether each one changed.
  returned: when O(dest) is set
  type: dict
pups_warnings:
  description:
    - What pups and this module warn about - hooks skipped because their anchor is missing (or was
      filtered out), secret env keys in the config, malformed params. Each is also shown as an
      Ansible warning.
  returned: always
  type: list
  elements: str
"""

import os  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

try:
    from ansible_collections.forumops.discourse.plugins.module_utils import pups
except ImportError:  # pragma: no cover - only without PyYAML's dependencies on the target
    pups = None


def _write(module, path, content):
    """Write content when it differs; returns whether the file changed (or would, in check mode)."""
    data = content.encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        module.fail_json(msg=f"cannot read {path}: {exc.strerror}")
    if module.check_mode:
        return True
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pups_render.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


# The options passed to pups.render_files as they are, under the same names.
RENDER_OPTIONS = (
    "config_name",
    "tags",
    "skip_tags",
    "params",
    "launcher",
    "ignore",
    "bake_env",
    "base_image",
    "build_skip_tags",
    "build_tags",
    "git_credentials",
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            templates_root=dict(type="path", required=True),
            config=dict(type="raw", required=True),
            config_name=dict(type="str"),
            tags=dict(type="list", elements="str"),
            skip_tags=dict(type="list", elements="str"),
            params=dict(type="dict", default={}),
            environment=dict(type="dict", default={}),
            ignore=dict(type="list", elements="str"),
            launcher=dict(type="str", choices=["bash", "go"], default="bash"),
            dest=dict(type="path"),
            bake_env=dict(type="bool", default=False),
            base_image=dict(type="str"),
            build_skip_tags=dict(type="list", elements="str", default=["precompile", "migrate", "db"]),
            build_tags=dict(type="list", elements="str"),
            secret_env_keys=dict(type="list", elements="str", default=[], no_log=False),
            git_credentials=dict(type="bool", default=False, no_log=False),
        ),
        supports_check_mode=True,
    )
    if pups is None or not pups.HAS_YAML:
        module.fail_json(
            msg=missing_required_lib("PyYAML"),
            exception=None if pups is None else str(pups.YAML_IMPORT_ERROR),
        )
    p = module.params
    config = p["config"]
    if isinstance(config, str):
        config_path, config_data = config, None
    elif isinstance(config, dict):
        config_path, config_data = None, config
    else:
        module.fail_json(msg="config must be the path of a container config or the config as a dictionary")

    environment = {str(k): pups.ruby_to_s(v) for k, v in p["environment"].items()}
    try:
        result = pups.render_files(
            p["templates_root"],
            config_path=config_path,
            config_data=config_data,
            environment=environment,
            extra_secrets=tuple(p["secret_env_keys"]),
            **{name: p[name] for name in RENDER_OPTIONS},
        )
    except pups.PupsError as exc:
        module.fail_json(msg=str(exc))

    changed = False
    files = None
    if p["dest"]:
        dest = p["dest"]
        if not os.path.isdir(dest):
            if module.check_mode:
                files = {"config.yaml": True, "Dockerfile": True}
            else:
                try:
                    os.makedirs(dest, exist_ok=True)
                except OSError as exc:
                    module.fail_json(msg=f"cannot create {dest}: {exc.strerror}")
        if files is None:
            files = {
                "config.yaml": _write(module, os.path.join(dest, "config.yaml"), result["pups_input"]),
                "Dockerfile": _write(module, os.path.join(dest, "Dockerfile"), result["dockerfile"]),
            }
        changed = any(files.values())

    warnings = result.pop("warnings")
    out = dict(changed=changed, pups_warnings=warnings, **result)
    if files is not None:
        out["files"] = files
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
