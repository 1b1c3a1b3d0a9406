"""Object metadata in any script: S3 carries ASCII only (``x-amz-meta-*``).

A value that is not plain printable ASCII is sent as an RFC 2047 encoded word
(``=?UTF-8?B?...?=``), the form the coalition's edge decodes (`hashmatch.service.metadata`), so a
content id in Cyrillic, Arabic or Chinese comes back in notifications as the member wrote it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

__all__ = ["encode_metadata"]


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Values that are printable ASCII as they are, others as RFC 2047 base64 encoded words."""
    return {name: value if _plain(value) else _encoded(value) for name, value in metadata.items()}


def _plain(value: str) -> bool:
    # "=?" would be read back as the start of an encoded word: encode it too.
    return value.isascii() and value.isprintable() and "=?" not in value


def _encoded(value: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode()}?="
