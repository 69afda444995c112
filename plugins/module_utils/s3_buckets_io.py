# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The S3 side of the s3_buckets module and action: one boto3 client converges a list of buckets.

The plan (what to call) is pure, in s3_buckets.py; this file makes the calls. Importing it imports
boto3; the forumops.discourse.preload callback imports it (and loads the S3 model) in the controller
before the first worker forks, which spares every worker that cost.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.forumops.discourse.plugins.module_utils import backup_io
from ansible_collections.forumops.discourse.plugins.module_utils import s3_buckets as logic

try:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
except ImportError:  # reported by backup_io.require_libraries
    BotoCoreError = ClientError = ConnectTimeoutError = EndpointConnectionError = ReadTimeoutError = None

# A call still unanswered after FIRST_PROGRESS seconds says so, then every PROGRESS_EVERY seconds, as
# the Kubernetes waits do (a stalled endpoint is otherwise minutes of silence).
FIRST_PROGRESS = 2.0
PROGRESS_EVERY = 10.0
# Both attempts of botocore's standard retry mode.
ATTEMPTS = 2


class S3Failure(Exception):
    def __init__(self, msg, unreachable=False):
        super().__init__(msg)
        self.unreachable = unreachable


def load_s3_model():
    """Load boto3's S3 model and endpoint rules into its default session, which client_for uses.

    The first client of a process reads them from botocore's JSON files (about 0.13 s here); a later
    client, also in a process forked after this, finds them loaded. No network call is made.
    """
    if backup_io.boto3 is not None:
        backup_io.boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="-", aws_secret_access_key="-"
        )


def client_for(connection):
    config = backup_io.BotocoreConfig(
        connect_timeout=connection["connect_timeout"],
        read_timeout=connection["read_timeout"],
        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
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


class Reporter:
    """Says what a slow call waits for while it runs: `progress(message)` from a timer thread."""

    def __init__(self, progress, endpoint, clock=time.monotonic):
        self.progress = progress
        self.endpoint = endpoint or "AWS S3"
        self.clock = clock

    def __call__(self, method, bucket, function):
        if self.progress is None:
            return function()
        done = threading.Event()
        started = self.clock()

        def tell():
            wait = FIRST_PROGRESS
            while not done.wait(wait):
                elapsed = int(self.clock() - started)
                what = f"{method} on bucket {bucket}"
                self.progress(f"waiting for {self.endpoint} to answer {what} ({elapsed}s)")
                wait = PROGRESS_EVERY

        thread = threading.Thread(target=tell, daemon=True)
        thread.start()
        try:
            return function()
        finally:
            done.set()
            thread.join()


def call(client, method, kwargs, absent_codes=(), report=None):
    """One boto3 call; None when S3 answers with one of absent_codes; S3Failure for other errors."""
    try:
        function = getattr(client, method)
        if report is None:
            return function(**kwargs)
        return report(method, kwargs["Bucket"], lambda: function(**kwargs))
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
    except ReadTimeoutError as error:
        raise S3Failure(
            f"{method} on bucket {kwargs['Bucket']} got no answer in {ATTEMPTS} attempts "
            f"of read_timeout each ({error})",
            unreachable=True,
        ) from None
    except BotoCoreError as error:
        raise S3Failure(f"{method} on bucket {kwargs['Bucket']} failed: {error}") from None


def converge_bucket(client, connection, bucket, check_mode, report=None):
    """(result, diff) of one bucket."""
    name = bucket["name"]
    changes = []
    exists = call(client, "head_bucket", {"Bucket": name}, logic.MISSING_BUCKET_CODES, report) is not None
    if not exists:
        changes.append("created")
        if not check_mode:
            method, kwargs = logic.create_call(name, connection["region"])
            # Another converge of the same site created it in between: ours, so a success.
            call(client, method, kwargs, ("BucketAlreadyOwnedByYou",), report)
    current = {}
    if exists or not check_mode:
        for key in logic.reads_for(bucket):
            method, absent_codes = logic.READS[key]
            current[key] = logic.parse_read(key, call(client, method, {"Bucket": name}, absent_codes, report))
    calls, setting_changes, after = logic.plan(bucket, current)
    changes.extend(setting_changes)
    if not check_mode:
        for method, kwargs in calls:
            call(client, method, kwargs, (), report)
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


def run(params, check_mode=False, want_diff=False, progress=None):
    """The whole task for validated params: {changed, buckets, diff?} or a failed result.

    ``progress(message)`` hears about calls S3 is slow to answer."""
    connection = params["connection"]
    buckets = params["buckets"]
    errors = logic.check_buckets(buckets)
    if errors:
        return {"failed": True, "changed": False, "msg": "; ".join(errors)}
    client = client_for(connection)
    report = Reporter(progress, connection["endpoint_url"])
    results = []
    diffs = []
    try:
        for bucket in buckets:
            result, diff = converge_bucket(client, connection, bucket, check_mode, report)
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
