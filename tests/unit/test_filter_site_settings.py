import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.filter.site_settings import FilterModule

site_settings_env = FilterModule().filters()["site_settings_env"]


def test_filter_returns_env_and_forwards_options():
    assert site_settings_env({"title": "T"}, variable="x", reserved=["hostname"]) == {"DISCOURSE_TITLE": "T"}


def test_filter_turns_value_errors_into_filter_errors():
    with pytest.raises(AnsibleFilterError) as err:
        site_settings_env({"Bad Key": 1}, variable="discourse_app_site_settings")
    assert "discourse_app_site_settings: 'Bad Key' is not a Discourse setting name" in str(err.value)
