#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: migration_check
short_description: Compare a Discourse database's applied migrations with the migrations of an image
version_added: "0.1.0"
description:
  - Reads the applied migration versions from the database's C(schema_migrations) table (or takes
    them from O(applied_versions)) and compares them with the migrations a Discourse image ships
    (from its build manifest O(manifest), or from a Discourse source tree O(source_dir)).
  - Reports the pre-deploy and post-deploy migrations still pending, the applied migrations the
    image does not know (the database is ahead of the image), the highest version on each side,
    whether rolling the code back to the previous image is safe, and a one-line summary.
  - Fails when the database is ahead of the image (a downgrade, or a plugin that was removed) unless
    O(allow_downgrade=true).
  - Never writes. The database is read in a read-only transaction; the module never reports a change.
author:
  - forumops engineering (@forumops)
requirements:
  - psycopg2 (only with O(db))
options:
  db:
    description:
      - Connection to the Discourse database whose C(schema_migrations) table is read.
      - Use the primary (CloudNativePG's C(-rw) service), not a transaction-mode pooler.
      - O(db.user) needs only C(SELECT) on C(schema_migrations).
      - Exactly one of O(db) and O(applied_versions) is required.
  applied_versions:
    description:
      - The applied migration versions, instead of reading them from a database.
      - Each is a string of digits, as in C(schema_migrations.version).
      - Exactly one of O(db) and O(applied_versions) is required.
    type: list
    elements: str
  manifest:
    description:
      - The image's build manifest, as the path of its JSON file or as a dictionary.
      - Its C(migrations.pre) and C(migrations.post) lists hold the 14-digit versions of the image's
        pre-deploy and post-deploy migrations; other keys are ignored.
      - Exactly one of O(manifest) and O(source_dir) is required.
    type: raw
  source_dir:
    description:
      - A Discourse source tree to scan instead of a manifest. Pre-deploy migrations are
        C(db/migrate/*.rb) and C(plugins/*/db/migrate/*.rb); post-deploy migrations are
        C(db/post_migrate/**/*.rb) and C(plugins/*/db/post_migrate/**/*.rb). The version is the
        leading 14-digit timestamp of the file name.
      - A C(.rb) file there whose name is not a migration file name is ignored with a warning; so is a
        second file with a version already seen.
      - Exactly one of O(manifest) and O(source_dir) is required.
    type: path
  allow_downgrade:
    description:
      - Succeed even when the database has applied migrations the image does not know.
    type: bool
    default: false
extends_documentation_fragment:
  - forumops.discourse.postgres
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode does exactly the same.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
notes:
  - The connection times out after 10 seconds.
  - O(source_dir) follows Discourse's folder layout; Rails itself also picks up files in subfolders
    of C(db/migrate), which Discourse does not use.
"""

EXAMPLES = r"""
- name: Check the target image's migrations against the site database
  forumops.discourse.migration_check:
    db:
      host: "{{ discourse_database_connection.host }}"
      port: "{{ discourse_database_connection.port }}"
      database: "{{ discourse_database_connection.database }}"
      user: "{{ discourse_database_connection.user }}"
      password: "{{ __discourse_upgrade_db_password }}"
      sslmode: "{{ discourse_database_connection.sslmode }}"
    manifest: "{{ __discourse_upgrade_manifest_path }}"
  register: __discourse_upgrade_migrations

- name: Compare a source checkout with versions read elsewhere, accepting a database that is ahead
  forumops.discourse.migration_check:
    applied_versions: "{{ __discourse_upgrade_applied }}"
    source_dir: /srv/discourse
    allow_downgrade: true
  register: __discourse_upgrade_migrations
"""

RETURN = r"""
pending_pre:
  description: Pre-deploy migrations of the image that the database has not applied, in version order.
  returned: always
  type: list
  elements: str
  sample: ["20250301120000", "20250302093000"]
pending_post:
  description: Post-deploy migrations of the image that the database has not applied, in version order.
  returned: always
  type: list
  elements: str
  sample: ["20250301130000"]
unknown:
  description:
    - Applied migrations the image does not ship, in version order. Not empty means the database is
      ahead of the image - a downgrade, or a plugin that was removed.
  returned: always
  type: list
  elements: str
  sample: []
db_version:
  description: The highest applied version; null when nothing is applied.
  returned: always
  type: str
  sample: "20250215080000"
target_version:
  description: The highest version the image ships; null when it ships none.
  returned: always
  type: str
  sample: "20250302093000"
downgrade:
  description: Whether RV(unknown) is not empty.
  returned: always
  type: bool
  sample: false
rollback_safe:
  description:
    - Whether rolling the code back to the previous image is safe. That holds while no post-deploy
      migration of the upgrade has run, because pre-deploy migrations are written to be safe for the
      old code.
    - False when the database is ahead of the image. False when nothing is pending while the database
      holds one of the image's post-deploy migrations, since the full migration (the post-deploy
      step) may have run. True otherwise - something is still pending, or no post-deploy migration of
      the image is applied.
    - A post-deploy step that failed part-way looks like one that has not started; the upgrade runbook
      records when it starts the post-deploy step.
  returned: always
  type: bool
  sample: true
summary:
  description: One line for humans.
  returned: always
  type: str
  sample: >-
    upgrade: 2 pre-deploy and 1 post-deploy migration pending; database at 20250215080000, image at
    20250302093000; rollback to the previous image safe
migration_warnings:
  description:
    - File names in O(source_dir) that were ignored, and versions found twice. Each is also shown as
      an Ansible warning.
  returned: always
  type: list
  elements: str
  sample:
    - "db/migrate/helper.rb: ignored, not a migration file name (<14-digit version>_<snake_case_name>.rb)"
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import backup_io, migrations  # noqa: E402


def read_applied_versions(db):
    """The versions in schema_migrations, read in a read-only transaction. Raises MigrationError."""
    where = f"database {db['database']} on {db['host']}:{db['port']}"
    try:
        conn = backup_io.pg_connect(db, application_name="forumops.discourse.migration_check")
    except backup_io.PG_ERRORS as exc:
        raise migrations.MigrationError(f"cannot connect to {where}: {str(exc).strip()}") from exc
    try:
        conn.set_session(readonly=True, autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            if not cur.fetchone()[0]:
                raise migrations.MigrationError(
                    f"{where} has no schema_migrations table: Discourse has never migrated it "
                    "(or this is not the Discourse database)"
                )
            cur.execute("SELECT version FROM schema_migrations")
            return [row[0] for row in cur.fetchall()]
    except backup_io.PG_ERRORS as exc:
        raise migrations.MigrationError(
            f"cannot read schema_migrations of {where}: {str(exc).strip()}"
        ) from exc
    finally:
        # Closing ends the read-only transaction without a commit.
        conn.close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            db=dict(type="dict", options=backup_io.DB_OPTIONS),
            applied_versions=dict(type="list", elements="str"),
            manifest=dict(type="raw"),
            source_dir=dict(type="path"),
            allow_downgrade=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("db", "applied_versions"), ("manifest", "source_dir")],
        required_one_of=[("db", "applied_versions"), ("manifest", "source_dir")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["source_dir"] is not None:
            image = migrations.scan_source(p["source_dir"])
        else:
            image = migrations.load_manifest(p["manifest"])
        if p["db"] is not None:
            backup_io.require_libraries(module, postgres=True)
            applied = read_applied_versions(p["db"])
        else:
            applied = migrations.validate_applied(p["applied_versions"])
    except migrations.MigrationError as exc:
        module.fail_json(msg=str(exc))

    result = migrations.compare(applied, image)
    for warning in image.warnings:
        module.warn(warning)
    out = dict(changed=False, migration_warnings=image.warnings, **result)
    if result["downgrade"] and not p["allow_downgrade"]:
        module.fail_json(
            msg=(
                f"the database is ahead of the image: {len(result['unknown'])} applied migration(s) the "
                f"image does not ship ({', '.join(result['unknown'][:5])}"
                f"{', ...' if len(result['unknown']) > 5 else ''}); refusing a downgrade "
                "(set allow_downgrade to accept it)"
            ),
            **out,
        )
    module.exit_json(**out)


if __name__ == "__main__":
    main()
