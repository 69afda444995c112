"""module_utils/upstream: release channels, the launcher's base image line, the GitHub client's limits."""

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
