"""Retroactive matching: recall backward vs forward, and the scan's time and memory at scale.

    .venv/bin/python benchmarks/bench_retroactive.py [--photos 11] [--sizes 1000000 10000000]

1. Recall, on the robustness benchmark's edit catalogue (`hashmatch_tools.edits.EDITS`) over the
   reference photos (../shared/data; the scikit-image photos when it is absent): forward, each
   photo is shared, then every edited copy checked (the real edge: `hash_file` and the
   uneven-crop search toward the shared item's framings, then the `Matcher`); backward, every
   copy is checked first (its hashes retained), then the photo is shared and the
   `RetroactiveScanner` finds the retained copies. False matches: every copy against every other
   photo, both ways.
2. The scan at scale: synthetic retained checks (28 random PDQ hashes each, a checked picture's
   count, 7 of them whole-picture hashes) scanned for one shared picture (its 5 stored PDQ hashes
   against all 28, its 16 coarse cut views against the 7), one core, in blocks of 1M checks so 10M
   fit in this machine's memory, and on the same arrays without the cut views (as before they
   were sent); resident memory per retained check is stated.
   In the same run, the anchor: the obvious implementation, forward matching run for every
   retained check (`Matcher.match`, one check at a time), timed on a sample and scaled.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from hashmatch.bank.model import NearEntry, Provenance, SharedItem
from hashmatch.edge.ingest import refine
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.codec import hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import MediaHashes
from hashmatch.media.uneven import CUT_VIEW_CUTS
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.retroactive import (
    WHOLE_VIEW_LABELS,
    RetainedCheck,
    RetainedPrints,
    RetentionPolicy,
    RetroactiveScanner,
)
from hashmatch.service.service import item_from_media
from hashmatch_tools.edits import EDITS, REFERENCE_PHOTOS, encode_copy, open_photo
from hashmatch_tools.fakes import MemoryBank, MemoryRetainedChecks
from hashmatch_tools.samples import jpeg_bytes

SEED = 20261204
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PDQ_PER_CHECK = 28
WHOLE_PER_CHECK = len(WHOLE_VIEW_LABELS) + 1  # and the main PDQ
WORDS = 4


def _photos(count: int) -> list:
    if DATA.is_dir():
        return [open_photo(DATA / name) for name in REFERENCE_PHOTOS[:count]]
    print(f"NOTE: {DATA} is absent: using scikit-image's photos", file=sys.stderr)
    from PIL import Image
    from skimage import data as skdata

    names = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "motorcycle_left", "hubble_deep_field")
    return [Image.fromarray(getattr(skdata, n)()).convert("RGB") for n in names[:count]]


def _hash(body: bytes, suffix: str, *, for_sharing: bool = False) -> MediaHashes:
    with tempfile.NamedTemporaryFile(suffix=suffix) as file:
        file.write(body)
        file.flush()
        return hash_file(file.name, for_sharing=for_sharing)


def share_cost(photo_count: int) -> None:
    """What cut views cost a share: hashing a shared photo (median over the photos, fastest of 3
    each) and its hashes' JSON, with them and without them (cut views switched off in this process)."""
    from unittest import mock

    import hashmatch.media.image as image_module

    bodies = [jpeg_bytes(photo) for photo in _photos(photo_count)]

    def measure() -> tuple[float, float]:
        times, sizes = [], []
        for body in bodies:
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                hashes = _hash(body, ".jpg", for_sharing=True)
                best = min(best, time.perf_counter() - started)
            times.append(best)
            sizes.append(len(json.dumps(hashes_to_json(hashes))))
        return statistics.median(times) * 1e3, statistics.median(sizes) / 1024

    with_views = measure()
    with mock.patch.object(image_module, "shared_cut_views", lambda _thumbnail: ()):
        without = measure()
    print(
        f"share: hashing a shared photo {without[0]:.1f} ms without cut views, {with_views[0]:.1f} ms with "
        f"(median of {len(bodies)}); its hashes' JSON {without[1]:.1f} KB -> {with_views[1]:.1f} KB"
    )


def recall(photo_count: int) -> None:
    rng = random.Random(SEED)
    photos = _photos(photo_count)
    items, copies = [], []  # copies: (photo number, edit, check hashes)
    for number, photo in enumerate(photos):
        body, suffix = encode_copy(photo, "original")
        items.append(
            item_from_media(_hash(body, suffix, for_sharing=True), Provenance(f"p{number}", "2026-12-01T00:00:00Z"))
        )
        for edit, apply in EDITS.items():
            copy_body, copy_suffix = encode_copy(apply(photo.copy(), rng), edit)
            copies.append((number, edit, _hash(copy_body, copy_suffix)))

    forward_hits = forward_false = 0
    forward_found: set[int] = set()
    for number, item in enumerate(items):
        bank = MemoryBank()
        bank.put_items([item])
        matcher = Matcher(bank, BankIndex())
        for copy, (owner, _edit, hashes) in enumerate(copies):
            found = bool(matcher.match(refine(hashes, matcher)))
            if owner == number:
                forward_hits += found
                if found:
                    forward_found.add(copy)
            else:
                forward_false += found

    retained = MemoryRetainedChecks()
    scanner = RetroactiveScanner(retained, RetentionPolicy({"checker": 30}))
    checks = [
        RetainedCheck(
            "checker",
            ObjectRef("b", f"n{n}"),
            f"{owner}:{edit}",
            "2026-12-01T00:00:00.000Z",
            refine(hashes, None),
        )
        for n, (owner, edit, hashes) in enumerate(copies)
    ]
    prints = RetainedPrints(checks)
    backward_hits = backward_false = 0
    backward_found: set[int] = set()
    for number, item in enumerate(items):
        for found in scanner.scan_checks([item], prints):
            owner = int(str(found.check.content_id).split(":", 1)[0])
            if owner == number:
                backward_hits += 1
                backward_found.add(int(found.check.obj.key[1:]))
            else:
                backward_false += 1

    total = len(copies)
    print(f"recall over {total} copies of {len(photos)} photos ({len(EDITS)} edits each):")
    print(f"  forward  {forward_hits / total:7.2%}  false matches {forward_false}")
    print(f"  backward {backward_hits / total:7.2%}  false matches {backward_false}")
    print(f"  backward - forward: {100 * (backward_hits - forward_hits) / total:+.2f} points")
    missed = Counter(copies[n][1] for n in forward_found - backward_found)
    print("  found forward only, by edit: " + (", ".join(f"{e} {c}" for e, c in missed.most_common()) or "none"))


def _random_pdq(generator: np.random.Generator, count: int) -> list[str]:
    return [bytes(row).hex() for row in generator.integers(0, 256, size=(count, 32), dtype=np.uint8)]


def scan_at(size: int, block: int = 1_000_000) -> tuple[float, float, float]:
    """Seconds to scan `size` synthetic retained checks for one shared picture (its stored hashes
    and its cut views: `RetainedPrints.candidates`), and on the same arrays for its stored hashes
    alone (a picture shared without cut views); bytes per check."""
    generator = np.random.default_rng(SEED)
    stored = _random_pdq(generator, 5)
    item = SharedItem(
        "item",
        Provenance("p", "2026-12-01T00:00:00Z"),
        "image",
        {"pdq": stored[0]},
        tuple(NearEntry("pdq", value, "framing") for value in stored[1:]),
        cut_views=tuple(_random_pdq(generator, len(CUT_VIEW_CUTS) ** 4)),
    )
    without = replace(item, cut_views=())
    elapsed, stored_only, per_check = 0.0, 0.0, 0.0
    for start in range(0, size, block):
        count = min(block, size - start)
        rows = generator.integers(0, 2**63, size=(WORDS, count * PDQ_PER_CHECK), dtype=np.uint64)
        owner = np.repeat(np.arange(count, dtype=np.int32), PDQ_PER_CHECK)
        prints = RetainedPrints.from_arrays([], rows, owner, whole_rows=count * WHOLE_PER_CHECK)
        per_check = prints.nbytes / count
        began = time.perf_counter()
        prints.candidates([without])
        middle = time.perf_counter()
        prints.candidates([item])
        stored_only += middle - began
        elapsed += time.perf_counter() - middle
    return elapsed, stored_only, per_check


def anchor_per_check(sample: int = 500) -> float:
    """Seconds per retained check of forward matching every retained check against the new item."""
    photo = _photos(1)[0]
    body, suffix = encode_copy(photo, "original")
    item = item_from_media(_hash(body, suffix, for_sharing=True), Provenance("p", "2026-12-01T00:00:00Z"))
    bank = MemoryBank()
    bank.put_items([item])
    matcher = Matcher(bank, BankIndex())
    rng = random.Random(SEED)
    checks = [_hash(*encode_copy(EDITS["crop 5% per side"](photo.copy(), rng), "x")) for _ in range(5)]
    began = time.perf_counter()
    for n in range(sample):
        matcher.match(checks[n % len(checks)])
    return (time.perf_counter() - began) / sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=len(REFERENCE_PHOTOS))
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--skip-recall", action="store_true")
    args = parser.parse_args()
    if not args.skip_recall:
        recall(args.photos)
    share_cost(args.photos)
    anchor = anchor_per_check()
    print(f"anchor: forward matching each retained check: {anchor * 1e3:.2f} ms per check")
    for size in args.sizes:
        seconds, stored_only, per_check = scan_at(size)
        naive = anchor * size
        print(
            f"scan {size:>11,} retained checks: {seconds:7.2f} s one core ({stored_only:.2f} s without cut views); "
            f"anchor (scaled) {naive:9.0f} s; ratio {naive / seconds:6.0f}x; "
            f"{per_check:.0f} bytes per retained check resident"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this run: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
