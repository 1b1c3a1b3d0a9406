"""The light client's `Member` on moto, with the bucket, topics and queues of template.yaml: what it
drops the coalition's own adapters read back as written, and the coalition's verdict reaches it
through SNS and SQS as a typed notification, once."""

from __future__ import annotations

import json
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from hashmatch.aws.runtime import build_runtime
from hashmatch.aws.s3 import S3ObjectStore
from hashmatch.bank.hashlist import parse_hash_list
from hashmatch.media.codec import hashes_from_json, hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import MediaHashes
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.settings import Settings
from hashmatch.service.submission import Kind, Submission
from hashmatch_client import CheckClean, Member
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.integration

CONTENT_ID = "пост-1234 · 帖子 · منشور"
REGION = "us-east-1"


def _client(service: str):
    return boto3.session.Session(region_name=REGION).client(service)


def _settings(stack: Stack) -> Settings:
    outputs = stack.outputs()
    return Settings.from_environment(
        {
            "TABLE_NAME": outputs["BankTableName"],
            "PLATFORMS": ",".join(stack.parameters["Platforms"]),
            "TOPIC_ARN_TEMPLATE": outputs["TopicArnTemplate"],
        }
    )


def _inbox(topic_arn: str, raw: bool) -> str:
    sqs, sns = _client("sqs"), _client("sns")
    url = sqs.create_queue(QueueName=f"client-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"} if raw else {}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return url


def _hashes(seed: int) -> MediaHashes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jpg"
        path.write_bytes(jpeg_bytes(scene(seed, (320, 240))))
        return replace(hash_file(path), uneven_crops=None)


def test_a_unicode_content_id_dropped_by_the_client_comes_back_in_its_typed_verdict(moto_aws: Stack) -> None:
    settings = _settings(moto_aws)
    bucket = moto_aws.outputs()["IngestBucketName"]
    s3, sqs = _client("s3"), _client("sqs")
    enveloped, raw = _inbox(settings.topic_arn("twitch"), raw=False), _inbox(settings.topic_arn("twitch"), raw=True)
    member = Member("twitch", bucket, enveloped, s3_client=s3, sqs_client=sqs)

    key = member.check("clip 🎬.jpg", jpeg_bytes(scene(81, (320, 240))), content_id=CONTENT_ID)
    assert key.startswith("check/twitch/") and key.endswith("-clip 🎬.jpg")
    head = s3.head_object(Bucket=bucket, Key=key)
    obj = ObjectRef(bucket, key, head["ETag"].strip('"'), head["ContentLength"], "01")
    with S3ObjectStore(s3).fetch(obj, max_bytes=1 << 20) as fetched:
        assert fetched is not None
        metadata = fetched.metadata
    assert metadata == {"content-id": CONTENT_ID}, "the coalition's edge reads the content id as written"

    # The coalition's own runtime decides the check and publishes on twitch's topic.
    runtime = build_runtime(settings, boto3.session.Session(region_name=REGION))
    submission = Submission("check", "twitch", obj, Kind.HASHES, metadata, hashes=_hashes(81))
    assert runtime.process(json.dumps(submission.to_json())) == "processed"

    (verdict,) = list(member.notifications(wait_seconds=0))
    assert isinstance(verdict, CheckClean)
    assert verdict.content_id == CONTENT_ID
    assert verdict.object is not None and verdict.object.key == key
    assert verdict.platform == "twitch" and verdict.matches == ()
    assert sqs.receive_message(QueueUrl=enveloped).get("Messages", []) == [], "read notifications are deleted"

    # A raw-delivery subscription carries the bare body: the same notification.
    (same,) = list(Member("twitch", bucket, raw, s3_client=s3, sqs_client=sqs).notifications())
    assert same == verdict

    # SNS delivers at least once: a redelivery of a notification already read is dropped, and deleted.
    sqs.send_message(QueueUrl=enveloped, MessageBody=json.dumps(dict(verdict.raw)))
    assert list(member.notifications()) == []
    assert sqs.receive_message(QueueUrl=enveloped).get("Messages", []) == []


def test_hash_lists_the_client_drops_are_what_the_coalition_parses(moto_aws: Stack) -> None:
    bucket = moto_aws.outputs()["IngestBucketName"]
    s3 = _client("s3")
    member = Member("twitch", bucket, s3_client=s3)
    hashes = _hashes(82)

    check_key = member.check_hashes([{"content_id": CONTENT_ID, **hashes_to_json(hashes)}])
    assert check_key.startswith("check/twitch/")
    (line,) = s3.get_object(Bucket=bucket, Key=check_key)["Body"].read().splitlines()
    entry = json.loads(line)
    assert entry["content_id"] == CONTENT_ID
    assert hashes_from_json(entry).signals == hashes.signals

    share_key = member.share_hashes(
        [("pdq", hashes.signals["pdq"]), ("md5", hashes.signals["md5"])], labels=["graphic-violence"], note="видео"
    )
    assert share_key.startswith("share/twitch/")
    shared = S3ObjectStore(s3).metadata(ObjectRef(bucket, share_key))
    assert shared == {"labels": "graphic-violence", "note": "видео"}
    entries = parse_hash_list(s3.get_object(Bucket=bucket, Key=share_key)["Body"].read(), None)
    assert [e.signals for e in entries] == [{"pdq": hashes.signals["pdq"]}, {"md5": hashes.signals["md5"]}]


def test_a_notification_the_caller_broke_out_on_is_not_yielded_again(moto_aws: Stack) -> None:
    sqs = _client("sqs")
    # Visible again at once: what a caller broke out on comes straight back.
    url = sqs.create_queue(QueueName=f"client-break-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "0"})[
        "QueueUrl"
    ]
    bodies = [_clean(notification_id) for notification_id in ("1" * 32, "2" * 32)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    member = Member("twitch", "unused", url, sqs_client=sqs)
    reading = member.notifications()
    first = next(reading)
    reading.close()  # what a `break` out of the loop does
    rest = list(member.notifications())
    assert {first.notification_id} | {n.notification_id for n in rest} == {"1" * 32, "2" * 32}
    assert len(rest) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def _clean(notification_id: str) -> dict:
    return {
        "schema_version": "2",
        "notification_id": notification_id,
        "event_type": "check.clean",
        "platform": "twitch",
        "occurred_at": "2026-12-04T12:00:00.000Z",
        "object": {"bucket": "b", "key": "check/twitch/a.jpg"},
        "content_id": None,
        "media": "image",
        "signals": {},
        "matches": [],
        "contributors": [],
    }
