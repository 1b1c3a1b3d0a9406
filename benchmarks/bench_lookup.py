"""Latency of one lookup (`POST /v1/lookup`, one checked picture's query set) at 1M hashes: through
the local stack's HTTP API and in process, against a named anchor (faiss), in the same run.

    .venv/bin/python benchmarks/bench_lookup.py                          # 1M hashes, 200 lookups per path
    .venv/bin/python benchmarks/bench_lookup.py --size 100000 --lookups 100
    .venv/bin/python benchmarks/bench_lookup.py --quick                  # 60k hashes, 20 lookups (tests)

Fixed seed. The bank: a synthetic near-match index of `--size` hashes (`hashmatch_tools.synthetic`:
random pictures, each a main PDQ, a pHash and 5 PDQ framings), published as the newest snapshot
in the local stack's snapshot bucket, plus one real picture shared through the bank's table (its
item, exact-hash records and change-log entry). The query set: a mirrored, re-encoded copy of that
picture as `hashmatch hash --for-check` prints it, so every lookup matches it.

Timed one lookup at a time, the paths interleaved so the shared machine's load falls on each
alike, after one warm-up each (the function's first lookup, which loads the snapshot, is
reported apart):

* ours, local server: `LookupApiClient.lookup`: SigV4 signing, HTTP to the local API on
  127.0.0.1, the LookupFunction handler (JSON, `hashes_from_json`, `Matcher.match` on the
  function's own matcher, which reads the log's tail and the bank's items from the emulated
  DynamoDB), JSON back;
* ours, in process: `Matcher.match` on the same index state and the same tables;
* ours, in process, matching alone: `Matcher.match` on the same index state and an in-memory bank;
* the anchor: faiss `IndexBinaryFlat.range_search` (exhaustive, single thread) of the same query
  set's PDQ hashes (the main one, its rotations/flips and framings) within PDQ's threshold and of
  its pHashes within pHash's, over the same stored hashes, in the same process: the plain
  near-neighbour search a lookup needs, without the matcher's rules, items or bank reads.

Ratios printed: each of ours / the anchor (the matching alone against an exhaustive scan, then
with the bank's reads, then through the server), and local server / in process on the same tables
(what the API adds). The local stack's moto server and API run in
threads of this process (one interpreter, as `hashmatch local` runs them); a deployed API adds API
Gateway and Lambda's own overhead instead.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the template sets for the matcher functions
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import logging
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import numpy as np

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.lookup import LookupApiClient
from hashmatch.aws.snapshots import S3SnapshotStore
from hashmatch.bank.model import Provenance, SharedItem
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import Thresholds
from hashmatch.media.codec import hashes_from_json, hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import MediaHashes
from hashmatch.service.service import item_from_media
from hashmatch.signals.pdq import PDQ
from hashmatch.signals.phash import PHASH
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.local.stack import LocalStack
from hashmatch_tools.samples import jpeg_bytes, mirrored, scene
from hashmatch_tools.synthetic import FRAMINGS_PER_IMAGE, HASHES_PER_IMAGE, PARTS_PER_IMAGE, synthetic_bank_index

SEED = 20261101
SIZE = (1024, 768)
QUICK_SIZE = 60_000
QUICK_LOOKUPS = 20
LOCAL = "ours, local server: SigV4 + HTTP -> handler -> Matcher.match (emulated DynamoDB)"
IN_PROCESS = "ours, in process: Matcher.match, same index and tables"
MATCHING = "ours, in process: Matcher.match, same index, in-memory bank"
ANCHOR = "anchor, in process: faiss IndexBinaryFlat.range_search of the PDQ and pHash queries"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _hashes(body: bytes, *, for_sharing: bool = False) -> MediaHashes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "picture.jpg"
        path.write_bytes(body)
        return hash_file(path, for_sharing=for_sharing)


def _timed(call: Callable[[], int]) -> float:
    started = time.perf_counter()
    matched = call()
    elapsed = time.perf_counter() - started
    assert matched, "every lookup matches the shared picture"
    return elapsed


class FaissAnchor:
    """faiss `IndexBinaryFlat` over the synthetic bank's PDQ and pHash hashes (the same draws
    `synthetic_bank_index` makes from the same seed) and the shared picture's."""

    def __init__(self, images: int, seed: int, shared: SharedItem) -> None:
        import faiss

        faiss.omp_set_num_threads(1)
        rng = np.random.default_rng(seed)  # the draws of `synthetic_bank_index`, in its order
        main = rng.integers(0, 256, size=(images, 32), dtype=np.uint8)
        framings = rng.integers(0, 256, size=(images * FRAMINGS_PER_IMAGE, 32), dtype=np.uint8)
        phash = rng.integers(0, 256, size=(images, 8), dtype=np.uint8)
        parts = rng.integers(0, 256, size=(images * PARTS_PER_IMAGE, 32), dtype=np.uint8)
        shared_pdq = [e.value for e in shared.near_entries if e.signal == PDQ.name]
        shared_phash = [e.value for e in shared.near_entries if e.signal == PHASH.name]
        self.first_pdq = main[0].tobytes().hex()
        self.pdq = faiss.IndexBinaryFlat(256)
        self.pdq.add(np.concatenate([main, framings, parts, _codes(shared_pdq, 32)]))
        self.phash = faiss.IndexBinaryFlat(64)
        self.phash.add(np.concatenate([phash, _codes(shared_phash, 8)]))
        self.pdq_radius = Thresholds().for_signal(PDQ.name) + 1  # faiss keeps distance < radius
        self.phash_radius = Thresholds().for_signal(PHASH.name) + 1

    def lookup(self, hashes: MediaHashes) -> int:
        """Hits of the query set's PDQ and pHash hashes within their thresholds."""
        pdq = [hashes.signals[PDQ.name], *(q.value for q in hashes.queries if q.signal == PDQ.name)]
        phash = [hashes.signals[PHASH.name], *(q.value for q in hashes.queries if q.signal == PHASH.name)]
        pdq_lims, _, _ = self.pdq.range_search(_codes(pdq, 32), self.pdq_radius)
        phash_lims, _, _ = self.phash.range_search(_codes(phash, 8), self.phash_radius)
        return int(pdq_lims[-1]) + int(phash_lims[-1])


def _codes(values: list[str], width: int) -> np.ndarray:
    return np.frombuffer(b"".join(bytes.fromhex(v) for v in values), dtype=np.uint8).reshape(-1, width)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="hashes in the near-match index")
    parser.add_argument("--lookups", type=int, default=200, help="timed lookups per path")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SIZE:,} hashes and {QUICK_LOOKUPS} lookups: a smoke run for tests"
    )
    args = parser.parse_args()
    if args.quick:
        args.size, args.lookups = QUICK_SIZE, QUICK_LOOKUPS
    logging.basicConfig(level=logging.WARNING)
    began = time.perf_counter()

    images = max(1, args.size // HASHES_PER_IMAGE)
    index = synthetic_bank_index(images, np.random.default_rng(args.seed))
    built = time.perf_counter() - began
    picture = scene(args.seed % 1000, SIZE)
    item = item_from_media(
        _hashes(jpeg_bytes(picture, 92), for_sharing=True), Provenance("tiktok", "2026-01-01T00:00:00.000Z")
    )
    query = hashes_to_json(_hashes(jpeg_bytes(mirrored(picture), 70)))
    entry = {"content_id": "upload-1", "hashes": query}
    anchor = FaissAnchor(images, args.seed, item)
    # The anchor holds the index's hashes: its first stored PDQ is in the index, exactly.
    assert [h.distance for h in index.query(PDQ.name, [anchor.first_pdq], 0)] == [0], "anchor and index differ"

    stack = LocalStack(parameters={"LogLevel": "WARNING"}).start(poll=False)
    try:
        assert stack.stack is not None
        session = boto3.session.Session()
        snapshots = S3SnapshotStore(
            stack.stack.physical_names("SnapshotBucket")["ref"], session.client("s3", endpoint_url=stack.endpoint)
        )
        snapshots.publish(index)
        del index
        table = stack.stack.physical_names("BankTable")["ref"]
        bank = DynamoBank(table, session.resource("dynamodb", endpoint_url=stack.endpoint))
        bank.put_items([item])
        memory_bank = MemoryBank()
        memory_bank.put_items([item])
        on_tables = Matcher(bank, snapshots.latest() or BankIndex())
        in_memory = Matcher(memory_bank, snapshots.latest() or BankIndex())

        client = LookupApiClient(stack.api_endpoint, session)
        started = time.perf_counter()
        (result,) = client.lookup([entry])
        cold = time.perf_counter() - started
        expected = [m.item_id for m in on_tables.match(hashes_from_json(query))]
        entries = len(on_tables.index)  # the synthetic hashes and the shared picture's
        assert (
            [m["item_id"] for m in result["matches"]]
            == expected
            == [m.item_id for m in in_memory.match(hashes_from_json(query))]
        ), (result, expected)

        paths: dict[str, Callable[[], int]] = {
            LOCAL: lambda: len(client.lookup([entry])[0]["matches"]),
            IN_PROCESS: lambda: len(on_tables.match(hashes_from_json(query))),
            MATCHING: lambda: len(in_memory.match(hashes_from_json(query))),
            ANCHOR: lambda: anchor.lookup(hashes_from_json(query)),
        }
        for call in paths.values():  # one warm-up each
            _timed(call)
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.lookups):
            for name, call in paths.items():
                times[name].append(_timed(call))
    finally:
        stack.stop()

    print(
        f"one lookup of a checked picture's query set ({len(query['queries'])} labelled hashes), "
        f"{entries:,} hashes in the index ({images:,} synthetic pictures + 1 shared), seed {args.seed}"
    )
    print(f"index built in {built:.1f} s; the function's first lookup (loading the snapshot) {cold * 1000:.0f} ms")
    print("| path | lookups | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for name, values in times.items():
        p50, p99 = statistics.median(values) * 1000, percentile(values, 0.99) * 1000
        print(f"| {name} | {len(values)} | {p50:.2f} | {p99:.2f} |")
    for label, (slow, fast) in {
        "ours in process, in-memory bank / anchor (the matching)": (MATCHING, ANCHOR),
        "ours in process, same tables / anchor": (IN_PROCESS, ANCHOR),
        "ours local server / anchor": (LOCAL, ANCHOR),
        "ours local server / ours in process, same tables (what the API adds)": (LOCAL, IN_PROCESS),
    }.items():
        a, b = times[slow], times[fast]
        print(
            f"ratio {label}: p50 {statistics.median(a) / statistics.median(b):.2f}x, "
            f"p99 {percentile(a, 0.99) / percentile(b, 0.99):.2f}x"
        )
    print(f"total {time.perf_counter() - began:.0f} s; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
