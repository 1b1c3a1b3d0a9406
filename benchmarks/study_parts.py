"""Design study, not a shipped feature: would parts of a picture find copies that overlays hide?

A text box or a sticker over 15-30% of a picture moves its one global PDQ hash too far to match,
whatever the search around it. Parts of the picture that the overlay leaves alone do not move.
This study measures that on the TUNED overlay families (`hashmatch_tools.reuploads`) and the
TUNED shared photos (`hashmatch_tools.reuploads.photos`), and the margin the same parts keep
between different photos, before any of it is built into the matcher:

- parts: PDQ of the 4 corner windows of 60% x 60% of the picture (overlapping; each an
  indexable hash), copy and original compared window for window (aligned: the overlays keep the
  picture's geometry, which is what the matcher's framings already recover for crops and bars);
- rules studied: at least 2, or 3, of the 4 windows within T bits (one part alone is never
  evidence), at T = 31 (PDQ's threshold) and 40;
- anchor: the whole picture's PDQ within 31 bits (PDQ's own rule), in the same run;
- false-match margin: over every pair of photos of different scenes, the distance of their
  second- and third-closest window pairs (what each rule needs); and the same for look-alikes of
  one scene (another moment of the same footage, another shot of the same desk), which a rule on
  parts is most at risk of matching: a static background is the same in both.

The HELD-OUT families are not run: the study chooses a design, and they stay unseen.

    .venv/bin/python benchmarks/study_parts.py            # 3 copies per photo and family, ~2 minutes
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

from PIL import Image

from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, pdq_hash
from hashmatch_tools.reuploads import CATEGORIES
from hashmatch_tools.reuploads.photos import gather_photos

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = 20261205
# (left, top, right, bottom) as fractions of the picture.
WINDOWS = ((0.0, 0.0, 0.6, 0.6), (0.4, 0.0, 1.0, 0.6), (0.0, 0.4, 0.6, 1.0), (0.4, 0.4, 1.0, 1.0))
# (windows needed, bits): the rules studied.
RULES = ((2, PDQ_MATCH_THRESHOLD), (2, 40), (3, PDQ_MATCH_THRESHOLD), (3, 40))


def parts(image: Image.Image) -> list[str]:
    width, height = image.size
    return [
        pdq_hash(image.crop((round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height)))).hex
        for x0, y0, x1, y1 in WINDOWS
    ]


def closest(left: list[str], right: list[str]) -> list[int]:
    """The window pairs' distances, closest first."""
    return sorted(hex_distance(a, b) for a, b in zip(left, right, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="copies per photo and family")
    args = parser.parse_args(argv)
    photos = gather_photos(DATA)
    shared = [photo for photo in photos if photo.shared and not photo.held_out]
    if not shared:
        print("no photos found: needs ../shared/data or the [bench] extra (scikit-image...)", file=sys.stderr)
        return 1
    started = time.perf_counter()
    stored = {photo.name: (pdq_hash(photo.image).hex, parts(photo.image)) for photo in photos}
    print(f"{len(shared)} TUNED shared photos, {len(photos)} photos in all; {args.copies} copies each, seed {SEED}")
    header = " | ".join(f"parts: {needed} of 4 <= {bits}" for needed, bits in RULES)
    print(f"\n| TUNED overlay family | copies | whole PDQ <= {PDQ_MATCH_THRESHOLD} (anchor) | {header} |")
    print("|---|---:|---:|" + "---:|" * len(RULES))
    rng = random.Random(SEED)
    for family, edit in CATEGORIES["tuned"]["overlay"].items():
        whole_hits, part_hits, copies = 0, [0] * len(RULES), 0
        for photo in shared:
            main_hash, windows = stored[photo.name]
            for _ in range(args.copies):
                copy = edit(photo.image, random.Random(rng.getrandbits(32)))
                copies += 1
                whole_hits += hex_distance(pdq_hash(copy).hex, main_hash) <= PDQ_MATCH_THRESHOLD
                distances = closest(parts(copy), windows)
                for k, (needed, bits) in enumerate(RULES):
                    part_hits[k] += distances[needed - 1] <= bits
        cells = " | ".join(f"{hits} = {hits / copies:.1%} ({hits / max(whole_hits, 1):.1f}x)" for hits in part_hits)
        print(f"| {family} | {copies} | {whole_hits} = {whole_hits / copies:.1%} | {cells} |")
    pairs = list(itertools.combinations(photos, 2))
    for label, same in (("photos of different scenes", False), ("look-alikes of one scene", True)):
        apart = [
            (closest(stored[a.name][1], stored[b.name][1]), a.name, b.name)
            for a, b in pairs
            if (a.scene == b.scene) == same
        ]
        near = sorted(apart)[:3]
        print(
            f"\n{label} ({len(apart)} pairs): 2nd-closest window pair min {min(d[1] for d, _, _ in apart)} bits, "
            f"3rd-closest min {min(d[2] for d, _, _ in apart)} bits; closest pairs: "
            + ", ".join(f"{a} / {b} {d}" for d, a, b in near)
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
