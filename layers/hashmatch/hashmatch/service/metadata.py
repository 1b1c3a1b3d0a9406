"""Object metadata (``x-amz-meta-*``) that survives any script: S3 carries ASCII only.

Members set metadata with `encode_metadata`: a value that is not plain ASCII is sent as an RFC 2047
encoded word (``=?UTF-8?B?...?=``, what S3 itself returns for non-ASCII metadata); the edge reads
it back with `decode_metadata`, so a content id in Cyrillic, Arabic or Chinese comes back in the
notification as the platform wrote it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

__all__ = ["decode_metadata", "encode_metadata"]

_ENCODED_WORD = re.compile(r"=\?utf-8\?([bq])\?([^?]*)\?=", re.IGNORECASE)


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Values that are printable ASCII as they are, others as RFC 2047 base64 encoded words."""
    return {name: value if _plain(value) else _encoded(value) for name, value in metadata.items()}


def decode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased names, values with RFC 2047 encoded words decoded (malformed ones kept as sent)."""
    return {name.lower(): _decoded(value) for name, value in metadata.items()}


def _plain(value: str) -> bool:
    return value.isascii() and value.isprintable() and "=?" not in value


def _encoded(value: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode()}?="


def _decoded(value: str) -> str:
    def word(match: re.Match[str]) -> str:
        encoding, text = match.group(1).lower(), match.group(2)
        try:
            if encoding == "b":
                raw = base64.b64decode(text, validate=True)
            else:
                raw = re.sub(
                    rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.replace("_", " ").encode()
                )
            return raw.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return match.group(0)

    # Adjacent encoded words are one text (RFC 2047: the space between them is not part of it).
    return _ENCODED_WORD.sub(word, re.sub(r"(\?=)\s+(=\?)", r"\1\2", value))
