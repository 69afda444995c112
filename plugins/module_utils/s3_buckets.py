# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the s3_buckets module: desired bucket settings versus what S3 reports.

No Ansible or boto3 imports, so it is unit-tested directly. The module reads a bucket with the
calls in READS, turns each answer into a snapshot value with parse_read(), and asks plan() for the
boto3 calls (method name and keyword arguments) that bring the bucket to the desired settings,
together with the human-readable changes they make. Bucket policies are compared by s3_policy.
"""

from __future__ import annotations

import json

from ansible_collections.forumops.discourse.plugins.module_utils import s3_policy

# --- Argument specs (documented in plugins/modules/s3_buckets.py) ---------------------------------

CONNECTION_OPTIONS = dict(
    endpoint_url=dict(type="str", default=""),
    region=dict(type="str", default="us-east-1"),
    access_key=dict(type="str", default="", no_log=False),
    secret_key=dict(type="str", default="", no_log=True),
    validate_certs=dict(type="bool", default=True),
    addressing_style=dict(type="str", default="auto", choices=["auto", "path"]),
    connect_timeout=dict(type="int", default=10),
    read_timeout=dict(type="int", default=30),
)

PUBLIC_ACCESS_OPTIONS = dict(
    block_public_acls=dict(type="bool", default=False),
    ignore_public_acls=dict(type="bool", default=False),
    block_public_policy=dict(type="bool", default=False),
    restrict_public_buckets=dict(type="bool", default=False),
)

CORS_RULE_OPTIONS = dict(
    allowed_headers=dict(type="list", elements="str", default=[]),
    allowed_methods=dict(type="list", elements="str", required=True),
    allowed_origins=dict(type="list", elements="str", required=True),
    expose_headers=dict(type="list", elements="str", default=[]),
    max_age_seconds=dict(type="int"),
)

LIFECYCLE_RULE_OPTIONS = dict(
    id=dict(type="str", required=True),
    prefix=dict(type="str", default=""),
    status=dict(type="str", default="enabled", choices=["enabled", "disabled"]),
    abort_incomplete_multipart_upload_days=dict(type="int"),
    expiration_days=dict(type="int"),
)

BUCKET_OPTIONS = dict(
    name=dict(type="str", required=True),
    versioning=dict(type="bool"),
    encryption=dict(type="str", default="", choices=["", "none", "AES256", "aws:kms"]),
    public_access=dict(type="dict", options=PUBLIC_ACCESS_OPTIONS),
    manage_policy=dict(type="bool", default=False),
    policy=dict(type="json"),
    cors=dict(type="list", elements="dict", options=CORS_RULE_OPTIONS),
    lifecycle_rules=dict(type="list", elements="dict", options=LIFECYCLE_RULE_OPTIONS, default=[]),
    lifecycle_absent=dict(type="list", elements="str", default=[]),
)

# --- Reading a bucket ----------------------------------------------------------------------------

# Snapshot key -> (boto3 method, the error codes that mean "not set"). S3 answers a bucket without
# the setting with one of these errors, not with an empty document.
READS = {
    "versioning": ("get_bucket_versioning", ()),
    "encryption": ("get_bucket_encryption", ("ServerSideEncryptionConfigurationNotFoundError",)),
    "public_access": ("get_public_access_block", ("NoSuchPublicAccessBlockConfiguration",)),
    "policy": ("get_bucket_policy", ("NoSuchBucketPolicy",)),
    "cors": ("get_bucket_cors", ("NoSuchCORSConfiguration",)),
    "lifecycle": ("get_bucket_lifecycle_configuration", ("NoSuchLifecycleConfiguration",)),
}

# head_bucket answers without a body, so the error code is the HTTP status.
MISSING_BUCKET_CODES = ("404", "NoSuchBucket", "NotFound")

_PUBLIC_ACCESS_KEYS = (
    ("block_public_acls", "BlockPublicAcls"),
    ("ignore_public_acls", "IgnorePublicAcls"),
    ("block_public_policy", "BlockPublicPolicy"),
    ("restrict_public_buckets", "RestrictPublicBuckets"),
)
_CORS_LISTS = (
    ("allowed_headers", "AllowedHeaders"),
    ("allowed_methods", "AllowedMethods"),
    ("allowed_origins", "AllowedOrigins"),
    ("expose_headers", "ExposeHeaders"),
)


def reads_for(bucket):
    """The snapshot keys to read for a bucket: only what the desired settings manage."""
    keys = []
    if bucket.get("versioning") is not None:
        keys.append("versioning")
    if bucket.get("encryption"):
        keys.append("encryption")
    if bucket.get("public_access") is not None:
        keys.append("public_access")
    if bucket.get("manage_policy"):
        keys.append("policy")
    if bucket.get("cors") is not None:
        keys.append("cors")
    if bucket.get("lifecycle_rules") or bucket.get("lifecycle_absent"):
        keys.append("lifecycle")
    return keys


def parse_read(key, response):
    """The snapshot value of one read; response None means S3 said the setting is not there."""
    if response is None:
        return [] if key in ("cors", "lifecycle") else None
    if key == "versioning":
        return response.get("Status") or None
    if key == "encryption":
        rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        for rule in rules:
            algorithm = rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
            if algorithm:
                return algorithm
        return None
    if key == "public_access":
        return normalise_public_access(response.get("PublicAccessBlockConfiguration"))
    if key == "policy":
        return s3_policy.parse_policy(response.get("Policy"))
    if key == "cors":
        return list(response.get("CORSRules") or [])
    if key == "lifecycle":
        return list(response.get("Rules") or [])
    raise KeyError(key)


# --- Shapes ---------------------------------------------------------------------------------------


def public_access_block(flags):
    """The S3 PublicAccessBlockConfiguration of the four snake_case flags (missing ones are false)."""
    return {s3_key: bool(flags.get(key)) for key, s3_key in _PUBLIC_ACCESS_KEYS}


def normalise_public_access(configuration):
    """A PublicAccessBlockConfiguration with all four keys (S3 leaves out false ones on some servers);
    None when the bucket has none (put explicitly even when all four flags are meant to be false)."""
    if configuration is None:
        return None
    return {s3_key: bool(configuration.get(s3_key)) for _key, s3_key in _PUBLIC_ACCESS_KEYS}


def cors_rule(rule):
    """An S3 CORSRule from a rule in community.aws.s3_cors's shape; empty lists are left out."""
    result = {}
    for key, s3_key in _CORS_LISTS:
        if rule.get(key):
            result[s3_key] = list(rule[key])
    if rule.get("max_age_seconds") is not None:
        result["MaxAgeSeconds"] = int(rule["max_age_seconds"])
    return result


def _canonical_cors(rules):
    # Rule order counts (S3 applies the first match); order inside a rule's lists does not.
    return [
        {
            key: sorted(value) if isinstance(value, list) else value
            for key, value in rule.items()
            if value != []
        }
        for rule in rules
    ]


def lifecycle_rule(rule):
    """An S3 lifecycle rule from {id, prefix, status, abort_incomplete_multipart_upload_days,
    expiration_days}."""
    result = {
        "ID": rule["id"],
        "Filter": {"Prefix": rule.get("prefix") or ""},
        "Status": "Disabled" if rule.get("status") == "disabled" else "Enabled",
    }
    if rule.get("expiration_days"):
        result["Expiration"] = {"Days": int(rule["expiration_days"])}
    if rule.get("abort_incomplete_multipart_upload_days"):
        result["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["abort_incomplete_multipart_upload_days"])
        }
    return result


def canonical_lifecycle_rule(rule):
    """A lifecycle rule in one spelling: the legacy top-level Prefix and an empty Filter become
    Filter.Prefix, and keys without a value go."""
    result = {key: value for key, value in rule.items() if value is not None}
    if "Filter" not in result or result["Filter"] == {}:
        result["Filter"] = {"Prefix": result.get("Prefix") or ""}
    result.pop("Prefix", None)
    expiration = result.get("Expiration")
    if isinstance(expiration, dict) and expiration.get("ExpiredObjectDeleteMarker") is False:
        result["Expiration"] = {
            key: value for key, value in expiration.items() if key != "ExpiredObjectDeleteMarker"
        }
    return result


def merge_lifecycle(current, desired, absent):
    """(rules, changes): the bucket's rules with ours added, updated in place or removed.

    current are S3 rules as read; desired S3 rules (lifecycle_rule()); absent rule IDs to remove.
    Rules with other IDs stay as they are, in their place.
    """
    wanted = {rule["ID"]: rule for rule in desired}
    rules = []
    changes = []
    seen = set()
    for rule in current:
        rule_id = rule.get("ID")
        if rule_id in wanted:
            seen.add(rule_id)
            if canonical_lifecycle_rule(rule) == canonical_lifecycle_rule(wanted[rule_id]):
                rules.append(rule)
            else:
                rules.append(wanted[rule_id])
                changes.append(f"lifecycle rule {rule_id} updated")
        elif rule_id in absent:
            changes.append(f"lifecycle rule {rule_id} removed")
        else:
            rules.append(rule)
    for rule in desired:
        if rule["ID"] not in seen:
            rules.append(rule)
            changes.append(f"lifecycle rule {rule['ID']} added")
    return rules, changes


# --- Checks and plans -----------------------------------------------------------------------------


def check_buckets(buckets):
    """Error messages for inputs the argument spec cannot reject (empty: all good)."""
    errors = []
    names = [bucket["name"] for bucket in buckets]
    for name in sorted({name for name in names if names.count(name) > 1}):
        errors.append(f"bucket {name} is listed more than once")
    for bucket in buckets:
        name = bucket["name"]
        ids = [rule["id"] for rule in bucket.get("lifecycle_rules") or []]
        for rule_id in sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1}):
            errors.append(f"bucket {name}: lifecycle rule {rule_id} is listed more than once")
        for rule_id in sorted(set(ids) & set(bucket.get("lifecycle_absent") or [])):
            errors.append(
                f"bucket {name}: lifecycle rule {rule_id} is both in lifecycle_rules and lifecycle_absent"
            )
        for rule in bucket.get("lifecycle_rules") or []:
            days = [
                rule.get("abort_incomplete_multipart_upload_days"),
                rule.get("expiration_days"),
            ]
            if not any(days) or any(value is not None and value < 1 for value in days):
                errors.append(
                    f"bucket {name}: lifecycle rule {rule['id']} needs abort_incomplete_multipart_upload_days"
                    " or expiration_days of at least 1"
                )
        try:
            s3_policy.parse_policy(bucket.get("policy"))
        except ValueError as error:
            errors.append(f"bucket {name}: policy is not a JSON object ({error})")
    return errors


def create_call(name, region):
    """The boto3 call that creates a bucket: outside us-east-1, S3 wants the region named."""
    kwargs = {"Bucket": name}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    return ("create_bucket", kwargs)


def plan(bucket, current):
    """(calls, changes, after) that bring a bucket from the snapshot current to the desired settings.

    current maps the keys of reads_for(bucket) to parse_read() values; a missing key counts as "not
    set" (a bucket that does not exist yet, in check mode). calls are (boto3 method, kwargs) in the
    order to make them; changes are human-readable strings; after is the snapshot the calls lead to.
    """
    name = bucket["name"]
    calls = []
    changes = []
    after = dict(current)

    versioning = bucket.get("versioning")
    if versioning is not None:
        status = current.get("versioning")
        if versioning and status != "Enabled":
            calls.append(
                ("put_bucket_versioning", {"Bucket": name, "VersioningConfiguration": {"Status": "Enabled"}})
            )
            changes.append("versioning enabled")
            after["versioning"] = "Enabled"
        elif not versioning and status == "Enabled":
            calls.append(
                (
                    "put_bucket_versioning",
                    {"Bucket": name, "VersioningConfiguration": {"Status": "Suspended"}},
                )
            )
            changes.append("versioning suspended")
            after["versioning"] = "Suspended"

    encryption = bucket.get("encryption")
    if encryption == "none":
        if current.get("encryption") is not None:
            calls.append(("delete_bucket_encryption", {"Bucket": name}))
            changes.append("encryption removed")
            after["encryption"] = None
    elif encryption and current.get("encryption") != encryption:
        configuration = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": encryption}}]}
        calls.append(
            ("put_bucket_encryption", {"Bucket": name, "ServerSideEncryptionConfiguration": configuration})
        )
        changes.append(f"encryption {encryption}")
        after["encryption"] = encryption

    if bucket.get("public_access") is not None:
        wanted = public_access_block(bucket["public_access"])
        if normalise_public_access(current.get("public_access")) != wanted:
            calls.append(
                ("put_public_access_block", {"Bucket": name, "PublicAccessBlockConfiguration": wanted})
            )
            changes.append("public access block")
            after["public_access"] = wanted

    if bucket.get("manage_policy"):
        desired = s3_policy.parse_policy(bucket.get("policy"))
        action = s3_policy.plan(current.get("policy"), desired, "present")
        if action == "put":
            calls.append(
                ("put_bucket_policy", {"Bucket": name, "Policy": json.dumps(desired, sort_keys=True)})
            )
            changes.append("policy set")
            after["policy"] = desired
        elif action == "delete":
            calls.append(("delete_bucket_policy", {"Bucket": name}))
            changes.append("policy removed")
            after["policy"] = None

    if bucket.get("cors") is not None:
        wanted = [cors_rule(rule) for rule in bucket["cors"]]
        existing = current.get("cors") or []
        if not wanted:
            if existing:
                calls.append(("delete_bucket_cors", {"Bucket": name}))
                changes.append("cors removed")
                after["cors"] = []
        elif _canonical_cors(existing) != _canonical_cors(wanted):
            calls.append(("put_bucket_cors", {"Bucket": name, "CORSConfiguration": {"CORSRules": wanted}}))
            changes.append("cors")
            after["cors"] = wanted

    if bucket.get("lifecycle_rules") or bucket.get("lifecycle_absent"):
        rules, lifecycle_changes = merge_lifecycle(
            current.get("lifecycle") or [],
            [lifecycle_rule(rule) for rule in bucket.get("lifecycle_rules") or []],
            set(bucket.get("lifecycle_absent") or []),
        )
        if lifecycle_changes:
            if rules:
                calls.append(
                    (
                        "put_bucket_lifecycle_configuration",
                        {"Bucket": name, "LifecycleConfiguration": {"Rules": rules}},
                    )
                )
            else:
                calls.append(("delete_bucket_lifecycle", {"Bucket": name}))
            changes.extend(lifecycle_changes)
            after["lifecycle"] = rules

    return calls, changes, after


def describe_client_error(method, bucket, code, message):
    """One line for an S3 error answer, naming the call and the bucket."""
    if method == "head_bucket" and code in ("403", "Forbidden", "AccessDenied"):
        text = "403 Forbidden: the key may not use this bucket, or the name belongs to another account"
    else:
        text = f"{code}: {message}" if message and message != code else code
    return f"{method} on bucket {bucket} failed: {text}"
