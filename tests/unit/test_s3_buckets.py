"""The s3_buckets module's pure logic: what is read, how answers are read, which calls are planned."""

from __future__ import annotations

import json

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import s3_buckets as logic
from tests.fixtures.s3_rules import ASSETS_RULE as ASSETS_S3

ASSETS = {
    "allowed_headers": ["Authorization"],
    "allowed_methods": ["GET", "HEAD"],
    "allowed_origins": ["*"],
    "expose_headers": [],
    "max_age_seconds": 3000,
}


def lifecycle(rule_id, **settings):
    """A lifecycle rule as AnsibleModule hands it over: every option present, unset ones at their default."""
    return {
        "id": rule_id,
        "prefix": "",
        "status": "enabled",
        "abort_incomplete_multipart_upload_days": None,
        "expiration_days": None,
        **settings,
    }


ABORT = lifecycle("forumops-abort", abort_incomplete_multipart_upload_days=7)
ABORT_S3 = {
    "ID": "forumops-abort",
    "Filter": {"Prefix": ""},
    "Status": "Enabled",
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
}
EXPIRE = lifecycle("forumops-expire", prefix="default/", expiration_days=30)
EXPIRE_S3 = {
    "ID": "forumops-expire",
    "Filter": {"Prefix": "default/"},
    "Status": "Enabled",
    "Expiration": {"Days": 30},
}
# A rule of the same kind that another tool (CloudNativePG's WAL archive) owns.
FOREIGN_S3 = dict(EXPIRE_S3, ID="cnpg-wal", Filter={"Prefix": "cnpg/"}, Expiration={"Days": 90})
PRIVATE = {
    "block_public_acls": True,
    "ignore_public_acls": True,
    "block_public_policy": True,
    "restrict_public_buckets": True,
}
PRIVATE_S3 = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Public",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": ["arn:aws:s3:::up/uploads/*", "arn:aws:s3:::up/assets/*"],
        }
    ],
}


def bucket(**settings):
    """A bucket entry as AnsibleModule hands it over: every option present, unset ones at their default."""
    entry = {
        "name": "up",
        "versioning": None,
        "encryption": "",
        "public_access": None,
        "manage_policy": False,
        "policy": None,
        "cors": None,
        "lifecycle_rules": [],
        "lifecycle_absent": [],
    }
    entry.update(settings)
    return entry


# --- What is read ---------------------------------------------------------------------------------


def test_an_entry_managing_nothing_reads_nothing():
    assert logic.reads_for(bucket()) == []


def test_every_managed_setting_is_read_once_in_a_fixed_order():
    entry = bucket(
        versioning=False,
        encryption="AES256",
        public_access=PRIVATE,
        manage_policy=True,
        cors=[],
        lifecycle_absent=["x"],
    )
    assert logic.reads_for(entry) == [
        "versioning",
        "encryption",
        "public_access",
        "policy",
        "cors",
        "lifecycle",
    ]
    assert [logic.READS[key][0] for key in logic.reads_for(entry)] == [
        "get_bucket_versioning",
        "get_bucket_encryption",
        "get_public_access_block",
        "get_bucket_policy",
        "get_bucket_cors",
        "get_bucket_lifecycle_configuration",
    ]


@pytest.mark.parametrize(
    ("key", "response", "value"),
    [
        ("versioning", {}, None),
        ("versioning", {"Status": "Suspended", "MFADelete": "Disabled"}, "Suspended"),
        ("encryption", None, None),
        (
            "encryption",
            {
                "ServerSideEncryptionConfiguration": {
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": "arn:aws:kms:eu-central-1:1:key/k",
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                }
            },
            "aws:kms",
        ),
        ("public_access", None, None),
        (
            "public_access",
            {"PublicAccessBlockConfiguration": {"BlockPublicAcls": True}},
            {
                "BlockPublicAcls": True,
                "IgnorePublicAcls": False,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        ),
        ("policy", None, None),
        ("policy", {"Policy": json.dumps(POLICY)}, POLICY),
        ("cors", None, []),
        ("cors", {"CORSRules": [ASSETS_S3]}, [ASSETS_S3]),
        ("lifecycle", None, []),
        ("lifecycle", {"Rules": [FOREIGN_S3]}, [FOREIGN_S3]),
    ],
)
def test_answers_become_snapshot_values(key, response, value):
    assert logic.parse_read(key, response) == value


# --- Shapes ---------------------------------------------------------------------------------------


def test_cors_rule_leaves_out_empty_lists():
    assert logic.cors_rule(ASSETS) == ASSETS_S3
    assert logic.cors_rule(
        {
            "allowed_headers": ["*"],
            "allowed_methods": ["GET", "HEAD", "PUT"],
            "allowed_origins": ["*"],
            "expose_headers": ["ETag"],
            "max_age_seconds": None,
        }
    ) == {
        "AllowedHeaders": ["*"],
        "AllowedMethods": ["GET", "HEAD", "PUT"],
        "AllowedOrigins": ["*"],
        "ExposeHeaders": ["ETag"],
    }


def test_lifecycle_rules_in_s3_shape():
    assert logic.lifecycle_rule(ABORT) == ABORT_S3
    assert logic.lifecycle_rule(EXPIRE) == EXPIRE_S3
    assert logic.lifecycle_rule(
        dict(EXPIRE, status="disabled", abort_incomplete_multipart_upload_days=2)
    ) == {
        "ID": "forumops-expire",
        "Filter": {"Prefix": "default/"},
        "Status": "Disabled",
        "Expiration": {"Days": 30},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
    }


@pytest.mark.parametrize(
    "spelling",
    [
        {key: value for key, value in ABORT_S3.items() if key != "Filter"} | {"Prefix": ""},
        dict(ABORT_S3, Filter={}),
        dict(ABORT_S3, Transitions=None),
    ],
    ids=["legacy-prefix", "empty-filter", "null-key"],
)
def test_lifecycle_spellings_of_the_same_rule_are_equal(spelling):
    assert logic.canonical_lifecycle_rule(spelling) == ABORT_S3


def test_expiry_without_delete_marker_flag_is_the_same_rule():
    read = dict(EXPIRE_S3, Expiration={"Days": 30, "ExpiredObjectDeleteMarker": False})
    assert logic.canonical_lifecycle_rule(read) == EXPIRE_S3


def test_public_access_flags_left_out_are_false():
    assert logic.public_access_block({"block_public_policy": True}) == {
        "BlockPublicAcls": False,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False,
    }


# --- Lifecycle merge ------------------------------------------------------------------------------


def test_foreign_rules_stay_in_place_and_ours_are_appended():
    rules, changes = logic.merge_lifecycle([FOREIGN_S3], [ABORT_S3, EXPIRE_S3], set())
    assert rules == [FOREIGN_S3, ABORT_S3, EXPIRE_S3]
    assert changes == ["lifecycle rule forumops-abort added", "lifecycle rule forumops-expire added"]


def test_a_changed_rule_is_replaced_in_its_place():
    old = dict(ABORT_S3, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 3})
    rules, changes = logic.merge_lifecycle([old, FOREIGN_S3], [ABORT_S3], set())
    assert rules == [ABORT_S3, FOREIGN_S3]
    assert changes == ["lifecycle rule forumops-abort updated"]


def test_an_equal_rule_is_kept_as_read():
    read = dict(ABORT_S3, Filter={}, Prefix="")
    rules, changes = logic.merge_lifecycle([read], [ABORT_S3], set())
    assert rules == [read]
    assert changes == []


def test_absent_rules_are_removed_and_missing_ones_ignored():
    rules, changes = logic.merge_lifecycle([FOREIGN_S3, EXPIRE_S3], [], {"forumops-expire", "never-there"})
    assert rules == [FOREIGN_S3]
    assert changes == ["lifecycle rule forumops-expire removed"]


# --- Input checks ---------------------------------------------------------------------------------


def test_good_input_has_no_errors():
    assert (
        logic.check_buckets([bucket(lifecycle_rules=[ABORT, EXPIRE]), bucket(name="down", policy="{}")]) == []
    )


def test_input_errors_name_the_bucket_and_rule():
    errors = logic.check_buckets(
        [
            bucket(
                lifecycle_rules=[ABORT, ABORT, dict(EXPIRE, expiration_days=0)],
                lifecycle_absent=["forumops-abort"],
            ),
            bucket(name="up", policy="[1]"),
        ]
    )
    assert errors == [
        "bucket up is listed more than once",
        "bucket up: lifecycle rule forumops-abort is listed more than once",
        "bucket up: lifecycle rule forumops-abort is both in lifecycle_rules and lifecycle_absent",
        "bucket up: lifecycle rule forumops-expire needs abort_incomplete_multipart_upload_days or"
        " expiration_days of at least 1",
        "bucket up: policy is not a JSON object (a bucket policy must be a JSON object)",
    ]


# --- Plans ----------------------------------------------------------------------------------------


def test_create_names_the_region_outside_us_east_1():
    assert logic.create_call("up", "us-east-1") == ("create_bucket", {"Bucket": "up"})
    assert logic.create_call("up", "") == ("create_bucket", {"Bucket": "up"})
    assert logic.create_call("up", "eu-central-1") == (
        "create_bucket",
        {"Bucket": "up", "CreateBucketConfiguration": {"LocationConstraint": "eu-central-1"}},
    )


def full_entry():
    return bucket(
        versioning=True,
        encryption="AES256",
        public_access=PRIVATE,
        manage_policy=True,
        policy=json.dumps(POLICY),
        cors=[ASSETS],
        lifecycle_rules=[ABORT, EXPIRE],
    )


def test_a_new_bucket_gets_every_setting():
    calls, changes, after = logic.plan(full_entry(), {})
    assert calls == [
        ("put_bucket_versioning", {"Bucket": "up", "VersioningConfiguration": {"Status": "Enabled"}}),
        (
            "put_bucket_encryption",
            {
                "Bucket": "up",
                "ServerSideEncryptionConfiguration": {
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            },
        ),
        ("put_public_access_block", {"Bucket": "up", "PublicAccessBlockConfiguration": PRIVATE_S3}),
        ("put_bucket_policy", {"Bucket": "up", "Policy": json.dumps(POLICY, sort_keys=True)}),
        ("put_bucket_cors", {"Bucket": "up", "CORSConfiguration": {"CORSRules": [ASSETS_S3]}}),
        (
            "put_bucket_lifecycle_configuration",
            {"Bucket": "up", "LifecycleConfiguration": {"Rules": [ABORT_S3, EXPIRE_S3]}},
        ),
    ]
    assert changes == [
        "versioning enabled",
        "encryption AES256",
        "public access block",
        "policy set",
        "cors",
        "lifecycle rule forumops-abort added",
        "lifecycle rule forumops-expire added",
    ]
    assert after == {
        "versioning": "Enabled",
        "encryption": "AES256",
        "public_access": PRIVATE_S3,
        "policy": POLICY,
        "cors": [ASSETS_S3],
        "lifecycle": [ABORT_S3, EXPIRE_S3],
    }


def test_a_converged_bucket_needs_no_call():
    # As S3 reports it: the policy in another spelling, CORS lists reordered, the legacy prefix.
    current = {
        "versioning": "Enabled",
        "encryption": "AES256",
        "public_access": PRIVATE_S3,
        "policy": {
            "Statement": {
                "Sid": "Public",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::up/assets/*", "arn:aws:s3:::up/uploads/*"],
            },
            "Version": "2012-10-17",
        },
        "cors": [dict(ASSETS_S3, AllowedMethods=["HEAD", "GET"])],
        "lifecycle": [FOREIGN_S3, dict(ABORT_S3, Prefix="", Filter={}), EXPIRE_S3],
    }
    assert logic.plan(full_entry(), current) == ([], [], current)


def test_switching_things_off():
    entry = bucket(
        versioning=False,
        encryption="none",
        manage_policy=True,
        policy="{}",
        cors=[],
        lifecycle_absent=["forumops-expire"],
    )
    current = {
        "versioning": "Enabled",
        "encryption": "aws:kms",
        "policy": POLICY,
        "cors": [ASSETS_S3],
        "lifecycle": [EXPIRE_S3],
    }
    calls, changes, after = logic.plan(entry, current)
    assert calls == [
        ("put_bucket_versioning", {"Bucket": "up", "VersioningConfiguration": {"Status": "Suspended"}}),
        ("delete_bucket_encryption", {"Bucket": "up"}),
        ("delete_bucket_policy", {"Bucket": "up"}),
        ("delete_bucket_cors", {"Bucket": "up"}),
        ("delete_bucket_lifecycle", {"Bucket": "up"}),
    ]
    assert changes == [
        "versioning suspended",
        "encryption removed",
        "policy removed",
        "cors removed",
        "lifecycle rule forumops-expire removed",
    ]
    assert after == {
        "versioning": "Suspended",
        "encryption": None,
        "policy": None,
        "cors": [],
        "lifecycle": [],
    }


def test_off_on_a_bucket_that_never_had_it_is_no_change():
    entry = bucket(versioning=False, encryption="none", manage_policy=True, cors=[], lifecycle_absent=["x"])
    current = {"versioning": None, "encryption": None, "policy": None, "cors": [], "lifecycle": []}
    assert logic.plan(entry, current) == ([], [], current)


def test_without_a_public_access_block_even_all_false_is_put():
    entry = bucket(public_access={"block_public_acls": False})
    calls, changes, after = logic.plan(entry, {"public_access": None})
    all_false = dict.fromkeys(PRIVATE_S3, False)
    assert calls == [
        ("put_public_access_block", {"Bucket": "up", "PublicAccessBlockConfiguration": all_false})
    ]
    assert changes == ["public access block"]
    assert after == {"public_access": all_false}


def test_only_the_differing_flags_trigger_a_put_of_the_whole_block():
    entry = bucket(public_access=dict(PRIVATE, block_public_policy=False))
    calls, changes, _after = logic.plan(entry, {"public_access": PRIVATE_S3})
    assert calls == [
        (
            "put_public_access_block",
            {"Bucket": "up", "PublicAccessBlockConfiguration": dict(PRIVATE_S3, BlockPublicPolicy=False)},
        )
    ]
    assert changes == ["public access block"]


def test_a_cors_rule_order_change_is_a_change():
    other = {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}
    entry = bucket(cors=[ASSETS, {"allowed_methods": ["PUT"], "allowed_origins": ["*"]}])
    calls, changes, _after = logic.plan(entry, {"cors": [other, ASSETS_S3]})
    assert calls == [
        ("put_bucket_cors", {"Bucket": "up", "CORSConfiguration": {"CORSRules": [ASSETS_S3, other]}})
    ]
    assert changes == ["cors"]


def test_unmanaged_policy_and_encryption_are_left_alone():
    entry = bucket(policy=json.dumps(POLICY), encryption="")
    assert logic.plan(entry, {}) == ([], [], {})


def test_messages_name_the_call_and_bucket():
    assert logic.describe_client_error("head_bucket", "up", "403", None) == (
        "head_bucket on bucket up failed: 403 Forbidden: the key may not use this bucket, or the name belongs"
        " to another account"
    )
    assert logic.describe_client_error("put_bucket_cors", "up", "AccessDenied", "Access Denied") == (
        "put_bucket_cors on bucket up failed: AccessDenied: Access Denied"
    )
    assert logic.describe_client_error("get_bucket_policy", "up", "NotImplemented", "") == (
        "get_bucket_policy on bucket up failed: NotImplemented"
    )
