"""Design study, not a shipped feature: would local features verify the copies the hashes miss?

What the matcher still misses on the TUNED sets is mostly a picture moved and covered at once (fitted
to a cell of a multi-photo post, filled to a phone screen, text boxes over it): no global hash of a
view the check can find comes near a hash stored for it. Local features with geometric verification
are the usual answer (keypoints, their binary descriptors, and a transform that enough of their
matches agree on). Before anything is designed around them, this study measures, on the same copies
as the robustness benchmark (`bench_robustness.py`: TUNED families, tuned photos, one copy of each
photo, same seed, checked through the same in-memory service), two things:

- recall: how many copies of a shared photo reach T inliers against it, by family, beside the
  service's own verdict; and how many of the copies the service misses would be verified;
- the margin: the most inliers any copy reaches against a shared photo it is not a copy of, apart
  for photos of another scene and for look-alikes of the same scene (another moment of the same
  footage, the other half of a stereo pair, another shot of the same desk), which global hashes
  keep apart and local features may not.

Features: scikit-image's ORB (FAST keypoints, rotated BRIEF, 256 bits), at most `COPY_KEYPOINTS` on
the copy at `COPY_SIDE` pixels and `STORED_KEYPOINTS` on the shared photo at `STORED_SIDE` (what a
bank would store per picture: 600 x 32 bytes and their places), the copy also mirrored (BRIEF is not
mirror-invariant). ORB keeps the strongest corners, and the letters of a text box are the strongest
in a photo: with 500 on the copy, four photos under text boxes kept too few of the picture's to
fit any transform. With `--extractor numpy` the features are `orb_numpy`'s instead, a prototype on
numpy alone that spreads its keypoints over the picture. Matches are mutual nearest neighbours
passing Lowe's ratio test (`MAX_RATIO`); the transform an affine one fitted by RANSAC
(`RESIDUAL_PIXELS` at the shared photo's scale, fixed seed).

The HELD-OUT families are not run: the study informs a design, and they stay unseen.

    .venv/bin/python benchmarks/study_local_features.py     # needs the [bench] extra; ~30 minutes
    .venv/bin/python benchmarks/study_local_features.py --extractor numpy
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench_robustness as bench  # beside this file: run as a script
import numpy as np
import orb_numpy
from PIL import Image, ImageOps

from hashmatch_tools.reuploads.photos import gather_photos

try:
    from skimage.feature import ORB
    from skimage.measure import ransac
    from skimage.transform import AffineTransform
except ImportError:  # pragma: no cover - the [bench] extra
    ORB = None

COPY_SIDE = 640
COPY_KEYPOINTS = 3000
STORED_SIDE = 512
STORED_KEYPOINTS = 600
MAX_RATIO = 0.8
RESIDUAL_PIXELS = 4.0
RANSAC_TRIALS = 300
MIN_MATCHES = 6  # fewer matches than this are not fitted (0 inliers)
THRESHOLDS = (10, 15, 20, 30)
EXTRACTORS = ("scikit-image", "numpy")  # scikit-image's ORB, or `orb_numpy` (a prototype of our own)


@dataclass(frozen=True)
class Features:
    keypoints: np.ndarray  # (n, 2) row, col at the picture's scale
    descriptors: np.ndarray  # (n, 4) uint64: the 256 bits of each


@dataclass
class Family:
    copies: int = 0
    hashmatch: int = 0
    inliers: list[int] = field(default_factory=list)  # against its own shared photo
    missed: list[tuple[int, int, str]] = field(default_factory=list)  # (inliers, best PDQ bits, photo)

    def missed_inliers(self) -> list[int]:
        """Inliers against their own photo of the copies the service missed."""
        return [n for n, _bits, _photo in self.missed]


def features(image: Image.Image, side: int, keypoints: int, extractor: str = EXTRACTORS[0]) -> Features | None:
    """Up to `keypoints` features of `image` fitted within `side` pixels (None when too few), by
    `extractor` (one of `EXTRACTORS`)."""
    if extractor == "numpy":
        places, descriptors = orb_numpy.extract(image, side, keypoints)
        return Features(places, descriptors) if len(places) >= MIN_MATCHES else None
    grey = image.convert("L")
    grey.thumbnail((side, side), Image.Resampling.BILINEAR)
    orb = ORB(n_keypoints=keypoints, fast_threshold=0.05)
    try:
        orb.detect_and_extract(np.asarray(grey, dtype=np.float64) / 255.0)
    except RuntimeError:  # no keypoints at all (a flat picture)
        return None
    if len(orb.keypoints) < MIN_MATCHES:
        return None
    packed = np.packbits(orb.descriptors, axis=1)
    return Features(orb.keypoints, np.ascontiguousarray(packed).view(np.uint64))


def distances(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Hamming distances (len(left), len(right)) between descriptors packed as uint64 words."""
    found = np.zeros((left.shape[0], right.shape[0]), dtype=np.uint16)
    for word in range(left.shape[1]):
        found += np.bitwise_count(left[:, word, None] ^ right[None, :, word])
    return found


def matches(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(row in left, row in right) of mutual nearest descriptors passing the ratio test."""
    apart = distances(left, right)
    nearest = np.argmin(apart, axis=1)
    rows = np.arange(left.shape[0])
    two = np.partition(apart, 1, axis=1)[:, :2] if right.shape[0] > 1 else np.repeat(apart, 2, axis=1)
    mutual = np.argmin(apart, axis=0)[nearest] == rows
    ratio = two[:, 0] < MAX_RATIO * two[:, 1]
    keep = np.flatnonzero(mutual & ratio)
    return np.stack([keep, nearest[keep]], axis=1)


def inliers(copy: list[Features], stored: Features | None, seed: int) -> int:
    """The most matches one affine transform agrees with, over the copy's orientations."""
    best = 0
    if stored is None:
        return best
    for side in copy:
        pairs = matches(side.descriptors, stored.descriptors)
        if len(pairs) < MIN_MATCHES:
            continue
        source = side.keypoints[pairs[:, 0]][:, ::-1]  # (x, y)
        target = stored.keypoints[pairs[:, 1]][:, ::-1]
        model, kept = ransac(
            (source, target),
            AffineTransform,
            min_samples=3,
            residual_threshold=RESIDUAL_PIXELS,
            max_trials=RANSAC_TRIALS,
            rng=seed,
        )
        if model is not None and kept is not None:
            best = max(best, int(kept.sum()))
    return best


def copy_features(image: Image.Image, extractor: str) -> list[Features]:
    """A copy's features as it is and mirrored (BRIEF is not mirror-invariant)."""
    found = [features(side, COPY_SIDE, COPY_KEYPOINTS, extractor) for side in (image, ImageOps.mirror(image))]
    return [f for f in found if f is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--edit", action="append", default=[], help="families whose name contains this (repeatable)")
    parser.add_argument("--extractor", choices=EXTRACTORS, default=EXTRACTORS[0], help="whose ORB finds the features")
    args = parser.parse_args(argv)
    if ORB is None:
        print("needs scikit-image: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    photos = gather_photos(bench.DATA)
    if not photos:
        print(f"no photos: needs {bench.DATA} or the [bench] extra", file=sys.stderr)
        return 1
    started = time.perf_counter()
    edit_set = bench.edit_sets()["tuned"]
    families: dict[str, Family] = {}
    other_scene: list[tuple[int, str]] = []  # (inliers, copy vs photo) for every pair of different scenes
    same_scene: list[tuple[int, str]] = []  # the same for look-alikes of one scene
    seconds: dict[str, list[float]] = {"features": [], "verification": []}  # CPU, per copy / per pair
    with tempfile.TemporaryDirectory() as folder:
        coalition = bench.Coalition(Path(folder))
        shared, _rejected = bench.share_all(coalition, photos)
        stored = {s.photo.name: features(s.photo.image, STORED_SIDE, STORED_KEYPOINTS, args.extractor) for s in shared}
        what = "TUNED families, tuned photos and their look-alikes"
        print(f"{len(shared)} photos shared; {what}; seed {bench.SEED}", flush=True)
        by_name = {s.photo.name: s for s in shared}
        for family, edit in edit_set.families.items():
            if args.edit and not any(part in family for part in args.edit):
                continue
            tally = families.setdefault(family, Family())
            for photo in photos:
                if not edit_set.takes(photo) or (photo.shared and photo.name not in by_name):
                    continue
                copy_seed = f"{bench.SEED}|{photo.name}|{family}|0"
                image = edit(photo.image, random.Random(copy_seed))
                body, suffix = bench.encoded(image, family, copy_seed)
                matched, _by_hash, hashes = coalition.check(f"{bench._file_name(photo.name)}{suffix}", body)
                with Image.open(io.BytesIO(body)) as uploaded:
                    start = time.process_time()
                    mine = copy_features(uploaded.convert("RGB"), args.extractor)
                    seconds["features"].append(time.process_time() - start)
                own = by_name.get(photo.name)
                for other in shared:
                    start = time.process_time()
                    count = inliers(mine, stored[other.photo.name], seed=len(tally.inliers))
                    seconds["verification"].append(time.process_time() - start)
                    what = f"{family}: {photo.name} vs {other.photo.name}"
                    if other is own:
                        tally.copies += 1
                        found = own.item.item_id in matched
                        tally.hashmatch += found
                        tally.inliers.append(count)
                        if not found:
                            tally.missed.append((count, bench.best_distance(hashes, own.item), photo.name))
                    elif other.photo.scene == photo.scene:
                        same_scene.append((count, what))
                    else:
                        other_scene.append((count, what))
            print(f"  {family}: {tally.copies} copies", flush=True)
    report(families, other_scene, same_scene)
    pair_ms = 1000 * np.array(seconds["verification"])
    print(
        f"- CPU ({args.extractor}, one core): the copy's features, both orientations, median "
        f"{1000 * np.median(seconds['features']):.0f} ms; matching and fitting one pair, median "
        f"{np.median(pair_ms):.1f} ms, p95 {np.percentile(pair_ms, 95):.1f} ms"
    )
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


def report(families: dict[str, Family], other_scene: list[tuple[int, str]], same_scene: list[tuple[int, str]]) -> None:
    heads = " | ".join(f">= {t} inliers" for t in THRESHOLDS)
    print(f"\n| TUNED family | copies | hashmatch | {heads} | of its misses, >= {THRESHOLDS[1]} |")
    print("|---|---:|---:|" + "---:|" * len(THRESHOLDS) + "---:|")
    total = Family()
    for name, tally in families.items():
        cells = " | ".join(str(sum(n >= t for n in tally.inliers)) for t in THRESHOLDS)
        misses = f"{sum(n >= THRESHOLDS[1] for n in tally.missed_inliers())} of {len(tally.missed)}"
        print(f"| {name} | {tally.copies} | {tally.hashmatch} | {cells} | {misses} |")
        total.copies += tally.copies
        total.hashmatch += tally.hashmatch
        total.inliers += tally.inliers
        total.missed += [(n, bits, f"{name}: {photo}") for n, bits, photo in tally.missed]
    cells = " | ".join(str(sum(n >= t for n in total.inliers)) for t in THRESHOLDS)
    print(f"| **all** | {total.copies} | {total.hashmatch} | {cells} | ", end="")
    print(f"{sum(n >= THRESHOLDS[1] for n in total.missed_inliers())} of {len(total.missed)} |")
    for t in THRESHOLDS:
        missed = sum(n >= t for n in total.missed_inliers())
        print(f"- at {t} inliers: of the {len(total.missed)} copies the service missed, {missed} verified")
    print(
        "- the copies the service missed, inliers against their own photo / the closest any of their PDQ "
        "hashes (the uneven-crop search's included) comes to one stored for it:"
    )
    for n, bits, what in sorted(total.missed, reverse=True):
        print(f"  - {what}: {n} inliers / {bits} bits")
    for label, pairs in (("photos of another scene", other_scene), ("look-alikes of the same scene", same_scene)):
        if not pairs:
            continue
        top = sorted(pairs, reverse=True)[:3]
        over = {t: sum(n >= t for n, _ in pairs) for t in THRESHOLDS}
        print(
            f"- a copy against {label} ({len(pairs)} pairs): most inliers {top[0][0]}; pairs at or over "
            + ", ".join(f"{t}: {n}" for t, n in over.items())
            + "; highest: "
            + "; ".join(f"{what} {n}" for n, what in top)
        )


if __name__ == "__main__":
    raise SystemExit(main())
