"""Does a checked video show a shared one? Pure logic over per-frame PDQ hashes; no I/O.

The two sides are hashed differently (see `hashmatch.video`):

- a **shared** video is hashed densely (every frame). `shared_frame_runs` keeps one entry per run
  of near-identical consecutive frames (within `DEDUPE_BITS`), with the time span it stands for;
  these are what the bank stores and the near-match index holds;
- a **checked** video is sampled sparsely (1 frame per second by default) and each sample is
  queried with all eight rotations/flips (`frame_pdq_variants`).

Because the shared side has every frame, a check sample taken at any instant, from a clip cut at
any frame or re-encoded at another frame rate, finds a shared frame a fraction of a frame period
away (0-6 bits on the reference videos) instead of one up to half a second away (24-60 bits).

A frame pair is a check sample and a shared run within `FRAME_MATCH_THRESHOLD` bits. Pairs are
grouped into **alignments**: one orientation and one time shift (check time minus shared time),
within `OFFSET_TOLERANCE`. An alignment counts only with `MIN_MATCHED_FRAMES` distinct check
samples, so one lookalike frame (a black frame, a title card) never makes a match; frames below
`MIN_FRAME_QUALITY` are never queried nor stored. The check matches when the aligned segments
cover `SHARED_COVERAGE` of the shared video (the shared clip is inside the check: spliced, or the
check contains it), or `CHECK_COVERAGE` of the check (the check is a clip of the shared video), or
at least `MIN_MATCHED_SECONDS` of footage in absolute terms (a long excerpt of a long video).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from hashmatch.media import FrameHash, MediaHashes
from hashmatch.signals.hamming import hex_distance, hex_to_bytes, popcount_rows
from hashmatch.signals.pdq import PDQ_HEX_LENGTH, PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY

__all__ = [
    "CHECK_COVERAGE",
    "DEDUPE_BITS",
    "FRAME_MATCH_THRESHOLD",
    "MIN_FRAME_QUALITY",
    "MIN_MATCHED_FRAMES",
    "MIN_MATCHED_SECONDS",
    "OFFSET_TOLERANCE",
    "SEGMENT_GAP",
    "SHARED_COVERAGE",
    "FramePair",
    "FrameQuery",
    "MatchedSegment",
    "SharedFrameRun",
    "VideoMatch",
    "frame_pairs",
    "frame_pdq_variants",
    "match_check_pairs",
    "match_pairs",
    "match_video",
    "shared_frame_runs",
    "video_frames_showing_image",
]

# Per frame: the PDQ standard. Measured on the reference videos (check sampled at 1 fps, shared
# dense, bars trimmed, best of 8 orientations): copies of one scene are 0-8 bits apart (median),
# 16-24 with a logo overlay; frames of different scenes are never closer than 90 bits.
FRAME_MATCH_THRESHOLD = PDQ_MATCH_THRESHOLD
MIN_FRAME_QUALITY = PDQ_MIN_QUALITY
# Consecutive shared frames this close are stored once, as a run; a check frame matching a dropped
# frame within T bits is within T + 4 of the kept one. It halves a static shot's storage, and
# hand-held footage keeps 80-95% of its frames.
DEDUPE_BITS = 4
# An alignment needs this many distinct check samples (3 seconds at 1 fps): never one frame.
MIN_MATCHED_FRAMES = 3
# Pairs of one alignment agree on check-minus-shared time to this many seconds: with every shared
# frame stored, the true shift is found to within one frame period; 0.5 s also absorbs sampling
# jitter and a few dropped frames, while a static scene's runs carry their whole span.
OFFSET_TOLERANCE = 0.5
# Matched samples of one alignment further apart than this (check seconds) are separate segments.
SEGMENT_GAP = 3.0
# Coverage rules. Measured on the reference families: re-encodes, tints and bars cover 85-100%
# of either side, a logo overlay 60-100%; a 6 s clip of a 22 s video covers 100% of the check and
# ~27% of the shared video; a 6 s shared clip spliced into 20 s of other footage covers 100% of
# the shared video and ~30% of the check. Half of either side leaves room for heavier edits.
SHARED_COVERAGE = 0.5
CHECK_COVERAGE = 0.5
# A few seconds of a shared video spliced into unrelated footage cover little of either side: an
# aligned excerpt this long (at least MIN_MATCHED_FRAMES samples at one time shift, each within
# the frame threshold, where different scenes measure >= 90 bits apart) is a match on its own.
# A 5 s excerpt of a 12 s shared video inside 15 s of other footage covers 42% / 33%.
MIN_MATCHED_SECONDS = 4.0

_ORIENTATIONS = ("original", "rotate90", "rotate180", "rotate270", "flip_x", "flip_y", "transpose", "transverse")


@dataclass(frozen=True)
class SharedFrameRun:
    """A stored frame hash of a shared video and the span [start, end] of frames it stands for."""

    pdq: str
    start: float
    end: float
    quality: int


@dataclass(frozen=True)
class FrameQuery:
    """One hash a check sample is queried with: its time, orientation and PDQ hex."""

    offset: float
    orientation: str
    pdq: str


@dataclass(frozen=True)
class FramePair:
    """A check sample within the frame threshold of a shared run."""

    check_offset: float
    shared_start: float
    shared_end: float
    distance: int
    orientation: str


@dataclass(frozen=True)
class MatchedSegment:
    """A stretch of the check that shows a stretch of the shared video (seconds in each)."""

    check_start: float
    check_end: float
    shared_start: float
    shared_end: float
    frames: int
    orientation: str
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
                    "orientation": s.orientation,
                    "best_distance": s.best_distance,
                }
                for s in self.segments
            ],
        }


def shared_frame_runs(frames: Sequence[FrameHash], dedupe_bits: int = DEDUPE_BITS) -> list[SharedFrameRun]:
    """The frame hashes to store for a densely hashed shared video, as runs of near-identical frames.

    Frames below `MIN_FRAME_QUALITY` (blank, black, flat) are left out; a frame within
    `dedupe_bits` of the run's first frame extends the run instead of starting a new one.
    """
    runs: list[SharedFrameRun] = []
    for frame in frames:
        if frame.quality < MIN_FRAME_QUALITY:
            continue
        if runs and hex_distance(runs[-1].pdq, frame.pdq) <= dedupe_bits:
            last = runs[-1]
            runs[-1] = SharedFrameRun(last.pdq, last.start, frame.offset, last.quality)
        else:
            runs.append(SharedFrameRun(frame.pdq, frame.offset, frame.offset, frame.quality))
    return runs


def frame_pdq_variants(check: MediaHashes) -> list[FrameQuery]:
    """Every hash to query for a sampled video: each usable frame in all eight orientations.

    Orientations other than the original come from ``extra["frame_dihedrals"]`` (written by
    `hash_video` when sampling); without them only the originals are returned. The same queries
    serve shared videos and shared still images (a frame showing the image).
    """
    dihedrals = check.extra.get("frame_dihedrals")
    extra: Sequence[Sequence[str]] = dihedrals if isinstance(dihedrals, (tuple, list)) else ()
    queries: list[FrameQuery] = []
    for position, frame in enumerate(check.frames):
        if frame.quality < MIN_FRAME_QUALITY:
            continue
        variants = extra[position] if position < len(extra) else ()
        for orientation, pdq in zip(_ORIENTATIONS, (frame.pdq, *variants), strict=False):
            queries.append(FrameQuery(frame.offset, orientation, pdq))
    return queries


def frame_pairs(
    queries: Sequence[FrameQuery],
    runs: Sequence[SharedFrameRun],
    threshold: int = FRAME_MATCH_THRESHOLD,
) -> list[FramePair]:
    """All (query, run) pairs within `threshold` bits, by brute force (the index does this at scale)."""
    if not queries or not runs:
        return []
    stored = np.stack([hex_to_bytes(r.pdq, PDQ_HEX_LENGTH) for r in runs])
    pairs: list[FramePair] = []
    for query in queries:
        distances = popcount_rows(np.bitwise_xor(stored, hex_to_bytes(query.pdq, PDQ_HEX_LENGTH)))
        for position in np.flatnonzero(distances <= threshold):
            run = runs[int(position)]
            pairs.append(FramePair(query.offset, run.start, run.end, int(distances[position]), query.orientation))
    return pairs


def match_pairs(
    pairs: Iterable[FramePair],
    *,
    check_duration: float,
    shared_duration: float,
    sample_period: float,
) -> VideoMatch:
    """The verdict from frame pairs (from `frame_pairs` or the near-match index).

    `sample_period` is the check's sampling period in seconds (1 / fps): each matched sample is
    taken to stand for that much footage.
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
    check_coverage = min(1.0, check_seconds / check_duration) if check_duration > 0 else 0.0
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


def match_video(check: MediaHashes, shared: MediaHashes) -> VideoMatch:
    """Whether the sampled `check` video shows the densely hashed `shared` video (both from `hash_video`)."""
    runs = shared_frame_runs(shared.frames)
    return match_check_pairs(check, frame_pairs(frame_pdq_variants(check), runs), _duration(shared))


def match_check_pairs(check: MediaHashes, pairs: Iterable[FramePair], shared_duration: float) -> VideoMatch:
    """The verdict for a sampled `check` video from its frame pairs with one shared video."""
    return match_pairs(
        pairs,
        check_duration=_duration(check),
        shared_duration=shared_duration,
        sample_period=_sample_period(check),
    )


def video_frames_showing_image(
    check: MediaHashes, image_pdq: Sequence[str], threshold: int = FRAME_MATCH_THRESHOLD
) -> list[tuple[float, int]]:
    """(offset, distance) of each usable check frame within `threshold` of a shared image's PDQ.

    A still image has no time axis to align, so one such frame is a match, under the same rule
    (quality, threshold, any orientation) as an image-to-image PDQ match.
    """
    hits: dict[float, int] = {}
    for query in frame_pdq_variants(check):
        for stored in image_pdq:
            distance = hex_distance(query.pdq, stored)
            if distance <= threshold and distance < hits.get(query.offset, threshold + 1):
                hits[query.offset] = distance
    return sorted(hits.items())


def _best_alignment(pairs: list[FramePair]) -> tuple[str, float, list[FramePair]] | None:
    """The (orientation, shift) supported by the most distinct check samples, if enough."""
    best: tuple[int, int, str, float, list[FramePair]] | None = None
    for orientation in sorted({p.orientation for p in pairs}):
        candidates = [p for p in pairs if p.orientation == orientation]
        shifts = sorted({round(p.check_offset - p.shared_start, 3) for p in candidates})
        for shift in shifts:
            supporting = _supporting(candidates, shift)
            support = len({p.check_offset for p in supporting})
            total = -sum(p.distance for p in supporting)
            if best is None or (support, total) > (best[0], best[1]):
                best = (support, total, orientation, shift, supporting)
    if best is None or best[0] < MIN_MATCHED_FRAMES:
        return None
    return best[2], best[3], best[4]


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
    orientation: str,
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
        check_end = min(group[-1].check_offset + sample_period, max(check_duration, group[-1].check_offset))
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


def _sample_period(hashes: MediaHashes) -> float:
    rate = hashes.extra.get("sample_fps")
    if isinstance(rate, (int, float)) and 0 < rate < float("inf"):
        return 1.0 / rate
    return 1.0
