"""Retained checks in shards: loading and scanning 1M and 10M, against reading them from DynamoDB.

    .venv/bin/python benchmarks/bench_retained_shards.py [--sizes 1000000 10000000] [--folder DIR]

Writes shard files (`hashmatch.aws.retained_shards` format, the compaction job's writer) of 1M
synthetic retained checks each (28 random PDQ hashes a check, 7 of them whole-picture, as in
bench_retroactive.py; each check's hash document is a 16-byte stand-in, since a scan reads a
document only for a candidate), then, one core, one shard at a time: reads the shard's prints part
from the file (what a scan fetches with a ranged GET; the file was just written, so this is the
page cache's speed, not S3's) and scans it for one shared picture (its 5 stored PDQ hashes and
16 coarse cut views). 10M is ten 1M shards, one resident at a time.

In the same run, the DynamoDB path's part that runs on the function: decoding retained checks as
the table returns them (zlib, JSON, the hash codec) and packing them for the scan, timed on real
checks (a photo's edited copies, hashed by the edge) and scaled; the reads themselves are an
estimate, stated with its assumption.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hashmatch.aws.retained import RetainedRecord, decode_check, encode_check
from hashmatch.aws.retained_shards import RetainedShard, prints_length, read_shard, write_shard
from hashmatch.bank.model import NearEntry, Provenance, SharedItem
from hashmatch.media.image import hash_picture
from hashmatch.media.uneven import CUT_VIEW_CUTS
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.retroactive import WHOLE_VIEW_LABELS, RetainedCheck, RetainedPrints
from hashmatch_tools.edits import EDITS
from hashmatch_tools.samples import smooth_photo

SEED = 20261204
SHARD_CHECKS = 1_000_000
PDQ_PER_CHECK = 28
WHOLE_PER_CHECK = len(WHOLE_VIEW_LABELS) + 1
# Assumed: one strongly consistent Query stream returns 1 MB pages at ~25 MB/s.
DYNAMO_MB_PER_SECOND = 25.0
# A record's key, expiry and attribute names beside its document.
RECORD_OVERHEAD_BYTES = 100


def _random_pdq(generator: np.random.Generator, count: int) -> list[str]:
    return [bytes(row).hex() for row in generator.integers(0, 256, size=(count, 32), dtype=np.uint8)]


def _shared(generator: np.random.Generator) -> SharedItem:
    stored = _random_pdq(generator, 5)
    return SharedItem(
        "item",
        Provenance("p", "2026-12-01T00:00:00Z"),
        "image",
        {"pdq": stored[0]},
        tuple(NearEntry("pdq", value, "framing") for value in stored[1:]),
        cut_views=tuple(_random_pdq(generator, len(CUT_VIEW_CUTS) ** 4)),
    )


def write_shard_file(path: Path, generator: np.random.Generator, number: int) -> int:
    """A shard of `SHARD_CHECKS` synthetic checks at `path`; its size in bytes."""
    count = SHARD_CHECKS
    columns = generator.integers(0, 2**63, size=(4, count * PDQ_PER_CHECK), dtype=np.uint64)
    owner = np.repeat(np.arange(count, dtype=np.int32), PDQ_PER_CHECK)
    prints = RetainedPrints.from_arrays(
        [], columns, owner, count * WHOLE_PER_CHECK, np.zeros((4, 0), np.uint64), np.zeros(0, np.int32)
    )
    hour = f"2026-12-01T{number % 24:02d}"
    records = [
        RetainedRecord(f"{number:04d}{n:028d}", f"{hour}:00:00.000Z", 1_800_000_000, b"d" * 16) for n in range(count)
    ]
    path.write_bytes(write_shard(RetainedShard("bench", hour, records, prints)))
    return path.stat().st_size


def load_shard_file(path: Path) -> RetainedShard:
    """The shard's prints part, read as a scan reads it (the documents left where they are)."""
    with path.open("rb") as file:
        length = prints_length(file.read(16))
        prints = file.read(length)
    return read_shard(prints, lambda start, end: b"")


def shards_at(size: int, folder: Path) -> tuple[float, float, int]:
    """Seconds loading and scanning `size` checks in 1M shards, one at a time; bytes of shard per check."""
    generator = np.random.default_rng(SEED)
    item = _shared(generator)
    paths = []
    written = 0
    for number in range(0, size, SHARD_CHECKS):
        path = folder / f"shard-{number // SHARD_CHECKS:03d}.shard"
        if not path.exists():
            write_shard_file(path, generator, number // SHARD_CHECKS)
        written += path.stat().st_size
        paths.append(path)
    loading = scanning = 0.0
    for path in paths:
        began = time.perf_counter()
        shard = load_shard_file(path)
        loaded = time.perf_counter()
        shard.prints.candidates([item])
        scanning += time.perf_counter() - loaded
        loading += loaded - began
        del shard
    return loading, scanning, written // size


def dynamo_decode_per_check(sample: int = 2_000) -> tuple[float, int]:
    """Seconds per check to decode table records (real checks' documents) and pack them; record bytes."""
    rng = random.Random(SEED)
    photo = smooth_photo(13, (640, 480))
    copies = [replace(hash_picture(apply(photo.copy(), rng)), uneven_crops=None) for apply in EDITS.values()]
    blobs = [
        encode_check(RetainedCheck("p", ObjectRef("b", f"k{n}"), "c", "2026-12-01T00:00:00.000Z", hashes))
        for n, hashes in enumerate(copies)
    ]
    records = [blobs[n % len(blobs)] for n in range(sample)]
    began = time.perf_counter()
    checks = [
        replace(decode_check("p", "2026-12-01T00:00:00.000Z", blob), obj=ObjectRef("b", f"k{n}"))
        for n, blob in enumerate(records)
    ]
    RetainedPrints(checks)
    return (time.perf_counter() - began) / sample, int(np.mean([len(b) for b in blobs]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--folder", type=Path, default=None, help="where the shard files go (a temporary folder)")
    args = parser.parse_args()
    decode, record_bytes = dynamo_decode_per_check()
    record_bytes += RECORD_OVERHEAD_BYTES
    read_per_check = record_bytes / 1024**2 / DYNAMO_MB_PER_SECOND
    print(
        f"DynamoDB path: decode and pack {decode * 1e3:.3f} ms per check (measured); read ~{read_per_check * 1e3:.3f} "
        f"ms per check (estimated: {record_bytes} B records, one Query stream at {DYNAMO_MB_PER_SECOND:.0f} MB/s)"
    )
    with tempfile.TemporaryDirectory(dir=args.folder, prefix="hashmatch-shards-") as folder:
        for size in args.sizes:
            loading, scanning, shard_bytes = shards_at(size, Path(folder))
            dynamo = size * (decode + read_per_check)
            total = loading + scanning
            print(
                f"shards {size:>11,} retained checks: load {loading:6.2f} s + scan {scanning:6.2f} s = "
                f"{total:6.2f} s one core; {shard_bytes} B of shard per check; DynamoDB path (estimated) "
                f"{dynamo:7.0f} s + the same scan; ratio {(dynamo + scanning) / total:4.0f}x"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this run: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
