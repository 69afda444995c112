# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the modules that talk to PostgreSQL and S3 (their specs: module_utils/backup_io.py).

forumops.discourse.backup documents O(db) and O(s3) (logical_backup, logical_restore);
forumops.discourse.backup.postgres documents O(db) alone (migration_check). A module states its own
O(db) and O(s3) description (what the database or bucket is for, whether it is required) and
inherits the type and suboptions from here.
"""

_DB = r"""
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

_S3 = r"""
  s3:
    description: The backups bucket.
    type: dict
    required: true
    suboptions:
      bucket:
        description: Bucket name.
        type: str
        required: true
      folder:
        description:
          - Folder inside the bucket. Discourse's S3 backup store uses the site's database name in
            its multisite configuration, C(default) for a single site.
        type: str
        default: default
      endpoint_url:
        description: S3 endpoint URL for S3-compatible services; empty for AWS.
        type: str
      region:
        description: Region of the bucket.
        type: str
      access_key_id:
        description: Access key id; empty to use the AWS SDK's usual credential chain.
        type: str
      secret_access_key:
        description: Secret access key.
        type: str
      path_style:
        description: Address the bucket path-style (most S3-compatible servers) instead of virtual-host style.
        type: bool
        default: false
"""


class ModuleDocFragment:
    # O(db) and O(s3).
    DOCUMENTATION = "options:" + _DB + _S3

    # O(db) alone.
    POSTGRES = "options:" + _DB
