"""Design study: where the deep crop's grid lies (`DEEP_CUTS`), and which turns are tried (`TILT_ANGLES`).

The constants of `hashmatch.media.uneven.DEEP_CUTS` and `hashmatch.media.tilt.TILT_ANGLES` were set
with this study, on the TUNED shared photos only (`hashmatch_tools.reuploads.photos`), with edits
drawn here from a fixed seed; the HELD-OUT families and photos are not run.

- grid: copies cut by 0-20% on each side; a copy is found when one of the candidate grid's
  rectangles has a framing key within the matcher's threshold of the stored 60% crop's (the
  lookup), and the search from the closest such rectangle ends within PDQ's threshold of it
  (`hashmatch_tools.oracles.uneven_crop_distance`, started as the matcher starts it). Each set of
  cuts per axis is printed with its rectangles (what the lookup costs: key lookups grow with them).
- tilt: copies turned by 1-8 degrees either way with their corners cut (and 0-1.5% more); a copy is
  found when a turned-back view (`tilted_views`, aimed at the stored 80% crop, or the 60% one where
  the turn leaves less) comes within PDQ's threshold of a framing stored for it; and, over every
  pair of photos of different scenes, the closest a view comes to the other's framings.

    .venv/bin/python benchmarks/study_deep_crop.py            # both parts, ~1 minute
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hashmatch.matching.policy import FRAMING_KEY_THRESHOLD
from hashmatch.media.framing import DEEP_CROP_SCALE, INDEX_CROP_SCALES, stored_framings
from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.tilt import tilted_views
from hashmatch.media.uneven import UnevenCropSearch, _uneven_crop_spans
from hashmatch.signals.base import Orientation
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, low_frequency_key
from hashmatch_tools import oracles
from hashmatch_tools.reuploads.geometric import _crop_shares, rotate_with_crop
from hashmatch_tools.reuploads.photos import Photo, gather_photos

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = 20261205
GRIDS: tuple[tuple[float, ...], ...] = (
    (1 / 30, 3 / 30, 5 / 30),
    (0.03, 0.095, 0.16),
    (0.035, 0.105, 0.175),
    (0.025, 0.075, 0.125, 0.175),
)
ANGLE_SETS: tuple[tuple[float, ...], ...] = ((2.0, 3.5, 5.0), (2.0, 3.5, 5.0, 6.5), (2.0, 3.5, 5.0, 6.5, 8.0))
MIRRORED = (Orientation.ORIGINAL, Orientation.FLIP_X)


def grid_part(photos: Sequence[Photo], copies: int) -> None:
    rng = random.Random(SEED)
    cases = []
    label = f"content+central_crop_{round(DEEP_CROP_SCALE * 100)}"
    for photo in photos:
        deep = {f.label: f.value for f in stored_framings(photo.image)}.get(label)
        if deep is None:
            continue
        for _ in range(copies):
            cases.append((_crop_shares(photo.image, *(rng.uniform(0.0, 0.2) for _ in range(4))), deep))
    print(f"\n== deep grid: {len(cases)} copies of {len(photos)} TUNED photos, each side cut by 0-20%")
    print("| cuts per axis | rectangles | key within threshold | found |")
    print("|---|---:|---:|---:|")
    for cuts in GRIDS:
        spans = _uneven_crop_spans(cuts, DEEP_CROP_SCALE)
        keyed = found = 0
        for copy, stored in cases:
            luma = AnalysisLuma(copy)
            search = UnevenCropSearch(luma, luma.grid(spans, spans))
            key = low_frequency_key(stored)
            keyed += any(hex_distance(k, key) <= FRAMING_KEY_THRESHOLD for k in search.keys)
            found += oracles.uneven_crop_distance(search, stored) <= PDQ_MATCH_THRESHOLD
        shown = ", ".join(f"{c:.3f}" for c in cuts)
        print(f"| {shown} | {len(spans) ** 2} | {keyed} | **{found} = {100 * found / len(cases):.1f}%** |")


def tilt_part(photos: Sequence[Photo], copies: int) -> None:
    from hashmatch.media import tilt

    rng = random.Random(SEED + 1)
    cases = [
        (photo, rotate_with_crop(photo.image, rng.uniform(1.0, 8.0) * rng.choice([-1, 1]), rng.uniform(0.0, 0.015)))
        for photo in photos
        for _ in range(copies)
    ]
    stored = {photo.name: [f.value for f in stored_framings(photo.image)] for photo in photos}
    print(f"\n== turned back: {len(cases)} copies of {len(photos)} TUNED photos turned 1-8 degrees, corners cut")
    print("| angles | aimed at | views a check | found | closest other photo (PDQ bits) |")
    print("|---|---|---:|---:|---:|")
    saved = tilt.TILT_ANGLES
    try:
        for angles in ANGLE_SETS:
            tilt.TILT_ANGLES = angles
            for targets in ((INDEX_CROP_SCALES[-1],), (INDEX_CROP_SCALES[-1], DEEP_CROP_SCALE)):
                found, closest, views = 0, 256, 0
                for photo, copy in cases:
                    hashes = [v for view in tilted_views(AnalysisLuma(copy), targets, MIRRORED) for _, v in view.hashes]
                    views = max(views, len(hashes))
                    closest_own = min((hex_distance(h, s) for h in hashes for s in stored[photo.name]), default=256)
                    found += closest_own <= PDQ_MATCH_THRESHOLD
                    for other in photos:
                        if other.scene != photo.scene:
                            closest = min([closest, *(hex_distance(h, s) for h in hashes for s in stored[other.name])])
                aimed = " or ".join(f"{round(t * 100)}%" for t in targets)
                print(f"| {angles} | {aimed} | {views} | **{found} = {100 * found / len(cases):.1f}%** | {closest} |")
    finally:
        tilt.TILT_ANGLES = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("grid", "tilt"), action="append", help="only these parts (default both)")
    parser.add_argument("--copies", type=int, default=0, help="copies per photo (default: 10 for grid, 3 for tilt)")
    args = parser.parse_args(argv)
    photos = [photo for photo in gather_photos(DATA) if photo.shared and not photo.held_out]
    if not photos:
        print("no photos: install scikit-image or put the reference media beside the repo", file=sys.stderr)
        return 1
    began = time.perf_counter()
    parts = args.part or ["grid", "tilt"]
    if "grid" in parts:
        grid_part(photos, args.copies or 10)
    if "tilt" in parts:
        tilt_part(photos, args.copies or 3)
    print(f"\n({time.perf_counter() - began:.0f} s; seed {SEED}; TUNED photos only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
