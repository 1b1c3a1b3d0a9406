"""The S3, SNS and idempotency adapters on moto, with resources from template.yaml."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from hashmatch.aws.handoffs import KEEP_SECONDS, DynamoHandOffs
from hashmatch.aws.runtime import build_runtime
from hashmatch.aws.s3 import S3ObjectStore
from hashmatch.aws.sns import SnsNotifier
from hashmatch.aws.submissions import SqsSubmissionSink, SubmissionReader
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import FrameHash, MediaHashes
from hashmatch.service.metadata import encode_metadata
from hashmatch.service.notifications import ObjectRef, verdict_notification
from hashmatch.service.settings import Settings
from hashmatch.service.submission import Kind, Submission
from hashmatch_tools.local.stack import topic_arn
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.integration


def _client(service: str):
    return boto3.session.Session(region_name="us-east-1").client(service)


def test_s3_store_streams_objects_with_metadata_and_reports_missing_ones(moto_aws: Stack) -> None:
    bucket = moto_aws.outputs()["IngestBucketName"]
    s3 = _client("s3")
    s3.put_object(Bucket=bucket, Key="check/tiktok/a b.jpg", Body=b"12345", Metadata={"Content-Id": "c-9"})
    store = S3ObjectStore(s3)
    obj = ObjectRef(bucket, "check/tiktok/a b.jpg")
    with store.fetch(obj, max_bytes=100) as fetched:
        assert fetched is not None and fetched.path is not None
        assert fetched.path.read_bytes() == b"12345"
        assert fetched.metadata == {"content-id": "c-9"}
        path = fetched.path
    assert not path.exists(), "the temporary copy is removed after use"
    with store.fetch(obj, max_bytes=4) as too_large:
        assert too_large is not None and too_large.path is None and too_large.size == 5
    store.delete(obj)
    with store.fetch(obj, max_bytes=100) as gone:
        assert gone is None


def test_sns_notifier_publishes_body_and_filter_attributes(moto_aws: Stack) -> None:
    sqs, sns = _client("sqs"), _client("sns")
    url = sqs.create_queue(QueueName="probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn(moto_aws, "reddit"), Protocol="sqs", Endpoint=arn)
    from hashmatch.bank.model import Match

    notification = verdict_notification(
        platform="reddit",
        obj=ObjectRef("b", "check/reddit/x"),
        content_id="x",
        occurred_at="2026-11-30T00:00:00.000Z",
        media="image",
        signals={"md5": "0" * 32},
        matches=[Match("i", "md5", 0, ("gore", "self-harm"), "tiktok")],
    )
    SnsNotifier(lambda platform: topic_arn(moto_aws, platform), sns).publish(notification)
    (message,) = sqs.receive_message(QueueUrl=url).get("Messages", [])
    envelope = json.loads(message["Body"])
    assert json.loads(envelope["Message"]) == notification.body
    attributes = {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}
    assert attributes["event_type"] == "match.found"
    assert json.loads(attributes["labels"]) == ["gore", "self-harm"]


def test_a_key_written_again_is_neither_checked_nor_deleted_for_the_old_event(moto_aws: Stack) -> None:
    """The S3 event names an ETag: fetching it after the key was overwritten finds nothing (this
    event's bytes are gone: `check.expired`), and deleting it leaves the newer upload alone."""
    bucket = moto_aws.outputs()["IngestBucketName"]
    s3 = _client("s3")
    first = s3.put_object(Bucket=bucket, Key="check/tiktok/same.jpg", Body=b"first", Metadata={"content-id": "1"})
    s3.put_object(Bucket=bucket, Key="check/tiktok/same.jpg", Body=b"second", Metadata={"content-id": "2"})
    store = S3ObjectStore(s3)
    old = ObjectRef(bucket, "check/tiktok/same.jpg", etag=first["ETag"].strip('"'), size=5, sequencer="01")
    with store.fetch(old, max_bytes=100) as fetched:
        assert fetched is None
    assert store.metadata(old) is None
    store.delete(old)
    assert s3.get_object(Bucket=bucket, Key="check/tiktok/same.jpg")["Body"].read() == b"second"
    current = s3.head_object(Bucket=bucket, Key="check/tiktok/same.jpg")["ETag"]
    new = ObjectRef(bucket, "check/tiktok/same.jpg", etag=current.strip('"'), size=6, sequencer="02")
    assert store.metadata(new) == {"content-id": "2"}
    store.delete(new)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="check/tiktok/same.jpg")


def test_metadata_in_any_script_survives_s3(moto_aws: Stack) -> None:
    bucket = moto_aws.outputs()["IngestBucketName"]
    s3 = _client("s3")
    name = "видео — 视频 — فيديو.mp4"
    s3.put_object(Bucket=bucket, Key="check/tiktok/u.jpg", Body=b"x", Metadata=encode_metadata({"content-id": name}))
    assert S3ObjectStore(s3).metadata(ObjectRef(bucket, "check/tiktok/u.jpg")) == {"content-id": name}


def _settings(stack: Stack) -> Settings:
    outputs = stack.outputs()
    return Settings.from_environment(
        {
            "TABLE_NAME": outputs["BankTableName"],
            "PLATFORMS": ",".join(stack.parameters["Platforms"]),
            "TOPIC_ARN_TEMPLATE": outputs["TopicArnTemplate"],
        }
    )


def _checked_hashes(seed: int) -> MediaHashes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jpg"
        path.write_bytes(jpeg_bytes(scene(seed, (320, 240))))
        return replace(hash_file(path), uneven_crops=None)


def test_the_same_submission_twice_gives_one_verdict(moto_aws: Stack) -> None:
    settings = _settings(moto_aws)
    sqs, sns = _client("sqs"), _client("sns")
    url = sqs.create_queue(QueueName="verdicts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=settings.topic_arn("twitch"), Protocol="sqs", Endpoint=arn)
    runtime = build_runtime(settings, boto3.session.Session(region_name="us-east-1"))
    obj = ObjectRef(moto_aws.outputs()["IngestBucketName"], "check/twitch/a.jpg", etag="e1", size=1, sequencer="01")
    checked = Submission("check", "twitch", obj, Kind.HASHES, {"content-id": "a"}, hashes=_checked_hashes(77))
    body = json.dumps(checked.to_json())
    assert runtime.process(body) == "processed"
    assert runtime.process(body) == "already_processed"  # the answer kept and published by the first
    # The edge finding the object gone on a later delivery of the same event: nothing more (the
    # kept answer says it was answered; a `gone` claims nothing).
    gone = replace(checked, kind=Kind.GONE, hashes=None)
    assert runtime.process(json.dumps(gone.to_json())) == "already_processed"
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    # A new write of the key (a new sequencer) is a new check.
    again = replace(checked, obj=replace(obj, sequencer="02"))
    assert runtime.process(json.dumps(again.to_json())) == "processed"
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])) == 1


def test_large_submissions_travel_through_the_signals_bucket_and_are_deleted(moto_aws: Stack) -> None:
    outputs = moto_aws.outputs()
    sqs, s3 = _client("sqs"), _client("s3")
    bucket = outputs["SignalsBucketName"]
    queue = outputs["CheckQueueUrl"]
    sink = SqsSubmissionSink({"check": queue, "share": queue, "withdraw": queue}, bucket, sqs, s3)
    frames = tuple(FrameHash(float(t), f"{t:064x}", 90, tuple(f"{t + k:064x}" for k in range(7))) for t in range(600))
    hashes = MediaHashes(media="video", signals={"sha256": "a" * 64, "md5": "b" * 32}, frames=frames, duration=600.0)
    obj = ObjectRef(outputs["IngestBucketName"], "check/tiktok/long.mp4", "e", 1, "01")
    sink.send(Submission("check", "tiktok", obj, Kind.HASHES, hashes=hashes))
    (message,) = sqs.receive_message(QueueUrl=queue).get("Messages", [])
    assert len(message["Body"]) < 1024 and "signals_object" in message["Body"]
    reader = SubmissionReader(s3)
    submission, where = reader.read(message["Body"])
    assert submission is not None and submission.hashes == hashes and where is not None
    reader.discard(where)
    assert reader.read(message["Body"]) == (None, where)  # a redelivery after processing: nothing to do


def test_hand_offs_are_recorded_in_their_own_table_per_s3_event(moto_aws: Stack) -> None:
    outputs = moto_aws.outputs()
    table = moto_aws.physical_names("HandOffTable")["ref"]
    handoffs = DynamoHandOffs(table, _client("dynamodb"), clock=lambda: 1_000_000.0)
    obj = ObjectRef(outputs["IngestBucketName"], "check/tiktok/a.jpg", "e", 1, "01")
    assert not handoffs.handed_on(obj)
    handoffs.record(obj)
    handoffs.record(obj)  # a retry records it again, harmlessly
    assert handoffs.handed_on(obj)
    assert not handoffs.handed_on(replace(obj, sequencer="02")), "a new write of the key is a new object"
    assert not handoffs.handed_on(replace(obj, etag="f"))
    # Kept past the dead-letter queues' 14 days: a replayed dead letter's `gone` still finds it.
    item = _client("dynamodb").get_item(TableName=table, Key=DynamoHandOffs.key(obj))["Item"]
    assert int(item["expires_at"]["N"]) == 1_000_000 + KEEP_SECONDS > 1_000_000 + 14 * 24 * 3600


def test_kept_answers_first_writer_wins_and_large_ones_overflow_to_s3(moto_aws: Stack) -> None:
    from hashmatch.aws.answers import INLINE_LIMIT, DynamoAnswerStore
    from hashmatch.service.notifications import EventType, Notification

    outputs = moto_aws.outputs()
    session = boto3.session.Session(region_name="us-east-1")
    table = session.resource("dynamodb").Table(outputs["BankTableName"])
    s3 = session.client("s3")
    answers = DynamoAnswerStore(table, s3, outputs["ResultsBucketName"])
    clean = Notification("tiktok", EventType.CHECK_CLEAN, {"notification_id": "a", "é": "ü"})
    found = Notification("tiktok", EventType.MATCH_FOUND, {"notification_id": "b"})

    assert answers.kept("k1") is None
    assert answers.keep("k1", [clean]) == (clean,)
    assert answers.keep("k1", [found]) == (clean,)  # a second decision does not replace the first
    kept = answers.kept("k1")
    assert kept is not None and kept.notifications == (clean,) and not kept.published
    answers.mark_published("k1")
    assert answers.kept("k1").published

    # Incompressible bodies over the inline limit: the record points to an object under answers/.
    import os

    noisy = [Notification("tiktok", EventType.HASH_SHARED, {"n": os.urandom(1024).hex()}) for _ in range(400)]
    assert len(json.dumps([n.body for n in noisy])) > INLINE_LIMIT
    assert answers.keep("k2", noisy) == tuple(noisy)
    assert answers.kept("k2").notifications == tuple(noisy)
    listed = s3.list_objects_v2(Bucket=outputs["ResultsBucketName"], Prefix="answers/")["Contents"]
    assert len(listed) == 1


def test_a_check_retried_after_sns_failed_republishes_its_first_verdict(moto_aws: Stack) -> None:
    settings = _settings(moto_aws)
    sqs, sns = _client("sqs"), _client("sns")
    url = sqs.create_queue(QueueName="retried-verdicts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=settings.topic_arn("twitch"), Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    session = boto3.session.Session(region_name="us-east-1")
    sns_down = {"on": True}

    def unreachable(**_kwargs):
        if sns_down["on"]:
            raise ConnectionError("SNS unreachable")

    session.events.register("before-call.sns.Publish", unreachable)
    runtime = build_runtime(settings, session)
    obj = ObjectRef(moto_aws.outputs()["IngestBucketName"], "check/twitch/r.jpg", etag="e1", size=1, sequencer="07")
    hashes = _checked_hashes(78)
    body = json.dumps(Submission("check", "twitch", obj, Kind.HASHES, hashes=hashes).to_json())

    with pytest.raises(ConnectionError):
        runtime.process(body)
    sns_down["on"] = False
    # The same picture is shared before the retry: deciding again would say match.found.
    share_obj = replace(obj, key="share/tiktok/r.jpg", sequencer="08")
    share = Submission("share", "tiktok", share_obj, Kind.HASHES, hashes=hashes)
    assert runtime.process(json.dumps(share.to_json())) == "processed"

    assert runtime.process(body) == "processed"

    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    verdicts = [json.loads(m["Body"])["event_type"] for m in messages]
    assert verdicts.count("check.clean") == 1 and "match.found" not in verdicts
