"""The light client's notification models, held to the JSON Schema and to the server's own builders.

Every body here is made by `hashmatch.service.notifications` and validated against the schema
before the client parses it, so the models are tested against what subscribers really receive.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hashmatch_client
from hashmatch.bank.model import Match, Provenance, SharedItem
from hashmatch.governance.incidents import Incident, TimelineEntry
from hashmatch.service import metadata as server_metadata
from hashmatch.service.notifications import (
    EventType,
    ObjectRef,
    completed_notification,
    expired_notification,
    failed_notification,
    governance_notifications,
    incident_notifications,
    items_notifications,
    notification_schema,
    published_schema,
    rejection_notification,
    verdict_notification,
)
from hashmatch_client import (
    MODELS,
    REQUIRED,
    InvalidNotification,
    Notification,
    encode_metadata,
    parse_notification,
)

pytestmark = pytest.mark.unit

OBJ = ObjectRef("ingest", "check/tiktok/0a1b2c3d4e5f-пост.jpg", "etag", 10, "00AB")
SIGNALS = {"sha256": "a" * 64, "md5": "b" * 32, "pdq": "c" * 64, "phash": "d" * 16}
WHEN = "2026-12-04T12:00:00.000Z"
# Which model class parses each nested object of the schema ($defs and inline objects).
NESTED = {
    ("$defs", "match"): hashmatch_client.Match,
    ("$defs", "item"): hashmatch_client.Item,
    ("properties", "object"): hashmatch_client.ObjectRef,
    ("properties", "results"): hashmatch_client.ObjectRef,
    ("properties", "rejection"): hashmatch_client.Rejection,
    ("properties", "page"): hashmatch_client.Page,
    ("properties", "part"): hashmatch_client.Page,
    ("properties", "entry"): hashmatch_client.Entry,
    ("properties", "counts"): hashmatch_client.Counts,
    ("properties", "expiry"): hashmatch_client.Expiry,
    ("properties", "failure"): hashmatch_client.Failure,
    ("properties", "governance"): hashmatch_client.Governance,
    ("properties", "incident"): hashmatch_client.Incident,
}


def _item(item_id: str = "i1", **provenance: Any) -> SharedItem:
    return SharedItem(item_id, Provenance("youtube", WHEN, ("graphic-violence",), **provenance), "image", dict(SIGNALS))


def _incident() -> Incident:
    return Incident(
        "inc-7",
        "A livestreamed attack",
        ("violent-extremism",),
        "escalated",
        "platform:tiktok",
        WHEN,
        (
            TimelineEntry(WHEN, "opened", "platform:tiktok"),
            TimelineEntry("2026-12-04T12:05:00.000Z", "escalated", "operator:ana", "copies on three platforms"),
        ),
    )


def _server_bodies() -> list[dict[str, Any]]:
    """At least one body of every event type, built by the server, richest shapes included."""
    matches = [
        Match("i1", "pdq", 12, ("graphic-violence",), "youtube", severity="high", query="below_caption/flip_x"),
        Match("i2", "pdq", 20, ("graphic-violence",), "reddit", incident="inc-7", backers=("reddit", "twitch")),
        Match("i3", "pdq", 3, (), "operator", benign=True, detail={"region": [0.1, 0.0, 0.9, 1.0]}),
    ]
    bodies = [
        verdict_notification(
            platform="tiktok",
            obj=OBJ,
            content_id="пост-1234",
            occurred_at=WHEN,
            media="image",
            signals=SIGNALS,
            matches=matches,
        ),
        verdict_notification(
            platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, media="image", signals=SIGNALS, matches=[]
        ),
        verdict_notification(
            platform="tiktok",
            obj=OBJ,
            content_id="帖子",
            occurred_at=WHEN,
            media="hashes",
            signals=SIGNALS,
            matches=matches[:1],
            entry=3,
            checked_at="2026-12-01T00:00:00.000Z",
        ),
        completed_notification(
            platform="tiktok",
            obj=OBJ,
            content_id=None,
            occurred_at=WHEN,
            results=("results", "results/tiktok/1"),
            counts={"entries": 500, "matched": 2, "clean": 497, "rejected": 1},
            chunk=(2, 3),
        ),
    ]
    for event_type in (EventType.CHECK_REJECTED, EventType.SHARE_REJECTED):
        bodies.append(
            rejection_notification(
                event_type=event_type,
                platform="tiktok",
                obj=OBJ,
                content_id="c-1",
                occurred_at=WHEN,
                reason="corrupt",
                message="truncated JPEG",
            )
        )
    for event_type in (EventType.FEEDBACK_REJECTED, EventType.INCIDENT_REJECTED):
        bodies.append(
            rejection_notification(
                event_type=event_type,
                platform="tiktok",
                obj=OBJ,
                content_id=None,
                occurred_at=WHEN,
                reason="invalid_request",
                message="no target",
            )
        )
    for event_type in (EventType.CHECK_EXPIRED, EventType.SHARE_EXPIRED):
        bodies.append(
            expired_notification(
                event_type=event_type, platform="tiktok", obj=OBJ, content_id="c", occurred_at=WHEN, message="gone"
            )
        )
    for event_type in (EventType.CHECK_FAILED, EventType.SHARE_FAILED):
        bodies.append(
            failed_notification(
                event_type=event_type, platform="tiktok", obj=OBJ, content_id=None, occurred_at=WHEN, message="down"
            )
        )
    items = [_item("i1", severity="high", incident="inc-7", note="a note"), _item("i2")]
    video = SharedItem(
        "v1", Provenance("youtube", WHEN, ("graphic-violence",)), "video", {"md5": "e" * 32}, duration=31.5
    )
    for event_type in (EventType.HASH_SHARED, EventType.HASH_WITHDRAWN, EventType.SHARE_ACCEPTED):
        bodies.extend(
            items_notifications(
                owner="youtube",
                event_type=event_type,
                recipients=["youtube", "tiktok"],
                obj=OBJ,
                content_id="ролик",
                occurred_at=WHEN,
                items=[*items, video],
                part=(2, 3),
            )
        )
    for event_type, detail in (
        (EventType.HASH_CONFIRMED, {"action": "confirmed", "by": "reddit", "confirmations": 2}),
        (EventType.HASH_DISPUTED, {"action": "disputed", "by": "reddit", "reason": "a meme", "disputes": 1}),
        (
            EventType.HASH_QUARANTINED,
            {
                "action": "quarantined",
                "by": "disputes",
                "disputes": 3,
                "quorum": 3,
                "disputes_by": [{"member": "reddit", "reason": "a meme"}, {"member": "twitch", "reason": "benign"}],
            },
        ),
        (EventType.HASH_RESTORED, {"action": "restored", "by": "operator:ana", "reason": "reviewed"}),
        (EventType.HASH_REMOVED, {"action": "removed", "by": "operator:ana", "reason": "wrong file"}),
    ):
        bodies.extend(
            governance_notifications(event_type, ["youtube", "reddit"], items[0], WHEN, "d1", lambda _p, d=detail: d)
        )
    for event_type in (EventType.INCIDENT_OPENED, EventType.INCIDENT_ESCALATED, EventType.INCIDENT_CLOSED):
        bodies.extend(incident_notifications(event_type, ["tiktok", "reddit"], _incident(), WHEN, "inc-7#1"))
    return [n.body for n in bodies]


BODIES = _server_bodies()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(notification_schema(), format_checker=jsonschema.FormatChecker())


def _required_by_event_type(schema: Mapping[str, Any]) -> dict[str, set[str]]:
    """What the schema requires of a body of each event type: the top level's required, plus the
    `then.required` of every `allOf` clause whose `if` names that event type."""
    required: dict[str, set[str]] = {}
    for event_type in schema["properties"]["event_type"]["enum"]:
        fields_ = set(schema["required"])
        for clause in schema["allOf"]:
            condition = clause["if"]["properties"]["event_type"]
            if event_type in condition.get("enum", [condition.get("const")]):
                fields_ |= set(clause["then"].get("required", []))
        required[event_type] = fields_
    return required


def _field_names(model: type) -> set[str]:
    return {f.name for f in fields(model) if f.name != "raw"}


def _required_field_names(model: type) -> set[str]:
    return {f.name for f in fields(model) if f.default is MISSING and f.default_factory is MISSING}


def _carries(value: Any, body: Any, where: str = "body") -> None:
    """`value` (a model) holds every field of `body` with the same value, and holds nothing the
    body lacks (an absent field is None, empty or False in the model)."""
    if isinstance(body, dict):
        for key, expected in body.items():
            got = value[key] if isinstance(value, Mapping) else getattr(value, key)
            _carries(got, expected, f"{where}.{key}")
        if is_dataclass(value):
            for name in _field_names(type(value)) - set(body):
                assert getattr(value, name) in (None, (), False, {}, ""), f"{where}.{name} is not in the body"
    elif isinstance(body, list):
        assert len(value) == len(body), where
        for index, (got, expected) in enumerate(zip(value, body, strict=True)):
            _carries(got, expected, f"{where}[{index}]")
    else:
        assert value == body and type(value) is type(body), f"{where}: {value!r} != {body!r}"


# ---------------------------------------------------------------------------- the models and the schema


def test_every_event_type_in_the_schema_has_a_model() -> None:
    enum = set(published_schema()["properties"]["event_type"]["enum"])
    assert set(MODELS) == enum
    assert set(REQUIRED) == enum
    assert {e.value for e in hashmatch_client.EventType} == enum
    assert {e.value for e in EventType} == enum


def test_the_client_requires_exactly_what_the_schema_requires_of_each_event_type() -> None:
    """Fails when the schema gains a required field (or event type) the client does not require."""
    assert {e: set(f) for e, f in REQUIRED.items()} == _required_by_event_type(published_schema())


def test_each_model_has_a_field_for_everything_its_event_type_requires() -> None:
    for event_type, required in _required_by_event_type(published_schema()).items():
        missing = required - _field_names(MODELS[event_type])
        assert not missing, f"{MODELS[event_type].__name__} ({event_type}) has no field for {sorted(missing)}"


def test_every_property_of_the_schema_has_a_model_field() -> None:
    schema = published_schema()
    top_level = set().union(*(_field_names(model) for model in MODELS.values()))
    assert set(schema["properties"]) - top_level == set(), "top-level properties no model carries"
    for (section, name), model in NESTED.items():
        definition = schema[section][name]
        assert set(definition["properties"]) == _field_names(model), f"{section}/{name} vs {model.__name__}"
        assert set(definition.get("required", [])) == _required_field_names(model), f"{section}/{name} required"
    governance = schema["properties"]["governance"]["properties"]["disputes_by"]["items"]
    assert set(governance["properties"]) == _field_names(hashmatch_client.Dispute) == set(governance["required"])
    step = schema["properties"]["incident"]["properties"]["timeline"]["items"]
    assert set(step["properties"]) == _field_names(hashmatch_client.TimelineStep)
    assert set(step["required"]) == _required_field_names(hashmatch_client.TimelineStep)


# ---------------------------------------------------------------------------- the server's bodies


def test_the_server_bodies_cover_every_event_type(validator) -> None:
    for body in BODIES:
        validator.validate(body)
    assert {body["event_type"] for body in BODIES} == set(MODELS)


@pytest.mark.parametrize("body", BODIES, ids=lambda body: f"{body['event_type']}-{body['platform']}")
def test_server_bodies_parse_into_their_model_and_keep_every_field(body: dict[str, Any]) -> None:
    notification = parse_notification(body)
    assert type(notification) is MODELS[body["event_type"]]
    _carries(notification, body)
    assert notification.raw == body


def test_a_verdict_reads_as_a_subscriber_would_use_it() -> None:
    found = parse_notification(BODIES[0])
    assert isinstance(found, hashmatch_client.MatchFound) and isinstance(found, hashmatch_client.Verdict)
    assert found.content_id == "пост-1234"
    assert found.object == hashmatch_client.ObjectRef("ingest", OBJ.key)
    assert [m.item_id for m in found.matches] == ["i1", "i2", "i3"]
    assert found.matches[0].labels == ("graphic-violence",) and found.matches[0].severity == "high"
    assert found.matches[2].benign and found.benign_collision
    assert found.corroboration == ("reddit", "twitch")
    retroactive = parse_notification(BODIES[2])
    assert isinstance(retroactive, hashmatch_client.Verdict)
    assert retroactive.retroactive and retroactive.entry == hashmatch_client.Entry(3)


# ---------------------------------------------------------------------------- tolerant and strict


def test_fields_and_event_types_added_later_are_tolerated() -> None:
    body = copy.deepcopy(BODIES[0])
    body["added_later"] = {"x": 1}
    body["matches"][0]["added_later"] = True
    body["object"]["version_id"] = "v2"
    parsed = parse_notification(body)
    assert isinstance(parsed, hashmatch_client.MatchFound)
    assert parsed.raw["added_later"] == {"x": 1}
    incident = copy.deepcopy(next(b for b in BODIES if b["event_type"] == "incident.opened"))
    incident["incident"]["severity"] = "critical"
    incident["incident"]["timeline"][0]["via"] = "api"
    assert isinstance(parse_notification(incident), hashmatch_client.IncidentNotification)
    future = {**BODIES[1], "event_type": "hash.expired", "whatever": [1]}
    parsed_future = parse_notification(future)
    assert type(parsed_future) is Notification and parsed_future.event_type == "hash.expired"


@pytest.mark.parametrize("body", BODIES[:: max(1, len(BODIES) // 20)], ids=lambda body: body["event_type"])
def test_a_body_without_a_required_field_is_refused_naming_it(body: dict[str, Any]) -> None:
    for name in REQUIRED[body["event_type"]]:
        broken = {k: v for k, v in body.items() if k != name}
        with pytest.raises(InvalidNotification, match=name):
            parse_notification(broken)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("matches", 0, "labels"), None),
        (("matches", 0, "distance"), "12"),
        (("matches", 0, "distance"), True),
        (("signals", "pdq"), 7),
        (("object", "key"), None),
        (("notification_id",), 42),
        (("contributors",), "youtube"),
    ],
)
def test_a_required_nested_field_missing_or_of_the_wrong_type_is_refused(path: tuple[Any, ...], value: Any) -> None:
    body = copy.deepcopy(BODIES[0])
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    with pytest.raises(InvalidNotification, match=str(path[-1])):
        parse_notification(body)


def test_only_content_id_may_be_null_where_it_is_required() -> None:
    assert parse_notification({**BODIES[1], "content_id": None}).content_id is None
    with pytest.raises(InvalidNotification, match="object"):
        parse_notification({**BODIES[1], "object": None})


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidNotification):
        parse_notification([])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- metadata


@given(st.text(max_size=60))
def test_metadata_the_client_encodes_the_coalition_decodes_as_written(value: str) -> None:
    encoded = encode_metadata({"content-id": value})
    assert all(c.isascii() for c in encoded["content-id"])
    assert server_metadata.decode_metadata(encoded) == {"content-id": value}
    assert encoded == server_metadata.encode_metadata({"content-id": value})


def test_plain_ascii_metadata_is_sent_as_written() -> None:
    assert encode_metadata({"content-id": "post-1234", "labels": "a,b"}) == {"content-id": "post-1234", "labels": "a,b"}
    assert encode_metadata({"content-id": "пост"})["content-id"].startswith("=?UTF-8?B?")
