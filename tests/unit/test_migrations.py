"""migrations.py: scanning a source tree, reading a build manifest, comparing with applied versions.

Every comparison test checks every field: the expected values follow from the sets given.
"""

import json

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import migrations
from ansible_collections.forumops.discourse.plugins.module_utils.migrations import ImageMigrations
from tests.fixtures import migration_results

# Five migrations of one image: three pre-deploy, two post-deploy (versions interleave, as upstream's do).
PRE = ["20250101000000", "20250102000000", "20250104000000"]
POST = ["20250103000000", "20250105000000"]
IMAGE = ImageMigrations(PRE, POST, [])


def write_tree(root, files):
    """Create empty files (paths relative to root) and return root as a string."""
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# frozen_string_literal: true\n")
    (root / "db" / "migrate").mkdir(parents=True, exist_ok=True)
    return str(root)


# ---- compare: every field, every case ---------------------------------------------------------------


def test_up_to_date():
    assert migrations.compare(PRE + POST, IMAGE) == {
        "pending_pre": [],
        "pending_post": [],
        "unknown": [],
        "db_version": "20250105000000",
        "target_version": "20250105000000",
        "downgrade": False,
        # Nothing pending and the image's post-deploy migrations are applied: they may be the ones the
        # upgrade just ran, so going back is not known to be safe.
        "rollback_safe": False,
        "summary": "up to date; database at 20250105000000, image at 20250105000000; "
        "rollback to the previous image not safe",
    }


def test_pre_deploy_pending_only():
    applied = ["20250101000000", "20250102000000", *POST]
    assert migrations.compare(applied, IMAGE) == {
        "pending_pre": ["20250104000000"],
        "pending_post": [],
        "unknown": [],
        "db_version": "20250105000000",
        "target_version": "20250105000000",
        "downgrade": False,
        "rollback_safe": True,
        "summary": "upgrade: 1 pre-deploy and 0 post-deploy migrations pending; database at 20250105000000, "
        "image at 20250105000000; rollback to the previous image safe",
    }


def test_post_deploy_pending_only_after_the_pre_deploy_step():
    applied = [*PRE, "20250103000000"]
    assert migrations.compare(applied, IMAGE) == {
        "pending_pre": [],
        "pending_post": ["20250105000000"],
        "unknown": [],
        "db_version": "20250104000000",
        "target_version": "20250105000000",
        "downgrade": False,
        "rollback_safe": True,
        "summary": "upgrade: 0 pre-deploy and 1 post-deploy migration pending; database at 20250104000000, "
        "image at 20250105000000; rollback to the previous image safe",
    }


def test_pre_and_post_deploy_pending():
    applied = ["20250101000000"]
    assert migrations.compare(applied, IMAGE) == {
        "pending_pre": ["20250102000000", "20250104000000"],
        "pending_post": ["20250103000000", "20250105000000"],
        "unknown": [],
        "db_version": "20250101000000",
        "target_version": "20250105000000",
        "downgrade": False,
        "rollback_safe": True,
        "summary": "upgrade: 2 pre-deploy and 2 post-deploy migrations pending; database at 20250101000000, "
        "image at 20250105000000; rollback to the previous image safe",
    }


def test_database_ahead_of_the_image_is_a_downgrade():
    applied = [*PRE, *POST, "20250201000000", "20250106000000"]
    assert migrations.compare(applied, IMAGE) == {
        "pending_pre": [],
        "pending_post": [],
        "unknown": ["20250106000000", "20250201000000"],
        "db_version": "20250201000000",
        "target_version": "20250105000000",
        "downgrade": True,
        "rollback_safe": False,
        "summary": "downgrade: 2 applied migrations unknown to the image; database at 20250201000000, "
        "image at 20250105000000; rollback to the previous image not safe",
    }


def test_downgrade_with_pending_migrations_names_both():
    # A plugin was removed (its migration is unknown) while the image brings a new core migration.
    applied = [*PRE, "20250103000000", "20241231000000"]
    result = migrations.compare(applied, IMAGE)
    assert result["unknown"] == ["20241231000000"]
    assert result["pending_post"] == ["20250105000000"]
    assert result["db_version"] == "20250104000000"
    assert result["downgrade"] is True
    assert result["rollback_safe"] is False
    assert result["summary"] == (
        "downgrade: 1 applied migration unknown to the image, 0 pre-deploy and 1 post-deploy migration "
        "pending; database at 20250104000000, image at 20250105000000; "
        "rollback to the previous image not safe"
    )


def test_empty_database():
    assert migrations.compare([], IMAGE) == {
        "pending_pre": PRE,
        "pending_post": POST,
        "unknown": [],
        "db_version": None,
        "target_version": "20250105000000",
        "downgrade": False,
        "rollback_safe": True,
        "summary": "upgrade: 3 pre-deploy and 2 post-deploy migrations pending; database at no migration, "
        "image at 20250105000000; rollback to the previous image safe",
    }


def test_nothing_anywhere():
    assert migrations.compare([], ImageMigrations([], [], [])) == {
        "pending_pre": [],
        "pending_post": [],
        "unknown": [],
        "db_version": None,
        "target_version": None,
        "downgrade": False,
        "rollback_safe": True,
        "summary": "up to date; database at no migration, image at no migration; "
        "rollback to the previous image safe",
    }


def test_up_to_date_image_without_post_deploy_migrations_is_rollback_safe():
    # No post-deploy migration of the image is in the database, so none can have run.
    result = migrations.compare(PRE, ImageMigrations(PRE, [], []))
    assert (result["pending_pre"], result["pending_post"], result["unknown"]) == ([], [], [])
    assert result["rollback_safe"] is True


def test_versions_sort_numerically_and_duplicates_in_the_applied_list_count_once():
    image = ImageMigrations(["20250101000000"], [], [])
    result = migrations.compare(["20250101000000", "20250101000000", "9", "100"], image)
    assert result["unknown"] == ["9", "100"]
    assert result["db_version"] == "20250101000000"


# ---- scan_source ------------------------------------------------------------------------------------


def test_scan_core_and_plugin_migrations(tmp_path):
    root = write_tree(
        tmp_path,
        [
            "db/migrate/20250101000000_create_posts.rb",
            "db/migrate/20250104000000_add_index_to_posts.rb",
            "db/post_migrate/20250103000000_drop_old_column.rb",
            "db/post_migrate/2025/20250105000000_drop_old_table.rb",
            "plugins/chat/db/migrate/20250102000000_create_chat_channels.rb",
            "plugins/chat/db/post_migrate/20250106000000_drop_chat_column.rb",
            "plugins/poll/db/migrate/20240101000000_create_polls.rb",
            "plugins/poll/README.md",
            "db/migrate/.gitkeep",
        ],
    )
    assert migrations.scan_source(root) == ImageMigrations(
        pre=["20240101000000", "20250101000000", "20250102000000", "20250104000000"],
        post=["20250103000000", "20250105000000", "20250106000000"],
        warnings=[],
    )


def test_plugin_migrations_are_pending_like_core_ones(tmp_path):
    root = write_tree(
        tmp_path,
        [
            "db/migrate/20250101000000_create_posts.rb",
            "plugins/chat/db/migrate/20250102000000_create_chat_channels.rb",
            "plugins/chat/db/post_migrate/20250103000000_drop_chat_column.rb",
        ],
    )
    assert migrations.scan_source(root) == ImageMigrations(migration_results.PRE, migration_results.POST, [])
    result = migrations.compare(migration_results.APPLIED, migrations.scan_source(root))
    assert result == migration_results.ONE_PRE_AND_ONE_POST_PENDING


@pytest.mark.parametrize(
    ("files", "warnings"),
    [
        pytest.param(
            [
                "db/migrate/20250101000000_create_posts.rb",
                "db/migrate/2025010100000_thirteen_digits.rb",
                "db/migrate/202501010000000_fifteen_digits.rb",
                "db/migrate/20250101000001-dash.rb",
                "db/migrate/20250101000002_CamelCase.rb",
                "db/migrate/helper.rb",
                "db/post_migrate/old/20250102000000drop.rb",
                "plugins/chat/db/migrate/add_index.rb",
                "db/migrate/20250101000003_notes.txt",
            ],
            [
                f"{rel}: ignored, not a migration file name (<14-digit version>_<snake_case_name>.rb)"
                for rel in [
                    # in the order of the sorted file names
                    "db/migrate/202501010000000_fifteen_digits.rb",
                    "db/migrate/20250101000001-dash.rb",
                    "db/migrate/20250101000002_CamelCase.rb",
                    "db/migrate/2025010100000_thirteen_digits.rb",
                    "db/migrate/helper.rb",
                    "db/post_migrate/old/20250102000000drop.rb",
                    "plugins/chat/db/migrate/add_index.rb",
                ]
            ],
            id="malformed-file-names-are-ignored",
        ),
        pytest.param(
            [
                "db/migrate/20250101000000_create_posts.rb",
                "db/post_migrate/20250101000000_drop_posts.rb",
                "plugins/chat/db/migrate/20250101000000_create_chat.rb",
            ],
            [
                f"{rel}: version 20250101000000 is also used by db/migrate/20250101000000_create_posts.rb; "
                "counted once (Rails refuses duplicate versions)"
                for rel in [
                    "plugins/chat/db/migrate/20250101000000_create_chat.rb",
                    "db/post_migrate/20250101000000_drop_posts.rb",
                ]
            ],
            id="a-version-used-twice-counts-once",
        ),
    ],
)
def test_files_that_are_not_one_more_migration_are_named_in_warnings(tmp_path, files, warnings):
    root = write_tree(tmp_path, files)
    assert migrations.scan_source(root) == ImageMigrations(pre=["20250101000000"], post=[], warnings=warnings)


def test_subfolders_of_db_migrate_are_not_scanned(tmp_path):
    root = write_tree(tmp_path, ["db/migrate/nested/20250101000000_create_posts.rb"])
    assert migrations.scan_source(root) == ImageMigrations([], [], [])


def test_a_tree_without_db_migrate_is_refused(tmp_path):
    (tmp_path / "plugins").mkdir()
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.scan_source(str(tmp_path))
    assert str(raised.value) == f"source_dir {tmp_path}: not a Discourse source tree (no db/migrate folder)"


def test_a_missing_source_dir_is_refused(tmp_path):
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.scan_source(str(tmp_path / "nope"))
    assert str(raised.value) == f"source_dir {tmp_path / 'nope'}: not a directory"


# ---- load_manifest ----------------------------------------------------------------------------------


def test_manifest_from_a_file_ignores_other_keys_and_sorts(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "image": "registry.example/discourse@sha256:abc",
                "discourse_version": "v3.5.0",
                "migrations": {"pre": ["20250102000000", "20250101000000"], "post": ["20250103000000"]},
            }
        )
    )
    assert migrations.load_manifest(str(path)) == ImageMigrations(
        ["20250101000000", "20250102000000"], ["20250103000000"], []
    )


def test_manifest_as_a_dict_accepts_unquoted_14_digit_numbers():
    manifest = {"migrations": {"pre": [20250101000000], "post": []}}
    assert migrations.load_manifest(manifest) == ImageMigrations(["20250101000000"], [], [])


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ([], "manifest must be the path of a build manifest or the manifest as a dictionary"),
        ({}, "manifest: migrations must be an object with the lists pre and post"),
        (
            {"migrations": ["20250101000000"]},
            "manifest: migrations must be an object with the lists pre and post",
        ),
        ({"migrations": {"pre": []}}, "manifest: migrations.post is missing (a list of 14-digit versions)"),
        ({"migrations": {"post": []}}, "manifest: migrations.pre is missing (a list of 14-digit versions)"),
        (
            {"migrations": {"pre": "20250101000000", "post": []}},
            "manifest: migrations.pre must be a list of 14-digit versions",
        ),
        (
            {"migrations": {"pre": ["20250101000000", "2025"], "post": []}},
            "manifest: migrations.pre[1] is '2025', not a 14-digit version",
        ),
        (
            {"migrations": {"pre": [], "post": ["20250101000000_drop.rb"]}},
            "manifest: migrations.post[0] is '20250101000000_drop.rb', not a 14-digit version",
        ),
        (
            {"migrations": {"pre": [True], "post": []}},
            "manifest: migrations.pre[0] is True, not a 14-digit version",
        ),
        (
            {"migrations": {"pre": [None], "post": []}},
            "manifest: migrations.pre[0] is None, not a 14-digit version",
        ),
        (
            {"migrations": {"pre": [2025010100000], "post": []}},
            "manifest: migrations.pre[0] is '2025010100000', not a 14-digit version",
        ),
        (
            {"migrations": {"pre": ["20250101000000"], "post": ["20250101000000"]}},
            "manifest: version 20250101000000 is listed twice (migrations.post)",
        ),
        (
            {"migrations": {"pre": ["20250101000000", "20250101000000"], "post": []}},
            "manifest: version 20250101000000 is listed twice (migrations.pre)",
        ),
    ],
)
def test_manifest_validation_errors(manifest, message):
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.load_manifest(manifest)
    assert str(raised.value) == message


def test_manifest_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.load_manifest(str(missing))
    assert str(raised.value) == f"{missing}: build manifest not found"

    broken = tmp_path / "broken.json"
    broken.write_text('{"migrations": {"pre": [}')
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.load_manifest(str(broken))
    assert str(raised.value) == f"{broken}: not valid JSON: Expecting value: line 1 column 25 (char 24)"

    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(migrations.MigrationError) as raised:
        migrations.load_manifest(str(listed))
    assert str(raised.value) == f"{listed}: a build manifest must be an object"


# ---- validate_applied -------------------------------------------------------------------------------


def test_applied_versions_are_digit_strings():
    assert migrations.validate_applied(["20250101000000", 20250102000000]) == [
        "20250101000000",
        "20250102000000",
    ]
    for bad, shown in ((" 20250101000000", "' 20250101000000'"), ("", "''"), ("२०२५", "'२०२५'")):
        with pytest.raises(migrations.MigrationError) as raised:
            migrations.validate_applied(["20250101000000", bad])
        assert str(raised.value) == f"applied_versions[1] is {shown}, not a migration version"


# ---- code_rollback_refusal: a converge after an upgrade (issue 22, item 2) ----------------------

A = "registry.test/discourse:2026.1.0"
B = "registry.test/discourse:2026.2.0@sha256:" + "b" * 64
MANIFEST_A = {"migrations": {"pre": ["20260101000001"], "post": ["20260101000003"]}}
MANIFEST_B = {"migrations": {"pre": ["20260101000001", "20260201000001"], "post": ["20260101000003"]}}
HISTORY_B = {
    "current-image": B,
    "applied-versions": json.dumps(["20260101000001", "20260101000003", "20260201000001"]),
}


def refusal(history, image, manifest):
    return migrations.code_rollback_refusal("forum", "ns/forum-deploy-history", history, image, manifest)


def test_no_history_or_the_recorded_image_or_a_manifest_that_knows_every_migration_is_safe():
    assert refusal({}, A, {}) == ""
    assert refusal(HISTORY_B, B, {}) == ""
    assert refusal(HISTORY_B, "registry.test/discourse:2026.3.0", MANIFEST_B) == ""


def test_an_older_image_is_refused_naming_both_images_and_the_migrations_it_lacks():
    assert refusal(HISTORY_B, A, MANIFEST_A) == (
        f"forum: REFUSED before any change: the inventory deploys {A}, but the site runs {B}, recorded in "
        "ConfigMap ns/forum-deploy-history once its post-deploy migrations had run; "
        f"{A} does not know the applied migrations 20260201000001. Deploying it would run older code on "
        f"the newer schema. Make the inventory follow the upgrade: set discourse_app_image: {B} (and point "
        "discourse_app_build_manifest, if set, at that image's manifest), or move to a newer image with "
        "playbooks/upgrade.yml. The way back to an older image is a restore of the pre-upgrade backup "
        "(docs/backup-restore.md)."
    )


def test_an_image_without_migrations_or_a_history_without_versions_cannot_be_shown_safe():
    assert (
        f"{A} has no build manifest listing its migrations (discourse_app_build_manifest), so nothing "
        in (refusal(HISTORY_B, A, {}))
    )
    assert "ConfigMap ns/forum-deploy-history records no applied migrations to compare" in refusal(
        {"current-image": B}, A, MANIFEST_A
    )


def test_many_unknown_migrations_are_counted():
    history = {"current-image": B, "applied-versions": json.dumps([f"2026030100000{i}" for i in range(8)])}
    assert (
        "migrations 20260301000000, 20260301000001, 20260301000002, 20260301000003, 20260301000004"
        " and 3 more." in refusal(history, A, MANIFEST_A)
    )
