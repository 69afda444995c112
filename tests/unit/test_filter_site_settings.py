import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.filter.site_settings import FilterModule

site_settings_plan = FilterModule().filters()["site_settings_plan"]


def test_filter_returns_the_plan_and_forwards_options():
    catalog = {
        "title": {"type": "string", "default": "Discourse"},
        "top_menu": {"type": "list", "default": ""},
    }
    assert site_settings_plan(
        {"title": "T", "top_menu": ["latest", "new"]},
        catalog,
        {"title": "default"},
        ["hostname"],
        variable="x",
    ) == {"env": {}, "database": {"title": "T", "top_menu": "latest|new"}}


def test_filter_turns_value_errors_into_filter_errors():
    with pytest.raises(AnsibleFilterError) as err:
        site_settings_plan({"Bad Key": 1}, variable="discourse_app_site_settings")
    assert "discourse_app_site_settings: 'Bad Key' is not a Discourse setting name" in str(err.value)
