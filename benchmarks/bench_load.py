"""Checks per second and put-to-verdict latency through the local stack, and every check accounted for.

    .venv/bin/python benchmarks/bench_load.py [--checks 10000] [--shares 20] [--window 20] [--seed 1234]
        [--anchor-sample 500] [--timeout 3600]

Starts the local stack (moto server on 127.0.0.1, resources from template.yaml, the handlers
polled as Lambda would: one poller per function, as one warm instance each), shares `--shares`
256x256 JPEGs and waits for their `share.accepted`, then puts `--checks` 256x256 JPEGs under
``check/`` from every member: half re-encoded (some mirrored) copies of the shared pictures, half
unrelated pictures. The load is a closed loop: at most `--window` checks are put and not yet
answered at any time, so the queues stay short (moto's SQS slows as a queue grows) and the
latency measures the pipeline, not a backlog the benchmark built (by Little's law the p50 is
about window / throughput).

Every member's inbox queue is read on a thread of its own. A check's latency runs from just before
its S3 put to the SentTimestamp of its verdict in the platform's inbox (when SNS delivered it to
the subscribed queue). Every check is accounted for from those notifications, deduplicated on
`notification_id`: exactly one final verdict (`match.found`, `check.clean`, `check.rejected`,
`check.failed`, `check.expired`) per check; lost (none), duplicated (more than one id) and
contradictory (`check.clean` and `match.found`) are counted.

The anchor, in the same run: there is no published end-to-end throughput for a comparable
hash-sharing pipeline that could run on this machine, so none is claimed. What is measured beside
it is the work itself without the system: the same files (a seeded sample of `--anchor-sample`)
hashed and matched in this process (`hash_file`, the uneven-crop refinement against no
candidates, and `Matcher.match` on an in-memory bank holding the same shared items), one at a
time on one core. The ratio is what S3, SQS, DynamoDB and SNS (emulated), the two queue hops,
idempotency, kept answers and retained checks cost per check; it is not a comparison with
another system.

The last line is `load: checks N accounted N lost N duplicated N contradictory N | N checks/s |
p50 N ms p99 N ms | N s`; the exit status is 0 only when every check is accounted for.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench_faults import FINAL_VERDICTS, InboxReader, Received

from hashmatch.bank.model import Provenance
from hashmatch.edge.ingest import refine
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.hashing import hash_file
from hashmatch.service.service import item_from_media
from hashmatch_tools.client import Coalition
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.local.stack import LocalStack
from hashmatch_tools.samples import jpeg_bytes, mirrored, scene

SEED = 1234
SIZE = (256, 256)
SHARE_WAIT_SECONDS = 600.0
GRACE_SECONDS = 300.0


@dataclass(frozen=True)
class Check:
    platform: str
    name: str
    body: bytes
    kind: str  # copy or unrelated


def make_check(n: int, shared: list[int], seed: int, platforms: list[str]) -> Check:
    """Check number `n` (the same for the same arguments, made when needed so 10,000 bodies never
    sit in memory): half are copies of the `shared` pictures (30% of them mirrored), half unrelated."""
    rng = random.Random(seed * 1_000_003 + n)
    platform = platforms[(n * 7 + 3) % len(platforms)]
    if shared and rng.random() < 0.5:
        image = scene(rng.choice(shared), SIZE)
        if rng.random() < 0.3:
            image = mirrored(image)
        return Check(platform, f"copy-{n}.jpg", jpeg_bytes(image, rng.randint(70, 88)), "copy")
    body = jpeg_bytes(scene(seed * 100_000 + 50_000 + n, SIZE), rng.randint(70, 92))
    return Check(platform, f"other-{n}.jpg", body, "unrelated")


@dataclass
class Answers:
    """What the inboxes said about the checks so far, read incrementally from an `InboxReader`."""

    keys: set[str] = field(default_factory=set)
    ids: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))  # key -> id -> type
    first_at: dict[str, float] = field(default_factory=dict)
    deliveries: int = 0
    _seen: int = 0

    def update(self, received: list[Received]) -> None:
        for notice in received[self._seen :]:
            body = notice.body
            key = body.get("object", {}).get("key", "")
            if key not in self.keys or body.get("event_type") not in FINAL_VERDICTS or body.get("retroactive"):
                continue
            self.deliveries += 1
            self.ids[key][str(body["notification_id"])] = str(body["event_type"])
            self.first_at[key] = min(notice.sent_at, self.first_at.get(key, notice.sent_at))
        self._seen = len(received)

    @property
    def answered(self) -> int:
        return len(self.first_at)


def _in_process(checks: list[Check], shared_bodies: list[bytes]) -> list[float]:
    """Seconds per check for hashing and matching in this process, on a bank of the shared items."""
    bank = MemoryBank()
    matcher = Matcher(bank, BankIndex())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.jpg"
        for body in shared_bodies:
            path.write_bytes(body)
            provenance = Provenance("tiktok", "2026-01-01T00:00:00Z", ("graphic-violence",))
            bank.put_items([item_from_media(hash_file(path, for_sharing=True), provenance)])
        times = []
        for check in checks:
            path.write_bytes(check.body)
            started = time.perf_counter()
            matcher.match(refine(hash_file(path), None))
            times.append(time.perf_counter() - started)
    return times


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--shares", type=int, default=20)
    parser.add_argument("--window", type=int, default=20, help="checks put and not yet answered, at most")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--anchor-sample", type=int, default=500, help="checks hashed and matched in process")
    parser.add_argument("--timeout", type=float, default=5400, help="seconds for putting checks, at most")
    parser.add_argument("--instances", type=int, default=2, help="warm instances (pollers) per function")
    parser.add_argument(
        "--moto-thread", action="store_true", help="moto server on a thread of this process, not a process of its own"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("hashmatch_tools.local.stack").setLevel(logging.ERROR)

    started = time.monotonic()
    base = args.seed * 100_000
    shared = [base + n for n in range(args.shares)]
    shared_bodies = [jpeg_bytes(scene(picture, SIZE), 90) for picture in shared]
    stack = LocalStack(parameters={"LogLevel": "ERROR"}, instances=args.instances, moto_process=not args.moto_thread)
    with stack:
        coalition = Coalition.local(stack.endpoint, stack.root)
        platforms = coalition.platforms
        reader = InboxReader(stack.endpoint, stack.stack_name, platforms).start()
        try:
            share_keys = {
                coalition.put(
                    "share", platforms[n % len(platforms)], f"share-{n}.jpg", body, {"labels": "graphic-violence"}
                )
                for n, body in enumerate(shared_bodies)
            }
            deadline = time.monotonic() + SHARE_WAIT_SECONDS
            while time.monotonic() < deadline:
                accepted = {
                    r.body["object"]["key"] for r in reader.received() if r.body.get("event_type") == "share.accepted"
                }
                if share_keys <= accepted:
                    break
                time.sleep(0.5)
            else:
                print(f"only {len(accepted & share_keys)} of {len(share_keys)} shares accepted", file=sys.stderr)
                return 1
            answers = Answers()
            put_at: dict[str, float] = {}
            kinds: Counter[str] = Counter()
            load_started = time.time()
            deadline = started + args.timeout
            last_report = time.monotonic()
            for n in range(args.checks):
                if time.monotonic() > deadline:
                    print(f"--timeout: stopped after putting {n} checks", file=sys.stderr)
                    break
                if time.monotonic() - last_report > 60:
                    last_report = time.monotonic()
                    rate = answers.answered / (time.time() - load_started)
                    answered = answers.answered
                    print(f"{time.monotonic() - started:.0f} s: {answered} answered, {rate:.2f}/s", file=sys.stderr)
                check = make_check(n, shared, args.seed, platforms)
                kinds[check.kind] += 1
                while True:
                    answers.update(reader.received())
                    if len(put_at) - answers.answered < args.window:
                        break
                    time.sleep(0.01)
                at = time.time()
                key = coalition.put("check", check.platform, check.name, check.body)
                answers.keys.add(key)
                put_at[key] = at
            # The checks in flight when --timeout stopped the puts still get their time.
            deadline = max(deadline, time.monotonic() + GRACE_SECONDS)
            while answers.answered < len(put_at) and time.monotonic() < deadline:
                time.sleep(0.5)
                answers.update(reader.received())
            time.sleep(2)  # late duplicates, if any, have a moment to arrive
            answers.update(reader.received())
        finally:
            reader.stop()
    wall = time.monotonic() - started

    verdicts = Counter(t for ids in answers.ids.values() for t in ids.values())
    lost = [key for key in put_at if not answers.ids.get(key)]
    duplicated = [key for key, ids in answers.ids.items() if len(ids) > 1]
    contradictory = [key for key, ids in answers.ids.items() if {"match.found", "check.clean"} <= set(ids.values())]
    accounted = sum(1 for key in put_at if len(answers.ids.get(key, {})) == 1)
    latencies = [answers.first_at[key] - put_at[key] for key in answers.first_at]
    elapsed = max(answers.first_at.values(), default=load_started) - load_started
    throughput = len(latencies) / elapsed if elapsed > 0 else 0.0

    numbers = random.Random(args.seed).sample(range(args.checks), min(args.anchor_sample, args.checks))
    anchor = _in_process([make_check(n, shared, args.seed, platforms) for n in numbers], shared_bodies)
    anchor_rate = len(anchor) / sum(anchor)

    p50, p99 = _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000
    print(
        f"local stack, seed {args.seed}: {len(put_at)} of {args.checks} checks put, {SIZE[0]}x{SIZE[1]} JPEGs "
        f"({kinds['copy']} copies of "
        f"{args.shares} shared pictures, {kinds['unrelated']} unrelated), window {args.window}; "
        f"{elapsed:.0f} s from the first put to the last verdict"
    )
    print("final verdicts: " + ", ".join(f"{t} {verdicts[t]}" for t in FINAL_VERDICTS))
    print(f"deliveries of final verdicts {answers.deliveries} for {sum(verdicts.values())} notification ids")
    print("| path | checks | checks/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| local stack: S3 put -> hash -> queue -> check -> SNS -> inbox | {len(latencies)} | {throughput:.1f} | "
        f"{p50:.0f} | {p99:.0f} |"
    )
    print(
        f"| in process: hash_file + Matcher, one core (anchor; no system) | {len(anchor)} | {anchor_rate:.1f} | "
        f"{statistics.median(anchor) * 1000:.0f} | {_percentile(anchor, 0.99) * 1000:.0f} |"
    )
    print(f"ratio (checks/s, anchor / local stack): {anchor_rate / throughput:.1f}x" if throughput else "ratio: n/a")
    for label, keys in (("lost", lost), ("duplicated", duplicated), ("contradictory", contradictory)):
        for key in keys[:10]:
            print(f"  {label}: {key} {answers.ids.get(key, {})}")
    print(
        f"load: checks {len(put_at)} accounted {accounted} lost {len(lost)} duplicated {len(duplicated)} "
        f"contradictory {len(contradictory)} | {throughput:.1f} checks/s | p50 {p50:.0f} ms p99 {p99:.0f} ms | "
        f"{wall:.0f} s"
    )
    return 0 if accounted == len(put_at) == args.checks else 1


if __name__ == "__main__":
    sys.exit(main())
