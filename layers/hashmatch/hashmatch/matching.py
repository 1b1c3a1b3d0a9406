"""Matching a hashed file against the bank: exact lookups plus the in-memory near-match index."""

from __future__ import annotations

from dataclasses import dataclass

from hashmatch.bank import IndexedEntry, Match, SharedItem
from hashmatch.media import MediaHashes
from hashmatch.near import NEAR_SIGNALS, NearHit, NearIndexes
from hashmatch.ports import Bank
from hashmatch.robust import (
    FRAMING_KEY_THRESHOLD,
    MAX_UNEVEN_CROP_SEARCHES,
    PDQ_CORROBORATED_THRESHOLD,
    PHASH_CORROBORATION_THRESHOLD,
    UNEVEN_CROP_START_LIMIT,
)
from hashmatch.signals import SIGNAL_TYPES
from hashmatch.signals.hamming import hex_distance
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashmatch.video_matching import FramePair, FrameQuery, frame_pdq_variants, match_check_pairs

__all__ = ["Matcher", "NearHit", "NearIndexes", "Thresholds"]

EXACT_SIGNALS = ("sha256", "md5")
# See Matcher: how far past the PDQ threshold a pHash-corroborated original may be (31 + 17 = 48).
CORROBORATION_MARGIN = PDQ_CORROBORATED_THRESHOLD - PDQ_MATCH_THRESHOLD


@dataclass(frozen=True)
class Thresholds:
    """The largest Hamming distance that still counts as a match, per near signal."""

    pdq: int = SIGNAL_TYPES["pdq"].threshold
    phash: int = SIGNAL_TYPES["phash"].threshold

    def for_signal(self, signal: str) -> int:
        value: int = getattr(self, signal)
        return value


@dataclass
class _Evidence:
    """The best evidence found so far that a checked file matches one item on one signal."""

    distance: int
    query: str
    detail: dict[str, object]


class Matcher:
    """Finds the bank items a hashed file matches, exactly or within the near thresholds.

    The rules, in the order they are tried:

    - sha256 / md5 equal: a match;
    - PDQ within the threshold (31 by default) between any hash of the check (the original, its
      rotations/flips, its framings) and any stored for an item (the original, its framings, a
      video's frames): a match;
    - for an image cut unevenly: a stored framing whose low-frequency key is within
      `FRAMING_KEY_THRESHOLD` of a grid rectangle's (`robust.UnevenCropSearch`), when the search
      around that rectangle finds a framing within the PDQ threshold of it: a match;
    - the upright original PDQ within `CORROBORATION_MARGIN` more bits of an item's original PDQ,
      when the two pHashes are within `PHASH_CORROBORATION_THRESHOLD`: text or a logo over the
      picture moves PDQ further than pHash;
    - pHash within its threshold, only for items shared with no PDQ (a hash list from a system
      that has pHash alone): two photos of one scene can be 2-4 pHash bits apart, so pHash never
      overrules PDQ;
    - a video against a shared video by the clip/splice rules of `hashmatch.video_matching`, and
      against a shared still image when one of its frames shows it.
    """

    def __init__(self, bank: Bank, near: NearIndexes, *, framing_key_threshold: int = FRAMING_KEY_THRESHOLD) -> None:
        self._bank = bank
        self._near = near
        self._framing_key_threshold = framing_key_threshold

    def match(self, hashes: MediaHashes, thresholds: Thresholds | None = None) -> list[Match]:
        """Every active item matched, with the best evidence per (item, signal), exact signals first."""
        thresholds = thresholds or Thresholds()
        best: dict[tuple[str, str], _Evidence] = {}
        found: dict[str, SharedItem] = {}

        def consider(item_id: str, signal: str, evidence: _Evidence) -> None:
            key = (item_id, signal)
            if key not in best or evidence.distance < best[key].distance:
                best[key] = evidence

        for signal in EXACT_SIGNALS:
            value = hashes.signals.get(signal)
            if value:
                for item in self._bank.items_by_exact(signal, value):
                    found[item.item_id] = item
                    consider(item.item_id, signal, _Evidence(0, "original", {}))

        self._near.refresh(self._bank)
        queries = _pdq_queries(hashes)
        for hit in self._near.query("pdq", [value for _, value in queries], thresholds.pdq):
            consider(
                hit.entry.item_id, "pdq", _Evidence(hit.distance, queries[hit.query_row][0], _entry_detail(hit.entry))
            )
        for item_id, evidence in self._uneven_crop_evidence(hashes, thresholds.pdq, best):
            consider(item_id, "pdq", evidence)
        corroborate = self._corroboration_candidates(hashes, thresholds.pdq)
        phash_hits = self._phash_hits(hashes, thresholds.phash)
        frame_hits = self._frame_hits(hashes, thresholds.pdq) if hashes.media == "video" else {}

        wanted = (
            {item_id for item_id, _ in best} | {h.entry.item_id for h in corroborate + phash_hits} | set(frame_hits)
        )
        found.update(self._bank.get_items([item_id for item_id in wanted if item_id not in found]))
        for hit in corroborate:
            phash_distance = _phash_distance(hashes, found.get(hit.entry.item_id))
            if phash_distance is not None and phash_distance <= PHASH_CORROBORATION_THRESHOLD:
                consider(
                    hit.entry.item_id, "pdq", _Evidence(hit.distance, "original", {"phash_distance": phash_distance})
                )
        for hit in phash_hits:
            candidate = found.get(hit.entry.item_id)
            if candidate is not None and "pdq" not in candidate.signals:
                consider(hit.entry.item_id, "phash", _Evidence(hit.distance, "original", {}))
        for item_id, hits in frame_hits.items():
            if item_id in found:
                for signal, evidence in _video_evidence(hashes, found[item_id], hits):
                    consider(item_id, signal, evidence)

        matches = []
        for (item_id, signal), evidence in best.items():
            stored = found.get(item_id)
            if stored is None or stored.status != "active":
                continue
            matches.append(
                Match(
                    item_id=item_id,
                    signal=signal,
                    distance=evidence.distance,
                    labels=stored.provenance.labels,
                    contributor=stored.provenance.contributor,
                    severity=stored.provenance.severity,
                    incident=stored.provenance.incident,
                    query=evidence.query,
                    detail=evidence.detail,
                )
            )
        order = {name: rank for rank, name in enumerate((*EXACT_SIGNALS, "vpdq", *NEAR_SIGNALS))}
        return sorted(matches, key=lambda m: (order.get(m.signal, 99), m.distance, m.item_id))

    def _uneven_crop_evidence(
        self, hashes: MediaHashes, threshold: int, best: dict[tuple[str, str], _Evidence]
    ) -> list[tuple[str, _Evidence]]:
        """Stored framings found inside an unevenly cut copy, for items not matched on PDQ already.

        Each stored framing whose key a grid rectangle's is near starts one search, from the
        rectangle whose PDQ is closest to it (at most `UNEVEN_CROP_START_LIMIT` bits away); at most
        `MAX_UNEVEN_CROP_SEARCHES` searches per check, closest starts first.
        """
        search = hashes.uneven_crops
        if search is None:
            return []
        matched = {item_id for (item_id, signal), e in best.items() if signal == "pdq" and e.distance <= threshold}
        candidates = self._near.framing_candidates(
            search.keys,
            search.hashes,
            self._framing_key_threshold,
            UNEVEN_CROP_START_LIMIT,
            MAX_UNEVEN_CROP_SEARCHES,
            skip_items=matched,
        )
        evidence = []
        for hit in candidates:
            distance, region = search.closest(hit.query_row, hit.entry.value)
            if distance <= threshold:
                edges = [round(edge, 4) for edge in (region.left, region.top, region.right, region.bottom)]
                evidence.append((hit.entry.item_id, _Evidence(distance, "uneven-crop", {"region": edges})))
        return evidence

    def _corroboration_candidates(self, hashes: MediaHashes, threshold: int) -> list[NearHit]:
        """Stored original PDQs a little beyond the threshold from the check's upright original."""
        if not _usable_pdq(hashes) or "phash" not in hashes.signals:
            return []
        wide = self._near.query("pdq", [hashes.signals["pdq"]], threshold + CORROBORATION_MARGIN)
        return [hit for hit in wide if hit.distance > threshold and hit.entry.kind == "hash"]

    def _phash_hits(self, hashes: MediaHashes, threshold: int) -> list[NearHit]:
        if not _usable_pdq(hashes) or "phash" not in hashes.signals:
            return []
        return self._near.query("phash", [hashes.signals["phash"]], threshold)

    def _frame_hits(self, hashes: MediaHashes, threshold: int) -> dict[str, list[tuple[FrameQuery, NearHit]]]:
        """A sampled video's frames (all eight orientations) against every stored PDQ, by item."""
        queries = frame_pdq_variants(hashes)
        by_item: dict[str, list[tuple[FrameQuery, NearHit]]] = {}
        for hit in self._near.query("pdq", [q.pdq for q in queries], threshold):
            by_item.setdefault(hit.entry.item_id, []).append((queries[hit.query_row], hit))
        return by_item


def _usable_pdq(hashes: MediaHashes) -> bool:
    # Low-quality PDQ (flat, blank, tiny pictures) is alike for unrelated pictures: never queried.
    return "pdq" in hashes.signals and hashes.pdq_quality is not None and hashes.pdq_quality >= PDQ_MIN_QUALITY


def _phash_distance(hashes: MediaHashes, item: SharedItem | None) -> int | None:
    if item is None or "phash" not in item.signals or "phash" not in hashes.signals:
        return None
    return hex_distance(hashes.signals["phash"], item.signals["phash"])


def _pdq_queries(hashes: MediaHashes) -> list[tuple[str, str]]:
    """(name, hex) of every PDQ hash a checked picture is queried with."""
    queries: list[tuple[str, str]] = []
    if _usable_pdq(hashes):
        queries.append(("original", hashes.signals["pdq"]))
        queries += [(f"rotation-{i + 1}", value) for i, value in enumerate(hashes.pdq_variants)]
    # Framings are hashed only where their own quality is >= 50, so they count even when the
    # whole picture's does not (a plain picture padded with a busy blurred fill).
    queries += [(f"framing-{i + 1}", value) for i, value in enumerate(hashes.pdq_regions)]
    if hashes.media == "image":
        # An animated picture's sampled frames: one frame showing a shared picture is a match.
        # (A video's frames follow the clip/splice rules instead: see Matcher._frame_hits.)
        queries += [(f"frame@{f.offset:.2f}s", f.pdq) for f in hashes.frames if f.quality >= PDQ_MIN_QUALITY]
    return queries


def _video_evidence(
    check: MediaHashes, item: SharedItem, hits: list[tuple[FrameQuery, NearHit]]
) -> list[tuple[str, _Evidence]]:
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
            if hit.entry.kind == "frame"
        ]
        verdict = match_check_pairs(check, pairs, item.duration or 0.0)
        if not verdict.matched:
            return []
        distance = min(segment.best_distance for segment in verdict.segments)
        return [("vpdq", _Evidence(distance, "frames", verdict.as_dict()))]
    query, hit = min(hits, key=lambda pair: pair[1].distance)
    detail: dict[str, object] = {"check_offset": query.offset, "orientation": query.orientation}
    return [("pdq", _Evidence(hit.distance, f"frame@{query.offset:.2f}s", detail))]


def _entry_detail(entry: IndexedEntry) -> dict[str, object]:
    if entry.kind == "frame" and entry.offset is not None:
        return {"shared_offset": entry.offset}
    return {}
