"""Reference implementations, kept only as oracles for differential tests and benchmarks.

Each restates a rule the matcher applies through its index, by brute force over two files'
hashes, so tests can check the indexed path against it and benchmarks can measure a rule on its
own. Nothing in the functions uses these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from hashmatch.matching.policy import (
    FRAME_CORROBORATION_THRESHOLD,
    FRAME_MATCH_THRESHOLD,
    FRAMING_KEY_THRESHOLD,
    HALF_MATCH_THRESHOLD,
    THIRD_MATCH_THRESHOLD,
    THIRDS_AGREEING,
    UNEVEN_CROP_START_LIMIT,
)
from hashmatch.matching.rules import agreeing_parts, picture_queries
from hashmatch.matching.video import (
    FramePair,
    FrameQuery,
    SharedFrameRun,
    VideoMatch,
    frame_queries,
    match_check_pairs,
    shared_frame_runs,
)
from hashmatch.media.model import MediaHashes, is_part, is_third
from hashmatch.media.uneven import UnevenCropSearch
from hashmatch.signals.bits import hex_distance, popcount_rows, unpack_hex_rows
from hashmatch.signals.pdq import PDQ, PDQ_BITS, low_frequency_key

__all__ = [
    "frame_pairs",
    "match_video",
    "pdq_distance",
    "stored_pdq_hashes",
    "uneven_crop_distance",
    "video_frames_showing_image",
]


def stored_pdq_hashes(shared: MediaHashes) -> list[str]:
    """Every PDQ hash the bank stores for a shared picture: its main PDQ when usable, its framings."""
    main = [shared.signals[PDQ.name]] if PDQ.usable(shared.pdq_quality) and PDQ.name in shared.signals else []
    return [*main, *(f.value for f in shared.framings if f.signal == PDQ.name)]


def pdq_distance(copy: MediaHashes, shared: MediaHashes) -> int:
    """The closest any PDQ hash a check of `copy` is queried with comes to any stored for `shared`
    (PDQ alone: no pHash corroboration, no uneven-crop search), of the pairs the matcher counts: a
    pair with a half on either side only within `HALF_MATCH_THRESHOLD`, with a third within
    `THIRD_MATCH_THRESHOLD`, and a stored third only when `THIRDS_AGREEING` stored parts agree with
    as many different queries."""
    main = [shared.signals[PDQ.name]] if PDQ.usable(shared.pdq_quality) and PDQ.name in shared.signals else []
    stored = [(s, "whole") for s in main] + [
        (f.value, "third" if is_third(f.label) else "part" if is_part(f.label) else "whole")
        for f in shared.framings
        if f.signal == PDQ.name
    ]
    counted = [
        (hex_distance(q.value, s), kind, q.label, s) for q in picture_queries(copy, PDQ.name) for s, kind in stored
    ]
    counted = [c for c in counted if c[0] <= _pair_limit(c[1], c[2])]
    parts = [(label, value) for _, kind, label, value in counted if kind != "whole"]
    agreeing = agreeing_parts(parts)
    return min((d for d, kind, _, _ in counted if kind != "third" or agreeing >= THIRDS_AGREEING), default=PDQ_BITS)


def _pair_limit(stored_kind: str, query_label: str) -> int:
    if stored_kind == "third" or is_third(query_label):
        return THIRD_MATCH_THRESHOLD
    return HALF_MATCH_THRESHOLD if stored_kind == "part" or is_part(query_label) else PDQ_BITS


def uneven_crop_distance(search: UnevenCropSearch, stored: str, *, any_start: bool = False) -> int:
    """The PDQ distance the matcher's search reaches toward one stored framing: searched from the
    grid rectangle closest to it in PDQ among those whose framing key is within
    `FRAMING_KEY_THRESHOLD`, when that start is within `UNEVEN_CROP_START_LIMIT` (else `PDQ_BITS`,
    no search); with `any_start`, from the closest rectangle whatever its key and distance, as an
    adversary would."""
    key = low_frequency_key(stored)
    rows = [
        row for row, value in enumerate(search.keys) if any_start or hex_distance(value, key) <= FRAMING_KEY_THRESHOLD
    ]
    if not rows:
        return PDQ_BITS
    start = min(rows, key=lambda row: hex_distance(search.hashes[row], stored))
    if not any_start and hex_distance(search.hashes[start], stored) > UNEVEN_CROP_START_LIMIT:
        return PDQ_BITS
    return search.closest(start, stored)[0]


def frame_pairs(
    queries: Sequence[FrameQuery], runs: Sequence[SharedFrameRun], threshold: int = FRAME_MATCH_THRESHOLD
) -> list[FramePair]:
    """All (query, stored hash) pairs within `threshold` bits, by brute force (the index does this
    at scale): a run stores its frame's PDQ and its central crops (`SharedFrameRun.framings`)."""
    entries = [(value, run) for run in runs for value in (run.pdq, *(pdq for _, pdq in run.framings))]
    if not queries or not entries:
        return []
    stored = unpack_hex_rows([value for value, _ in entries])
    pairs: list[FramePair] = []
    for query in queries:
        distances = popcount_rows(np.bitwise_xor(stored, unpack_hex_rows([query.pdq])))
        for position in np.flatnonzero(distances <= threshold):
            run = entries[int(position)][1]
            pairs.append(FramePair(query.offset, run.start, run.end, int(distances[position]), query.orientation))
    return pairs


def match_video(check: MediaHashes, shared: MediaHashes) -> VideoMatch:
    """Whether the sampled `check` video shows the densely hashed `shared` video, by brute force:
    pairs within the frame threshold, and, in the orientations those pairs have, pairs within the
    corroboration threshold (as `hashmatch.matching.rules.frame_hits` asks the index)."""
    runs = shared_frame_runs(shared.frames)
    duration = shared.duration if shared.duration is not None else (shared.frames[-1].offset if shared.frames else 0.0)
    queries = frame_queries(check)
    pairs = frame_pairs(queries, runs)
    anchored = {pair.orientation for pair in pairs}
    further = frame_pairs([q for q in queries if q.orientation in anchored], runs, FRAME_CORROBORATION_THRESHOLD)
    pairs += [pair for pair in further if pair.distance > FRAME_MATCH_THRESHOLD] if anchored else []
    return match_check_pairs(check, pairs, duration)


def video_frames_showing_image(
    check: MediaHashes, image_pdq: Sequence[str], threshold: int = FRAME_MATCH_THRESHOLD
) -> list[tuple[float, int]]:
    """(offset, distance) of each usable check frame within `threshold` of a shared image's PDQ:
    a still image has no time axis to align, so one such frame is a match."""
    hits: dict[float, int] = {}
    for query in frame_queries(check):
        for stored in image_pdq:
            distance = hex_distance(query.pdq, stored)
            if distance <= threshold and distance < hits.get(query.offset, threshold + 1):
                hits[query.offset] = distance
    return sorted(hits.items())


def without_framings(hashes: MediaHashes) -> MediaHashes:
    """A video's hashes with its frames' framings left out: a check's samples by their whole frame
    only, a share's runs without their stored crops (what the framings add, measured by leaving
    them out)."""
    return replace(hashes, frames=tuple(replace(frame, framings=()) for frame in hashes.frames))
