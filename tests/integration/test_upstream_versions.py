"""playbooks/check_upstream.yml against a local HTTP server that serves recorded GitHub API answers, and
local git repositories for the plugins not hosted on GitHub."""

from __future__ import annotations

import copy
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils import upstream
from tests.fixtures.ansible import play_recap
from tests.fixtures.git import git

FIXTURES = Path(__file__).parent / "fixtures" / "github_api"
RESET = 1893456000  # 2030-01-01T00:00:00Z


def sha(char):
    return char * 40


class RecordedGitHub(http.server.BaseHTTPRequestHandler):
    routes = json.loads((FIXTURES / "routes.json").read_text())
    mode = "normal"
    seen: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append(self.path)
        if type(self).mode == "rate_limited":
            return self.answer(
                403,
                (FIXTURES / "rate_limited.json").read_bytes(),
                {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(RESET)},
            )
        route = self.routes.get(self.path)
        if route is None:
            return self.answer(404, b'{"message": "Not Found"}', {})
        headers = {"X-RateLimit-Remaining": "4990", "X-RateLimit-Reset": str(RESET)}
        if "link_next" in route:
            base = f"http://{self.headers['Host']}"
            headers["Link"] = (
                f'<{base}{route["link_next"]}>; rel="next", <{base}{route["link_next"]}>; rel="last"'
            )
        self.answer(200, (FIXTURES / route["file"]).read_bytes(), headers)

    def answer(self, status, body, headers):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def github_api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordedGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def normal_mode():
    RecordedGitHub.mode = "normal"
    RecordedGitHub.seen = []
    yield
    RecordedGitHub.mode = "normal"


OLD_LOCK = {
    "discourse": {"channel": "release", "version": "v3.5.0", "commit": sha("a")},
    "discourse_docker": {"branch": "main", "commit": sha("0")},
    "base_image": {
        "repository": "discourse/base",
        "tag": "2.0.20250722-0020",
        "digest": "sha256:" + "1" * 64,
    },
    "templates": ["web", "web.ratelimited", "offline-page"],
    "params": {"upload_size": "20m"},
    "env": {},
    "plugins": [
        {
            "name": "discourse-solved",
            "url": "https://github.com/discourse/discourse-solved.git",
            "branch": "main",
            "ref": sha("6"),
        },
        {"name": "discourse-custom", "url": "git@github.com:acme/discourse-custom.git", "ref": sha("6")},
        # not on GitHub: the url is set to a local git repository by the old_lock fixture
        {"name": "internal", "url": "", "ref": sha("6")},
    ],
    "image": {"repository": "ghcr.io/acme/discourse", "precompile": "build"},
}


def commit(path, files, message):
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD")


class PluginRepos:
    """Plugin repositories on disk, each with its commits by name.

    internal: no .discourse-compatibility. pinned (main): v1 (tagged compat-2026.1), v2, then a head whose
    file pins v2 by its short SHA for 2026.2.1 and the tag for anything below 2026.2.0. unmatched (default
    branch trunk): its file has entries for 3.x only. missing: its file names a branch that does not exist.
    """

    def __init__(self, root):
        self.root = root
        self.commits = {}
        self.make("internal", [{"plugin.rb": "# internal\n"}])
        v1, v2, _head = self.make(
            "pinned", [{"plugin.rb": "# v1\n"}, {"plugin.rb": "# v2\n"}, {"plugin.rb": "# v3\n"}]
        )
        git(self.url("pinned"), "tag", "compat-2026.1", v1)
        # the head gets the file in a commit of its own, as plugin authors add it
        self.commits["pinned"].append(
            commit(
                self.url("pinned"),
                {".discourse-compatibility": f"< 2026.2.0: compat-2026.1\n2026.2.1: {v2[:10]}\n"},
                "compatibility",
            )
        )
        self.make(
            "unmatched",
            [
                {"plugin.rb": "# 1\n"},
                {".discourse-compatibility": "< 3.5.0.beta3: abcdef0\n3.5.0: 1f2e3d4c\n"},
            ],
            branch="trunk",
        )
        self.make(
            "missing", [{"plugin.rb": "# 1\n"}, {".discourse-compatibility": "2026.2.1: no-such-branch\n"}]
        )

    def url(self, name):
        return self.root / name

    def head(self, name):
        return self.commits[name][-1]

    def make(self, name, commits, branch="main"):
        path = self.url(name)
        path.mkdir()
        git(path, "init", "-q", "-b", branch)
        self.commits[name] = [commit(path, files, f"commit {n}") for n, files in enumerate(commits)]
        return self.commits[name]


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    return PluginRepos(tmp_path_factory.mktemp("plugin-repos"))


@pytest.fixture
def old_lock(repos):
    lock = copy.deepcopy(OLD_LOCK)
    lock["plugins"][2]["url"] = str(repos.url("internal"))
    return lock


def newest(lock, repos, version="v2026.2.1", commit="2" * 40):
    """The lock as upstream has it, derived from the recorded answers: the release channel's newest final
    tag is v2026.2.1 (2222…), discourse_docker main is dddd…, whose launcher pins 2.0.20251103-0012;
    solved's main is 7777… (its .discourse-compatibility pins 5555… below 2026.2.0: the ESR v2026.1.2),
    custom's default branch trunk is 8888…; the local internal plugin has no such file and gets its head."""
    new = copy.deepcopy(lock)
    new["discourse"].update(version=version, commit=commit)
    new["discourse_docker"]["commit"] = sha("d")
    new["base_image"].update(tag="2.0.20251103-0012", digest="")
    new["plugins"][0]["ref"] = sha("5") if version == "v2026.1.2" else sha("7")
    new["plugins"][1]["ref"] = sha("8")
    new["plugins"][2]["ref"] = repos.head("internal")
    return new


def lock_text(lock):
    return upstream.dump_lock(lock)


def check(ansible, path, api, *extra):
    return ansible(
        "ansible-playbook",
        "playbooks/check_upstream.yml",
        "-e",
        f"discourse_image_lock_file={path}",
        "-e",
        f"discourse_upstream_api_url={api}",
        *extra,
    )


def write_lock(ansible, lock, api, channel):
    """check_upstream.yml rewriting the lock file from the channel's newest release."""
    return check(
        ansible,
        lock,
        api,
        "-e",
        "discourse_upstream_write=true",
        "-e",
        f"discourse_upstream_channel={channel}",
    )


recap = play_recap


def test_newer_release_found_and_lock_rewritten(ansible, github_api, tmp_path, old_lock, repos):
    path = tmp_path / "default.yml"
    path.write_text(lock_text(old_lock))
    result = check(ansible, path, github_api, "-e", "discourse_upstream_write=true", "--diff")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result)["changed"] == 1
    expected = newest(old_lock, repos)
    assert path.read_text() == lock_text(expected)
    assert yaml.safe_load(path.read_text()) == expected
    assert "discourse.version: v3.5.0 -> v2026.2.1;" in result.stdout
    assert f"plugins[2].ref: {sha('6')} -> {repos.head('internal')};" in result.stdout
    assert "not on GitHub" not in result.stdout + result.stderr
    # the diff shows the change
    assert "-  version: v3.5.0" in result.stdout and "+  version: v2026.2.1" in result.stdout
    # both pages of tags were read
    assert "/repos/discourse/discourse/tags?per_page=100&page=2" in RecordedGitHub.seen


def test_report_only_and_check_mode_do_not_write(ansible, github_api, tmp_path, old_lock):
    path = tmp_path / "default.yml"
    path.write_text(lock_text(old_lock))
    report = check(ansible, path, github_api)
    assert report.returncode == 0, report.stdout + report.stderr
    assert recap(report)["changed"] == 0
    dry = check(ansible, path, github_api, "-e", "discourse_upstream_write=true", "--check")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert recap(dry)["changed"] == 1
    assert path.read_text() == lock_text(old_lock)


def test_nothing_changes_when_up_to_date(ansible, github_api, tmp_path, old_lock, repos):
    path = tmp_path / "default.yml"
    current = lock_text(newest(old_lock, repos))
    path.write_text(current)
    result = check(ansible, path, github_api, "-e", "discourse_upstream_write=true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result)["changed"] == 0
    assert "up to date; channel release" in result.stdout
    assert path.read_text() == current


@pytest.mark.parametrize(
    ("channel", "version", "commit"),
    [("latest", "v2026.3.0-latest", sha("3")), ("esr", "v2026.1.2", sha("e"))],
)
def test_channels(ansible, github_api, tmp_path, old_lock, repos, channel, version, commit):
    path = tmp_path / "default.yml"
    path.write_text(lock_text(old_lock))
    result = write_lock(ansible, path, github_api, channel)
    assert result.returncode == 0, result.stdout + result.stderr
    assert yaml.safe_load(path.read_text()) == newest(old_lock, repos, version, commit)


def test_rate_limit_fails_with_the_reset_time(ansible, github_api, tmp_path):
    RecordedGitHub.mode = "rate_limited"
    path = tmp_path / "default.yml"
    path.write_text(lock_text(OLD_LOCK))
    result = check(ansible, path, github_api, "-e", "discourse_upstream_write=true")
    assert result.returncode == 2
    url = f"{github_api}/repos/discourse/discourse/tags?per_page=100"
    assert (
        f"[ERROR]: Task failed: Module failed: GitHub API rate limit reached at {url} "
        "(HTTP 403: API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated "
        "requests get a higher rate limit. Check out the documentation for more details.)); it resets at "
        "2030-01-01T00:00:00Z; set a token (GITHUB_TOKEN) for a higher limit\n"
        in result.stdout
        + result.stderr
    )
    assert RecordedGitHub.seen == ["/repos/discourse/discourse/tags?per_page=100"]
    assert path.read_text() == lock_text(OLD_LOCK)


def test_unreachable_api_fails_naming_the_url(ansible, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "default.yml"
    path.write_text(lock_text(OLD_LOCK))
    result = check(ansible, path, f"http://127.0.0.1:{port}")
    assert result.returncode == 2
    assert (
        f"cannot reach the GitHub API at http://127.0.0.1:{port}/repos/discourse/discourse/tags?per_page=100"
        in result.stdout
    )
    assert "Connection refused" in result.stdout


def compat_lock(repos, *names):
    """OLD_LOCK with discourse-solved (GitHub) and the named local plugins; pinned follows main, the
    others their default branch."""
    lock = copy.deepcopy(OLD_LOCK)
    lock["plugins"] = [lock["plugins"][0]] + [
        {
            "name": name,
            "url": str(repos.url(name)),
            **({"branch": "main"} if name == "pinned" else {}),
            "ref": "",
        }
        for name in names
    ]
    return lock


@pytest.mark.parametrize(
    ("channel", "version", "pinned"),
    [
        # v2026.2.1 equals the bare "2026.2.1" entry (<=): the commit its short SHA names
        ("release", "v2026.2.1", 1),
        # v2026.1.2 is below "< 2026.2.0": the tagged first commit
        ("esr", "v2026.1.2", 0),
        # v2026.3.0-latest is above every entry: the head
        ("latest", "v2026.3.0-latest", -1),
    ],
)
def test_plugins_are_locked_at_the_commit_their_compatibility_file_names(
    ansible, github_api, tmp_path, repos, channel, version, pinned
):
    path = tmp_path / "default.yml"
    path.write_text(lock_text(compat_lock(repos, "pinned", "unmatched", "internal")))
    result = write_lock(ansible, path, github_api, channel)
    assert result.returncode == 0, result.stdout + result.stderr
    lock = yaml.safe_load(path.read_text())
    assert lock["discourse"]["version"] == version
    refs = {plugin["name"]: plugin["ref"] for plugin in lock["plugins"]}
    assert refs == {
        "discourse-solved": sha("5") if channel == "esr" else sha("7"),
        "pinned": repos.commits["pinned"][pinned],
        # its entries are all for 3.x, below every 2026 version: no match, the head of trunk
        "unmatched": repos.head("unmatched"),
        "internal": repos.head("internal"),
    }
    assert f"plugins[1].ref:  -> {repos.commits['pinned'][pinned]};" in result.stdout
    if pinned != -1:
        assert refs["pinned"] != repos.head("pinned")


def test_a_plugin_whose_compatible_ref_does_not_exist_refuses_the_lock(ansible, github_api, tmp_path, repos):
    path = tmp_path / "default.yml"
    before = lock_text(compat_lock(repos, "pinned", "missing"))
    path.write_text(before)
    result = check(ansible, path, github_api, "-e", "discourse_upstream_write=true")
    assert result.returncode == 2
    url = repos.url("missing")
    assert (
        f"[ERROR]: Task failed: Module failed: plugins[2] missing ({url}): no compatible commit for "
        f"Discourse v2026.2.1: its .discourse-compatibility at {repos.head('missing')} names "
        "'no-such-branch', which is no commit, branch or tag of the repository\n"
        in result.stdout
        + result.stderr
    )
    assert path.read_text() == before
