"""ORB-like local features on numpy alone, for `study_local_features.py --extractor numpy`.

A design prototype, not a shipped feature: the hashing layer cannot hold OpenCV (its wheel is 173
MB; the layer's pinned packages take 234 MB of the 250 a function may hold) and scikit-image's ORB
takes ~150 ms a picture, so this measures what a small extractor of our own would find and cost.

- Corners: FAST-9 (9 contiguous pixels of the 16 on a radius-3 circle all brighter, or all darker,
  than the centre by `FAST_THRESHOLD`), looked up per pixel in a table of the 65,536 circle masks;
  ranked by their Harris response after a 3 x 3 non-maximum suppression.
- Spread: at most a `GRID` x `GRID`-th of the keypoints from each cell of the picture first, then
  the strongest of the rest, so that the letters of a caption or a text box, the strongest corners
  in most photos, cannot take every keypoint.
- Orientation: the intensity centroid of a disc of radius `PATCH`, in `ANGLE_BINS` steps.
- Descriptor: steered BRIEF, 256 comparisons of box-smoothed pixels at seeded Gaussian offsets,
  the pattern turned to the keypoint's orientation.
- Scales: a pyramid of `LEVELS` levels, `SCALE` apart; keypoints shared out by each level's area;
  their places given at the picture's size.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

FAST_THRESHOLD = 0.05  # of the 0-1 grey range
PATCH = 15  # radius of the orientation disc and half side of the descriptor's patch
BORDER = PATCH + 14  # no keypoint nearer the edge: the turned pattern must stay inside
ANGLE_BINS = 30
GRID = 8
LEVELS = 4
SCALE = 1.3
HARRIS_K = 0.04
# The 16 pixels of FAST's circle, (dx, dy), in order around it.
CIRCLE = np.array(
    [
        (0, 3), (1, 3), (2, 2), (3, 1), (3, 0), (3, -1), (2, -2), (1, -3),
        (0, -3), (-1, -3), (-2, -2), (-3, -1), (-3, 0), (-3, 1), (-2, 2), (-1, 3),
    ]
)  # fmt: skip


def _run_of_nine() -> np.ndarray:
    """For each 16-bit mask of the circle, whether 9 contiguous bits (around the circle) are set."""
    masks = np.arange(1 << 16, dtype=np.uint32)
    doubled = masks | (masks << 16)
    found = np.zeros(1 << 16, dtype=bool)
    for start in range(16):
        window = np.uint32(((1 << 9) - 1) << start)
        found |= (doubled & window) == window
    return found


def _pattern() -> np.ndarray:
    """The 256 comparisons (x1, y1, x2, y2) turned to each of `ANGLE_BINS` angles: (bins, 256, 4)."""
    pairs = np.clip(np.round(np.random.default_rng(1234).normal(0, 31 / 5, size=(256, 4))), -13, 13)
    x1, y1, x2, y2 = pairs.T
    turned = []
    for k in range(ANGLE_BINS):
        cos, sin = np.cos(2 * np.pi * k / ANGLE_BINS), np.sin(2 * np.pi * k / ANGLE_BINS)
        turned.append(np.stack([cos * x1 - sin * y1, sin * x1 + cos * y1, cos * x2 - sin * y2, sin * x2 + cos * y2], 1))
    return np.round(np.stack(turned)).astype(np.int64)


RUN_OF_NINE = _run_of_nine()
PATTERN = _pattern()
_DY, _DX = np.mgrid[-PATCH : PATCH + 1, -PATCH : PATCH + 1]
DISC = (_DX**2 + _DY**2) <= PATCH**2


def extract(image: Image.Image, side: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `count` keypoints of `image` fitted within `side` pixels: their places (n, 2) as row,
    column at that size, and their descriptors (n, 4) uint64, 256 bits each."""
    grey = image.convert("L")
    grey.thumbnail((side, side), Image.Resampling.BILINEAR)
    areas = np.array([SCALE ** (-2 * level) for level in range(LEVELS)])
    shares = np.maximum(1, np.round(count * areas / areas.sum())).astype(int)
    places, descriptors = [], []
    for level in range(LEVELS):
        factor = SCALE**level
        size = (max(1, round(grey.width / factor)), max(1, round(grey.height / factor)))
        if min(size) < 2 * (BORDER + 1):
            break
        luma = np.asarray(grey.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
        found = _keypoints(luma, int(shares[level]))
        places.append(found * factor)
        descriptors.append(_describe(luma, found))
    if not places:
        return np.zeros((0, 2)), np.zeros((0, 4), dtype=np.uint64)
    return np.concatenate(places), np.concatenate(descriptors)


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    """The mean over a (2 radius + 1)-pixel square around each pixel, edges repeated."""
    padded = np.pad(values, radius, mode="edge")
    sums = np.pad(np.cumsum(np.cumsum(padded, 0), 1), ((1, 0), (1, 0)))
    k = 2 * radius + 1
    return (sums[k:, k:] - sums[:-k, k:] - sums[k:, :-k] + sums[:-k, :-k]) / (k * k)


def _corners(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FAST-9 corners (a mask) and the Harris response, both the size of `luma`."""
    height, width = luma.shape
    padded = np.pad(luma, 3, mode="edge")
    ring = np.stack([padded[3 + dy : 3 + dy + height, 3 + dx : 3 + dx + width] for dx, dy in CIRCLE])
    corner = np.zeros((height, width), dtype=bool)
    for flags in (ring > luma + FAST_THRESHOLD, ring < luma - FAST_THRESHOLD):
        mask = np.zeros((height, width), dtype=np.uint16)
        for k in range(16):
            mask |= flags[k].astype(np.uint16) << np.uint16(k)
        corner |= RUN_OF_NINE[mask]
    gy, gx = np.gradient(luma)
    xx, yy, xy = _box(gx * gx, 3), _box(gy * gy, 3), _box(gx * gy, 3)
    return corner, xx * yy - xy * xy - HARRIS_K * (xx + yy) ** 2


def _keypoints(luma: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` corners, (n, 2) row and column, strongest first, spread over the grid."""
    corner, harris = _corners(luma)
    height, width = luma.shape
    corner[:BORDER] = corner[-BORDER:] = False
    corner[:, :BORDER] = corner[:, -BORDER:] = False
    padded = np.pad(harris, 1, mode="constant", constant_values=-np.inf)
    around = [padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    corner &= harris > np.max(np.stack([a for k, a in enumerate(around) if k != 4]), axis=0)
    rows, cols = np.nonzero(corner)
    if not len(rows):
        return np.zeros((0, 2), dtype=np.int64)
    score = harris[rows, cols]
    cell = (rows * GRID // height) * GRID + cols * GRID // width
    order = np.lexsort((-score, cell))
    rank = np.empty(len(order), dtype=np.int64)  # within its cell, strongest first
    rank[order] = np.arange(len(order)) - np.searchsorted(cell[order], np.arange(GRID * GRID))[cell[order]]
    per_cell = max(1, count // (GRID * GRID))
    first, rest = np.flatnonzero(rank < per_cell), np.flatnonzero(rank >= per_cell)
    rest = rest[np.argsort(-score[rest])][: max(0, count - len(first))]
    kept = np.concatenate([first, rest])
    kept = kept[np.argsort(-score[kept])][:count]
    return np.stack([rows[kept], cols[kept]], axis=1)


def _describe(luma: np.ndarray, places: np.ndarray) -> np.ndarray:
    if not len(places):
        return np.zeros((0, 4), dtype=np.uint64)
    rows, cols = places[:, 0], places[:, 1]
    disc = luma[rows[:, None, None] + _DY[None], cols[:, None, None] + _DX[None]] * DISC
    angle = np.arctan2((disc * _DY).sum((1, 2)), (disc * _DX).sum((1, 2)))
    turned = PATTERN[np.round(angle / (2 * np.pi) * ANGLE_BINS).astype(np.int64) % ANGLE_BINS]
    smooth = _box(luma, 2)
    first = smooth[rows[:, None] + turned[:, :, 1], cols[:, None] + turned[:, :, 0]]
    second = smooth[rows[:, None] + turned[:, :, 3], cols[:, None] + turned[:, :, 2]]
    return np.ascontiguousarray(np.packbits(first < second, axis=1)).view(np.uint64)
