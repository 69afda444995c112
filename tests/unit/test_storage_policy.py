"""Bucket policy logic (module_utils/s3_policy.py): when a bucket policy is put, deleted or left alone."""

from __future__ import annotations

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils.s3_policy import (
    normalise,
    parse_policy,
    plan,
)
from tests.fixtures.s3_rules import public_uploads_policy

PUBLIC = public_uploads_policy("up")


@pytest.mark.parametrize("empty", [None, "", "null", " null ", {}])
def test_no_policy_spellings(empty):
    assert parse_policy(empty) is None


def test_json_text_and_dict_are_the_same_policy():
    text = (
        '{"Version": "2012-10-17", "Statement": [{"Sid": "DiscoursePublicUploads", "Effect": "Allow",'
        ' "Principal": "*", "Action": "s3:GetObject",'
        ' "Resource": ["arn:aws:s3:::up/uploads/*", "arn:aws:s3:::up/assets/*"]}]}'
    )
    assert parse_policy(text) == PUBLIC
    assert plan(text, PUBLIC, "present") is None


def test_non_object_policy_is_refused():
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_policy("[1, 2]")


def test_equivalent_spellings_need_no_put():
    # What S3 may hand back: resources reordered, Principal as {"AWS": "*"}, a one-item list.
    returned = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DiscoursePublicUploads",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::up/assets/*", "arn:aws:s3:::up/uploads/*"],
            }
        ],
    }
    assert normalise(returned) == normalise(PUBLIC)
    assert plan(returned, PUBLIC, "present") is None


def test_missing_version_is_s3s_default_not_2012():
    without_version = {"Statement": PUBLIC["Statement"]}
    assert plan(without_version, PUBLIC, "present") == "put"
    assert plan(without_version, {**without_version, "Version": "2008-10-17"}, "present") is None


def test_a_different_resource_is_put():
    narrower = {**PUBLIC, "Statement": [{**PUBLIC["Statement"][0], "Resource": "arn:aws:s3:::up/uploads/*"}]}
    assert plan(PUBLIC, narrower, "present") == "put"
    assert plan(None, PUBLIC, "present") == "put"


def test_absent_deletes_only_an_existing_policy():
    assert plan(PUBLIC, None, "absent") == "delete"
    assert plan(None, None, "absent") is None
    # present with an empty document means "no policy" as well
    assert plan(PUBLIC, {}, "present") == "delete"
