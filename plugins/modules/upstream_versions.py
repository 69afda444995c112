#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: upstream_versions
short_description: Find the newest upstream pins for a Discourse image lock file
version_added: "0.1.0"
description:
  - Asks the GitHub REST API for the newest Discourse release on a channel, the newest commit of the
    discourse_docker branch and the C(discourse/base) tag its C(launcher) pins at that commit, and the
    newest commit of each plugin's branch (C(branch), else the repository's default branch).
  - "Each plugin is pinned to the commit that fits the Discourse version being locked: its
    C(.discourse-compatibility) file at the branch head is read with upstream's rules (a YAML mapping of
    C(<= version), C(< version) or bare C(version) to a git ref; the entries sorted by version, the first
    one the Discourse version satisfies wins) and the ref it names is resolved to a full commit. Without
    the file, or without a matching entry, the branch head is pinned. An invalid file, or a ref that is no
    commit, branch or tag of the plugin, fails the module naming the plugin and the Discourse version."
  - Plugins hosted on GitHub are read through the API; others (other hosts, C(file://) URLs, local paths)
    with the C(git) command - C(git ls-remote) for the branch head and a temporary bare clone for the
    compatibility file and its ref.
  - Reports what is out of date in the lock file O(path); with O(write=true) rewrites it (check mode and
    diff mode show the change without writing).
  - "Channels: C(release) is the newest final C(vX.Y.Z) tag; C(latest) also counts C(-latest) and beta
    tags; C(esr) is the final tag on the commit the moving C(esr) tag points to."
  - Respects the rate limit - a 403 or 429 with an exhausted limit fails with the reset time, and no
    request is made once the limit is known to be exhausted.
author:
  - forumops engineering (@forumops)
requirements:
  - PyYAML
  - git, for plugins not hosted on GitHub
options:
  path:
    description: The lock file (C(images/<flavour>.yml)).
    type: path
    required: true
  channel:
    description: Discourse release channel; defaults to the lock's C(discourse.channel), then C(release).
    type: str
    choices: [latest, release, esr]
  write:
    description: Rewrite the lock file when a pin is out of date. Without it the module only reports.
    type: bool
    default: false
  api_url:
    description: Base URL of the GitHub REST API.
    type: str
    default: https://api.github.com
  token:
    description:
      - A GitHub token, for a higher rate limit. Never logged.
      - Defaults to the C(GITHUB_TOKEN) environment variable.
    type: str
  discourse_repo:
    description: The Discourse repository, C(owner/name).
    type: str
    default: discourse/discourse
  discourse_docker_repo:
    description: The discourse_docker repository, C(owner/name).
    type: str
    default: discourse/discourse_docker
  timeout:
    description: Seconds to wait for each API answer.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) tells whether O(write=true) would rewrite the lock.
  diff_mode:
    support: full
    description: Shows the lock file before and after.
notes:
  - The base image digest cannot be read from GitHub; when the tag changes it is cleared, pin it again
    if you pin by digest.
  - The Discourse version a plugin must fit is C(discourse.version) without its leading C(v)
    (C(v3.5.0.beta3) is C(3.5.0.beta3)); versions compare as RubyGems' C(Gem::Version) does.
"""

EXAMPLES = r"""
- name: Report what is newer upstream
  forumops.discourse.upstream_versions:
    path: images/default.yml
  register: __discourse_image_upstream

- name: Move the lock to the newest ESR
  forumops.discourse.upstream_versions:
    path: images/default.yml
    channel: esr
    write: true
"""

RETURN = r"""
updates:
  description: The pins that differ from upstream, as key, old and new value.
  returned: always
  type: list
  elements: dict
  sample: [{key: discourse.version, old: v3.5.0, new: v3.5.1}]
lock:
  description: The lock with the newest pins.
  returned: always
  type: dict
outdated:
  description: Whether any pin is out of date.
  returned: always
  type: bool
channel:
  description: The channel used.
  returned: always
  type: str
rate_limit:
  description: What the API reported last - remaining requests and the reset time (epoch seconds).
  returned: always
  type: dict
"""

import itertools  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib  # noqa: E402
from ansible.module_utils.urls import fetch_url  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import upstream  # noqa: E402


def _getter(module, timeout):
    def get(url, headers):
        response, info = fetch_url(module, url, headers=headers, timeout=timeout, method="GET")
        status = info.get("status", -1)
        if status == -1:
            module.fail_json(msg=f"cannot reach the GitHub API at {url}: {info.get('msg', 'no answer')}")
        # fetch_url keeps an error answer's body in info; a success is read from the response
        body = info.get("body") or b"" if status >= 400 or response is None else response.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
        return status, info, body

    return get


def _remotes(module, workdir):
    """upstream.GitRemote for each plugin not on GitHub, each cloning into its own directory of workdir."""
    numbers = itertools.count()

    def run(argv):
        # never wait for a password on the terminal: a private URL without credentials fails at once
        return module.run_command(argv, environ_update={"GIT_TERMINAL_PROMPT": "0"})

    def remote(url):
        return upstream.GitRemote(url, run, os.path.join(workdir, f"plugin-{next(numbers)}.git"))

    return remote


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            channel=dict(type="str", choices=list(upstream.CHANNELS)),
            write=dict(type="bool", default=False),
            api_url=dict(type="str", default=upstream.DEFAULT_API),
            token=dict(type="str", no_log=True, fallback=(env_fallback, ["GITHUB_TOKEN"])),
            discourse_repo=dict(type="str", default="discourse/discourse"),
            discourse_docker_repo=dict(type="str", default="discourse/discourse_docker"),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    if not upstream.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    p = module.params
    try:
        with open(p["path"], encoding="utf-8") as handle:
            before = handle.read()
    except OSError as exc:
        module.fail_json(msg=f"{p['path']}: cannot read the lock file: {exc.strerror}")

    client = upstream.GitHub(_getter(module, p["timeout"]), api_url=p["api_url"], token=p["token"])
    workdir = tempfile.mkdtemp(prefix="upstream_versions.")
    try:
        lock = upstream.load_lock(before, p["path"])
        new_lock, updates, warnings = upstream.check(
            lock,
            client,
            channel=p["channel"],
            discourse_repo=p["discourse_repo"],
            discourse_docker_repo=p["discourse_docker_repo"],
            remote=_remotes(module, workdir),
        )
    except upstream.UpstreamError as exc:
        module.fail_json(msg=str(exc), rate_limit={"remaining": client.remaining, "reset": client.reset})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for warning in warnings:
        module.warn(warning)

    after = upstream.dump_lock(new_lock) if updates else before
    changed = bool(p["write"] and updates)
    if changed and not module.check_mode:
        directory = os.path.dirname(os.path.abspath(p["path"]))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upstream_versions.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(after)
            os.chmod(tmp, 0o644)
            module.atomic_move(tmp, os.path.abspath(p["path"]))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    result = dict(
        changed=changed,
        updates=updates,
        outdated=bool(updates),
        lock=new_lock,
        channel=p["channel"] or lock["discourse"].get("channel") or "release",
        rate_limit={"remaining": client.remaining, "reset": client.reset},
    )
    if module._diff and updates:
        result["diff"] = dict(before=before, after=after, before_header=p["path"], after_header=p["path"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
