"""Site settings: the catalog an image carries and the locked/default split of the inventory's settings.

Upstream (discourse/discourse):
- lib/site_settings/yaml_loader.rb: categories → settings, a mapping with ``default`` or a bare default.
- lib/site_settings/type_supervisor.rb (001f0c8bd4c5c15ea4dd76b0843bc94f263db532): the type names,
  ``enum:`` implying enum, a static ``type:`` winning over the default's Ruby type.
- lib/site_setting_extension.rb (008328b23a7d80f2b5268c0123a39ba87946b37e) #setting: any setting
  GlobalSetting answers is hidden and shadowed (no ``_map`` helper for lists); #set_and_log.
- app/models/global_setting.rb (1df354041bfdf6595c880df45745ef92c96b2a42) BaseProvider.coerce:
  "true"/"false" become booleans, ``-?[0-9]+`` integers, after strip; blank values are nil.
- lib/site_settings/defaults_provider.rb (0d82f6aeb2738224df6e9a130fdb77f4108ead34): default_locale
  "en", accepted by has_setting? without a settings file entry.
The catalog is read from tests/fixtures/upstream/discourse/config/site_settings.yml (see PROVENANCE).
"""

from pathlib import Path

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils.site_settings import (
    catalog_from_settings,
    settings_file_plugin,
    site_settings_catalog,
    site_settings_plan,
)

UPSTREAM = Path(__file__).parents[1] / "fixtures/upstream/discourse/config/site_settings.yml"


@pytest.fixture(scope="module")
def catalog():
    return site_settings_catalog([(None, yaml.safe_load(UPSTREAM.read_text()))])


def test_catalog_types_follow_the_type_supervisor(catalog):
    assert len(catalog) == 146  # 145 settings in the excerpt and default_locale
    assert {
        name: catalog[name]
        for name in (
            "title",
            "contact_email",
            "site_contact_group_name",
            "exclude_rel_nofollow_domains",
            "logo",
            "ga_version",
            "desktop_category_page_style",
            "default_dark_mode_color_scheme_id",
            "whispers_allowed_groups",
            "share_links",
            "suggested_topics_max_days_old",
            "login_required",
            "invite_code",
            "github_client_secret",
            "blocked_email_domains",
            "default_locale",
        )
    } == {
        "title": {"type": "string", "default": "Discourse"},
        "contact_email": {"type": "email", "default": ""},
        "site_contact_group_name": {"type": "group", "default": ""},
        "exclude_rel_nofollow_domains": {"type": "list", "default": ""},
        "logo": {"type": "upload", "default": -5},
        "ga_version": {"type": "enum", "default": "v4_gtag", "choices": ["v3_analytics", "v4_gtag"]},
        "desktop_category_page_style": {"type": "enum", "default": "categories_and_latest_topics"},
        "default_dark_mode_color_scheme_id": {"type": "enum", "default": -1},
        "whispers_allowed_groups": {"type": "group_list", "default": "", "allow_any": False},
        "share_links": {
            "type": "list",
            "default": "twitter|facebook|email",
            "choices": ["twitter", "facebook", "email"],
            "allow_any": False,
        },
        "suggested_topics_max_days_old": {"type": "integer", "default": 365, "min": 7, "max": 36500},
        "login_required": {"type": "bool", "default": False},
        "invite_code": {"type": "string", "default": ""},
        "github_client_secret": {"type": "string", "default": "", "secret": True},
        "blocked_email_domains": {"type": "host_list", "default": "mailinator.com"},
        "default_locale": {"type": "enum", "default": "en"},
    }


def test_plugin_settings_are_tagged_and_later_files_redefine():
    plugin = {"plugins": {"solved_enabled": {"default": True, "client": True}, "title": "Solved"}}
    assert site_settings_catalog(
        [(None, {"required": {"title": "Discourse"}}), ("discourse-solved", plugin)]
    ) == {
        "default_locale": {"type": "enum", "default": "en"},
        "solved_enabled": {"type": "bool", "default": True, "plugin": "discourse-solved"},
        "title": {"type": "string", "default": "Solved", "plugin": "discourse-solved"},
    }


def test_unknown_static_types_of_newer_discourse_are_kept_and_themeable_recorded():
    data = {"c": {"x": {"default": "[]", "type": "objects"}, "y": {"default": True, "themeable": True}}}
    assert catalog_from_settings(data) == {
        "x": {"type": "objects", "default": "[]"},
        "y": {"type": "bool", "default": True, "themeable": True},
    }


def test_settings_file_plugin_names_the_directory():
    assert settings_file_plugin("/c/discourse/config/site_settings.yml", "/c/discourse/") is None
    assert settings_file_plugin("/c/discourse/plugins/poll/config/settings.yml", "/c/discourse") == "poll"
    assert settings_file_plugin("/c/git/plugins/discourse-solved/config/settings.yml", "/c/discourse") == (
        "discourse-solved"
    )


def test_env_safe_scalars_are_locked_and_the_rest_go_to_the_database(catalog):
    settings = {
        "title": "Bob's forum",  # a quote: config/discourse.conf cannot carry it
        "short_title": "2024",  # GlobalSetting would read an Integer
        "company_name": "Acme",
        "contact_email": "staff@example.org",
        "login_required": True,
        "suggested_topics_max_days_old": 30,
        "default_dark_mode_color_scheme_id": -1,
        "ga_version": "v3_analytics",
        "top_menu": ["latest", "categories"],
        "whispers_allowed_groups": [3, 11],
        "blocked_email_domains": "mailinator.com|example.net",
        "site_description": "",  # blank: GlobalSetting ignores it
        "default_locale": "de",
    }
    assert site_settings_plan(settings, catalog) == {
        "env": {
            "DISCOURSE_COMPANY_NAME": "Acme",
            "DISCOURSE_CONTACT_EMAIL": "staff@example.org",
            "DISCOURSE_DEFAULT_DARK_MODE_COLOR_SCHEME_ID": "-1",
            "DISCOURSE_DEFAULT_LOCALE": "de",
            "DISCOURSE_GA_VERSION": "v3_analytics",
            "DISCOURSE_LOGIN_REQUIRED": "true",
            "DISCOURSE_SUGGESTED_TOPICS_MAX_DAYS_OLD": "30",
        },
        "database": {
            "blocked_email_domains": "mailinator.com|example.net",
            "short_title": "2024",
            "site_description": "",
            "title": "Bob's forum",
            "top_menu": "latest|categories",
            "whispers_allowed_groups": "3|11",
        },
    }


def test_modes_choose_per_setting(catalog):
    settings = {"company_name": "Acme", "login_required": "false", "title": "Forum"}
    modes = {"company_name": "default", "title": "locked"}
    assert site_settings_plan(settings, catalog, modes) == {
        "env": {"DISCOURSE_LOGIN_REQUIRED": "false", "DISCOURSE_TITLE": "Forum"},
        "database": {"company_name": "Acme"},
    }


def test_every_problem_is_reported_at_once_before_anything_is_applied(catalog):
    settings = {
        "titel": "Forum",
        "max_favorite_badge": 3,
        "top_menu": ["latest", "hot"],
        "suggested_topics_max_days_old": 3,
        "max_favorite_badges": "many",
        "login_required": "yes please",
        "ga_version": "v5",
        "logo": 7,
        "github_client_secret": "abc",
        "category_colors": ["BF1E2E"],
        "hostname": "forum.example.org",
        "company_name": None,
        "Bad Key": 1,
        "share_links": [{"a": 1}],
    }
    modes = {"category_colors": "locked", "titel": "sometimes", "welcome": "default"}
    with pytest.raises(ValueError) as err:
        site_settings_plan(settings, catalog, modes, reserved=["hostname"])
    v = "discourse_app_site_settings"
    assert str(err.value).split("\n") == [
        "discourse_app_site_settings_mode.titel: 'sometimes' is not locked or default",
        f"discourse_app_site_settings_mode: 'welcome' is not in {v}",
        f"{v}: 'Bad Key' is not a Discourse setting name (lowercase letters, digits and underscores, "
        "starting with a letter)",
        f"{v}.category_colors cannot be locked: a list setting set from the environment loses its _map "
        "helper; use mode default",
        f"{v}: 'company_name' has no value; remove the key to keep Discourse's default",
        f"{v}.ga_version: 'v5' is not one of v3_analytics, v4_gtag",
        f"{v}.github_client_secret is a secret setting: an inventory value would land in a ConfigMap or a "
        "Job; set it in the admin UI",
        f"{v}: 'hostname' is managed by the collection; set it through its own variable",
        f"{v}.login_required is a bool setting; give true or false",
        f"{v}.logo is an upload setting (upload ids); set it in the admin UI",
        f"{v}: 'max_favorite_badge' is not a site setting of this image's Discourse or plugins "
        "(closest: max_favorite_badges)",
        f"{v}.max_favorite_badges is an integer setting with whole-number values; give a whole number",
        f"{v}.share_links is a list setting; give a list of strings or numbers, not dict",
        f"{v}.suggested_topics_max_days_old: 3 is below the minimum 7",
        f"{v}: 'titel' is not a site setting of this image's Discourse or plugins (closest: title)",
        f"{v}.top_menu: hot not among the choices (latest, new, unread, unseen, top, categories, read, "
        "posted, bookmarks)",
    ]


def test_themeable_settings_can_only_be_locked():
    catalog = {"enable_welcome_banner": {"type": "bool", "default": True, "themeable": True}}
    assert site_settings_plan({"enable_welcome_banner": False}, catalog)["env"] == {
        "DISCOURSE_ENABLE_WELCOME_BANNER": "false"
    }
    with pytest.raises(ValueError) as err:
        site_settings_plan({"enable_welcome_banner": False}, catalog, {"enable_welcome_banner": "default"})
    assert str(err.value) == (
        "discourse_app_site_settings.enable_welcome_banner is themeable: Discourse sets it per theme, not "
        "with set_and_log; lock it"
    )


def test_without_a_catalog_the_value_decides_the_type():
    settings = {
        "max_image_size_kb": 4096,
        "min_ratio": 0.5,
        "authorized_extensions": ["jpg", 7],
        "title": "T",
    }
    assert site_settings_plan(settings) == {
        "env": {"DISCOURSE_MAX_IMAGE_SIZE_KB": "4096", "DISCOURSE_TITLE": "T"},
        "database": {"authorized_extensions": "jpg|7", "min_ratio": 0.5},
    }
    assert site_settings_plan({}) == {"env": {}, "database": {}}


@pytest.mark.parametrize(
    ("settings", "modes", "message"),
    [
        (["a"], None, "discourse_app_site_settings must be a mapping of setting name to value, got list"),
        (
            {},
            ["a"],
            "discourse_app_site_settings_mode must be a mapping of setting name to locked or default",
        ),
        (
            {"k": {"a": 1}},
            None,
            "discourse_app_site_settings.k has a value of type dict; "
            "use a string, number, boolean or list of those",
        ),
    ],
)
def test_bad_shapes_are_refused(settings, modes, message):
    with pytest.raises(ValueError) as err:
        site_settings_plan(settings, None, modes)
    assert str(err.value) == message
