"""Does a checked video show a shared one? Pure logic over per-frame PDQ hashes; no I/O.

The two sides are hashed differently (see `hashmatch.media.video`); every number is in
`hashmatch.matching.policy`:

- a **shared** video is hashed densely (every frame). `shared_frame_runs` keeps one entry per run
  of near-identical consecutive frames (within `DEDUPE_BITS`), with the time span it stands for;
  these are what the bank stores and the near-match index holds;
- a **checked** video is sampled sparsely (1 frame per second by default) and each sample is
  queried with all eight rotations/flips (`frame_pdq_variants`).

Because the shared side has every frame, a check sample taken at any instant, from a clip cut at
any frame or re-encoded at another frame rate, finds a shared frame a fraction of a frame period
away (0-6 bits on the reference videos) instead of one up to half a second away (24-60 bits).

A frame pair is a check sample and a shared run within `FRAME_MATCH_THRESHOLD` bits, or within
`FRAME_CORROBORATION_THRESHOLD` as corroboration. Pairs are grouped into **alignments**: one
orientation and one time shift (check time minus shared time), within `OFFSET_TOLERANCE`. An
alignment counts only with `MIN_MATCHED_FRAMES` distinct check samples, at least one of them
within `FRAME_MATCH_THRESHOLD`, so one lookalike frame (a black frame, a title card) never makes
a match, nor frames only loosely alike; frames below
PDQ's minimum quality are never queried nor stored. The check matches when the aligned segments
cover `SHARED_COVERAGE` of the shared video (the shared clip is inside the check: spliced, or the
check contains it), or `CHECK_COVERAGE` of the check's watchable footage (the check is a clip of
the shared video; stretches of black, blank or flat frames, never queried, are left out), or
at least `MIN_MATCHED_SECONDS` of footage in absolute terms (a long excerpt of a long video).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hashmatch.matching.policy import (
    CHECK_COVERAGE,
    DEDUPE_BITS,
    FRAME_MATCH_THRESHOLD,
    MIN_MATCHED_FRAMES,
    MIN_MATCHED_SECONDS,
    OFFSET_TOLERANCE,
    SEGMENT_GAP,
    SHARED_COVERAGE,
)
from hashmatch.media.model import FrameHash, MediaHashes, framing_orientation, is_part
from hashmatch.signals.base import ORIENTATIONS, Orientation
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ

__all__ = [
    "FramePair",
    "FrameQuery",
    "MatchedSegment",
    "SharedFrameRun",
    "VideoMatch",
    "frame_queries",
    "has_queries",
    "match_check_pairs",
    "match_pairs",
    "shared_frame_runs",
    "starts_run",
]


@dataclass(frozen=True)
class SharedFrameRun:
    """A stored frame hash of a shared video and the span [start, end] of frames it stands for,
    with the central crops stored beside it (`framings`: (label, PDQ hex) of the run's first frame,
    `hashmatch.media.framing.stored_frame_framings`; none for frames hashed without them)."""

    pdq: str
    start: float
    end: float
    quality: int
    framings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FrameQuery:
    """One hash a check sample is queried with: its time, orientation and PDQ hex, and whether it
    is a part of the sample, a half (or a third), held to `HALF_MATCH_THRESHOLD`."""

    offset: float
    orientation: Orientation
    pdq: str
    half: bool = False


@dataclass(frozen=True)
class FramePair:
    """A check sample within the frame threshold of a shared run."""

    check_offset: float
    shared_start: float
    shared_end: float
    distance: int
    orientation: Orientation


@dataclass(frozen=True)
class MatchedSegment:
    """A stretch of the check that shows a stretch of the shared video (seconds in each)."""

    check_start: float
    check_end: float
    shared_start: float
    shared_end: float
    frames: int
    orientation: Orientation
    best_distance: int


@dataclass(frozen=True)
class VideoMatch:
    """The verdict for one (check, shared) pair and the evidence behind it."""

    matched: bool
    segments: tuple[MatchedSegment, ...]
    matched_seconds: float
    shared_coverage: float
    check_coverage: float
    reason: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for notifications and check records."""
        return {
            "matched": self.matched,
            "reason": self.reason,
            "matched_seconds": round(self.matched_seconds, 3),
            "shared_coverage": round(self.shared_coverage, 3),
            "check_coverage": round(self.check_coverage, 3),
            "segments": [
                {
                    "check_start": round(s.check_start, 3),
                    "check_end": round(s.check_end, 3),
                    "shared_start": round(s.shared_start, 3),
                    "shared_end": round(s.shared_end, 3),
                    "frames": s.frames,
                    "orientation": s.orientation.value,
                    "best_distance": s.best_distance,
                }
                for s in self.segments
            ],
        }


def shared_frame_runs(frames: Sequence[FrameHash], dedupe_bits: int = DEDUPE_BITS) -> list[SharedFrameRun]:
    """The frame hashes to store for a densely hashed shared video, as runs of near-identical frames.

    Frames below PDQ's minimum quality (blank, black, flat) are left out; a frame within
    `dedupe_bits` of the run's first frame extends the run instead of starting a new one. A run
    keeps its first frame's framings: the shared hasher computes them only for frames that start
    a run by this same rule.
    """
    runs: list[SharedFrameRun] = []
    for frame in frames:
        if not PDQ.usable(frame.quality):
            continue
        if starts_run(runs[-1].pdq if runs else None, frame.pdq, frame.quality, dedupe_bits):
            runs.append(SharedFrameRun(frame.pdq, frame.offset, frame.offset, frame.quality, frame.framings))
        else:
            runs[-1] = replace(runs[-1], end=frame.offset)
    return runs


def starts_run(run_start: str | None, pdq: str, quality: int, dedupe_bits: int = DEDUPE_BITS) -> bool:
    """Whether a shared video's frame starts a new run after the run whose first frame's PDQ is
    `run_start` (None: no run yet): usable, and further than `dedupe_bits` from it."""
    return PDQ.usable(quality) and (run_start is None or hex_distance(run_start, pdq) > dedupe_bits)


def frame_queries(check: MediaHashes) -> list[FrameQuery]:
    """Every hash to query for a sampled video: each usable frame in all eight orientations (the
    original only where the hasher computed no others), and each frame's framings (the footage
    inside a caption bar, padding or a larger frame; usable on their own), each in the orientation
    its label ends with. The same queries serve shared videos and shared still images (a frame
    showing the image)."""
    queries: list[FrameQuery] = []
    for frame in check.frames:
        if PDQ.usable(frame.quality):
            for orientation, pdq in zip(ORIENTATIONS, (frame.pdq, *frame.orientations), strict=False):
                queries.append(FrameQuery(frame.offset, orientation, pdq))
        for label, pdq in frame.framings:
            queries.append(FrameQuery(frame.offset, framing_orientation(label), pdq, is_part(label)))
    return queries


def match_pairs(
    pairs: Iterable[FramePair],
    *,
    check_duration: float,
    shared_duration: float,
    sample_period: float,
    watchable_duration: float | None = None,
) -> VideoMatch:
    """The verdict from frame pairs (from the near-match index).

    `sample_period` is the check's sampling period in seconds (1 / fps): each matched sample is
    taken to stand for that much footage. `watchable_duration` (default `check_duration`) is how
    much of the check has anything to match, what its coverage is a share of (`_watchable`).

    Alignments are taken greedily, the best first, each from the samples the ones before left.
    Each step scores every candidate shift at once (`_alignment_scores`), so its work grows with
    the pairs, not with pairs times shifts: a shared video whose frames alternate between two
    hashes (every frame a run of its own, each check sample paired with half of them) costs what
    its pairs cost. There are at most as many steps as the check has samples over
    `MIN_MATCHED_FRAMES`.
    """
    table = _PairTable(list(pairs))
    remaining = np.ones(len(table.pairs), dtype=bool)
    segments: list[MatchedSegment] = []
    while remaining.any():
        alignment = _best_alignment(table, remaining)
        if alignment is None:
            break
        orientation, shift, rows = alignment
        supporting = [table.pairs[row] for row in rows]
        segments.extend(_segments(supporting, orientation, shift, sample_period, check_duration, shared_duration))
        remaining &= ~np.isin(table.sample, table.sample[rows])
    segments.sort(key=lambda s: s.check_start)
    check_seconds = _union_length([(s.check_start, s.check_end) for s in segments])
    shared_seconds = _union_length([(s.shared_start, s.shared_end) for s in segments])
    shared_coverage = min(1.0, shared_seconds / shared_duration) if shared_duration > 0 else 0.0
    watchable = check_duration if watchable_duration is None else watchable_duration
    check_coverage = min(1.0, check_seconds / watchable) if watchable > 0 else 0.0
    if not segments:
        reason = "no aligned frames"
    elif shared_coverage >= SHARED_COVERAGE:
        reason = "shared video found in check"
    elif check_coverage >= CHECK_COVERAGE:
        reason = "check is a clip of the shared video"
    elif check_seconds >= MIN_MATCHED_SECONDS:
        reason = "excerpt of the shared video"
    else:
        reason = "too little of either video matched"
    matched = reason not in ("no aligned frames", "too little of either video matched")
    return VideoMatch(matched, tuple(segments), check_seconds, shared_coverage, check_coverage, reason)


def match_check_pairs(check: MediaHashes, pairs: Iterable[FramePair], shared_duration: float) -> VideoMatch:
    """The verdict for a sampled `check` video from its frame pairs with one shared video."""
    return match_pairs(
        pairs,
        check_duration=_duration(check),
        shared_duration=shared_duration,
        sample_period=_sample_period(check),
        watchable_duration=_watchable(check),
    )


class _PairTable:
    """Frame pairs as columns, each field read once: what the alignments are scored from. Rows
    keep the pairs' order, which breaks ties between equally close pairs of one sample."""

    def __init__(self, pairs: list[FramePair]) -> None:
        count = len(pairs)
        self.pairs = pairs
        self.check_offset = np.fromiter((p.check_offset for p in pairs), np.float64, count)
        self.shared_start = np.fromiter((p.shared_start for p in pairs), np.float64, count)
        self.shared_end = np.fromiter((p.shared_end for p in pairs), np.float64, count)
        self.distance = np.fromiter((p.distance for p in pairs), np.int64, count)
        orientations = [p.orientation for p in pairs]
        self.orientations: list[Orientation] = sorted(set(orientations))
        code = {orientation: k for k, orientation in enumerate(self.orientations)}
        self.orientation = np.fromiter((code[o] for o in orientations), np.int64, count)
        # Which check sample each pair is of (pairs with one check offset are one sample).
        self.sample = np.unique(self.check_offset, return_inverse=True)[1]
        # The shift each pair suggests (check minus shared time), rounded by Python's `round`
        # (numpy's may differ in the last place) once per distinct value.
        raw, position = np.unique(self.check_offset - self.shared_start, return_inverse=True)
        self.shift = np.array([round(float(value), 3) for value in raw], dtype=np.float64)[position]


def _best_alignment(table: _PairTable, remaining: np.ndarray) -> tuple[Orientation, float, np.ndarray] | None:
    """The (orientation, shift) supported by the most distinct check samples among the `remaining`
    rows, if enough, with its supporting rows (`_supporting`). Shifts are those the pairs suggest;
    only an anchored one counts (`_alignment_scores`). Of equally supported ones the fewest bits in
    all win, then the earlier orientation, the shift whose closest suggesting pair is closer, the
    smaller shift: among shifts within the tolerance of the true one, which find the same pairs,
    a tie goes to the shift the closest pair puts it at."""
    best: tuple[int, int, Orientation, float, np.ndarray] | None = None
    for code, orientation in enumerate(table.orientations):
        rows = np.flatnonzero(remaining & (table.orientation == code))
        if rows.size == 0:
            continue
        shifts, suggested_by = np.unique(table.shift[rows], return_inverse=True)
        closest = np.full(shifts.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(closest, suggested_by, table.distance[rows])
        support, total_distance, anchored = _alignment_scores(table, rows, shifts)
        eligible = np.flatnonzero(anchored)
        if eligible.size == 0:
            continue
        ranked = np.lexsort((shifts[eligible], closest[eligible], total_distance[eligible], -support[eligible]))
        k = eligible[ranked[0]]
        if best is None or (int(support[k]), -int(total_distance[k])) > (best[0], best[1]):
            best = (int(support[k]), -int(total_distance[k]), orientation, float(shifts[k]), rows)
    if best is None or best[0] < MIN_MATCHED_FRAMES:
        return None
    _, _, orientation, shift, rows = best
    return orientation, shift, _supporting(table, rows, shift)


def _alignment_scores(table: _PairTable, rows: np.ndarray, shifts: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each of the ascending `shifts`: how many distinct check samples have a pair among `rows`
    whose shared span agrees with it (as `_supporting` decides), the sum of the distances of each
    such sample's closest agreeing pair, and whether one of them is within `FRAME_MATCH_THRESHOLD`
    (pairs further off, up to `FRAME_CORROBORATION_THRESHOLD`, only corroborate one).

    A pair agrees with a run of consecutive shifts. Counting the samples that have an agreeing
    pair within each distance the pairs have, closest first, tells each sample's closest distance
    at every shift at once: the work is the pairs times their distinct distances (at most 41 from
    the index: 0 to `FRAME_CORROBORATION_THRESHOLD` bits), where testing every pair at every shift
    would be the pairs times the shifts."""
    check, start, end = table.check_offset[rows], table.shared_start[rows], table.shared_end[rows]
    # Positions [first, stop) of the shifts a pair agrees with, by the exact comparisons
    # `_supporting` makes (a shift below `first` puts the check sample past the span's end).
    first = _prefix_lengths(
        shifts,
        np.searchsorted(shifts, check - (end + OFFSET_TOLERANCE), side="left"),
        lambda k, shift: check[k] - shift > end[k] + OFFSET_TOLERANCE,
    )
    stop = _prefix_lengths(
        shifts,
        np.searchsorted(shifts, check - (start - OFFSET_TOLERANCE), side="right"),
        lambda k, shift: check[k] - shift >= start[k] - OFFSET_TOLERANCE,
    )
    sample, distance = table.sample[rows], table.distance[rows]
    order = np.lexsort((first, sample))
    sample, distance, first, stop = sample[order], distance[order], first[order], stop[order]
    support = np.zeros(shifts.size, dtype=np.int64)
    total_distance = np.zeros(shifts.size, dtype=np.int64)
    anchored = np.zeros(shifts.size, dtype=bool)
    for level in np.unique(distance):
        within = distance <= level
        covered = _samples_covering(sample[within], first[within], stop[within], shifts.size)
        # Samples covered first at this level: their closest agreeing pair is `level` bits off.
        total_distance += int(level) * (covered - support)
        support = covered
        if level <= FRAME_MATCH_THRESHOLD:
            anchored = covered > 0
    return support, total_distance, anchored


def _prefix_lengths(
    shifts: np.ndarray, guess: np.ndarray, holds: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """For each pair k, how many of the ascending `shifts`, from the first, `holds(k, shift)` for
    (it holds for a leading run of them, then never again), found from `guess`: a search for the
    bound computed the other way round (a shift against check time minus a span's edge, not check
    time minus the shift against the edge), which floating-point rounding can put a place off."""
    length = np.clip(guess, 0, shifts.size)
    while True:
        grow = np.flatnonzero(length < shifts.size)
        grow = grow[holds(grow, shifts[length[grow]])]
        if grow.size == 0:
            break
        length[grow] += 1
    while True:
        shrink = np.flatnonzero(length > 0)
        shrink = shrink[~holds(shrink, shifts[length[shrink] - 1])]
        if shrink.size == 0:
            break
        length[shrink] -= 1
    return length


def _samples_covering(sample: np.ndarray, first: np.ndarray, stop: np.ndarray, size: int) -> np.ndarray:
    """How many distinct samples have a range [first, stop) holding each position below `size`,
    from ranges sorted by sample, then first: a sample's overlapping ranges merge, so it counts
    once where they overlap."""
    kept = first < stop
    sample, first, stop = sample[kept], first[kept], stop[kept]
    if sample.size == 0:
        return np.zeros(size, dtype=np.int64)
    # Each sample's ranges moved onto a stretch of one line of their own: one running maximum of
    # the range ends then finds where each merged range ends, and never joins two samples.
    line = sample.astype(np.int64) * (size + 1)
    reach = np.maximum.accumulate(stop + line)
    opens = np.ones(sample.size, dtype=bool)
    opens[1:] = first[1:] + line[1:] > reach[:-1]
    begins = np.flatnonzero(opens)
    ends = np.append(begins[1:], sample.size) - 1
    change = np.bincount(first[begins], minlength=size + 1) - np.bincount(
        reach[ends] - line[begins], minlength=size + 1
    )
    return np.cumsum(change[:size])


def _supporting(table: _PairTable, rows: np.ndarray, shift: float) -> np.ndarray:
    """The closest pair (the first listed of equally close ones) per check sample among `rows`
    whose shared span agrees with `shift`, as rows."""
    at = table.check_offset[rows] - shift
    agreeing = rows[
        (table.shared_start[rows] - OFFSET_TOLERANCE <= at) & (at <= table.shared_end[rows] + OFFSET_TOLERANCE)
    ]
    ordered = agreeing[np.lexsort((agreeing, table.distance[agreeing], table.sample[agreeing]))]
    closest = np.ones(ordered.size, dtype=bool)
    closest[1:] = table.sample[ordered[1:]] != table.sample[ordered[:-1]]
    return ordered[closest]


def _segments(
    supporting: list[FramePair],
    orientation: Orientation,
    shift: float,
    sample_period: float,
    check_duration: float,
    shared_duration: float,
) -> list[MatchedSegment]:
    ordered = sorted(supporting, key=lambda p: p.check_offset)
    groups: list[list[FramePair]] = [[ordered[0]]]
    for pair in ordered[1:]:
        if pair.check_offset - groups[-1][-1].check_offset > SEGMENT_GAP:
            groups.append([pair])
        else:
            groups[-1].append(pair)
    segments = []
    for group in groups:
        check_start = group[0].check_offset
        check_end = _sample_end(group[-1].check_offset, sample_period, check_duration)
        shared_start = max(0.0, check_start - shift)
        shared_end = min(check_end - shift, max(shared_duration, group[-1].shared_end))
        segments.append(
            MatchedSegment(
                check_start,
                check_end,
                shared_start,
                max(shared_start, shared_end),
                len(group),
                orientation,
                min(p.distance for p in group),
            )
        )
    return segments


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    end = float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def _duration(hashes: MediaHashes) -> float:
    if hashes.duration is not None:
        return hashes.duration
    return hashes.frames[-1].offset if hashes.frames else 0.0


def _watchable(check: MediaHashes) -> float:
    """How much of a sampled video has anything to match: each sample with something to query
    (`frame_queries`: a usable frame, or framings) stands for a sampling period from its time.
    Black, blank and flat stretches (a fade, a dark room, a title's empty background) are never
    queried, so they cannot keep a check from being a clip of a shared video."""
    duration, period = _duration(check), _sample_period(check)
    spans = [
        (frame.offset, _sample_end(frame.offset, period, duration)) for frame in check.frames if has_queries(frame)
    ]
    return min(duration, _union_length(spans))


def has_queries(frame: FrameHash) -> bool:
    """Whether a check's sample has anything to query (`frame_queries`): a usable frame, or framings."""
    return PDQ.usable(frame.quality) or bool(frame.framings)


def _sample_end(offset: float, period: float, duration: float) -> float:
    """Where the footage a sample at `offset` stands for ends: a sampling period on, or the video's end."""
    return min(offset + period, max(duration, offset))


def _sample_period(hashes: MediaHashes) -> float:
    rate = hashes.extra.get("sample_fps")
    if isinstance(rate, (int, float)) and 0 < rate < float("inf"):
        return 1.0 / rate
    return 1.0
