# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The S3 side of the s3_buckets module and action: one boto3 client converges a list of buckets.

The plan (what to call) is pure, in s3_buckets.py; this file makes the calls. Importing it imports
boto3, so the action plugin's import in the controller process spares every worker that cost.
"""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils import backup_io
from ansible_collections.forumops.discourse.plugins.module_utils import s3_buckets as logic

try:
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError
except ImportError:  # reported by backup_io.require_libraries
    BotoCoreError = ClientError = ConnectTimeoutError = EndpointConnectionError = None


class S3Failure(Exception):
    def __init__(self, msg, unreachable=False):
        super().__init__(msg)
        self.unreachable = unreachable


def client_for(connection):
    config = backup_io.BotocoreConfig(
        connect_timeout=connection["connect_timeout"],
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": connection["addressing_style"]},
    )
    return backup_io.boto3.client(
        "s3",
        endpoint_url=connection["endpoint_url"] or None,
        region_name=connection["region"] or None,
        aws_access_key_id=connection["access_key"] or None,
        aws_secret_access_key=connection["secret_key"] or None,
        verify=connection["validate_certs"],
        config=config,
    )


def call(client, method, kwargs, absent_codes=()):
    """One boto3 call; None when S3 answers with one of absent_codes; S3Failure for other errors."""
    try:
        return getattr(client, method)(**kwargs)
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        if code in absent_codes:
            return None
        raise S3Failure(
            logic.describe_client_error(method, kwargs["Bucket"], code, details.get("Message"))
        ) from None
    except (EndpointConnectionError, ConnectTimeoutError) as error:
        raise S3Failure(str(error), unreachable=True) from None
    except BotoCoreError as error:
        raise S3Failure(f"{method} on bucket {kwargs['Bucket']} failed: {error}") from None


def converge_bucket(client, connection, bucket, check_mode):
    """(result, diff) of one bucket."""
    name = bucket["name"]
    changes = []
    exists = call(client, "head_bucket", {"Bucket": name}, logic.MISSING_BUCKET_CODES) is not None
    if not exists:
        changes.append("created")
        if not check_mode:
            method, kwargs = logic.create_call(name, connection["region"])
            call(client, method, kwargs)
    current = {}
    if exists or not check_mode:
        for key in logic.reads_for(bucket):
            method, absent_codes = logic.READS[key]
            current[key] = logic.parse_read(key, call(client, method, {"Bucket": name}, absent_codes))
    calls, setting_changes, after = logic.plan(bucket, current)
    changes.extend(setting_changes)
    if not check_mode:
        for method, kwargs in calls:
            call(client, method, kwargs)
    diff = {
        "before_header": f"bucket {name}" if exists else f"bucket {name} (absent)",
        "after_header": f"bucket {name}",
        "before": current if exists else {},
        "after": after,
    }
    return {"name": name, "changed": bool(changes), "changes": changes}, diff


ARGUMENT_SPEC = dict(
    connection=dict(type="dict", default={}, options=logic.CONNECTION_OPTIONS),
    buckets=dict(type="list", elements="dict", required=True, options=logic.BUCKET_OPTIONS),
)


def run(params, check_mode=False, want_diff=False):
    """The whole task for validated params: {changed, buckets, diff?} or a failed result."""
    connection = params["connection"]
    buckets = params["buckets"]
    errors = logic.check_buckets(buckets)
    if errors:
        return {"failed": True, "changed": False, "msg": "; ".join(errors)}
    client = client_for(connection)
    results = []
    diffs = []
    try:
        for bucket in buckets:
            result, diff = converge_bucket(client, connection, bucket, check_mode)
            results.append(result)
            if result["changed"]:
                diffs.append(diff)
    except S3Failure as failure:
        extra = {"endpoint_unreachable": True} if failure.unreachable else {}
        return {"failed": True, "msg": str(failure), "buckets": results, "changed": bool(diffs), **extra}
    output = {"changed": bool(diffs), "buckets": results}
    if want_diff:
        output["diff"] = diffs
    return output
