"""Versioned, pickle-free binary files: magic bytes, a JSON header, then `.npy` records.

The near-match index (`hashmatch.index`) and the matcher snapshot (`hashmatch.snapshot`) both
use this layout; each names itself (`what`) and raises its own error type on a bad file.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import numpy as np


def write_header(fileobj: BinaryIO, magic: bytes, header: dict[str, Any]) -> None:
    """The magic bytes, then the header as a JSON `.npy` record."""
    fileobj.write(magic)
    write_array(fileobj, np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))


def read_header(
    fileobj: BinaryIO, magic: bytes, name: str, version: int, what: str, error: type[ValueError] = ValueError
) -> dict[str, Any]:
    """The header written by `write_header`; raises `error` unless it is format `name` at `version`."""
    if fileobj.read(len(magic)) != magic:
        raise error(f"not a hashmatch {what} (bad magic)")
    try:
        header = json.loads(read_array(fileobj, np.dtype(np.uint8), what=what, error=error).tobytes())
    except (ValueError, UnicodeDecodeError) as cause:
        raise error(f"corrupt {what} header: {cause}") from cause
    if not isinstance(header, dict):
        raise error(f"corrupt {what} header: not a JSON object")
    if header.get("format") != name or header.get("version") != version:
        raise error(
            f"unsupported {what} {header.get('format')!r} version {header.get('version')!r}; "
            f"this code reads {name!r} version {version}"
        )
    return header


def write_array(fileobj: BinaryIO, array: np.ndarray) -> None:
    np.lib.format.write_array(fileobj, np.ascontiguousarray(array), allow_pickle=False)


def read_array(
    fileobj: BinaryIO,
    dtype: np.dtype,
    shape: tuple[int, ...] | None = None,
    *,
    what: str,
    error: type[ValueError] = ValueError,
) -> np.ndarray:
    """The next `.npy` record, checked against `dtype` (any byte order) and `shape`; native order."""
    try:
        array = np.lib.format.read_array(fileobj, allow_pickle=False)
    except (ValueError, EOFError, OSError) as cause:
        raise error(f"truncated or corrupt {what}: {cause}") from cause
    if (
        array.dtype.kind != dtype.kind
        or array.dtype.itemsize != dtype.itemsize
        or (shape is not None and array.shape != shape)
    ):
        raise error(f"corrupt {what}: expected {dtype} {shape}, got {array.dtype} {array.shape}")
    return array if array.dtype.isnative or dtype.kind == "S" else array.astype(dtype.newbyteorder("="))
