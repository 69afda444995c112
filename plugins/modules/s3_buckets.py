#!/usr/bin/python
# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_buckets
short_description: Create and configure a list of S3 buckets with one client in one run
version_added: "0.1.0"
description:
  - Creates each bucket of O(buckets) when it is missing and brings the settings the entry manages to
    the given values, with one S3 client for the whole list. A no-op run makes only read calls (about six
    per bucket over one kept-alive connection), so one task replaces the separate runs of
    M(amazon.aws.s3_bucket), M(community.aws.s3_cors), M(community.aws.s3_lifecycle) and a policy module
    per bucket.
  - Settings an entry leaves out (V(null)) are neither read nor changed.
  - Bucket policies are compared the way S3 reads them (statement order, single values versus lists and
    the default C(Version) do not count); CORS rules in order, the lists inside a rule in any order.
  - Lifecycle rules are managed by ID; rules with other IDs on the bucket stay as they are.
  - Works with AWS and S3-compatible APIs (MinIO, Ceph, Cloudflare R2, Hetzner); providers without an API
    (public access block, policies) need those settings left out.
  - On a local connection the action plugin of the same name runs it in the controller's worker
    process, with boto3 already imported by the controller; on any other connection this module runs
    on the host.
author:
  - forumops engineering (@forumops)
requirements:
  - boto3
options:
  connection:
    description: How to reach the S3 API.
    type: dict
    default: {}
    suboptions:
      endpoint_url:
        description: URL of the S3 API, with scheme; empty for AWS's regional endpoint.
        type: str
        default: ""
      region:
        description:
          - Region of the buckets; new buckets outside C(us-east-1) are created with this location
            constraint (C(us-east-1) for MinIO, C(auto) for Cloudflare R2).
        type: str
        default: us-east-1
      access_key:
        description:
          - Access key ID. With neither O(connection.access_key) nor O(connection.secret_key), boto3 finds
            credentials the usual way (environment, profile, instance role).
        type: str
        default: ""
      secret_key:
        description: Secret access key. Never returned or logged.
        type: str
        default: ""
      validate_certs:
        description: Verify the endpoint's TLS certificate.
        type: bool
        default: true
      addressing_style:
        description:
          - V(path) for endpoints whose bucket host names do not resolve (most self-hosted S3 servers),
            V(auto) lets botocore choose (virtual-host style on AWS).
        type: str
        choices: [auto, path]
        default: auto
      connect_timeout:
        description: Seconds to wait for a connection to the endpoint (each call, two attempts).
        type: int
        default: 10
      read_timeout:
        description:
          - Seconds to wait for an answer once connected (each call, two attempts). A call still
            unanswered after two seconds is reported, then every ten seconds, as the Kubernetes
            waits are.
        type: int
        default: 30
  buckets:
    description: The buckets and what to manage on each.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Bucket name.
        type: str
        required: true
      versioning:
        description:
          - V(true) enables versioning; V(false) suspends it when it is enabled (a bucket that never had
            versioning is left so); V(null) leaves it alone.
        type: bool
      encryption:
        description:
          - Default server-side encryption. Empty leaves it alone, V(none) removes the bucket's
            configuration (AWS keeps encrypting with SSE-S3 regardless).
        type: str
        choices: ["", none, AES256, "aws:kms"]
        default: ""
      public_access:
        description:
          - The public access block; flags left out are V(false). V(null) leaves it alone. A bucket
            without a public access block gets one, even when all four flags are V(false).
        type: dict
        suboptions:
          block_public_acls:
            description: Reject requests that grant public access through ACLs.
            type: bool
            default: false
          ignore_public_acls:
            description: Ignore public ACLs on the bucket and its objects.
            type: bool
            default: false
          block_public_policy:
            description: Reject bucket policies that grant public access.
            type: bool
            default: false
          restrict_public_buckets:
            description: Restrict access to a bucket with a public policy to the account and AWS services.
            type: bool
            default: false
      manage_policy:
        description: Whether O(buckets[].policy) is applied; V(false) neither reads nor changes the policy.
        type: bool
        default: false
      policy:
        description:
          - The bucket policy, as a dictionary or its JSON text. V(null) or an empty dictionary removes an
            existing policy (with O(buckets[].manage_policy=true)).
        type: json
      cors:
        description:
          - CORS rules in the shape of M(community.aws.s3_cors)'s O(community.aws.s3_cors#module:rules).
            An empty list removes the bucket's CORS configuration; V(null) leaves it alone.
        type: list
        elements: dict
        suboptions:
          allowed_headers:
            description: Request headers allowed in a preflight request.
            type: list
            elements: str
            default: []
          allowed_methods:
            description: HTTP methods allowed.
            type: list
            elements: str
            required: true
          allowed_origins:
            description: Origins allowed.
            type: list
            elements: str
            required: true
          expose_headers:
            description: Response headers browsers may read.
            type: list
            elements: str
            default: []
          max_age_seconds:
            description: Seconds a browser may cache the preflight answer.
            type: int
      lifecycle_rules:
        description: Lifecycle rules this entry owns, added or updated by ID.
        type: list
        elements: dict
        default: []
        suboptions:
          id:
            description: Rule ID.
            type: str
            required: true
          prefix:
            description: Key prefix the rule applies to; empty for the whole bucket.
            type: str
            default: ""
          status:
            description: Whether S3 applies the rule.
            type: str
            choices: [enabled, disabled]
            default: enabled
          abort_incomplete_multipart_upload_days:
            description: Abort multipart uploads not completed after this many days.
            type: int
          expiration_days:
            description: Delete objects this many days after their creation.
            type: int
      lifecycle_absent:
        description: IDs of lifecycle rules to remove when the bucket has them.
        type: list
        elements: str
        default: []
attributes:
  check_mode:
    support: full
    description:
      - In check mode the module reads each bucket and reports what it would change; it makes no other call.
  diff_mode:
    support: full
    description: The diff shows each changed bucket's managed settings before and after.
notes:
  - An endpoint that does not accept connections fails with RV(endpoint_unreachable=true), so that a
    playbook can tell it apart from an error answer of the API.
"""

EXAMPLES = r"""
- name: Create the uploads and backups buckets with Discourse's CORS rules
  forumops.discourse.s3_buckets:
    connection:
      endpoint_url: https://fsn1.your-objectstorage.com
      region: fsn1
      access_key: "{{ s3_access_key_id }}"
      secret_key: "{{ s3_secret_access_key }}"
    buckets:
      - name: forum-uploads
        cors:
          - allowed_headers: [Authorization]
            allowed_methods: [GET, HEAD]
            allowed_origins: ["*"]
            max_age_seconds: 3000
      - name: forum-backups
        manage_policy: true
        policy: null
        lifecycle_rules:
          - id: abort-incomplete-multipart-uploads
            abort_incomplete_multipart_upload_days: 7
          - id: expire-backups
            prefix: default/
            expiration_days: 30
  no_log: true
"""

RETURN = r"""
buckets:
  description: One entry per bucket of O(buckets), in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Bucket name.
      type: str
      returned: always
      sample: forum-backups
    changed:
      description: Whether the bucket was (in check mode, would be) changed.
      type: bool
      returned: always
      sample: true
    changes:
      description: What was (or would be) changed, in the order of the calls.
      type: list
      elements: str
      returned: always
      sample: ["created", "cors", "lifecycle rule forumops-expire-backups added"]
endpoint_unreachable:
  description: Set to V(true) when the module failed because the endpoint did not accept connections.
  returned: failure
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import backup_io, s3_buckets_io  # noqa: E402


def main():
    module = AnsibleModule(argument_spec=s3_buckets_io.ARGUMENT_SPEC, supports_check_mode=True)
    backup_io.require_libraries(module, s3=True)
    result = s3_buckets_io.run(module.params, module.check_mode, module._diff)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
