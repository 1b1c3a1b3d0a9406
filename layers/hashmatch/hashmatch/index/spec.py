"""What a signal's near-match index must do, and how a signal declares the index it needs.

A near signal names an `IndexSpec` in the registry (`hashmatch.signals`). The matcher's
`BankIndex` builds one index per near signal from it, feeds it the bank's change log, and queries
it; snapshots store it with the spec's `load` / the index's `serialize`. Hamming hashes (PDQ,
pHash, any multiple of 64 bits) use `HammingIndexSpec`; a signal with another distance brings its
own spec and index class satisfying `SignalIndex`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

import numpy as np

if TYPE_CHECKING:
    from hashmatch.index.hamming import NearMatches

__all__ = ["DerivedIndex", "HammingIndexSpec", "IndexSpec", "SignalIndex"]


class SignalIndex(Protocol):
    """An exact near-match index over one signal's hashes, stored as fixed-width rows under int64 ids."""

    def add(self, ids: Sequence[int] | np.ndarray, rows: np.ndarray) -> None:
        """Store ``rows[i]`` under ``ids[i]``; an id already present gets the new row."""
        ...

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Forget these ids; returns how many were present."""
        ...

    def query(self, rows: np.ndarray, threshold: int) -> NearMatches:
        """Every stored row within `threshold` of each query row."""
        ...

    def rows_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The row stored under each id; raises KeyError naming ids not present."""
        ...

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, rows) of every live entry."""
        ...

    def compact(self) -> None:
        """Merge recent adds and purge removed rows."""
        ...

    def laid_out_for_size(self) -> SignalIndex:
        """This index (compacted) or an equivalent one laid out for the number of rows it holds now."""
        ...

    def serialize(self, fileobj: BinaryIO) -> None: ...

    @property
    def nbytes(self) -> int: ...

    def __len__(self) -> int: ...


class IndexSpec(Protocol):
    """How to build, load and feed one signal's index: the text form <-> index rows."""

    def build(self) -> SignalIndex: ...

    def load(self, fileobj: BinaryIO) -> SignalIndex: ...

    def encode(self, values: Sequence[str]) -> np.ndarray:
        """The index rows of hashes in their text form (raises ValueError on a malformed one)."""
        ...

    def decode(self, rows: np.ndarray) -> list[str]:
        """The text form of index rows."""
        ...


@dataclass(frozen=True)
class HammingIndexSpec:
    """A multi-index Hamming index (`hashmatch.index.hamming.HammingIndex`) over `bits`-bit hex hashes."""

    bits: int

    def build(self) -> SignalIndex:
        from hashmatch.index.hamming import HammingIndex

        return HammingIndex(self.bits)

    def load(self, fileobj: BinaryIO) -> SignalIndex:
        from hashmatch.index.hamming import HammingIndex

        index = HammingIndex.load(fileobj)
        if index.bits != self.bits:
            raise ValueError(f"a {index.bits}-bit index where {self.bits} bits were expected")
        return index

    def encode(self, values: Sequence[str]) -> np.ndarray:
        digits = self.bits // 4
        for position, value in enumerate(values):
            if len(value) != digits:
                raise ValueError(f"hash {position} is not {digits} hex digits: {value!r}")
        if not values:
            return np.empty((0, digits // 2), dtype=np.uint8)
        return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), digits // 2)

    def decode(self, rows: np.ndarray) -> list[str]:
        digits = self.bits // 4
        text = np.ascontiguousarray(rows).tobytes().hex()
        return [text[k * digits : (k + 1) * digits] for k in range(rows.shape[0])]


@dataclass(frozen=True)
class DerivedIndex:
    """A second index a signal keeps over part of its entries, keyed by a function of their rows.

    Entries of one of `entry_kinds` get `key(rows)` stored in an index built from `spec`, under the same
    entry ids, so a hit on it names the signal's own entry (whose whole hash `rows_of` returns).
    PDQ's framing keys (`hashmatch.signals.pdq`) are one: the rule that uses them lives in
    `hashmatch.matching.rules`.

    With `holds`, the index keeps those entries instead of the signal's own index (`key` must then
    return the rows themselves, and `spec` be the signal's): entries only ever matched within a
    stricter limit (PDQ's parts of a picture) then stay out of the signal's wider lookups, and are
    looked up within that limit alone (`hashmatch.index.bank_index.BankIndex.query`).
    """

    name: str
    entry_kinds: tuple[str, ...]
    spec: IndexSpec
    key: Callable[[np.ndarray], np.ndarray]
    holds: bool = False
