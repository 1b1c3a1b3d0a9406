"""Snapshots of the matcher's near-match state, so a cold matcher replays only the log's tail.

A snapshot holds the near-match indexes (PDQ, pHash, and the framing keys derived from PDQ), the
entry table that maps index entries back to bank items, the change-log position it reflects and
the positions applied inside the overlap window before it (`hashmatch.near.NearState`). Loading
one and refreshing from the bank gives the same indexes as replaying the whole log.

Format (version 2; version 1 had no framing-key index, and is rejected: the matcher then replays
the log), pickle-free; every array is a ``.npy`` record (``numpy.lib.format``, ``allow_pickle=False``):

* 8 bytes magic ``b"HMNEARSN"``;
* ``header``: uint8 array of UTF-8 JSON with ``format``, ``version``, ``position``, ``applied``,
  ``signals`` (the index names, in file order), ``entries``, ``items`` and ``timed`` (the entry table's row counts);
* one near-index snapshot per index name (`hashmatch.index.NearIndex.serialize`, its own versioned format);
* the entry table's arrays in `EntryTable` field order, each checked against the header's counts;
* 8 bytes end marker ``b"HMSNAPND"``, so a truncated file is never mistaken for a whole one.

A reader rejects another magic, format or version, arrays of the wrong dtype or shape, and arrays
that disagree with each other, with `SnapshotError`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, BinaryIO

import numpy as np

from hashmatch.arrayfile import read_array, read_header, write_array, write_header
from hashmatch.index import NearIndex
from hashmatch.near import (
    ENTRY_KINDS,
    FRAMING_KEYS,
    INDEX_NAMES,
    LOG_OVERLAP,
    NEAR_SIGNALS,
    EntryTable,
    NearIndexes,
    NearState,
)

__all__ = ["FORMAT_VERSION", "SnapshotError", "SnapshotInfo", "load_snapshot", "read_snapshot", "write_snapshot"]

FORMAT_MAGIC = b"HMNEARSN"
END_MARKER = b"HMSNAPND"
FORMAT_NAME = "hashmatch.near-snapshot"
FORMAT_VERSION = 2


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


def write_snapshot(near: NearIndexes, fileobj: BinaryIO) -> SnapshotInfo:
    """Write `near` (recent adds merged first) to `fileobj`; refreshes wait until it is written."""
    with near.frozen_state() as state:
        table = state.table
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "position": state.position,
            "applied": list(state.applied),
            "signals": list(INDEX_NAMES),
            "entries": len(table),
            "items": int(table.item_ids.shape[0]),
            "timed": int(table.timed_rows.shape[0]),
        }
        write_header(fileobj, FORMAT_MAGIC, header)
        for name in INDEX_NAMES:
            state.indexes[name].serialize(fileobj)
        for array in table.arrays().values():
            write_array(fileobj, array)
        fileobj.write(END_MARKER)
        return SnapshotInfo(state.position, len(table), int(table.item_ids.shape[0]))


def read_snapshot(fileobj: BinaryIO) -> NearState:
    """The state written by `write_snapshot`; raises `SnapshotError` for anything else."""
    header = read_header(fileobj, FORMAT_MAGIC, FORMAT_NAME, FORMAT_VERSION, "snapshot", SnapshotError)
    try:
        signals = list(header["signals"])
        n, items, timed = (int(header[key]) for key in ("entries", "items", "timed"))
        position = header["position"]
        applied = tuple(str(p) for p in header["applied"])
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotError(f"corrupt snapshot header: {error!r}") from error
    if signals != list(INDEX_NAMES):
        raise SnapshotError(f"snapshot holds indexes for {signals}, this code expects {list(INDEX_NAMES)}")
    indexes = {}
    for signal in signals:
        try:
            indexes[signal] = NearIndex.load(fileobj)
        except (ValueError, KeyError, TypeError) as error:
            raise SnapshotError(f"corrupt {signal} index in snapshot: {error}") from error
    shapes = EntryTable.layout(n, items, timed)
    arrays = {
        f.name: read_array(fileobj, *shapes[f.name], what="snapshot", error=SnapshotError) for f in fields(EntryTable)
    }
    if fileobj.read(len(END_MARKER)) != END_MARKER:
        raise SnapshotError("truncated or corrupt snapshot: no end marker after the last array")
    table = EntryTable(**arrays)
    try:
        table.validate()
    except ValueError as error:
        raise SnapshotError(f"corrupt snapshot: {error}") from error
    live = table.entry_signals[table.entry_alive]
    sizes = {signal: int(np.count_nonzero(live == code)) for code, signal in enumerate(NEAR_SIGNALS)}
    framings = (live == NEAR_SIGNALS.index("pdq")) & (
        table.entry_kinds[table.entry_alive] == ENTRY_KINDS.index("variant")
    )
    sizes[FRAMING_KEYS] = int(np.count_nonzero(framings))
    for name, size in sizes.items():
        if len(indexes[name]) != size:
            raise SnapshotError(f"corrupt snapshot: the {name} index and the entry table disagree on its size")
    return NearState(indexes, table, position, applied)


def load_snapshot(fileobj: BinaryIO, overlap: timedelta = LOG_OVERLAP) -> NearIndexes:
    """`NearIndexes` continuing from the snapshot in `fileobj`; raises `SnapshotError` as `read_snapshot`."""
    return NearIndexes.from_state(read_snapshot(fileobj), overlap)
