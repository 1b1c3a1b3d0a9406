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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

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
    """
    remaining = list(pairs)
    segments: list[MatchedSegment] = []
    while remaining:
        alignment = _best_alignment(remaining)
        if alignment is None:
            break
        orientation, shift, supporting = alignment
        segments.extend(_segments(supporting, orientation, shift, sample_period, check_duration, shared_duration))
        used = {p.check_offset for p in supporting}
        remaining = [p for p in remaining if p.check_offset not in used]
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


def _best_alignment(pairs: list[FramePair]) -> tuple[Orientation, float, list[FramePair]] | None:
    """The (orientation, shift) supported by the most distinct check samples, if enough."""
    best: tuple[int, int, Orientation, float, list[FramePair]] | None = None
    for orientation in sorted({p.orientation for p in pairs}):
        candidates = [p for p in pairs if p.orientation == orientation]
        # Every shift a pair suggests, the closest pair's first: shifts within the tolerance of the
        # true one find the same pairs, and a tie goes to the shift the closest pair puts it at.
        closest: dict[float, int] = {}
        for p in candidates:
            shift = round(p.check_offset - p.shared_start, 3)
            closest[shift] = min(closest.get(shift, p.distance), p.distance)
        for shift in sorted(closest, key=lambda s: (closest[s], s)):
            supporting = _supporting(candidates, shift)
            if not _anchored(supporting):
                continue
            support = len({p.check_offset for p in supporting})
            total = -sum(p.distance for p in supporting)
            if best is None or (support, total) > (best[0], best[1]):
                best = (support, total, orientation, shift, supporting)
    if best is None or best[0] < MIN_MATCHED_FRAMES:
        return None
    return best[2], best[3], best[4]


def _anchored(supporting: list[FramePair]) -> bool:
    """Whether an alignment holds a pair within the frame threshold: pairs further off (up to
    `FRAME_CORROBORATION_THRESHOLD`) only corroborate one."""
    return any(p.distance <= FRAME_MATCH_THRESHOLD for p in supporting)


def _supporting(pairs: list[FramePair], shift: float) -> list[FramePair]:
    """The closest pair per check sample whose shared span agrees with `shift`."""
    closest: dict[float, FramePair] = {}
    for pair in pairs:
        at = pair.check_offset - shift
        if pair.shared_start - OFFSET_TOLERANCE <= at <= pair.shared_end + OFFSET_TOLERANCE:
            kept = closest.get(pair.check_offset)
            if kept is None or pair.distance < kept.distance:
                closest[pair.check_offset] = pair
    return list(closest.values())


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
