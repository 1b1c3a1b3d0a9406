"""Retroactive matching: earlier checks that a newly shared hash now matches.

A member that opts in (`RetentionPolicy`: days per platform, within `MIN_RETENTION_DAYS` ..
`MAX_RETENTION_DAYS`) has the hashes of its checks (never media: the same pixel-free query set
the check was matched with, `hashmatch.media.codec`) kept for that many days (`RetainedChecks`,
expired by TTL, purged at once on request). When any member shares, `RetroactiveScanner` finds
the retained checks the new items match and the coalition tells each checking member
`match.found` with ``retroactive: true``, the original check's content id, object key and time.

Which side does what. Forward, a shared item stores few hashes (its main hashes, four framings,
a video's frame runs) and a check queries many (rotations, flips, framings, uneven-crop finds).
Backward keeps that split: the retained check keeps its many query hashes, the new item brings
its few, so the pairs compared are the pairs forward matching compares. The scan is two steps:

1. candidates: every retained PDQ hash (main, queries, video frames and their orientations)
   against every PDQ hash the new items store, within `CANDIDATE_PDQ_BITS` (the widest any rule
   accepts, corroboration's), and retained pHashes against the items' pHashes for items that
   have no PDQ; numpy popcount over packed uint64 words, one pass per item hash;
2. verdicts: each candidate check is matched by the real `Matcher` against a bank holding only
   the new items, so a retroactive match is exactly a match forward matching would have made
   had the items been shared before the check.

What backward cannot do: a check's uneven-crop search runs at the edge, on pixels, toward the
framings stored *then*; its result is among the retained queries only when the item was already
shared. Retained checks keep no pixels, so an unevenly cut copy checked before the share is
found only when another of its queries matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from hashmatch.bank.model import Match, SharedItem
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import CORROBORATED_PDQ_LIMIT, Thresholds
from hashmatch.media.model import MediaHashes
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.ports import BankChange
from hashmatch.signals.pdq import PDQ
from hashmatch.signals.phash import PHASH

__all__ = [
    "BLOCK_ROWS",
    "CANDIDATE_PDQ_BITS",
    "DEFAULT_RETENTION_DAYS",
    "MAX_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "RetainedCheck",
    "RetainedChecks",
    "RetainedPrints",
    "RetentionPolicy",
    "RetroactiveMatch",
    "RetroactiveScanner",
    "near_rows",
]

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 90
DEFAULT_RETENTION_DAYS = 30
# The widest PDQ distance any forward rule accepts (corroborated by pHash): candidates are a
# superset of what the matcher can accept, so the first step loses nothing.
CANDIDATE_PDQ_BITS = CORROBORATED_PDQ_LIMIT
# Rows compared per step: 64K rows of 4 words (2 MB) stay in cache while every query passes over them.
BLOCK_ROWS = 1 << 16


class RetentionError(ValueError):
    """A retention setting outside what operators allow."""


@dataclass(frozen=True)
class RetentionPolicy:
    """Days of retention per opted-in platform; platforms not named do not retain."""

    days: Mapping[str, int]

    @classmethod
    def parse(cls, text: str, platforms: Sequence[str]) -> RetentionPolicy:
        """``"tiktok:30,facebook"`` (days default to `DEFAULT_RETENTION_DAYS`; ``*`` for every platform)."""
        days: dict[str, int] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, _, raw = part.partition(":")
            name = name.strip()
            try:
                value = int(raw) if raw.strip() else DEFAULT_RETENTION_DAYS
            except ValueError:
                raise RetentionError(f"retention of {name!r} must be a whole number of days, got {raw!r}") from None
            if not MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS:
                raise RetentionError(
                    f"retention of {name!r} is {value} days; operators allow {MIN_RETENTION_DAYS}..{MAX_RETENTION_DAYS}"
                )
            names = list(platforms) if name == "*" else [name]
            for platform in names:
                if platform not in platforms:
                    raise RetentionError(f"{platform!r} opts in to retroactive matching but is not a member platform")
                days[platform] = value
        return cls(days)

    def retains(self, platform: str) -> bool:
        return platform in self.days


@dataclass(frozen=True)
class RetainedCheck:
    """What is kept of one check: where it came from, and its pixel-free hashes."""

    platform: str
    obj: ObjectRef
    content_id: str | None
    checked_at: str
    hashes: MediaHashes
    entry: int | None = None

    @property
    def check_id(self) -> str:
        """Stable across retries of the same check (one S3 event, one list line)."""
        line = "" if self.entry is None else f"#line{self.entry}"
        return hashlib.sha256(f"{self.obj.identity}{line}".encode()).hexdigest()[:32]


class RetainedChecks(Protocol):
    def retain(self, check: RetainedCheck, days: int) -> None:
        """Keep `check` for `days` days (idempotent per `check_id`)."""
        ...

    def checks(self, platform: str, since: str) -> Iterator[RetainedCheck]:
        """`platform`'s retained checks made at or after `since` that have not expired."""
        ...

    def purge(self, platform: str, before: str | None = None) -> int:
        """Delete `platform`'s retained checks (made before `before` only, when given); how many."""
        ...


@dataclass(frozen=True)
class RetroactiveMatch:
    check: RetainedCheck
    matches: list[Match]


class _ItemsBank:
    """The bank as a retroactive scan sees it: only the newly shared items."""

    def __init__(self, items: Sequence[SharedItem]) -> None:
        self._items = {item.item_id: item for item in items}

    def items_by_exact(self, signal: str, value: str) -> list[SharedItem]:
        return [item for item in self._items.values() if item.signals.get(signal) == value]

    def get_items(self, item_ids: Sequence[str]) -> dict[str, SharedItem]:
        return {i: self._items[i] for i in item_ids if i in self._items}

    def changes_since(self, position: str | None) -> Iterator[BankChange]:
        if position is not None:
            return iter(())
        return iter(
            BankChange(f"2000-01-01T00:00:00.{n:06d}Z#{item.item_id}#add#00000", "add", item.item_id, item.near_entries)
            for n, item in enumerate(self._items.values())
            if item.near_entries
        )

    def put_items(self, items: Sequence[SharedItem]) -> None:
        raise NotImplementedError("a retroactive scan never writes")

    def withdraw_items(self, items: Sequence[SharedItem], withdrawn_at: str) -> None:
        raise NotImplementedError("a retroactive scan never writes")

    def iter_items(self, since: str | None = None) -> Iterator[SharedItem]:
        return iter(self._items.values())


def _words(hex_values: Sequence[str], hex_length: int) -> np.ndarray:
    """Hex hashes as rows of big-endian uint64 words."""
    if not hex_values:
        return np.zeros((0, hex_length // 16), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hex_values)), dtype=">u8")
    return raw.reshape(len(hex_values), hex_length // 16).astype(np.uint64)


def _columns(hex_values: Sequence[str], hex_length: int) -> np.ndarray:
    """Hex hashes as columns: word w of every hash is the contiguous row w (7x faster to scan)."""
    return np.ascontiguousarray(_words(hex_values, hex_length).T)


def _pdq_hashes(hashes: MediaHashes) -> list[str]:
    values = [hashes.signals[PDQ.name]] if PDQ.name in hashes.signals else []
    values += [q.value for q in hashes.queries if q.signal == PDQ.name]
    for frame in hashes.frames:
        values.append(frame.pdq)
        values.extend(frame.orientations)
    return values


class RetainedPrints:
    """The candidate step's packed arrays: every retained check's PDQ hashes (and main pHash),
    each row labelled with the check it belongs to. ~28 PDQ hashes for a checked picture:
    32 bytes each plus a 4-byte owner, so ~1 KB of memory per retained picture check."""

    def __init__(self, checks: Iterable[RetainedCheck]) -> None:
        self.checks: list[RetainedCheck] = []
        pdq: list[str] = []
        pdq_owner: list[int] = []
        phash: list[str] = []
        phash_owner: list[int] = []
        seen: set[str] = set()
        for check in checks:
            if check.check_id in seen:  # a check retried after it was retained: kept twice, scanned once
                continue
            seen.add(check.check_id)
            number = len(self.checks)
            self.checks.append(check)
            values = _pdq_hashes(check.hashes)
            pdq += values
            pdq_owner += [number] * len(values)
            if PHASH.name in check.hashes.signals:
                phash.append(check.hashes.signals[PHASH.name])
                phash_owner.append(number)
        self._pdq = _columns(pdq, PDQ.hex_length)
        self._pdq_owner = np.asarray(pdq_owner, dtype=np.int32)
        self._phash = _columns(phash, PHASH.hex_length)
        self._phash_owner = np.asarray(phash_owner, dtype=np.int32)

    @classmethod
    def from_arrays(cls, checks: list[RetainedCheck], pdq: np.ndarray, owner: np.ndarray) -> RetainedPrints:
        """Arrays built elsewhere (a benchmark's synthetic millions): 4 rows (one per uint64 word
        of PDQ) by one column per hash."""
        prints = cls(())
        prints.checks, prints._pdq, prints._pdq_owner = checks, pdq, owner
        return prints

    @property
    def nbytes(self) -> int:
        return int(self._pdq.nbytes + self._pdq_owner.nbytes + self._phash.nbytes + self._phash_owner.nbytes)

    def candidates(self, items: Sequence[SharedItem], block: int = BLOCK_ROWS) -> set[int]:
        """Numbers of the checks with a PDQ hash within `CANDIDATE_PDQ_BITS` of one the items
        store, or (for items without PDQ) a pHash within pHash's threshold of theirs."""
        wanted = {e.value for item in items for e in item.near_entries if e.signal == PDQ.name}
        wanted |= {item.signals[PDQ.name] for item in items if PDQ.name in item.signals}
        found: set[int] = set()
        found |= near_rows(self._pdq, self._pdq_owner, sorted(wanted), PDQ.hex_length, CANDIDATE_PDQ_BITS, block)
        lone = sorted({i.signals[PHASH.name] for i in items if PHASH.name in i.signals and PDQ.name not in i.signals})
        found |= near_rows(self._phash, self._phash_owner, lone, PHASH.hex_length, PHASH.default_threshold, block)
        return found


def near_rows(
    columns: np.ndarray, owner: np.ndarray, values: list[str], length: int, bits: int, block: int
) -> set[int]:
    """Owners of the hashes in `columns` (`_columns`) within `bits` of any of `values`."""
    count = columns.shape[1] if columns.ndim == 2 else 0
    if not values or not count:
        return set()
    queries = _words(values, length)
    found: set[int] = set()
    for start in range(0, count, block):
        chunk = columns[:, start : start + block]
        close = np.zeros(chunk.shape[1], dtype=bool)
        for query in queries:
            # uint8 sums: only a hash differing in all 256 bits wraps to 0, and the matcher rejects it.
            distance = np.bitwise_count(chunk[0] ^ query[0])
            for word in range(1, len(query)):
                distance += np.bitwise_count(chunk[word] ^ query[word])
            close |= distance <= bits
        if close.any():
            found.update(owner[start : start + block][close].tolist())
    return found


class RetroactiveScanner:
    """Newly shared items against retained checks: the retroactive matches, exactly as forward."""

    def __init__(
        self,
        retained: RetainedChecks,
        policy: RetentionPolicy,
        thresholds: Callable[[str], Thresholds] = lambda _platform: Thresholds(),
    ) -> None:
        self._retained = retained
        self._policy = policy
        self._thresholds = thresholds

    def scan(self, items: Sequence[SharedItem], now: datetime) -> list[RetroactiveMatch]:
        """Every opted-in platform's unexpired retained checks that the active `items` match."""
        active = [item for item in items if item.status == "active"]
        if not active:
            return []
        found: list[RetroactiveMatch] = []
        for platform, days in sorted(self._policy.days.items()):
            since = (now - timedelta(days=days)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            found += self.scan_checks(active, self._retained.checks(platform, since))
        return found

    def scan_checks(self, items: Sequence[SharedItem], checks: Iterable[RetainedCheck]) -> list[RetroactiveMatch]:
        prints = checks if isinstance(checks, RetainedPrints) else RetainedPrints(checks)
        candidates = prints.candidates(items)
        if not candidates:
            return []
        matcher = Matcher(_ItemsBank(items), BankIndex())
        found = []
        for number in sorted(candidates):
            check = prints.checks[number]
            matches = matcher.match(replace(check.hashes, uneven_crops=None), self._thresholds(check.platform))
            if matches:
                found.append(RetroactiveMatch(check, matches))
        return found
