"""Signal types: what a hash is, how long its hex is, and how it matches.

Hashes are lowercase hex strings everywhere outside the matcher's memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD

__all__ = ["SIGNAL_TYPES", "SignalType", "signal_type", "validate_hash"]

# pHash, measured in benchmarks/bench_robustness.py: 98% of mild edits of a photo stay within 8
# bits, but two photos of one scene can be 2-4 bits apart. So pHash corroborates PDQ (within 8,
# see hashmatch.matching) and matches on its own only items shared without a PDQ, at this threshold.
PHASH_MATCH_THRESHOLD = 6


@dataclass(frozen=True)
class SignalType:
    """A kind of hash: its name, how many hex digits it has, and how it matches."""

    name: str
    hex_length: int
    match: Literal["exact", "near"]
    threshold: int = 0

    @property
    def bits(self) -> int:
        return self.hex_length * 4


SHA256 = SignalType("sha256", 64, "exact")
MD5 = SignalType("md5", 32, "exact")
PDQ = SignalType("pdq", 64, "near", PDQ_MATCH_THRESHOLD)
PHASH = SignalType("phash", 16, "near", PHASH_MATCH_THRESHOLD)

SIGNAL_TYPES: dict[str, SignalType] = {s.name: s for s in (SHA256, MD5, PDQ, PHASH)}


def signal_type(name: str) -> SignalType:
    """The signal type called `name`; raises ValueError naming the known ones otherwise."""
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown signal {name!r}; known: {', '.join(SIGNAL_TYPES)}") from None


def validate_hash(signal: str, value: str) -> str:
    """`value` normalised to lowercase hex; raises ValueError when it cannot be a `signal` hash."""
    kind = signal_type(signal)
    normalised = value.strip().lower()
    if len(normalised) != kind.hex_length or any(c not in "0123456789abcdef" for c in normalised):
        raise ValueError(f"a {signal} hash is {kind.hex_length} hex digits, got {value!r}")
    return normalised
