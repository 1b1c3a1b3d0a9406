"""The bit kernels every Hamming signal shares: hex to bytes, popcount, and the Hamming distance.

One copy of each: the index (`hashmatch.index.hamming`), the uneven-crop search and the video
frame runs all count bits with these.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bits_to_hex", "hex_distance", "hex_to_bytes", "popcount", "popcount_rows", "unpack_hex_rows"]

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hex_to_bytes(value: str, hex_length: int) -> np.ndarray:
    """The hash as a uint8 array; raises ValueError when it is not `hex_length` hex digits."""
    if len(value) != hex_length:
        raise ValueError(f"expected {hex_length} hex digits, got {len(value)}")
    try:
        raw = bytes.fromhex(value)
    except ValueError as error:
        raise ValueError(f"not a hex string: {value!r}") from error
    return np.frombuffer(raw, dtype=np.uint8)


def unpack_hex_rows(values: list[str] | tuple[str, ...]) -> np.ndarray:
    """Equal-length hex strings as packed ``uint8`` rows, shape ``(len(values), digits // 2)``."""
    if not values:
        return np.empty((0, 0), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), -1)


def bits_to_hex(bits: np.ndarray) -> str:
    """Lowercase hex of a boolean bit vector, most significant bit first."""
    return np.packbits(bits.astype(bool)).tobytes().hex()


def hex_distance(left: str, right: str) -> int:
    """Hamming distance between two equal-length hex strings."""
    if len(left) != len(right):
        raise ValueError("hashes of different lengths cannot be compared")
    return (int(left, 16) ^ int(right, 16)).bit_count()


def _popcount_by_table(words: np.ndarray) -> np.ndarray:
    """Set bits per element via a byte table, for numpy < 2.0 (no ``np.bitwise_count``)."""
    array = np.ascontiguousarray(words)
    per_byte = _POPCOUNT8[array.view(np.uint8)]
    return per_byte.reshape(*array.shape, array.dtype.itemsize).sum(axis=-1, dtype=np.uint8)


popcount = getattr(np, "bitwise_count", _popcount_by_table)
"""Set bits per element of an unsigned integer array (numpy's own kernel where it has one)."""


def popcount_rows(packed: np.ndarray) -> np.ndarray:
    """Number of set bits in each row of a 2-D uint8 array."""
    return popcount(packed).sum(axis=1, dtype=np.int32)
