"""The matching rules, one evidence function each: what makes a checked file match a bank item.

Every function takes what the check hashed (`MediaHashes`), the index or the items it needs, and
the thresholds, and returns `Evidence`: which item, on which signal, how far, and which query of
the check found it. `hashmatch.matching.matcher.Matcher` runs them in order and keeps the best
evidence per (item, signal). The numbers they apply are in `hashmatch.matching.policy`.

- `exact_evidence`: an exact signal (sha256, md5) equal to a stored one;
- `near_evidence`: any hash of the check (its main hashes, their rotations/flips, its framings,
  an animation's frames) within its signal's threshold of any entry stored for an item (main
  hashes, framings, a video's frames), for every indexed signal that may match alone; parts
  within stricter thresholds (a half's, a third's), a stored third only beside another part;
- `uneven_crop_candidates`: which stored framings the edge should search an unevenly cut copy
  toward (`hashmatch.media.uneven`); what it finds is matched by `near_evidence`;
- `corroborated_evidence`: PDQ a little past its threshold, with pHash close, of the picture as it
  is or of a view of it that shows it whole (`hashmatch.media.model.PHASH_VIEWS`);
- `lone_signal_evidence`: a signal that matches alone only items shared without another;
- `video_evidence`: a sampled video against a shared video (alignment rules) or a still image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from hashmatch.bank.model import MAX_STORED_FRAMINGS, PART_KINDS, IndexedEntry, SharedItem
from hashmatch.index.bank_index import BankIndex, NearHit
from hashmatch.matching.policy import (
    FRAME_CORROBORATION_THRESHOLD,
    FRAME_MATCH_THRESHOLD,
    FRAMING_KEY_THRESHOLD,
    HALF_MATCH_THRESHOLD,
    LONE_SIGNALS,
    MAX_CORROBORATED_VIEWS,
    MAX_UNEVEN_CROP_SEARCHES,
    PHASH_CORROBORATION_THRESHOLD,
    PICTURE_QUALITY_SIGNAL,
    SAME_SEARCH_BITS,
    THIRD_MATCH_THRESHOLD,
    THIRDS_AGREEING,
    UNEVEN_CROP_SEARCHES_PER_ITEM,
    UNEVEN_CROP_START_LIMIT,
    Thresholds,
    corroborated_pdq_limit,
)
from hashmatch.matching.video import FramePair, FrameQuery, frame_queries, match_check_pairs
from hashmatch.media.model import (
    FRAMES_QUERY,
    ORIGINAL_QUERY,
    PHASH_VIEWS,
    Candidate,
    LabelledHash,
    MediaHashes,
    Region,
    is_half,
    is_third,
)
from hashmatch.service.ports import BankReader
from hashmatch.signals import SIGNALS, VPDQ
from hashmatch.signals.base import ORIENTATIONS, Orientation
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import FRAMING_KEYS, PDQ
from hashmatch.signals.phash import PHASH

__all__ = [
    "CorroboratingView",
    "Evidence",
    "agreeing_parts",
    "corroborated_evidence",
    "corroborating_views",
    "corroboration_candidates",
    "exact_evidence",
    "frame_hits",
    "lone_signal_candidates",
    "lone_signal_evidence",
    "near_evidence",
    "picture_is_usable",
    "picture_queries",
    "uneven_crop_candidates",
    "video_evidence",
]


_ORIENTATION_LABELS = frozenset(o.value for o in ORIENTATIONS)
# Lookups that only ever keep whole pictures and frames leave the parts of pictures out.
_NO_PARTS: dict[str, int] = {kind: -1 for kind in PART_KINDS}
# An item's stored framings may all have near keys: look at this many per search.
_CANDIDATES_LOOKED_AT_PER_SEARCH = MAX_STORED_FRAMINGS


@dataclass(frozen=True)
class Evidence:
    """That a checked file matches item `item_id` on `signal`, at `distance`, by query `query`."""

    item_id: str
    signal: str
    distance: int
    query: str
    detail: dict[str, object] = field(default_factory=dict)


def picture_is_usable(hashes: MediaHashes) -> bool:
    """Whether a checked or shared picture's hashes may be queried or stored at all: not flat."""
    signal = SIGNALS.get(PICTURE_QUALITY_SIGNAL)
    return PICTURE_QUALITY_SIGNAL in hashes.signals and signal.usable(hashes.quality.get(PICTURE_QUALITY_SIGNAL))


def picture_queries(hashes: MediaHashes, signal: str) -> list[LabelledHash]:
    """Every hash of `signal` a checked file is looked up with: its main hash (labelled
    ``original``) and rotations/flips when the picture is usable, its framings (hashed only where
    their own quality is usable, so they count even when the whole picture's does not: a plain
    picture padded with a busy blurred fill), the framings the edge found by the uneven-crop
    search, and an animation's usable frames."""
    queries: list[LabelledHash] = []
    usable = picture_is_usable(hashes) and hashes.media == "image"
    if usable and signal in hashes.signals:
        queries.append(LabelledHash(signal, hashes.signals[signal], ORIGINAL_QUERY))
    for query in hashes.queries:
        if query.signal == signal and (usable or query.label not in _ORIENTATION_LABELS):
            queries.append(query)
    if hashes.media == "image" and signal == PDQ.name:
        # An animated picture's sampled frames: one frame showing a shared picture is a match.
        # (A video's frames follow the clip/splice rules instead: see `video_evidence`.)
        queries += [
            LabelledHash(signal, f.pdq, f"frame@{f.offset:.2f}s") for f in hashes.frames if PDQ.usable(f.quality)
        ]
    return queries


def exact_evidence(bank: BankReader, hashes: MediaHashes) -> tuple[list[Evidence], dict[str, SharedItem]]:
    """Items an exact signal of the check equals, with the items themselves (already fetched)."""
    evidence: list[Evidence] = []
    found: dict[str, SharedItem] = {}
    for signal in SIGNALS.exact():
        value = hashes.signals.get(signal.name)
        if not value:
            continue
        for item in bank.items_by_exact(signal.name, value):
            found[item.item_id] = item
            evidence.append(Evidence(item.item_id, signal.name, 0, ORIGINAL_QUERY))
    return evidence, found


def near_evidence(index: BankIndex, hashes: MediaHashes, thresholds: Thresholds) -> list[Evidence]:
    """Every indexed entry within its signal's threshold of a hash the check is queried with, for
    every indexed signal that matches alone (`LONE_SIGNALS` excepted); a pair with a part of a
    picture on either side (a queried half or third, a stored `half` or `third` entry) only within
    `HALF_MATCH_THRESHOLD` (`THIRD_MATCH_THRESHOLD` with a third: `_pair_limit`); and a stored
    third only when `THIRDS_AGREEING` parts of its item agree (`agreeing_parts`)."""
    evidence: list[Evidence] = []
    for name in index.signal_names:
        if name in LONE_SIGNALS:
            continue
        queries = picture_queries(hashes, name)
        threshold = thresholds.for_signal(name)
        thirds: list[Evidence] = []
        parts: dict[str, list[tuple[str, str]]] = {}  # item id -> (query label, stored part) pairs
        limits = [_pair_limits(is_half(q.label), is_third(q.label), threshold) for q in queries]
        for hit in _query_within(index, name, [q.value for q in queries], limits):
            query = queries[hit.query_row]
            detail = _entry_detail(hit.entry)
            if query.region is not None:
                detail["region"] = query.region.edges()
            found = Evidence(hit.entry.item_id, name, hit.distance, query.label, detail)
            if hit.entry.kind in PART_KINDS:
                parts.setdefault(hit.entry.item_id, []).append((query.label, hit.entry.value))
            (thirds if hit.entry.kind == "third" else evidence).append(found)
        agreeing = {item_id: agreeing_parts(pairs) for item_id, pairs in parts.items()}
        for found in thirds:
            if agreeing[found.item_id] >= THIRDS_AGREEING:
                found.detail["agreeing_parts"] = agreeing[found.item_id]
                evidence.append(found)
    return evidence


def agreeing_parts(pairs: Sequence[tuple[str, str]]) -> int:
    """How many of an item's stored parts agree with the check: as many as there are distinct
    stored parts and distinct queries that found them, whichever is fewer. (With at least two of
    each, two different queries found two different parts: a pairing always exists.)"""
    return min(len({label for label, _ in pairs}), len({value for _, value in pairs}))


def uneven_crop_candidates(
    index: BankIndex,
    keys: Sequence[str],
    grid_hashes: Sequence[str],
    *,
    key_threshold: int = FRAMING_KEY_THRESHOLD,
    start_limit: int = UNEVEN_CROP_START_LIMIT,
) -> list[Candidate]:
    """The stored framings an unevenly cut copy's grid (`hashmatch.media.uneven`) should be
    searched toward: those whose framing key is within `key_threshold` of a grid rectangle's, each
    from the rectangle whose PDQ is closest to it (at most `start_limit` bits away);
    at most `MAX_UNEVEN_CROP_SEARCHES`: one per item first, closest first, then, while searches are
    left, a further one toward another stored framing of an item already chosen (one more than
    `SAME_SEARCH_BITS` from the one chosen for it; at most `UNEVEN_CROP_SEARCHES_PER_ITEM` an item),
    closest first; returned closest first. The search itself needs the
    copy's pixels, so it runs at the edge; what it finds comes back as ``uneven_crop`` queries,
    matched at the usual threshold by `near_evidence`."""
    hits = index.closest_by_derived_key(
        FRAMING_KEYS.name,
        keys,
        grid_hashes,
        key_threshold,
        start_limit,
        MAX_UNEVEN_CROP_SEARCHES * _CANDIDATES_LOOKED_AT_PER_SEARCH,
    )
    chosen: dict[str, list[int]] = {}  # item id -> positions in `hits` (closest first)
    for position, hit in enumerate(hits):  # one per item
        if hit.entry.item_id not in chosen and len(chosen) < MAX_UNEVEN_CROP_SEARCHES:
            chosen[hit.entry.item_id] = [position]
    searches = len(chosen)
    for position, hit in enumerate(hits):  # then another framing of an item chosen, while searches are left
        taken = chosen.get(hit.entry.item_id, [])
        if (
            searches < MAX_UNEVEN_CROP_SEARCHES
            and 0 < len(taken) < UNEVEN_CROP_SEARCHES_PER_ITEM
            and all(hex_distance(hit.entry.value, hits[k].entry.value) > SAME_SEARCH_BITS for k in taken)
        ):
            taken.append(position)
            searches += 1
    positions = sorted(k for taken in chosen.values() for k in taken)
    return [Candidate(hits[k].query_row, hits[k].entry.value) for k in positions]


class CorroboratingView(NamedTuple):
    """A view of a checked picture with both its PDQ and its pHash (`corroborating_views`)."""

    label: str
    pdq: str
    phash: str
    region: Region | None = None


def corroborating_views(hashes: MediaHashes) -> list[CorroboratingView]:
    """Each view of a checked picture whose pHash is comparable with a stored picture's: the
    upright picture as it is (`ORIGINAL_QUERY`, its main hashes), then each of `PHASH_VIEWS` the
    check carries both hashes of (paired by label and region); at most `MAX_CORROBORATED_VIEWS`.
    Rotations, crops and parts never qualify: pHash has no rotated or cropped forms. None for a
    picture that is not usable."""
    if not picture_is_usable(hashes) or hashes.media != "image" or PHASH.name not in hashes.signals:
        return []
    views = []
    if PDQ.name in hashes.signals:
        views.append(CorroboratingView(ORIGINAL_QUERY, hashes.signals[PDQ.name], hashes.signals[PHASH.name]))
    phashes = {
        (q.label, q.region): q.value for q in hashes.queries if q.signal == PHASH.name and q.label in PHASH_VIEWS
    }
    views += [
        CorroboratingView(q.label, q.value, phashes[(q.label, q.region)], q.region)
        for q in hashes.queries
        if q.signal == PDQ.name and (q.label, q.region) in phashes
    ]
    return views[:MAX_CORROBORATED_VIEWS]


def corroboration_candidates(
    index: BankIndex, views: Sequence[CorroboratingView], thresholds: Thresholds
) -> list[NearHit]:
    """Stored main PDQs past the platform's threshold but within the corroboration limit of one of
    `views`, a check's views that pHash can corroborate (`corroborating_views`):
    `corroborated_evidence` decides them once their items are fetched. A hit's `query_row` is its
    view's position in `views`."""
    if PDQ.name not in index.signal_names or not views:
        return []
    threshold = thresholds.pdq
    wide = index.query(PDQ.name, [view.pdq for view in views], corroborated_pdq_limit(threshold), _NO_PARTS)
    return [hit for hit in wide if hit.distance > threshold and hit.entry.kind == "hash"]


def corroborated_evidence(
    candidates: Sequence[NearHit], items: Mapping[str, SharedItem], views: Sequence[CorroboratingView]
) -> list[Evidence]:
    """Candidates whose item's pHash is within `PHASH_CORROBORATION_THRESHOLD` of the pHash of the
    one of `views` that found them (`corroboration_candidates` over the same `views`)."""
    evidence = []
    for hit in candidates:
        item = items.get(hit.entry.item_id)
        if item is None or PHASH.name not in item.signals:
            continue
        view = views[hit.query_row]
        phash_distance = hex_distance(view.phash, item.signals[PHASH.name])
        if phash_distance <= PHASH_CORROBORATION_THRESHOLD:
            detail: dict[str, object] = {"phash_distance": phash_distance}
            if view.region is not None:
                detail["region"] = view.region.edges()
            evidence.append(Evidence(hit.entry.item_id, PDQ.name, hit.distance, view.label, detail))
    return evidence


def lone_signal_candidates(index: BankIndex, hashes: MediaHashes, thresholds: Thresholds) -> list[NearHit]:
    """Entries within threshold of the check's upright main hash of each lone signal (`LONE_SIGNALS`):
    `lone_signal_evidence` keeps those whose item lacks the signal it defers to."""
    if not picture_is_usable(hashes):
        return []
    hits: list[NearHit] = []
    for name in LONE_SIGNALS:
        if name in hashes.signals and name in index.signal_names:
            hits += index.query(name, [hashes.signals[name]], thresholds.for_signal(name))
    return hits


def lone_signal_evidence(candidates: Sequence[NearHit], items: Mapping[str, SharedItem]) -> list[Evidence]:
    """Candidates whose item was shared without the signal their own signal defers to."""
    evidence = []
    for hit in candidates:
        item = items.get(hit.entry.item_id)
        if item is not None and LONE_SIGNALS[hit.entry.signal] not in item.signals:
            evidence.append(Evidence(hit.entry.item_id, hit.entry.signal, hit.distance, ORIGINAL_QUERY))
    return evidence


def frame_hits(
    index: BankIndex,
    hashes: MediaHashes,
    threshold: int = FRAME_MATCH_THRESHOLD,
    corroboration: int = FRAME_CORROBORATION_THRESHOLD,
) -> dict[str, list[tuple[FrameQuery, NearHit]]]:
    """A sampled video's frames (all eight orientations, their framings) against every stored PDQ,
    by item. Where a shared video's frame is within `threshold` of a sample, the check's queries
    in the orientations of those pairs are asked again within `corroboration` bits, and the frames
    of that video they find are added: such pairs count only toward an alignment that holds a
    pair within `threshold` (`hashmatch.matching.video.match_pairs`). Checks with no such pair,
    nearly all of them, pay nothing more."""
    if hashes.media != "video" or PDQ.name not in index.signal_names:
        return {}
    queries = frame_queries(hashes)
    by_item: dict[str, list[tuple[FrameQuery, NearHit]]] = {}
    # A video's sample against a still picture's third is never enough alone: thirds are left out.
    limits = [_pair_limits(q.half, False, threshold, thirds=False) for q in queries]
    for hit in _query_within(index, PDQ.name, [q.pdq for q in queries], limits):
        query = queries[hit.query_row]
        by_item.setdefault(hit.entry.item_id, []).append((query, hit))
    anchored: dict[str, set[Orientation]] = {}
    for item_id, hits in by_item.items():
        orientations = {query.orientation for query, hit in hits if _shared_frame(hit.entry)}
        if orientations:
            anchored[item_id] = orientations
    if not anchored or corroboration <= threshold:
        return by_item
    wanted = set().union(*anchored.values())
    # Halves corroborate nothing: only whole frames and crops are asked again, wider.
    rows = [k for k, query in enumerate(queries) if query.orientation in wanted and not query.half]
    for hit in index.query(PDQ.name, [queries[k].pdq for k in rows], corroboration, _NO_PARTS):
        query = queries[rows[hit.query_row]]
        if (
            hit.distance > threshold
            and hit.entry.kind == "frame"
            and query.orientation in anchored.get(hit.entry.item_id, ())
        ):
            by_item[hit.entry.item_id].append((query, hit))
    return by_item


def video_evidence(check: MediaHashes, item: SharedItem, hits: Sequence[tuple[FrameQuery, NearHit]]) -> list[Evidence]:
    """A shared video matches by the clip/splice rules; a shared still image when a frame shows it."""
    if item.media == "video":
        pairs = [
            FramePair(
                query.offset,
                hit.entry.offset or 0.0,
                hit.entry.end or hit.entry.offset or 0.0,
                hit.distance,
                query.orientation,
            )
            for query, hit in hits
            if _shared_frame(hit.entry)
        ]
        verdict = match_check_pairs(check, pairs, item.duration or 0.0)
        if not verdict.matched:
            return []
        distance = min(segment.best_distance for segment in verdict.segments)
        return [Evidence(item.item_id, VPDQ.name, distance, FRAMES_QUERY, verdict.as_dict())]
    query, hit = min(hits, key=lambda pair: pair[1].distance)
    detail: dict[str, object] = {"check_offset": query.offset, "orientation": query.orientation.value}
    return [Evidence(item.item_id, PDQ.name, hit.distance, f"frame@{query.offset:.2f}s", detail)]


def _shared_frame(entry: IndexedEntry) -> bool:
    """Whether an entry stands for frames of a shared video: a run, or a half of a run's first frame."""
    return entry.kind == "frame" or (entry.kind == "half" and entry.offset is not None)


# How far a query may be from a stored whole picture, and from each kind of stored part.
_Limits = tuple[int, tuple[tuple[str, int], ...]]


def _query_within(index: BankIndex, name: str, values: Sequence[str], limits: Sequence[_Limits]) -> list[NearHit]:
    """`BankIndex.query` with limits per query (`values[k]` within `limits[k]`: a threshold and
    the stricter limits of the parts of pictures), in the order one lookup at the widest limits
    would give (by query row, then distance); each set of limits is one lookup, so a part of a
    picture queried within 10 bits costs what 10 bits cost, not the whole picture's 31 (a lookup's
    probes grow with its threshold)."""
    rows_by_limits: dict[_Limits, list[int]] = {}
    for row, limit in enumerate(limits):
        rows_by_limits.setdefault(limit, []).append(row)
    hits: list[NearHit] = []
    for (threshold, kind_limits), rows in rows_by_limits.items():
        hits += [
            NearHit(rows[hit.query_row], hit.entry, hit.distance)
            for hit in index.query(name, [values[row] for row in rows], threshold, dict(kind_limits))
        ]
    if len(rows_by_limits) > 1:  # stable: within a row and a distance, the index's own order
        hits.sort(key=lambda hit: (hit.query_row, hit.distance))
    return hits


def _pair_limits(half_query: bool, third_query: bool, threshold: int, *, thirds: bool = True) -> _Limits:
    """How far a query may be from a stored whole picture, and from each kind of stored part
    (`_pair_limit`); stored thirds left out (a negative limit) unless `thirds`. `BankIndex.query`
    applies them: every hit it returns is within its pair's limit."""
    kinds = tuple(
        (kind, _pair_limit(kind, half_query, third_query, threshold) if thirds or kind != "third" else -1)
        for kind in sorted(PART_KINDS)
    )
    return _pair_limit("hash", half_query, third_query, threshold), kinds


def _pair_limit(entry_kind: str, half_query: bool, third_query: bool, threshold: int) -> int:
    """The farthest a query and a stored entry of `entry_kind` may be and still match: the
    signal's `threshold`; with a third of a picture on either side, at most
    `THIRD_MATCH_THRESHOLD`; else with a half, at most `HALF_MATCH_THRESHOLD` (a platform's
    stricter threshold stays stricter)."""
    if third_query or entry_kind == "third":
        return min(threshold, THIRD_MATCH_THRESHOLD)
    if half_query or entry_kind == "half":
        return min(threshold, HALF_MATCH_THRESHOLD)
    return threshold


def _entry_detail(entry: IndexedEntry) -> dict[str, object]:
    detail: dict[str, object] = {}
    if _shared_frame(entry) and entry.offset is not None:
        detail["shared_offset"] = entry.offset
    if entry.kind == "half":
        detail["shared_half"] = True
    if entry.kind == "third":
        detail["shared_third"] = True
    return detail
