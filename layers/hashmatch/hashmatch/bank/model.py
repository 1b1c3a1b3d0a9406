"""The shared hash bank's domain model: what members contribute and what a check finds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, cast

# active: matches; withdrawn by its contributor; quarantined (by disputes or an operator: stops
# matching at once, an operator may restore it); removed by an operator for good; benign: a hash
# of a common harmless picture operators loaded, which shares may not collide with.
ItemStatus = Literal["active", "withdrawn", "quarantined", "removed", "benign"]
# What an index entry of an item is: one of its main hashes, a framing of its picture, a run of a
# video's frames, a half of its picture (a framing that matches only within the stricter
# `hashmatch.matching.policy.HALF_MATCH_THRESHOLD`), or a third of it (held to the stricter
# `THIRD_MATCH_THRESHOLD`, and matching only beside another part of the item: `THIRDS_AGREEING`).
# ("variant" is what framings were called in change logs written before.) Snapshots store a kind
# by its position here: append, never reorder.
EntryKind = Literal["hash", "framing", "frame", "half", "third"]
ENTRY_KINDS: tuple[EntryKind, ...] = ("hash", "framing", "frame", "half", "third")
# The kinds that are a part of a picture (`hashmatch.media.model.is_part`).
PART_KINDS: frozenset[EntryKind] = frozenset({"half", "third"})
_LEGACY_ENTRY_KINDS: dict[str, EntryKind] = {"variant": "framing"}
# The most framings a shared picture stores (`hashmatch.media.framing.stored_framings`: its
# content, three central crops, its middle band and its core; a test holds them equal).
MAX_STORED_FRAMINGS = 6
# And the halves it stores beside them (top, bottom, left, right: `hashmatch.media.model.HALF_SIDES`).
MAX_STORED_HALVES = 4
# And its thirds (three bands across it, three down it: `hashmatch.media.model.THIRD_SIDES`).
MAX_STORED_THIRDS = 6


def entry_kind(name: str) -> EntryKind:
    """The entry kind called `name` (legacy names included); raises ValueError for an unknown one."""
    kind = _LEGACY_ENTRY_KINDS.get(name, name)
    if kind not in ENTRY_KINDS:
        raise ValueError(f"unknown index entry kind {name!r}")
    return cast(EntryKind, kind)


def item_id_for(contributor: str, signal: str, value: str) -> str:
    """A stable id for what `contributor` shared, so re-delivered shares overwrite, never duplicate."""
    digest = hashlib.sha256(f"{contributor}\x1f{signal}\x1f{value}".encode()).hexdigest()
    return digest[:32]


def entry_id_for(item_id: str, signal: str, value: str) -> int:
    """A stable 63-bit id of one near-match index entry (the same on every matcher instance)."""
    digest = hashlib.blake2b(f"{item_id}\x1f{signal}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


@dataclass(frozen=True)
class Provenance:
    """Who shared an item, when, and what they said about it."""

    contributor: str
    shared_at: str
    labels: tuple[str, ...] = ()
    severity: str | None = None
    incident: str | None = None
    note: str | None = None
    # How sure the contributor is that it is in scope, on the taxonomy's closed scale.
    confidence: str | None = None


@dataclass(frozen=True)
class NearEntry:
    """One hash a near-match index holds for an item: a main hash, a framing, or a video frame
    (a run of near-identical frames from `offset` to `end` seconds)."""

    signal: str
    value: str
    kind: EntryKind = "hash"
    offset: float | None = None
    end: float | None = None

    def entry_id(self, item_id: str) -> int:
        return entry_id_for(item_id, self.signal, f"{self.kind}:{self.offset}:{self.value}")


@dataclass(frozen=True)
class SharedItem:
    """One piece of harmful media in the bank, known only by its hashes.

    `source`: which share made it active (a digest of that submission's idempotency key, never the
    sharer's object key), so a share that fails after storing can withdraw what it brought in and
    nothing else; None in records written before it was kept."""

    item_id: str
    provenance: Provenance
    media: str
    signals: dict[str, str]
    near_entries: tuple[NearEntry, ...] = ()
    duration: float | None = None
    status: ItemStatus = "active"
    source: str | None = None
    # Members other than the contributor who confirmed or disputed it (`hashmatch feedback`).
    confirmed_by: tuple[str, ...] = ()
    disputed_by: tuple[str, ...] = ()
    # A shared picture's views as unevenly cut copies show it (`hashmatch.media.uneven.cut_views`):
    # scanned against retained checks when it is shared, never stored in the bank or its index.
    cut_views: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # The last status change (quarantine, restore, removal): when, and which request made it (its
    # object's identity), so a retried request finds the change it made and answers it again.
    status_at: str | None = field(default=None, compare=False)
    status_by: str | None = field(default=None, compare=False)

    @property
    def backers(self) -> tuple[str, ...]:
        """The independent members standing behind it: its contributor and those who confirmed it."""
        return tuple(sorted({self.provenance.contributor, *self.confirmed_by}))


@dataclass(frozen=True)
class IndexedEntry:
    """What a near-match index entry points back to."""

    item_id: str
    signal: str
    value: str
    kind: EntryKind
    offset: float | None
    end: float | None = None


@dataclass(frozen=True)
class Match:
    """One bank item a checked file matched, on one signal."""

    item_id: str
    signal: str
    distance: int
    labels: tuple[str, ...]
    contributor: str
    severity: str | None = None
    incident: str | None = None
    query: str = "original"
    detail: dict[str, object] = field(default_factory=dict)
    # The members standing behind the item (its contributor and those who confirmed it).
    backers: tuple[str, ...] = ()
    # A hash of a common harmless picture in the benign bank, not harmful media.
    benign: bool = False
    confidence: str | None = None
