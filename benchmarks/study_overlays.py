"""Design study: how overlays are found and painted over (`hashmatch.media.overlays`).

The detector's constants and the floor under which a checked picture is not painted over
(`MIN_PICTURE_MASK`) were set with this study, on the TUNED families and tuned photos of the
robustness benchmark only (`bench_robustness.py --set tuned`); held-out photos and the HELD-OUT
families are not run.

Each variant runs the real service over every copy with the constants set as the variant says and
prints the copies found, the false matches and how many checks were painted over.

- ``--part detector``: the flat tile's range (2, 3, 4 as shipped, 6 grey levels), a patch's spread
  (3), the step between neighbouring tiles' levels (4) and the mask's limits (a patch of 40%, a
  mask of 50%), and painting turned off, on the TUNED overlay families and compositions;
- ``--part floor``: the floor (0, 1%, 2%, 4% as shipped, 7%) on every TUNED family.

    .venv/bin/python benchmarks/study_overlays.py --part detector   # ~2 minutes
    .venv/bin/python benchmarks/study_overlays.py --part floor      # ~11 minutes
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import bench_robustness as bench  # beside this file: run as a script

from hashmatch.media import framing, overlays

DETECTOR_FAMILIES = ["text boxes", "stickers", "compose"]
SHIPPED = {
    "FLAT_RANGE": overlays.FLAT_RANGE,
    "SOLID_SPREAD": overlays.SOLID_SPREAD,
    "SAME_LEVEL": overlays.SAME_LEVEL,
    "MAX_AREA": overlays.MAX_AREA,
    "MAX_MASK": overlays.MAX_MASK,
    "MIN_PICTURE_MASK": overlays.MIN_PICTURE_MASK,
}
# variant name -> the constants it changes
DETECTOR: dict[str, dict[str, float]] = {
    "no painting": {"MIN_PICTURE_MASK": 1.0},
    "flat tile within 2 grey levels": {"FLAT_RANGE": 2.0},
    "flat tile within 3 grey levels": {"FLAT_RANGE": 3.0},
    "flat tile within 4 grey levels (shipped)": {},
    "flat tile within 6 grey levels": {"FLAT_RANGE": 6.0},
    "a patch's spread up to 3": {"SOLID_SPREAD": 3.0},
    "a step of 4 between neighbouring tiles": {"SAME_LEVEL": 4.0},
    "a patch up to 40%, a mask up to 50%": {"MAX_AREA": 0.4, "MAX_MASK": 0.5},
}
FLOOR: dict[str, dict[str, float]] = {
    f"floor {share:.0%}{' (shipped)' if share == overlays.MIN_PICTURE_MASK else ''}": {"MIN_PICTURE_MASK": share}
    for share in (0.0, 0.01, 0.02, 0.04, 0.07)
}


def set_constants(changes: dict[str, float]) -> None:
    """The shipped constants with `changes` applied (the floor is read from `framing`)."""
    for name, value in {**SHIPPED, **changes}.items():
        setattr(framing if name == "MIN_PICTURE_MASK" else overlays, name, value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=bench.SEED)
    parser.add_argument("--part", choices=("detector", "floor"), required=True)
    args = parser.parse_args(argv)
    photos = bench.gather_photos(bench.DATA)
    if not any(photo.shared for photo in photos):
        print("no photos found: needs ../shared/data or the [bench] extra (scikit-image...)", file=sys.stderr)
        return 1
    sets = {"tuned": bench.edit_sets()["tuned"]}
    variants, only = (DETECTOR, DETECTOR_FAMILIES) if args.part == "detector" else (FLOOR, None)
    families = ", ".join(only) if only else "every TUNED family"
    print(f"TUNED families ({families}), tuned photos, seed {args.seed}\n")
    print("| variant | copies found | of | false matches | checks painted over |")
    print("|---|---:|---:|---:|---:|")
    for name, changes in variants.items():
        started = time.perf_counter()
        set_constants(changes)
        try:
            with tempfile.TemporaryDirectory(prefix="study-overlays-") as folder:
                coalition = bench.Coalition(Path(folder))
                shared, _ = bench.share_all(coalition, photos)
                results = bench.run(coalition, shared, photos, sets, args.seed, only)
        finally:
            set_constants({})
        tallies = [t for family in results.values() for t in family.values()]
        found, copies = sum(t.hashmatch for t in tallies), sum(t.copies for t in tallies)
        false = sum(t.false_hashmatch for t in tallies)
        checks = [h for key, h in coalition.hashed.items() if key.startswith("check_") and h.queries]
        painted = sum(any(q.label.startswith(framing.Framing.uncovered("")) for q in h.queries) for h in checks)
        print(f"| {name} | {found} | {copies} | {false} | {painted} of {len(checks)} |", flush=True)
        print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
