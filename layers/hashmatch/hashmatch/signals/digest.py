"""Cryptographic digests of whole files: exact matching and interop with industry lists."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

CHUNK_BYTES = 1 << 20


def file_digests(stream: BinaryIO) -> dict[str, str]:
    """sha256 and md5 of everything left in `stream`, read in 1 MiB chunks."""
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    while chunk := stream.read(CHUNK_BYTES):
        sha256.update(chunk)
        md5.update(chunk)
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}
