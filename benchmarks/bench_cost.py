"""Cost of a check at 10 million stored hashes, by media and by hash, against HMA's published figure.

    .venv/bin/python benchmarks/bench_cost.py                    # 10M hashes (555,555 shared images)
    .venv/bin/python benchmarks/bench_cost.py --hashes 1000000   # quicker

A bank of `--hashes` stored hashes (synthetic: each shared image a main PDQ, a pHash and 5 PDQ
framings with their framing keys) is built in a `BankIndex`; then real checks (edited copies of
seeded pictures, `--checks` of them, each hashed by the real `hash_file`) are run against it on one
core, fixed seed:

- the hashing function's share: `Sandbox.hash` of the copy (decode, every signal, framings, the
  uneven-crop grid) in its child process, wall time (what Lambda bills), the fastest of 3 runs
  (other processes on a shared machine only ever add to it);
- the lookup API's share: `Matcher.uneven_crop_candidates` (the framing-key lookup), CPU time;
- the hashing function's searches toward the candidates (`UnevenCropSearch.refined`), CPU time.
  The default checks are copies of nothing in the bank, yet at 10M hashes a grid's keys agree by
  chance with some stored framings' keys, and a framing whose key agrees shares those 64 bits of
  its PDQ with the grid rectangle, which brings it within the search's start limit: the run prints
  how many checks had candidates. With `--copies-of-shared` each check's source picture is shared
  first (a real item beside the synthetic ones), so every check is a copy;
- the check function's share: `Matcher.match` of the refined query set, CPU time;

plus the AWS calls each path makes, at us-east-1 list prices (stated below, as of 2026-12), and
the function time billed while each call is waited on (not measurable offline: the in-region
latencies assumed are stated below, `ASSUMED_WAITS`; the run also prints by media with every wait
free, `NO_WAITS`: the least a check by media costs in this design). The anchor is HMA's first AWS
version's published ~$0.01 per 1,000 images.
Memory of the matcher functions is sized from the index's measured bytes.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import random
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from hashmatch.aws.lookup import FILES_PER_REQUEST
from hashmatch.bank.model import Provenance
from hashmatch.edge.ingest import CHECK_CHUNK_ENTRIES
from hashmatch.edge.sandbox import Sandbox
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import UNEVEN_CROP_START_LIMIT
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import LabelledHash, MediaHashes
from hashmatch.service.service import item_from_media
from hashmatch_tools.edits import EDITS, encode_copy
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.samples import jpeg_bytes, scene
from hashmatch_tools.synthetic import HASHES_PER_IMAGE, synthetic_bank_index

SEED = 20261204
HMA_PER_1000 = 0.01  # HMA's first AWS version, as published

# us-east-1 list prices (USD).
LAMBDA_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_REQUEST = 0.20 / 1e6
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
SQS_REQUEST = 0.40 / 1e6
SNS_PUBLISH = 0.50 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6  # on demand, per read request unit (strongly consistent, <= 4 KB)
DYNAMODB_WRITE_UNIT = 0.625 / 1e6


@dataclass(frozen=True)
class Waits:
    """Billed function time spent waiting on AWS, in ms (not measurable offline)."""

    call: float  # a DynamoDB, SQS or SNS call, or a small S3 request
    s3_get_upload: float  # the hashing function reading a ~300 KB upload
    http_api: float  # what API Gateway's HTTP API adds to a lookup's round trip
    lookup: bool = True  # the hashing function billed while the lookup function finds candidates


# In-region figures, assumed: single-digit ms a call.
ASSUMED_WAITS = Waits(call=5.0, s3_get_upload=20.0, http_api=10.0)
# Every wait free: what a check costs at the least in this design (the floor the README states).
NO_WAITS = Waits(call=0.0, s3_get_upload=0.0, http_api=0.0, lookup=False)
CHECK_DYNAMODB_CALLS = 6  # per check by media: 3 reads and 3 writes (see per_check_costs)
CHUNK_DYNAMODB_CALLS = 4  # per chunk of a check list, besides each entry's two exact lookups
HASHER_GB = 2.0  # HashFunction's MemorySize
HASH_REPEATS = 3  # each copy hashed this often; the fastest counts (the machine is shared and noisy)
BATCH = 5  # records per invocation of the queue-fed functions
# Grids per `/v1/candidates` request when a member hashes many files (`hashmatch hash --for-check`).
CANDIDATE_FILES = FILES_PER_REQUEST


@dataclass
class Measured:
    hash_ms: list[float]
    lookup_ms: list[float]
    search_ms: list[float]
    candidates: list[int]  # stored framings each check's edge searched toward
    match_ms: list[float]
    index_gb: float
    matcher_gb: float


def checks(count: int) -> list[tuple[bytes, str, Image.Image]]:
    """Seeded edited copies of seeded pictures (1.3 MP JPEGs, as an upload), with their edit's name
    and the picture each was made from."""
    rng = random.Random(SEED)
    names = [name for name in EDITS if "asymmetric" in name or rng.random() < 0.5]
    copies = []
    for k in range(count):
        picture = scene(SEED + k, (1280, 1024))
        name = names[k % len(names)]
        body, _ = encode_copy(EDITS[name](picture, random.Random(k)), name)
        copies.append((body, name, picture))
    return copies


def shared_bank(pictures: list[Image.Image], folder: Path) -> MemoryBank:
    """A bank holding each of `pictures`, shared as a member would (JPEG, the real `hash_file`)."""
    bank = MemoryBank()
    for k, picture in enumerate(pictures):
        path = folder / f"shared{k}.jpg"
        path.write_bytes(jpeg_bytes(picture, quality=95))
        provenance = Provenance(contributor="member-a", shared_at="2026-12-06T00:00:00Z")
        bank.put_items([item_from_media(hash_file(path, for_sharing=True), provenance)])
    return bank


def measure(
    hashes: int, count: int, copies_of_shared: bool = False, start_limit: int = UNEVEN_CROP_START_LIMIT
) -> Measured:
    rng = np.random.default_rng(SEED)
    images = hashes // HASHES_PER_IMAGE
    print(f"building a bank of {images * HASHES_PER_IMAGE:,} hashes ({images:,} shared images)...", flush=True)
    index = synthetic_bank_index(images, rng)
    index_gb = index.nbytes / 1e9
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    copies = checks(count)
    sandbox = Sandbox()
    hash_ms, lookup_ms, search_ms, match_ms = [], [], [], []
    candidates = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            bank = shared_bank([c[2] for c in copies], Path(folder)) if copies_of_shared else MemoryBank()
            matcher = Matcher(bank, index, start_limit=start_limit)
            for k, (body, _name, _picture) in enumerate(copies):
                path = Path(folder) / f"copy{k}.jpg"
                path.write_bytes(body)
                walls = []
                for _ in range(HASH_REPEATS):
                    start = time.perf_counter()
                    hashed = sandbox.hash(path)
                    walls.append((time.perf_counter() - start) * 1000)
                hash_ms.append(min(walls))
                search = hashed.uneven_crops
                start = time.process_time()
                found = matcher.uneven_crop_candidates(search.keys, search.hashes) if search else []
                lookup_ms.append((time.process_time() - start) * 1000)
                candidates.append(len(found))
                start = time.process_time()
                searched = search.refined(found) if search else ()
                search_ms.append((time.process_time() - start) * 1000)
                refined = _refined(hashed, searched)
                start = time.process_time()
                matcher.match(refined)
                match_ms.append((time.process_time() - start) * 1000)
    finally:
        sandbox.close()
    # The matcher functions hold the index, the runtime (~300 MB) and room to merge recent adds.
    matcher_gb = max(1.0, np.ceil((index_gb * 1.5 + 0.3) * 4) / 4)
    print(f"index {index_gb:.2f} GB of arrays; peak RSS while building {peak_gb:.1f} GB", flush=True)
    return Measured(hash_ms, lookup_ms, search_ms, candidates, match_ms, index_gb, matcher_gb)


def _refined(hashes: MediaHashes, found: tuple[LabelledHash, ...]) -> MediaHashes:
    return replace(hashes, queries=hashes.queries + found, uneven_crops=None)


def _lookup_request(m: Measured, gb_second: float, waits: Waits) -> float:
    """What one `/v1/candidates` request costs besides its copies' candidates: the HTTP API, the
    Lambda request, and the refresh of the index (one log-tail read) it starts with."""
    return HTTP_API_REQUEST + waits.call / 1000 * m.matcher_gb * gb_second + LAMBDA_REQUEST


def _lookup_wait_s(m: Measured, waits: Waits) -> float:
    """How long the hashing function waits, per upload, for the answer to its batch's one lookup
    (`EdgeHasher.process_many`): each copy's candidates, and the round trip shared by the batch."""
    if not waits.lookup:
        return 0.0
    return statistics.median(m.lookup_ms) / 1000 + (waits.call + waits.http_api) / 1000 / BATCH


def per_check_costs(m: Measured, architecture: str, waits: Waits = ASSUMED_WAITS) -> dict[str, dict[str, float]]:
    """USD per check, by item, for a check by media and a check by hash (lists of a chunk's size)."""
    gb_second = LAMBDA_GB_SECOND[architecture]
    hash_s = statistics.median(m.hash_ms) / 1000
    lookup_s = statistics.median(m.lookup_ms) / 1000
    search_s = statistics.median(m.search_ms) / 1000
    match_s = statistics.median(m.match_ms) / 1000
    call_s = waits.call / 1000
    matcher = m.matcher_gb * gb_second
    lookup_request = _lookup_request(m, gb_second, waits)
    by_media = {
        "S3 PUT (the member's upload)": S3_PUT,
        "S3 GET of the upload": S3_GET,
        "SQS (S3 event in, submission out, receive and delete in batches)": SQS_REQUEST * (2 + 4 / BATCH),
        # Hashing, and the waits it is billed for: the upload's GET, the submission's send, the
        # hand-off record, the upload's DELETE; and the lookup's round trip.
        "HashFunction (sandboxed hashing, and its waits on S3, SQS, DynamoDB)": (
            hash_s + waits.s3_get_upload / 1000 + 3 * call_s
        )
        * HASHER_GB
        * gb_second
        + LAMBDA_REQUEST / BATCH,
        "HashFunction waiting for the lookup's answer": _lookup_wait_s(m, waits) * HASHER_GB * gb_second,
        "HashFunction searching toward the candidates": search_s * HASHER_GB * gb_second,
        f"lookup API (uneven-crop candidates, one request per batch of {BATCH} uploads)": lookup_request / BATCH
        + lookup_s * matcher,
        # The calls a check makes (hashmatch.aws.runtime, hashmatch.service.service): the log tail and
        # two exact lookups (sha256, md5); the claim on its key, the answer kept (replacing the
        # claim) and marked published (hashmatch.service.answers); the verdict's publish.
        "CheckFunction (matching)": (match_s + (CHECK_DYNAMODB_CALLS + 1) * call_s) * matcher + LAMBDA_REQUEST / BATCH,
        "DynamoDB (3 reads: log tail, 2 exact; 4 writes: claim, answer, published, hand-off)": 3 * DYNAMODB_READ_UNIT
        + 4 * DYNAMODB_WRITE_UNIT,
        "SNS publish of the verdict": SNS_PUBLISH,
    }
    chunk = CHECK_CHUNK_ENTRIES
    by_hash = {
        "S3 PUT of the list, per entry": S3_PUT / chunk,
        f"lookup API (the member's hasher asks about {CANDIDATE_FILES} files a request)": lookup_request
        / CANDIDATE_FILES
        + lookup_s * matcher,
        # Per chunk: the list's GET, a signals object PUT/GET, SQS, the results PUT, one refresh, the
        # claim, the answer kept and marked published; per entry: two exact lookups.
        "HashFunction (parsing the list), per entry": 0.002 * HASHER_GB * gb_second,
        "CheckFunction (matching)": (match_s + 2 * call_s) * matcher
        + (CHUNK_DYNAMODB_CALLS * call_s * matcher + LAMBDA_REQUEST) / chunk,
        "S3 and SQS per chunk, per entry": (2 * S3_GET + 2 * S3_PUT + 4 * SQS_REQUEST) / chunk,
        "DynamoDB (2 reads per entry; per chunk 1 read, 4 writes)": 2 * DYNAMODB_READ_UNIT
        + (DYNAMODB_READ_UNIT + 4 * DYNAMODB_WRITE_UNIT) / chunk,
        "SNS (check.completed per chunk)": SNS_PUBLISH / chunk,
    }
    return {"by media": by_media, "by hash": by_hash}


def levers(m: Measured, architecture: str) -> dict[str, float]:
    """USD per check by media that each lever not taken would save, in the same model."""
    gb_second = LAMBDA_GB_SECOND[architecture]
    return {
        # hashmatch.index.bank_index refreshes before every check; once per batch would do.
        f"the log-tail read once per batch of {BATCH} checks instead of once per check": (1 - 1 / BATCH)
        * (DYNAMODB_READ_UNIT + ASSUMED_WAITS.call / 1000 * m.matcher_gb * gb_second),
        # The two exact lookups (sha256, md5) in one BatchGetItem: the same read units, one wait.
        "the two exact lookups in one request": ASSUMED_WAITS.call / 1000 * m.matcher_gb * gb_second,
    }


def report(m: Measured, hashes: int) -> None:
    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values):.1f} ms, p95 {np.percentile(values, 95):.1f} ms"

    print(f"\nOne core, {len(m.hash_ms)} checks against {hashes:,} stored hashes:")
    print(f"- hashing in the sandbox (wall): {ms(m.hash_ms)}")
    print(f"- uneven-crop candidates (CPU): {ms(m.lookup_ms)}")
    had = f"{sum(n > 0 for n in m.candidates)} of {len(m.candidates)} had candidates, {sum(m.candidates)} in all"
    print(f"- searches toward them at the edge (CPU): {ms(m.search_ms)}; {had}")
    print(f"- matching the refined query set (CPU): {ms(m.match_ms)}")
    print(f"- matcher memory: {m.index_gb:.2f} GB of index arrays -> MemorySize {m.matcher_gb * 1024:.0f} MB")
    for architecture in ("x86_64", "arm64"):
        costs = per_check_costs(m, architecture)
        print(f"\n| {architecture}: per 1,000 checks (USD) | by media | by hash |")
        print("|---|---:|---:|")
        for path, items in costs.items():
            for label, usd in items.items():
                cells = (f"{usd * 1000:.5f}", "") if path == "by media" else ("", f"{usd * 1000:.5f}")
                print(f"| {label} | {cells[0]} | {cells[1]} |")
        media_total = sum(costs["by media"].values()) * 1000
        hash_total = sum(costs["by hash"].values()) * 1000
        print(f"| **total** | **{media_total:.4f}** | **{hash_total:.4f}** |")
        print(
            f"| HMA's first AWS version (anchor) | {HMA_PER_1000:.4f} | {HMA_PER_1000:.4f} |\n"
            f"| ratio to the anchor | {media_total / HMA_PER_1000:.2f} | {hash_total / HMA_PER_1000:.2f} |"
        )
    floors = {a: sum(per_check_costs(m, a, NO_WAITS)["by media"].values()) * 1000 for a in LAMBDA_GB_SECOND}
    print(
        "\nBy media with every wait on AWS free (the least a check by media costs in this design): "
        + ", ".join(f"{a} {usd:.4f}" for a, usd in floors.items())
    )
    print("\nLevers not taken, by media, x86_64 (USD per 1,000 checks saved):")
    for label, usd in levers(m, "x86_64").items():
        print(f"- {label}: {usd * 1000:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=10_000_000, help="stored hashes in the bank")
    parser.add_argument("--checks", type=int, default=30, help="checks to time")
    parser.add_argument(
        "--copies-of-shared",
        action="store_true",
        help="share each check's source picture first: every check is then a copy, and searches",
    )
    parser.add_argument(
        "--start-limit",
        type=int,
        default=UNEVEN_CROP_START_LIMIT,
        help=f"the PDQ bits an uneven-crop search may start from (default {UNEVEN_CROP_START_LIMIT})",
    )
    args = parser.parse_args()
    started = time.time()
    report(measure(args.hashes, args.checks, args.copies_of_shared, args.start_limit), args.hashes)
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
