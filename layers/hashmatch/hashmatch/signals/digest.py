"""Cryptographic digests of whole files: exact matching and interop with industry lists."""

from __future__ import annotations

from typing import BinaryIO

from hashmatch.signals.base import FileSignal, HashlibSignal

__all__ = ["CHUNK_BYTES", "MD5", "SHA256", "Md5Signal", "Sha256Signal", "file_digests"]

CHUNK_BYTES = 1 << 20


class Sha256Signal(HashlibSignal):
    """SHA-256 (python-threatexchange calls it video_sha256)."""

    name = "sha256"
    aliases = ("video_sha256",)
    algorithm = "sha256"
    hex_length = 64


class Md5Signal(HashlibSignal):
    """MD5, for interop with existing industry lists (python-threatexchange calls it video_md5)."""

    name = "md5"
    aliases = ("video_md5",)
    algorithm = "md5"
    hex_length = 32


SHA256 = Sha256Signal()
MD5 = Md5Signal()


def file_digests(stream: BinaryIO, signals: tuple[FileSignal, ...] | None = None) -> dict[str, str]:
    """Every file signal's digest of everything left in `stream`, read in 1 MiB chunks (the
    registered file signals by default)."""
    if signals is None:
        from hashmatch.signals import SIGNALS

        chosen = SIGNALS.file_signals()
    else:
        chosen = signals
    digests = {signal.name: signal.digest() for signal in chosen}
    while chunk := stream.read(CHUNK_BYTES):
        for digest in digests.values():
            digest.update(chunk)
    return {name: digest.hexdigest() for name, digest in digests.items()}
