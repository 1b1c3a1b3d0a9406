"""Exact near-match index: every stored hash within a Hamming distance of a query, in pure numpy.

Hamming search cannot be a DynamoDB query, so the matcher keeps this index in memory: it is loaded
from a snapshot at cold start and kept fresh by applying adds and removes read from the bank's log.

How a query works (multi-index hashing with a generalised pigeonhole bound):

* Each hash of ``bits`` bits is cut into ``m`` contiguous chunks ("chunk keys" of 16-24 bits).
* If ``distance(q, h) <= t`` and the chunks get radii ``r_1..r_m`` (each >= -1) with
  ``sum(r_i) == t - m + 1``, then some chunk ``i`` has ``distance(q_i, h_i) <= r_i``; otherwise the
  total would be at least ``sum(r_i + 1) == t + 1``. ``r_i == -1`` means "chunk i is not probed".
  For PDQ (t = 31) with 16 chunks every chunk gets radius 1; thresholds above ``m - 1`` use
  ``floor((t + 1) / m) - 1`` or one more, so any threshold is answered exactly.
* For each chunk there is a counting-sort table: ``offsets[k]:offsets[k + 1]`` is the slice of
  that chunk's row of ``perm`` holding the rows whose chunk key is ``k``. A probe is two array
  reads, no binary search; all probes of a batch of queries are one vectorised gather.
* Candidates from all probes are verified with a popcount over the full hash, so results are exact:
  no false positives and, by the bound above, no false negatives. When the probes would touch more
  than 1/16 of a key space (very large thresholds) the index scans every row instead.
* Chunk keys are 16 bits up to 1.5M hashes and 22 bits beyond (:func:`default_chunks`).

Memory per hash (PDQ): 32 bytes of hash, 4 bytes per chunk of ``perm``, 21 bytes of ids and id
lookup, 1 byte of liveness, plus ``4 * 2**width`` bytes of offsets per chunk (4 MiB for 16 chunks
of 16 bits, 128 MiB for 12 chunks of 21-22 bits): about 121 bytes at 1M and 114 at 10M.

Freshness: adds land in a small unsorted *delta* that every query scans by brute force; when it
outgrows ``delta_limit`` rows it is merged into the sorted tables with ``np.insert`` (linear in the
index size, no re-sort). Removes mark main rows dead (filtered out of every result at once) or drop
delta rows; dead rows are purged when they reach an eighth of the index or on :meth:`compact`.
Adding an id that is already present replaces its hash.

Snapshot format (version 1), written by :meth:`HammingIndex.serialize`:

* 8 bytes magic ``b"HMNEARIX"``;
* a sequence of ``.npy`` records (``numpy.lib.format``, ``allow_pickle=False``), in this order:
  ``header`` (uint8: UTF-8 JSON with ``format``, ``version``, ``bits``, ``chunks`` as
  ``[[first_bit, width], ...]``, ``delta_limit`` and row counts), ``words`` (uint64 ``(n, bits/64)``,
  bit 0 of a hash is the most significant bit of word 0, as in its hex), ``ids`` (int64),
  ``alive`` (bool), ``id_sorted`` (int64), ``id_rows`` (uint32), ``perm`` (uint32 ``(m, n)``),
  ``offsets`` (uint32, the ``m`` tables of ``2**width + 1`` entries back to back), then
  ``delta_ids`` (int64) and ``delta_words`` (uint64). A reader rejects another magic, format name
  or version, and arrays whose dtype or shape disagree with the header.

Every array is read straight into its final buffer, so loading is bound by disk bandwidth.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import comb
from typing import BinaryIO

import numpy as np

from hashmatch.index.arrayfile import read_array, read_header, write_array, write_header
from hashmatch.signals.bits import popcount

__all__ = [
    "DEFAULT_DELTA_LIMIT",
    "DEFAULT_EXPECTED_SIZE",
    "FORMAT_VERSION",
    "HammingIndex",
    "NearMatches",
    "counting_order",
    "default_chunks",
]

FORMAT_MAGIC = b"HMNEARIX"
_WHAT = "near-index snapshot"
FORMAT_NAME = "hashmatch.near-index"
FORMAT_VERSION = 1

# A delta of 4096 rows costs about 1 ms per batch of 8 queries to scan; merging it into a
# 10M-row index costs well under a second, so a steady trickle of adds stays cheap on both sides.
DEFAULT_DELTA_LIMIT = 4096
DEFAULT_EXPECTED_SIZE = 1_000_000
# From how many hashes an index's chunk keys are 22 bits wide instead of 16 (`default_chunks`):
# above `DEFAULT_EXPECTED_SIZE`, so a new, empty index keeps its small tables.
_WIDE_KEYS_FROM = 1_500_000
# Widest chunk key: a counting-sort table of 2**24 uint32 offsets is already 64 MiB.
_MAX_CHUNK_WIDTH = 24
_BRUTE_FORCE_WORDS = 1 << 20
_U64 = np.uint64


def default_chunks(bits: int, expected_size: int = DEFAULT_EXPECTED_SIZE) -> int:
    """The chunk count for an index expected to hold ``expected_size`` hashes.

    Chunk keys of 16 bits up to `_WIDE_KEYS_FROM` hashes, 22 bits beyond (12 chunks for PDQ, 3 for
    64-bit hashes: pHash and the framing keys). Wider keys cost a fixed 4 bytes per key value and
    chunk (134 MB for PDQ's 12 chunks, 34 MB for 3) and pay once the 16-bit buckets fill. Measured
    with ``benchmarks/bench_index.py --chunks 12,16`` (PDQ, t=31, CPU per batch of 8 queries at the
    median, random / clustered data): 0.84 / 0.82 ms with 12 chunks against 1.29 / 1.31 with 16 at
    1M hashes, 1.08 / 0.98 against 1.71 / 1.88 at 1.5M, 1.23 / 1.45 against 2.57 / 2.61 at 2M; at
    10M, 16 chunks verify 330k candidates per batch against 58k for 12. The framing keys at t=10
    (``bench_index.py --framing-keys --data random --size N --key-chunks 3,4``, a check's 81
    rectangles) took 11.7 ms with 3 or 4 chunks at 1M keys, 15.0 against 16.8 ms at 1.5M, 16.4
    against 26.5 at 2M and 21.6 against 38.9 at 3.3M. The switch sits above
    `DEFAULT_EXPECTED_SIZE`, so an index made empty (tests, a new bank) stays small; it is laid
    out again for its size at compaction (`HammingIndex.laid_out_for_size`).
    """
    width = 16 if expected_size < _WIDE_KEYS_FROM else 22
    return max(1, -(-bits // width))


@dataclass(frozen=True)
class NearMatches:
    """Every (query row, id, distance) within the threshold, sorted by query row, distance, id."""

    query_rows: np.ndarray
    ids: np.ndarray
    distances: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return zip(self.query_rows.tolist(), self.ids.tolist(), self.distances.tolist(), strict=True)

    def for_query(self, query_row: int) -> list[tuple[int, int]]:
        """The (id, distance) pairs matched by one query row."""
        lo, hi = np.searchsorted(self.query_rows, [query_row, query_row + 1])
        return list(zip(self.ids[lo:hi].tolist(), self.distances[lo:hi].tolist(), strict=True))


class HammingIndex:
    """Exact Hamming-distance index over ``bits``-bit hashes (256 for PDQ, 64 for pHash).

    Hashes come in as packed rows (``uint8`` arrays of shape ``(n, bits // 8)``, the bytes of the
    hex) or as hex strings; ids are int64 the caller maps to bank items.
    """

    def __init__(
        self,
        bits: int,
        *,
        chunks: int | None = None,
        expected_size: int = DEFAULT_EXPECTED_SIZE,
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> None:
        """An empty index; ``chunks`` defaults to :func:`default_chunks` for ``expected_size``.

        Raises ValueError for a width that is not a multiple of 64 or a chunk count whose keys
        would be wider than 24 bits.
        """
        if isinstance(bits, bool) or not isinstance(bits, int) or bits <= 0 or bits % 64:
            raise ValueError(f"bits must be a positive multiple of 64, got {bits!r}")
        if chunks is None:
            chunks = default_chunks(bits, expected_size)
        if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks <= 0:
            raise ValueError(f"chunks must be a positive int, got {chunks!r}")
        if -(-bits // chunks) > _MAX_CHUNK_WIDTH or chunks > bits:
            raise ValueError(
                f"{chunks} chunks of a {bits}-bit hash give keys wider than {_MAX_CHUNK_WIDTH} bits "
                f"or narrower than 1 bit; use {-(-bits // _MAX_CHUNK_WIDTH)}..{bits} chunks"
            )
        if isinstance(delta_limit, bool) or not isinstance(delta_limit, int) or delta_limit < 0:
            raise ValueError(f"delta_limit must be a non-negative int, got {delta_limit!r}")
        self._bits = bits
        self._nwords = bits // 64
        self._delta_limit = delta_limit
        base, extra = divmod(bits, chunks)
        widths = [base + 1 if c < extra else base for c in range(chunks)]
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).tolist()
        self._chunks: tuple[tuple[int, int], ...] = tuple(zip(starts, widths, strict=True))
        self._words = np.empty((0, self._nwords), dtype=_U64)
        self._ids = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._dead = 0
        self._id_sorted = np.empty(0, dtype=np.int64)
        self._id_rows = np.empty(0, dtype=np.uint32)
        self._perm = np.empty((chunks, 0), dtype=np.uint32)
        table_sizes = [(1 << w) + 1 for w in widths]
        self._table_base = np.concatenate([[0], np.cumsum(table_sizes)[:-1]]).astype(np.int64)
        self._offsets = np.zeros(sum(table_sizes), dtype=np.uint32)
        self._key_plan = _KeyPlan(self._chunks, self._nwords)
        self._probe_plans: dict[int, _ProbePlan | None] = {}
        self._delta_ids = np.empty(0, dtype=np.int64)
        self._delta_words = np.empty((0, self._nwords), dtype=_U64)

    @classmethod
    def build(
        cls,
        bits: int,
        ids: Sequence[int] | np.ndarray,
        hashes: np.ndarray,
        *,
        chunks: int | None = None,
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> HammingIndex:
        """An index holding ``hashes`` under ``ids``, laid out for that many hashes, fully merged."""
        index = cls(bits, chunks=chunks, expected_size=len(ids), delta_limit=delta_limit)
        index.add(ids, hashes)
        index.compact()
        return index

    # -- properties ---------------------------------------------------------------------------

    @property
    def bits(self) -> int:
        return self._bits

    @property
    def chunks(self) -> tuple[tuple[int, int], ...]:
        """The chunk layout as ``(first_bit, width)`` pairs."""
        return self._chunks

    @property
    def delta_size(self) -> int:
        """Rows added since the last merge, scanned by brute force on every query."""
        return int(self._delta_ids.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays."""
        arrays = [self._words, self._ids, self._alive, self._id_sorted, self._id_rows]
        arrays += [self._perm, self._offsets, self._delta_ids, self._delta_words]
        return sum(a.nbytes for a in arrays)

    def __len__(self) -> int:
        return int(self._ids.shape[0]) - self._dead + self.delta_size

    def __contains__(self, item_id: object) -> bool:
        if isinstance(item_id, bool) or not isinstance(item_id, int | np.integer):
            return False
        key = np.array([item_id], dtype=np.int64)
        return bool(self._delta_ids.size and np.isin(key, self._delta_ids)[0]) or bool(self._main_rows_of(key).size)

    # -- updates ------------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | np.ndarray, hashes: np.ndarray) -> None:
        """Store ``hashes[i]`` under ``ids[i]``; an id already present gets the new hash.

        Visible to the very next query. Raises ValueError on malformed ids or hashes (wrong
        dtype or width, length mismatch, an id repeated within the call).
        """
        id_array = _as_ids(ids)
        words = self._as_words(hashes, "hashes")
        if id_array.shape[0] != words.shape[0]:
            raise ValueError(f"got {id_array.shape[0]} ids for {words.shape[0]} hashes")
        if _has_repeats(id_array):
            raise ValueError("ids repeat within one add; pass each id once")
        if id_array.size == 0:
            return
        self._discard(id_array)
        self._delta_ids = np.concatenate([self._delta_ids, id_array])
        self._delta_words = np.concatenate([self._delta_words, words])
        self._maybe_compact()

    def add_hex(self, ids: Sequence[int] | np.ndarray, hashes: Sequence[str]) -> None:
        """:meth:`add` for hex strings of ``bits // 4`` digits."""
        self.add(ids, self._hex_rows(hashes))

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Forget these ids (unknown ones are ignored); returns how many were present."""
        id_array = _as_ids(ids)
        removed = self._discard(np.unique(id_array))
        self._maybe_compact()
        return removed

    def compact(self) -> None:
        """Merge the delta into the sorted tables and purge removed rows."""
        if self._dead:
            self._purge()
        if self.delta_size:
            self._merge_delta()

    def laid_out_for_size(self) -> HammingIndex:
        """This index compacted, or rebuilt with wider chunk keys when it has outgrown its layout
        (:func:`default_chunks`); only ever towards wider keys, so a bank hovering around the
        switch is not rebuilt back and forth."""
        wanted = default_chunks(self._bits, len(self))
        if wanted < len(self._chunks):
            ids, rows = self.contents()
            return HammingIndex.build(self._bits, ids, rows, delta_limit=self._delta_limit)
        self.compact()
        return self

    # -- reading stored hashes ----------------------------------------------------------------

    def rows_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The hash stored under each id, as packed ``uint8`` rows; raises KeyError naming ids not present."""
        id_array = _as_ids(ids)
        words = np.zeros((id_array.shape[0], self._nwords), dtype=np.uint64)
        found = np.zeros(id_array.shape[0], dtype=bool)
        if self.delta_size:
            order = np.argsort(self._delta_ids)
            ordered = self._delta_ids[order]
            at = np.minimum(np.searchsorted(ordered, id_array), ordered.shape[0] - 1)
            hit = ordered[at] == id_array
            words[hit] = self._delta_words[order[at[hit]]]
            found |= hit
        lo = np.searchsorted(self._id_sorted, id_array, side="left")
        hi = np.searchsorted(self._id_sorted, id_array, side="right")
        # An id replaced by a later add has one live row and dead ones: take the live one.
        for step in range(int((hi - lo).max(initial=0))):
            candidate = (lo + step < hi) & ~found
            rows = self._id_rows[(lo + step)[candidate]]
            live = self._alive[rows]
            where = np.flatnonzero(candidate)[live]
            words[where] = self._words[rows[live]]
            found[where] = True
        if not found.all():
            raise KeyError(f"ids not in the index: {id_array[~found][:5].tolist()}")
        return _packed(words, self._bits)

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, packed ``uint8`` rows) of every live hash."""
        alive = self._alive
        ids = np.concatenate([self._ids[alive], self._delta_ids])
        return ids, _packed(np.concatenate([self._words[alive], self._delta_words]), self._bits)

    # -- queries ------------------------------------------------------------------------------

    def query(self, queries: np.ndarray, threshold: int) -> NearMatches:
        """Every stored hash within ``threshold`` bits of each query row (packed ``uint8`` rows).

        Exact: distance == threshold is included, threshold + 1 is not. Raises ValueError on
        malformed queries or a negative threshold.
        """
        if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer):
            raise ValueError(f"threshold must be an int, got {threshold!r}")
        threshold = int(threshold)
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        qwords = self._as_words(queries, "queries")
        parts = [self._query_main(qwords, threshold), self._query_delta(qwords, threshold)]
        qrows = np.concatenate([p[0] for p in parts])
        ids = np.concatenate([p[1] for p in parts])
        dists = np.concatenate([p[2] for p in parts]).astype(np.int32)
        order = np.lexsort((ids, dists, qrows))
        return NearMatches(qrows[order], ids[order], dists[order])

    def query_hex(self, queries: Sequence[str], threshold: int) -> NearMatches:
        """:meth:`query` for hex strings of ``bits // 4`` digits."""
        return self.query(self._hex_rows(queries), threshold)

    # -- snapshot -----------------------------------------------------------------------------

    def serialize(self, fileobj: BinaryIO) -> None:
        """Write the index (delta and removals included) in snapshot format version 1."""
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "bits": self._bits,
            "chunks": [list(c) for c in self._chunks],
            "delta_limit": self._delta_limit,
            "main_rows": int(self._ids.shape[0]),
            "dead_rows": self._dead,
            "delta_rows": self.delta_size,
        }
        write_header(fileobj, FORMAT_MAGIC, header)
        for array in self._arrays_in_file_order():
            write_array(fileobj, array)

    @classmethod
    def load(cls, fileobj: BinaryIO) -> HammingIndex:
        """Read a snapshot written by :meth:`serialize`.

        Raises ValueError when the file is not a near-index snapshot, has an unknown version or
        its arrays disagree with its header.
        """
        header = read_header(fileobj, FORMAT_MAGIC, FORMAT_NAME, FORMAT_VERSION, _WHAT)
        index = cls(header["bits"], chunks=len(header["chunks"]), delta_limit=header["delta_limit"])
        if [list(c) for c in index._chunks] != header["chunks"]:
            raise ValueError(f"snapshot chunk layout {header['chunks']} is not the one this code builds")
        n, nd, nw = header["main_rows"], header["delta_rows"], index._nwords
        index._words = read_array(fileobj, np.dtype(_U64), (n, nw), what=_WHAT)
        index._ids = read_array(fileobj, np.dtype(np.int64), (n,), what=_WHAT)
        index._alive = read_array(fileobj, np.dtype(bool), (n,), what=_WHAT)
        index._id_sorted = read_array(fileobj, np.dtype(np.int64), (n,), what=_WHAT)
        index._id_rows = read_array(fileobj, np.dtype(np.uint32), (n,), what=_WHAT)
        index._perm = read_array(fileobj, np.dtype(np.uint32), (len(index._chunks), n), what=_WHAT)
        index._offsets = read_array(fileobj, np.dtype(np.uint32), index._offsets.shape, what=_WHAT)
        index._delta_ids = read_array(fileobj, np.dtype(np.int64), (nd,), what=_WHAT)
        index._delta_words = read_array(fileobj, np.dtype(_U64), (nd, nw), what=_WHAT)
        index._dead = n - int(np.count_nonzero(index._alive))
        if index._dead != header["dead_rows"]:
            raise ValueError("corrupt near-index snapshot: dead row count disagrees with header")
        return index

    # -- internals ----------------------------------------------------------------------------

    def _arrays_in_file_order(self) -> list[np.ndarray]:
        return [
            self._words,
            self._ids,
            self._alive,
            self._id_sorted,
            self._id_rows,
            self._perm,
            self._offsets,
            self._delta_ids,
            self._delta_words,
        ]

    def _as_words(self, hashes: np.ndarray, what: str) -> np.ndarray:
        array = np.asarray(hashes)
        width = self._bits // 8
        if array.dtype != np.uint8:
            raise ValueError(f"{what} must be packed uint8 rows, got dtype {array.dtype}")
        if array.ndim != 2 or array.shape[1] != width:
            raise ValueError(f"{what} must have shape (n, {width}) for {self._bits}-bit hashes, got {array.shape}")
        return np.ascontiguousarray(array).view(">u8").astype(_U64)

    def _hex_rows(self, hashes: Sequence[str]) -> np.ndarray:
        if isinstance(hashes, str):
            raise ValueError("expected a sequence of hex strings, got one string")
        digits = self._bits // 4
        for position, value in enumerate(hashes):
            if not isinstance(value, str) or len(value) != digits:
                raise ValueError(f"hash {position} is not {digits} hex digits: {value!r}")
        joined = "".join(hashes)
        try:
            raw = bytes.fromhex(joined)
        except ValueError:
            raw = b""
        if len(raw) * 2 != len(joined):
            for position, value in enumerate(hashes):
                try:
                    ok = len(bytes.fromhex(value)) * 2 == digits
                except ValueError:
                    ok = False
                if not ok:
                    raise ValueError(f"hash {position} is not a hex string: {value!r}") from None
        return np.frombuffer(raw, dtype=np.uint8).reshape(len(hashes), digits // 2)

    def _main_rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Live main rows holding any of ``ids``."""
        lo = np.searchsorted(self._id_sorted, ids, side="left")
        hi = np.searchsorted(self._id_sorted, ids, side="right")
        rows = self._id_rows[_expand_ranges(lo, hi - lo)]
        return rows[self._alive[rows]]

    def _discard(self, ids: np.ndarray) -> int:
        rows = self._main_rows_of(ids)
        self._alive[rows] = False
        self._dead += int(rows.shape[0])
        removed = int(rows.shape[0])
        if self.delta_size:
            gone = np.isin(self._delta_ids, ids)
            if gone.any():
                removed += int(np.count_nonzero(gone))
                self._delta_ids = self._delta_ids[~gone]
                self._delta_words = self._delta_words[~gone]
        return removed

    def _maybe_compact(self) -> None:
        if self._dead > max(self._delta_limit, self._ids.shape[0] // 8):
            self._purge()
        if self.delta_size > self._delta_limit:
            self._merge_delta()

    def _merge_delta(self) -> None:
        old_n = int(self._ids.shape[0])
        new_n = self.delta_size
        if old_n + new_n >= 1 << 32:
            raise ValueError("a near index holds at most 2**32 - 1 rows")
        new_rows = np.arange(old_n, old_n + new_n, dtype=np.uint32)
        ids, words = self._delta_ids, self._delta_words
        if _is_increasing(ids):
            sorted_ids, id_rows = ids, new_rows
        else:
            by_id = np.argsort(ids, kind="stable")
            sorted_ids, id_rows = np.take(ids, by_id), np.take(new_rows, by_id)
        if old_n == 0:
            self._id_sorted, self._id_rows = sorted_ids, id_rows
        else:
            at = np.searchsorted(self._id_sorted, sorted_ids, side="right")
            self._id_sorted = np.insert(self._id_sorted, at, sorted_ids)
            self._id_rows = np.insert(self._id_rows, at, id_rows)
        positions, values = [], []
        for c, (_, width) in enumerate(self._chunks):
            keys = self._key_plan.chunk_keys(words, c)
            by_key = counting_order(keys, width)
            table = self._offsets[self._table_base[c] : self._table_base[c] + (1 << width) + 1]
            if old_n:
                # New rows go to the end of their key's bucket, so buckets stay in row order.
                ends = np.take(table, np.take(keys, by_key).astype(np.int64) + 1)
                positions.append(ends.astype(np.int64) + c * old_n)
            values.append(np.take(new_rows, by_key))
            table[1:] += np.cumsum(np.bincount(keys, minlength=1 << width), dtype=np.int64).astype(np.uint32)
        if old_n == 0:
            merged = np.concatenate(values)
        else:
            merged = np.insert(self._perm.ravel(), np.concatenate(positions), np.concatenate(values))
        self._perm = merged.reshape(len(self._chunks), old_n + new_n)
        self._words = np.concatenate([self._words, words])
        self._ids = np.concatenate([self._ids, ids])
        self._alive = np.concatenate([self._alive, np.ones(new_n, dtype=bool)])
        self._delta_ids = np.empty(0, dtype=np.int64)
        self._delta_words = np.empty((0, self._nwords), dtype=_U64)

    def _purge(self) -> None:
        keep = self._alive
        new_row = (np.cumsum(keep, dtype=np.int64) - 1).astype(np.uint32)
        self._words = self._words[keep]
        self._ids = self._ids[keep]
        live = keep[self._id_rows]
        self._id_sorted = self._id_sorted[live]
        self._id_rows = new_row[self._id_rows[live]]
        n = int(self._ids.shape[0])
        perm = np.empty((len(self._chunks), n), dtype=np.uint32)
        for c, (_, width) in enumerate(self._chunks):
            old = self._perm[c]
            perm[c] = new_row[old[keep[old]]]
            counts = np.bincount(self._key_plan.chunk_keys(self._words, c), minlength=1 << width)
            base = self._table_base[c]
            self._offsets[base] = 0
            self._offsets[base + 1 : base + (1 << width) + 1] = np.cumsum(counts, dtype=np.int64)
        self._perm = perm
        self._alive = np.ones(n, dtype=bool)
        self._dead = 0

    def _probe_plan(self, threshold: int) -> _ProbePlan | None:
        """Which key masks to probe in which chunk for ``threshold``; None means scan everything."""
        if threshold not in self._probe_plans:
            # Generalised pigeonhole: radii >= -1 summing to threshold - m + 1, as even as possible.
            m = len(self._chunks)
            base, extra = divmod(threshold + 1, m)
            radii = [base if c < extra else base - 1 for c in range(m)]
            probes = [_ball_size(w, r) for (_, w), r in zip(self._chunks, radii, strict=True)]
            plan = None
            # Past 1/16 of each key space the probes cost more than they prune: scan instead.
            if all(p <= (1 << w) // 16 for p, (_, w) in zip(probes, self._chunks, strict=True)):
                chunk = np.repeat(np.arange(m), probes)
                masks = np.concatenate([_flip_masks(w, r) for (_, w), r in zip(self._chunks, radii, strict=True)])
                plan = _ProbePlan(chunk, masks, self._table_base[chunk])
            if len(self._probe_plans) >= 64:
                self._probe_plans.clear()
            self._probe_plans[threshold] = plan
        return self._probe_plans[threshold]

    def _query_main(self, qwords: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = int(self._ids.shape[0])
        if n == 0 or qwords.shape[0] == 0:
            return _no_matches()
        plan = self._probe_plan(threshold)
        if plan is None:
            qrows, rows, dists = _brute_force(qwords, self._words, threshold)
        else:
            qrows, rows = self._candidates(qwords, plan)
            # np.take is several times faster than fancy indexing for gathering whole rows.
            # Candidates come grouped by query row, so the queries are repeated, not gathered.
            per_query = np.bincount(qrows, minlength=qwords.shape[0])
            dists = _distances(np.take(self._words, rows, axis=0), np.repeat(qwords, per_query, axis=0))
            hit = dists <= threshold
            qrows, rows, dists = qrows[hit], rows[hit], dists[hit]
            # A hash close in several chunks is found once per chunk.
            _, first = np.unique(qrows.astype(np.int64) * n + rows, return_index=True)
            qrows, rows, dists = qrows[first], rows[first], dists[first]
        if self._dead:
            live = self._alive[rows]
            qrows, rows, dists = qrows[live], rows[live], dists[live]
        return qrows.astype(np.int64), self._ids[rows], dists

    def _candidates(self, qwords: np.ndarray, plan: _ProbePlan) -> tuple[np.ndarray, np.ndarray]:
        """(query row, main row) for every row sharing a probed chunk key with a query."""
        n = int(self._ids.shape[0])
        keys = self._key_plan.all_keys(qwords)
        probes = (keys[:, plan.chunk] ^ plan.masks) + plan.table_base
        starts = self._offsets[probes].astype(np.int64)
        lengths = (self._offsets[probes + 1].astype(np.int64) - starts).ravel()
        starts = (starts + plan.chunk * n).ravel()
        nonempty = np.flatnonzero(lengths)
        starts, lengths = starts[nonempty], lengths[nonempty]
        qrows = np.repeat(nonempty // plan.chunk.shape[0], lengths)
        rows = np.take(self._perm.ravel(), _expand_ranges(starts, lengths))
        return qrows, rows

    def _query_delta(self, qwords: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.delta_size == 0 or qwords.shape[0] == 0:
            return _no_matches()
        qrows, rows, dists = _brute_force(qwords, self._delta_words, threshold)
        return qrows.astype(np.int64), self._delta_ids[rows], dists


@dataclass(frozen=True)
class _ProbePlan:
    chunk: np.ndarray  # chunk of each probe
    masks: np.ndarray  # bits to flip in that chunk's key
    table_base: np.ndarray  # where that chunk's offsets table starts


class _KeyPlan:
    """Cuts ``(n, words)`` uint64 rows into chunk keys (bit 0 = most significant bit of word 0)."""

    def __init__(self, chunks: tuple[tuple[int, int], ...], nwords: int) -> None:
        first = np.array([start // 64 for start, _ in chunks])
        offset = np.array([start % 64 for start, _ in chunks])
        width = np.array([w for _, w in chunks])
        crosses = offset + width > 64
        self.first = first
        self.second = np.minimum(first + 1, nwords - 1)
        self.up = offset.astype(_U64)
        self.down_second = np.where(crosses, 64 - offset, 1).astype(_U64)
        self.second_mask = np.where(crosses, np.iinfo(_U64).max, 0).astype(_U64)
        self.down = (64 - width).astype(_U64)

    def all_keys(self, words: np.ndarray) -> np.ndarray:
        """``(n, chunks)`` int64 keys."""
        high = words[:, self.first] << self.up
        low = (words[:, self.second] >> self.down_second) & self.second_mask
        return ((high | low) >> self.down).astype(np.int64)

    def chunk_keys(self, words: np.ndarray, c: int) -> np.ndarray:
        """``(n,)`` uint32 keys of chunk ``c``."""
        high = words[:, self.first[c]] << self.up[c]
        low = (words[:, self.second[c]] >> self.down_second[c]) & self.second_mask[c]
        return ((high | low) >> self.down[c]).astype(np.uint32)


def _no_matches() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)


def _as_ids(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"ids must be a 1-D sequence of ints, got shape {array.shape}")
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {array.dtype}")
    if array.dtype == np.uint64 and int(array.max()) > np.iinfo(np.int64).max:
        raise ValueError("ids must fit in int64")
    return array.astype(np.int64)


def _has_repeats(ids: np.ndarray) -> bool:
    if ids.shape[0] < 2 or _is_increasing(ids):
        return False
    ordered = np.sort(ids)
    return bool(np.any(ordered[1:] == ordered[:-1]))


def _is_increasing(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] > values[:-1]))


def counting_order(keys: np.ndarray, width: int = 32) -> np.ndarray:
    """A stable ordering of non-negative integer ``keys`` (< 2**width, width <= 32), by 16-bit radix
    passes (numpy radix-sorts uint16)."""
    keys = keys.astype(np.uint32, copy=False)
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if width > 16 and keys.size and int(keys.max()) > 0xFFFF:
        high = np.take((keys >> 16).astype(np.uint16), order)
        order = np.take(order, np.argsort(high, kind="stable"))
    return order


def _expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + l)`` for each start and length."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shifts = starts - np.cumsum(lengths) + lengths
    return np.repeat(shifts, lengths) + np.arange(total, dtype=np.int64)


@lru_cache(maxsize=64)
def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set (none when radius is -1)."""
    masks: list[int] = []
    for k in range(radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(width), k)]
    out = np.array(masks, dtype=np.int64)
    out.flags.writeable = False
    return out


def _ball_size(width: int, radius: int) -> int:
    return sum(comb(width, k) for k in range(radius + 1))


def _distances(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance of two ``(..., words)`` uint64 arrays, as uint16."""
    counts = popcount(left ^ right)
    nwords = counts.shape[-1]
    # numpy's reduction over a short last axis is slow; pairs of words fit a uint8 (<= 128).
    if nwords >= 2:
        even = nwords - nwords % 2
        counts = np.concatenate([counts[..., 0:even:2] + counts[..., 1:even:2], counts[..., even:]], axis=-1)
    total = counts[..., 0].astype(np.uint16)
    for k in range(1, counts.shape[-1]):
        total += counts[..., k]
    return total


def _brute_force(qwords: np.ndarray, words: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, stored row, distance) for every pair within ``threshold``."""
    qrow_parts, row_parts, dist_parts = [], [], []
    # Keep the (queries, block, words) temporary near 8 MiB whatever the batch size.
    step = max(256, _BRUTE_FORCE_WORDS // max(1, qwords.shape[0] * qwords.shape[1]))
    for first in range(0, words.shape[0], step):
        block = words[first : first + step]
        dists = _distances(qwords[:, None, :], block[None, :, :])
        qrow, row = np.nonzero(dists <= threshold)
        qrow_parts.append(qrow)
        row_parts.append(row + first)
        dist_parts.append(dists[qrow, row])
    if not row_parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32)
    return np.concatenate(qrow_parts), np.concatenate(row_parts), np.concatenate(dist_parts)


def _packed(words: np.ndarray, bits: int) -> np.ndarray:
    """uint64 words (most significant first, as stored) back to packed ``uint8`` rows."""
    return words.astype(">u8").view(np.uint8).reshape(words.shape[0], bits // 8)
