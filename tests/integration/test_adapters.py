"""The S3, SNS and idempotency adapters on moto, with resources from template.yaml."""

from __future__ import annotations

import json

import boto3
import pytest

from hashmatch.aws.runtime import build_runtime
from hashmatch.aws.s3 import S3ObjectStore
from hashmatch.aws.sns import SnsNotifier
from hashmatch.service.notifications import ObjectRef, verdict_notification
from hashmatch.service.settings import Settings
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


def test_the_same_s3_event_twice_gives_one_verdict(moto_aws: Stack) -> None:
    outputs = moto_aws.outputs()
    settings = Settings.from_environment(
        {
            "TABLE_NAME": outputs["BankTableName"],
            "INGEST_BUCKET": outputs["IngestBucketName"],
            "PLATFORMS": ",".join(moto_aws.parameters["Platforms"]),
            "TOPIC_ARN_TEMPLATE": outputs["TopicArnTemplate"],
        }
    )
    sqs, sns, s3 = _client("sqs"), _client("sns"), _client("s3")
    url = sqs.create_queue(QueueName="verdicts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=settings.topic_arn("twitch"), Protocol="sqs", Endpoint=arn)
    runtime = build_runtime(settings, boto3.session.Session(region_name="us-east-1"))
    body = jpeg_bytes(scene(77, (320, 240)))
    obj = ObjectRef(settings.ingest_bucket, "check/twitch/a.jpg", etag="e1", size=len(body), sequencer="01")
    s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=body)
    assert runtime.process(obj) == "processed"
    # A redelivery that finds the object again (re-written before the retry) is still one event.
    s3.put_object(Bucket=obj.bucket, Key=obj.key, Body=body)
    assert runtime.process(obj) == "processed"
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    # A new write of the key (a new sequencer) is a new check.
    assert runtime.process(ObjectRef(obj.bucket, obj.key, "e1", len(body), "02")) == "processed"
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])) == 1
