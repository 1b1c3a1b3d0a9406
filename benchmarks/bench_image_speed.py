"""Speed of hashing one 12 MP photo: hashmatch's `hash_image` against the naive pipeline.

The photo is made from a real reference photo (`bridge-mods/aaa-orig.jpg` in ../shared/data):
cropped to 4:3, upscaled to 4000x3000 and given seeded Gaussian noise (sigma 8) so that it
compresses like a camera photo rather than a smooth upscale, then saved as a quality-90 JPEG
(about 3.7 MB, the size of a typical 12 MP phone photo).

- ours: `hashmatch.imaging.hash_image` as a check runs it (sha256, md5, PDQ with its 7
  rotations/flips, pHash, the framings to query and the uneven-crop grid), decoding the JPEG at
  reduced DCT scale straight to its planes: a luma thumbnail, and colours for the slanted search;
- anchor: read the file for sha256 and md5, `Image.open(...).convert("RGB")` at full size,
  `pdqhash.compute(np.asarray(image))` (the C++ reference PDQ) and `imagehash.phash(image)`.

Both run in one process on one core (BLAS/OpenMP threads set to 1 before numpy is imported, and
the process pinned to one CPU where the OS allows), alternating, and the median of N runs of each
is printed with the ratio. Wall-clock and CPU time are both shown: on a shared machine wall-clock
includes time spent waiting for the CPU. Then fidelity: the PDQ and pHash bits between our fast
path and a full decode followed by the reference pipeline (PDQ of Pillow's 512 thumbnail,
`imagehash.phash` of the full image), on the 12 MP photo and on every reference photo.

    .venv/bin/python benchmarks/bench_image_speed.py            # 15 runs each
    .venv/bin/python benchmarks/bench_image_speed.py --runs 31
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from hashmatch.media.framing import Framing, _frame_luma  # noqa: E402
from hashmatch.media.image import decode_image, hash_image  # noqa: E402
from hashmatch.media.luma import AnalysisLuma, shrunk  # noqa: E402
from hashmatch.media.model import Limits  # noqa: E402
from hashmatch.media.overlays import overlay_mask, painted_over  # noqa: E402
from hashmatch.media.slanted import SIDE as SLANTED_SIDE  # noqa: E402
from hashmatch.media.slanted import slanted_frames  # noqa: E402
from hashmatch.signals.bits import hex_distance  # noqa: E402
from hashmatch.signals.pdq import PDQ_MIN_QUALITY, pdq_hash  # noqa: E402

SEED = 20240611
SIZE = (4000, 3000)
NOISE_SIGMA = 8.0
JPEG_QUALITY = 90
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SOURCE_PHOTO = DATA / "pdq" / "bridge-mods" / "aaa-orig.jpg"
PHOTO_SUFFIXES = {".jpg", ".png", ".webp"}


def make_photo(target: Path) -> None:
    with Image.open(SOURCE_PHOTO) as source:
        rgb = source.convert("RGB")
    width = rgb.height * 4 // 3
    left = (rgb.width - width) // 2
    large = rgb.crop((left, 0, left + width, rgb.height)).resize(SIZE, Image.Resampling.BICUBIC)
    noise = np.random.default_rng(SEED).normal(0.0, NOISE_SIGMA, (SIZE[1], SIZE[0], 3))
    pixels = np.clip(np.asarray(large, dtype=np.float64) + noise, 0, 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(target, "JPEG", quality=JPEG_QUALITY)


def naive(path: Path) -> tuple[str, str]:
    import imagehash
    import pdqhash

    content = path.read_bytes()
    hashlib.sha256(content).hexdigest()
    hashlib.md5(content, usedforsecurity=False).hexdigest()
    image = Image.open(path).convert("RGB")
    bits, _quality = pdqhash.compute(np.asarray(image))
    return np.packbits(bits).tobytes().hex(), str(imagehash.phash(image))


def full_decode_reference(path: Path) -> tuple[str, str, int]:
    """PDQ and pHash as the reference pipeline computes them from the fully decoded image."""
    import imagehash

    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    pdq = pdq_hash(upright)  # Pillow's 512 thumbnail of the full image, as the Python reference
    return pdq.hex, str(imagehash.phash(upright)), pdq.quality


def timed(function: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def slanted_search_ms(photo: Path, limits: Limits, runs: int) -> float:
    """Median CPU ms of looking for slanted frames in the photo's colours, as a check does
    (`hashmatch.media.slanted`: found at `SIDE` pixels a side)."""
    picture = np.asarray(shrunk(decode_image(str(photo), limits, at_least=512), SLANTED_SIDE))
    return statistics.median(timed(lambda: slanted_frames(picture))[1] for _ in range(runs)) * 1000


def overlay_ms(photo: Path, limits: Limits, runs: int) -> tuple[float, float, float | None]:
    """Median CPU ms of looking for overlays on the photo's 512-pixel luma and of painting them over
    on its analysis luma, as a check does (`hashmatch.media.overlays`), and the share of the
    picture the mask covers (None: no mask)."""
    picture = decode_image(str(photo), limits, at_least=512)
    frame_luma = _frame_luma(picture)
    luma = AnalysisLuma(picture)
    finding = statistics.median(timed(lambda: overlay_mask(frame_luma))[1] for _ in range(runs)) * 1000
    mask = overlay_mask(frame_luma)
    if mask is None:
        return finding, 0.0, None
    painting = statistics.median(timed(lambda: painted_over(luma.pixels, mask))[1] for _ in range(runs)) * 1000
    return finding, painting, float(mask.mean())


def pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each pipeline (median)")
    args = parser.parse_args()
    if not SOURCE_PHOTO.is_file():
        print(f"reference photo not found: {SOURCE_PHOTO} (the shared/data folder beside the checkout)")
        return 2
    try:
        import imagehash  # noqa: F401
        import pdqhash  # noqa: F401
    except ImportError as error:
        print(f"the anchor needs pdqhash and imagehash: {error}")
        return 2

    print(f"hashing one 12 MP JPEG; {pin_to_one_cpu()}; {args.runs} runs each, median")
    limits = Limits()
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo-12mp.jpg"
        make_photo(photo)
        print(f"photo: {SIZE[0]}x{SIZE[1]}, {photo.stat().st_size / 1e6:.2f} MB, seed {SEED}")

        ours_result = hash_image(str(photo), limits)  # warm-up: imports, caches, page cache
        anchor_pdq, anchor_phash = naive(photo)
        ours: list[tuple[float, float]] = []
        anchor: list[tuple[float, float]] = []
        for _ in range(args.runs):
            ours.append(timed(lambda: hash_image(str(photo), limits)))
            anchor.append(timed(lambda: naive(photo)))

        print()
        print(f"{'pipeline':<46}{'wall ms':>10}{'cpu ms':>10}")
        for name, runs in (
            ("hashmatch hash_image (all image signals)", ours),
            ("anchor: full decode + pdqhash + imagehash", anchor),
        ):
            wall = statistics.median(r[0] for r in runs) * 1000
            cpu = statistics.median(r[1] for r in runs) * 1000
            print(f"{name:<46}{wall:>10.1f}{cpu:>10.1f}")
        wall_ratio = statistics.median(r[0] for r in anchor) / statistics.median(r[0] for r in ours)
        cpu_ratio = statistics.median(r[1] for r in anchor) / statistics.median(r[1] for r in ours)
        print(f"{'ratio anchor / ours':<46}{wall_ratio:>9.1f}x{cpu_ratio:>9.1f}x")
        slanted_ms = slanted_search_ms(photo, limits, args.runs)
        print(f"of which the slanted-frame search (hashmatch.media.slanted): {slanted_ms:.1f} ms CPU")
        finding_ms, painting_ms, masked = overlay_ms(photo, limits, args.runs)
        painted = sum(q.label.startswith(Framing.uncovered("")) for q in ours_result.queries)
        print(
            f"of which finding overlays (hashmatch.media.overlays): {finding_ms:.1f} ms CPU; "
            + (
                "none found"
                if masked is None
                else f"{masked:.1%} of the picture masked, painted over in {painting_ms:.1f} ms"
            )
            + f"; {painted} painted-over hashes queried"
        )
        grid = ours_result.uneven_crops.grids[0][0] if ours_result.uneven_crops is not None else ()
        print(f"the check's uneven-crop grid (hashmatch.media.uneven): {len(grid)} rectangles")

        full_pdq, full_phash, _quality = full_decode_reference(photo)
        print()
        print("12 MP photo, bits apart:")
        print(
            f"  ours vs full decode + reference pipeline: PDQ {hex_distance(ours_result.signals['pdq'], full_pdq)}, "
            f"pHash {hex_distance(ours_result.signals['phash'], full_phash)}"
        )
        print(
            f"  ours vs anchor (pdqhash on the full 12 MP array): PDQ "
            f"{hex_distance(ours_result.signals['pdq'], anchor_pdq)}, pHash "
            f"{hex_distance(ours_result.signals['phash'], anchor_phash)}"
        )

    worst_pdq, worst_phash, photos = 0, 0, 0
    for path in sorted((DATA / "pdq").rglob("*")):
        if path.suffix not in PHOTO_SUFFIXES or path.stat().st_size == 0:
            continue
        photos += 1
        full_pdq, full_phash, quality = full_decode_reference(path)
        fast = hash_image(str(path), limits)
        worst_phash = max(worst_phash, hex_distance(fast.signals["phash"], full_phash))
        if quality >= PDQ_MIN_QUALITY:
            worst_pdq = max(worst_pdq, hex_distance(fast.signals["pdq"], full_pdq))
    print(f"  {photos} reference photos, max ours vs full decode: PDQ {worst_pdq} (quality >= 50), pHash {worst_phash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
