"""What a file is, what hashing it produced, and why it was rejected.

These are the value types shared by the image and video hashers, the matcher and the services.

Query labels name which hash of a checked file was looked up, in a notification's `match.query`:

- the main hash, ``original``, and its rotations/flips by `Orientation` name (``rotate_90``,
  ``flip_x``, ...);
- a framing: the region of the picture it covers, then an optional crop of that region, then an
  optional orientation: ``whole``, ``inside_bars``, ``inside_padding``, ``below_caption``,
  ``above_caption``, ``between_captions``, ``inside_frame`` (a rectangle found inside a larger
  frame such as an app screenshot, a duet or a border; the hash carries the region it covers),
  ``inside_slanted_frame`` (a turned or keystoned quadrilateral found inside a larger frame, the
  picture in it set upright: `hashmatch.media.slanted`; the hash carries the upright rectangle
  around it),
  ``tilted_cw_N`` / ``tilted_ccw_N`` (the picture of a copy turned N degrees clockwise or
  counter-clockwise, turned back: `hashmatch.media.tilt`), ``uncovered_whole`` /
  ``uncovered_inside_frame`` (the picture, or a rectangle found inside a larger frame, with what
  seems drawn over it painted over: `hashmatch.media.overlays`); ``+central_crop_NN`` (the central NN%
  of the region), ``+middle_band`` (without the top and bottom `OVERLAY_MARGIN`), ``+core`` (the
  region's central core, `hashmatch.media.framing.CORE_SHAPE`: ``inside_frame+core``), ``+half_top``,
  ``+half_bottom``, ``+half_left``, ``+half_right`` (one half of the region: `is_half`),
  ``+third_top``, ``+third_middle``, ``+third_bottom`` (a band across the region a third of its
  height), ``+third_left``, ``+third_centre``, ``+third_right`` (a third of its width: `is_third`);
  halves and thirds are the region's parts (`is_part`); ``/flip_x`` etc.
  For example ``below_caption+central_crop_94/flip_x``, ``inside_frame+central_crop_94``,
  ``tilted_cw_3.5+central_crop_89/flip_x``;
- ``uneven_crop`` (the search for an unevenly cut copy; ``uneven_crop/flip_x`` when found on the
  copy mirrored), ``frame@12.00s`` (one frame of an animation) and ``frames`` (a video aligned with
  a shared video).

The notification schema (`hashmatch/schemas/notification.v2.json`, ``match.query``) spells the
same grammar as a pattern: a new region or crop name goes in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from hashmatch.signals.base import OTHER_ORIENTATIONS, Orientation

__all__ = [
    "HALF_SIDES",
    "ORIGINAL_QUERY",
    "PHASH_VIEWS",
    "THIRD_SIDES",
    "UNCOVERED_WHOLE_QUERY",
    "UNEVEN_CROP_QUERY",
    "Candidate",
    "CropSearch",
    "FrameHash",
    "Grid",
    "LabelledHash",
    "Limits",
    "MediaHashes",
    "MediaKind",
    "NeedsSegments",
    "Region",
    "RejectReason",
    "Rejected",
    "framing_label",
    "framing_orientation",
    "is_half",
    "is_part",
    "is_third",
    "sniff_media",
]

MediaKind = Literal["image", "video"]
ORIGINAL_QUERY = "original"
UNEVEN_CROP_QUERY = "uneven_crop"
# The whole picture with what seems drawn over it painted over (`hashmatch.media.framing`), upright.
UNCOVERED_WHOLE_QUERY = "uncovered_whole"
# The views of a checked picture that may show a shared picture whole and upright, so that their
# pHash compares with the shared picture's: the picture inside bars, padding or caption bars, a
# rectangle found inside a larger frame, and `UNCOVERED_WHOLE_QUERY`. A check carries each one's
# pHash beside its PDQ, with the same label (and region), and a PDQ of one of them a little past
# its threshold is corroborated by its pHash as the main PDQ is by the main pHash
# (`hashmatch.matching.rules.corroborated_evidence`).
PHASH_VIEWS = frozenset(
    {
        "inside_bars",
        "inside_padding",
        "below_caption",
        "above_caption",
        "between_captions",
        "inside_frame",
        UNCOVERED_WHOLE_QUERY,
    }
)
FRAMES_QUERY = "frames"


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
    # Shares only: a label or severity outside the coalition's taxonomy; a hash with too little
    # information to share (it would match unrelated content).
    INVALID_LABEL = "invalid_label"
    INVALID_SEVERITY = "invalid_severity"
    INVALID_CONFIDENCE = "invalid_confidence"
    DEGENERATE_HASH = "degenerate_hash"
    # Shares: the hash matches the benign bank (a meme template, a logo, a blank frame); the
    # member shared more items today than its quota allows.
    BENIGN_COLLISION = "benign_collision"
    RATE_LIMITED = "rate_limited"
    # Feedback and operator requests: malformed; about the member's own item.
    INVALID_REQUEST = "invalid_request"
    OWN_ITEM = "own_item"
    # Shares and incident requests: the incident named is not open (unknown, or closed).
    UNKNOWN_INCIDENT = "unknown_incident"
    # Members in their own accounts: the object was written by a principal other than the member
    # role of the platform its key names (`hashmatch.edge.principals`).
    WRONG_PRINCIPAL = "wrong_principal"


class Rejected(Exception):
    """A file that can never be hashed as asked; `reason` is a `RejectReason` users can act on."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


class NeedsSegments(Exception):
    """A shared video too long to hash at every frame in one go (over
    `Limits.max_shared_video_pixel_frames`): it can be hashed in `windows`, each within the limit,
    by as many invocations side by side. Where nothing can split the work, `as_rejection` is the
    answer (``too_large``, naming the limit)."""

    def __init__(self, duration: float, longest: float, message: str) -> None:
        super().__init__(message)
        self.duration = duration
        self.longest = longest
        self.message = message

    def windows(self) -> list[tuple[float, float | None]]:
        """Equal windows of at most `longest` seconds covering the video (the last one open-ended,
        so no frame past the declared duration is lost)."""
        count = max(1, math.ceil(self.duration / self.longest))
        step = self.duration / count
        return [(round(n * step, 3), round((n + 1) * step, 3) if n + 1 < count else None) for n in range(count)]

    def as_rejection(self) -> Rejected:
        return Rejected(RejectReason.TOO_LARGE, self.message)


@dataclass(frozen=True)
class Limits:
    """Bounds on what a hasher accepts, so hostile files cost bounded memory and time."""

    max_file_bytes: int = 2 * 1024**3
    max_image_bytes: int = 100 * 1024**2
    max_image_pixels: int = 100_000_000
    max_image_side: int = 30_000
    max_video_seconds: float = 4 * 3600.0
    # A frame over 8K UHD, or a declared rate over 240 fps, is not a re-upload anyone watches.
    max_video_frame_pixels: int = 7680 * 4320
    max_video_fps: float = 240.0
    # A shared video is hashed at every frame: its pixel-frames (width x height x frame rate x
    # duration) are bounded so one file fits the hashing function's time (measured ~150 MP/s of
    # decoded 720p on one core: 3e10 is ~3.5 minutes, or about 18 minutes of 720p at 30 fps).
    max_shared_video_pixel_frames: float = 3.0e10
    max_gif_frames: int = 16
    video_fps: float = 1.0
    # A checked video shorter than `min_video_samples / video_fps` seconds is sampled faster, so
    # that it still gets this many samples (at most one per frame): a match needs
    # `hashmatch.matching.policy.MIN_MATCHED_FRAMES` samples, which a clip of a second and a half
    # sampled once a second never has (it gets 2).
    min_video_samples: int = 8
    # A checked video whose samples hold fewer frames with anything to query than a match needs
    # (`MIN_MATCHED_FRAMES`: its footage mostly dark, blank or flat, a second of a scene between
    # fades) is sampled again, faster, to get up to this many samples (at most one per frame): a
    # video over `dense_check_samples / (2 video_fps)` seconds long is not (it would not get twice
    # the samples).
    dense_check_samples: int = 32


@dataclass(frozen=True)
class Region:
    """A rectangle as shares of the image's width and height: left, top, right, bottom in [0, 1]."""

    left: float
    top: float
    right: float
    bottom: float

    def central_crop(self, scale: float) -> Region:
        """The centred rectangle `scale` times as wide and as high as this one."""
        margin_x = (self.right - self.left) * (1.0 - scale) / 2.0
        margin_y = (self.bottom - self.top) * (1.0 - scale) / 2.0
        return Region(self.left + margin_x, self.top + margin_y, self.right - margin_x, self.bottom - margin_y)

    def central_core(self, shape: tuple[float, float], size: tuple[int, int]) -> Region:
        """The centred rectangle `shape` (width, height) times this one's short side, measured in
        the pixels of the image this one lies in, `size` (width, height) pixels."""
        short = min((self.right - self.left) * size[0], (self.bottom - self.top) * size[1])
        half_x, half_y = shape[0] * short / size[0] / 2.0, shape[1] * short / size[1] / 2.0
        centre_x, centre_y = (self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0
        return Region(centre_x - half_x, centre_y - half_y, centre_x + half_x, centre_y + half_y)

    def half(self, side: str) -> Region:
        """This rectangle's half on `side` (one of `HALF_SIDES`)."""
        middle_x, middle_y = (self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0
        if side == "top":
            return Region(self.left, self.top, self.right, middle_y)
        if side == "bottom":
            return Region(self.left, middle_y, self.right, self.bottom)
        if side == "left":
            return Region(self.left, self.top, middle_x, self.bottom)
        if side == "right":
            return Region(middle_x, self.top, self.right, self.bottom)
        raise ValueError(f"no half {side!r}: one of {', '.join(HALF_SIDES)}")

    def third(self, side: str) -> Region:
        """This rectangle's third on `side` (one of `THIRD_SIDES`): a band across it a third of its
        height (top, middle, bottom) or a third of its width (left, centre, right)."""
        if side in _THIRD_ROWS:
            step, k = (self.bottom - self.top) / 3.0, _THIRD_ROWS.index(side)
            return Region(self.left, self.top + k * step, self.right, self.top + (k + 1) * step)
        if side in _THIRD_COLUMNS:
            step, k = (self.right - self.left) / 3.0, _THIRD_COLUMNS.index(side)
            return Region(self.left + k * step, self.top, self.left + (k + 1) * step, self.bottom)
        raise ValueError(f"no third {side!r}: one of {', '.join(THIRD_SIDES)}")

    def without_margins(self, share: float) -> Region:
        """This rectangle without `share` of its height at the top and at the bottom."""
        margin = (self.bottom - self.top) * share
        return Region(self.left, self.top + margin, self.right, self.bottom - margin)

    def close_to(self, other: Region, tolerance: float) -> bool:
        """Whether every edge is within `tolerance` (a share of the side) of the other's."""
        edges = zip(
            (self.left, self.top, self.right, self.bottom),
            (other.left, other.top, other.right, other.bottom),
            strict=True,
        )
        return all(abs(a - b) <= tolerance for a, b in edges)

    def pixel_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in the pixels of an image `width` x `height` pixels, rounded."""
        return (
            round(self.left * width),
            round(self.top * height),
            round(self.right * width),
            round(self.bottom * height),
        )

    def edges(self, digits: int = 4) -> list[float]:
        """[left, top, right, bottom], rounded for a notification."""
        return [round(edge, digits) for edge in (self.left, self.top, self.right, self.bottom)]


WHOLE = Region(0.0, 0.0, 1.0, 1.0)
_ORIENTATION_NAMES = frozenset(o.value for o in Orientation)
# The halves of a picture stored and queried beside its framings (`hashmatch.media.framing`).
HALF_SIDES: tuple[str, ...] = ("top", "bottom", "left", "right")
HALF_CROP = "half_"  # a half's crop name: ``half_top`` etc.
# And their thirds: bands a third of the height, then a third of the width.
_THIRD_ROWS: tuple[str, ...] = ("top", "middle", "bottom")
_THIRD_COLUMNS: tuple[str, ...] = ("left", "centre", "right")
THIRD_SIDES: tuple[str, ...] = (*_THIRD_ROWS, *_THIRD_COLUMNS)
THIRD_CROP = "third_"  # a third's crop name: ``third_top`` etc.


def framing_label(region: str, crop: str | None = None, orientation: Orientation = Orientation.ORIGINAL) -> str:
    """A framing's query label: ``region[+crop][/orientation]`` (see the module docstring)."""
    label = region if crop is None else f"{region}+{crop}"
    return label if orientation is Orientation.ORIGINAL else f"{label}/{orientation.value}"


def is_half(label: str) -> bool:
    """Whether a framing label names one half of a region (``content+half_top``,
    ``inside_frame+half_left/flip_x``): a half matches only within the stricter
    `hashmatch.matching.policy.HALF_MATCH_THRESHOLD`."""
    return _crop_of(label).startswith(HALF_CROP)


def is_third(label: str) -> bool:
    """Whether a framing label names one third of a region (``content+third_top``,
    ``whole+third_left/flip_x``): a third matches within the stricter
    `hashmatch.matching.policy.THIRD_MATCH_THRESHOLD` and, stored, only beside another part
    (`hashmatch.matching.policy.THIRDS_AGREEING`)."""
    return _crop_of(label).startswith(THIRD_CROP)


def is_part(label: str) -> bool:
    """Whether a framing label names a part of a region: a half or a third."""
    return is_half(label) or is_third(label)


def _crop_of(label: str) -> str:
    """The crop a framing label names (``half_top/flip_x`` of ``whole+half_top/flip_x``), or ""."""
    _, plus, crop = label.partition("+")
    return crop if plus else ""


def framing_orientation(label: str) -> Orientation:
    """The orientation a framing label ends with (``inside_frame/flip_x``), upright when none."""
    _, _, suffix = label.rpartition("/")
    return Orientation(suffix) if suffix in _ORIENTATION_NAMES else Orientation.ORIGINAL


@dataclass(frozen=True)
class LabelledHash:
    """One more hash of a picture than its main ones: a framing or an orientation, with its label,
    and for a framing found by a search (``uneven_crop``, ``inside_frame``) the region it covers."""

    signal: str
    value: str
    label: str
    region: Region | None = None


@dataclass(frozen=True)
class Candidate:
    """A stored framing an unevenly cut copy is worth searching toward: its PDQ hash, and the row
    of the copy's uneven-crop grid to start from (`hashmatch.media.uneven`)."""

    row: int
    stored: str


# One copy's uneven-crop grid as the coalition is asked about it: framing keys and PDQ hashes, row for row.
Grid = tuple[Sequence[str], Sequence[str]]


class CropSearch(Protocol):
    """A checked file's search for where a shared picture's or video's stored crops lie inside it
    (`hashmatch.media.uneven`): the `grids` it asks the coalition about, and, given the candidates
    found for each grid in order, the file's hashes with what the search found toward them added
    as queries (`refine`). It holds pixels: never stored or sent, and dropped by `refine`."""

    @property
    def grids(self) -> list[Grid]: ...

    def refine(self, hashes: MediaHashes, answers: Sequence[Sequence[Candidate]]) -> MediaHashes: ...

    def to_json(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class FrameHash:
    """The PDQ hash of one video frame at `offset` seconds; for a checked video's samples the PDQ
    hashes of the frame's 7 other rotations/flips (`OTHER_ORIENTATIONS` order) and its `framings`
    to query (`hashmatch.media.framing.sample_framings`); for a shared video's frame that starts a
    run, the crops stored with the run (`stored_frame_framings`). Framings are (label, PDQ hex),
    labelled as a picture's framings are."""

    offset: float
    pdq: str
    quality: int
    orientations: tuple[str, ...] = ()
    framings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MediaHashes:
    """Everything hashing one file produced.

    `signals` holds one lowercase hex hash per signal name (the file digests, and for images every
    picture signal), `quality` the quality of those that have one. `queries` are the other hashes a
    checked picture is looked up with (its main hashes' rotations/flips and its framings),
    `framings` the framings a shared picture stores beside its main hashes. `frames` are a video's
    (or an animation's) per-frame PDQ hashes. A checked image or video also carries its
    `uneven_crops` search (`CropSearch`: `hashmatch.media.uneven.UnevenCropSearch`,
    `hashmatch.media.uneven.VideoCropSearch`), which the edge runs toward the stored framings the
    coalition names; it holds small lumas and is never stored or sent. A shared
    image carries its `cut_views` (`hashmatch.media.uneven.cut_views`): PDQ hashes of it as copies
    cut unevenly show it, sent with the share for the retroactive scan and never stored.
    """

    media: MediaKind
    signals: dict[str, str]
    quality: dict[str, int] = field(default_factory=dict)
    queries: tuple[LabelledHash, ...] = ()
    framings: tuple[LabelledHash, ...] = ()
    frames: tuple[FrameHash, ...] = ()
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    extra: dict[str, object] = field(default_factory=dict)
    cut_views: tuple[str, ...] = ()
    uneven_crops: CropSearch | None = field(default=None, compare=False, repr=False)

    @property
    def pdq_quality(self) -> int | None:
        """The quality of the main PDQ hash (None when there is none)."""
        return self.quality.get("pdq")

    def orientation_hashes(self, signal: str) -> tuple[str, ...]:
        """A checked picture's 7 other rotations/flips of `signal`'s main hash (`OTHER_ORIENTATIONS` order)."""
        by_label = {q.label: q.value for q in self.queries if q.signal == signal}
        return tuple(by_label[o.value] for o in OTHER_ORIENTATIONS if o.value in by_label)

    def framing_hashes(self) -> tuple[LabelledHash, ...]:
        """The framings among `queries` (a check) or `framings` (a share): everything but orientations."""
        orientations = {o.value for o in OTHER_ORIENTATIONS}
        return self.framings + tuple(q for q in self.queries if q.label not in orientations)


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
