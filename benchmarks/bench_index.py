"""Near-match index benchmark: hashmatch HammingIndex against faiss, single thread, fixed seed.

    .venv/bin/python benchmarks/bench_index.py                     # 1M PDQ hashes
    .venv/bin/python benchmarks/bench_index.py --size 10000000     # 10M (about 6 GB peak)
    .venv/bin/python benchmarks/bench_index.py --chunks 12,14,16   # compare chunk layouts
    .venv/bin/python benchmarks/bench_index.py --framing-keys       # the uneven-crop lookup only
    .venv/bin/python benchmarks/bench_index.py --framing-keys --size 2000000 --key-chunks 3,4

For each data set (uniform random, and clustered like real PDQ banks) the same stored hashes and the
same query batches go to:

* hashmatch ``HammingIndex`` (the numpy multi-index hash, exact);
* faiss ``IndexBinaryFlat.range_search`` (exhaustive scan; also the brute-force truth);
* faiss ``IndexBinaryMultiHash.range_search`` (16 tables of 16 bits, nflip 1).

A query batch is the 8 dihedral variants (rotations/flips) of one image hash, as the matcher sends
them. Variants are modelled on PDQ's layout: bit ``(i, j)`` is the sign of DCT coefficient ``(i, j)``
against the median, a flip negates every other row or column of coefficients (inverting those bits,
taking the median as 0) and a transpose swaps ``i`` and ``j``. Half of the images are near duplicates
of a stored hash (0-40 random bit flips), half are unrelated random hashes.

Clustered data: "scene" centres spread around a few hundred "style" centres (each centre flips 10-50%
of its style's bits), cluster sizes from a Zipf law (a=1.6, at most 5000), members within 0-40 bit
flips of their centre (Bernoulli flips with a per-member rate).
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy and faiss load their thread pools

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hashmatch.index.hamming import HammingIndex
from hashmatch.matching.policy import FRAMING_KEY_THRESHOLD
from hashmatch.media.uneven import UNEVEN_CUTS
from hashmatch.signals.pdq import LOW_FREQUENCY_BYTES
from hashmatch.signals.phash import PHASH

PDQ_THRESHOLD = 31
BITS = 256
NBYTES = BITS // 8
VARIANTS = 8
_GENERATION_BLOCK = 1 << 19


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, NBYTES), dtype=np.uint8)


def flip_bits(rng: np.random.Generator, rows: np.ndarray, flips_per_row: np.ndarray) -> np.ndarray:
    """Each row with each bit flipped with probability ``flips_per_row / bits`` (so that many on average)."""
    nbits = rows.shape[1] * 8
    out = np.empty_like(rows)
    for first in range(0, rows.shape[0], _GENERATION_BLOCK):
        block = rows[first : first + _GENERATION_BLOCK]
        rate = flips_per_row[first : first + _GENERATION_BLOCK, None]
        draws = rng.integers(0, nbits, size=(block.shape[0], nbits), dtype=np.uint16)
        out[first : first + block.shape[0]] = block ^ np.packbits(draws < rate, axis=1)
    return out


def clustered_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    sizes_list = []
    total = 0
    while total < n:
        draw = np.minimum(rng.zipf(1.6, size=max(1024, n // 16)), 5000)
        sizes_list.append(draw)
        total += int(draw.sum())
    sizes = np.concatenate(sizes_list)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= int(sizes.sum()) - n
    styles = random_hashes(rng, 256)
    style_of = rng.integers(0, styles.shape[0], size=sizes.shape[0])
    centres = flip_bits(rng, styles[style_of], rng.uniform(0.1, 0.5, sizes.shape[0]) * BITS)
    members = np.repeat(centres, sizes, axis=0)
    out = flip_bits(rng, members, rng.integers(0, 41, size=n).astype(np.float64))
    return out[rng.permutation(n)]


def _grids(hashes: np.ndarray) -> np.ndarray:
    # PDQ prints bit (i, j) of the 16x16 coefficient block in reversed row and column order.
    return np.unpackbits(hashes, axis=1).reshape(-1, 16, 16)[:, ::-1, ::-1]


def _hashes(grids: np.ndarray) -> np.ndarray:
    return np.packbits(np.ascontiguousarray(grids[:, ::-1, ::-1]).reshape(-1, BITS), axis=1)


def dihedral_variants(hashes: np.ndarray) -> np.ndarray:
    """``(n, 8, 32)``: the modelled PDQ hashes of the 8 rotations/flips of each image."""
    grid = _grids(hashes)
    negated = (np.arange(16) % 2 == 0).astype(np.uint8)  # coefficient index i + 1 odd
    flip_x = grid ^ negated[None, None, :]
    flip_y = grid ^ negated[None, :, None]
    rotate_180 = flip_x ^ negated[None, :, None]
    t = (0, 2, 1)
    variants = [
        grid,
        flip_x.transpose(t),
        rotate_180,
        flip_y.transpose(t),
        flip_x,
        flip_y,
        grid.transpose(t),
        rotate_180.transpose(t),
    ]
    return np.stack([_hashes(v) for v in variants], axis=1)


def query_batches(rng: np.random.Generator, stored: np.ndarray, batches: int) -> np.ndarray:
    near = batches // 2
    picked = stored[rng.integers(0, stored.shape[0], size=near)]
    images = np.concatenate(
        [flip_bits(rng, picked, rng.integers(0, 41, size=near).astype(np.float64)), random_hashes(rng, batches - near)]
    )
    return dihedral_variants(images[rng.permutation(batches)])


def percentiles(times: list[float]) -> tuple[float, float]:
    ms = np.array(times) * 1e3
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


class Timer:
    """Wall-clock and this thread's CPU time of each call (CPU time ignores other processes' load)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu.append(time.thread_time() - self._cpu)
        self.wall.append(time.perf_counter() - self._wall)

    def row(self) -> tuple[float, float, float, float]:
        return (*percentiles(self.wall), *percentiles(self.cpu))


def as_sets(lims: np.ndarray, dists: np.ndarray, labels: np.ndarray) -> set[tuple[int, int, int]]:
    rows = np.repeat(np.arange(lims.shape[0] - 1), np.diff(lims.astype(np.int64)))
    return set(zip(rows.tolist(), labels.tolist(), dists.astype(np.int64).tolist(), strict=True))


def numpy_truth(stored: np.ndarray, batch: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    """Brute force without faiss or hashmatch: unpacked bits, compared in blocks."""
    words = stored.view(">u8").astype(np.uint64)
    qwords = batch.view(">u8").astype(np.uint64)
    found: set[tuple[int, int, int]] = set()
    for first in range(0, words.shape[0], 1 << 18):
        block = words[first : first + (1 << 18)]
        dists = np.bitwise_count(block[None, :, :] ^ qwords[:, None, :]).sum(axis=-1, dtype=np.int32)
        q, r = np.nonzero(dists <= threshold)
        found |= set(zip(q.tolist(), (r + first).tolist(), dists[q, r].tolist(), strict=True))
    return found


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_data_set(name: str, stored: np.ndarray, batches: np.ndarray, args: argparse.Namespace) -> None:
    import faiss

    n = stored.shape[0]
    ids = np.arange(n, dtype=np.int64)
    print(f"\n== {name}: {n:,} PDQ hashes, {batches.shape[0]} batches of {VARIANTS} variants, t={args.threshold}")

    started = time.perf_counter()
    flat = faiss.IndexBinaryFlat(BITS)
    flat.add(stored)
    flat_build = time.perf_counter() - started
    radius = args.threshold + 1  # faiss binary range_search keeps distance < radius
    truth: list[set[tuple[int, int, int]]] = []
    flat_timer = Timer()
    for batch in batches:
        with flat_timer:
            result = flat.range_search(batch, radius)
        truth.append(as_sets(*result))
    for k in range(min(args.verify_numpy, len(batches))):
        if numpy_truth(stored, batches[k], args.threshold) != truth[k]:
            sys.exit(f"faiss IndexBinaryFlat disagrees with numpy brute force on batch {k}")
    del flat
    matches = sum(len(t) for t in truth)
    print(
        f"   brute-force truth: {matches} (query, id) matches over all batches; "
        f"{sum(1 for t in truth if t)} batches with a match"
    )

    rows: list[tuple[str, tuple[float, float, float, float], str, str]] = []
    rows.append(("faiss IndexBinaryFlat", flat_timer.row(), "exact", f"build {flat_build:.1f} s"))

    if not args.skip_multihash:
        gc.collect()
        started = time.perf_counter()
        multihash = faiss.IndexBinaryMultiHash(BITS, 16, 16)
        multihash.nflip = 1
        multihash.add(stored)
        mh_build = time.perf_counter() - started
        mh_timer = Timer()
        missed = extra = 0
        for batch, expected in zip(batches, truth, strict=True):
            with mh_timer:
                result = multihash.range_search(batch, radius)
            got = as_sets(*result)
            missed += len(expected - got)
            extra += len(got - expected)
        del multihash
        complete = "complete" if missed == extra == 0 else f"missed {missed}, extra {extra}"
        rows.append(("faiss IndexBinaryMultiHash 16x16", mh_timer.row(), complete, f"build {mh_build:.1f} s"))

    ours: tuple[float, float, float, float] | None = None
    for chunks in args.chunks or [None]:
        gc.collect()
        started = time.perf_counter()
        index = HammingIndex.build(BITS, ids, stored, chunks=chunks)
        build = time.perf_counter() - started
        timer = Timer()
        wrong = 0
        for batch, expected in zip(batches, truth, strict=True):
            with timer:
                result = index.query(batch, args.threshold)
            wrong += set(result) != expected
        m = len(index.chunks)
        if wrong:
            sys.exit(f"HammingIndex m={m} differs from brute force on {wrong} batches")
        rows.append((f"hashmatch HammingIndex m={m}", timer.row(), "exact", f"build {build:.1f} s"))
        if ours is None:
            ours = timer.row()
            snapshot_report(index, batches, args)
        del index

    assert ours is not None
    print(
        f"   {'index (ms per batch of 8)':34} {'p50':>7} {'p99':>7} {'cpu p50':>8} {'cpu p99':>8} "
        f"{'p50/ours':>9} {'cpu/ours':>9}  {'result set':12} notes"
    )
    for label, (p50, p99, cpu50, cpu99), exact, notes in rows:
        print(
            f"   {label:34} {p50:7.2f} {p99:7.2f} {cpu50:8.2f} {cpu99:8.2f} "
            f"{p50 / ours[0]:8.1f}x {cpu50 / ours[2]:8.1f}x  {exact:12} {notes}"
        )
    print(f"   peak RSS so far: {peak_rss_gb():.1f} GB")


def snapshot_report(index: HammingIndex, batches: np.ndarray, args: argparse.Namespace) -> None:
    n = len(index)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.hmnx"
        started = time.perf_counter()
        with path.open("wb") as out:
            index.serialize(out)
        write = time.perf_counter() - started
        loads = []
        for _ in range(3):
            gc.collect()
            started = time.perf_counter()
            with path.open("rb") as source:
                loaded = HammingIndex.load(source)
            loads.append(time.perf_counter() - started)
            del loaded
        size = path.stat().st_size
    print(
        f"   m={len(index.chunks)}: {index.nbytes / n:.1f} bytes/hash in memory "
        f"({index.nbytes / 2**30:.2f} GiB), snapshot {size / 2**30:.2f} GiB written in {write:.1f} s, "
        f"load {min(loads):.2f} s (best of 3, warm page cache)"
    )

    # Freshness: a full delta is scanned by every query, then merged in one step.
    rng = np.random.default_rng(args.seed + 1)
    limit = index._delta_limit
    extra_ids = np.arange(n, n + limit, dtype=np.int64)
    index.add(extra_ids, random_hashes(rng, limit))
    timer = Timer()
    for batch in batches[:100]:
        with timer:
            index.query(batch, args.threshold)
    p50, _, cpu50, _ = timer.row()
    started = time.perf_counter()
    index.add(np.array([n + limit]), random_hashes(rng, 1))  # crosses the limit: merge
    merge = time.perf_counter() - started
    started = time.perf_counter()
    index.remove(extra_ids)
    remove = time.perf_counter() - started
    print(
        f"   m={len(index.chunks)}: with a full delta ({limit} rows) p50 {p50:.2f} ms (cpu {cpu50:.2f}); "
        f"merging it took {merge * 1e3:.0f} ms; removing {limit} ids took {remove * 1e3:.1f} ms"
    )


def bench_phash(args: argparse.Namespace) -> None:
    """64-bit pHash at the same size: memory and speed against faiss IndexBinaryFlat."""
    import faiss

    rng = np.random.default_rng(args.seed + 2)
    n = args.size
    stored = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
    picked = stored[rng.integers(0, n, size=(args.batches // 2) * 8)]
    near = flip_bits(rng, picked, rng.integers(0, 11, size=picked.shape[0]).astype(np.float64))
    queries = np.concatenate([near, rng.integers(0, 256, size=(args.batches * 8 - near.shape[0], 8), dtype=np.uint8)])
    batches = queries[rng.permutation(queries.shape[0])].reshape(-1, 8, 8)
    started = time.perf_counter()
    index = HammingIndex.build(64, np.arange(n), stored)
    build = time.perf_counter() - started
    flat = faiss.IndexBinaryFlat(64)
    flat.add(stored)
    print(
        f"\n== pHash: {n:,} random 64-bit hashes, {batches.shape[0]} batches of 8 images; "
        f"HammingIndex m={len(index.chunks)}, {index.nbytes / n:.1f} bytes/hash, build {build:.1f} s"
    )
    for threshold in (PHASH.default_threshold, 10):
        ours, theirs = Timer(), Timer()
        wrong = 0
        for batch in batches:
            with ours:
                result = index.query(batch, threshold)
            with theirs:
                expected = as_sets(*flat.range_search(batch, threshold + 1))
            wrong += set(result) != expected
        if wrong:
            sys.exit(f"pHash HammingIndex differs from brute force on {wrong} batches")
        o, t = ours.row(), theirs.row()
        print(
            f"   t={threshold:2}: HammingIndex p50 {o[0]:.2f} ms p99 {o[1]:.2f} (cpu p50 {o[2]:.2f}); "
            f"faiss Flat p50 {t[0]:.2f} ms p99 {t[1]:.2f} (cpu p50 {t[2]:.2f}); "
            f"{t[2] / o[2]:.1f}x by cpu; exact"
        )


def bench_framing_keys(args: argparse.Namespace) -> None:
    """The uneven-crop lookup of one check: its grid rectangles' 64-bit framing keys within
    `FRAMING_KEY_THRESHOLD` in a HammingIndex of stored framings' keys, against the anchor it replaced:
    the same rectangles' whole PDQ hashes within 31 bits in a PDQ HammingIndex of the stored framings.

    `--size` stored framings (random or clustered PDQ); each check queries 81 rectangles: half of
    the checks are copies (81 hashes 20-70 bits from one stored framing, as grid rectangles around
    an uneven crop measure), half unrelated pictures (random hashes).
    """
    rectangles = len(UNEVEN_CUTS) ** 4
    for name in ["random", "clustered"] if args.data == "both" else [args.data]:
        rng = np.random.default_rng(args.seed + 3)
        stored = random_hashes(rng, args.size) if name == "random" else clustered_hashes(rng, args.size)
        checks = []
        for k in range(args.batches):
            if k % 2 == 0:
                picked = np.repeat(stored[rng.integers(0, args.size)][None], rectangles, axis=0)
                checks.append(flip_bits(rng, picked, rng.uniform(20, 70, rectangles)))
            else:
                checks.append(random_hashes(rng, rectangles))
        keys = np.ascontiguousarray(stored[:, LOW_FREQUENCY_BYTES])
        pdq_index = HammingIndex.build(BITS, np.arange(args.size), stored)
        anchor, hits_anchor = Timer(), 0
        for check in checks:
            with anchor:
                hits_anchor += len(pdq_index.query(check, PDQ_THRESHOLD))
        a = anchor.row()
        print(
            f"\n== framing keys, {name}: {args.size:,} stored framings, {len(checks)} checks of {rectangles} rectangles"
        )
        print(
            f"   anchor, PDQ within {PDQ_THRESHOLD} (256-bit HammingIndex, "
            f"{pdq_index.nbytes / args.size:.1f} bytes/framing): "
            f"p50 {a[0]:.2f} ms p99 {a[1]:.2f} (cpu p50 {a[2]:.2f}), {hits_anchor / len(checks):.1f} hits/check"
        )
        layouts = [int(c) for c in args.key_chunks.split(",") if c] or [None]
        for chunks in layouts:
            key_index = HammingIndex.build(64, np.arange(args.size), keys, chunks=chunks)
            ours, hits_ours = Timer(), 0
            for check in checks:
                check_keys = np.ascontiguousarray(check[:, LOW_FREQUENCY_BYTES])
                with ours:
                    hits_ours += len(key_index.query(check_keys, args.key_threshold))
            o = ours.row()
            print(
                f"   keys within {args.key_threshold} (64-bit HammingIndex, {len(key_index.chunks)} chunks, "
                f"{key_index.nbytes / args.size:.1f} bytes/framing): "
                f"p50 {o[0]:.2f} ms p99 {o[1]:.2f} (cpu p50 {o[2]:.2f}), "
                f"{hits_ours / len(checks):.1f} candidates/check; anchor / ours by cpu p50: {a[2] / o[2]:.1f}x"
            )
            del key_index
        del stored, pdq_index
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="stored hashes per data set")
    parser.add_argument("--batches", type=int, default=300, help="query batches (images) per data set")
    parser.add_argument("--threshold", type=int, default=PDQ_THRESHOLD)
    parser.add_argument("--seed", type=int, default=20240531)
    parser.add_argument("--data", choices=["random", "clustered", "both"], default="both")
    parser.add_argument(
        "--chunks",
        default="",
        help="comma-separated chunk counts to compare (default: what HammingIndex.build picks for --size)",
    )
    parser.add_argument("--skip-multihash", action="store_true")
    parser.add_argument("--skip-phash", action="store_true")
    parser.add_argument("--verify-numpy", type=int, default=3, help="batches cross-checked with numpy brute force")
    parser.add_argument("--framing-keys", action="store_true", help="only the uneven-crop lookup (bench_framing_keys)")
    parser.add_argument("--key-threshold", type=int, default=FRAMING_KEY_THRESHOLD, help="for --framing-keys")
    parser.add_argument(
        "--key-chunks",
        default="",
        help="for --framing-keys: comma-separated chunk counts of the key index to compare (default: what it picks)",
    )
    args = parser.parse_args()
    args.chunks = [int(c) for c in args.chunks.split(",") if c]
    if args.framing_keys:
        bench_framing_keys(args)
        return

    import faiss

    faiss.omp_set_num_threads(1)
    print(
        f"numpy {np.__version__}, faiss {faiss.__version__}, single thread, seed {args.seed}, "
        f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    )
    for name in ["random", "clustered"] if args.data == "both" else [args.data]:
        rng = np.random.default_rng(args.seed)
        started = time.perf_counter()
        stored = random_hashes(rng, args.size) if name == "random" else clustered_hashes(rng, args.size)
        batches = query_batches(rng, stored, args.batches)
        print(f"\n(generated {name} data in {time.perf_counter() - started:.1f} s)")
        bench_data_set(name, stored, batches, args)
        del stored
        gc.collect()
    if not args.skip_phash:
        bench_phash(args)


if __name__ == "__main__":
    main()
