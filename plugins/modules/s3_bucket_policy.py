#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_bucket_policy
short_description: Set or remove the policy of an S3 bucket, idempotently, on any S3-compatible API
version_added: "0.1.0"
description:
  - Puts the given bucket policy when the bucket has none or a different one (documents are compared
    the way S3 reads them - statement order, single values versus lists and the default C(Version)
    do not count), and deletes the policy with O(state=absent).
  - Exists because M(amazon.aws.s3_bucket) 10.x cannot remove a policy - with C(policy=null) it
    deletes it and then waits a minute for a state it never recognises and fails - and because it
    reports changes in check mode without touching the bucket.
author:
  - forumops engineering (@forumops)
options:
  name:
    description: Name of the bucket.
    type: str
    required: true
  policy:
    description:
      - The policy document, as a dictionary or its JSON text. Required with O(state=present).
    type: json
  state:
    description: Whether the bucket has this policy (V(present)) or no policy at all (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  endpoint_url:
    description:
      - URL of the S3 API, with scheme. Omit for AWS.
    type: str
  region:
    description: Region of the bucket (C(us-east-1) for MinIO, C(auto) for Cloudflare R2).
    type: str
    default: us-east-1
  access_key:
    description:
      - Access key ID. With neither O(access_key) nor O(secret_key), boto3 finds credentials the
        usual way (environment, profile, instance role).
    type: str
  secret_key:
    description: Secret access key.
    type: str
  validate_certs:
    description: Verify the endpoint's TLS certificate.
    type: bool
    default: true
  aws_config:
    description:
      - botocore client configuration, as for the amazon.aws modules; for endpoints whose bucket
        host names do not resolve, set the C(s3.addressing_style) key to C(path).
    type: dict
requirements:
  - boto3
notes:
  - The connection options have the names of the amazon.aws modules' options, so one
    C(module_defaults) entry can serve both.
"""

EXAMPLES = r"""
- name: Let anyone read the uploads prefix of a bucket
  forumops.discourse.s3_bucket_policy:
    name: forum-uploads
    endpoint_url: https://fsn1.your-objectstorage.com
    policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: "*"
          Action: s3:GetObject
          Resource: arn:aws:s3:::forum-uploads/uploads/*

- name: Make sure the backups bucket has no policy
  forumops.discourse.s3_bucket_policy:
    name: forum-backups
    state: absent
"""

RETURN = r"""
policy:
  description: The bucket's policy after the run (in check mode, what it would be); null when it has none.
  returned: always
  type: dict
  sample: {"Version": "2012-10-17", "Statement": []}
action:
  description: What was (or in check mode would be) done - C(put), C(delete) or C(none).
  returned: always
  type: str
  sample: put
"""

import json  # noqa: E402
import traceback  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils.s3_policy import parse_policy, plan  # noqa: E402

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    BOTO3_IMPORT_ERROR = None
except ImportError:
    BOTO3_IMPORT_ERROR = traceback.format_exc()


def s3_client(params):
    config = Config(**(params["aws_config"] or {}))
    return boto3.client(
        "s3",
        endpoint_url=params["endpoint_url"] or None,
        region_name=params["region"],
        aws_access_key_id=params["access_key"] or None,
        aws_secret_access_key=params["secret_key"] or None,
        verify=params["validate_certs"],
        config=config,
    )


def describe(error):
    """The S3 error code and message, or botocore's text for connection errors."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"
    return str(error)


def read_policy(client, module, bucket):
    try:
        text = client.get_bucket_policy(Bucket=bucket).get("Policy")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        module.fail_json(msg=f"Could not read the policy of bucket {bucket}: {describe(error)}")
    except BotoCoreError as error:
        module.fail_json(msg=f"Could not read the policy of bucket {bucket}: {describe(error)}")
    return parse_policy(text)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            policy=dict(type="json"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            endpoint_url=dict(type="str"),
            region=dict(type="str", default="us-east-1"),
            access_key=dict(type="str", no_log=False),
            secret_key=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            aws_config=dict(type="dict"),
        ),
        required_if=[("state", "present", ["policy"])],
        required_together=[("access_key", "secret_key")],
        supports_check_mode=True,
    )
    if BOTO3_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("boto3"), exception=BOTO3_IMPORT_ERROR)
    bucket = module.params["name"]
    state = module.params["state"]
    try:
        desired = parse_policy(module.params["policy"])
    except ValueError as error:
        module.fail_json(msg=f"policy is not a JSON object: {error}")

    client = s3_client(module.params)
    current = read_policy(client, module, bucket)
    action = plan(current, desired, state)
    result = desired if action == "put" else (None if action == "delete" else current)

    if action and not module.check_mode:
        try:
            if action == "put":
                client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(desired))
            else:
                client.delete_bucket_policy(Bucket=bucket)
        except (BotoCoreError, ClientError) as error:
            verb = "set" if action == "put" else "remove"
            module.fail_json(msg=f"Could not {verb} the policy of bucket {bucket}: {describe(error)}")

    module.exit_json(changed=bool(action), action=action or "none", policy=result)


if __name__ == "__main__":
    main()
