"""Typed notification bodies (schema version 2): one frozen dataclass per shape.

`parse_notification(body)` turns the JSON body of a message on a member's topic into the model for
its `event_type`. It is strict on what the contract requires (`REQUIRED`: the fields every body
carries and those its event type adds; a missing one or one of the wrong type raises
`InvalidNotification` naming it) and tolerant of what it does not know: fields added to the
contract later are ignored (the whole body stays in `raw`), and an event type added later parses
into the plain envelope, `Notification`. The contract is the JSON Schema
`hashmatch/schemas/notification.v2.json`; hashmatch's tests hold these models to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "MODELS",
    "REQUIRED",
    "SCHEMA_VERSION",
    "CheckClean",
    "CheckCompleted",
    "Counts",
    "Dispute",
    "Entry",
    "EventType",
    "Expired",
    "Expiry",
    "Failed",
    "Failure",
    "Governance",
    "GovernanceNotification",
    "Incident",
    "IncidentNotification",
    "InvalidNotification",
    "Item",
    "ItemsNotification",
    "Match",
    "MatchFound",
    "Notification",
    "ObjectRef",
    "Page",
    "Rejected",
    "Rejection",
    "TimelineStep",
    "Verdict",
    "parse_notification",
]

SCHEMA_VERSION = "2"


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
    HASH_CONFIRMED = "hash.confirmed"
    HASH_DISPUTED = "hash.disputed"
    HASH_QUARANTINED = "hash.quarantined"
    HASH_RESTORED = "hash.restored"
    HASH_REMOVED = "hash.removed"
    FEEDBACK_REJECTED = "feedback.rejected"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_ESCALATED = "incident.escalated"
    INCIDENT_CLOSED = "incident.closed"
    INCIDENT_REJECTED = "incident.rejected"


class InvalidNotification(ValueError):
    """A body that breaks the contract: a required field missing, or a field of the wrong type."""


# ---------------------------------------------------------------------------- parts of a body


@dataclass(frozen=True)
class ObjectRef:
    """An object in a bucket: the one a member dropped (`object`), or a results object (`results`)."""

    bucket: str
    key: str


@dataclass(frozen=True)
class Page:
    """Which page (or part of a long hash list) of how many this message is."""

    number: int
    of: int


@dataclass(frozen=True)
class Entry:
    """The line of a check-by-hash list a verdict is about."""

    line: int


@dataclass(frozen=True)
class Match:
    """One bank item the checked file matched, on one signal."""

    item_id: str
    signal: str
    distance: int
    query: str
    labels: tuple[str, ...]
    contributor: str
    severity: str | None = None
    incident: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    backers: tuple[str, ...] = ()
    benign: bool = False
    confidence: str | None = None


@dataclass(frozen=True)
class Item:
    """One shared item, known by its hashes, with its provenance."""

    item_id: str
    contributor: str
    shared_at: str
    labels: tuple[str, ...]
    media: str
    signals: Mapping[str, str]
    severity: str | None = None
    incident: str | None = None
    note: str | None = None
    duration: float | None = None
    confidence: str | None = None


@dataclass(frozen=True)
class Rejection:
    """Why a file or request was refused: `reason` is a code to act on, `message` says more."""

    reason: str
    message: str


@dataclass(frozen=True)
class Expiry:
    message: str


@dataclass(frozen=True)
class Failure:
    message: str


@dataclass(frozen=True)
class Counts:
    entries: int
    matched: int
    clean: int
    rejected: int


@dataclass(frozen=True)
class Dispute:
    member: str
    reason: str


@dataclass(frozen=True)
class Governance:
    """What happened to the item in a governance notification, by whom and why."""

    action: str
    by: str | None = None
    reason: str | None = None
    disputes: int | None = None
    quorum: int | None = None
    confirmations: int | None = None
    disputes_by: tuple[Dispute, ...] | None = None


@dataclass(frozen=True)
class TimelineStep:
    at: str
    action: str
    by: str
    note: str | None = None


@dataclass(frozen=True)
class Incident:
    """An incident as it is now, every step of its timeline included."""

    incident_id: str
    title: str
    labels: tuple[str, ...]
    status: str
    opened_by: str
    opened_at: str
    timeline: tuple[TimelineStep, ...]


# ---------------------------------------------------------------------------- notifications


@dataclass(frozen=True, kw_only=True)
class Notification:
    """The envelope every notification has; an event type this client does not know parses to this.

    `raw` is the whole body as received, fields added to the contract later included."""

    schema_version: str
    notification_id: str
    event_type: str
    platform: str
    occurred_at: str
    taxonomy_version: str | None = None
    object: ObjectRef | None = None
    content_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class Verdict(Notification):
    """`match.found` or `check.clean` about a file (or, with `entry`, one line of a check list).
    With `retroactive`, an earlier check (made at `checked_at`) matched by items shared since."""

    media: str
    signals: Mapping[str, str]
    matches: tuple[Match, ...]
    contributors: tuple[str, ...]
    corroboration: tuple[str, ...] | None = None
    benign_collision: bool = False
    retroactive: bool = False
    checked_at: str | None = None
    entry: Entry | None = None
    # How many matches `matches` leaves out (the farthest) so the message fits SNS: 0 when none.
    matches_left_out: int = 0


@dataclass(frozen=True, kw_only=True)
class MatchFound(Verdict):
    pass


@dataclass(frozen=True, kw_only=True)
class CheckClean(Verdict):
    pass


@dataclass(frozen=True, kw_only=True)
class Rejected(Notification):
    """`check.rejected`, `share.rejected`, `feedback.rejected` or `incident.rejected`."""

    rejection: Rejection


@dataclass(frozen=True, kw_only=True)
class ItemsNotification(Notification):
    """`hash.shared`, `hash.withdrawn` or `share.accepted`: a page of items (of one `part` of a
    long hash list, when it was shared in parts)."""

    items: tuple[Item, ...]
    page: Page
    part: Page | None = None


@dataclass(frozen=True, kw_only=True)
class CheckCompleted(Notification):
    """One chunk of a check-by-hash list answered: its verdicts are one JSON line per entry in `results`."""

    results: ObjectRef
    counts: Counts
    page: Page


@dataclass(frozen=True, kw_only=True)
class Expired(Notification):
    """`check.expired` / `share.expired`: the object was gone before it was processed; upload it again."""

    expiry: Expiry


@dataclass(frozen=True, kw_only=True)
class Failed(Notification):
    """`check.failed` / `share.failed`: the coalition could not answer; nothing was checked or shared."""

    failure: Failure


@dataclass(frozen=True, kw_only=True)
class GovernanceNotification(Notification):
    """`hash.confirmed`, `hash.disputed`, `hash.quarantined`, `hash.restored` or `hash.removed`."""

    items: tuple[Item, ...]
    page: Page
    governance: Governance


@dataclass(frozen=True, kw_only=True)
class IncidentNotification(Notification):
    """`incident.opened`, `incident.escalated` or `incident.closed`: the incident as it is now."""

    incident: Incident


MODELS: Mapping[str, type[Notification]] = {
    EventType.MATCH_FOUND: MatchFound,
    EventType.CHECK_CLEAN: CheckClean,
    EventType.CHECK_REJECTED: Rejected,
    EventType.SHARE_REJECTED: Rejected,
    EventType.FEEDBACK_REJECTED: Rejected,
    EventType.INCIDENT_REJECTED: Rejected,
    EventType.HASH_SHARED: ItemsNotification,
    EventType.HASH_WITHDRAWN: ItemsNotification,
    EventType.SHARE_ACCEPTED: ItemsNotification,
    EventType.CHECK_COMPLETED: CheckCompleted,
    EventType.CHECK_EXPIRED: Expired,
    EventType.SHARE_EXPIRED: Expired,
    EventType.CHECK_FAILED: Failed,
    EventType.SHARE_FAILED: Failed,
    EventType.HASH_CONFIRMED: GovernanceNotification,
    EventType.HASH_DISPUTED: GovernanceNotification,
    EventType.HASH_QUARANTINED: GovernanceNotification,
    EventType.HASH_RESTORED: GovernanceNotification,
    EventType.HASH_REMOVED: GovernanceNotification,
    EventType.INCIDENT_OPENED: IncidentNotification,
    EventType.INCIDENT_ESCALATED: IncidentNotification,
    EventType.INCIDENT_CLOSED: IncidentNotification,
}

_ENVELOPE = frozenset({"schema_version", "notification_id", "event_type", "platform", "occurred_at"})
_VERDICT = _ENVELOPE | {"object", "content_id", "media", "signals", "matches", "contributors"}
_REJECTED = _ENVELOPE | {"object", "content_id", "rejection"}
_REQUEST_REJECTED = _ENVELOPE | {"object", "rejection"}
_ITEMS = _ENVELOPE | {"items", "page"}
_COMPLETED = _ENVELOPE | {"object", "content_id", "results", "counts", "page"}
_EXPIRED = _ENVELOPE | {"object", "content_id", "expiry"}
_FAILED = _ENVELOPE | {"object", "content_id", "failure"}
_GOVERNANCE = _ENVELOPE | {"items", "page", "governance"}
_INCIDENT = _ENVELOPE | {"incident"}

# The fields a body of each event type must carry (`content_id` may be null where required).
REQUIRED: Mapping[str, frozenset[str]] = {
    EventType.MATCH_FOUND: _VERDICT,
    EventType.CHECK_CLEAN: _VERDICT,
    EventType.CHECK_REJECTED: _REJECTED,
    EventType.SHARE_REJECTED: _REJECTED,
    EventType.FEEDBACK_REJECTED: _REQUEST_REJECTED,
    EventType.INCIDENT_REJECTED: _REQUEST_REJECTED,
    EventType.HASH_SHARED: _ITEMS,
    EventType.HASH_WITHDRAWN: _ITEMS,
    EventType.SHARE_ACCEPTED: _ITEMS,
    EventType.CHECK_COMPLETED: _COMPLETED,
    EventType.CHECK_EXPIRED: _EXPIRED,
    EventType.SHARE_EXPIRED: _EXPIRED,
    EventType.CHECK_FAILED: _FAILED,
    EventType.SHARE_FAILED: _FAILED,
    EventType.HASH_CONFIRMED: _GOVERNANCE,
    EventType.HASH_DISPUTED: _GOVERNANCE,
    EventType.HASH_QUARANTINED: _GOVERNANCE,
    EventType.HASH_RESTORED: _GOVERNANCE,
    EventType.HASH_REMOVED: _GOVERNANCE,
    EventType.INCIDENT_OPENED: _INCIDENT,
    EventType.INCIDENT_ESCALATED: _INCIDENT,
    EventType.INCIDENT_CLOSED: _INCIDENT,
}


def parse_notification(body: Mapping[str, Any]) -> Notification:
    """The model for `body`'s event type (`Notification` for one this client does not know).

    Raises `InvalidNotification` when a field the contract requires for that event type is missing,
    or a known field has the wrong type; unknown fields are ignored (kept in `raw`)."""
    if not isinstance(body, Mapping):
        raise InvalidNotification(f"a notification body is a JSON object, not {type(body).__name__}")
    event_type = _Reader(body, "notification").text("event_type")
    # Only content_id may be null where it is required (a file dropped without one).
    missing = sorted(
        name
        for name in REQUIRED.get(event_type, _ENVELOPE)
        if name not in body or (body[name] is None and name != "content_id")
    )
    if missing:
        raise InvalidNotification(f"{event_type} notification without {', '.join(missing)}")
    read = _Reader(body, event_type)
    envelope: dict[str, Any] = {
        "schema_version": read.text("schema_version"),
        "notification_id": read.text("notification_id"),
        "event_type": event_type,
        "platform": read.text("platform"),
        "occurred_at": read.text("occurred_at"),
        "taxonomy_version": read.optional_str("taxonomy_version"),
        "object": _object_ref(read.optional_mapping("object")),
        "content_id": read.optional_str("content_id"),
        "raw": dict(body),
    }
    model = MODELS.get(event_type, Notification)
    return model(**envelope, **_SHAPES.get(model, _nothing)(read))


# ---------------------------------------------------------------------------- reading


class _Reader:
    """Typed access to one JSON object's fields; `where` names it in errors."""

    def __init__(self, document: Mapping[str, Any], where: str) -> None:
        self._document = document
        self._where = where

    def nested(self, name: str) -> _Reader:
        return _Reader(self.mapping(name), f"{self._where}.{name}")

    def _get(self, name: str, kinds: type | tuple[type, ...], what: str) -> Any:
        if name not in self._document:
            raise InvalidNotification(f"{self._where} without {name}")
        value = self._document[name]
        # bool is an int to isinstance; the contract never means one as the other.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            raise InvalidNotification(f"{self._where}.{name} must be {what}, not {type(value).__name__}")
        return value

    def text(self, name: str) -> str:
        value: str = self._get(name, str, "a string")
        return value

    def integer(self, name: str) -> int:
        value: int = self._get(name, int, "an integer")
        return value

    def mapping(self, name: str) -> Mapping[str, Any]:
        value: Mapping[str, Any] = self._get(name, Mapping, "an object")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        values = self._get(name, list, "a list of strings")
        if not all(isinstance(v, str) for v in values):
            raise InvalidNotification(f"{self._where}.{name} must be a list of strings")
        return tuple(values)

    def mappings(self, name: str) -> list[_Reader]:
        values = self._get(name, list, "a list of objects")
        if not all(isinstance(v, Mapping) for v in values):
            raise InvalidNotification(f"{self._where}.{name} must be a list of objects")
        return [_Reader(v, f"{self._where}.{name}[{i}]") for i, v in enumerate(values)]

    def signals(self, name: str) -> dict[str, str]:
        values = self.mapping(name)
        for signal, value in values.items():
            if not isinstance(value, str):
                raise InvalidNotification(f"{self._where}.{name}.{signal} must be a hex string")
        return dict(values)

    def optional_str(self, name: str) -> str | None:
        return None if self._document.get(name) is None else self.text(name)

    def optional_int(self, name: str) -> int | None:
        return None if self._document.get(name) is None else self.integer(name)

    def optional_mapping(self, name: str) -> Mapping[str, Any] | None:
        return None if self._document.get(name) is None else self.mapping(name)

    def optional_strings(self, name: str) -> tuple[str, ...] | None:
        return None if self._document.get(name) is None else self.strings(name)

    def flag(self, name: str) -> bool:
        value: bool = False if self._document.get(name) is None else self._get(name, bool, "true or false")
        return value

    def number(self, name: str) -> float | None:
        value = self._document.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidNotification(f"{self._where}.{name} must be a number, not {type(value).__name__}")
        return float(value)

    def has(self, name: str) -> bool:
        return self._document.get(name) is not None


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _object_ref(document: Mapping[str, Any] | None, where: str = "object") -> ObjectRef | None:
    if document is None:
        return None
    read = _Reader(document, where)
    return ObjectRef(read.text("bucket"), read.text("key"))


def _page(read: _Reader) -> Page:
    return Page(read.integer("number"), read.integer("of"))


def _match(read: _Reader) -> Match:
    return Match(
        item_id=read.text("item_id"),
        signal=read.text("signal"),
        distance=read.integer("distance"),
        query=read.text("query"),
        labels=read.strings("labels"),
        contributor=read.text("contributor"),
        severity=read.optional_str("severity"),
        incident=read.optional_str("incident"),
        detail=dict(read.optional_mapping("detail") or {}),
        backers=read.optional_strings("backers") or (),
        benign=read.flag("benign"),
        confidence=read.optional_str("confidence"),
    )


def _item(read: _Reader) -> Item:
    return Item(
        item_id=read.text("item_id"),
        contributor=read.text("contributor"),
        shared_at=read.text("shared_at"),
        labels=read.strings("labels"),
        media=read.text("media"),
        signals=read.signals("signals"),
        severity=read.optional_str("severity"),
        incident=read.optional_str("incident"),
        note=read.optional_str("note"),
        duration=read.number("duration"),
        confidence=read.optional_str("confidence"),
    )


def _verdict(read: _Reader) -> dict[str, Any]:
    return {
        "media": read.text("media"),
        "signals": read.signals("signals"),
        "matches": tuple(_match(m) for m in read.mappings("matches")),
        "contributors": read.strings("contributors"),
        "corroboration": read.optional_strings("corroboration"),
        "benign_collision": read.flag("benign_collision"),
        "retroactive": read.flag("retroactive"),
        "checked_at": read.optional_str("checked_at"),
        "entry": Entry(read.nested("entry").integer("line")) if read.has("entry") else None,
        "matches_left_out": read.optional_int("matches_left_out") or 0,
    }


def _rejected(read: _Reader) -> dict[str, Any]:
    rejection = read.nested("rejection")
    return {"rejection": Rejection(rejection.text("reason"), rejection.text("message"))}


def _items(read: _Reader) -> dict[str, Any]:
    return {
        "items": tuple(_item(i) for i in read.mappings("items")),
        "page": _page(read.nested("page")),
        "part": _page(read.nested("part")) if read.has("part") else None,
    }


def _completed(read: _Reader) -> dict[str, Any]:
    counts = read.nested("counts")
    return {
        "results": _object_ref(read.mapping("results"), "results"),
        "counts": Counts(
            counts.integer("entries"), counts.integer("matched"), counts.integer("clean"), counts.integer("rejected")
        ),
        "page": _page(read.nested("page")),
    }


def _governance(read: _Reader) -> dict[str, Any]:
    governance = read.nested("governance")
    disputes_by = (
        tuple(Dispute(d.text("member"), d.text("reason")) for d in governance.mappings("disputes_by"))
        if governance.has("disputes_by")
        else None
    )
    return {
        "items": tuple(_item(i) for i in read.mappings("items")),
        "page": _page(read.nested("page")),
        "governance": Governance(
            action=governance.text("action"),
            by=governance.optional_str("by"),
            reason=governance.optional_str("reason"),
            disputes=governance.optional_int("disputes"),
            quorum=governance.optional_int("quorum"),
            confirmations=governance.optional_int("confirmations"),
            disputes_by=disputes_by,
        ),
    }


def _incident(read: _Reader) -> dict[str, Any]:
    incident = read.nested("incident")
    return {
        "incident": Incident(
            incident_id=incident.text("incident_id"),
            title=incident.text("title"),
            labels=incident.strings("labels"),
            status=incident.text("status"),
            opened_by=incident.text("opened_by"),
            opened_at=incident.text("opened_at"),
            timeline=tuple(
                TimelineStep(step.text("at"), step.text("action"), step.text("by"), step.optional_str("note"))
                for step in incident.mappings("timeline")
            ),
        )
    }


def _nothing(read: _Reader) -> dict[str, Any]:
    return {}


_SHAPES = {
    MatchFound: _verdict,
    CheckClean: _verdict,
    Rejected: _rejected,
    ItemsNotification: _items,
    CheckCompleted: _completed,
    Expired: lambda read: {"expiry": Expiry(read.nested("expiry").text("message"))},
    Failed: lambda read: {"failure": Failure(read.nested("failure").text("message"))},
    GovernanceNotification: _governance,
    IncidentNotification: _incident,
}
