import pytest

from ansible_collections.forumops.discourse.plugins.module_utils.site_settings import (
    env_value,
    site_settings_env,
)


def test_values_are_rendered_the_way_discourse_parses_them():
    settings = {
        "login_required": True,
        "allow_uncategorized_topics": False,
        "max_image_size_kb": 4096,
        "min_post_length": 20.5,
        "title": "Example Forum",
        "authorized_extensions": ["jpg", "png", 7],
        "top_menu": [],
    }
    assert site_settings_env(settings) == {
        "DISCOURSE_ALLOW_UNCATEGORIZED_TOPICS": "false",
        "DISCOURSE_AUTHORIZED_EXTENSIONS": "jpg|png|7",
        "DISCOURSE_LOGIN_REQUIRED": "true",
        "DISCOURSE_MAX_IMAGE_SIZE_KB": "4096",
        "DISCOURSE_MIN_POST_LENGTH": "20.5",
        "DISCOURSE_TITLE": "Example Forum",
        "DISCOURSE_TOP_MENU": "",
    }


def test_result_is_sorted_by_variable_name():
    assert list(site_settings_env({"zeta": 1, "alpha": 2, "mid_1": 3})) == [
        "DISCOURSE_ALPHA",
        "DISCOURSE_MID_1",
        "DISCOURSE_ZETA",
    ]


def test_empty_settings_give_no_env():
    assert site_settings_env({}) == {}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("max image size", "discourse_app_site_settings: 'max image size' is not a Discourse setting name"),
        ("Title", "discourse_app_site_settings: 'Title' is not a Discourse setting name"),
        ("1st", "discourse_app_site_settings: '1st' is not a Discourse setting name"),
        ("with-dash", "discourse_app_site_settings: 'with-dash' is not a Discourse setting name"),
        ("", "discourse_app_site_settings: '' is not a Discourse setting name"),
        (3, "discourse_app_site_settings: 3 is not a Discourse setting name"),
    ],
)
def test_bad_keys_are_refused_naming_the_variable_and_key(key, message):
    with pytest.raises(ValueError) as err:
        site_settings_env({key: "x"}, variable="discourse_app_site_settings")
    assert str(err.value).startswith(message)


def test_reserved_keys_are_refused():
    with pytest.raises(ValueError) as err:
        site_settings_env({"hostname": "x.example"}, variable="v", reserved=["hostname"])
    assert str(err.value) == "v: 'hostname' is managed by the collection; set it through its own variable"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "v: 'k' has no value; remove the key to keep Discourse's default"),
        ({"a": 1}, "v: 'k' has a value of type dict; use a string, number, boolean or list of those"),
        ([["a"]], "v: 'k' has a value of type list; use a string, number, boolean or list of those"),
    ],
)
def test_bad_values_are_refused(value, message):
    with pytest.raises(ValueError) as err:
        site_settings_env({"k": value}, variable="v")
    assert str(err.value) == message


def test_settings_must_be_a_mapping():
    with pytest.raises(ValueError) as err:
        site_settings_env(["a"], variable="v")
    assert str(err.value) == "v must be a mapping of setting name to value, got list"


def test_env_value_of_nested_tuple():
    assert env_value(("a", True, 1)) == "a|true|1"
