"""What a signal type is: one class that says what it applies to, how it hashes, its text form,
its distance, the index it needs, its default threshold and operator bounds, and its names in
other systems' formats.

Three kinds of hashing, by what the signal reads:

- `FileSignal`: the file's bytes, streamed (sha256, md5);
- `PictureSignal`: a picture already decoded, made upright and shrunk to at most 512 pixels a
  side (the thumbnail PDQ's reference hashes), so every picture signal shares one decode;
- `FrameSignal`: a video's frames; its values are frame lists, matched by alignment rules rather
  than one hash (vpdq), and indexed through the frame hashes of another signal.

Hashes are lowercase hex strings everywhere outside the matcher's memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

from hashmatch.signals.bits import hex_distance

if TYPE_CHECKING:
    from PIL import Image

    from hashmatch.index.spec import DerivedIndex, IndexSpec

__all__ = [
    "ORIENTATIONS",
    "OTHER_ORIENTATIONS",
    "ContentType",
    "FileSignal",
    "FrameSignal",
    "MatchKind",
    "Orientation",
    "PictureHash",
    "PictureSignal",
    "SignalType",
    "ThresholdBounds",
]

_HEX_DIGITS = frozenset("0123456789abcdef")


class ContentType(StrEnum):
    """What a signal can be computed from."""

    FILE = "file"  # any file, as bytes
    IMAGE = "image"
    VIDEO = "video"


class MatchKind(StrEnum):
    """How a signal's values match: equal, or within a distance threshold."""

    EXACT = "exact"
    NEAR = "near"


@dataclass(frozen=True)
class ThresholdBounds:
    """How far operators let a platform move a signal's threshold (inclusive)."""

    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class PictureHash:
    """What a picture signal computed: the hash, its quality where the signal has one, and the
    hashes of the picture's 7 other rotations/flips (`OTHER_ORIENTATIONS`
    order) where the signal can rotate without re-hashing."""

    value: str
    quality: int | None = None
    orientations: tuple[str, ...] = ()


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


# A balanced hash with fewer set bits than this fraction (or more than 1 - it), or fewer distinct
# bytes than a quarter of its bytes (at least 3), is degenerate. Real PDQ and pHash hashes set
# 45-55% of their bits and repeat few bytes.
MIN_SET_FRACTION = 0.25
MIN_DISTINCT_BYTES = 3


class SignalType:
    """A kind of hash. Subclasses set the class attributes; instances are registered once.

    - `name`: the name in hashmatch's formats and notifications;
    - `aliases`: the names other systems use for it (python-threatexchange's among them), accepted
      in hash lists;
    - `applies_to`: the content it is computed from;
    - `match`: exact (looked up in the bank by value) or near (within a threshold, in an index);
    - `hex_length`: digits of the text form (None for a signal without a single-hash text form);
    - `default_threshold` / `bounds`: the largest matching distance, and how far operators let a
      platform move it (near signals);
    - `min_quality`: hashes of lower quality (flat, blank, tiny pictures) are never stored or queried;
    - `balanced`: a hash whose bits are set against a median (PDQ, pHash), so about half of a real
      one's bits are set: a hash far from half, or made of a few repeated bytes, is degenerate.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    applies_to: ClassVar[frozenset[ContentType]]
    match: ClassVar[MatchKind]
    hex_length: ClassVar[int | None]
    default_threshold: ClassVar[int] = 0
    bounds: ClassVar[ThresholdBounds | None] = None
    min_quality: ClassVar[int | None] = None
    balanced: ClassVar[bool] = False

    @property
    def bits(self) -> int:
        """Bits of one hash (0 for a signal without a single-hash text form)."""
        return (self.hex_length or 0) * 4

    def parse(self, text: str) -> str:
        """`text` normalised to the signal's text form; raises ValueError saying what is wrong."""
        normalised = text.strip().lower()
        if self.hex_length is None:
            raise ValueError(f"{self.name} has no single-hash text form")
        if len(normalised) != self.hex_length or not set(normalised) <= _HEX_DIGITS:
            raise ValueError(f"a {self.name} hash is {self.hex_length} hex digits, got {text!r}")
        return normalised

    def distance(self, left: str, right: str) -> int:
        """How far apart two hashes are (0 when equal; for Hamming signals, the differing bits)."""
        return hex_distance(left, right) if self.match is MatchKind.NEAR else int(left != right)

    def index_spec(self) -> IndexSpec | None:
        """The near-match index the matcher keeps for this signal (None: matched otherwise)."""
        return None

    def derived_indexes(self) -> tuple[DerivedIndex, ...]:
        """Extra indexes kept over some of this signal's entries (PDQ's framing keys)."""
        return ()

    def usable(self, quality: int | None) -> bool:
        """Whether a hash of this `quality` may be stored or queried."""
        return self.min_quality is None or quality is None or quality >= self.min_quality

    def degenerate(self, value: str) -> str | None:
        """Why the hash `value` carries too little information to be shared (it would match
        unrelated content), or None. Only `balanced` signals can tell."""
        if not self.balanced or self.hex_length is None or len(value) != self.hex_length:
            return None
        raw = bytes.fromhex(value)
        fraction = sum(bin(byte).count("1") for byte in raw) / (len(raw) * 8)
        if not MIN_SET_FRACTION <= fraction <= 1 - MIN_SET_FRACTION:
            return f"{fraction:.0%} of its bits are set (a real {self.name} hash has about half)"
        distinct = len(set(raw))
        if distinct < max(MIN_DISTINCT_BYTES, len(raw) // 4):
            return f"it repeats {distinct} byte value(s) (a near-constant bit pattern)"
        return None

    def __repr__(self) -> str:
        return f"<signal {self.name}>"


class FileSignal(SignalType):
    """A digest of a file's bytes (exact matching)."""

    applies_to = frozenset({ContentType.FILE})
    match = MatchKind.EXACT

    def digest(self) -> _Digest:
        """A fresh incremental digest: `update(chunk)` for each chunk, then `hexdigest()`."""
        raise NotImplementedError


class HashlibSignal(FileSignal):
    """A `hashlib` digest, named by `algorithm`."""

    algorithm: ClassVar[str]

    def digest(self) -> _Digest:
        return hashlib.new(self.algorithm, usedforsecurity=False)


class PictureSignal(SignalType):
    """A perceptual hash of a picture (near matching)."""

    applies_to = frozenset({ContentType.IMAGE})
    match = MatchKind.NEAR

    def hash_picture(self, picture: Image.Image) -> PictureHash | None:
        """The hash of an upright RGB (or "L"/"F" luma) picture at most 512 pixels a side; None
        when the picture has no usable hash for this signal."""
        raise NotImplementedError

    def index_spec(self) -> IndexSpec | None:
        from hashmatch.index.spec import HammingIndexSpec

        return HammingIndexSpec(self.bits)


class FrameSignal(SignalType):
    """A video's frame hashes, matched by alignment; its frames live in another signal's index."""

    applies_to = frozenset({ContentType.VIDEO})
    match = MatchKind.NEAR
    hex_length = None


class Orientation(StrEnum):
    """The 8 ways a picture can be turned or mirrored (the dihedral group), in the order every
    hasher lists them. Names say what was done to the original to get the copy."""

    ORIGINAL = "original"
    ROTATE_90 = "rotate_90"
    ROTATE_180 = "rotate_180"
    ROTATE_270 = "rotate_270"
    FLIP_X = "flip_x"  # mirrored left to right
    FLIP_Y = "flip_y"  # upside down, mirrored
    TRANSPOSE = "transpose"  # mirrored about the main diagonal
    TRANSVERSE = "transverse"  # mirrored about the other diagonal


ORIENTATIONS: tuple[Orientation, ...] = tuple(Orientation)
OTHER_ORIENTATIONS: tuple[Orientation, ...] = ORIENTATIONS[1:]
