"""Framings: PDQ hashes of the regions of a picture that let edited copies match.

PDQ follows the picture's framing closely: a crop of 1% per side moves it ~22 bits, 2% ~40 bits,
so plain PDQ misses copies that add pixels (letterbox bars, 9:16 padding with solid or blurred
fill, caption bars) or lose some (crops). Framings put the framing back:

- `stored_framings(image)`: 4 hashes stored beside a shared image's main PDQ: its content (inside
  its own letterbox bars, if any), central crops of that at 90% and 80%, so a copy cropped by 5%
  or 10% per side finds a stored hash with the same framing, and its middle band (without the top
  and bottom 16%, where captions, meme text and watermarks go).
- `check_framings(image)`: for a checked image, the hashes queried beside its main PDQ and its 8
  rotations/flips: the content rectangles found inside padding, bars and caption bars, each in its
  8 rotations/flips (all from one DCT), and for the whole image and the image without its caption
  bars, central crops from 98% down to 90% (as they are and mirrored), so a copy cropped by
  anything from 0 to 10% per side lands within 1% of a stored framing, and the middle band of the
  whole image and of the picture inside padding: ~30-40 hashes; and the search for copies cut
  unevenly (`hashmatch.media.uneven`).

Every region is hashed from one luma at most 256 pixels on the long side: a summed-area table gives
the exact area average of any rectangle on PDQ's 64x64 grid, then PDQ's DCT, median threshold and
quality score apply unchanged. Area averaging ignores the source resolution, so these hashes also
hold where the reference filter aliases (fine textures, small text) under resizing and flips; that
is why the whole image is stored once more as a region hash. Hashes of PDQ quality below 50 are
never produced, and an image that is flat inside the bars or padding found around it produces none.
`benchmarks/bench_robustness.py` measures all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from hashmatch.media.bars import MIN_BORDER, MIN_CONTENT, bar_thickness, solid_bars
from hashmatch.media.model import WHOLE, LabelledHash, Region, framing_label
from hashmatch.signals.base import ORIENTATIONS, Orientation
from hashmatch.signals.pdq import (
    PDQ,
    PDQ_GRID,
    PDQ_MEDIAN_RANK,
    PDQ_MIN_QUALITY,
    DCT_16x64,
    coefficients_to_hex,
    dihedral_coefficients,
    quality_scores,
)

if TYPE_CHECKING:
    from hashmatch.media.uneven import UnevenCropSearch

__all__ = [
    "INDEX_CROP_SCALES",
    "OVERLAY_MARGIN",
    "QUERY_CROP_SCALES",
    "AnalysisLuma",
    "Framing",
    "check_framings",
    "content_regions",
    "query_framings",
    "stored_framings",
]

# Borders are found and regions hashed on a luma at most this long: a 64x64 grid cell still averages
# 2-4 pixels of even a small region, and hashes match as well as from 512 pixels, for a quarter of
# the work.
WORK_SIDE = 256

# Central crops of the content stored for a shared image, as a share of each side: a copy cropped
# by c per side keeps the central 1 - 2c.
INDEX_CROP_SCALES: tuple[float, ...] = (0.9, 0.8)
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
MIN_SIDE = 16  # images smaller than this (analysis pixels) are hashed whole only


class Framing:
    """The names of the regions framings cover, as query labels start (`hashmatch.media.model`)."""

    WHOLE = "whole"
    CONTENT = "content"  # a shared picture inside its own bars, or whole
    INSIDE_BARS = "inside_bars"
    INSIDE_PADDING = "inside_padding"
    BELOW_CAPTION = "below_caption"
    ABOVE_CAPTION = "above_caption"
    BETWEEN_CAPTIONS = "between_captions"
    MIDDLE_BAND = "middle_band"

    @staticmethod
    def central_crop(scale: float) -> str:
        return f"central_crop_{round(scale * 100)}"


_IDENTITY = (Orientation.ORIGINAL,)
_MIRRORED = (Orientation.ORIGINAL, Orientation.FLIP_X)


def stored_framings(image: Image.Image) -> tuple[LabelledHash, ...]:
    """The framings to store for a shared image, beside its main PDQ.

    Four: the content (the whole image, or what lies inside its own letterbox or pillarbox bars),
    its central crops at `INDEX_CROP_SCALES` and its middle band; fewer where a hash's PDQ quality
    is below 50 or two framings hash alike. `image` is upright (EXIF applied), any size or mode.
    """
    luma = AnalysisLuma(image)
    content = _inside_own_bars(luma.pixels)
    regions = [
        (None, content),
        *((Framing.central_crop(scale), content.central_crop(scale)) for scale in INDEX_CROP_SCALES),
        (Framing.MIDDLE_BAND, content.without_margins(OVERLAY_MARGIN)),
    ]
    return _unique(
        LabelledHash(PDQ.name, value, framing_label(Framing.CONTENT, crop, orientation))
        for crop, region in regions
        for orientation, value in luma.hashes(region, _IDENTITY)
    )


def check_framings(image: Image.Image) -> tuple[tuple[LabelledHash, ...], UnevenCropSearch | None]:
    """What a checked image is looked up with besides its main PDQ and its rotations/flips: the
    framings to query (`query_framings`), and the search for uneven crops (None when the image is
    too small, blank or flat, or flat inside its padding or bars).

    `image` is upright (EXIF applied), any size or mode.
    """
    from hashmatch.media.uneven import UnevenCropSearch

    luma = AnalysisLuma(image)
    framings = _query_framings(luma)
    if framings is None:
        return (), None
    search = UnevenCropSearch(luma)
    return framings, search if search.keys else None


def query_framings(image: Image.Image) -> tuple[LabelledHash, ...]:
    """The framings to query for a checked image, beside its main PDQ and its rotations/flips.

    The whole image and each content rectangle found (inside padding, bars or caption bars) in
    its 8 rotations/flips; for the whole image and the image without its caption bars also central
    crops at `QUERY_CROP_SCALES`, as they are and mirrored; the middle band of the whole image and
    of the picture inside padding, as they are and mirrored. Hashes of PDQ quality below 50 are left
    out, and a blank or flat image, or one flat inside its padding or bars, gives none.
    """
    return _query_framings(AnalysisLuma(image)) or ()


def content_regions(image: Image.Image) -> list[tuple[str, Region]]:
    """The named rectangles `query_framings` hashes before cropping: the whole image first."""
    framed, padded = _candidates(AnalysisLuma(image).pixels)
    return [*framed, *padded]


def _query_framings(luma: AnalysisLuma) -> tuple[LabelledHash, ...] | None:
    """`query_framings` of `luma`; None for a picture flat inside the frame found around it."""
    framed, padded = _candidates(luma.pixels)
    inside = {name: luma.hashes(region, ORIENTATIONS) for name, region in (*framed, *padded)}
    if _blank_inside_frame(inside, [*framed, *padded]):
        return None
    found: list[LabelledHash] = []

    def add(name: str, crop: str | None, hashes: list[tuple[Orientation, str]]) -> None:
        found.extend(LabelledHash(PDQ.name, value, framing_label(name, crop, o)) for o, value in hashes)

    for name, region in framed:
        add(name, None, inside[name])
        for scale in QUERY_CROP_SCALES:
            add(name, Framing.central_crop(scale), luma.hashes(region.central_crop(scale), _MIRRORED))
    for name, _region in padded:
        add(name, None, inside[name])
    for name, region in ((Framing.WHOLE, WHOLE), *padded):
        add(name, Framing.MIDDLE_BAND, luma.hashes(region.without_margins(OVERLAY_MARGIN), _MIRRORED))
    return _unique(found)


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

    Only bars in equal pairs count: a photo's flat sky or wall is content, and trimming it would
    move every stored hash away from copies that keep it.
    """
    height, width = luma.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        return WHOLE
    left, top, right, bottom = solid_bars(luma)
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


# ---------------------------------------------------------------- hashing regions


_DCT_16x64_SINGLE = DCT_16x64.astype(np.float32)
_CELL_EDGES = np.linspace(0.0, 1.0, PDQ_GRID + 1)


class AnalysisLuma:
    """A picture's luma (Y = 0.299 R + 0.587 G + 0.114 B) at most `WORK_SIDE` long, with a
    summed-area table for the area average of any rectangle, and PDQ of any region of it."""

    def __init__(self, image: Image.Image) -> None:
        grey = _shrunk(image if image.mode == "L" else image.convert("L"), WORK_SIDE)
        self.pixels = np.asarray(grey, dtype=np.float64)
        self.height, self.width = self.pixels.shape
        self.table = np.zeros((self.height + 1, self.width + 1))
        self.table[1:, 1:] = self.pixels.cumsum(axis=1).cumsum(axis=0)

    @property
    def too_small(self) -> bool:
        return self.height < MIN_SIDE or self.width < MIN_SIDE

    def hashes(self, region: Region, orientations: Sequence[Orientation]) -> list[tuple[Orientation, str]]:
        """PDQ hashes of `region` in the `orientations` asked for; none when quality is below 50."""
        block = self._block(region)
        if block is None or quality_scores(block) < PDQ_MIN_QUALITY:
            return []
        coefficients = dihedral_coefficients(DCT_16x64 @ block @ DCT_16x64.T)
        return [(o, coefficients_to_hex(coefficients[ORIENTATIONS.index(o)])) for o in orientations]

    def grid(self, xs: Sequence[tuple[float, float]], ys: Sequence[tuple[float, float]]) -> list[tuple[Region, str]]:
        """Every rectangle spanning one of `xs` (left, right) across and one of `ys` (top, bottom)
        down, as shares of the sides, row by row, with its PDQ hash (as it is); none for a
        rectangle of quality below 50, and none at all for an image smaller than `MIN_SIDE`.

        In single precision, for speed: a hash may differ from `hashes` of the same rectangle by a
        bit or two, where a coefficient lies that close to the median.
        """
        if self.too_small or not xs or not ys:
            return []
        averages = self.blocks(xs, ys, np.float32)
        usable = quality_scores(averages) >= PDQ_MIN_QUALITY
        dct = _DCT_16x64_SINGLE
        coefficients = dct @ averages[usable] @ dct.T
        rectangles = [Region(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]
        kept = [region for region, keep in zip(rectangles, usable.ravel().tolist(), strict=True) if keep]
        return [(region, coefficients_to_hex(c)) for region, c in zip(kept, coefficients, strict=True)]

    def centred_coefficients(self, xs: Sequence[tuple[float, float]], ys: Sequence[tuple[float, float]]) -> np.ndarray:
        """PDQ's 256 DCT coefficients of every rectangle of `xs` by `ys`, minus each one's median
        (single precision): row k is rectangle (k // len(xs), k % len(xs)); positive where the bit is set."""
        blocks = self.blocks(xs, ys, np.float32)
        dct = _DCT_16x64_SINGLE
        coefficients = (dct @ blocks @ dct.T).reshape(len(ys) * len(xs), -1)
        median = np.partition(coefficients, PDQ_MEDIAN_RANK, axis=1)[:, PDQ_MEDIAN_RANK : PDQ_MEDIAN_RANK + 1]
        centred: np.ndarray = coefficients - median
        return centred

    def _block(self, region: Region) -> np.ndarray | None:
        """PDQ's 64x64 buffer of `region`: area averages; None for a region under a pixel across."""
        if (region.right - region.left) * self.width < 1.0 or (region.bottom - region.top) * self.height < 1.0:
            return None
        block: np.ndarray = self.blocks([(region.left, region.right)], [(region.top, region.bottom)])[0, 0]
        return block

    def blocks(
        self, xs: Sequence[tuple[float, float]], ys: Sequence[tuple[float, float]], dtype: type = np.float64
    ) -> np.ndarray:
        """The 64x64 buffers of every rectangle of `xs` across by `ys` down: (len(ys), len(xs), 64, 64).

        The integral of a piecewise-constant image is bilinear inside each pixel, so interpolating
        the table at fractional cell edges gives exact area averages over fractional cells. The
        interpolation is separable: along the columns for every span of `ys`, then along the rows
        of those strips for every span of `xs`, so the rectangles of a grid share the first step.
        """
        col, col_weight, col_sizes = _grid_positions(xs, self.width)
        row, row_weight, row_sizes = _grid_positions(ys, self.height)
        edges = self.table[row] * (1.0 - row_weight)[..., None] + self.table[row + 1] * row_weight[..., None]
        strips = (np.diff(edges, axis=1) / row_sizes[..., None]).astype(dtype)  # (y, 64, width + 1), summed along x
        low, high = strips[:, :, col], strips[:, :, col + 1]
        corners = low + (high - low) * col_weight.astype(dtype)  # (y, 64, x, 65)
        averages = np.diff(corners, axis=3) / col_sizes.astype(dtype)  # (y, 64, x, 64)
        return averages.transpose(0, 2, 1, 3)


def _grid_positions(spans: Sequence[tuple[float, float]], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each span, PDQ's 65 cell edges along an axis of `size` pixels: the table index below
    each, the fraction beyond it, and the 64 cell sizes."""
    bounds = np.asarray(spans, dtype=np.float64) * size
    edges = bounds[:, :1] + (bounds[:, 1:] - bounds[:, :1]) * _CELL_EDGES
    index, weight = _split(edges, size)
    return index, weight, np.diff(edges, axis=1)


def _split(positions: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer table index below each position (clamped) and the fraction beyond it."""
    clipped = np.clip(positions, 0.0, float(size))
    index = np.minimum(clipped.astype(np.intp), size - 1)
    return index, clipped - index


def _shrunk(image: Image.Image, side: int) -> Image.Image:
    longest = max(image.size)
    if longest <= side:
        return image
    if longest >= 4 * side:  # a cheap integer box reduction first
        image = image.reduce(longest // (2 * side))
        longest = max(image.size)
    scale = side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)


def _unique(hashes: Iterable[LabelledHash]) -> tuple[LabelledHash, ...]:
    """Each hash value once, with the first label it came with."""
    seen: dict[str, LabelledHash] = {}
    for labelled in hashes:
        seen.setdefault(labelled.value, labelled)
    return tuple(seen.values())
