"""Signal types and their registry.

`SIGNALS` holds every signal the system knows, built-in ones first: sha256 and md5 (file
digests), pdq and phash (pictures) and vpdq (video frames). See `hashmatch.signals.base` for what a
signal declares and `hashmatch.signals.registry` for what is derived from the registry.
"""

from __future__ import annotations

from hashmatch.signals.base import (
    ContentType,
    FileSignal,
    FrameSignal,
    MatchKind,
    Orientation,
    PictureHash,
    PictureSignal,
    SignalType,
    ThresholdBounds,
)
from hashmatch.signals.digest import MD5, SHA256
from hashmatch.signals.pdq import PDQ, PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY
from hashmatch.signals.phash import PHASH
from hashmatch.signals.registry import SignalRegistry, UnknownSignal

__all__ = [
    "SIGNALS",
    "VPDQ",
    "ContentType",
    "FileSignal",
    "FrameSignal",
    "MatchKind",
    "Orientation",
    "PictureHash",
    "PictureSignal",
    "SignalRegistry",
    "SignalType",
    "ThresholdBounds",
    "UnknownSignal",
    "VpdqSignal",
]


class VpdqSignal(FrameSignal):
    """vPDQ: a video's per-frame PDQ hashes; frames are stored in the PDQ index as "frame" entries
    and a check matches by the alignment rules of `hashmatch.matching.video`."""

    name = "vpdq"
    default_threshold = PDQ_MATCH_THRESHOLD
    min_quality = PDQ_MIN_QUALITY


VPDQ = VpdqSignal()

SIGNALS = SignalRegistry()
for _signal in (SHA256, MD5, PDQ, PHASH, VPDQ):
    SIGNALS.register(_signal)
