"""The hashing function's batch: one uneven-crop question for all its checked pictures, and a
record that fails is reported alone (SQS retries just that one)."""

from __future__ import annotations

import json

import pytest

from hashmatch.aws import entrypoint
from hashmatch.edge.ingest import EdgeHasher
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "reddit")
BUCKET = "ingest"


class AskedOnce:
    """The coalition's candidates, each question's number of grids noted."""

    def __init__(self, matcher) -> None:
        self.matcher = matcher
        self.questions: list[int] = []

    def uneven_crop_candidates_many(self, grids):
        self.questions.append(len(grids))
        return self.matcher.uneven_crop_candidates_many(grids)


def _record(message_id: str, body: str) -> dict:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:hashmatch-HashQueue",
        "awsRegion": "us-east-1",
    }


def _s3_event(obj: ObjectRef) -> str:
    created = {"bucket": {"name": obj.bucket}, "object": {"key": obj.key, "eTag": obj.etag, "size": obj.size}}
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": created}]})


def test_the_batch_asks_once_and_only_the_bad_records_are_retried(monkeypatch) -> None:
    store, notifier = MemoryStore(), RecordingNotifier()
    pipeline = service_on(MemoryBank(), store, notifier, PLATFORMS)
    candidates = AskedOnce(pipeline.matcher)
    edge = EdgeHasher(store=store, sink=pipeline.sink, hasher=hash_file, platforms=PLATFORMS, candidates=candidates)
    monkeypatch.setattr(entrypoint, "edge_runtime", lambda: edge)
    uploads = [
        store.put(BUCKET, f"check/reddit/{n}.jpg", jpeg_bytes(scene(80 + n)), {"content-id": f"c{n}"}) for n in range(3)
    ]
    event = {
        "Records": [
            _record("m0", _s3_event(uploads[0])),
            _record("bad-json", "{not json"),
            _record("m1", _s3_event(uploads[1])),
            _record("elsewhere", _s3_event(ObjectRef(BUCKET, "elsewhere/reddit/x.jpg", etag="e", size=1))),
            _record("m2", _s3_event(uploads[2])),
        ]
    }

    response = entrypoint.handle_ingest_batch(event, None)

    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["bad-json", "elsewhere"]
    assert candidates.questions == [3]
    verdicts = sorted((n.body["content_id"], n.event_type) for n in notifier.sent)
    assert verdicts == [(f"c{n}", EventType.CHECK_CLEAN) for n in range(3)]
    assert store.objects == {}
