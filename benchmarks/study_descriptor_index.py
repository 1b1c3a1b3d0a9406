"""Design study, not a shipped feature: could a few descriptors a picture find the candidates?

`study_local_features.py` found every TUNED copy the hashes miss verifiable by local features, and
no way to reach them at 10M hashes: their global hashes are 50-100 bits from anything stored for
their photo. This study measures the other way in: an index of a few ORB descriptors a shared
picture (`STORED_KEYPOINTS`, the strongest), queried with the copy's (`COPY_QUERIES`, the strongest,
as it is and mirrored), an item a candidate when `needed` of its stored descriptors each have a
copy descriptor within T bits. For each rule:

- recall: the share of copies (TUNED families, tuned photos, the robustness benchmark's seed, one
  copy a photo) whose own photo is a candidate, and of those the service (checked as in the
  robustness benchmark, by media) misses;
- false candidates: the share of pairs of a copy and a photo of another scene that are candidates,
  and what that share means at 10M stored hashes (`PICTURES_AT_10M` pictures, as `bench_cost.py`
  counts them): candidates a check would have to verify, each a read of the item's keypoints and a
  fit (25.8 ms at the median in `study_local_features.py`);
- the index: its entries at 10M hashes and their size at ~114 bytes an entry (`bench_index.py`,
  256-bit hashes at 10M).

    .venv/bin/python benchmarks/study_descriptor_index.py      # needs the [bench] extra; ~8 minutes
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import bench_robustness as bench  # beside this file: run as a script
import numpy as np
import study_local_features as local
from PIL import Image, ImageOps

from hashmatch_tools.reuploads.photos import gather_photos
from hashmatch_tools.synthetic import HASHES_PER_IMAGE

STORED_KEYPOINTS = 16
COPY_QUERIES = 500
BITS = (24, 32, 40)
NEEDED = (1, 2, 3)
PICTURES_AT_10M = 10_000_000 // HASHES_PER_IMAGE
BYTES_PER_ENTRY = 114


def descriptors(image: Image.Image, side: int, count: int) -> np.ndarray:
    found = local.features(image, side, count)
    return np.zeros((0, 4), dtype=np.uint64) if found is None else found.descriptors


def hits(copy: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """For each stored descriptor, the distance to the nearest of the copy's."""
    if not len(copy) or not len(stored):
        return np.full(len(stored), 256)
    return local.distances(stored, copy).min(axis=1)


def main() -> int:
    if local.ORB is None:
        print("needs scikit-image: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    photos = gather_photos(bench.DATA)
    shared = [photo for photo in photos if photo.shared]
    if not shared:
        print(f"no photos: needs {bench.DATA} or the [bench] extra", file=sys.stderr)
        return 1
    started = time.perf_counter()
    stored = {photo.name: descriptors(photo.image, local.STORED_SIDE, STORED_KEYPOINTS) for photo in shared}
    edit_set = bench.edit_sets()["tuned"]
    own: list[np.ndarray] = []  # per copy of a shared photo: nearest distances of its photo's descriptors
    missed: list[np.ndarray] = []  # the same, for the copies the service missed
    others: list[np.ndarray] = []  # per pair of a copy and a photo of another scene
    with tempfile.TemporaryDirectory() as folder:
        coalition = bench.Coalition(Path(folder))
        by_name = {s.photo.name: s for s in bench.share_all(coalition, shared)[0]}
        for family, edit in edit_set.families.items():
            for photo in photos:
                if not edit_set.takes(photo) or (photo.shared and photo.name not in by_name):
                    continue
                seed = f"{bench.SEED}|{photo.name}|{family}|0"
                edited = edit(photo.image, random.Random(seed))
                found = True  # a look-alike's copy is only ever a pair with other scenes
                if photo.name in by_name:
                    body, suffix = bench.encoded(edited, family, seed)
                    matched = coalition.check(f"{bench._file_name(photo.name)}{suffix}", body)[0]
                    found = by_name[photo.name].item.item_id in matched
                copy = edited.convert("RGB")
                queries = np.concatenate(
                    [
                        descriptors(copy, local.COPY_SIDE, COPY_QUERIES),
                        descriptors(ImageOps.mirror(copy), local.COPY_SIDE, COPY_QUERIES),
                    ]
                )
                for other in shared:
                    nearest = hits(queries, stored[other.name])
                    if other.name == photo.name:
                        own.append(nearest)
                        if not found:
                            missed.append(nearest)
                    elif other.scene != photo.scene:
                        others.append(nearest)
    print(
        f"{len(shared)} photos shared, {STORED_KEYPOINTS} descriptors each; {len(own)} copies (TUNED families, "
        f"tuned photos), {COPY_QUERIES} descriptors each way; {len(others)} pairs with a photo of another scene"
    )
    print(f"at 10M hashes: {PICTURES_AT_10M:,} pictures, {PICTURES_AT_10M * STORED_KEYPOINTS:,} entries, ", end="")
    print(f"~{PICTURES_AT_10M * STORED_KEYPOINTS * BYTES_PER_ENTRY / 1e9:.1f} GB\n")
    print(
        f"| within | needed | copies whose photo is a candidate | of the {len(missed)} the service missed "
        "| pairs of other scenes | candidates a check at 10M |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for bits in BITS:
        for needed in NEEDED:
            recall = np.mean([np.count_nonzero(n <= bits) >= needed for n in own])
            reached = sum(np.count_nonzero(n <= bits) >= needed for n in missed)
            false_pairs = sum(np.count_nonzero(n <= bits) >= needed for n in others)
            false = false_pairs / len(others)
            at_scale = false * PICTURES_AT_10M
            # None seen: the rule of three's 95% bound.
            bound = f"under {3 * PICTURES_AT_10M / len(others):,.0f}" if false == 0 else f"{at_scale:,.0f}"
            print(f"| {bits} | {needed} | {recall:.1%} | {reached} | {false_pairs} ({false:.3%}) | {bound} |")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
