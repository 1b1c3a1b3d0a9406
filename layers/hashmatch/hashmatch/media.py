"""What a file is, what hashing it produced, and why it was rejected.

These are the value types shared by the image and video hashers and by the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hashmatch.robust import UnevenCropSearch

MediaKind = Literal["image", "video"]


class RejectReason(StrEnum):
    """Why a file cannot be checked or shared; each is final, so the file is never retried."""

    UNSUPPORTED_MEDIA = "unsupported_media"
    TOO_LARGE = "too_large"
    DECOMPRESSION_BOMB = "decompression_bomb"
    CORRUPT = "corrupt"
    LOW_QUALITY = "low_quality"
    EMPTY = "empty"
    NO_FRAMES = "no_frames"
    INVALID_HASH_LIST = "invalid_hash_list"
    UNKNOWN_ITEM = "unknown_item"


class Rejected(Exception):
    """A file that can never be hashed as asked; `reason` is a `RejectReason` users can act on."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Bounds on what a hasher accepts, so hostile files cost bounded memory and time."""

    max_file_bytes: int = 2 * 1024**3
    max_image_bytes: int = 100 * 1024**2
    max_image_pixels: int = 100_000_000
    max_image_side: int = 30_000
    max_video_seconds: float = 4 * 3600.0
    max_gif_frames: int = 16
    video_fps: float = 1.0


@dataclass(frozen=True)
class FrameHash:
    """The PDQ hash of one video frame at `offset` seconds from the start."""

    offset: float
    pdq: str
    quality: int


@dataclass(frozen=True)
class MediaHashes:
    """Everything hashing one file produced.

    `signals` holds one lowercase hex hash per signal name (sha256, md5, and for images pdq and
    phash). `pdq_variants` are the main PDQ's 7 other rotations/flips; `pdq_regions` are PDQ hashes
    of the picture's framings (inside bars, padding and captions, central crops): for a check,
    those to query (`robust.query_variants`), for a share, those to store (`robust.index_variants`).
    `frames` are a video's (or an animation's) per-frame PDQ hashes. A checked image also carries
    its `uneven_crops` search (`robust.UnevenCropSearch`), which the matcher runs against the
    stored framings it finds; it holds the picture's small luma and is never stored or sent.
    """

    media: MediaKind
    signals: dict[str, str]
    pdq_quality: int | None = None
    pdq_variants: tuple[str, ...] = ()
    pdq_regions: tuple[str, ...] = ()
    frames: tuple[FrameHash, ...] = ()
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    extra: dict[str, object] = field(default_factory=dict)
    uneven_crops: UnevenCropSearch | None = field(default=None, compare=False, repr=False)


def sniff_media(head: bytes) -> tuple[MediaKind, str] | None:
    """(kind, format) from a file's first bytes, by content, not extension; None if unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    if head.startswith(b"BM"):
        return "image", "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic and BigTIFF
        return "image", "tiff"
    if head[4:8] == b"ftyp":
        return _sniff_iso_media(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "matroska"
    return None


_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_STILL_IMAGE_BRANDS = frozenset({b"mif1", b"msf1"})


def _sniff_iso_media(head: bytes) -> tuple[MediaKind, str]:
    # An ISO-BMFF file names a major brand and compatible brands in its `ftyp` box; AVIF often
    # has the generic major brand `mif1` and says `avif` only among the compatible ones.
    box_end = min(len(head), max(16, int.from_bytes(head[:4], "big")))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "image", "avif"
    if brands & _HEIF_BRANDS or head[8:12] in _STILL_IMAGE_BRANDS:
        return "image", "heif"
    return "video", "mp4"
