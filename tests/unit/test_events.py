"""The sample events in events/ (the ones `sam local invoke -e` takes) parse as the handlers need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashmatch.service.events import MalformedEvent, objects_from_message
from hashmatch.service.service import route_for

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"
PLATFORMS = ("tiktok", "facebook", "youtube")


def _objects(name: str):
    event = json.loads((EVENTS / name).read_text())
    return [obj for record in event["Records"] for obj in objects_from_message(record["body"])]


def test_every_sample_event_routes_to_a_platform() -> None:
    files = sorted(p.name for p in EVENTS.glob("*.json"))
    assert files, "events/ holds sample events"
    for name in files:
        for obj in _objects(name):
            assert route_for(obj.key, PLATFORMS).platform in PLATFORMS


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
