"""The matcher's in-memory mirror of the bank's near entries: one index per near signal (and the
derived indexes signals declare), plus a compact table of what each entry points back to, fed by
the bank's change log."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

import numpy as np

from hashmatch.bank.model import ENTRY_KINDS, MAX_STORED_FRAMINGS, IndexedEntry
from hashmatch.index.hamming import counting_order
from hashmatch.index.spec import DerivedIndex, IndexSpec, SignalIndex
from hashmatch.service.ports import BankChange, BankReader
from hashmatch.signals import SIGNALS
from hashmatch.signals.base import SignalType
from hashmatch.signals.bits import popcount_rows

# A change-log position starts with its writer's clock; a writer re-logs any entry that took
# longer than half of this to commit (adapters.dynamodb.SLOW_COMMIT_SECONDS), so re-reading this
# far back never misses one. Short, because every check re-reads it.
LOG_OVERLAP = timedelta(seconds=5)
# Recent adds wait in a dict until there are this many; merging them rewrites the entry table
# (about 0.5 s at 10M entries), so a steady trickle of shares rarely pays it.
ENTRY_DELTA_LIMIT = 1 << 16
# Adds read from the log reach the near-match indexes in batches of at most this many rows.
ADD_BATCH_ROWS = 1 << 17
ITEM_ID_DTYPE = np.dtype("S32")
# `closest_by_derived_key` drops the entries of skipped items after its lookup; an item has at
# most this many framings to drop.
_SKIPPED_ENTRIES_PER_ITEM = MAX_STORED_FRAMINGS


@dataclass(frozen=True)
class NearHit:
    """A query hash (by its position in the query list) within threshold of an index entry."""

    query_row: int
    entry: IndexedEntry
    distance: int


class BankIndex:
    """One near-match index per indexed signal (and each derived index a signal declares) plus a
    compact table of what each entry points back to, kept fresh by replaying the bank's change log.

    `refresh` reads the log from a little before the last position it applied (log positions
    start with the writer's clock, and a write may commit a moment after a later one), skips
    what it has applied already, and applies the rest in order. A hash whose share has
    finished writing is therefore matchable by the very next check on every instance.

    Entry metadata lives in numpy arrays (:class:`EntryTable`, about 20 bytes per entry plus 36
    per item); recent adds wait in a small dict until `delta_limit` of them are merged in.
    Removing an item takes effect at once in both. A matcher can start from a snapshot
    (`bootstrap`, called on the first refresh; see `hashmatch.index.snapshot`) and replay only the
    log written since.

    The signals indexed are the registry's (`SIGNALS.indexed()`) when the index is made, unless
    `signals` names them.
    """

    def __init__(
        self,
        overlap: timedelta = LOG_OVERLAP,
        *,
        bootstrap: Callable[[], IndexState | None] | None = None,
        delta_limit: int = ENTRY_DELTA_LIMIT,
        signals: Sequence[SignalType] | None = None,
    ) -> None:
        self._signals: tuple[SignalType, ...] = tuple(SIGNALS.indexed() if signals is None else signals)
        self._derived: dict[str, tuple[str, DerivedIndex]] = {
            derived.name: (signal.name, derived) for signal in self._signals for derived in signal.derived_indexes()
        }
        self._indexes: dict[str, SignalIndex] = {name: spec.build() for name, spec in self.index_specs().items()}
        self._table = EntryTable.empty()
        self._dead = 0
        self._delta: dict[int, IndexedEntry] = {}
        self._delta_by_item: dict[str, list[int]] = {}
        self._applied: dict[str, datetime] = {}
        self._position: str | None = None
        self._overlap = overlap
        self._bootstrap = bootstrap
        self._delta_limit = delta_limit
        self._lock = threading.Lock()

    @classmethod
    def from_state(cls, state: IndexState, overlap: timedelta = LOG_OVERLAP) -> BankIndex:
        """Indexes that continue from `state` (as read from a snapshot): the next refresh reads the log tail."""
        index = cls(overlap)
        index._adopt(state)
        return index

    @property
    def signal_names(self) -> tuple[str, ...]:
        """The indexed signals, in the order of their codes in the entry table."""
        return tuple(signal.name for signal in self._signals)

    def index_specs(self) -> dict[str, IndexSpec]:
        """Every index this holds, by name: the signals' own first, then the derived ones."""
        specs: dict[str, IndexSpec] = {}
        for signal in self._signals:
            spec = signal.index_spec()
            assert spec is not None  # `SIGNALS.indexed()` holds only signals with an index
            specs[signal.name] = spec
        specs.update({name: derived.spec for name, (_, derived) in self._derived.items()})
        return specs

    def derived_of(self, name: str) -> list[tuple[str, DerivedIndex]]:
        """(name, declaration) of each derived index kept over the entries of signal `name`."""
        return [(derived_name, derived) for derived_name, (source, derived) in self._derived.items() if source == name]

    @property
    def position(self) -> str | None:
        return self._position

    @property
    def nbytes(self) -> int:
        """Bytes held by the indexes' and the entry table's arrays (recent adds in the dict not counted)."""
        return sum(index.nbytes for index in self._indexes.values()) + self._table.nbytes

    def refresh(self, bank: BankReader, max_changes: int | None = None) -> int:
        """Apply every change logged since the last refresh (at most `max_changes`); returns how many.

        The first refresh of indexes built with a `bootstrap` loads the snapshot it returns; an
        error loading it propagates and the next refresh tries again.
        """
        with self._lock:
            self._start_from_snapshot()
            since = None
            if self._position is not None:
                since = _isoformat(_position_time(self._position) - self._overlap)
            applied = 0
            batch = _AddBatch()
            try:
                for change in bank.changes_since(since):
                    if change.position in self._applied:
                        continue
                    if change.operation == "remove":
                        self._flush(batch)
                        self._remove_item(change.item_id)
                    else:
                        self._stage(change, batch)
                        if batch.rows >= ADD_BATCH_ROWS:
                            self._flush(batch)
                    self._applied[change.position] = _position_time(change.position)
                    self._position = max(self._position or "", change.position)
                    applied += 1
                    if max_changes is not None and applied >= max_changes:
                        break
            finally:
                # Staged adds are in the entry delta already: the indexes must get them too.
                self._flush(batch)
            self._forget_before(since)
            self._maybe_merge()
            return applied

    def compact(self) -> None:
        """Merge recent adds into the arrays, drop removed entries, and lay each index out for its size."""
        with self._lock:
            self._merge()
            for name, index in self._indexes.items():
                self._indexes[name] = index.laid_out_for_size()

    @contextmanager
    def frozen_state(self) -> Iterator[IndexState]:
        """The state to snapshot, with recent adds merged; nothing changes it inside the block."""
        with self._lock:
            if self._delta or self._dead:
                self._merge()
            yield IndexState(
                self.signal_names, dict(self._indexes), self._table, self._position, tuple(sorted(self._applied))
            )

    def query(
        self, name: str, values: Sequence[str], threshold: int, kind_limits: Mapping[str, int] | None = None
    ) -> list[NearHit]:
        """Every stored entry within `threshold` of each of `values` in the index called `name`: an
        indexed signal (every entry of it, those held apart by a derived index included), or a
        derived index (queried with keys; its hits are entries of the signal it derives from, whose
        value is that signal's whole hash). Entries of a kind in `kind_limits` only within
        ``min(threshold, kind_limits[kind])`` (none for a negative limit): an index holding only
        such kinds is looked up within that limit. Sorted by query row, distance and entry id."""
        if not values:
            return []
        kind_limits = kind_limits or {}
        with self._lock:
            if name in self._derived:
                source, derived = self._derived[name]
                signal, rows = self._signal(source), derived.spec.encode(values)
                holders = [(name, threshold, name if derived.holds else source)]
            else:
                signal = self._signal(name)
                rows = self._encode(signal, values)
                holders = [(name, threshold, name)]
                for held_name, held in self.derived_of(name):
                    if held.holds:
                        limit = max(kind_limits.get(kind, threshold) for kind in held.entry_kinds)
                        holders.append((held_name, min(threshold, limit), held_name))
            found: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[IndexedEntry | None]]] = []
            for index_name, limit, holder in holders:
                if limit < 0:
                    continue
                hits = self._indexes[index_name].query(rows, limit)
                if len(hits):
                    unique, inverse = np.unique(hits.ids, return_inverse=True)
                    entries = self._entries_of(signal, unique, holder)
                    found.append((hits.query_rows, hits.ids, hits.distances, [entries[i] for i in inverse.tolist()]))
            if not found:
                return []
            query_rows, ids, distances = (np.concatenate([part[k] for part in found]) for k in range(3))
            entries = [entry for part in found for entry in part[3]]
            order = np.lexsort((ids, distances, query_rows)).tolist() if len(found) > 1 else range(len(entries))
            near = []
            for k in order:
                entry = entries[k]
                if entry is None or int(distances[k]) > kind_limits.get(entry.kind, threshold):
                    continue
                near.append(NearHit(int(query_rows[k]), entry, int(distances[k])))
            return near

    def closest_by_derived_key(
        self,
        name: str,
        keys: Sequence[str],
        hashes: Sequence[str],
        threshold: int,
        start_limit: int,
        limit: int,
        skip_items: Collection[str] = (),
    ) -> list[NearHit]:
        """Entries whose key in the derived index `name` is within `threshold` of one of `keys`:
        each with the row of `hashes` (hashes of the signal the index derives from, row for row
        with `keys`) closest to the entry's own hash, when that distance is at most `start_limit`;
        the `limit` closest, closest first, leaving out the items in `skip_items`. A hit's
        `distance` is that distance. Distances are worked out on arrays, so a bank dense with
        near-duplicates costs no more than a few entries' lookups."""
        if not keys:
            return []
        with self._lock:
            source, derived = self._derived[name]
            if derived.holds:
                raise ValueError(f"{name} holds its entries' hashes: query it, it has no keys to look up by")
            signal = self._signal(source)
            hits = self._indexes[name].query(derived.spec.encode(keys), threshold)
            if not len(hits):
                return []
            unique, inverse = np.unique(hits.ids, return_inverse=True)
            stored = self._indexes[source].rows_of(unique)
            starts = popcount_rows(self._encode(signal, hashes)[hits.query_rows] ^ stored[inverse])
            best = np.full(unique.shape[0], np.iinfo(np.int32).max, dtype=np.int32)
            np.minimum.at(best, inverse, starts)
            at_best = np.flatnonzero(starts == best[inverse])[::-1]  # the first row wins the assignment
            best_row = np.empty(unique.shape[0], dtype=np.int64)
            best_row[inverse[at_best]] = hits.query_rows[at_best]
            close = np.flatnonzero(best <= start_limit)
            # Entries of skipped items are dropped after the lookup: take enough to fill `limit`.
            wanted = limit + _SKIPPED_ENTRIES_PER_ITEM * len(skip_items)
            close = close[np.lexsort((unique[close], best[close]))][:wanted]
            entries = self._entries_of(signal, unique[close], source)
            found = [
                NearHit(int(best_row[k]), entry, int(best[k]))
                for k, entry in zip(close.tolist(), entries, strict=True)
                if entry is not None and entry.item_id not in skip_items
            ]
            return found[:limit]

    def __len__(self) -> int:
        return len(self._table) - self._dead + len(self._delta)

    # -- applying the log ---------------------------------------------------------------------

    def _signal(self, name: str) -> SignalType:
        for signal in self._signals:
            if signal.name == name:
                return signal
        raise KeyError(f"no index for signal {name!r}; indexed: {', '.join(self.signal_names)}")

    @staticmethod
    def _encode(signal: SignalType, values: Sequence[str]) -> np.ndarray:
        spec = signal.index_spec()
        assert spec is not None
        return spec.encode(values)

    def _start_from_snapshot(self) -> None:
        if self._bootstrap is None or self._position is not None:
            return
        state = self._bootstrap()
        self._bootstrap = None
        if state is not None:
            self._adopt(state)

    def _adopt(self, state: IndexState) -> None:
        if state.signals != self.signal_names or set(state.indexes) != set(self._indexes):
            raise ValueError(
                f"a state for signals {list(state.signals)} with indexes {sorted(state.indexes)}; these "
                f"indexes hold {list(self.signal_names)} and {sorted(self._indexes)}"
            )
        self._indexes = dict(state.indexes)
        self._table = state.table
        self._dead = len(state.table) - int(np.count_nonzero(state.table.entry_alive))
        self._delta.clear()
        self._delta_by_item.clear()
        self._position = state.position
        self._applied = {position: _position_time(position) for position in state.applied}

    def _forget_before(self, since: str | None) -> None:
        if since is None:
            return
        horizon = _position_time(since)
        for position in [p for p, at in self._applied.items() if at < horizon]:
            del self._applied[position]

    def _stage(self, change: BankChange, batch: _AddBatch) -> None:
        """Record an add's new entries in the delta and queue them for the indexes (see `_flush`)."""
        for entry in change.entries:
            if entry.signal not in self._indexes or entry.signal in self._derived:
                continue
            entry_id = entry.entry_id(change.item_id)
            if entry_id in self._delta:
                continue
            self._delta[entry_id] = IndexedEntry(
                change.item_id, entry.signal, entry.value, entry.kind, entry.offset, entry.end
            )
            self._delta_by_item.setdefault(change.item_id, []).append(entry_id)
            batch.add(entry.signal, entry_id, entry.value)

    def _flush(self, batch: _AddBatch) -> None:
        """Hand queued adds to the indexes, minus those the merged table holds already."""
        queued = list(batch.by_signal.items())
        batch.clear()
        for name, (ids, values) in queued:
            id_array = np.array(ids, dtype=np.int64)
            present = self._table.live_rows(id_array) >= 0
            if present.any():
                for entry_id in id_array[present].tolist():
                    del self._delta[entry_id]
                id_array = id_array[~present]
                values = [value for value, known in zip(values, present.tolist(), strict=True) if not known]
            if not values:
                continue
            rows = self._encode(self._signal(name), values)
            kinds = [self._delta[i].kind for i in id_array.tolist()]
            held_apart = np.zeros(len(kinds), dtype=bool)
            for derived_name, derived in self.derived_of(name):
                wanted = np.array([kind in derived.entry_kinds for kind in kinds], dtype=bool)
                if wanted.any():
                    self._indexes[derived_name].add(id_array[wanted], derived.key(rows[wanted]))
                    if derived.holds:
                        held_apart |= wanted
            if not held_apart.all():
                self._indexes[name].add(id_array[~held_apart], rows[~held_apart])

    def _remove_item(self, item_id: str) -> None:
        by_signal: dict[str, list[int]] = {}
        for entry_id in self._delta_by_item.pop(item_id, []):
            entry = self._delta.pop(entry_id, None)
            if entry is not None:
                by_signal.setdefault(entry.signal, []).append(entry_id)
        rows = self._table.live_rows_of_item(item_id)
        if rows.size:
            self._table.entry_alive[rows] = False
            self._dead += int(rows.size)
            for code, name in enumerate(self.signal_names):
                of_signal = rows[self._table.entry_signals[rows] == code]
                by_signal.setdefault(name, []).extend(self._table.entry_ids[of_signal].tolist())
        for name, ids in by_signal.items():
            if not ids:
                continue
            self._indexes[name].remove(ids)
            for derived_name, (source, _) in self._derived.items():
                if source == name:  # derived entries share their source entry's id; absent ids are ignored
                    self._indexes[derived_name].remove(ids)

    def _maybe_merge(self) -> None:
        if len(self._delta) > self._delta_limit or self._dead > max(self._delta_limit, len(self._table) // 8):
            self._merge()

    def _merge(self) -> None:
        self._table = self._table.merged(list(self._delta.items()), self.signal_names)
        self._dead = 0
        self._delta.clear()
        self._delta_by_item.clear()

    # -- answering queries --------------------------------------------------------------------

    def _entries_of(self, signal: SignalType, entry_ids: np.ndarray, holder: str) -> list[IndexedEntry | None]:
        """What each (unique) entry id of `signal` points back to, its hash read from the index
        `holder` (the signal's own, or one that holds some of its entries apart); None for one
        removed meanwhile."""
        found: list[IndexedEntry | None] = [self._delta.get(entry_id) for entry_id in entry_ids.tolist()]
        missing = np.array([i for i, entry in enumerate(found) if entry is None], dtype=np.int64)
        if not missing.size:
            return found
        rows = self._table.live_rows(entry_ids[missing])
        known = rows >= 0
        missing, rows = missing[known], rows[known]
        spec = signal.index_spec()
        assert spec is not None
        values = spec.decode(self._indexes[holder].rows_of(entry_ids[missing]))
        for position, entry in zip(missing.tolist(), self._table.entries(rows, values, self.signal_names), strict=True):
            found[position] = entry
        return found


@dataclass
class EntryTable:
    """Index entries merged into arrays, sorted by entry id, and the items they belong to.

    Row ``r`` is entry ``entry_ids[r]`` of item ``item_ids[entry_items[r]]``, signal
    ``signals[entry_signals[r]]`` (the owning `BankIndex`'s signal names), kind
    ``ENTRY_KINDS[entry_kinds[r]]``. Item ids (32 hex
    digits, at most 32 ASCII characters) are sorted; ``item_entries[item_starts[i]:item_starts[i + 1]]``
    are the rows of item ``i``. Only rows with a time keep one: ``times[k]`` is (offset, end) of
    row ``timed_rows[k]``, NaN for None. Removed rows stay, marked dead, until the next merge.
    """

    item_ids: np.ndarray  # S32, sorted, unique
    item_starts: np.ndarray  # int64, len(item_ids) + 1
    item_entries: np.ndarray  # uint32 rows, grouped by item
    entry_ids: np.ndarray  # int64, sorted, unique
    entry_items: np.ndarray  # uint32
    entry_signals: np.ndarray  # uint8
    entry_kinds: np.ndarray  # uint8
    entry_alive: np.ndarray  # bool
    timed_rows: np.ndarray  # uint32, sorted
    times: np.ndarray  # float64 (k, 2)

    @classmethod
    def empty(cls) -> EntryTable:
        return cls(
            item_ids=np.empty(0, dtype=ITEM_ID_DTYPE),
            item_starts=np.zeros(1, dtype=np.int64),
            item_entries=np.empty(0, dtype=np.uint32),
            entry_ids=np.empty(0, dtype=np.int64),
            entry_items=np.empty(0, dtype=np.uint32),
            entry_signals=np.empty(0, dtype=np.uint8),
            entry_kinds=np.empty(0, dtype=np.uint8),
            entry_alive=np.empty(0, dtype=bool),
            timed_rows=np.empty(0, dtype=np.uint32),
            times=np.empty((0, 2), dtype=np.float64),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by field name, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.arrays().values())

    def __len__(self) -> int:
        return int(self.entry_ids.shape[0])

    @staticmethod
    def layout(entries: int, items: int, timed: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """The dtype and shape of each array of a table with these counts."""
        n = entries
        return {
            "item_ids": (ITEM_ID_DTYPE, (items,)),
            "item_starts": (np.dtype(np.int64), (items + 1,)),
            "item_entries": (np.dtype(np.uint32), (n,)),
            "entry_ids": (np.dtype(np.int64), (n,)),
            "entry_items": (np.dtype(np.uint32), (n,)),
            "entry_signals": (np.dtype(np.uint8), (n,)),
            "entry_kinds": (np.dtype(np.uint8), (n,)),
            "entry_alive": (np.dtype(bool), (n,)),
            "timed_rows": (np.dtype(np.uint32), (timed,)),
            "times": (np.dtype(np.float64), (timed, 2)),
        }

    def validate(self, signals: Sequence[str]) -> None:
        """Raises ValueError when the arrays disagree with each other (a corrupt snapshot)."""
        n, items, timed = len(self), self.item_ids.shape[0], self.timed_rows.shape[0]
        expected = self.layout(n, items, timed)
        for name, array in self.arrays().items():
            dtype, shape = expected[name]
            if array.dtype != dtype or array.shape != shape:
                raise ValueError(f"entry table {name}: expected {dtype} {shape}, got {array.dtype} {array.shape}")
        starts = self.item_starts
        if (
            starts[0] != 0
            or starts[-1] != n
            or np.any(np.diff(starts) < 0)
            or np.any(self.entry_ids[1:] <= self.entry_ids[:-1])
            or np.any(self.item_ids[1:] <= self.item_ids[:-1])
            or np.any(np.diff(self.timed_rows.astype(np.int64)) <= 0)
            or (n and (int(self.entry_items.max()) >= items or int(self.item_entries.max()) >= n))
            or (timed and int(self.timed_rows[-1]) >= n)
            or (
                n and (int(self.entry_signals.max()) >= len(signals) or int(self.entry_kinds.max()) >= len(ENTRY_KINDS))
            )
        ):
            raise ValueError("entry table arrays are inconsistent")

    def live_rows(self, entry_ids: np.ndarray) -> np.ndarray:
        """The live row of each entry id, -1 where there is none."""
        n = len(self)
        if n == 0 or entry_ids.size == 0:
            return np.full(entry_ids.shape[0], -1, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.entry_ids, entry_ids), n - 1)
        live = (self.entry_ids[rows] == entry_ids) & self.entry_alive[rows]
        return np.where(live, rows, -1)

    def live_rows_of_item(self, item_id: str) -> np.ndarray:
        key = np.array([_item_key(item_id)], dtype=ITEM_ID_DTYPE)
        at = int(np.searchsorted(self.item_ids, key)[0])
        if at == self.item_ids.shape[0] or self.item_ids[at] != key[0]:
            return np.empty(0, dtype=np.int64)
        rows = self.item_entries[self.item_starts[at] : self.item_starts[at + 1]].astype(np.int64)
        return rows[self.entry_alive[rows]]

    def entries(self, rows: np.ndarray, values: list[str], signals: Sequence[str]) -> list[IndexedEntry]:
        """The entries at `rows` (live rows), given their stored hashes and the table's signal names."""
        at = np.minimum(np.searchsorted(self.timed_rows, rows), max(0, self.timed_rows.shape[0] - 1))
        timed = (self.timed_rows[at] == rows) if self.timed_rows.size else np.zeros(rows.shape[0], dtype=bool)
        items = self.item_ids[self.entry_items[rows]]
        out = []
        for k, row in enumerate(rows.tolist()):
            offset = end = None
            if timed[k]:
                first, last = self.times[at[k]].tolist()
                offset = None if math.isnan(first) else first
                end = None if math.isnan(last) else last
            out.append(
                IndexedEntry(
                    items[k].decode(),
                    signals[self.entry_signals[row]],
                    values[k],
                    ENTRY_KINDS[self.entry_kinds[row]],
                    offset,
                    end,
                )
            )
        return out

    def merged(self, added: list[tuple[int, IndexedEntry]], signals: Sequence[str]) -> EntryTable:
        """A new table: live rows plus `added` (entry ids absent from the live rows), dead rows gone.

        Linear in the table's size apart from the small sorts of `added` and of the timed rows,
        and one radix pass to regroup rows by item.
        """
        keep = self.entry_alive
        kept_ids = self.entry_ids[keep]
        nk = kept_ids.shape[0]
        # Items keeping at least one live entry, then the new ones of `added` slotted in.
        has_entries = np.bincount(self.entry_items[keep], minlength=self.item_ids.shape[0]) > 0
        kept_items = self.item_ids[has_entries]
        kept_item_of_old = np.cumsum(has_entries, dtype=np.int64) - 1
        added.sort(key=lambda pair: pair[0])
        added_ids = np.array([entry_id for entry_id, _ in added], dtype=np.int64)
        added_entries = [entry for _, entry in added]
        added_keys = np.array([_item_key(e.item_id) for e in added_entries], dtype=ITEM_ID_DTYPE)
        new_keys = np.unique(added_keys)
        at = np.searchsorted(kept_items, new_keys)
        known = np.zeros(new_keys.shape[0], dtype=bool)
        if kept_items.size:
            known = (at < kept_items.shape[0]) & (kept_items[np.minimum(at, kept_items.shape[0] - 1)] == new_keys)
        item_ids = np.insert(kept_items, at[~known], new_keys[~known])
        kept_item_rows = (
            np.arange(kept_items.shape[0])
            + np.cumsum(np.bincount(at[~known], minlength=kept_items.shape[0] + 1))[: kept_items.shape[0]]
        )
        # Entry rows: kept rows and added ones interleaved by entry id.
        at_added = np.searchsorted(kept_ids, added_ids)
        added_rows = at_added + np.arange(added_ids.shape[0])
        kept_rows = np.arange(nk) + np.cumsum(np.bincount(at_added, minlength=nk + 1))[:nk]
        n = nk + added_ids.shape[0]

        def interleave(kept: np.ndarray, new: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
            out = np.empty(n, dtype=dtype)
            out[kept_rows] = kept
            out[added_rows] = new
            return out

        entry_items = interleave(
            kept_item_rows[kept_item_of_old[self.entry_items[keep]]] if nk else np.empty(0, dtype=np.int64),
            np.searchsorted(item_ids, added_keys),
            np.uint32,
        )
        signal_codes = {name: code for code, name in enumerate(signals)}
        kind_codes = {name: code for code, name in enumerate(ENTRY_KINDS)}
        # Times: the kept timed rows, renumbered, and the added entries that have one.
        rank = np.cumsum(keep, dtype=np.int64) - 1
        still = keep[self.timed_rows]
        timed_added = [k for k, e in enumerate(added_entries) if e.offset is not None or e.end is not None]
        timed_rows = np.concatenate([kept_rows[rank[self.timed_rows[still]]], added_rows[timed_added]])
        times = np.concatenate(
            [
                self.times[still],
                np.array(
                    [[_nan(added_entries[k].offset), _nan(added_entries[k].end)] for k in timed_added],
                    dtype=np.float64,
                ).reshape(-1, 2),
            ]
        )
        by_row = np.argsort(timed_rows, kind="stable")
        return EntryTable.grouped(
            item_ids=item_ids,
            entry_ids=interleave(kept_ids, added_ids, np.int64),
            entry_items=entry_items,
            entry_signals=interleave(
                self.entry_signals[keep],
                np.array([signal_codes[e.signal] for e in added_entries], dtype=np.uint8),
                np.uint8,
            ),
            entry_kinds=interleave(
                self.entry_kinds[keep], np.array([kind_codes[e.kind] for e in added_entries], dtype=np.uint8), np.uint8
            ),
            timed_rows=timed_rows[by_row].astype(np.uint32),
            times=times[by_row],
        )

    @classmethod
    def grouped(
        cls,
        *,
        item_ids: np.ndarray,
        entry_ids: np.ndarray,
        entry_items: np.ndarray,
        entry_signals: np.ndarray,
        entry_kinds: np.ndarray,
        timed_rows: np.ndarray,
        times: np.ndarray,
    ) -> EntryTable:
        """A table of live rows, with the rows-by-item grouping worked out."""
        counts = np.bincount(entry_items, minlength=item_ids.shape[0])
        return cls(
            item_ids=item_ids,
            item_starts=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            item_entries=counting_order(entry_items).astype(np.uint32),
            entry_ids=entry_ids,
            entry_items=entry_items,
            entry_signals=entry_signals,
            entry_kinds=entry_kinds,
            entry_alive=np.ones(entry_ids.shape[0], dtype=bool),
            timed_rows=timed_rows,
            times=times,
        )


@dataclass(frozen=True)
class IndexState:
    """Everything a `BankIndex` needs to continue: what `hashmatch.index.snapshot` writes and reads.

    `signals` are the indexed signals in entry-table code order; `indexes` every index by name
    (the signals' and the derived ones); `applied` the log positions applied within the overlap
    window before `position`.
    """

    signals: tuple[str, ...]
    indexes: dict[str, SignalIndex]
    table: EntryTable
    position: str | None
    applied: tuple[str, ...]


class _AddBatch:
    """Adds waiting to be handed to the indexes in one call per signal."""

    def __init__(self) -> None:
        self.by_signal: dict[str, tuple[list[int], list[str]]] = {}
        self.rows = 0

    def add(self, signal: str, entry_id: int, value: str) -> None:
        ids, values = self.by_signal.setdefault(signal, ([], []))
        ids.append(entry_id)
        values.append(value)
        self.rows += 1

    def clear(self) -> None:
        self.by_signal.clear()
        self.rows = 0


def _item_key(item_id: str) -> bytes:
    key = item_id.encode("ascii", errors="replace")
    if len(key) > ITEM_ID_DTYPE.itemsize or not item_id.isascii():
        raise ValueError(f"item ids are at most {ITEM_ID_DTYPE.itemsize} ASCII characters, got {item_id!r}")
    return key


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _position_time(position: str) -> datetime:
    return datetime.fromisoformat(position.split("#", 1)[0].replace("Z", "+00:00"))


def _isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
