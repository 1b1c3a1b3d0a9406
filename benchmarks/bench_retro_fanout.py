"""A share's retroactive scan fanned out over workers, against the share function scanning alone.

    .venv/bin/python benchmarks/bench_retro_fanout.py [--slices 4] [--workers 2] [--folder DIR]

Writes `--slices` x 2 shard files of 1M synthetic retained checks each (bench_retained_shards.py's
writer: the compaction's format, 28 PDQ hashes a check), grouped as `hashmatch.aws.retro_fanout`
plans them (`SLICE_BYTES`, 2 GB: two such shards a slice), then scans them for one shared picture
(5 stored PDQ hashes, 625 cut views) in the same run, seed fixed:

* ours: the slices scanned by `--workers` processes side by side (the fan-out's workers; Lambda
  runs every slice at once, this machine as many as it has cores), each loading and scanning its
  shards one at a time as `ScanWorker` does (`live_prints`, then the candidate step);
* anchor: one process scanning every shard in turn (the share function alone, as before the fan-out).

It prints both wall times, their ratio, the slowest slice, and, from the anchor's time per check
(one core, no contention), a slice's time and the worker cost of a 300M-check scan (10M checks a
day kept 30 days) at Lambda's list price. The shard files are read from the page cache, not from
S3: a worker in Lambda reads a slice's ~2 GB at S3's speed (tens to hundreds of MB/s a connection),
which the README adds.

The table's tail is scanned in 10-minute windows: the decode cost per check (measured here on real
checks, as bench_retained_shards.py does) times a window's checks at 10M checks a day.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench_retained_shards import (
    SEED,
    SHARD_CHECKS,
    _shared,
    dynamo_decode_per_check,
    load_shard_file,
    write_shard_file,
)

from hashmatch.aws.retained_shards import live_prints
from hashmatch.aws.retro_fanout import SLICE_BYTES, TAIL_WINDOW_SECONDS

LAMBDA_GB_SECOND_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
WORKER_GB = 2.0
RETAINED_300M = 300_000_000
CHECKS_PER_DAY = 10_000_000


def scan_slice(paths: list[Path]) -> tuple[float, int]:
    """Seconds to load and scan one slice's shards, one at a time, as a worker does (`live_prints`,
    then the candidate step; verdicts run only for candidates, none among random hashes); candidates."""
    item = _shared(np.random.default_rng(SEED))
    began = time.perf_counter()
    candidates = 0
    for path in paths:
        shard = load_shard_file(path)
        prints = live_prints(shard, "2026-11-01T00:00:00.000Z", datetime(2026, 12, 1, tzinfo=UTC).timestamp())
        if prints is not None:
            candidates += len(prints.candidates([item]))
        del shard, prints
    return time.perf_counter() - began, candidates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=None, help="where the shard files go (a temporary folder)")
    args = parser.parse_args()
    generator = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory(dir=args.folder, prefix="hashmatch-fanout-") as folder:
        paths = []
        shard_bytes = 0
        for number in range(args.slices * 2):
            path = Path(folder) / f"shard-{number:03d}.shard"
            shard_bytes = write_shard_file(path, generator, number)
            paths.append(path)
        per_slice = max(1, SLICE_BYTES // shard_bytes)
        slices = [paths[n : n + per_slice] for n in range(0, len(paths), per_slice)]
        checks = len(paths) * SHARD_CHECKS
        print(
            f"{checks:,} retained checks in {len(paths)} shards of {shard_bytes / 1024**2:.0f} MB; "
            f"{len(slices)} slices of {per_slice} shards (SLICE_BYTES {SLICE_BYTES / 1024**3:.0f} GB)"
        )
        began = time.perf_counter()
        anchor_candidates = sum(scan_slice([path])[1] for path in paths)
        anchor = time.perf_counter() - began
        began = time.perf_counter()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            answers = list(pool.map(scan_slice, slices))
        ours = time.perf_counter() - began
        assert sum(c for _, c in answers) == anchor_candidates, "the fan-out found other candidates"
        slowest = max(seconds for seconds, _ in answers)
    print(f"anchor (one process, every shard in turn): {anchor:7.2f} s")
    print(f"ours   ({len(slices)} slices on {args.workers} processes):     {ours:7.2f} s   ratio {anchor / ours:4.2f}x")
    print(f"slowest slice (one worker, {per_slice * SHARD_CHECKS:,} checks): {slowest:.2f} s")
    per_check_bytes = shard_bytes / SHARD_CHECKS
    slice_checks = SLICE_BYTES / per_check_bytes
    slices_300m = int(np.ceil(RETAINED_300M / slice_checks))
    per_check = anchor / checks  # one core, no contention
    worker_seconds = per_check * RETAINED_300M
    cost = worker_seconds * WORKER_GB * LAMBDA_GB_SECOND_USD + slices_300m * LAMBDA_REQUEST_USD
    print(
        f"300M retained checks: {slices_300m} slices of {slice_checks:,.0f} checks, "
        f"each {per_check * slice_checks:.1f} s on one core from the page cache; "
        f"workers {worker_seconds:,.0f} s in all at {WORKER_GB:.0f} GB = ${cost:.3f} a share"
    )
    decode, _ = dynamo_decode_per_check()
    window = CHECKS_PER_DAY * TAIL_WINDOW_SECONDS // 86400
    print(
        f"table tail: {TAIL_WINDOW_SECONDS // 60}-minute windows, {window:,} checks each at 10M checks a day: "
        f"decode and pack {decode * 1e3:.3f} ms a check (measured) = {window * decode:.1f} s a window"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
