"""Matching a hashed file against the bank: exact lookups plus the in-memory near-match index."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from hashmatch.bank import IndexedEntry, Match, SharedItem
from hashmatch.index import NearIndex
from hashmatch.media import MediaHashes
from hashmatch.ports import Bank, BankChange
from hashmatch.signals import SIGNAL_TYPES
from hashmatch.signals.pdq import PDQ_MIN_QUALITY

EXACT_SIGNALS = ("sha256", "md5")
NEAR_SIGNALS = ("pdq", "phash")
# A change-log position starts with its writer's clock; a writer re-logs any entry that took
# longer than half of this to commit, so re-reading this far back never misses one.
LOG_OVERLAP = timedelta(seconds=60)


@dataclass(frozen=True)
class Thresholds:
    """The largest Hamming distance that still counts as a match, per near signal."""

    pdq: int = SIGNAL_TYPES["pdq"].threshold
    phash: int = SIGNAL_TYPES["phash"].threshold

    def for_signal(self, signal: str) -> int:
        value: int = getattr(self, signal)
        return value


@dataclass(frozen=True)
class NearHit:
    """A query hash (by its position in the query list) within threshold of an index entry."""

    query_row: int
    entry: IndexedEntry
    distance: int


class NearIndexes:
    """One near-match index per signal, kept fresh by replaying the bank's change log.

    `refresh` reads the log from a little before the last position it applied (log positions
    start with the writer's clock, and a write may commit a moment after a later one), skips
    what it has applied already, and applies the rest in order. A hash whose share has
    finished writing is therefore matchable by the very next check on every instance.
    """

    def __init__(self, overlap: timedelta = LOG_OVERLAP) -> None:
        self._indexes = {name: NearIndex(SIGNAL_TYPES[name].bits) for name in NEAR_SIGNALS}
        self._entries: dict[int, IndexedEntry] = {}
        self._by_item: dict[str, set[tuple[str, int]]] = {}
        self._applied: dict[str, datetime] = {}
        self._position: str | None = None
        self._overlap = overlap
        self._lock = threading.Lock()

    @property
    def position(self) -> str | None:
        return self._position

    def refresh(self, bank: Bank) -> int:
        """Apply every change logged since the last refresh; returns how many were applied."""
        with self._lock:
            since = None
            if self._position is not None:
                since = _isoformat(_position_time(self._position) - self._overlap)
            applied = 0
            for change in bank.changes_since(since):
                if change.position in self._applied:
                    continue
                self._apply(change)
                self._applied[change.position] = _position_time(change.position)
                self._position = max(self._position or "", change.position)
                applied += 1
            self._forget_before(since)
            return applied

    def _forget_before(self, since: str | None) -> None:
        if since is None:
            return
        horizon = _position_time(since)
        for position in [p for p, at in self._applied.items() if at < horizon]:
            del self._applied[position]

    def _apply(self, change: BankChange) -> None:
        if change.operation == "remove":
            self._remove_item(change.item_id)
            return
        by_signal: dict[str, tuple[list[int], list[str]]] = {}
        for entry in change.entries:
            if entry.signal not in self._indexes:
                continue
            entry_id = entry.entry_id(change.item_id)
            if entry_id in self._entries:
                continue
            ids, values = by_signal.setdefault(entry.signal, ([], []))
            ids.append(entry_id)
            values.append(entry.value)
            self._entries[entry_id] = IndexedEntry(change.item_id, entry.signal, entry.value, entry.kind, entry.offset)
            self._by_item.setdefault(change.item_id, set()).add((entry.signal, entry_id))
        for signal, (ids, values) in by_signal.items():
            self._indexes[signal].add(np.array(ids, dtype=np.int64), _pack(values))

    def _remove_item(self, item_id: str) -> None:
        by_signal: dict[str, list[int]] = {}
        for signal, entry_id in self._by_item.pop(item_id, set()):
            by_signal.setdefault(signal, []).append(entry_id)
            self._entries.pop(entry_id, None)
        for signal, ids in by_signal.items():
            self._indexes[signal].remove(ids)

    def query(self, signal: str, values: Sequence[str], threshold: int) -> list[NearHit]:
        if not values:
            return []
        with self._lock:
            hits = self._indexes[signal].query(_pack(values), threshold)
            return [
                NearHit(int(row), self._entries[int(entry_id)], int(distance))
                for row, entry_id, distance in hits
                if int(entry_id) in self._entries
            ]

    def __len__(self) -> int:
        return len(self._entries)


def _position_time(position: str) -> datetime:
    return datetime.fromisoformat(position.split("#", 1)[0].replace("Z", "+00:00"))


def _isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _pack(values: Sequence[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), -1)


class Matcher:
    """Finds the bank items a hashed file matches, exactly or within the near thresholds."""

    def __init__(self, bank: Bank, near: NearIndexes) -> None:
        self._bank = bank
        self._near = near

    def match(self, hashes: MediaHashes, thresholds: Thresholds | None = None) -> list[Match]:
        """Every active item matched, best distance per (item, signal), exact signals first."""
        thresholds = thresholds or Thresholds()
        best: dict[tuple[str, str], tuple[int, str, dict[str, object]]] = {}
        found: dict[str, SharedItem] = {}
        for signal in EXACT_SIGNALS:
            value = hashes.signals.get(signal)
            if value:
                for item in self._bank.items_by_exact(signal, value):
                    found[item.item_id] = item
                    best[(item.item_id, signal)] = (0, "original", {})

        self._near.refresh(self._bank)
        for signal, queries in _near_queries(hashes).items():
            names = [name for name, _ in queries]
            for hit in self._near.query(signal, [value for _, value in queries], thresholds.for_signal(signal)):
                key = (hit.entry.item_id, signal)
                if key not in best or hit.distance < best[key][0]:
                    best[key] = (hit.distance, names[hit.query_row], _entry_detail(hit.entry))

        missing = [item_id for item_id, _ in best if item_id not in found]
        found.update(self._bank.get_items(missing))
        matches = []
        for (item_id, signal), (distance, query, detail) in best.items():
            stored = found.get(item_id)
            if stored is None or stored.status != "active":
                continue
            matches.append(
                Match(
                    item_id=item_id,
                    signal=signal,
                    distance=distance,
                    labels=stored.provenance.labels,
                    contributor=stored.provenance.contributor,
                    severity=stored.provenance.severity,
                    incident=stored.provenance.incident,
                    query=query,
                    detail=detail,
                )
            )
        order = {name: rank for rank, name in enumerate(EXACT_SIGNALS + NEAR_SIGNALS)}
        return sorted(matches, key=lambda m: (order.get(m.signal, 99), m.distance, m.item_id))


def _near_queries(hashes: MediaHashes) -> dict[str, list[tuple[str, str]]]:
    # Low-quality PDQ (flat, blank, tiny images) matches everything alike: such files query nothing
    # near, and their pHash is no better, so both are skipped.
    if hashes.pdq_quality is None or hashes.pdq_quality < PDQ_MIN_QUALITY:
        return {}
    queries: dict[str, list[tuple[str, str]]] = {}
    if "pdq" in hashes.signals:
        queries["pdq"] = [("original", hashes.signals["pdq"])]
        queries["pdq"] += [(f"variant-{i + 1}", v) for i, v in enumerate(hashes.pdq_variants)]
    if "phash" in hashes.signals:
        queries["phash"] = [("original", hashes.signals["phash"])]
    return queries


def _entry_detail(entry: IndexedEntry) -> dict[str, object]:
    if entry.kind == "frame" and entry.offset is not None:
        return {"shared_offset": entry.offset}
    return {}
