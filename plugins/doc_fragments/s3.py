# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""O(s3): the bucket of logical_backup and logical_restore (argument spec: backup_io.S3_OPTIONS)."""


class ModuleDocFragment:
    # ansible-test reads fragments as plain string literals.
    DOCUMENTATION = r"""
options:
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
