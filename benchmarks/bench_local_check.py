"""Time per check through the local stack, for a 1 MP JPEG.

    .venv/bin/python benchmarks/bench_local_check.py [--checks 30]

Starts the local stack (moto server on 127.0.0.1, resources from template.yaml, the handlers
polled as Lambda would), shares one picture, then checks edited 1 MP JPEGs one at a time and
times each from the S3 put to the verdict in the platform's inbox. In the same run, the anchor:
the same files hashed and matched in process (`hash_file` + `Matcher` on an in-memory bank), so
the ratio shows what the queue, the AWS emulation and the notification path add.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hashmatch.bank.model import Provenance
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.hashing import hash_file
from hashmatch.service.service import item_from_media
from hashmatch_tools.client import Coalition
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.local.stack import LocalStack
from hashmatch_tools.samples import jpeg_bytes, scene

SEED = 1234
SIZE = (1152, 864)  # 0.995 megapixels


def _in_process(bodies: list[bytes], shared: bytes) -> list[float]:
    bank = MemoryBank()
    matcher = Matcher(bank, BankIndex())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.jpg"
        path.write_bytes(shared)
        bank.put_items(
            [item_from_media(hash_file(path, for_sharing=True), Provenance("tiktok", "2026-01-01T00:00:00Z"))]
        )
        times = []
        for body in bodies:
            path.write_bytes(body)
            started = time.perf_counter()
            matches = matcher.match(hash_file(path))
            times.append(time.perf_counter() - started)
            assert matches, "every copy matches"
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    picture = scene(SEED, SIZE)
    shared = jpeg_bytes(picture, 92)
    bodies = [jpeg_bytes(picture, 60 + n % 30) for n in range(args.checks)]

    with LocalStack(parameters={"LogLevel": "WARNING"}) as stack:
        coalition = Coalition.local(stack.endpoint, stack.root)
        coalition.put("share", "tiktok", "shared.jpg", shared)
        time.sleep(3)
        latencies = []
        for n, body in enumerate(bodies):
            started = time.perf_counter()
            key = coalition.put("check", "reddit", f"c{n}.jpg", body)
            (verdict,) = coalition.verdicts("reddit", {key}, timeout=60)
            latencies.append(time.perf_counter() - started)
            assert verdict["event_type"] == "match.found", verdict
    in_process = _in_process(bodies, shared)

    def row(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        return f"| {name} | {len(values)} | {statistics.median(values) * 1000:.0f} | {p90 * 1000:.0f} |"

    print(f"1 MP JPEG ({SIZE[0]}x{SIZE[1]}), seed {SEED}")
    print("| path | checks | p50 ms | p90 ms |")
    print("|---|---:|---:|---:|")
    print(row("local stack: S3 put -> queue -> handler -> SNS -> inbox", latencies))
    print(row("in process: hash_file + Matcher (anchor)", in_process))
    print(f"ratio (p50): {statistics.median(latencies) / statistics.median(in_process):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
