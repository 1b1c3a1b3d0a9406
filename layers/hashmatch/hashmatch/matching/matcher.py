"""Matching a hashed file against the bank: the rules of `hashmatch.matching.rules`, in order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hashmatch.bank.model import Match, SharedItem
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.policy import FRAMING_KEY_THRESHOLD, UNEVEN_CROP_START_LIMIT, Thresholds
from hashmatch.matching.rules import (
    Evidence,
    corroborated_evidence,
    corroborating_views,
    corroboration_candidates,
    exact_evidence,
    frame_hits,
    lone_signal_candidates,
    lone_signal_evidence,
    near_evidence,
    uneven_crop_candidates,
    video_evidence,
)
from hashmatch.media.model import Candidate, Grid, MediaHashes
from hashmatch.service.ports import BankReader
from hashmatch.signals import SIGNALS, VPDQ

__all__ = ["Matcher", "Thresholds"]


class Matcher:
    """Finds the bank items a hashed file matches.

    The rules, in the order they run (see `hashmatch.matching.rules`): exact signals; near
    signals against every stored hash, framing and frame (the framings the edge found by the
    uneven-crop search among them); PDQ corroborated by pHash; lone signals for items shared
    without the signal they defer to; a video's frames by the clip/splice rules, or against a
    still image. Only active items are reported, with the best evidence per (item, signal).
    The matcher never sees pixels: everything it reads is in `MediaHashes`.
    """

    def __init__(
        self,
        bank: BankReader,
        index: BankIndex,
        *,
        framing_key_threshold: int = FRAMING_KEY_THRESHOLD,
        start_limit: int = UNEVEN_CROP_START_LIMIT,
    ) -> None:
        self._bank = bank
        self._index = index
        self._framing_key_threshold = framing_key_threshold
        self._start_limit = start_limit

    @property
    def index(self) -> BankIndex:
        return self._index

    @property
    def bank(self) -> BankReader:
        """The bank the matcher reads items and the change log from."""
        return self._bank

    def uneven_crop_candidates(self, keys: Sequence[str], grid_hashes: Sequence[str]) -> list[Candidate]:
        """The stored framings the edge should search an unevenly cut copy toward (the index fresh)."""
        (found,) = self.uneven_crop_candidates_many([(keys, grid_hashes)])
        return found

    def uneven_crop_candidates_many(self, grids: Sequence[Grid]) -> list[list[Candidate]]:
        """`uneven_crop_candidates` for many copies' grids (keys, hashes), after one refresh."""
        self._index.refresh(self._bank)
        return [
            uneven_crop_candidates(
                self._index, keys, hashes, key_threshold=self._framing_key_threshold, start_limit=self._start_limit
            )
            for keys, hashes in grids
        ]

    def match(self, hashes: MediaHashes, thresholds: Thresholds | None = None, *, benign: bool = False) -> list[Match]:
        """Every active item matched, with the best evidence per (item, signal), exact signals
        first; with `benign`, the benign bank's items matched too (`Match.benign`)."""
        self._index.refresh(self._bank)
        return self._match_fresh(hashes, thresholds or Thresholds(), benign)

    def match_many(
        self, queries: Sequence[MediaHashes], thresholds: Thresholds | None = None, *, benign: bool = False
    ) -> list[list[Match]]:
        """`match` of each query set, in order, after one read of the bank's log tail for all of
        them (a check list's chunk, a lookup batch): as fresh as the first, without a query each."""
        self._index.refresh(self._bank)
        return [self._match_fresh(hashes, thresholds or Thresholds(), benign) for hashes in queries]

    def _match_fresh(self, hashes: MediaHashes, thresholds: Thresholds, benign: bool) -> list[Match]:
        evidence, found = exact_evidence(self._bank, hashes)
        evidence += near_evidence(self._index, hashes, thresholds)
        views = corroborating_views(hashes)
        corroboration = corroboration_candidates(self._index, views, thresholds)
        lone = lone_signal_candidates(self._index, hashes, thresholds)
        frames = frame_hits(self._index, hashes)

        wanted = {e.item_id for e in evidence} | {h.entry.item_id for h in (*corroboration, *lone)} | set(frames)
        found.update(self._bank.get_items([item_id for item_id in wanted if item_id not in found]))
        evidence += corroborated_evidence(corroboration, found, views)
        evidence += lone_signal_evidence(lone, found)
        for item_id, hits in frames.items():
            if item_id in found:
                evidence += video_evidence(hashes, found[item_id], hits)
        return _verdict(evidence, found, ("active", "benign") if benign else ("active",))


def _verdict(evidence: Iterable[Evidence], items: dict[str, SharedItem], statuses: tuple[str, ...]) -> list[Match]:
    """The best evidence per (item, signal) of items in `statuses`, exact signals first, then
    video, then near signals in registry order, closest first."""
    best: dict[tuple[str, str], Evidence] = {}
    for found in evidence:
        key = (found.item_id, found.signal)
        if key not in best or found.distance < best[key].distance:
            best[key] = found
    matches = []
    for (item_id, signal), found in best.items():
        item = items.get(item_id)
        if item is None or item.status not in statuses:
            continue
        provenance = item.provenance
        matches.append(
            Match(
                item_id=item_id,
                signal=signal,
                distance=found.distance,
                labels=provenance.labels,
                contributor=provenance.contributor,
                severity=provenance.severity,
                confidence=provenance.confidence,
                incident=provenance.incident,
                query=found.query,
                detail=found.detail,
                backers=item.backers,
                benign=item.status == "benign",
            )
        )
    ranked = [s.name for s in SIGNALS.exact()] + [VPDQ.name] + [s.name for s in SIGNALS if s.name != VPDQ.name]
    rank = {name: position for position, name in enumerate(dict.fromkeys(ranked))}
    return sorted(matches, key=lambda m: (rank.get(m.signal, len(rank)), m.distance, m.item_id))
