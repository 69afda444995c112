# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which upstream versions an image lock file should pin, asked of the GitHub REST API.

Pure logic: HTTP goes through a ``get(url, headers) -> (status, headers, body)`` callable that the
module supplies, so this file needs neither Ansible nor the network to be tested.

Upstream facts this follows:

* Discourse tags releases ``vX.Y.Z`` (since November 2025 date-based, ``v2026.2.0``, cut monthly into
  ``release/YYYY.M`` branches); versions on the ``latest`` branch carry a ``-latest`` suffix
  (``v2026.3.0-latest``); before that, betas were ``vX.Y.Z.betaN``. The moving tag ``esr`` points to
  the newest extended support release (as ``release`` points to the newest release).
* discourse_docker's ``launcher`` pins the base image in one line, ``image="discourse/base:<tag>"``
  (older launchers write it without quotes).
* A plugin's ``.discourse-compatibility`` file names the commit that fits a Discourse version; the image
  build's ``plugin:pull_compatible_all`` checks the plugin out there, so the lock pins that commit
  (compatibility.py holds the parser and where it comes from).
"""

import base64
import datetime
import json
import re
from urllib.parse import quote

from ansible_collections.forumops.discourse.plugins.module_utils import compatibility

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover
    yaml = None
    HAS_YAML = False

CHANNELS = ("latest", "release", "esr")
DEFAULT_API = "https://api.github.com"
MAX_PAGES = 20

_FINAL = re.compile(r"\Av(\d+)\.(\d+)\.(\d+)\Z")
_LATEST = re.compile(r"\Av(\d+)\.(\d+)\.(\d+)-latest(?:\.(\d+))?\Z")
_BETA = re.compile(r"\Av(\d+)\.(\d+)\.(\d+)\.beta(\d+)\Z")
_LAUNCHER_IMAGE = re.compile(r"""^\s*image=["']?([^"'\s]+/base):([^"'\s@]+)["']?\s*$""", re.MULTILINE)
_GITHUB_URL = re.compile(
    r"\A(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?\Z"
)

LOCK_HEADER = (
    "---\n"
    "# Image lock for one flavour: every pin playbooks/build_image.yml builds from.\n"
    "# playbooks/check_upstream.yml rewrites the pins (discourse.version and commit,\n"
    "# discourse_docker.commit, base_image.tag and digest, plugins[].ref); the other keys are yours.\n"
    "# Comments are not kept.\n"
)


class UpstreamError(Exception):
    """The API could not answer, or answered something we cannot use; the message names the URL."""


class HTTPStatusError(UpstreamError):
    """The API answered with an HTTP status other than 200 (not a rate limit); ``status`` holds it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def version_key(tag):
    """Sort key of a Discourse version tag, or None for other tags.

    A final release sorts after its own pre-releases (-latest, .beta) and before the next version's.
    """
    for pattern, rank in ((_FINAL, 2), (_LATEST, 1), (_BETA, 0)):
        match = pattern.match(tag)
        if match:
            groups = [int(g) if g else 0 for g in match.groups()]
            pre = groups[3] if len(groups) > 3 else 0
            return (groups[0], groups[1], groups[2], rank, pre)
    return None


def newest_release(tags, channel, esr_commit=None):
    """The newest {name, commit} among GitHub tag objects for a channel.

    release: the newest final vX.Y.Z; latest: the newest of finals, -latest and beta tags; esr: the
    newest final tag on the commit the moving esr tag points to.
    """
    if channel not in CHANNELS:
        raise UpstreamError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    best = None
    for tag in tags:
        name = tag.get("name", "")
        key = version_key(name)
        if key is None:
            continue
        if channel in ("release", "esr") and key[3] != 2:
            continue
        commit = (tag.get("commit") or {}).get("sha", "")
        if channel == "esr" and commit != esr_commit:
            continue
        if best is None or key > best[0]:
            best = (key, {"name": name, "commit": commit})
    return best[1] if best else None


def launcher_base_image(text):
    """(repository, tag) of the base image the launcher script pins."""
    match = _LAUNCHER_IMAGE.search(text)
    if not match:
        raise UpstreamError('the launcher has no image="<repository>/base:<tag>" line')
    return match.group(1), match.group(2)


def github_repo(url):
    """owner/name of a GitHub repository URL, or None."""
    match = _GITHUB_URL.match(str(url))
    return match.group(1) if match else None


def _next_link(link_header):
    for part in (link_header or "").split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def _reset_text(reset):
    try:
        when = datetime.datetime.fromtimestamp(int(reset), tz=datetime.timezone.utc)  # noqa: UP017 - Python 3.8 targets
    except (TypeError, ValueError):
        return "at an unknown time"
    return "at " + when.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHub:
    """A small GitHub REST client over an injected ``get``; tracks the rate limit."""

    def __init__(self, get, api_url=DEFAULT_API, token=None, now=None):
        self._get = get
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.remaining = None
        self.reset = None
        self.requests = 0
        self._now = now

    def _headers(self):
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _limited(self, url, status, headers, body):
        retry = headers.get("retry-after")
        when = f"in {retry} s" if retry else _reset_text(headers.get("x-ratelimit-reset"))
        try:
            message = json.loads(body.decode("utf-8")).get("message", "")
        except (ValueError, AttributeError, UnicodeDecodeError):
            message = ""
        hint = "" if self.token else "; set a token (GITHUB_TOKEN) for a higher limit"
        return UpstreamError(
            f"GitHub API rate limit reached at {url} (HTTP {status}{': ' + message if message else ''}); "
            f"it resets {when}{hint}"
        )

    def request(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.api_url + path_or_url
        if self.remaining == 0 and self.reset is not None:
            now = self._now() if self._now else datetime.datetime.now(datetime.timezone.utc).timestamp()  # noqa: UP017
            if now < float(self.reset):
                raise UpstreamError(
                    f"GitHub API rate limit exhausted before {url}; it resets {_reset_text(self.reset)}"
                    + ("" if self.token else "; set a token (GITHUB_TOKEN) for a higher limit")
                )
        status, headers, body = self._get(url, self._headers())
        self.requests += 1
        headers = {str(k).lower(): v for k, v in (headers or {}).items()}
        if "x-ratelimit-remaining" in headers:
            try:
                self.remaining = int(headers["x-ratelimit-remaining"])
                self.reset = int(headers.get("x-ratelimit-reset", 0))
            except ValueError:
                pass
        if status == 429 or (
            status == 403 and (headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers)
        ):
            raise self._limited(url, status, headers, body)
        if status == 404:
            raise HTTPStatusError(status, f"{url}: not found (HTTP 404)")
        if status != 200:
            raise HTTPStatusError(status, f"{url}: HTTP {status}")
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UpstreamError(f"{url}: the answer is not JSON ({exc})") from exc
        return data, headers

    def json(self, path):
        return self.request(path)[0]

    def paginate(self, path):
        items = []
        url = path
        for _page in range(MAX_PAGES):
            data, headers = self.request(url)
            if not isinstance(data, list):
                raise UpstreamError(f"{url}: expected a list")
            items.extend(data)
            url = _next_link(headers.get("link"))
            if not url:
                return items
        return items

    def commit_of(self, repo, ref):
        data = self.json(f"/repos/{repo}/commits/{ref}")
        return data["sha"]

    def branch_head(self, repo, branch):
        return self.json(f"/repos/{repo}/branches/{branch}")["commit"]["sha"]

    def file_at(self, repo, path, ref):
        data = self.json(f"/repos/{repo}/contents/{path}?ref={ref}")
        if data.get("encoding") != "base64":
            raise UpstreamError(f"{self.api_url}/repos/{repo}/contents/{path}: unexpected encoding")
        return base64.b64decode(data["content"]).decode("utf-8")


class GitHubRepo:
    """A GitHub-hosted plugin repository, read through the REST client."""

    def __init__(self, client, repo):
        self.client = client
        self.repo = repo

    def default_branch(self):
        return self.client.json(f"/repos/{self.repo}")["default_branch"]

    def branch_head(self, branch):
        return self.client.branch_head(self.repo, branch)

    def file_at(self, path, commit):
        """The file's text at the commit, or None when the commit has no such file (HTTP 404)."""
        try:
            return self.client.file_at(self.repo, path, commit)
        except HTTPStatusError as exc:
            if exc.status == 404:
                return None
            raise

    def commit_of(self, ref):
        """The full commit a SHA (short or full), branch or tag names, or None when there is none:
        GitHub answers 404, or 422 "No commit found for SHA", for a ref it does not know."""
        try:
            return self.client.commit_of(self.repo, quote(ref, safe="/"))
        except HTTPStatusError as exc:
            if exc.status in (404, 422):
                return None
            raise


class GitRemote:
    """A plugin repository that is not on GitHub (another host, a file:// URL, a local path), read with
    the git command through an injected ``run(argv) -> (rc, stdout, stderr)``: ``git ls-remote`` for the
    branch heads; a bare clone into ``clone_dir`` (made on first use, removed by the caller) for the
    compatibility file and for resolving the ref it names."""

    def __init__(self, url, run, clone_dir):
        self.url = url
        self._run = run
        self._clone_dir = clone_dir
        self._cloned = False

    def _git(self, *args):
        rc, out, err = self._run(["git", *args])
        if rc != 0:
            command = next(a for a in args if a in ("ls-remote", "clone", "ls-tree", "show"))
            raise UpstreamError(
                f"{self.url}: git {command} failed (exit {rc}): {(err or out).strip() or 'no message'}"
            )
        return out

    def default_branch(self):
        """The branch the remote HEAD points to (``git ls-remote --symref <url> HEAD``)."""
        out = self._git("ls-remote", "--symref", "--", self.url, "HEAD")
        for line in out.splitlines():
            match = re.match(r"\Aref: refs/heads/(\S+)\tHEAD\Z", line)
            if match:
                return match.group(1)
        raise UpstreamError(f"{self.url}: its HEAD names no branch; set the plugin's branch in the lock")

    def branch_head(self, branch):
        ref = f"refs/heads/{branch}"
        for line in self._git("ls-remote", "--", self.url, ref).splitlines():
            commit, _tab, name = line.partition("\t")
            if name == ref:
                return commit
        raise UpstreamError(f"{self.url}: no branch {branch}")

    def _clone(self):
        # --filter=blob:none would fetch less, but local paths ignore it (and warn): a plain bare clone
        if not self._cloned:
            self._git("clone", "--bare", "--quiet", "--", self.url, self._clone_dir)
            self._cloned = True
        return self._clone_dir

    def file_at(self, path, commit):
        """The file's text at the commit, or None when the commit's tree has no such file."""
        clone = self._clone()
        if not self._git("--git-dir", clone, "ls-tree", commit, "--", path).strip():
            return None
        return self._git("--git-dir", clone, "show", f"{commit}:{path}")

    def commit_of(self, ref):
        """The full commit a SHA (short or full), branch or tag names, or None when there is none."""
        rc, out, _err = self._run(
            ["git", "--git-dir", self._clone(), "rev-parse", "--verify", "--quiet", "--end-of-options",
             f"{ref}^{{commit}}"]
        )  # fmt: skip
        return out.strip() if rc == 0 and out.strip() else None


def target_version(tag):
    """The Discourse version a release tag stands for, as Discourse::VERSION::STRING spells it: the tag
    without its leading ``v`` (``v3.5.0.beta3`` is 3.5.0.beta3)."""
    return tag[1:] if tag.startswith("v") else tag


def compatible_commit(source, head, version_tag, label):
    """The commit of a plugin to pin for Discourse ``version_tag``: the one its
    ``.discourse-compatibility`` at the branch head names, or the head when the file is absent or names
    nothing for that version. ``source`` is a GitHubRepo or a GitRemote; ``label`` names the plugin in
    errors."""
    text = source.file_at(compatibility.FILENAME, head)
    refused = f"{label}: no compatible commit for Discourse {version_tag}"
    try:
        ref = compatibility.compatible_ref(text, target_version(version_tag))
    except compatibility.InvalidVersionListError as exc:
        raise UpstreamError(f"{refused}: its {compatibility.FILENAME} at {head} is invalid: {exc}") from exc
    except ValueError as exc:
        raise UpstreamError(f"{refused}: the Discourse version is not a RubyGems version ({exc})") from exc
    if ref is None:
        return head
    commit = source.commit_of(ref)
    if commit is None:
        raise UpstreamError(
            f"{refused}: its {compatibility.FILENAME} at {head} names {ref!r}, which is no commit, branch "
            "or tag of the repository"
        )
    return commit


def check(
    lock,
    client,
    channel=None,
    discourse_repo="discourse/discourse",
    discourse_docker_repo="discourse/discourse_docker",
    remote=None,
):
    """The lock with the newest upstream pins, and the list of {key, old, new} that changed.

    Each plugin is pinned to the commit its ``.discourse-compatibility`` names for the locked Discourse
    version, else to its branch head (compatible_commit). ``remote(url)`` gives a GitRemote for plugins
    not hosted on GitHub; without it they are left as they are and a warning, the third element of the
    result, says so.
    """
    new = json.loads(json.dumps(lock))  # a deep copy of plain data
    updates = []
    warnings = []

    def update(key, holder, field, value):
        old = holder.get(field, "")
        if old != value:
            updates.append({"key": key, "old": old, "new": value})
            holder[field] = value

    discourse = new.setdefault("discourse", {})
    channel = channel or discourse.get("channel") or "release"
    if channel not in CHANNELS:
        raise UpstreamError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    tags = client.paginate(f"/repos/{discourse_repo}/tags?per_page=100")
    esr_commit = client.commit_of(discourse_repo, "esr") if channel == "esr" else None
    newest = newest_release(tags, channel, esr_commit)
    if newest is None:
        raise UpstreamError(f"no Discourse release found on the {channel} channel in {discourse_repo}'s tags")
    update("discourse.version", discourse, "version", newest["name"])
    update("discourse.commit", discourse, "commit", newest["commit"])

    docker = new.setdefault("discourse_docker", {})
    branch = docker.get("branch") or "main"
    head = client.branch_head(discourse_docker_repo, branch)
    update("discourse_docker.commit", docker, "commit", head)
    repository, tag = launcher_base_image(client.file_at(discourse_docker_repo, "launcher", head))
    base = new.setdefault("base_image", {})
    if base.get("tag") != tag or base.get("repository", repository) != repository:
        update("base_image.repository", base, "repository", repository)
        update("base_image.tag", base, "tag", tag)
        # the digest belonged to the old tag
        update("base_image.digest", base, "digest", "")

    for index, plugin in enumerate(new.get("plugins") or []):
        url = plugin.get("url", "")
        repo = github_repo(url)
        if repo is not None:
            source = GitHubRepo(client, repo)
        elif remote is not None:
            source = remote(url)
        else:
            warnings.append(f"plugins[{index}] {url}: not on GitHub, its ref is left as it is")
            continue
        label = f"plugins[{index}] {plugin.get('name') or url} ({url})"
        head = source.branch_head(plugin.get("branch") or source.default_branch())
        commit = compatible_commit(source, head, newest["name"], label)
        update(f"plugins[{index}].ref", plugin, "ref", commit)
    return new, updates, warnings


if HAS_YAML:

    class _LockDumper(yaml.SafeDumper):
        """Block style with sequences indented under their key (our yamllint rules)."""

        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)


def dump_lock(lock):
    """The lock file's text: our header, then the data in its key order."""
    body = yaml.dump(
        lock, Dumper=_LockDumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
    )
    return LOCK_HEADER + body


def load_lock(text, origin):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UpstreamError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"{origin}: a lock file is a mapping")
    for key in ("discourse", "discourse_docker", "base_image"):
        if not isinstance(data.get(key), dict):
            raise UpstreamError(f"{origin}: {key} must be a mapping")
    return data
