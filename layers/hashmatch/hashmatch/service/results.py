"""Where a check-by-hash list's verdicts are written: one results object per chunk of the list."""

from __future__ import annotations

from hashmatch.service.notifications import ObjectRef

__all__ = ["RESULTS_PREFIX", "results_key"]

RESULTS_PREFIX = "results/"


def results_key(platform: str, obj: ObjectRef, chunk: tuple[int, int]) -> str:
    """``results/<platform>/<the list's key under check/<platform>/>.<chunk>-of-<chunks>.jsonl``:
    under the platform's own prefix, so its role reads its results and no one else's."""
    name = obj.key.split("/", 2)[2] if obj.key.count("/") >= 2 else obj.key
    number, of = chunk
    return f"{RESULTS_PREFIX}{platform}/{name}.{number:05d}-of-{of:05d}.jsonl"
