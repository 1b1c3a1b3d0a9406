"""The one notification body every subscriber receives, versioned and described by a JSON Schema.

`schemas/notification.v2.json` is the contract; tests validate every body built here against it.
Its signal names are the registry's: `notification_schema()` is the published file with the signal
definitions derived from `hashmatch.signals.SIGNALS`, and a test asserts the two agree for the
built-in signals.

Version 2 changed the vocabulary of `matches[].query` (version 1: ``rotation-N``, ``framing-N``,
``uneven-crop``; version 2: names that say which rotation or region, see the schema) and of the
orientations in video match details (``rotate90`` became ``rotate_90``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from hashmatch.bank.model import Match, SharedItem
from hashmatch.governance.incidents import Incident
from hashmatch.governance.taxonomy import taxonomy
from hashmatch.signals import SIGNALS

SCHEMA_VERSION = "2"
SCHEMA_ID = f"https://hashmatch.dev/schemas/notification.v{SCHEMA_VERSION}.json"
# An SNS message is at most 256 KiB, its attributes included: a body is kept within this many bytes
# of JSON. Shared items are split across messages of at most `MAX_ITEMS_PER_MESSAGE` and at most
# `MAX_BODY_BYTES`; a verdict with more matches than fit lists the closest (`matches_left_out`).
MAX_BODY_BYTES = 240 * 1024
MAX_ITEMS_PER_MESSAGE = 100


class EventType(StrEnum):
    MATCH_FOUND = "match.found"
    CHECK_CLEAN = "check.clean"
    CHECK_REJECTED = "check.rejected"
    HASH_SHARED = "hash.shared"
    HASH_WITHDRAWN = "hash.withdrawn"
    SHARE_ACCEPTED = "share.accepted"
    SHARE_REJECTED = "share.rejected"
    CHECK_COMPLETED = "check.completed"
    CHECK_EXPIRED = "check.expired"
    SHARE_EXPIRED = "share.expired"
    CHECK_FAILED = "check.failed"
    SHARE_FAILED = "share.failed"
    # Governance (`hashmatch.service.governance`): feedback on an item and what came of it.
    HASH_CONFIRMED = "hash.confirmed"
    HASH_DISPUTED = "hash.disputed"
    HASH_QUARANTINED = "hash.quarantined"
    HASH_RESTORED = "hash.restored"
    HASH_REMOVED = "hash.removed"
    FEEDBACK_REJECTED = "feedback.rejected"
    # Incidents (`hashmatch.governance.incidents`): opened, escalated, closed; a request refused.
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_ESCALATED = "incident.escalated"
    INCIDENT_CLOSED = "incident.closed"
    INCIDENT_REJECTED = "incident.rejected"


@dataclass(frozen=True)
class ObjectRef:
    """An object a platform dropped into the ingest bucket."""

    bucket: str
    key: str
    etag: str = ""
    size: int = 0
    sequencer: str = ""
    # Who wrote it, as the S3 event names them ("AWS:AROA...:session" for an assumed role); ""
    # when the event does not say. Not part of `identity`: the same write is the same delivery.
    principal: str = ""

    @property
    def identity(self) -> str:
        """What makes two S3 events the same delivery: S3's sequencer differs for each new write
        of a key, and stays the same when an event is delivered again."""
        return f"{self.bucket}/{self.key}#{self.sequencer}#{self.etag}#{self.size}"


@dataclass(frozen=True)
class Notification:
    """A message for one platform's topic: its JSON body and the attributes subscribers filter on."""

    platform: str
    event_type: EventType
    body: dict[str, Any]

    @property
    def labels(self) -> tuple[str, ...]:
        found: set[str] = set()
        for match in self.body.get("matches", []):
            found.update(match["labels"])
        for item in self.body.get("items", []):
            found.update(item.get("labels", []))
        return tuple(sorted(found))

    def to_json(self) -> str:
        return json.dumps(self.body, sort_keys=True, separators=(",", ":"))


def published_schema() -> dict[str, Any]:
    """The JSON Schema file shipped with the package, as members read it."""
    text = resources.files("hashmatch").joinpath(f"schemas/notification.v{SCHEMA_VERSION}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def notification_schema() -> dict[str, Any]:
    """The JSON Schema every notification body conforms to: the published one, with its signal
    definitions derived from the signals registered now."""
    schema = published_schema()
    definitions = schema["$defs"]
    definitions["signals"]["properties"] = {
        signal.name: {"type": "string", "pattern": f"^[0-9a-f]{{{signal.hex_length}}}$"}
        for signal in SIGNALS.hash_signals()
    }
    definitions["match"]["properties"]["signal"]["enum"] = list(SIGNALS.names())
    return schema


def _envelope(
    event_type: EventType, platform: str, occurred_at: str, dedupe_key: str, obj: ObjectRef | None
) -> dict[str, Any]:
    # Deterministic: a retried delivery of the same event carries the same id, so subscribers dedupe.
    notification_id = hashlib.sha256(f"{event_type}|{platform}|{dedupe_key}".encode()).hexdigest()[:32]
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "notification_id": notification_id,
        "event_type": event_type.value,
        "platform": platform,
        "occurred_at": occurred_at,
        "taxonomy_version": taxonomy().version,
    }
    if obj is not None:
        body["object"] = {"bucket": obj.bucket, "key": obj.key}
    return body


def match_body(match: Match) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": match.item_id,
        "signal": match.signal,
        "distance": match.distance,
        "query": match.query,
        "labels": list(match.labels),
        "contributor": match.contributor,
    }
    if match.severity:
        body["severity"] = match.severity
    if match.confidence:
        body["confidence"] = match.confidence
    if match.incident:
        body["incident"] = match.incident
    if match.detail:
        body["detail"] = match.detail
    if match.backers:
        body["backers"] = list(match.backers)
    if match.benign:
        body["benign"] = True
    return body


def verdict_notification(
    *,
    platform: str,
    obj: ObjectRef,
    content_id: str | None,
    occurred_at: str,
    media: str,
    signals: dict[str, str],
    matches: list[Match],
    entry: int | None = None,
    checked_at: str | None = None,
) -> Notification:
    """`match.found` when anything matched, else `check.clean`, for the checking platform; for one
    entry (`entry`: its line) of a check-by-hash list, with that entry's content id. With
    `checked_at`, a retroactive `match.found`: an earlier check (`obj`, `content_id`, `entry` are
    its own) matched by items shared since."""
    event_type = EventType.MATCH_FOUND if matches else EventType.CHECK_CLEAN
    dedupe = obj.identity if entry is None else f"{obj.identity}#line{entry}"
    if checked_at is not None:
        dedupe += "#retroactive#" + ",".join(sorted({m.item_id for m in matches}))
    body = _envelope(event_type, platform, occurred_at, dedupe, obj)
    body["content_id"] = content_id
    if entry is not None:
        body["entry"] = {"line": entry}
    if checked_at is not None:
        body["retroactive"] = True
        body["checked_at"] = checked_at
    body["media"] = media
    body["signals"] = dict(signals)
    body["contributors"] = sorted({m.contributor for m in matches if not m.benign})
    if matches:
        body["corroboration"] = sorted({member for m in matches if not m.benign for member in m.backers})
    if any(m.benign for m in matches):
        body["benign_collision"] = True
    listed = [match_body(m) for m in matches]
    kept = _fitting(body, listed)
    body["matches"] = listed[:kept]
    if kept < len(listed):
        body["matches_left_out"] = len(listed) - kept
    return Notification(platform, event_type, body)


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


def _fitting(body: dict[str, Any], listed: list[dict[str, Any]]) -> int:
    """How many of `listed` (in order) `body` can list under "matches" and stay within
    `MAX_BODY_BYTES`, room kept for a `matches_left_out` count: all of them when they fit.

    Matches come best first, and a check that matches some thousands of items (a member that
    shared that many near-copies of one picture) would otherwise make a message SNS refuses, and
    the checking member would never be answered."""
    if not listed:  # a clean verdict: nothing to cut
        return 0
    room = MAX_BODY_BYTES - _json_bytes({**body, "matches": [], "matches_left_out": len(listed)})
    kept = 0
    for match in listed:
        room -= _json_bytes(match) + (1 if kept else 0)
        if room < 0:
            break
        kept += 1
    return kept


def rejection_notification(
    *,
    event_type: EventType,
    platform: str,
    obj: ObjectRef,
    content_id: str | None,
    occurred_at: str,
    reason: str,
    message: str,
) -> Notification:
    """`check.rejected` or `share.rejected`: the file was unusable, and why."""
    body = _envelope(event_type, platform, occurred_at, obj.identity, obj)
    body["content_id"] = content_id
    body["rejection"] = {"reason": reason, "message": message}
    return Notification(platform, event_type, body)


def completed_notification(
    *,
    platform: str,
    obj: ObjectRef,
    content_id: str | None,
    occurred_at: str,
    results: tuple[str, str],
    counts: dict[str, int],
    chunk: tuple[int, int],
) -> Notification:
    """`check.completed`: one chunk of a check-by-hash list is answered; its verdicts, one line per
    entry, are in the results object `results` (bucket, key) the platform may read."""
    number, of = chunk
    body = _envelope(EventType.CHECK_COMPLETED, platform, occurred_at, f"{obj.identity}#{number}", obj)
    body["content_id"] = content_id
    body["results"] = {"bucket": results[0], "key": results[1]}
    body["counts"] = dict(counts)
    body["page"] = {"number": number, "of": of}
    return Notification(platform, EventType.CHECK_COMPLETED, body)


def expired_notification(
    *, event_type: EventType, platform: str, obj: ObjectRef, content_id: str | None, occurred_at: str, message: str
) -> Notification:
    """`check.expired` / `share.expired`: the object was gone before it could be processed, so
    nothing was checked or shared; the platform should upload it again."""
    body = _envelope(event_type, platform, occurred_at, obj.identity, obj)
    body["content_id"] = content_id
    body["expiry"] = {"message": message}
    return Notification(platform, event_type, body)


def failed_notification(
    *,
    event_type: EventType,
    platform: str,
    obj: ObjectRef,
    content_id: str | None,
    occurred_at: str,
    message: str,
    chunk: tuple[int, int] = (1, 1),
) -> Notification:
    """`check.failed` / `share.failed`: the system tried as often as it may and could not answer;
    nothing was checked or shared. Operators see the record in the dead-letter queues and may
    replay it (`hashmatch dlq replay`), in which case a verdict follows."""
    body = _envelope(event_type, platform, occurred_at, f"{obj.identity}#{chunk[0]}", obj)
    body["content_id"] = content_id
    body["failure"] = {"message": message[:1000]}
    return Notification(platform, event_type, body)


def item_body(item: SharedItem) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_id": item.item_id,
        "contributor": item.provenance.contributor,
        "shared_at": item.provenance.shared_at,
        "labels": list(item.provenance.labels),
        "media": item.media,
        "signals": dict(item.signals),
    }
    for name in ("severity", "confidence", "incident", "note"):
        value = getattr(item.provenance, name)
        if value:
            body[name] = value
    if item.duration is not None:
        body["duration"] = item.duration
    return body


def governance_notifications(
    event_type: EventType,
    recipients: list[str],
    item: SharedItem,
    occurred_at: str,
    dedupe: str,
    detail: Callable[[str], dict[str, Any]],
) -> list[Notification]:
    """`hash.confirmed` / `hash.disputed` / `hash.quarantined` / `hash.restored` / `hash.removed`
    about `item`, one per recipient, with `governance` = `detail(recipient)` (only the
    contributor's copy says who disputed and why)."""
    notifications = []
    for platform in recipients:
        body = _envelope(event_type, platform, occurred_at, dedupe, None)
        body["items"] = [item_body(item)]
        body["page"] = {"number": 1, "of": 1}
        body["governance"] = detail(platform)
        notifications.append(Notification(platform, event_type, body))
    return notifications


def incident_body(incident: Incident) -> dict[str, Any]:
    """An incident as notifications show it, its timeline included."""
    return incident.to_json()


def incident_notifications(
    event_type: EventType, recipients: list[str], incident: Incident, occurred_at: str, dedupe: str
) -> list[Notification]:
    """`incident.opened` / `incident.escalated` / `incident.closed`, one per recipient, with the
    incident as it is now in `incident`."""
    notifications = []
    for platform in recipients:
        body = _envelope(event_type, platform, occurred_at, dedupe, None)
        body["incident"] = incident_body(incident)
        notifications.append(Notification(platform, event_type, body))
    return notifications


def items_notifications(
    *,
    owner: str,
    event_type: EventType,
    recipients: list[str],
    obj: ObjectRef,
    content_id: str | None,
    occurred_at: str,
    items: list[SharedItem],
    part: tuple[int, int] = (1, 1),
) -> list[Notification]:
    """`hash.shared` / `hash.withdrawn` / `share.accepted` for each recipient, in bounded pages;
    `part` says which part of a long hash list they are about (`part` in the body when not (1, 1)).

    `owner` is the member whose submission this answers: only its own notifications name the
    object and content id; other members learn what was shared, never the sharer's key or id."""
    notifications = []
    pages = _pages([item_body(item) for item in items])
    within = obj.identity if part == (1, 1) else f"{obj.identity}#part{part[0]}"
    for page_number, page in enumerate(pages or [[]]):
        for platform in recipients:
            body = _envelope(event_type, platform, occurred_at, f"{within}#{page_number}", obj)
            if platform != owner:
                del body["object"]
            else:
                body["content_id"] = content_id
            body["items"] = page
            body["page"] = {"number": page_number + 1, "of": max(1, len(pages))}
            if part != (1, 1):
                body["part"] = {"number": part[0], "of": part[1]}
            notifications.append(Notification(platform, event_type, body))
    return notifications


# Room a page of items leaves for the envelope around them (ids, object, content id, page, part).
_ENVELOPE_BYTES = 16 * 1024


def _pages(bodies: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """`bodies` in order, split into pages of at most `MAX_ITEMS_PER_MESSAGE` items and at most
    `MAX_BODY_BYTES` less an envelope's room of JSON (a page holds one item at least)."""
    pages: list[list[dict[str, Any]]] = []
    page: list[dict[str, Any]] = []
    room = MAX_BODY_BYTES - _ENVELOPE_BYTES
    for body in bodies:
        size = _json_bytes(body) + 1
        if page and (len(page) == MAX_ITEMS_PER_MESSAGE or size > room):
            pages.append(page)
            page, room = [], MAX_BODY_BYTES - _ENVELOPE_BYTES
        page.append(body)
        room -= size
    if page:
        pages.append(page)
    return pages
