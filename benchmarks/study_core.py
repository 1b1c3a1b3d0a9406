"""Design study: the central core a shared picture stores, and the grid that looks for it.

`hashmatch.media.framing.CORE_SHAPE` and `hashmatch.media.uneven.CORE_STEP` / `CORE_SCALES` were
set with this study, on the TUNED shared photos only (`hashmatch_tools.reuploads.photos`), with the
two TUNED families of pictures filled to another shape (`hashmatch_tools.reuploads`: cover-cropped
to 1:1, 4:5 or 16:9 at any offset; filled to a phone screen around the centre), seeded here; the
HELD-OUT families and photos are not run.

For each core shape and grid: a copy is found when one of the core grid's rectangles has a framing
key within the matcher's threshold of the stored core's (the lookup) and the search from the
closest such rectangle ends within PDQ's threshold of it (`hashmatch_tools.oracles.uneven_crop_distance`,
started as the matcher starts it). Beside it, over every copy and every photo of another scene,
the closest the search comes to that photo's core when it may start anywhere (as an adversary
would), and the rectangles the grid adds to a check (what the lookup costs).

    .venv/bin/python benchmarks/study_core.py            # ~2 minutes
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hashmatch.media.framing import CORE_SHAPE, _inside_own_bars
from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.uneven import CORE_SCALES, CORE_STEP, UnevenCropSearch, core_rectangles
from hashmatch.signals.base import Orientation
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD
from hashmatch_tools import oracles
from hashmatch_tools.reuploads import TUNED
from hashmatch_tools.reuploads.photos import Photo, gather_photos

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = 20261205
FAMILIES = ("reframed: cover-crop to 1:1, 4:5 or 16:9", "reframed: filled to a phone screen")


@dataclass(frozen=True)
class Design:
    shape: tuple[float, float]
    step: float
    scales: tuple[float, ...]
    long_side_kept: bool = True  # as `core_rectangles` lays it

    def __str__(self) -> str:
        scales = ", ".join(f"{s:g}" for s in self.scales)
        along = "cut side (long side kept)" if self.long_side_kept else "both ways"
        return f"{self.shape[0]:g} x {self.shape[1]:g} | {self.step:g} | {scales} | {along}"


DESIGNS = (
    Design(CORE_SHAPE, CORE_STEP, CORE_SCALES, True),
    Design(CORE_SHAPE, CORE_STEP, (1.0, 0.92), True),
    Design(CORE_SHAPE, CORE_STEP, (1.0, 0.92, 0.78), True),
    Design(CORE_SHAPE, CORE_STEP, (1.0, 0.92, 0.8, 0.75), True),
    Design(CORE_SHAPE, CORE_STEP, (1.0, 0.92), False),
    Design(CORE_SHAPE, 0.04, (1.0, 0.92), True),
    Design((0.25, 0.45), CORE_STEP, CORE_SCALES, True),
    Design((0.36, 0.45), CORE_STEP, CORE_SCALES, True),
    Design((0.4, 0.5), CORE_STEP, CORE_SCALES, True),
)


def stored_core(image: Image.Image, shape: tuple[float, float]) -> str | None:
    """The core `stored_framings` would store with `shape`: centred inside the picture's own bars."""
    luma = AnalysisLuma(image)
    content = _inside_own_bars(luma.pixels)
    hashes = luma.hashes(content.central_core(shape, (luma.width, luma.height)), (Orientation.ORIGINAL,))
    return hashes[0][1] if hashes else None


def core_search(copy: Image.Image, design: Design) -> UnevenCropSearch | None:
    luma = AnalysisLuma(copy)
    rows = []
    for across, down in core_rectangles(
        luma.width, luma.height, design.shape, design.step, design.scales, long_side_kept=design.long_side_kept
    ):
        rows += luma.grid(across, down)
    return UnevenCropSearch(luma, rows) if rows else None


def run(photos: Sequence[Photo], copies: int) -> None:
    tuned = [p for p in photos if p.shared and not p.held_out]
    rng = random.Random(SEED)
    cases = [
        (photo, family, TUNED[family](photo.image, random.Random(rng.random())))
        for family in FAMILIES
        for photo in tuned
        for _ in range(copies)
    ]
    print(f"{len(cases)} copies of {len(tuned)} TUNED photos ({copies} per photo and family)\n")
    print(
        "| core (of the short side) | step | sizes | slides along | rectangles, mean / most | found: "
        + " | ".join(FAMILIES)
        + " | all "
        "| closest to another photo's core |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|")
    for design in DESIGNS:
        cores = {photo.name: stored_core(photo.image, design.shape) for photo in photos}
        found = dict.fromkeys(FAMILIES, 0)
        counted = dict.fromkeys(FAMILIES, 0)
        rows: list[int] = []
        closest = oracles.PDQ_BITS
        for photo, family, copy in cases:
            counted[family] += 1
            search, core = core_search(copy, design), cores[photo.name]
            if search is None or core is None:
                continue
            rows.append(len(search.keys))
            found[family] += oracles.uneven_crop_distance(search, core) <= PDQ_MATCH_THRESHOLD
            for other in photos:
                stored = cores[other.name]
                if other.scene != photo.scene and stored is not None:
                    closest = min(closest, oracles.uneven_crop_distance(search, stored, any_start=True))
        shares = " | ".join(f"{found[f]} / {counted[f]}" for f in FAMILIES)
        total = sum(found.values())
        print(
            f"| {design} | {np.mean(rows):.0f} / {max(rows)} | {shares} "
            f"| **{total} = {100 * total / max(1, len(cases)):.1f}%** | {closest} |",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=2, help="seeded copies per photo and family")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    photos = gather_photos(DATA if DATA.is_dir() else None)
    if not any(p.shared and not p.held_out for p in photos):
        print("no TUNED photos found (../shared/data, scikit-image, scikit-learn, PyWavelets)", file=sys.stderr)
        return 1
    run(photos, args.copies)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
