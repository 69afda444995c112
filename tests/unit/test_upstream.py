"""module_utils/upstream: release channels, the launcher's base image line, the GitHub client's limits."""

import base64
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils import pups, upstream


def tags(*pairs):
    return [{"name": name, "commit": {"sha": commit}} for name, commit in pairs]


TAGS = tags(
    ("v3.5.0.beta5", "b5"),
    ("v3.5.0", "350"),
    ("v2026.1.2", "esr1"),
    ("v2026.2.0", "r20"),
    ("v2026.3.0-latest", "l30"),
    ("v2026.2.1", "r21"),
    ("release", "r21"),
    ("esr", "esr1"),
    ("beta", "b5"),
)


@pytest.mark.parametrize(
    ("channel", "esr_commit", "expected"),
    [
        ("release", None, {"name": "v2026.2.1", "commit": "r21"}),
        ("latest", None, {"name": "v2026.3.0-latest", "commit": "l30"}),
        ("esr", "esr1", {"name": "v2026.1.2", "commit": "esr1"}),
    ],
)
def test_newest_release_per_channel(channel, esr_commit, expected):
    assert upstream.newest_release(TAGS, channel, esr_commit) == expected


def test_a_final_release_sorts_after_its_pre_releases():
    keys = sorted(
        ["v2026.3.0", "v2026.3.0-latest", "v2026.2.9", "v3.5.0.beta5", "v3.5.0"], key=upstream.version_key
    )
    assert keys == ["v3.5.0.beta5", "v3.5.0", "v2026.2.9", "v2026.3.0-latest", "v2026.3.0"]
    assert upstream.version_key("tests-passed") is None


def test_launcher_image_line_quoted_unquoted_and_commented():
    assert upstream.launcher_base_image(
        '#image="discourse/base:old"\nimage="discourse/base:2.0.20250722-0020"\n'
    ) == (
        "discourse/base",
        "2.0.20250722-0020",
    )
    assert upstream.launcher_base_image("image=discourse/base:2.0.20181031\n") == (
        "discourse/base",
        "2.0.20181031",
    )
    with pytest.raises(upstream.UpstreamError, match="no image="):
        upstream.launcher_base_image('#image="discourse/base:x"\n')


def test_github_repo_from_urls():
    assert (
        upstream.github_repo("https://github.com/discourse/discourse-solved.git")
        == "discourse/discourse-solved"
    )
    assert upstream.github_repo("git@github.com:acme/plugin.git") == "acme/plugin"
    assert upstream.github_repo("https://gitlab.example.test/acme/plugin.git") is None


def test_no_request_once_the_limit_is_known_to_be_exhausted():
    calls = []

    def get(url, headers):
        calls.append(url)
        return (
            200,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2000"},
            json.dumps({"sha": "x"}).encode(),
        )

    client = upstream.GitHub(get, api_url="http://api.test", now=lambda: 1000)
    assert client.json("/a") == {"sha": "x"}
    with pytest.raises(upstream.UpstreamError) as error:
        client.json("/b")
    assert str(error.value) == (
        "GitHub API rate limit exhausted before http://api.test/b; it resets at 1970-01-01T00:33:20Z; "
        "set a token (GITHUB_TOKEN) for a higher limit"
    )
    assert calls == ["http://api.test/a"]


def test_token_is_sent_as_bearer_and_429_names_retry_after():
    seen = {}

    def get(url, headers):
        seen.update(headers)
        return 429, {"Retry-After": "60"}, b"{}"

    client = upstream.GitHub(get, api_url="http://api.test", token="t0k")
    with pytest.raises(
        upstream.UpstreamError,
        match=r"^GitHub API rate limit reached at http://api.test/x \(HTTP 429\); it resets in 60 s$",
    ):
        client.json("/x")
    assert seen["Authorization"] == "Bearer t0k"


def test_the_example_lock_pins_the_vendored_discourse_docker_and_its_base_image():
    """images/default.yml carries real pins: discourse_docker at the commit of the vendored files
    (tests/fixtures/upstream/PROVENANCE) and the base image that commit's launcher names; the
    collection's default base is the same one."""
    root = Path(__file__).parents[2]
    lock = yaml.safe_load((root / "images/default.yml").read_text())
    provenance = (root / "tests/fixtures/upstream/PROVENANCE").read_text()
    launcher = (root / "tests/fixtures/upstream/discourse_docker/launcher").read_text()
    assert f"commit:     {lock['discourse_docker']['commit']} (2026-08-03)" in provenance
    assert upstream.launcher_base_image(launcher) == (
        lock["base_image"]["repository"],
        lock["base_image"]["tag"],
    )
    assert f"discourse/base:{lock['base_image']['tag']}" == pups.DEFAULT_BASE_IMAGE


# ---------------------------------------------------------------------------------------------------
# check(): each plugin pinned to the commit its .discourse-compatibility names for the locked version


def answer(data, status=200):
    return status, json.dumps(data)


def contents(text):
    return answer({"encoding": "base64", "content": base64.b64encode(text.encode()).decode()})


def fake_api(routes, seen):
    """A GitHub API ``get`` over {path: (status, body)}; anything else is a 404, as GitHub answers."""

    def get(url, headers):
        path = url.removeprefix("http://api.test")
        seen.append(path)
        status, body = routes.get(path, (404, '{"message": "Not Found"}'))
        return status, {}, body.encode()

    return get


HEAD = "4" * 40
OLDER = "3" * 40
API_ROUTES = {
    "/repos/discourse/discourse/tags?per_page=100": answer(
        [{"name": "v3.4.2", "commit": {"sha": "342"}}, {"name": "v3.5.0.beta3", "commit": {"sha": "35b3"}}]
    ),
    "/repos/discourse/discourse_docker/branches/main": answer({"commit": {"sha": "dd"}}),
    "/repos/discourse/discourse_docker/contents/launcher?ref=dd": contents('image="discourse/base:2.0.1"\n'),
    "/repos/acme/plugin/branches/main": answer({"commit": {"sha": HEAD}}),
}
COMPAT_PATH = f"/repos/acme/plugin/contents/.discourse-compatibility?ref={HEAD}"


def plugin_lock(url="https://github.com/acme/plugin.git"):
    return {
        "discourse": {"channel": "latest", "version": "v3.4.2", "commit": "342"},
        "discourse_docker": {"branch": "main"},
        "base_image": {"repository": "discourse/base", "tag": "2.0.1"},
        "plugins": [{"name": "plugin", "url": url, "branch": "main", "ref": "0" * 40}],
    }


def run_check(routes, lock=None, remote=None):
    seen = []
    client = upstream.GitHub(fake_api({**API_ROUTES, **routes}, seen), api_url="http://api.test")
    new, updates, warnings = upstream.check(lock or plugin_lock(), client, remote=remote)
    return new, updates, warnings, seen


def test_a_github_plugin_is_pinned_to_the_commit_its_compatibility_file_names():
    # the locked version is v3.5.0.beta3: "< 3.5.0" holds (a beta is below its release), "< 3.5.0.beta3" not
    routes = {
        COMPAT_PATH: contents("< 3.5.0.beta3: old-branch\n< 3.5.0: abc1234\n"),
        "/repos/acme/plugin/commits/abc1234": answer({"sha": OLDER}),
    }
    new, updates, warnings, seen = run_check(routes)
    assert new["plugins"][0]["ref"] == OLDER
    assert {"key": "plugins[0].ref", "old": "0" * 40, "new": OLDER} in updates
    assert warnings == []
    assert "/repos/acme/plugin/commits/old-branch" not in seen


@pytest.mark.parametrize(
    "compat",
    [
        None,  # no file: the contents API answers 404
        answer({"encoding": "base64", "content": ""}),  # an empty file
        contents("< 3.5.0.beta3: old-branch\n3.4.2: older\n"),  # nothing for 3.5.0.beta3
    ],
)
def test_a_github_plugin_without_a_matching_entry_is_pinned_to_its_head(compat):
    new, updates, _warnings, seen = run_check({COMPAT_PATH: compat} if compat else {})
    assert new["plugins"][0]["ref"] == HEAD
    assert {"key": "plugins[0].ref", "old": "0" * 40, "new": HEAD} in updates
    assert COMPAT_PATH in seen
    assert not [path for path in seen if "/commits/" in path]


def test_a_ref_github_does_not_know_refuses_the_lock_naming_the_plugin():
    routes = {
        COMPAT_PATH: contents("3.5.0.beta3: gone-branch\n"),
        "/repos/acme/plugin/commits/gone-branch": answer({"message": "No commit found for SHA"}, 422),
    }
    with pytest.raises(upstream.UpstreamError) as error:
        run_check(routes)
    assert str(error.value) == (
        "plugins[0] plugin (https://github.com/acme/plugin.git): no compatible commit for Discourse "
        f"v3.5.0.beta3: its .discourse-compatibility at {HEAD} names 'gone-branch', which is no commit, "
        "branch or tag of the repository"
    )


def test_an_invalid_compatibility_file_refuses_the_lock_naming_the_plugin():
    with pytest.raises(upstream.UpstreamError) as error:
        run_check({COMPAT_PATH: contents('">= 3.1.0": abc\n')})
    assert str(error.value) == (
        "plugins[0] plugin (https://github.com/acme/plugin.git): no compatible commit for Discourse "
        f"v3.5.0.beta3: its .discourse-compatibility at {HEAD} is invalid: Invalid version specifier "
        "operator for '>= 3.1.0'. Operator must be one of <= or <"
    )


def test_other_api_errors_on_the_compatibility_file_are_not_taken_for_no_file():
    with pytest.raises(
        upstream.UpstreamError, match=r"contents/\.discourse-compatibility\?ref=4+: HTTP 500$"
    ):
        run_check({COMPAT_PATH: answer({}, 500)})


class FakeGit:
    """git's answers for one plugin repository: the remote HEAD, a branch, the file at the head, refs."""

    def __init__(self, compat=None, refs=None):
        self.compat = compat
        self.refs = refs or {}
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        match argv[1:]:
            case ["ls-remote", "--symref", "--", _url, "HEAD"]:
                return 0, f"ref: refs/heads/trunk\tHEAD\n{HEAD}\tHEAD\n", ""
            case ["ls-remote", "--", _url, "refs/heads/trunk"]:
                return 0, f"{HEAD}\trefs/heads/trunk\n", ""
            case ["clone", "--bare", "--quiet", "--", _url, _dest]:
                return 0, "", ""
            case ["--git-dir", _dir, "ls-tree", commit, "--", ".discourse-compatibility"]:
                listed = "100644 blob 1234\t.discourse-compatibility\n" if self.compat is not None else ""
                return (0, listed, "") if commit == HEAD else (128, "", "fatal: not a tree object")
            case ["--git-dir", _dir, "show", path] if path == f"{HEAD}:.discourse-compatibility":
                return 0, self.compat, ""
            case ["--git-dir", _dir, "rev-parse", "--verify", "--quiet", "--end-of-options", spec]:
                commit = self.refs.get(spec.removesuffix("^{commit}"))
                return (0, commit + "\n", "") if commit else (1, "", "")
        raise AssertionError(f"unexpected git call {argv}")


def test_a_plugin_not_on_github_is_read_with_git():
    git = FakeGit(compat="3.4.2: v1\n3.5.0.beta3: v2\n", refs={"v2": OLDER})
    lock = plugin_lock("/srv/git/plugin")
    del lock["plugins"][0]["branch"]
    new, updates, warnings, seen = run_check(
        {}, lock, remote=lambda url: upstream.GitRemote(url, git, "/w/0.git")
    )
    assert new["plugins"][0]["ref"] == OLDER
    assert {"key": "plugins[0].ref", "old": "0" * 40, "new": OLDER} in updates
    assert warnings == []
    assert not [path for path in seen if "plugin" in path]
    assert git.calls == [
        ["git", "ls-remote", "--symref", "--", "/srv/git/plugin", "HEAD"],
        ["git", "ls-remote", "--", "/srv/git/plugin", "refs/heads/trunk"],
        ["git", "clone", "--bare", "--quiet", "--", "/srv/git/plugin", "/w/0.git"],
        ["git", "--git-dir", "/w/0.git", "ls-tree", HEAD, "--", ".discourse-compatibility"],
        ["git", "--git-dir", "/w/0.git", "show", f"{HEAD}:.discourse-compatibility"],
        [
            "git",
            "--git-dir",
            "/w/0.git",
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            "v2^{commit}",
        ],
    ]


def git_remote(git):
    return lambda url: upstream.GitRemote(url, git, "/w/0.git")


def trunk_lock(url):
    lock = plugin_lock(url)
    lock["plugins"][0]["branch"] = "trunk"
    return lock


def test_a_plugin_not_on_github_without_the_file_gets_its_head():
    git = FakeGit()
    new, updates, _warnings, _seen = run_check({}, trunk_lock("file:///srv/git/plugin"), git_remote(git))
    assert new["plugins"][0]["ref"] == HEAD
    assert {"key": "plugins[0].ref", "old": "0" * 40, "new": HEAD} in updates
    assert [call[1] for call in git.calls] == ["ls-remote", "clone", "--git-dir"]


def test_a_ref_missing_from_a_plugin_not_on_github_refuses_the_lock():
    git = FakeGit(compat="3.5.0.beta3: gone\n", refs={"v2": OLDER})
    with pytest.raises(upstream.UpstreamError) as error:
        run_check({}, trunk_lock("https://git.example.test/plugin.git"), git_remote(git))
    assert str(error.value) == (
        "plugins[0] plugin (https://git.example.test/plugin.git): no compatible commit for Discourse "
        f"v3.5.0.beta3: its .discourse-compatibility at {HEAD} names 'gone', which is no commit, branch or "
        "tag of the repository"
    )


def test_git_failures_name_the_url_and_gits_message():
    def git(argv):
        return 128, "", "fatal: '/srv/nope' does not appear to be a git repository\n"

    with pytest.raises(upstream.UpstreamError) as error:
        run_check({}, trunk_lock("/srv/nope"), git_remote(git))
    assert str(error.value) == (
        "/srv/nope: git ls-remote failed (exit 128): "
        "fatal: '/srv/nope' does not appear to be a git repository"
    )


def test_without_a_git_remote_plugins_not_on_github_are_left_with_a_warning():
    new, updates, warnings, _seen = run_check({}, trunk_lock("/srv/git/plugin"))
    assert new["plugins"][0]["ref"] == "0" * 40
    assert not [u for u in updates if u["key"].startswith("plugins")]
    assert warnings == ["plugins[0] /srv/git/plugin: not on GitHub, its ref is left as it is"]
