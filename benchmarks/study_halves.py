"""Design study: which halves a check queries, and how close a half must come to match.

`hashmatch.matching.policy.HALF_MATCH_THRESHOLD` and the rectangles whose halves
`hashmatch.media.framing` queries were set with this study, on the TUNED half of the robustness
benchmark only (`bench_robustness.py --set tuned --set tuned-held-out-photos`: TUNED families,
tuned and held-out photos); the HELD-OUT families are not run.

Each variant runs the real service over every copy, the check's hashes cut down to what the
variant queries (every half dropped; only the whole image's halves; those of every content
rectangle, as shipped) and the matcher's half threshold set to the variant's. It prints the
copies found per variant and, for the shipped variant, how far from the stored half the copies
found through a half were.

    .venv/bin/python benchmarks/study_halves.py            # ~9 minutes
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import bench_robustness as bench  # beside this file: run as a script

from hashmatch.matching import rules
from hashmatch.matching.policy import HALF_MATCH_THRESHOLD
from hashmatch.media.framing import Framing
from hashmatch.media.model import MediaHashes, is_half

TUNED_SETS = ("tuned", "tuned-held-out-photos")
# variant name -> (which halves a check keeps: None for none, or the region names; half threshold)
VARIANTS: dict[str, tuple[frozenset[str] | str | None, int]] = {
    "no halves": (None, HALF_MATCH_THRESHOLD),
    "halves of the whole image only": (frozenset({Framing.WHOLE}), HALF_MATCH_THRESHOLD),
    "halves of every content rectangle (shipped)": ("all", HALF_MATCH_THRESHOLD),
    "the same, threshold 8": ("all", 8),
    "the same, threshold 12": ("all", 12),
}
SHIPPED = "halves of every content rectangle (shipped)"


class StudyCoalition(bench.Coalition):
    """The benchmark's coalition, with each check's halves cut down to `kept` region names
    (None: no halves, and none stored; "all": as hashed) and the last check's matches kept."""

    def __init__(self, root: Path, kept: frozenset[str] | str | None) -> None:
        super().__init__(root)
        self.kept = kept
        self.last_matches: dict[str, dict] = {}

    def _hash(self, path: Path, *, for_sharing: bool = False) -> MediaHashes:
        hashes = super()._hash(path, for_sharing=for_sharing)
        if self.kept == "all":
            return hashes
        framings = (
            hashes.framings if self.kept is not None else tuple(f for f in hashes.framings if not is_half(f.label))
        )
        queries = tuple(
            q
            for q in hashes.queries
            if not is_half(q.label) or (self.kept is not None and q.label.partition("+")[0] in self.kept)
        )
        cut = replace(hashes, framings=framings, queries=queries)
        self.last = cut
        return cut

    def check(self, name: str, body: bytes) -> tuple[dict[str, dict], dict[str, dict], MediaHashes]:
        found = super().check(name, body)
        self.last_matches = found[0]
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=bench.SEED)
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="only these (repeatable)")
    args = parser.parse_args(argv)
    photos = bench.gather_photos(bench.DATA)
    if not any(photo.shared for photo in photos):
        print("no photos found: needs ../shared/data or the [bench] extra (scikit-image...)", file=sys.stderr)
        return 1
    sets = {key: edit_set for key, edit_set in bench.edit_sets().items() if key in TUNED_SETS}
    judge = bench.judge
    print(f"TUNED families, tuned and held-out photos, seed {args.seed}\n")
    print("| variant | copies found | of | false matches |")
    print("|---|---:|---:|---:|")
    half_distances: collections.Counter[int] = collections.Counter()
    for name in args.variant or list(VARIANTS):
        kept, threshold = VARIANTS[name]
        started = time.perf_counter()
        distances: collections.Counter[int] = collections.Counter()

        def judged(coalition, tally, own, shared, body, copy, what, scene="", distances=distances) -> None:  # type: ignore[no-untyped-def]
            judge(coalition, tally, own, shared, body, copy, what, scene)
            match = coalition.last_matches.get(own.item.item_id) if own is not None else None
            if match is not None and (is_half(match["query"]) or match.get("detail", {}).get("shared_half")):
                distances[match["distance"]] += 1

        bench.judge = judged
        rules.HALF_MATCH_THRESHOLD = threshold
        try:
            with tempfile.TemporaryDirectory(prefix="study-halves-") as folder:
                coalition = StudyCoalition(Path(folder), kept)
                shared, _ = bench.share_all(coalition, photos)
                results = bench.run(coalition, shared, photos, sets, args.seed)
        finally:
            bench.judge = judge
            rules.HALF_MATCH_THRESHOLD = HALF_MATCH_THRESHOLD
        found = sum(t.hashmatch for tallies in results.values() for t in tallies.values())
        copies = sum(t.copies for tallies in results.values() for t in tallies.values())
        false = sum(t.false_hashmatch for tallies in results.values() for t in tallies.values())
        print(f"| {name} | {found} | {copies} | {false} |", flush=True)
        print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        if name == SHIPPED:
            half_distances = distances
    if half_distances:
        spread = ", ".join(f"{d}: {n}" for d, n in sorted(half_distances.items()))
        print(f"\nCopies whose best match came through a half, by PDQ distance (shipped variant): {spread}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
