# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""O(db): the PostgreSQL connection of migration_check, logical_backup and logical_restore.

Its argument spec is backup_io.DB_OPTIONS. A module states its own O(db) description (what the
database is for, whether it is required) and inherits the type and suboptions from here.
"""


class ModuleDocFragment:
    # ansible-test reads fragments as plain string literals.
    DOCUMENTATION = r"""
options:
  db:
    description: Connection to the PostgreSQL database.
    type: dict
    suboptions:
      host:
        description: Host name or address of the PostgreSQL server.
        type: str
        required: true
      port:
        description: TCP port of the PostgreSQL server.
        type: int
        default: 5432
      database:
        description: Name of the database.
        type: str
        required: true
      user:
        description: Role to log in as.
        type: str
        required: true
      password:
        description:
          - Password of O(db.user). Never on a command line (pg_dump and psql get it through the
            environment).
        type: str
      sslmode:
        description: libpq C(sslmode) of the connection.
        type: str
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
        default: prefer
"""
