"""Snapshots of the matcher's index state, so a cold matcher replays only the log's tail.

A snapshot holds every index of a `BankIndex` (one per indexed signal, and the derived ones such as
PDQ's framing keys), the entry table that maps index entries back to bank items, the change-log
position it reflects and the positions applied inside the overlap window before it
(`hashmatch.index.bank_index.IndexState`). Loading one and refreshing from the bank gives the same
indexes as replaying the whole log.

Format (version 5; an older version is rejected and the matcher then replays the log: see
`FORMAT_VERSION`), pickle-free; every array is a ``.npy`` record
(``numpy.lib.format``, ``allow_pickle=False``):

* 8 bytes magic ``b"HMNEARSN"``;
* ``header``: uint8 array of UTF-8 JSON with ``format``, ``version``, ``position``, ``applied``,
  ``signals`` (the indexed signals, in entry-table code order), ``indexes`` (every index name, in
  file order), ``entries``, ``items`` and ``timed`` (the entry table's row counts);
* each index, as its own spec writes it (`SignalIndex.serialize`; Hamming indexes have their own
  versioned format);
* the entry table's arrays in `EntryTable` field order, each checked against the header's counts;
* 8 bytes end marker ``b"HMSNAPND"``, so a truncated file is never mistaken for a whole one.

A reader rejects another magic, format or version, signals or indexes other than the ones this
code's registry indexes, arrays of the wrong dtype or shape, and arrays that disagree with each
other, with `SnapshotError`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, BinaryIO

import numpy as np

from hashmatch.bank.model import ENTRY_KINDS
from hashmatch.index.arrayfile import read_array, read_header, write_array, write_header
from hashmatch.index.bank_index import LOG_OVERLAP, BankIndex, EntryTable, IndexState

__all__ = ["FORMAT_VERSION", "SnapshotError", "SnapshotInfo", "load_snapshot", "read_snapshot", "write_snapshot"]

FORMAT_MAGIC = b"HMNEARSN"
END_MARKER = b"HMSNAPND"
FORMAT_NAME = "hashmatch.near-snapshot"
# 4: the framing-key index also holds a shared video's frame entries (`hashmatch.signals.pdq.FRAMING_KEYS`).
# 5: PDQ's parts of pictures are held apart, in the index `pdq_part` (`hashmatch.signals.pdq.PDQ_PARTS`).
# A snapshot of an older version is refused, and the change log replayed in full, which lays them out.
FORMAT_VERSION = 5


class SnapshotError(ValueError):
    """The file is not a snapshot this code can read: wrong format or version, truncated or corrupt."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What a written snapshot holds."""

    position: str | None
    entries: int
    items: int

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "entries": self.entries, "items": self.items}


def write_snapshot(index: BankIndex, fileobj: BinaryIO) -> SnapshotInfo:
    """Write `index` (recent adds merged first) to `fileobj`; refreshes wait until it is written."""
    with index.frozen_state() as state:
        table = state.table
        names = list(state.indexes)
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "position": state.position,
            "applied": list(state.applied),
            "signals": list(state.signals),
            "indexes": names,
            "entries": len(table),
            "items": int(table.item_ids.shape[0]),
            "timed": int(table.timed_rows.shape[0]),
        }
        write_header(fileobj, FORMAT_MAGIC, header)
        for name in names:
            state.indexes[name].serialize(fileobj)
        for array in table.arrays().values():
            write_array(fileobj, array)
        fileobj.write(END_MARKER)
        return SnapshotInfo(state.position, len(table), int(table.item_ids.shape[0]))


def read_snapshot(fileobj: BinaryIO) -> IndexState:
    """The state written by `write_snapshot`; raises `SnapshotError` for anything else, or for a
    snapshot of other signals than the registry's indexed ones."""
    header = read_header(fileobj, FORMAT_MAGIC, FORMAT_NAME, FORMAT_VERSION, "snapshot", SnapshotError)
    try:
        signals = tuple(str(name) for name in header["signals"])
        names = [str(name) for name in header["indexes"]]
        n, items, timed = (int(header[key]) for key in ("entries", "items", "timed"))
        position = header["position"]
        applied = tuple(str(p) for p in header["applied"])
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotError(f"corrupt snapshot header: {error!r}") from error
    expected = BankIndex()
    specs = expected.index_specs()
    if signals != expected.signal_names or names != list(specs):
        raise SnapshotError(
            f"snapshot holds signals {list(signals)} and indexes {names}; this code indexes "
            f"{list(expected.signal_names)} and {list(specs)}"
        )
    indexes = {}
    for name in names:
        try:
            indexes[name] = specs[name].load(fileobj)
        except (ValueError, KeyError, TypeError) as error:
            raise SnapshotError(f"corrupt {name} index in snapshot: {error}") from error
    shapes = EntryTable.layout(n, items, timed)
    arrays = {
        f.name: read_array(fileobj, *shapes[f.name], what="snapshot", error=SnapshotError) for f in fields(EntryTable)
    }
    if fileobj.read(len(END_MARKER)) != END_MARKER:
        raise SnapshotError("truncated or corrupt snapshot: no end marker after the last array")
    table = EntryTable(**arrays)
    try:
        table.validate(signals)
    except ValueError as error:
        raise SnapshotError(f"corrupt snapshot: {error}") from error
    _check_sizes(expected, indexes, table)
    return IndexState(signals, indexes, table, position, applied)


def _check_sizes(expected: BankIndex, indexes: dict[str, Any], table: EntryTable) -> None:
    """Each index holds as many entries as the entry table gives its signal (and kind, when derived;
    less the kinds a derived index holds apart, for the signal's own)."""
    alive = table.entry_alive
    live_signals, live_kinds = table.entry_signals[alive], table.entry_kinds[alive]
    for code, name in enumerate(expected.signal_names):
        of_signal = live_signals == code
        held_apart = np.zeros_like(of_signal)
        sizes = {}
        for derived_name, derived in expected.derived_of(name):
            of_kinds = of_signal & np.isin(live_kinds, [ENTRY_KINDS.index(kind) for kind in derived.entry_kinds])
            sizes[derived_name] = int(np.count_nonzero(of_kinds))
            if derived.holds:
                held_apart |= of_kinds
        sizes[name] = int(np.count_nonzero(of_signal & ~held_apart))
        for index_name, size in sizes.items():
            if len(indexes[index_name]) != size:
                raise SnapshotError(
                    f"corrupt snapshot: the {index_name} index and the entry table disagree on its size"
                )


def load_snapshot(fileobj: BinaryIO, overlap: timedelta = LOG_OVERLAP) -> BankIndex:
    """A `BankIndex` continuing from the snapshot in `fileobj`; raises `SnapshotError` as `read_snapshot`."""
    return BankIndex.from_state(read_snapshot(fileobj), overlap)
