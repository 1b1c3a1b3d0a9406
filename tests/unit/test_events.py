"""The sample events in events/ (the ones `sam local invoke -e` takes) parse as the handlers need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashmatch.aws.api import handle_request
from hashmatch.governance.callers import MemberCallers
from hashmatch.governance.policy import CoalitionRules
from hashmatch.service.events import MalformedEvent, objects_from_message
from hashmatch.service.routing import route_for
from hashmatch.service.submission import Kind, submission_from_json
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"
PLATFORMS = ("tiktok", "facebook", "youtube")


# HashFunction takes S3 events; CheckFunction and ShareFunction submissions; LookupFunction API requests.
S3_EVENTS = ("check-image.json", "share-image.json", "share-hash-list.json", "withdraw.json", "s3-test-event.json")
SUBMISSIONS = ("check-submission.json", "share-submission.json")
API_REQUESTS = ("lookup-candidates.json", "lookup-request.json")


def _objects(name: str):
    event = json.loads((EVENTS / name).read_text())
    return [obj for record in event["Records"] for obj in objects_from_message(record["body"])]


def test_every_sample_event_is_one_the_tests_read() -> None:
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(S3_EVENTS + SUBMISSIONS + API_REQUESTS)


@pytest.mark.parametrize("name", S3_EVENTS)
def test_every_s3_event_routes_to_a_platform(name: str) -> None:
    for obj in _objects(name):
        assert route_for(obj.key, PLATFORMS).platform in PLATFORMS


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_sample_submissions_are_processed_by_the_coalition(name: str) -> None:
    (record,) = json.loads((EVENTS / name).read_text())["Records"]
    submission = submission_from_json(json.loads(record["body"]))
    assert submission.kind is Kind.HASHES and submission.hashes is not None
    notifier = RecordingNotifier()
    pipeline = service_on(MemoryBank(), MemoryStore(), notifier, PLATFORMS)
    pipeline.coalition.process(submission)
    own = [n for n in notifier.sent if n.platform == submission.platform]
    assert own and all(n.body["object"]["key"] == submission.obj.key for n in own)
    # Other members learn what was shared, never the sharer's object key.
    assert all("object" not in n.body for n in notifier.sent if n.platform != submission.platform)


def test_the_sample_api_request_is_answered() -> None:
    event = json.loads((EVENTS / "lookup-candidates.json").read_text())
    pipeline = service_on(MemoryBank(), MemoryStore(), RecordingNotifier(), PLATFORMS)
    answer = handle_request(event, lambda: pipeline.matcher)
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == {"candidates": []}


def test_the_sample_lookup_is_answered_entry_by_entry() -> None:
    event = json.loads((EVENTS / "lookup-request.json").read_text())
    pipeline = service_on(MemoryBank(), MemoryStore(), RecordingNotifier(), PLATFORMS)
    answer = handle_request(event, lambda: pipeline.matcher)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {
        "results": [
            {"entry": 0, "content_id": "upload-8841", "matches": []},
            {"entry": 1, "content_id": "upload-8842", "matches": []},
        ]
    }


def test_keys_are_url_decoded() -> None:
    (obj,) = _objects("check-image.json")
    assert obj.key == "check/facebook/upload 2026-11-30/Happy Face.jpg"
    assert obj.sequencer and obj.etag and obj.size > 0


def test_s3_test_event_reports_nothing() -> None:
    assert _objects("s3-test-event.json") == []


@pytest.mark.parametrize("body", ["not json", "[1]", '{"Records": [{"eventName": "ObjectCreated:Put"}]}', "{}"])
def test_malformed_messages_raise(body: str) -> None:
    with pytest.raises(MalformedEvent):
        objects_from_message(body)


def test_removal_events_are_ignored() -> None:
    body = json.dumps({"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {}}]})
    assert objects_from_message(body) == []


def test_the_s3_events_name_their_writer() -> None:
    for name in S3_EVENTS:
        for obj in _objects(name):
            assert obj.principal.startswith("AWS:"), name


def test_the_sample_lookup_is_signed_by_a_members_role() -> None:
    """Its caller is what API Gateway names for a session of tiktok's role (stack ``hashmatch``)."""
    event = json.loads((EVENTS / "lookup-request.json").read_text())
    callers = MemberCallers("123456789012", {"tiktok": "hashmatch-tiktok", "facebook": "hashmatch-facebook"})
    assert callers.member_of(event["requestContext"]["authorizer"]["iam"]) == "tiktok"
    pipeline = service_on(MemoryBank(), MemoryStore(), RecordingNotifier(), PLATFORMS)
    event["body"] = json.dumps({**json.loads(event["body"]), "member": "facebook"})
    answer = handle_request(event, lambda: pipeline.matcher, lambda: (PLATFORMS, CoalitionRules()), lambda: callers)
    assert answer["statusCode"] == 403 and json.loads(answer["body"])["error"]["code"] == "wrong_member"
