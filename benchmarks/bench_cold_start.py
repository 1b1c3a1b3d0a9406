"""Cold start of the near-match matcher: snapshot + log tail against replaying the whole change log.

    .venv/bin/python benchmarks/bench_cold_start.py                   # 1M items (1M PDQ + 1M pHash)
    .venv/bin/python benchmarks/bench_cold_start.py --size 10000000   # 10M items (~7 GB peak)

Fixed seed. Each item has one PDQ and one pHash entry (random hashes, so entry ids and item ids
are uniformly spread as bank.entry_id_for / item_id_for make them). The bank's change log is
synthetic and in memory: one `add` record per item, `--shares-per-second` apart, so the 60 s
overlap a refresh re-reads holds that many records a second (skipped as already applied).

Measured, ours:
* memory per hash of the `BankIndex` (index arrays + entry table arrays, and the RSS growth);
* snapshot size, write time and load time (a local file; S3 transfer time comes on top);
* a check's `refresh` after loading the snapshot: empty tail, and a 1,000-entry tail (500 items);
* a check's PDQ query (8 orientations, t=31) right after the tail.

The anchor, in the same run: a cold replay of the whole change log by the previous implementation
(`ReplayAnchor` below: a dict of `IndexedEntry` per entry and a set per item, every add handed to
the index per change) on `--anchor-size` items, its memory per hash measured with tracemalloc, and
its time extrapolated linearly to the full size (a lower bound: the index's merges grow with it).
"""

from __future__ import annotations

import argparse
import bisect
import gc
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from hashmatch.bank.model import IndexedEntry, NearEntry
from hashmatch.index.bank_index import ITEM_ID_DTYPE, LOG_OVERLAP, BankIndex, EntryTable, IndexState
from hashmatch.index.hamming import HammingIndex
from hashmatch.index.snapshot import read_snapshot, write_snapshot
from hashmatch.index.spec import SignalIndex
from hashmatch.service.ports import BankChange
from hashmatch.signals.pdq import FRAMING_KEYS, PDQ_PARTS

SEED = 20260101
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TAIL_ITEMS = 500  # 1,000 entries
PDQ_THRESHOLD = 31
T = TypeVar("T")
SIGNAL_NAMES = ("pdq", "phash")  # the indexed signals, in entry-table code order


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class SyntheticLog:
    """Items 0..n-1 as one `add` record each, `spacing` apart, generated on demand (nothing stored per record)."""

    def __init__(self, rng: np.random.Generator, n: int, spacing: timedelta) -> None:
        self.n = n
        self.spacing = spacing
        raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8).tobytes().hex().encode()
        self.item_ids = np.frombuffer(raw, dtype=ITEM_ID_DTYPE)
        self.pdq = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        self.phash = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
        self.extra: list[BankChange] = []

    def time_of(self, i: int) -> datetime:
        return EPOCH + self.spacing * i

    def position(self, i: int) -> str:
        stamp = self.time_of(i).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return f"{stamp}#{self.item_ids[i].decode()}#add#00000"

    def change(self, i: int) -> BankChange:
        return BankChange(
            self.position(i),
            "add",
            self.item_ids[i].decode(),
            (NearEntry("pdq", self.pdq[i].tobytes().hex()), NearEntry("phash", self.phash[i].tobytes().hex())),
        )

    def first_after(self, position: str | None) -> int:
        if position is None:
            return 0
        moment = datetime.fromisoformat(position.split("#", 1)[0].replace("Z", "+00:00"))
        first = max(0, int((moment - EPOCH) / self.spacing) - 1)
        while first < self.n and self.position(first) <= position:
            first += 1
        return first


class SyntheticBank:
    """The `Bank` port's `changes_since` over a `SyntheticLog` plus appended changes (the tail)."""

    def __init__(self, log: SyntheticLog, limit: int | None = None) -> None:
        self.log = log
        self.limit = log.n if limit is None else limit
        self.tail: list[BankChange] = []

    def changes_since(self, position: str | None) -> Iterator[BankChange]:
        for i in range(min(self.log.first_after(position), self.limit), self.limit):
            yield self.log.change(i)
        positions = [c.position for c in self.tail]
        yield from self.tail[bisect.bisect_right(positions, position or "") :]


class ReplayAnchor:
    """The matcher's near-match state as it was before snapshots: Python objects per entry, full replay."""

    def __init__(self, overlap: timedelta = LOG_OVERLAP) -> None:
        self._indexes = {name: HammingIndex(256 if name == "pdq" else 64) for name in SIGNAL_NAMES}
        self._entries: dict[int, IndexedEntry] = {}
        self._by_item: dict[str, set[tuple[str, int]]] = {}
        self._applied: dict[str, datetime] = {}
        self._position: str | None = None
        self._overlap = overlap
        self._lock = threading.Lock()

    def refresh(self, bank: SyntheticBank) -> int:
        with self._lock:
            since = None
            if self._position is not None:
                moment = datetime.fromisoformat(self._position.split("#", 1)[0].replace("Z", "+00:00"))
                since = (moment - self._overlap).isoformat(timespec="microseconds").replace("+00:00", "Z")
            applied = 0
            for change in bank.changes_since(since):
                if change.position in self._applied:
                    continue
                self._apply(change)
                self._applied[change.position] = datetime.fromisoformat(
                    change.position.split("#", 1)[0].replace("Z", "+00:00")
                )
                self._position = max(self._position or "", change.position)
                applied += 1
            return applied

    def _apply(self, change: BankChange) -> None:
        by_signal: dict[str, tuple[list[int], list[str]]] = {}
        for entry in change.entries:
            entry_id = entry.entry_id(change.item_id)
            if entry_id in self._entries:
                continue
            ids, values = by_signal.setdefault(entry.signal, ([], []))
            ids.append(entry_id)
            values.append(entry.value)
            self._entries[entry_id] = IndexedEntry(
                change.item_id, entry.signal, entry.value, entry.kind, entry.offset, entry.end
            )
            self._by_item.setdefault(change.item_id, set()).add((entry.signal, entry_id))
        for signal, (ids, values) in by_signal.items():
            packed = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), -1)
            self._indexes[signal].add(np.array(ids, dtype=np.int64), packed)


def direct_state(log: SyntheticLog, rng: np.random.Generator) -> IndexState:
    """The state a full replay of `log` reaches, built with array operations (ids drawn at random)."""
    n = log.n
    entry_ids = np.unique(rng.integers(0, 2**63 - 1, size=2 * n + 1024, dtype=np.int64))
    rng.shuffle(entry_ids)
    pdq_ids, phash_ids = entry_ids[:n], entry_ids[n : 2 * n]
    indexes: dict[str, SignalIndex] = {
        "pdq": HammingIndex.build(256, pdq_ids, log.pdq),
        "phash": HammingIndex.build(64, phash_ids, log.phash),
        FRAMING_KEYS.name: HammingIndex(64),  # the log's items have no framings
        PDQ_PARTS.name: HammingIndex(256),  # nor parts
    }
    order = np.argsort(log.item_ids)
    item_ids = log.item_ids[order]
    item_row = np.empty(n, dtype=np.uint32)
    item_row[order] = np.arange(n, dtype=np.uint32)
    ids = np.concatenate([pdq_ids, phash_ids])
    by_id = np.argsort(ids)
    table = EntryTable.grouped(
        item_ids=item_ids,
        entry_ids=ids[by_id],
        entry_items=np.concatenate([item_row, item_row])[by_id],
        entry_signals=np.repeat(np.array([0, 1], dtype=np.uint8), n)[by_id],
        entry_kinds=np.zeros(2 * n, dtype=np.uint8),
        timed_rows=np.empty(0, dtype=np.uint32),
        times=np.empty((0, 2), dtype=np.float64),
    )
    first_in_window = max(0, n - 1 - int(LOG_OVERLAP / log.spacing))
    applied = tuple(log.position(i) for i in range(first_in_window, n))
    return IndexState(SIGNAL_NAMES, indexes, table, log.position(n - 1), applied)


def tail_changes(log: SyntheticLog, rng: np.random.Generator, count: int) -> list[BankChange]:
    changes = []
    start = log.time_of(log.n - 1)
    for k in range(count):
        item_id = rng.integers(0, 256, size=16, dtype=np.uint8).tobytes().hex()
        stamp = (start + log.spacing * (k + 1)).isoformat(timespec="microseconds").replace("+00:00", "Z")
        entries = (
            NearEntry("pdq", rng.integers(0, 256, size=32, dtype=np.uint8).tobytes().hex()),
            NearEntry("phash", rng.integers(0, 256, size=8, dtype=np.uint8).tobytes().hex()),
        )
        changes.append(BankChange(f"{stamp}#{item_id}#add#00000", "add", item_id, entries))
    return changes


def timed(action: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    result = action(*args)
    return result, time.perf_counter() - started


def anchor_replay(log: SyntheticLog, size: int) -> tuple[float, float, float]:
    """(seconds, bytes per hash by tracemalloc, our full replay seconds) for the first `size` items."""
    bank = SyntheticBank(log, limit=size)
    gc.collect()
    tracemalloc.start()
    anchor = ReplayAnchor()
    _, seconds = timed(anchor.refresh, bank)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del anchor
    gc.collect()
    ours = BankIndex()
    _, our_seconds = timed(ours.refresh, bank)
    del ours
    gc.collect()
    return seconds, traced / (2 * size), our_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000, help="items (each one PDQ and one pHash hash)")
    parser.add_argument("--anchor-size", type=int, default=50_000, help="items the anchor replays")
    parser.add_argument("--shares-per-second", type=float, default=10.0, help="log records per second")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--tmp", default=None, help="folder for the snapshot file")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.size
    hashes = 2 * n
    started = time.perf_counter()
    log = SyntheticLog(rng, n, timedelta(seconds=1 / args.shares_per_second))
    generated = time.perf_counter() - started
    print(f"cold start, {n:,} items = {hashes:,} hashes (seed {args.seed}); generated in {generated:.1f} s")

    anchor_size = min(args.anchor_size, n)
    anchor_seconds, anchor_bytes, ours_replay = anchor_replay(log, anchor_size)
    scale = n / anchor_size

    gc.collect()
    before = rss_bytes()
    state, build_seconds = timed(direct_state, log, rng)
    near = BankIndex.from_state(state)
    gc.collect()
    rss_growth = rss_bytes() - before
    index_bytes = sum(index.nbytes for index in state.indexes.values())
    table_bytes = state.table.nbytes
    del state
    print(f"(built directly in {build_seconds:.1f} s)")

    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        path = Path(folder) / "snapshot.bin"
        with path.open("wb") as out:
            _, write_seconds = timed(write_snapshot, near, out)
        size = path.stat().st_size
        del near
        gc.collect()
        with path.open("rb") as stream:
            loaded, load_seconds = timed(read_snapshot, stream)
    cold = BankIndex.from_state(loaded)
    del loaded
    bank = SyntheticBank(log)
    empty_applied, empty_seconds = timed(cold.refresh, bank)
    bank.tail = tail_changes(log, rng, TAIL_ITEMS)
    tail_applied, tail_seconds = timed(cold.refresh, bank)
    probe = [bank.tail[-1].entries[0].value] * 8
    hits, query_seconds = timed(cold.query, "pdq", probe, PDQ_THRESHOLD)
    assert empty_applied == 0 and tail_applied == TAIL_ITEMS and hits, (empty_applied, tail_applied)
    _, merge_seconds = timed(cold.compact)

    overlap_records = int(LOG_OVERLAP.total_seconds() * args.shares_per_second)
    rows = [
        ("memory per hash: index arrays", f"{index_bytes / hashes:.1f} B"),
        ("memory per hash: entry table arrays", f"{table_bytes / hashes:.1f} B"),
        ("memory per hash: total (arrays)", f"{(index_bytes + table_bytes) / hashes:.1f} B"),
        ("memory per hash: RSS growth", f"{rss_growth / hashes:.1f} B"),
        ("snapshot size", f"{size / 1e6:,.1f} MB ({size / hashes:.1f} B per hash)"),
        ("snapshot write (local file)", f"{write_seconds:.2f} s"),
        ("snapshot load (local file)", f"{load_seconds:.2f} s"),
        (f"refresh, empty tail ({overlap_records} overlap records re-read)", f"{empty_seconds * 1e3:.1f} ms"),
        (f"refresh, {2 * TAIL_ITEMS:,}-entry tail", f"{tail_seconds * 1e3:.1f} ms"),
        ("PDQ query after the tail (8 rows, t=31)", f"{query_seconds * 1e3:.1f} ms"),
        ("merge tail + compact (snapshot builder)", f"{merge_seconds:.2f} s"),
        ("cold start, ours: load + empty refresh", f"{load_seconds + empty_seconds:.2f} s"),
        (f"our full replay, {anchor_size:,} items (no snapshot)", f"{ours_replay:.1f} s"),
        (f"anchor: full replay, {anchor_size:,} items", f"{anchor_seconds:.1f} s"),
        (f"anchor: full replay, {n:,} items (x{scale:g}, lower bound)", f"{anchor_seconds * scale:.0f} s"),
        ("anchor: memory per hash (tracemalloc)", f"{anchor_bytes:.0f} B"),
        ("ratio: anchor cold start / ours", f"{anchor_seconds * scale / (load_seconds + empty_seconds):.0f}x"),
        ("ratio: anchor memory / ours", f"{anchor_bytes / ((index_bytes + table_bytes) / hashes):.1f}x"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    total = time.perf_counter() - started
    print(f"\npeak RSS {peak_rss_gb():.1f} GB, total {total:.0f} s; python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
