"""The three things a platform can ask of the coalition: check, share and withdraw.

`HashmatchService.process` takes one object dropped under ``check/<platform>/``,
``share/<platform>/`` or ``withdraw/<platform>/`` and carries the request through: hash,
match or store, notify, and delete the raw object (the system keeps hashes, never media).
Input that can never be processed is answered with a `*.rejected` notification and deleted;
anything else that fails raises, so the queue retries it and finally dead-letters it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol, cast

from hashmatch.bank.hashlist import HashListEntry, looks_like_hash_list, parse_hash_list
from hashmatch.bank.model import NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import Thresholds
from hashmatch.matching.rules import picture_is_usable
from hashmatch.matching.video import shared_frame_runs
from hashmatch.media.hashing import SNIFF_BYTES
from hashmatch.media.model import Limits, MediaHashes, Rejected, RejectReason, sniff_media
from hashmatch.service.notifications import (
    EventType,
    Notification,
    ObjectRef,
    items_notifications,
    rejection_notification,
    verdict_notification,
)
from hashmatch.service.ports import Bank, Notifier, ObjectStore
from hashmatch.signals import SIGNALS
from hashmatch.signals.pdq import PDQ

logger = logging.getLogger(__name__)

Action = Literal["check", "share", "withdraw"]
ACTIONS: tuple[Action, ...] = ("check", "share", "withdraw")


class Hasher(Protocol):
    def __call__(self, path: Path, *, for_sharing: bool = False) -> MediaHashes: ...


class UnroutableObject(Exception):
    """An object key outside ``<action>/<platform>/...`` for a known platform: an operator error."""


class Outcome(StrEnum):
    PROCESSED = "processed"
    ALREADY_PROCESSED = "already_processed"


@dataclass(frozen=True)
class Route:
    action: Action
    platform: str


def route_for(key: str, platforms: tuple[str, ...]) -> Route:
    """The action and platform an object key asks for; raises `UnroutableObject` otherwise."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] not in ACTIONS or not parts[2]:
        raise UnroutableObject(f"key {key!r} is not <check|share|withdraw>/<platform>/<name>")
    if parts[1] not in platforms:
        raise UnroutableObject(f"key {key!r} names platform {parts[1]!r}, not one of {', '.join(platforms)}")
    return Route(cast(Action, parts[0]), parts[1])


def _labels(raw: str | None) -> tuple[str, ...]:
    return tuple(sorted({label.strip() for label in (raw or "").split(",") if label.strip()}))


class HashmatchService:
    def __init__(
        self,
        *,
        store: ObjectStore,
        bank: Bank,
        notifier: Notifier,
        matcher: Matcher,
        hasher: Hasher,
        platforms: tuple[str, ...],
        thresholds: Callable[[str], Thresholds] = lambda _platform: Thresholds(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: Limits | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._store = store
        self._bank = bank
        self._notifier = notifier
        self._matcher = matcher
        self._hasher = hasher
        self._platforms = platforms
        self._thresholds = thresholds
        self._clock = clock

    def process(self, obj: ObjectRef) -> Outcome:
        """Carry out what the object's key asks for; see the module docstring for failures."""
        route = route_for(obj.key, self._platforms)
        with self._store.fetch(obj, self._limits.max_file_bytes) as fetched:
            if fetched is None:
                # Deleted by an earlier delivery of the same event (S3 delivers at least once).
                logger.info("object already processed", extra={"key": obj.key})
                return Outcome.ALREADY_PROCESSED
            if fetched.path is None:
                rejected = Rejected(
                    RejectReason.TOO_LARGE, f"{fetched.size} bytes is over the {self._limits.max_file_bytes} limit"
                )
                event_type = EventType.CHECK_REJECTED if route.action == "check" else EventType.SHARE_REJECTED
                content_id = fetched.metadata.get("content-id")
                notifications = [self._rejection(event_type, route.platform, obj, content_id, rejected)]
            else:
                handler = {"check": self._check, "share": self._share, "withdraw": self._withdraw}[route.action]
                notifications = handler(route.platform, obj, fetched.path, fetched.metadata)
            for notification in notifications:
                self._notifier.publish(notification)
        self._store.delete(obj)
        return Outcome.PROCESSED

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _check(self, platform: str, obj: ObjectRef, path: Path, metadata: dict[str, str]) -> list[Notification]:
        content_id = metadata.get("content-id")
        try:
            hashes = self._hasher(path)
        except Rejected as rejected:
            return [self._rejection(EventType.CHECK_REJECTED, platform, obj, content_id, rejected)]
        matches = self._matcher.match(hashes, self._thresholds(platform))
        verdict = verdict_notification(
            platform=platform,
            obj=obj,
            content_id=content_id,
            occurred_at=self._now(),
            media=hashes.media,
            signals=hashes.signals,
            matches=matches,
        )
        return [verdict]

    def _share(self, platform: str, obj: ObjectRef, path: Path, metadata: dict[str, str]) -> list[Notification]:
        content_id = metadata.get("content-id")
        provenance = Provenance(
            contributor=platform,
            shared_at=self._now(),
            labels=_labels(metadata.get("labels")),
            severity=metadata.get("severity") or None,
            incident=metadata.get("incident") or None,
            note=metadata.get("note") or None,
        )
        try:
            items = self._items_to_share(path, metadata.get("signal"), provenance)
        except Rejected as rejected:
            return [self._rejection(EventType.SHARE_REJECTED, platform, obj, content_id, rejected)]
        self._bank.put_items(items)
        others = [p for p in self._platforms if p != platform]
        return [
            *self._item_notifications(EventType.SHARE_ACCEPTED, [platform], obj, content_id, items),
            *self._item_notifications(EventType.HASH_SHARED, others, obj, content_id, items),
        ]

    def _item_notifications(
        self,
        event_type: EventType,
        recipients: list[str],
        obj: ObjectRef,
        content_id: str | None,
        items: list[SharedItem],
    ) -> list[Notification]:
        return items_notifications(
            event_type=event_type,
            recipients=recipients,
            obj=obj,
            content_id=content_id,
            occurred_at=self._now(),
            items=items,
        )

    def _withdraw(self, platform: str, obj: ObjectRef, path: Path, metadata: dict[str, str]) -> list[Notification]:
        content_id = metadata.get("content-id")
        try:
            entries = parse_hash_list(path.read_bytes(), metadata.get("signal"))
        except Rejected as rejected:
            return [self._rejection(EventType.SHARE_REJECTED, platform, obj, content_id, rejected)]
        items = {}
        for entry in entries:
            for signal, value in entry.signals.items():
                for item in self._bank.items_by_exact(signal, value):
                    if item.provenance.contributor == platform and item.status == "active":
                        items[item.item_id] = item
        if not items:
            unknown = Rejected(RejectReason.UNKNOWN_ITEM, f"{platform} shared none of these hashes, or withdrew them")
            return [self._rejection(EventType.SHARE_REJECTED, platform, obj, content_id, unknown)]
        withdrawn = list(items.values())
        self._bank.withdraw_items(withdrawn, self._now())
        return self._item_notifications(EventType.HASH_WITHDRAWN, list(self._platforms), obj, content_id, withdrawn)

    def _items_to_share(self, path: Path, signal: str | None, provenance: Provenance) -> list[SharedItem]:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
        if sniff_media(head) is None and looks_like_hash_list(head):
            entries = parse_hash_list(path.read_bytes(), signal)
            return [_item_from_entry(entry, provenance) for entry in entries]
        return [item_from_media(self._hasher(path, for_sharing=True), provenance)]

    def _rejection(
        self, event_type: EventType, platform: str, obj: ObjectRef, content_id: str | None, rejected: Rejected
    ) -> Notification:
        logger.info("rejected", extra={"key": obj.key, "reason": rejected.reason.value})
        return rejection_notification(
            event_type=event_type,
            platform=platform,
            obj=obj,
            content_id=content_id,
            occurred_at=self._now(),
            reason=rejected.reason.value,
            message=rejected.message,
        )


def _indexed_entries(signals: dict[str, str]) -> list[NearEntry]:
    """The main hashes of `signals` the matcher indexes (every indexed signal present)."""
    return [NearEntry(s.name, signals[s.name]) for s in SIGNALS.indexed() if s.name in signals]


def item_from_media(hashes: MediaHashes, provenance: Provenance) -> SharedItem:
    """The bank item for shared media: its signals, and the entries the matcher will index (the
    main picture hashes when the picture is not flat, its stored framings, a video's frame runs)."""
    entries: list[NearEntry] = []
    if picture_is_usable(hashes):
        entries += _indexed_entries(hashes.signals)
    entries += [NearEntry(framing.signal, framing.value, "framing") for framing in hashes.framings]
    # A video's frames, stored as runs of near-identical consecutive frames (low quality left out).
    entries += [NearEntry(PDQ.name, run.pdq, "frame", run.start, run.end) for run in shared_frame_runs(hashes.frames)]
    return SharedItem(
        item_id=item_id_for(provenance.contributor, "sha256", hashes.signals["sha256"]),
        provenance=provenance,
        media=hashes.media,
        signals=dict(hashes.signals),
        near_entries=tuple(entries),
        duration=hashes.duration,
    )


def _item_from_entry(entry: HashListEntry, provenance: Provenance) -> SharedItem:
    labels = entry.labels if entry.labels is not None else provenance.labels
    overrides = {
        name: entry.overrides.get(name) or getattr(provenance, name) for name in ("severity", "incident", "note")
    }
    primary = sorted(entry.signals.items())[0]
    return SharedItem(
        item_id=item_id_for(provenance.contributor, *primary),
        provenance=Provenance(provenance.contributor, provenance.shared_at, tuple(sorted(labels)), **overrides),
        media="hashes",
        signals=dict(entry.signals),
        near_entries=tuple(_indexed_entries(entry.signals)),
    )
