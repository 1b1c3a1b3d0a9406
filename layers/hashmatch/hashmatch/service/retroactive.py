"""Retroactive matching: earlier checks that a newly shared hash now matches.

A member that opts in (`RetentionPolicy`: days per platform, within `MIN_RETENTION_DAYS` ..
`MAX_RETENTION_DAYS`) has the hashes of its checks (never media: the same pixel-free query set
the check was matched with, `hashmatch.media.codec`) kept for that many days (`RetainedChecks`,
expired by TTL, purged at once on request). When any member shares, `RetroactiveScanner` finds
the retained checks the new items match and the coalition tells each checking member
`match.found` with ``retroactive: true``, the original check's content id, object key and time.

Which side does what. Forward, a shared item stores few hashes (its main hashes, six framings,
four halves, six thirds, a video's frame runs) and a check queries many (rotations, flips, framings,
uneven-crop finds).
Backward keeps that split: the retained check keeps its many query hashes, the new item brings
its few, so the pairs compared are the pairs forward matching compares. The scan is two steps:

1. candidates: every retained PDQ hash (main, queries, video frames and their orientations)
   against every PDQ hash the new items store, within `CANDIDATE_PDQ_BITS` (the widest any rule
   accepts, corroboration's), and retained pHashes against the items' pHashes for items that
   have no PDQ; numpy popcount over packed uint64 words, one pass per item hash;
2. verdicts: each candidate check is matched by the real `Matcher` against a bank holding only
   the new items, so a retroactive match is exactly a match forward matching would have made
   had the items been shared before the check.

Copies cut unevenly (each side by its own 0-10%). Forward, a check's uneven-crop search runs at
the edge on the copy's pixels, toward the framings stored then; a retained check keeps no pixels.
So backward the search's work moves to the side that has pixels at share time, the sharer's edge:
a shared picture brings its `cut_views` (`hashmatch.media.uneven.cut_views`), 625 hashes of it as
copies cut on a grid of cuts show it, sent with the share and never stored. Step 1 also compares
the 16 coarse ones (`coarse_cut_views`) with each retained check's whole-picture hashes (its main
PDQ, its whole framing and the central crops of that, `WHOLE_VIEW_LABELS`: kept first in the
scan's arrays, so this pass reads 7 of a picture check's ~28 rows) within
`CUT_VIEW_CANDIDATE_BITS`; step 2 matches candidates against the items with their 625 views
indexed as framings, at the checking platform's threshold. The retained check is unchanged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import numpy as np

from hashmatch.bank.model import Match, NearEntry, SharedItem
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import CORROBORATED_PDQ_LIMIT, Thresholds
from hashmatch.media.framing import QUERY_CROP_SCALES, Framing
from hashmatch.media.model import MediaHashes, framing_label
from hashmatch.media.uneven import coarse_cut_views
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.ports import BankChange
from hashmatch.signals.pdq import PDQ
from hashmatch.signals.phash import PHASH

__all__ = [
    "BLOCK_ROWS",
    "CANDIDATE_PDQ_BITS",
    "CUT_VIEW_CANDIDATE_BITS",
    "DEFAULT_RETENTION_DAYS",
    "MAX_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "WHOLE_VIEW_LABELS",
    "RetainedCheck",
    "RetainedChecks",
    "RetainedPrintSource",
    "RetainedPrints",
    "RetainedScanFanOut",
    "RetentionPolicy",
    "RetroactiveMatch",
    "RetroactiveScanner",
    "UnreadableCheck",
    "near_rows",
]

logger = logging.getLogger(__name__)

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 90
DEFAULT_RETENTION_DAYS = 30
# The widest PDQ distance any forward rule accepts (corroborated by pHash): candidates are a
# superset of what the matcher can accept, so the first step loses nothing.
CANDIDATE_PDQ_BITS = CORROBORATED_PDQ_LIMIT
# A retained check whose whole-picture hash is within this many bits of a new picture's coarse cut
# view is a candidate: of 54 seeded copies cut unevenly the farthest was 58 bits from its photo's
# nearest coarse view, other photos' views no nearer than 92 (`hashmatch.media.uneven`).
CUT_VIEW_CANDIDATE_BITS = 72
# The labels of a checked picture's whole-picture framings: the whole picture and its central crops,
# as they are (a copy's cut views are compared with these and its main PDQ).
WHOLE_VIEW_LABELS = frozenset(
    {Framing.WHOLE, *(framing_label(Framing.WHOLE, Framing.central_crop(scale)) for scale in QUERY_CROP_SCALES)}
)
# Rows compared per step: 64K rows of 4 words (2 MB) stay in cache while every query passes over them.
BLOCK_ROWS = 1 << 16


class RetentionError(ValueError):
    """A retention setting outside what operators allow."""


class UnreadableCheck(ValueError):
    """A retained check whose stored document cannot be read: corrupt, or not written by this code
    (a member may write its own retained checks' store, to purge it). A scan leaves it out and
    logs it; it never fails the share that scans."""


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


@runtime_checkable
class RetainedPrintSource(Protocol):
    """Retained checks already packed for the scan (shards of them): the scanner reads these
    instead of decoding every check, and fetches a check's hashes only when it is a candidate."""

    def prints(self, platform: str, since: str) -> Iterator[RetainedPrints]:
        """`platform`'s unexpired retained checks made at or after `since`, each exactly once,
        in one or more packed batches."""
        ...


@runtime_checkable
class RetainedScanFanOut(Protocol):
    """Runs a scan's candidate step and verdicts across parallel workers (one slice of the retained
    checks each) instead of in this process: for stores too large for one invocation to read."""

    def matched_checks(self, items: Sequence[SharedItem], since: Mapping[str, str]) -> list[RetainedCheck]:
        """The retained checks of each platform in `since` (made at or after its time, unexpired)
        that `items` match, each once; raises when a slice could not be scanned."""
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

    def put_items(self, items: Sequence[SharedItem], *, read: Mapping[str, SharedItem] | None = None) -> None:
        raise NotImplementedError("a retroactive scan never writes")

    def withdraw_items(self, items: Sequence[SharedItem], withdrawn_at: str, *, by: str | None = None) -> None:
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


def _pdq_hashes(hashes: MediaHashes) -> tuple[list[str], list[str]]:
    """A check's PDQ hashes: its whole-picture ones (main PDQ, `WHOLE_VIEW_LABELS`), then the rest."""
    whole = [hashes.signals[PDQ.name]] if PDQ.name in hashes.signals else []
    rest: list[str] = []
    for query in hashes.queries:
        if query.signal == PDQ.name:
            (whole if query.label in WHOLE_VIEW_LABELS else rest).append(query.value)
    for frame in hashes.frames:
        rest.append(frame.pdq)
        rest.extend(frame.orientations)
        rest.extend(value for _, value in frame.framings)
    return whole, rest


class RetainedPrints:
    """The candidate step's packed arrays: every retained check's PDQ hashes (and main pHash),
    each row labelled with the check it belongs to. ~28 PDQ hashes for a checked picture:
    32 bytes each plus a 4-byte owner, so ~1 KB of memory per retained picture check. Every
    check's whole-picture hashes come first (`whole_rows` of them), so the cut views' pass reads
    only those."""

    def __init__(self, checks: Iterable[RetainedCheck]) -> None:
        self.checks: Sequence[RetainedCheck] = []
        pdq: list[str] = []
        pdq_owner: list[int] = []
        rest: list[str] = []
        rest_owner: list[int] = []
        phash: list[str] = []
        phash_owner: list[int] = []
        seen: set[str] = set()
        kept: list[RetainedCheck] = []
        for check in checks:
            if check.check_id in seen:  # a check retried after it was retained: kept twice, scanned once
                continue
            seen.add(check.check_id)
            number = len(kept)
            kept.append(check)
            whole, others = _pdq_hashes(check.hashes)
            pdq += whole
            pdq_owner += [number] * len(whole)
            rest += others
            rest_owner += [number] * len(others)
            if PHASH.name in check.hashes.signals:
                phash.append(check.hashes.signals[PHASH.name])
                phash_owner.append(number)
        self.checks = kept
        self.whole_rows = len(pdq)
        self._pdq = _columns(pdq + rest, PDQ.hex_length)
        self._pdq_owner = np.asarray(pdq_owner + rest_owner, dtype=np.int32)
        self._phash = _columns(phash, PHASH.hex_length)
        self._phash_owner = np.asarray(phash_owner, dtype=np.int32)

    @classmethod
    def from_arrays(
        cls,
        checks: Sequence[RetainedCheck],
        pdq: np.ndarray,
        owner: np.ndarray,
        whole_rows: int = 0,
        phash: np.ndarray | None = None,
        phash_owner: np.ndarray | None = None,
    ) -> RetainedPrints:
        """Arrays built elsewhere (a shard's, a benchmark's synthetic millions): 4 rows (one per
        uint64 word of PDQ) by one column per hash, the first `whole_rows` columns whole-picture
        hashes; `owner` numbers index `checks`, which may fetch a check only when it is asked for."""
        prints = cls(())
        prints.checks, prints._pdq, prints._pdq_owner, prints.whole_rows = checks, pdq, owner, whole_rows
        if phash is not None and phash_owner is not None:
            prints._phash, prints._phash_owner = phash, phash_owner
        return prints

    def arrays(self) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]:
        """The packed arrays `from_arrays` takes: PDQ columns, their owners, `whole_rows`, pHash
        columns, their owners."""
        return self._pdq, self._pdq_owner, self.whole_rows, self._phash, self._phash_owner

    @property
    def nbytes(self) -> int:
        return int(self._pdq.nbytes + self._pdq_owner.nbytes + self._phash.nbytes + self._phash_owner.nbytes)

    def candidates(self, items: Sequence[SharedItem], block: int = BLOCK_ROWS) -> set[int]:
        """Numbers of the checks with a PDQ hash within `CANDIDATE_PDQ_BITS` of one the items
        store, or a whole-picture hash within `CUT_VIEW_CANDIDATE_BITS` of an item's coarse cut
        view, or (for items without PDQ) a pHash within pHash's threshold of theirs."""
        wanted = {e.value for item in items for e in item.near_entries if e.signal == PDQ.name}
        wanted |= {item.signals[PDQ.name] for item in items if PDQ.name in item.signals}
        found: set[int] = set()
        found |= near_rows(self._pdq, self._pdq_owner, sorted(wanted), PDQ.hex_length, CANDIDATE_PDQ_BITS, block)
        coarse = sorted({view for item in items for view in coarse_cut_views(item.cut_views)})
        whole, whole_owner = self._pdq[:, : self.whole_rows], self._pdq_owner[: self.whole_rows]
        found |= near_rows(whole, whole_owner, coarse, PDQ.hex_length, CUT_VIEW_CANDIDATE_BITS, block)
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


def _with_cut_views(item: SharedItem) -> SharedItem:
    """`item` as the scan's verdicts see it: its cut views indexed beside its stored framings."""
    stored = {(e.signal, e.value) for e in item.near_entries}
    views = [NearEntry(PDQ.name, v, "framing") for v in dict.fromkeys(item.cut_views) if (PDQ.name, v) not in stored]
    return replace(item, near_entries=item.near_entries + tuple(views)) if views else item


class RetroactiveScanner:
    """Newly shared items against retained checks: the retroactive matches, exactly as forward."""

    def __init__(
        self,
        retained: RetainedChecks,
        policy: RetentionPolicy,
        thresholds: Callable[[str], Thresholds] = lambda _platform: Thresholds(),
        fan_out: RetainedScanFanOut | None = None,
    ) -> None:
        self._retained = retained
        self._policy = policy
        self._thresholds = thresholds
        self._fan_out = fan_out

    def scan(self, items: Sequence[SharedItem], now: datetime) -> list[RetroactiveMatch]:
        """Every opted-in platform's unexpired retained checks that the active `items` match.

        With a fan-out, workers return the checks they matched and the verdicts are made again
        here (a handful of checks): the same `scan_checks`, so the same matches."""
        active = [item for item in items if item.status == "active"]
        if not active:
            return []
        since = {
            platform: (now - timedelta(days=days)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            for platform, days in sorted(self._policy.days.items())
        }
        if self._fan_out is not None:
            if not since:
                return []
            return self.scan_checks(active, self._fan_out.matched_checks(active, since))
        found: list[RetroactiveMatch] = []
        for platform, since_time in since.items():
            if isinstance(self._retained, RetainedPrintSource):
                for prints in self._retained.prints(platform, since_time):
                    found += self.scan_checks(active, prints)
            else:
                found += self.scan_checks(active, self._retained.checks(platform, since_time))
        return found

    def scan_checks(
        self, items: Sequence[SharedItem], checks: Iterable[RetainedCheck] | RetainedPrints
    ) -> list[RetroactiveMatch]:
        prints = checks if isinstance(checks, RetainedPrints) else RetainedPrints(checks)
        candidates = prints.candidates(items)
        if not candidates:
            return []
        matcher = Matcher(_ItemsBank([_with_cut_views(item) for item in items]), BankIndex())
        found = []
        for number in sorted(candidates):
            try:
                check = prints.checks[number]
            except UnreadableCheck:
                logger.error("an unreadable retained check was left out of the scan", exc_info=True)
                continue
            matches = matcher.match(replace(check.hashes, uneven_crops=None), self._thresholds(check.platform))
            if matches:
                found.append(RetroactiveMatch(check, matches))
        return found
