"""Hex hash strings as bit arrays, and the Hamming distance between them."""

from __future__ import annotations

import numpy as np

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


def bits_to_hex(bits: np.ndarray) -> str:
    """Lowercase hex of a boolean bit vector, most significant bit first."""
    return np.packbits(bits.astype(bool)).tobytes().hex()


def hex_distance(left: str, right: str) -> int:
    """Hamming distance between two equal-length hex strings."""
    if len(left) != len(right):
        raise ValueError("hashes of different lengths cannot be compared")
    return (int(left, 16) ^ int(right, 16)).bit_count()


def popcount_rows(packed: np.ndarray) -> np.ndarray:
    """Number of set bits in each row of a 2-D uint8 array."""
    return _POPCOUNT8[packed].sum(axis=1, dtype=np.int32)
