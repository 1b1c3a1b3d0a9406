from __future__ import annotations

import json

import jsonschema
import pytest

from hashmatch.bank.model import Match, Provenance, SharedItem
from hashmatch.governance.taxonomy import taxonomy
from hashmatch.service.notifications import (
    MAX_BODY_BYTES,
    MAX_ITEMS_PER_MESSAGE,
    EventType,
    ObjectRef,
    items_notifications,
    notification_schema,
    rejection_notification,
    verdict_notification,
)

pytestmark = pytest.mark.unit

OBJ = ObjectRef("bucket", "check/tiktok/a.jpg", "etag", 10, "00AB")
SIGNALS = {"sha256": "a" * 64, "md5": "b" * 32, "pdq": "c" * 64, "phash": "d" * 16}
WHEN = "2026-11-30T12:00:00.000Z"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = notification_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _match(**overrides) -> Match:
    fields = {"item_id": "i1", "signal": "pdq", "distance": 12, "labels": ("gore",), "contributor": "youtube"}
    return Match(**{**fields, **overrides})


def test_verdicts_conform(validator) -> None:
    found = verdict_notification(
        platform="tiktok",
        obj=OBJ,
        content_id="c-1",
        occurred_at=WHEN,
        media="image",
        signals=SIGNALS,
        matches=[_match(), _match(item_id="i2", contributor="reddit", severity="high")],
    )
    validator.validate(found.body)
    assert found.event_type is EventType.MATCH_FOUND
    assert found.body["contributors"] == ["reddit", "youtube"]
    assert found.labels == ("gore",)
    clean = verdict_notification(
        platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, media="image", signals=SIGNALS, matches=[]
    )
    validator.validate(clean.body)
    assert clean.event_type is EventType.CHECK_CLEAN


def test_schema_catches_inconsistent_bodies(validator) -> None:
    clean = verdict_notification(
        platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, media="image", signals=SIGNALS, matches=[]
    ).body
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**clean, "event_type": "match.found"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**clean, "signals": {"pdq": "XYZ"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**clean, "surprise": 1})


def test_rejections_conform(validator) -> None:
    body = rejection_notification(
        event_type=EventType.CHECK_REJECTED,
        platform="tiktok",
        obj=OBJ,
        content_id="c",
        occurred_at=WHEN,
        reason="corrupt",
        message="truncated JPEG",
    ).body
    validator.validate(body)
    assert body["rejection"] == {"reason": "corrupt", "message": "truncated JPEG"}


def test_shared_items_are_paged_for_every_recipient(validator) -> None:
    items = [
        SharedItem(f"i{n}", Provenance("youtube", WHEN, ("gore",), note="n"), "hashes", {"md5": f"{n:032x}"})
        for n in range(MAX_ITEMS_PER_MESSAGE + 1)
    ]
    sent = items_notifications(
        owner="youtube",
        event_type=EventType.HASH_SHARED,
        recipients=["tiktok", "reddit"],
        obj=OBJ,
        content_id=None,
        occurred_at=WHEN,
        items=items,
    )
    assert len(sent) == 4
    for notification in sent:
        validator.validate(notification.body)
    assert [n.body["page"] for n in sent if n.platform == "tiktok"] == [{"number": 1, "of": 2}, {"number": 2, "of": 2}]
    assert len({n.body["notification_id"] for n in sent}) == 4


# What SNS takes at most, attributes included.
SNS_MESSAGE_BYTES = 256 * 1024


def test_a_verdict_with_more_matches_than_a_message_holds_lists_the_closest_and_counts_the_rest(validator) -> None:
    # A member that shared thousands of near-copies of one picture must not leave a rival's check
    # of that picture unanswered: SNS refuses a message over 256 KiB.
    matches = [_match(item_id=f"youtube-{n:040d}", distance=n % 31) for n in range(3000)]
    found = verdict_notification(
        platform="tiktok", obj=OBJ, content_id="c-1", occurred_at=WHEN, media="image", signals=SIGNALS, matches=matches
    )
    validator.validate(found.body)
    assert len(found.to_json().encode()) <= MAX_BODY_BYTES < SNS_MESSAGE_BYTES
    listed = found.body["matches"]
    assert 100 < len(listed) < 3000
    assert found.body["matches_left_out"] == 3000 - len(listed)
    assert [m["item_id"] for m in listed] == [m.item_id for m in matches[: len(listed)]]
    few = verdict_notification(
        platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, media="video", signals={}, matches=matches[:9]
    )
    assert len(few.body["matches"]) == 9 and "matches_left_out" not in few.body


def test_shared_items_with_long_notes_are_paged_within_a_message(validator) -> None:
    items = [
        SharedItem(f"i{n}", Provenance("youtube", WHEN, ("gore",), note="x" * 4000), "hashes", {"md5": f"{n:032x}"})
        for n in range(MAX_ITEMS_PER_MESSAGE)
    ]
    sent = items_notifications(
        owner="youtube",
        event_type=EventType.HASH_SHARED,
        recipients=["tiktok"],
        obj=OBJ,
        content_id=None,
        occurred_at=WHEN,
        items=items,
    )
    assert len(sent) >= 2
    assert all(len(n.to_json().encode()) <= MAX_BODY_BYTES for n in sent)
    assert [i["item_id"] for n in sent for i in n.body["items"]] == [i.item_id for i in items]
    for notification in sent:
        validator.validate(notification.body)


def test_other_members_never_learn_the_sharers_object_key_or_content_id(validator) -> None:
    item = SharedItem("i1", Provenance("youtube", WHEN, ("graphic-violence",)), "hashes", {"md5": "0" * 32})
    sent = items_notifications(
        owner="youtube",
        event_type=EventType.HASH_WITHDRAWN,
        recipients=["youtube", "tiktok"],
        obj=OBJ,
        content_id="youtube-video-42",
        occurred_at=WHEN,
        items=[item],
    )
    by_platform = {n.platform: n.body for n in sent}
    for body in by_platform.values():
        validator.validate(body)
    assert by_platform["youtube"]["content_id"] == "youtube-video-42"
    assert by_platform["youtube"]["object"] == {"bucket": OBJ.bucket, "key": OBJ.key}
    rival = json.dumps(by_platform["tiktok"])
    assert "object" not in by_platform["tiktok"] and "content_id" not in by_platform["tiktok"]
    assert "youtube-video-42" not in rival and OBJ.key not in rival
    assert by_platform["tiktok"]["items"][0]["item_id"] == "i1"


def test_every_notification_names_the_taxonomy_version(validator) -> None:
    body = verdict_notification(
        platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, media="image", signals=SIGNALS, matches=[]
    ).body
    validator.validate(body)
    assert body["taxonomy_version"] == taxonomy().version


def test_notification_ids_are_stable_across_redeliveries() -> None:
    def build():
        return verdict_notification(
            platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, media="image", signals=SIGNALS, matches=[]
        )

    assert build().body["notification_id"] == build().body["notification_id"]
