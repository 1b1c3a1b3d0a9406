"""Submissions on SQS, with the hash-only signals bucket for those too large for a message, and
check-by-hash results in the results bucket.

A message body is the submission's JSON (`hashmatch.service.submission`) when it fits well inside
SQS's 256 KiB, else ``{"signals_object": {"bucket": ..., "key": ...}}`` naming where the edge put
it. The coalition's functions read the object (hashes only) and delete it once processed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from hashmatch.service.notifications import ObjectRef
from hashmatch.service.results import results_key
from hashmatch.service.routing import Action
from hashmatch.service.submission import Submission, submission_from_json

__all__ = [
    "INCIDENT_GROUP",
    "INLINE_LIMIT",
    "S3ResultStore",
    "SignalsObject",
    "SqsSubmissionSink",
    "SubmissionReader",
    "message_group",
]

# SQS carries 256 KiB; a checked picture's submission is ~10-15 KB, a sampled video's up to ~5 KB
# per second of footage.
INLINE_LIMIT = 200 * 1024
SIGNALS_PREFIX = "signals/"
_GONE = {"NoSuchKey", "404", "NotFound"}
# The message group of incident traffic on the share queue (see `message_group`).
INCIDENT_GROUP = "incident"


def message_group(submission: Submission) -> str:
    """The SQS message group a submission goes in: its platform, except incident traffic (a share
    naming an incident, in its metadata or on any line of its hash list, and incident requests),
    which goes in a group of its own. The check and share queues are SQS fair queues: a group with
    few messages is served promptly however deep another group's backlog is, so incident traffic
    does not wait behind a platform's burst of ordinary shares. The edge cannot read the bank, so
    it does not know whether the incident is open: a share naming an unknown or closed incident is
    refused (`unknown_incident`) when it is dequeued, and gains nothing by its place in the queue.
    """
    if submission.action == "incident":
        return INCIDENT_GROUP
    if submission.action == "share" and (
        submission.metadata.get("incident") or any(entry.overrides.get("incident") for entry in submission.entries)
    ):
        return INCIDENT_GROUP
    return submission.platform


@dataclass(frozen=True)
class SignalsObject:
    bucket: str
    key: str


class SqsSubmissionSink:
    """`SubmissionSink` on SQS: one queue per action's function (checks; shares and withdrawals)."""

    def __init__(
        self, queue_urls: Mapping[Action, str], bucket: str, sqs_client: Any = None, s3_client: Any = None
    ) -> None:
        self._queue_urls = dict(queue_urls)
        self._bucket = bucket
        self._sqs = sqs_client or boto3.client("sqs")
        self._s3 = s3_client or boto3.client("s3")

    def send(self, submission: Submission) -> None:
        body = json.dumps(submission.to_json(), separators=(",", ":"))
        if len(body.encode()) > INLINE_LIMIT:
            key = f"{SIGNALS_PREFIX}{hashlib.sha256(submission.idempotency_key.encode()).hexdigest()}.json"
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode(), ContentType="application/json")
            body = json.dumps({"signals_object": {"bucket": self._bucket, "key": key}})
        # The platform is the message group (incident traffic has its own, `message_group`): the
        # check and share queues are SQS fair queues, so a platform's burst waits behind the others'
        # messages instead of in front of them.
        self._sqs.send_message(
            QueueUrl=self._queue_urls[submission.action], MessageBody=body, MessageGroupId=message_group(submission)
        )


class SubmissionReader:
    """The coalition's side: a submission from a message body, and its signals object discarded."""

    def __init__(self, s3_client: Any = None) -> None:
        self._s3 = s3_client or boto3.client("s3")

    def read(self, body: str) -> tuple[Submission | None, SignalsObject | None]:
        """The submission and the signals object it came in (None when inline). (None, object) when
        the object is gone: an earlier delivery of the same message processed and deleted it."""
        document = json.loads(body)
        pointer = document.get("signals_object") if isinstance(document, dict) else None
        if pointer is None:
            return submission_from_json(document), None
        where = SignalsObject(str(pointer["bucket"]), str(pointer["key"]))
        if not where.key.startswith(SIGNALS_PREFIX):
            raise ValueError(f"a signals object must be under {SIGNALS_PREFIX}, got {where.key!r}")
        try:
            response = self._s3.get_object(Bucket=where.bucket, Key=where.key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE:
                return None, where
            raise
        return submission_from_json(json.loads(response["Body"].read())), where

    def discard(self, where: SignalsObject | None) -> None:
        if where is not None:
            self._s3.delete_object(Bucket=where.bucket, Key=where.key)


class S3ResultStore:
    """`ResultStore` in the results bucket, under ``results/<platform>/`` (`results_key`)."""

    def __init__(self, bucket: str, s3_client: Any = None) -> None:
        self._bucket = bucket
        self._s3 = s3_client or boto3.client("s3")

    def put_results(
        self, platform: str, obj: ObjectRef, chunk: tuple[int, int], lines: list[dict[str, Any]]
    ) -> tuple[str, str]:
        key = results_key(platform, obj, chunk)
        body = "".join(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n" for line in lines)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode(), ContentType="application/x-ndjson")
        return self._bucket, key
