"""module_utils/image_lock: an image lock file as discourse_image's inputs (the image_lock_inputs filter)."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.filter import image as image_filters
from ansible_collections.forumops.discourse.plugins.module_utils import image_lock
from tests.fixtures.ansible import REPO_ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"
PATH = "/srv/images/custom.yml"
MINIMAL = {
    "discourse": {"version": "v3.5.0"},
    "discourse_docker": {"commit": SHA},
    "base_image": {"tag": "2.0.20260803-0122"},
    "image": {"repository": "ghcr.io/acme/discourse"},
}


def test_the_default_lock_gives_every_input_it_pins():
    lock = yaml.safe_load((REPO_ROOT / "images/default.yml").read_text())
    assert image_lock.lock_inputs(lock, "images/default.yml") == {
        "discourse_image_discourse_version": "v3.5.0",
        "discourse_image_discourse_commit": "",
        "discourse_image_discourse_repo": "https://github.com/discourse/discourse.git",
        "discourse_image_discourse_docker_ref": "e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd",
        "discourse_image_discourse_docker_repo": "https://github.com/discourse/discourse_docker.git",
        "discourse_image_base_repository": "discourse/base",
        "discourse_image_base_tag": "2.0.20260803-0122",
        "discourse_image_base_digest": "",
        "discourse_image_templates": ["web", "web.ratelimited", "offline-page"],
        "discourse_image_params": {"upload_size": "20m", "reqs_per_second": 12, "reqs_per_minute": 200},
        "discourse_image_env": {"DISCOURSE_DEFAULT_LOCALE": "en"},
        "discourse_image_plugins": [],
        "discourse_image_repository": "ghcr.io/example/discourse",
        "discourse_image_precompile": "build",
        "discourse_image_platforms": ["linux/amd64", "linux/arm64"],
        "discourse_image_backup_runner": {
            "repository": "ghcr.io/example/discourse-backup",
            "base_image": {"repository": "docker.io/library/postgres", "tag": "18-trixie", "digest": ""},
            "postgres_major": 18,
        },
    }


def test_a_lock_with_the_pins_only_takes_the_roles_defaults_for_the_rest():
    assert image_lock.lock_inputs(MINIMAL, PATH) == {
        "discourse_image_discourse_version": "v3.5.0",
        "discourse_image_discourse_commit": "",
        "discourse_image_discourse_repo": "https://github.com/discourse/discourse.git",
        "discourse_image_discourse_docker_ref": SHA,
        "discourse_image_discourse_docker_repo": "https://github.com/discourse/discourse_docker.git",
        "discourse_image_base_repository": "discourse/base",
        "discourse_image_base_tag": "2.0.20260803-0122",
        "discourse_image_base_digest": "",
        "discourse_image_templates": ["web", "web.ratelimited", "offline-page"],
        "discourse_image_params": {},
        "discourse_image_env": {},
        "discourse_image_plugins": [],
        "discourse_image_repository": "ghcr.io/acme/discourse",
        "discourse_image_precompile": "build",
        "discourse_image_platforms": [],
        "discourse_image_backup_runner": {},
    }


def test_a_key_the_lock_sets_keeps_its_value_even_null_and_defaults_are_not_shared():
    lock = {**MINIMAL, "discourse": {"version": "v3.5.0", "commit": None}, "plugins": None}
    inputs = image_lock.lock_inputs(lock, PATH)
    assert (inputs["discourse_image_discourse_commit"], inputs["discourse_image_plugins"]) == (None, None)
    inputs["discourse_image_templates"].append("web.ipv6")
    assert image_lock.lock_inputs(MINIMAL, PATH)["discourse_image_templates"] == [
        "web",
        "web.ratelimited",
        "offline-page",
    ]


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        (
            {},
            f"{PATH} must set discourse.version, discourse_docker.commit, base_image.tag and "
            "image.repository (see images/default.yml).",
        ),
        (
            None,
            f"{PATH} must set discourse.version, discourse_docker.commit, base_image.tag and "
            "image.repository (see images/default.yml).",
        ),
        (
            {**MINIMAL, "image": {"precompile": "build"}},
            f"{PATH} must set image.repository (see images/default.yml).",
        ),
        (
            {**MINIMAL, "discourse": "v3.5.0", "base_image": None},
            f"{PATH} must set discourse.version and base_image.tag (see images/default.yml).",
        ),
        (
            {"image": MINIMAL["image"]},
            f"{PATH} must set discourse.version, discourse_docker.commit and base_image.tag "
            "(see images/default.yml).",
        ),
    ],
    ids=["empty", "not-a-mapping", "no-repository", "sections-not-mappings", "image-only"],
)
def test_a_lock_without_a_pin_is_refused_naming_the_file_and_each_missing_pin(lock, message):
    with pytest.raises(image_lock.LockError) as caught:
        image_lock.lock_inputs(lock, PATH)
    assert str(caught.value) == message
    with pytest.raises(AnsibleFilterError) as filtered:
        image_filters.FilterModule().filters()["image_lock_inputs"](lock, PATH)
    assert filtered.value.message == message


def test_the_filter_gives_the_inputs():
    assert image_filters.FilterModule().filters()["image_lock_inputs"](
        MINIMAL, PATH
    ) == image_lock.lock_inputs(MINIMAL, PATH)


def test_the_entry_point_passes_every_input_the_filter_gives_and_nothing_else():
    tasks = yaml.safe_load((REPO_ROOT / "roles/discourse_image/tasks/lock.yml").read_text())
    passed = tasks[-1]["vars"]
    assert list(passed) == [name for name, _where, _default in image_lock.INPUTS]
    assert passed == {name: "{{ __discourse_image_lock_inputs." + name + " }}" for name in passed}
