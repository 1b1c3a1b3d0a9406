"""Framings: PDQ hashes of the regions of a picture that let edited copies match.

PDQ follows the picture's framing closely: a crop of 1% per side moves it ~22 bits, 2% ~40 bits,
so plain PDQ misses copies that add pixels (letterbox bars, 9:16 padding with solid or blurred
fill, caption bars) or lose some (crops). Framings put the framing back:

- `stored_framings(image)`: 6 hashes stored beside a shared image's main PDQ: its content (inside
  its own letterbox bars, if any), central crops of that at 90% and 80%, so a copy cropped by 5%
  or 10% per side finds a stored hash with the same framing, its middle band (without the top
  and bottom 16%, where captions, meme text and watermarks go), its central 60% (for copies cut
  by up to 20% a side) and its central core (`CORE_SHAPE`: a small centred rectangle that a copy
  filled to another shape, a phone screen or a square, still shows whole); and beside them its 4
  halves (top, bottom, left, right), for copies with text, a sticker or a person pasted over one
  side (stored as their own entry kind: a half matches only within the stricter
  `hashmatch.matching.policy.HALF_MATCH_THRESHOLD`), and its 6 thirds (three bands across it,
  three down it), for overlays across the middle that leave no half clean (their own kind too:
  held to the stricter `hashmatch.matching.policy.THIRD_MATCH_THRESHOLD`, and matching only
  where two parts of the picture agree, `THIRDS_AGREEING`).
- `check_framings(image)`: for a checked image, the hashes queried beside its main PDQ and its 8
  rotations/flips: the content rectangles found inside padding, bars and caption bars, each in its
  8 rotations/flips (all from one DCT), and for the whole image and the image without its caption
  bars, central crops from 98% down to 90% (as they are and mirrored), so a copy cropped by
  anything from 0 to 10% per side lands within 1% of a stored framing, and the middle band of the
  whole image and of the picture inside padding: ~30-40 hashes; the halves and thirds of each content
  rectangle (the whole image, the image without its caption bars, the picture inside bars or
  padding), as they are and mirrored; the picture found inside a larger
  frame (`inside_frame`, below), the picture turned back by a few degrees (`hashmatch.media.tilt`),
  the picture found turned or keystoned inside a larger frame and set upright, whole and at the
  stored crops' scales (`inside_slanted_frame`, `hashmatch.media.slanted`); the picture with what
  seems drawn over it (a sticker, a text box; a half-transparent box unblended) painted over, whole,
  at the central crops, by halves and inside the frames found (`uncovered_*`,
  `hashmatch.media.overlays`); the pHash of the views among these that may show the picture whole
  and upright (`hashmatch.media.model.PHASH_VIEWS`), labelled as their PDQ, so that pHash can
  corroborate a PDQ of theirs a little past its threshold; and the search for
  copies cut unevenly (`hashmatch.media.uneven`), on the picture as it is and, where something
  seems drawn over it, painted over too (a copy cut unevenly under a sticker or a logo).

A copy is often the shared picture shown as part of something larger whose borders are not solid
bars: a phone screenshot of a feed or a post, a duet or a stitch beside other footage, a frame drawn
around it. `hashmatch.media.regions.frame_rectangles` finds the rectangles such a picture would fill
(its four straight edges); each is queried as it is and mirrored, labelled ``inside_frame`` with
the rectangle it covers, and so is its central core (``inside_frame+core``, with the same
rectangle): a picture cut to fill a cell (a duet, a stitch, a post of several pictures) kept its
short side and, cut about its centre, shows the stored core whole. (Also querying each with 3%
cut from every side, against a found edge a pixel or a rounded corner off, found no copy of the
tuned screenshots and layouts that the rectangles as found did not: 0 of 308. Nor are their
halves queried: tried on the TUNED copies, they found about a copy more for ~40 more hashes a
check; `benchmarks/study_halves.py` measures the halves that are.)

Every region is hashed from one luma at most 256 pixels on the long side (`hashmatch.media.luma`):
a summed-area table gives the exact area average of any rectangle on PDQ's 64x64 grid, then PDQ's
DCT, median threshold and quality score apply unchanged. Area averaging ignores the source
resolution, so these hashes also hold where the reference filter aliases (fine textures, small
text) under resizing and flips; that is why the whole image is stored once more as a region hash.
Hashes of PDQ quality below 50 are never produced, and an image that is flat inside the bars or
padding found around it produces none. `benchmarks/bench_robustness.py` measures all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image

from hashmatch.media.bars import MIN_BORDER, MIN_CONTENT, bar_thickness, flat_bars, solid_bars
from hashmatch.media.luma import MIN_SIDE, WORK_SIDE, AnalysisLuma, shrunk
from hashmatch.media.model import (
    HALF_CROP,
    HALF_SIDES,
    THIRD_CROP,
    THIRD_SIDES,
    UNCOVERED_WHOLE_QUERY,
    WHOLE,
    LabelledHash,
    Region,
    framing_label,
)
from hashmatch.media.overlays import MIN_PICTURE_MASK, overlay_mask, painted_over, scaled_mask, unblended
from hashmatch.media.regions import frame_rectangles
from hashmatch.media.slanted import MAX_FRAMES as MAX_SLANTED
from hashmatch.media.slanted import SIDE as SLANTED_SIDE
from hashmatch.media.slanted import SlantedFrame, rectified_views, slanted_frames
from hashmatch.media.tilt import tilted_views
from hashmatch.signals.base import ORIENTATIONS, Orientation
from hashmatch.signals.pdq import PDQ
from hashmatch.signals.phash import PHASH, phash

if TYPE_CHECKING:
    from hashmatch.media.uneven import UnevenCropSearch

__all__ = [
    "CORE_SHAPE",
    "DEEP_CROP_SCALE",
    "INDEX_CROP_SCALES",
    "LAYOUT_SAMPLES",
    "OVERLAY_MARGIN",
    "QUERY_CROP_SCALES",
    "WORK_SIDE",
    "AnalysisLuma",
    "Framing",
    "SlantedLayout",
    "Uncovered",
    "check_framings",
    "content_regions",
    "query_framings",
    "sample_framings",
    "sample_luma",
    "shared_cut_views",
    "stored_frame_framings",
    "stored_framings",
    "uncovered_luma",
]

# Central crops of the content stored for a shared image, as a share of each side: a copy cropped
# by c per side keeps the central 1 - 2c.
INDEX_CROP_SCALES: tuple[float, ...] = (0.9, 0.8)
# A deeper central crop stored too (for a picture, and for each run of a video): the uneven-crop
# search looks for it in copies cut by more than 10% on a side, up to 20% on each
# (`hashmatch.media.uneven.DEEP_CUTS`), and turned-back views aim at it where a turn leaves less
# than the 80% crop (`hashmatch.media.tilt`).
DEEP_CROP_SCALE = 0.6
# The central core stored for a picture: a centred rectangle this wide and this high, as shares of
# the content's short side. Apps fill another shape with a picture (a story or a reel fills a 9:16
# to 9:20 phone screen, a feed a square or 4:5, a collage its cell): the copy keeps the picture's
# short side and as little as 25-45% of its long side, around the centre unless the poster moved
# it. Every other stored framing is wider than that; the core lies inside (a 16:9 picture filled
# to a 9:19.5 screen keeps 0.46 of its height across, the core 0.3 of it), and the uneven-crop
# search finds it there (`hashmatch.media.uneven.core_rectangles`). Set with
# `benchmarks/study_core.py` (TUNED photos only, 88 copies filled to another shape): 49 found by
# the core alone with this shape, 30 of the 44 filling a phone screen; 0.4 x 0.5, 50 and 27;
# 0.36 x 0.45, 47; 0.25 x 0.45, 43; other photos' cores no nearer than 74 bits.
CORE_SHAPE: tuple[float, float] = (0.3, 0.45)
# A checked video's slanted frames are looked for in this many of its first sampled frames.
LAYOUT_SAMPLES = 3
# Captions, meme text and watermarks are put over the top and bottom of a picture: its middle band,
# without this share of the height above and below, is stored and queried too (measured on 31
# photos: every copy with meme text or a corner logo keeps that band within 31 bits, where the
# whole picture's PDQ moves up to 78).
OVERLAY_MARGIN = 0.16
# Central crops queried for a checked image: a copy cropped by c, cropped again by q, has the
# framing (1 - 2c) q of the original; q in steps of 0.02 puts that within 1% of 1.0, 0.9 or 0.8
# for every c from 0 to 10%.
QUERY_CROP_SCALES: tuple[float, ...] = (0.98, 0.96, 0.94, 0.92, 0.90)

# Padding around a centred picture (solid or blurred fill): a seam at the same distance from two
# opposite edges, with flat fill outside it.
SEAM_MIN_SCORE = 1.8  # seam step / (1 + detail of the busiest fill line) of an accepted seam
SEAM_MAX_FILL_DETAIL = 0.35  # mean fill detail / picture detail of an accepted seam
MAX_PADDING = 0.375  # padding is looked for within this share of the side, on each side
SEAM_FIRST_ROW = 2  # a seam is never looked for nearer the edge than this many rows

SAME_REGION = 0.005  # rectangles whose edges are closer than this (share of the side) are one
# Frames are looked for on the picture's luma at most this long (the PDQ thumbnail's size): thin
# borders, hairlines and rounded corners that the analysis luma blurs away still show there
# (measured: the picture found in 154 of 220 screenshots and layouts at 512, 138 at 256).
FRAME_SIDE = 512


class Framing:
    """The names of the regions framings cover, as query labels start (`hashmatch.media.model`)."""

    WHOLE = "whole"
    CONTENT = "content"  # a shared picture inside its own bars, or whole
    INSIDE_BARS = "inside_bars"
    INSIDE_PADDING = "inside_padding"
    BELOW_CAPTION = "below_caption"
    ABOVE_CAPTION = "above_caption"
    BETWEEN_CAPTIONS = "between_captions"
    INSIDE_FRAME = "inside_frame"  # a rectangle found inside a larger frame (`frame_rectangles`)
    INSIDE_SLANTED_FRAME = "inside_slanted_frame"  # a turned or keystoned quadrilateral (`slanted_frames`)
    MIDDLE_BAND = "middle_band"
    CORE = "core"  # a shared picture's central core (`CORE_SHAPE`), stored only

    @staticmethod
    def central_crop(scale: float) -> str:
        return f"central_crop_{round(scale * 100)}"

    @staticmethod
    def half(side: str) -> str:
        """One half of a region (`HALF_SIDES`): `hashmatch.media.model.is_half` knows it by this name."""
        return f"{HALF_CROP}{side}"

    @staticmethod
    def third(side: str) -> str:
        """One third of a region (`THIRD_SIDES`): `hashmatch.media.model.is_third` knows it by this name."""
        return f"{THIRD_CROP}{side}"

    @staticmethod
    def uncovered(region: str) -> str:
        """A region of the picture with what seems drawn over it painted over (`hashmatch.media.overlays`)."""
        return f"uncovered_{region}"

    @staticmethod
    def tilted(angle: float) -> str:
        """The picture of a copy turned by `angle` degrees (clockwise when positive), turned back."""
        return f"tilted_{'cw' if angle > 0 else 'ccw'}_{abs(angle):g}"


_IDENTITY = (Orientation.ORIGINAL,)
_MIRRORED = (Orientation.ORIGINAL, Orientation.FLIP_X)
# How many of the rectangles found inside a larger frame (best first) a check carries the pHash of
# besides their PDQ (`_whole_view_phashes`): each is one more PDQ lookup within the corroboration
# limit (48 bits) at the matcher, its widest kind. The first two, as the fine uneven-crop grid
# goes inside the best two frames (`hashmatch.media.uneven`).
PHASH_FRAMES = 2
# ... and only of views at least this many pixels each way on the picture's luma (`WORK_SIDE` long):
# PDQ's grid. A smaller view is stretched to it, with less detail than the hashes have bits, and
# pictures of one scene come together: a picture-in-picture's inset showed one photo of a stereo
# pair within both limits of the other, which whole is far from it by PDQ
# (`tests/unit/test_regions.py::test_a_stereo_pairs_other_photo_as_a_small_inset_does_not_match_by_its_phash`).
PHASH_VIEW_SIDE = 64


def stored_framings(image: Image.Image) -> tuple[LabelledHash, ...]:
    """The framings to store for a shared image, beside its main PDQ.

    Six: the content (the whole image, or what lies inside its own letterbox or pillarbox bars),
    its central crops at `INDEX_CROP_SCALES` and at `DEEP_CROP_SCALE`, its middle band and its
    central core (`CORE_SHAPE`; none when that is under `MIN_SIDE` analysis pixels a side); then
    the content's 4 halves (`HALF_SIDES`, labelled ``content+half_top`` etc.: `is_half`) and its 6
    thirds (`THIRD_SIDES`, ``content+third_top`` etc.: `is_third`); fewer
    where a hash's PDQ quality is below 50 or two framings hash alike. `image` is upright (EXIF
    applied), any size or mode.
    """
    luma = AnalysisLuma(image)
    content = _inside_own_bars(luma.pixels)
    regions = [
        (None, content),
        *((Framing.central_crop(scale), content.central_crop(scale)) for scale in INDEX_CROP_SCALES),
        (Framing.MIDDLE_BAND, content.without_margins(OVERLAY_MARGIN)),
        (Framing.central_crop(DEEP_CROP_SCALE), content.central_crop(DEEP_CROP_SCALE)),
    ]
    regions += [(Framing.CORE, core) for core in _core(content, luma)]
    regions += [(Framing.half(side), content.half(side)) for side in HALF_SIDES]
    regions += [(Framing.third(side), content.third(side)) for side in THIRD_SIDES]
    return _unique(
        LabelledHash(PDQ.name, value, framing_label(Framing.CONTENT, crop, orientation))
        for crop, region in regions
        for orientation, value in luma.hashes(region, _IDENTITY)
    )


def _core(content: Region, luma: AnalysisLuma) -> list[Region]:
    """The central core (`CORE_SHAPE`) of `content`, unless it is under `MIN_SIDE` analysis pixels
    a side (a thin strip's core: a handful of pixels)."""
    core = content.central_core(CORE_SHAPE, (luma.width, luma.height))
    wide = min((core.right - core.left) * luma.width, (core.bottom - core.top) * luma.height) >= MIN_SIDE
    return [core] if wide else []


def _frame_cores(frames: Sequence[Region], luma: AnalysisLuma) -> list[tuple[Region, Region]]:
    """The central core (`CORE_SHAPE`, `_core`) of each of `frames` wide enough to have one, with
    the frame it lies in."""
    return [(core, frame) for frame in frames for core in _core(frame, luma)]


def shared_cut_views(image: Image.Image) -> tuple[str, ...]:
    """A shared image's content (inside its own bars, as `stored_framings` finds it) as copies cut
    unevenly show it (`hashmatch.media.uneven.cut_views`): never stored, only scanned against
    checks retained before the share. `image` is upright (EXIF applied), any size or mode."""
    from hashmatch.media.uneven import cut_views

    luma = AnalysisLuma(image)
    return cut_views(luma, _inside_own_bars(luma.pixels))


def check_framings(
    image: Image.Image, *, colours: Image.Image | None = None
) -> tuple[tuple[LabelledHash, ...], UnevenCropSearch | None]:
    """What a checked image is looked up with besides its main PDQ and its rotations/flips: the
    framings to query (`query_framings`), and the search for uneven crops (None when the image is
    too small, blank or flat, or flat inside its padding or bars).

    `image` is upright (EXIF applied), any size or mode; `colours`, the same picture in colour where
    `image` is its luma only (a JPEG decoded to its Y plane), is where slanted frames are looked for.
    """
    from hashmatch.media.uneven import UnevenCropSearch

    luma, frame_luma = AnalysisLuma(image), _frame_luma(image)
    frames = frame_rectangles(frame_luma)
    slanted = slanted_frames(_frame_rgb(image if colours is None else colours))
    framed, padded = _candidates(luma.pixels)
    uncovered = uncovered_luma(luma, frame_luma, frames)
    framings = _query_framings(luma, frame_luma, frames, slanted, (framed, padded), uncovered=uncovered)
    if framings is None:
        return (), None
    inside_bars = next((region for name, region in padded if name == Framing.INSIDE_BARS), None)
    painted = None if uncovered is None else uncovered.luma
    search = UnevenCropSearch(luma, frames=frames, inside_bars=inside_bars, uncovered=painted)
    return framings, search if search.keys else None


def sample_framings(
    luma: np.ndarray, slanted: Sequence[SlantedFrame] = (), analysis: AnalysisLuma | None = None
) -> tuple[tuple[str, str], ...]:
    """A checked video's sampled frame (2-D grey levels, solid bars already trimmed) as re-posts
    show footage, as (label, PDQ hex): the footage found under or above a caption bar or inside
    padding, and inside a larger frame (a duet, a stitch, a picture-in-picture, a screenshot),
    with the central core of each of those frames (toward the core a shared video stores);
    central crops of the whole frame at `QUERY_CROP_SCALES` (a copy zoomed in or cut evenly, toward
    the crops a shared video stores: `stored_frame_framings`); the whole frame's halves (toward the
    halves it stores); each as it is and mirrored; the
    frame turned back by a few degrees and cut toward the stored 80% crop, or the 60% one where the
    turn leaves less (`hashmatch.media.tilt`);
    the footage inside each of `slanted` (the video's slanted frames, found once for the whole
    video: `SlantedLayout`) set upright; and the frame with what seems drawn over it painted over,
    whole and by halves (`_uncovered`). `analysis` is the frame's small luma, when made already
    (`sample_luma`)."""
    picture = Image.fromarray(np.ascontiguousarray(luma, dtype=np.uint8))
    analysis = analysis if analysis is not None else AnalysisLuma(picture)
    if analysis.too_small:
        return ()
    framed, padded = _candidates(analysis.pixels)
    named: list[tuple[str, str | None, Region]] = [
        (name, None, region) for name, region in (*framed, *padded) if name != Framing.WHOLE
    ]
    frame_luma = _frame_luma(picture)
    frames = frame_rectangles(frame_luma)
    named += [(Framing.INSIDE_FRAME, None, region) for region in frames]
    named += [(Framing.INSIDE_FRAME, Framing.CORE, core) for core, _ in _frame_cores(frames, analysis)]
    named += [(Framing.WHOLE, Framing.central_crop(scale), WHOLE.central_crop(scale)) for scale in QUERY_CROP_SCALES]
    named += [(Framing.WHOLE, Framing.half(side), WHOLE.half(side)) for side in HALF_SIDES]
    hashed = analysis.region_hashes([region for *_, region in named], _MIRRORED)
    found = _unique(
        [
            *(
                LabelledHash(PDQ.name, value, framing_label(name, crop, orientation))
                for (name, crop, _), hashes in zip(named, hashed, strict=True)
                for orientation, value in hashes
            ),
            *_tilted(analysis),
            *_inside_slanted(analysis, slanted),
            *_uncovered(uncovered_luma(analysis, frame_luma, frames), (), crops=False),
        ]
    )
    return tuple((labelled.label, labelled.value) for labelled in found)


class SlantedLayout:
    """A checked video's slanted frames (`hashmatch.media.slanted`), found once for the whole video.

    A video turned or shown at a slant inside a larger frame keeps that layout from frame to
    frame, and searching every sampled frame costs several milliseconds each. So the first
    `LAYOUT_SAMPLES` sampled frames are searched, each frame's own frames queried as found; then
    the frames found on at least two of them (the footage inside changes; the layout's edges stay)
    are kept, and every later sample is set upright inside those only.
    """

    def __init__(self) -> None:
        self._found: list[list[SlantedFrame]] = []
        self._kept: list[SlantedFrame] | None = None

    def frames_for(self, luma: np.ndarray) -> list[SlantedFrame]:
        """The slanted frames to set `luma` (a sampled frame, bars trimmed) upright inside."""
        if self._kept is not None:
            return self._kept
        found = slanted_frames(_frame_rgb(Image.fromarray(np.ascontiguousarray(luma, dtype=np.uint8))))
        self._found.append(found)
        if len(self._found) == LAYOUT_SAMPLES:
            self._kept = _recurring(self._found)
        return found


def _recurring(found: Sequence[Sequence[SlantedFrame]]) -> list[SlantedFrame]:
    """The frames of the first sample, then of the others, that recur (near enough) on another sample."""
    kept: list[SlantedFrame] = []
    for number, frames in enumerate(found):
        for frame in frames:
            others = [other for k, sample in enumerate(found) if k != number for other in sample]
            if any(frame.near(other) for other in others) and not any(frame.near(k) for k in kept):
                kept.append(frame)
    return kept[:MAX_SLANTED]


def sample_luma(luma: np.ndarray) -> AnalysisLuma:
    """A video frame's small luma (2-D grey levels, solid bars already trimmed)."""
    return AnalysisLuma(Image.fromarray(np.ascontiguousarray(luma, dtype=np.uint8)))


def stored_frame_framings(luma: np.ndarray) -> tuple[tuple[str, str], ...]:
    """What a shared video stores of a frame (2-D grey levels, solid bars already trimmed) beside
    its whole-frame PDQ: its central crops at `INDEX_CROP_SCALES` and `DEEP_CROP_SCALE`, as (label,
    PDQ hex), labelled as a shared picture's crops are, so that copies zoomed in, cut evenly or
    turned and cut find a stored hash with their framing (`sample_framings` queries toward them);
    its central core (`CORE_SHAPE`), which a copy filled to another shape still shows whole (the
    check's uneven-crop search finds it: `hashmatch.media.video_crops`); and its 4 halves
    (`HALF_SIDES`), for copies with an overlay over one side; none below PDQ's minimum quality."""
    analysis = sample_luma(luma)
    if analysis.too_small:
        return ()
    scales = (*INDEX_CROP_SCALES, DEEP_CROP_SCALE)
    crops = [(Framing.central_crop(scale), WHOLE.central_crop(scale)) for scale in scales]
    crops += [(Framing.CORE, core) for core in _core(WHOLE, analysis)]
    crops += [(Framing.half(side), WHOLE.half(side)) for side in HALF_SIDES]
    hashed = analysis.region_hashes([region for _, region in crops], _IDENTITY)
    found = _unique(
        LabelledHash(PDQ.name, value, framing_label(Framing.CONTENT, crop, orientation))
        for (crop, _), hashes in zip(crops, hashed, strict=True)
        for orientation, value in hashes
    )
    return tuple((labelled.label, labelled.value) for labelled in found)


def query_framings(image: Image.Image) -> tuple[LabelledHash, ...]:
    """The framings to query for a checked image, beside its main PDQ and its rotations/flips.

    The whole image and each content rectangle found (inside padding, bars or caption bars) in
    its 8 rotations/flips; for the whole image and the image without its caption bars also central
    crops at `QUERY_CROP_SCALES`, as they are and mirrored; the middle band of the whole image and
    of the picture inside padding, as they are and mirrored; the halves and thirds of each content
    rectangle, as they are and mirrored; each rectangle found inside a larger
    frame (`hashmatch.media.regions`), as it is and mirrored; the picture turned back by a few
    degrees (`hashmatch.media.tilt`); the picture found turned or keystoned inside a larger frame,
    set upright (`hashmatch.media.slanted`); the picture with what seems drawn over it painted over
    (`_uncovered`). Hashes of PDQ quality below 50 are left out, and a blank or
    flat image, or one flat inside its padding or bars, gives none.
    """
    luma, frame_luma = AnalysisLuma(image), _frame_luma(image)
    frames, slanted = frame_rectangles(frame_luma), slanted_frames(_frame_rgb(image))
    return _query_framings(luma, frame_luma, frames, slanted, uncovered=uncovered_luma(luma, frame_luma, frames)) or ()


def content_regions(image: Image.Image) -> list[tuple[str, Region]]:
    """The named rectangles `query_framings` hashes before cropping: the whole image first."""
    framed, padded = _candidates(AnalysisLuma(image).pixels)
    return [*framed, *padded]


def _query_framings(
    luma: AnalysisLuma,
    frame_luma: np.ndarray,
    frames: Sequence[Region],
    slanted: Sequence[SlantedFrame] = (),
    candidates: tuple[list[tuple[str, Region]], list[tuple[str, Region]]] | None = None,
    *,
    uncovered: Uncovered | None,
) -> tuple[LabelledHash, ...] | None:
    """`query_framings` of `luma` (`frame_luma`: the same picture at `FRAME_SIDE`), whose picture
    may fill one of `frames` or `slanted`, and `uncovered` (`uncovered_luma`); None for a picture
    flat inside the bars or padding found around it. `candidates`: `_candidates` of `luma`, when
    found already."""
    framed, padded = candidates if candidates is not None else _candidates(luma.pixels)
    named = [*framed, *padded]
    inside = dict(
        zip((name for name, _ in named), luma.region_hashes([r for _, r in named], ORIENTATIONS), strict=True)
    )
    if _blank_inside_frame(inside, named):
        return None
    # Everything else is hashed as it is and mirrored, in one batch: (region name, crop, rectangle).
    crops = [
        (name, Framing.central_crop(scale), region.central_crop(scale))
        for name, region in framed
        for scale in QUERY_CROP_SCALES
    ]
    bands = [
        (name, Framing.MIDDLE_BAND, region.without_margins(OVERLAY_MARGIN))
        for name, region in ((Framing.WHOLE, WHOLE), *padded)
    ]
    # Each rectangle found inside a larger frame, and its central core (see the module docstring).
    cores = _frame_cores(frames, luma)
    found_inside: list[tuple[str, str | None, Region]] = [(Framing.INSIDE_FRAME, None, region) for region in frames]
    found_inside += [(Framing.INSIDE_FRAME, Framing.CORE, core) for core, _ in cores]
    found_where = [*frames, *(frame for _, frame in cores)]  # the frame each lies in
    parts = [(name, Framing.half(side), region.half(side)) for name, region in named for side in HALF_SIDES]
    parts += [(name, Framing.third(side), region.third(side)) for name, region in named for side in THIRD_SIDES]
    batch = [*crops, *bands, *found_inside, *parts]
    mirrored = luma.region_hashes([region for *_, region in batch], _MIRRORED)
    found: list[LabelledHash] = []

    def add(name: str, crop: str | None, hashes: list[tuple[Orientation, str]], region: Region | None = None) -> None:
        found.extend(LabelledHash(PDQ.name, value, framing_label(name, crop, o), region) for o, value in hashes)

    for name, _region in framed:
        add(name, None, inside[name])
        for k, (crop_name, crop, _) in enumerate(crops):
            if crop_name == name:
                add(name, crop, mirrored[k])
    for name, _region in padded:
        add(name, None, inside[name])
    for k, (name, crop, _) in enumerate(bands, start=len(crops)):
        add(name, crop, mirrored[k])
    # The rectangles found inside a larger frame carry where they are (`detail.region` of a match),
    # as their JSON form writes it.
    for k, ((name, core, _), frame) in enumerate(
        zip(found_inside, found_where, strict=True), start=len(crops) + len(bands)
    ):
        add(name, core, mirrored[k], Region(*frame.edges()))
    # Halves (text, a sticker or a person pasted over one side leaves the other whole) and thirds
    # (a box across the middle leaves the top and bottom ones) of each content rectangle, as they
    # are and mirrored: a mirrored copy's left half is the picture's right.
    for k, (name, crop, _) in enumerate(parts, start=len(crops) + len(bands) + len(found_inside)):
        add(name, crop, mirrored[k])
    found += _tilted(luma)
    found += _inside_slanted(luma, slanted)
    found += _uncovered(uncovered, frames, least=MIN_PICTURE_MASK)
    found += _whole_view_phashes(luma, named, frames, uncovered, found)
    return _unique(found)


def _frame_luma(image: Image.Image) -> np.ndarray:
    """The picture's luma at most `FRAME_SIDE` long, to find frames in."""
    grey = image if image.mode in ("L", "F") else image.convert("L")
    return np.asarray(shrunk(grey, FRAME_SIDE), dtype=np.float32)


def _frame_rgb(image: Image.Image) -> np.ndarray:
    """The picture's colours (a coloured background often has the luma of the picture it frames)
    at most `slanted.SIDE` long, to find slanted frames in; one grey channel for a picture that has
    no colour (a JPEG is decoded to its luma only), not three copies of it."""
    if image.mode in ("RGB", "L"):
        picture = image
    else:
        picture = image.convert("L" if image.mode in ("F", "I", "I;16", "LA", "La", "1") else "RGB")
    return np.asarray(shrunk(picture, SLANTED_SIDE))


def _inside_slanted(luma: AnalysisLuma, slanted: Sequence[SlantedFrame]) -> list[LabelledHash]:
    """The picture inside each slanted frame set upright (`hashmatch.media.slanted`), whole and at
    the stored crops' scales, as it is and mirrored, labelled ``inside_slanted_frame[+central_crop_NN]``
    with the upright rectangle around the frame."""
    found = []
    for view in rectified_views(luma, slanted, (1.0, *INDEX_CROP_SCALES), _MIRRORED):
        crop = None if view.scale == 1.0 else Framing.central_crop(view.scale)
        region = Region(*view.frame.bounds().edges())  # as its JSON form writes it
        found += [
            LabelledHash(PDQ.name, value, framing_label(Framing.INSIDE_SLANTED_FRAME, crop, o), region)
            for o, value in view.hashes
        ]
    return found


class Uncovered(NamedTuple):
    """A picture with what seems drawn over it taken off (`uncovered_luma`), and the share of it
    that was."""

    luma: AnalysisLuma
    share: float


def uncovered_luma(luma: AnalysisLuma, frame_luma: np.ndarray, frames: Sequence[Region] = ()) -> Uncovered | None:
    """`luma` with what seems drawn over it taken off (`hashmatch.media.overlays`): the
    half-transparent boxes among `frames` (rectangles found in it) unblended, and what seems solid
    over it (a sticker, a text box, a logo: found on `frame_luma`), or opaque on a box taken off,
    painted over; and the share of the picture either covers. None when nothing seems drawn over it."""
    mask = overlay_mask(frame_luma)
    taken_off = unblended(luma.pixels, frames)
    if taken_off is None:
        if mask is None:
            return None
        return Uncovered(AnalysisLuma.from_pixels(painted_over(luma.pixels, mask)), float(mask.mean()))
    pixels, opaque, boxes = taken_off
    painted = opaque if mask is None else scaled_mask(mask, pixels.shape) | opaque
    view = AnalysisLuma.from_pixels(painted_over(pixels, painted) if painted.any() else pixels)
    return Uncovered(view, float((painted | boxes).mean()))


def _uncovered(
    uncovered: Uncovered | None, frames: Sequence[Region], *, crops: bool = True, least: float = 0.0
) -> list[LabelledHash]:
    """The picture with what seems drawn over it taken off (`uncovered_luma`): whole, its
    halves, and with `crops` its central crops at `QUERY_CROP_SCALES`; each of `frames`; as they
    are and mirrored, labelled ``uncovered_<region>[+crop]``; none when nothing seems drawn over
    it, or less than `least` of it."""
    if uncovered is None or uncovered.share < least:
        return []
    view = uncovered.luma
    named: list[tuple[str, str | None, Region]] = [(Framing.WHOLE, None, WHOLE)]
    if crops:
        named += [
            (Framing.WHOLE, Framing.central_crop(scale), WHOLE.central_crop(scale)) for scale in QUERY_CROP_SCALES
        ]
    named += [(Framing.WHOLE, Framing.half(side), WHOLE.half(side)) for side in HALF_SIDES]
    named += [(Framing.INSIDE_FRAME, None, region) for region in frames]
    hashed = view.region_hashes([region for *_, region in named], _MIRRORED)
    return [
        LabelledHash(
            PDQ.name,
            value,
            framing_label(Framing.uncovered(name), crop, orientation),
            Region(*region.edges()) if name == Framing.INSIDE_FRAME else None,
        )
        for (name, crop, region), hashes in zip(named, hashed, strict=True)
        for orientation, value in hashes
    ]


def _whole_view_phashes(
    luma: AnalysisLuma,
    named: Sequence[tuple[str, Region]],
    frames: Sequence[Region],
    uncovered: Uncovered | None,
    queried: Sequence[LabelledHash],
) -> list[LabelledHash]:
    """The pHash of each view of a checked picture that may show a shared picture whole and upright
    (`hashmatch.media.model.PHASH_VIEWS`), at least `PHASH_VIEW_SIDE` pixels each way, and whose
    upright PDQ is among `queried` (so none of a flat view): the content rectangles found inside
    bars, padding or caption bars (`named`; the whole image's pHash is its main one), the first
    `PHASH_FRAMES` rectangles found inside a larger frame, and the picture with what seems drawn
    over it painted over (as `_uncovered` paints it). Each is labelled, and placed, as the view's
    upright PDQ is, so that a PDQ a little past its threshold can be corroborated by it
    (`hashmatch.matching.rules.corroborated_evidence`) as a picture's own pHash corroborates its
    main PDQ."""
    views: list[tuple[str, Region, Region | None]] = [(n, r, None) for n, r in named if n != Framing.WHOLE]
    views += [(Framing.INSIDE_FRAME, frame, Region(*frame.edges())) for frame in frames[:PHASH_FRAMES]]
    pdq = {(q.label, q.region) for q in queried if q.signal == PDQ.name}
    grey = luma.grey()
    crops = [(name, _crop(grey, region), where) for name, region, where in views if (name, where) in pdq]
    if uncovered is not None and (UNCOVERED_WHOLE_QUERY, None) in pdq:
        crops.append((UNCOVERED_WHOLE_QUERY, uncovered.luma.grey(), None))
    return [
        LabelledHash(PHASH.name, phash(Image.fromarray(pixels)), name, where)
        for name, pixels, where in crops
        if min(pixels.shape) >= PHASH_VIEW_SIDE
    ]


def _crop(grey: np.ndarray, region: Region) -> np.ndarray:
    """The part of 8-bit grey levels `grey` that `region` covers."""
    height, width = grey.shape
    left, top, right, bottom = region.pixel_box(width, height)
    return grey[top:bottom, left:right]


def _tilted(luma: AnalysisLuma) -> list[LabelledHash]:
    """The picture turned back by each of `TILT_ANGLES` and cut toward the stored 80% crop, or the
    60% one where the turn leaves less (`hashmatch.media.tilt`), as it is and mirrored, labelled
    ``tilted_cw_N+central_crop_NN``."""
    return [
        LabelledHash(PDQ.name, value, framing_label(Framing.tilted(view.angle), Framing.central_crop(view.scale), o))
        for view in tilted_views(luma, (INDEX_CROP_SCALES[-1], DEEP_CROP_SCALE), _MIRRORED)
        for o, value in view.hashes
    ]


def _blank_inside_frame(inside: dict[str, list[tuple[Orientation, str]]], regions: list[tuple[str, Region]]) -> bool:
    """Flat inside every frame found on two opposite sides: a blank frame, as degenerate as a blank image."""
    framing = [inside[name] for name, region in regions if region.top > 0.0 and region.bottom < 1.0]
    framing += [inside[name] for name, region in regions if region.left > 0.0 and region.right < 1.0]
    return bool(framing) and not any(framing)


# ---------------------------------------------------------------- finding the picture in a frame


def _candidates(luma: np.ndarray) -> tuple[list[tuple[str, Region]], list[tuple[str, Region]]]:
    """Named content rectangles: those a caption may have been added to (the whole image first),
    and those inside bars or padding, where the picture was kept whole."""
    framed: list[tuple[str, Region]] = [(Framing.WHOLE, WHOLE)]
    padded: list[tuple[str, Region]] = []
    height, width = luma.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        return framed, padded

    def add(name: str, borders: tuple[int, int, int, int], into: list[tuple[str, Region]]) -> None:
        region = _region_inside(borders, width, height)
        if region is not None and not any(region.close_to(seen, SAME_REGION) for _, seen in (*framed, *padded)):
            into.append((name, region))

    top = bar_thickness(luma, caption=True)
    bottom = bar_thickness(luma[::-1], caption=True)
    add(Framing.BELOW_CAPTION, (0, top, 0, 0), framed)
    add(Framing.ABOVE_CAPTION, (0, 0, 0, bottom), framed)
    add(Framing.BETWEEN_CAPTIONS, (0, top, 0, bottom), framed)
    add(Framing.INSIDE_BARS, solid_bars(luma), padded)
    rows, cols = _padding(luma), _padding(luma.T)
    add(Framing.INSIDE_PADDING, (cols, rows, cols, rows), padded)
    return framed, padded


def _inside_own_bars(luma: np.ndarray) -> Region:
    """The rectangle inside a shared image's own letterbox or pillarbox bars, if it has them.

    Only flat bars (`hashmatch.media.bars.flat_bars`) in equal pairs count: a photo's plain sky or
    wall, or its dark vignette, is content, and trimming it would move every stored hash away from
    copies that keep it.
    """
    height, width = luma.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        return WHOLE
    left, top, right, bottom = flat_bars(luma, solid_bars(luma))
    if abs(left - right) > SAME_REGION * width + 1:
        left = right = 0
    if abs(top - bottom) > SAME_REGION * height + 1:
        top = bottom = 0
    region = _region_inside((left, top, right, bottom), width, height)
    return WHOLE if region is None else region


def _region_inside(borders: tuple[int, int, int, int], width: int, height: int) -> Region | None:
    left, top, right, bottom = borders
    if not any(borders):
        return None
    if (width - left - right) < MIN_CONTENT * width or (height - top - bottom) < MIN_CONTENT * height:
        return None
    return Region(left / width, top / height, 1.0 - right / width, 1.0 - bottom / height)


def _padding(luma: np.ndarray) -> int:
    """Thickness of even padding above and below a centred picture (0 when none is found).

    The picture's edges are a seam: a step between neighbouring rows at the same distance from
    the top and the bottom, with fill outside it far flatter than the picture. Each candidate
    thickness t scores min(step at t, step at height - t) / (1 + detail of the busiest fill line);
    the best counts when it stands out and its fill is flat on average.
    """
    height = luma.shape[0]
    first, last = max(SEAM_FIRST_ROW, int(MIN_BORDER * height)), int(MAX_PADDING * height)
    if last <= first:
        return 0
    steps = np.abs(np.diff(luma, axis=0)).mean(axis=1)
    step_at = np.concatenate([[0.0], steps, [0.0]])  # step_at[r]: between rows r - 1 and r
    detail = np.abs(np.diff(luma, axis=1)).mean(axis=1)
    detail_before = np.concatenate([[0.0], np.cumsum(detail)])
    thickness = np.arange(first, last + 1)
    far = height - thickness  # the bottom seam, give or take a row when the picture is odd
    step = np.minimum(step_at[thickness], np.maximum(np.maximum(step_at[far - 1], step_at[far]), step_at[far + 1]))
    fill = (detail_before[thickness] + detail_before[height] - detail_before[far]) / (2 * thickness)
    picture = (detail_before[far] - detail_before[thickness]) / (height - 2 * thickness)
    # The busiest fill line, so that a seam found inside the picture (past its flat margin) scores low.
    busiest = np.maximum(
        np.maximum.accumulate(detail)[thickness - 1], np.maximum.accumulate(detail[::-1])[thickness - 1]
    )
    score = step / (1.0 + busiest)
    best = int(np.argmax(score))
    if score[best] < SEAM_MIN_SCORE or fill[best] > SEAM_MAX_FILL_DETAIL * picture[best]:
        return 0
    return int(thickness[best])


def _unique(hashes: Iterable[LabelledHash]) -> tuple[LabelledHash, ...]:
    """Each hash value once, with the first label it came with."""
    seen: dict[str, LabelledHash] = {}
    for labelled in hashes:
        seen.setdefault(labelled.value, labelled)
    return tuple(seen.values())
