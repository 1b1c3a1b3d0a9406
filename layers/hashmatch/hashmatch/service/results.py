"""Where a check-by-hash list's verdicts are written: one results object per chunk of the list."""

from __future__ import annotations

import hashlib

from hashmatch.service.notifications import ObjectRef

__all__ = ["RESULTS_PREFIX", "results_key"]

RESULTS_PREFIX = "results/"


def results_key(platform: str, obj: ObjectRef, chunk: tuple[int, int]) -> str:
    """``results/<platform>/<the list's key under check/<platform>/>.<upload>.<chunk>-of-<chunks>.jsonl``:
    under the platform's own prefix, so its role reads its results and no one else's. ``<upload>``
    is 12 hex digits of the upload's identity (S3's sequencer, ETag and size): a list uploaded again
    under the same key gets results objects of its own, and those of the first upload, which its
    ``check.completed`` named, stay as they were; a delivery of one upload made again writes the
    same objects again."""
    name = obj.key.split("/", 2)[2] if obj.key.count("/") >= 2 else obj.key
    upload = hashlib.sha256(obj.identity.encode()).hexdigest()[:12]
    number, of = chunk
    return f"{RESULTS_PREFIX}{platform}/{name}.{upload}.{number:05d}-of-{of:05d}.jsonl"
