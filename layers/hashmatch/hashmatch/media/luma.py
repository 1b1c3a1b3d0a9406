"""The small luma every framing, found rectangle, tilt and uneven-crop rectangle is hashed from.

`AnalysisLuma` keeps a picture's luma at most `WORK_SIDE` pixels long with a summed-area table, so
the exact area average of any rectangle on PDQ's 64x64 grid costs a few interpolations; PDQ's own
DCT, median threshold and quality score then apply unchanged. Area averaging ignores the source
resolution, so these hashes hold where the reference filter aliases (fine textures, small text)
under resizing and flips.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from hashmatch.media.model import Region
from hashmatch.signals.base import ORIENTATIONS, Orientation
from hashmatch.signals.pdq import (
    PDQ_GRID,
    PDQ_MEDIAN_RANK,
    PDQ_MIN_QUALITY,
    DCT_16x64,
    block_hashes,
    coefficients_to_hexes,
    dihedral_coefficients,
    quality_scores,
)

__all__ = ["CELL_BLUR", "MIN_SIDE", "WORK_SIDE", "AnalysisLuma", "grey_from_json", "grey_to_json", "shrunk"]

# Borders are found and regions hashed on a luma at most this long: a 64x64 grid cell still averages
# 2-4 pixels of even a small region, and hashes match as well as from 512 pixels, for a quarter of
# the work.
WORK_SIDE = 256
CELL_BLUR = 1  # box blur radius (analysis pixels) before sampling cell centres (`cell_sampler`)
MIN_SIDE = 16  # images smaller than this (analysis pixels) are hashed whole only

_DCT_16x64_SINGLE = DCT_16x64.astype(np.float32)
_CELL_EDGES = np.linspace(0.0, 1.0, PDQ_GRID + 1)


class AnalysisLuma:
    """A picture's luma (Y = 0.299 R + 0.587 G + 0.114 B) at most `WORK_SIDE` long, with a
    summed-area table for the area average of any rectangle, and PDQ of any region of it."""

    def __init__(self, image: Image.Image) -> None:
        grey = shrunk(image if image.mode == "L" else image.convert("L"), WORK_SIDE)
        self._index(np.asarray(grey, dtype=np.float64))

    @classmethod
    def from_pixels(cls, pixels: np.ndarray) -> AnalysisLuma:
        """A luma over grey levels already at analysis size, such as another luma's turned copy."""
        luma = cls.__new__(cls)
        luma._index(np.asarray(pixels, dtype=np.float64))
        return luma

    def _index(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        self._sampler: Image.Image | None = None
        self.height, self.width = pixels.shape
        self.table = np.zeros((self.height + 1, self.width + 1))
        self.table[1:, 1:] = pixels.cumsum(axis=1).cumsum(axis=0)
        self._transposed: np.ndarray | None = None  # the table transposed, made when first needed

    def grey(self) -> np.ndarray:
        """The luma as 8-bit grey levels (what `from_pixels` takes back, an eighth of the memory)."""
        return np.clip(np.rint(self.pixels), 0, 255).astype(np.uint8)

    def to_json(self) -> dict[str, object]:
        """The luma as 8-bit grey levels, for `from_json` in another process."""
        return grey_to_json(self.grey())

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> AnalysisLuma:
        """A luma as `to_json` wrote it, checked as untrusted input (`grey_from_json`)."""
        return cls.from_pixels(grey_from_json(raw))

    def cell_sampler(self) -> Image.Image:
        """The luma as 8-bit grey box-blurred over (2 `CELL_BLUR` + 1)^2 pixels, made once: what PDQ's
        64x64 cell centres are read from when a view is turned back or set upright
        (`hashmatch.media.tilt`, `hashmatch.media.slanted`); the blur stands in for a cell's area
        average (a cell is 3-4 analysis pixels across)."""
        if self._sampler is None:
            grey = Image.fromarray(np.clip(np.rint(self.pixels), 0, 255).astype(np.uint8))
            self._sampler = grey.filter(ImageFilter.BoxBlur(CELL_BLUR))
        return self._sampler

    @property
    def too_small(self) -> bool:
        return self.height < MIN_SIDE or self.width < MIN_SIDE

    def hashes(self, region: Region, orientations: Sequence[Orientation]) -> list[tuple[Orientation, str]]:
        """PDQ hashes of `region` in the `orientations` asked for; none when quality is below 50."""
        block = self._block(region)
        if block is None:
            return []
        (hashed,) = block_hashes(block[np.newaxis], orientations)
        return hashed or []

    def region_hashes(
        self, regions: Sequence[Region], orientations: Sequence[Orientation]
    ) -> list[list[tuple[Orientation, str]]]:
        """`hashes` of each of `regions`, in one batch: region by region, the hashes in the
        `orientations` asked for, or none for a region of quality below 50 or under a pixel across."""
        found: list[list[tuple[Orientation, str]]] = [[] for _ in regions]
        wide = [k for k, region in enumerate(regions) if self._spans_a_pixel(region)]
        if not wide:
            return found
        hashed = block_hashes(self.region_blocks([regions[k] for k in wide]), orientations)
        for k, hashes in zip(wide, hashed, strict=True):
            found[k] = hashes or []
        return found

    def grid(
        self,
        xs: Sequence[tuple[float, float]],
        ys: Sequence[tuple[float, float]],
        orientations: Sequence[Orientation] = (Orientation.ORIGINAL,),
    ) -> list[tuple[Region, Orientation, str]]:
        """Every rectangle spanning one of `xs` (left, right) across and one of `ys` (top, bottom)
        down, as shares of the sides, row by row, with its PDQ hash in each of `orientations` (all
        rectangles in the first orientation, then all in the next); none at all when the middle
        rectangle's quality is below 50 (a grid's rectangles share most of their area, so the middle
        one's quality stands for them all), or for an image smaller than `MIN_SIDE`.

        In single precision, for speed: a hash may differ from `hashes` of the same rectangle by a
        bit or two, where a coefficient lies that close to the median.
        """
        if self.too_small or not xs or not ys:
            return []
        middle = self.blocks([xs[len(xs) // 2]], [ys[len(ys) // 2]], np.float32)
        if quality_scores(middle)[0, 0] < PDQ_MIN_QUALITY:
            return []
        oriented = dihedral_coefficients(self.grid_coefficients(xs, ys).reshape(-1, 16, 16))
        rectangles = [Region(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]
        return [
            (region, o, value)
            for o in orientations
            for region, value in zip(rectangles, coefficients_to_hexes(oriented[ORIENTATIONS.index(o)]), strict=True)
        ]

    def grid_coefficients(self, xs: Sequence[tuple[float, float]], ys: Sequence[tuple[float, float]]) -> np.ndarray:
        """PDQ's 16x16 DCT coefficients of every rectangle of `xs` by `ys`, in single precision:
        (len(ys), len(xs), 16, 16).

        The area averages and the DCT are both linear, so the DCT's 16 rows are applied to each
        span of `ys`'s strips of the summed-area table first, and only those 16 rows are then
        interpolated at the cell edges of each span of `xs`: a quarter of what `blocks` gathers,
        and never a 64x64 buffer. That first step costs each span down the whole width, so with
        more spans down than across the picture is taken transposed (its table transposed), whose
        coefficients are the transposed ones: a column of 13 rectangles sliding down a 256 x 160
        luma in 0.2 ms instead of 0.6.
        """
        if len(ys) > len(xs):
            if self._transposed is None:
                self._transposed = np.ascontiguousarray(self.table.T)
            turned = _grid_coefficients(self._transposed, ys, xs, self.height, self.width)
            transposed: np.ndarray = turned.transpose(1, 0, 3, 2)
            return transposed
        return _grid_coefficients(self.table, xs, ys, self.width, self.height)

    def centred_coefficients(
        self,
        xs: Sequence[tuple[float, float]],
        ys: Sequence[tuple[float, float]],
        orientation: Orientation = Orientation.ORIGINAL,
    ) -> np.ndarray:
        """PDQ's 256 DCT coefficients of every rectangle of `xs` by `ys` turned to `orientation`,
        minus each one's median (single precision): row k is rectangle (k // len(xs), k % len(xs));
        positive where the bit is set."""
        coefficients = dihedral_coefficients(self.grid_coefficients(xs, ys))[ORIENTATIONS.index(orientation)]
        coefficients = coefficients.reshape(len(ys) * len(xs), -1)
        median = np.partition(coefficients, PDQ_MEDIAN_RANK, axis=1)[:, PDQ_MEDIAN_RANK : PDQ_MEDIAN_RANK + 1]
        centred: np.ndarray = coefficients - median
        return centred

    def _spans_a_pixel(self, region: Region) -> bool:
        return (region.right - region.left) * self.width >= 1.0 and (region.bottom - region.top) * self.height >= 1.0

    def _block(self, region: Region) -> np.ndarray | None:
        """PDQ's 64x64 buffer of `region`: area averages; None for a region under a pixel across."""
        if not self._spans_a_pixel(region):
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
        # (y, 64, width + 1): each cell row summed along x
        strips = (np.diff(edges, axis=1) / row_sizes[..., None]).astype(dtype)
        low, high = strips[:, :, col], strips[:, :, col + 1]
        corners = low + (high - low) * col_weight.astype(dtype)  # (y, 64, x, 65)
        averages = np.diff(corners, axis=3) / col_sizes.astype(dtype)  # (y, 64, x, 64)
        return averages.transpose(0, 2, 1, 3)

    def region_blocks(self, regions: Sequence[Region]) -> np.ndarray:
        """The 64x64 buffers of each of `regions` (each at least a pixel across): (len(regions), 64, 64).

        The table interpolated at each region's own 65 x 65 cell corners (bilinear, as in `blocks`),
        then differenced: a few small gathers per region, however wide the picture.
        """
        col, col_weight, col_sizes = _grid_positions([(r.left, r.right) for r in regions], self.width)
        row, row_weight, row_sizes = _grid_positions([(r.top, r.bottom) for r in regions], self.height)
        table = self.table.ravel()
        stride = self.table.shape[1]
        at = row[:, :, None] * stride + col[:, None, :]  # the table entry below and left of each corner
        across = col_weight[:, None, :]
        upper = table.take(at)
        upper += (table.take(at + 1) - upper) * across
        lower = table.take(at + stride)
        lower += (table.take(at + stride + 1) - lower) * across
        upper += (lower - upper) * row_weight[:, :, None]  # the integral up to each corner
        sums = np.diff(np.diff(upper, axis=1), axis=2)
        averages: np.ndarray = sums / (row_sizes[:, :, None] * col_sizes[:, None, :])
        return averages


def _grid_coefficients(
    table: np.ndarray, xs: Sequence[tuple[float, float]], ys: Sequence[tuple[float, float]], width: int, height: int
) -> np.ndarray:
    """`AnalysisLuma.grid_coefficients` over the summed-area `table` of a picture `width` x `height`."""
    col, col_weight, col_sizes = _grid_positions(xs, width)
    row, row_weight, row_sizes = _grid_positions(ys, height)
    edges = table[row] * (1.0 - row_weight)[..., None] + table[row + 1] * row_weight[..., None]
    strips = (np.diff(edges, axis=1) / row_sizes[..., None]).astype(np.float32)  # (y, 64, width + 1)
    low = _DCT_16x64_SINGLE @ strips  # (y, 16, width + 1): the DCT down each column of the table
    below, above = low[:, :, col], low[:, :, col + 1]  # (y, 16, x, 65)
    corners = below + (above - below) * col_weight.astype(np.float32)
    cells = np.diff(corners, axis=3) / col_sizes.astype(np.float32)  # (y, 16, x, 64)
    coefficients: np.ndarray = cells.transpose(0, 2, 1, 3) @ _DCT_16x64_SINGLE.T
    return coefficients


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


def grey_to_json(grey: np.ndarray) -> dict[str, object]:
    """8-bit grey levels (2-D) as JSON: their size and their bytes in base64."""
    return {
        "width": int(grey.shape[1]),
        "height": int(grey.shape[0]),
        "luma": base64.b64encode(grey.tobytes()).decode(),
    }


def grey_from_json(raw: dict[str, Any]) -> np.ndarray:
    """8-bit grey levels as `grey_to_json` wrote them, checked as untrusted input: at most
    `WORK_SIDE` a side, as many bytes as the size says; raises ValueError, KeyError or TypeError
    on anything else."""
    width, height = int(raw["width"]), int(raw["height"])
    if not 0 < width <= WORK_SIDE or not 0 < height <= WORK_SIDE:
        raise ValueError("analysis luma of the wrong size")
    pixels = base64.b64decode(raw["luma"], validate=True)
    if len(pixels) != width * height:
        raise ValueError(f"{len(pixels)} bytes of luma for {width} x {height}")
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width)


def shrunk(image: Image.Image, side: int) -> Image.Image:
    """`image` itself when its longest side is at most `side`, else shrunk to it (box filter)."""
    longest = max(image.size)
    if longest <= side:
        return image
    if longest >= 4 * side:  # a cheap integer box reduction first
        image = image.reduce(longest // (2 * side))
        longest = max(image.size)
    scale = side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)
