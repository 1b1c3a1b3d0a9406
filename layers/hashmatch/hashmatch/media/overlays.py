"""Graphics drawn or pasted over a picture (stickers, emoji, text boxes, logos), found and painted over.

A copy re-posted with a sticker or a text box over the picture still shows most of it, but PDQ is
a global hash: a box over a fifth of the picture moves it 40-100 bits, and where the overlay
straddles the middle no half (`hashmatch.media.framing`) is left clean either. What was drawn over
a photo is solid: an area of one grey level with sharp edges, which a photo's own surfaces (sky,
walls, skin, with their grain and gradients) rarely are. So a check looks for solid patches
(`overlay_mask`) on its frame luma (at most 512 pixels long, where a sticker's face is still tens
of pixels across):

- tiles of `TILE` pixels whose grey levels span at most `FLAT_RANGE` are flat; neighbouring flat
  tiles of the same level (`SAME_LEVEL`) join into patches;
- a patch counts when it is one level throughout (the spread of its tiles' levels at most
  `SOLID_SPREAD`: a smooth gradient chains flat tiles but is no patch), covers between `MIN_AREA`
  and `MAX_AREA` of the picture and does not touch its edge (bars, padding and borders are trimmed
  elsewhere, and a photo's plain sky or wall usually runs off the edge);
- the mask is the patches with what they enclose (the text on a box, a sticker's eyes), grown by a
  tile to cover their rims and outlines; none when it would cover more than `MAX_MASK`.

The picture is then painted over the mask from its surroundings (`painted_over`: each masked cell
takes the mean of the known cells around it, the nearest first), which brings back the low
frequencies PDQ keeps. The painted picture is only ever queried beside everything else, at the
usual thresholds (`hashmatch.media.framing`, ``uncovered_*`` labels): a photo's own solid surface
found as an overlay costs a few hashes, never a match. Set with `benchmarks/study_overlays.py`
(TUNED families, tuned photos only): of the 66 copies under text boxes, under stickers and
composed, a flat tile spanning at most 2, 3, 4 or 6 grey levels found 42, 43, 45 and 43 (42
without painting); a patch's spread of 3, a step of 4 between neighbours' levels, or a patch of up
to 40% and a mask of up to 50% found 45, as shipped.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = [
    "FLAT_RANGE",
    "MAX_AREA",
    "MAX_MASK",
    "MIN_AREA",
    "MIN_PICTURE_MASK",
    "PAINT_CELL",
    "SAME_LEVEL",
    "SOLID_SPREAD",
    "TILE",
    "overlay_mask",
    "painted_over",
]

TILE = 4  # pixels of the frame luma (at most 512 long) a side
FLAT_RANGE = 4.0  # grey levels a flat tile's pixels span at most (a drawn fill, resized and JPEG-coded)
SAME_LEVEL = 2.0  # grey levels between the means of neighbouring flat tiles of one patch
SOLID_SPREAD = 1.5  # the standard deviation of a patch's tile means, at most (grey levels)
MIN_AREA = 0.001  # a patch covers at least this share of the picture
MAX_AREA = 0.3  # and at most this share
MAX_MASK = 0.4  # a mask covering more than this share is no overlay: the picture is left as it is
# A checked picture is painted over only where its mask covers at least this share: smaller marks
# move PDQ too little for painting to matter. Of the TUNED copies of tuned photos, 565 of 616 are
# found with a floor of 0, 1%, 2%, 4% or 7%, and 594, 501, 417, 268 and 159 of the 812 checks are
# painted over (`benchmarks/study_overlays.py --part floor`). A video's samples have no floor: an
# alignment counts samples up to 40 bits away, where a little matters.
MIN_PICTURE_MASK = 0.04
PAINT_CELL = 4  # analysis pixels a side of the cells the painting works on
# Window radii (cells) of the painting passes: each fills what the narrower left empty.
_PAINT_RADII = (1, 3, 9, 27)
_PAINT_MIN_SHARE = 0.05  # a pass fills a cell when at least this share of its window is known


def overlay_mask(luma: np.ndarray) -> np.ndarray | None:
    """Where graphics seem drawn over `luma` (2-D grey levels): a boolean array of its shape, or
    None when nothing solid was found (or too much: `MAX_MASK`)."""
    height, width = luma.shape
    rows, cols = height // TILE, width // TILE
    if rows < 3 or cols < 3:
        return None
    grid = np.asarray(luma[: rows * TILE, : cols * TILE], dtype=np.float32)
    flat = ((_per_tile(grid, np.maximum) - _per_tile(grid, np.minimum)) <= FLAT_RANGE).ravel()
    cells = np.flatnonzero(flat)
    if not len(cells):
        return None
    level = (_per_tile(grid, np.add) / (TILE * TILE)).ravel()
    labels = _patches(cells, level, rows, cols)
    # Per patch: its area, the spread of its tiles' levels, whether it reaches the edge.
    area = np.bincount(labels, minlength=len(cells))
    mean = np.bincount(labels, weights=level[cells], minlength=len(cells)) / np.maximum(area, 1)
    spread = np.sqrt(
        np.maximum(
            np.bincount(labels, weights=level[cells] ** 2, minlength=len(cells)) / np.maximum(area, 1) - mean**2, 0
        )
    )
    row, col = np.divmod(cells, cols)
    at_edge = (row == 0) | (row == rows - 1) | (col == 0) | (col == cols - 1)
    reaches_edge = np.bincount(labels, weights=at_edge, minlength=len(cells)) > 0
    count = rows * cols
    overlay = (area >= MIN_AREA * count) & (area <= MAX_AREA * count) & ~reaches_edge & (spread <= SOLID_SPREAD)
    if not overlay.any():
        return None
    kept = np.zeros((rows, cols), dtype=bool)
    for patch in np.flatnonzero(overlay):
        members = labels == patch
        kept |= _enclosed(row[members], col[members], rows, cols)
    if kept.mean() > MAX_MASK:
        return None
    mask = np.zeros((height, width), dtype=bool)
    mask[: rows * TILE, : cols * TILE] = np.repeat(np.repeat(_grown(kept), TILE, axis=0), TILE, axis=1)
    return mask


def painted_over(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`pixels` (2-D grey levels) with the masked ones painted from their surroundings; `mask` (any
    size: scaled to `pixels`, a pixel masked where any of it is).

    Painted on cells of `PAINT_CELL` pixels, the size of a PDQ grid cell on a whole analysis luma:
    each cell's level is the mean of its known pixels, cells with none take the mean of the known
    cells around them (windows of `_PAINT_RADII` cells, narrowest first), and every masked pixel
    takes its cell's level."""
    height, width = pixels.shape
    if mask.shape != pixels.shape:
        scaled = Image.fromarray(mask.astype(np.uint8) * 255).resize((width, height), Image.Resampling.BOX)
        mask = np.asarray(scaled) > 0
    rows, cols = -(-height // PAINT_CELL), -(-width // PAINT_CELL)
    known = np.zeros((rows * PAINT_CELL, cols * PAINT_CELL))
    known[:height, :width] = ~mask
    values = np.zeros_like(known)
    values[:height, :width] = pixels * known[:height, :width]
    weight, total = _per_tile(known, np.add, PAINT_CELL), _per_tile(values, np.add, PAINT_CELL)
    level = total / np.maximum(weight, 1.0)
    known_cells = (weight > 0).astype(np.float64)
    for radius in _PAINT_RADII:
        if known_cells.all():
            break
        # Sums over the window around each cell (zero outside the picture): their ratio is the
        # mean level of the known cells there, and the known share says whether there are enough.
        share = _box_sums(known_cells, radius)
        filled = (known_cells == 0.0) & (share >= _PAINT_MIN_SHARE * (2 * radius + 1) ** 2)
        level[filled] = _box_sums(level * known_cells, radius)[filled] / share[filled]
        known_cells[filled] = 1.0
    painted = np.asarray(pixels, dtype=np.float64).copy()
    cell_of = np.repeat(np.repeat(level, PAINT_CELL, axis=0), PAINT_CELL, axis=1)[:height, :width]
    painted[mask] = cell_of[mask]
    return painted


def _patches(cells: np.ndarray, level: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The patch of each of `cells` (flat tiles, as indices into the rows x cols grid): neighbouring
    flat tiles within `SAME_LEVEL` of each other are joined. Patch numbers index `cells`.

    Connected components by hooking and pointer jumping over the joins (Shiloach-Vishkin): a
    handful of rounds whatever a patch's shape, each over the flat tiles only."""
    position = np.full(rows * cols, -1)
    position[cells] = np.arange(len(cells))
    joins = []
    for step, allowed in ((1, (cells % cols) < cols - 1), (cols, cells < (rows - 1) * cols)):
        left = cells[allowed]
        right = position[left + step]
        near = right >= 0
        left, right = position[left[near]], right[near]
        joins.append((left, right))
    a = np.concatenate([j[0] for j in joins])
    b = np.concatenate([j[1] for j in joins])
    same = np.abs(level[cells[a]] - level[cells[b]]) <= SAME_LEVEL
    a, b = a[same], b[same]
    parent = np.arange(len(cells))
    while True:
        root_a, root_b = parent[a], parent[b]
        if np.array_equal(root_a, root_b):
            return parent
        np.minimum.at(parent, np.maximum(root_a, root_b), np.minimum(root_a, root_b))
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def _enclosed(rows_of: np.ndarray, cols_of: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The tiles of one patch (given by their rows and columns) with what it encloses: every tile
    between the patch's first and last tile both along its row and along its column (the text on a
    box, a sticker's eyes)."""
    top, left = int(rows_of.min()), int(cols_of.min())
    box = np.zeros((int(rows_of.max()) - top + 1, int(cols_of.max()) - left + 1), dtype=bool)
    box[rows_of - top, cols_of - left] = True
    across = np.arange(box.shape[1])
    down = np.arange(box.shape[0])
    first_col = np.where(box.any(axis=1), box.argmax(axis=1), box.shape[1])
    last_col = box.shape[1] - 1 - box[:, ::-1].argmax(axis=1)
    first_row = np.where(box.any(axis=0), box.argmax(axis=0), box.shape[0])
    last_row = box.shape[0] - 1 - box[::-1].argmax(axis=0)
    along_rows = (across[np.newaxis, :] >= first_col[:, np.newaxis]) & (
        across[np.newaxis, :] <= last_col[:, np.newaxis]
    )
    along_cols = (down[:, np.newaxis] >= first_row[np.newaxis, :]) & (down[:, np.newaxis] <= last_row[np.newaxis, :])
    enclosed = np.zeros((rows, cols), dtype=bool)
    enclosed[top : top + box.shape[0], left : left + box.shape[1]] = box | (along_rows & along_cols)
    return enclosed


def _per_tile(grid: np.ndarray, combine: np.ufunc, size: int = TILE) -> np.ndarray:
    """`combine` (maximum, minimum, add) folded over each `size`-square tile of `grid` (whose sides
    are multiples of `size`): as strided slices, many times faster than reducing a reshaped
    array's short axes."""
    across = grid[:, 0::size].copy()
    for k in range(1, size):
        combine(across, grid[:, k::size], out=across)
    folded = across[0::size].copy()
    for k in range(1, size):
        combine(folded, across[k::size], out=folded)
    return folded


def _grown(kept: np.ndarray) -> np.ndarray:
    """`kept` and every tile beside or diagonal to one: a patch's rim and outline, which tiles
    straddle, are painted over too."""
    grown = kept.copy()
    grown[1:] |= kept[:-1]
    grown[:-1] |= kept[1:]
    wide = grown.copy()
    wide[:, 1:] |= grown[:, :-1]
    wide[:, :-1] |= grown[:, 1:]
    return wide


def _box_sums(values: np.ndarray, radius: int) -> np.ndarray:
    """The sum of `values` over the (2 radius + 1)-square window around each pixel, zero outside."""
    size = 2 * radius + 1
    down = np.cumsum(np.pad(values, ((radius + 1, radius), (0, 0))), axis=0)
    rows = down[size:] - down[:-size]
    across = np.cumsum(np.pad(rows, ((0, 0), (radius + 1, radius))), axis=1)
    return across[:, size:] - across[:, :-size]
