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

A half-transparent box (a story's caption background) is not solid: the picture shows through it.
Where a rectangle found in the copy fits one (`unblended`: the picture outside its sides and the
box inside them agree up to a scale and an offset), it is taken off, and what was opaque on it
(its text) joins the mask.

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

from collections.abc import Sequence

import numpy as np
from PIL import Image

from hashmatch.media.model import Region

__all__ = [
    "BOX_MAX_AREA",
    "BOX_MAX_RESIDUAL",
    "BOX_MIN_PAIRS",
    "BOX_MIN_SPREAD",
    "BOX_OPAQUE_MARGIN",
    "BOX_RING",
    "BOX_SLOPE",
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
    "scaled_mask",
    "unblended",
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

# Half-transparent boxes (a story's caption background, often 60-90% opaque) are not solid: the
# picture still shows through, as `a * picture + b` (a: 1 - the box's opacity; b: its opacity
# times its colour). Along each side of a rectangle found in the copy (`hashmatch.media.regions`,
# its straight edges) that is not on the picture's edge, the picture just outside and the box just
# inside pair up, `BOX_RING` pixels off the side along its middle 80% (the corners are rounded): a
# line through the pairs gives a and b (`unblended`). Where the fit is good (its residual at most
# `BOX_MAX_RESIDUAL` of the spread inside) and a lies in `BOX_SLOPE`, the box is taken off; what
# was opaque on it (its text) is painted over. A shadow or a tinted window of the photo's own
# taken off the same way costs a few hashes, never a match: the result is queried beside
# everything else. Set on one TUNED copy (`desk-1` under a white half-transparent box, which it finds)
# and checked on the TUNED sets (`benchmarks/bench_robustness.py --set tuned --set
# tuned-held-out-photos`: 576 -> 577 and 363 -> 363 copies).
BOX_RING = 2  # analysis pixels off a side the pairs are read at, on either side (its rim blurs)
BOX_MIN_PAIRS = 24
BOX_MIN_SPREAD = 8.0  # grey levels the picture outside must spread over for a slope to be fitted
BOX_SLOPE = (0.08, 0.7)  # what shows through: 30-92% opaque
BOX_MAX_AREA = 0.5  # a rectangle over more of the picture is no box laid over it
BOX_MAX_RESIDUAL = 0.6
BOX_OPAQUE_MARGIN = 24.0  # grey levels outside 0-255 past which a taken-off pixel was opaque


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
    mask = scaled_mask(mask, pixels.shape)
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


def scaled_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`mask` scaled to `shape` (rows, columns): a pixel masked where any of it is."""
    if mask.shape == shape:
        return mask
    scaled = Image.fromarray(mask.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(scaled) > 0


def unblended(pixels: np.ndarray, boxes: Sequence[Region]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`pixels` (2-D grey levels) with each of `boxes` (rectangles found in them) that is a
    half-transparent box laid over the picture taken off (`BOX_SLOPE`); where it was opaque on the
    box (its text: what taking it off puts more than `BOX_OPAQUE_MARGIN` outside 0-255), a mask to
    paint over; and where the boxes taken off lie. None when no box is half-transparent."""
    height, width = pixels.shape
    out = np.asarray(pixels, dtype=np.float64).copy()
    opaque = np.zeros((height, width), dtype=bool)
    taken = np.zeros((height, width), dtype=bool)
    for box in boxes:
        x0, y0, x1, y1 = box.pixel_box(width, height)
        if (x1 - x0) * (y1 - y0) > BOX_MAX_AREA * width * height or min(x1 - x0, y1 - y0) <= 4 * BOX_RING:
            continue
        fit = _see_through(out, x0, y0, x1, y1)
        if fit is None:
            continue
        shows, laid = fit
        inside = (out[y0:y1, x0:x1] - laid) / shows
        opaque[y0:y1, x0:x1] |= (inside < -BOX_OPAQUE_MARGIN) | (inside > 255.0 + BOX_OPAQUE_MARGIN)
        out[y0:y1, x0:x1] = np.clip(inside, 0.0, 255.0)
        taken[y0:y1, x0:x1] = True
    return (out, opaque, taken) if taken.any() else None


def _see_through(pixels: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[float, float] | None:
    """How much of the picture a box over pixels [y0, y1) x [x0, x1) lets through and what it lays
    over it (a, b of `a * picture + b`), fitted on the pairs across its sides; None when the pairs
    are too few, the picture outside too flat to fit, the fit poor or the box not half-transparent."""
    height, width = pixels.shape
    ring = BOX_RING
    down = slice(y0 + (y1 - y0) // 10, y1 - (y1 - y0) // 10)  # the middle 80% of a side
    across = slice(x0 + (x1 - x0) // 10, x1 - (x1 - x0) // 10)
    pairs = []  # (outside, inside), one side each, where the side is not on the picture's edge
    if x0 - ring >= 0:
        pairs.append((pixels[down, x0 - ring], pixels[down, x0 + ring]))
    if x1 - 1 + ring < width:
        pairs.append((pixels[down, x1 - 1 + ring], pixels[down, x1 - 1 - ring]))
    if y0 - ring >= 0:
        pairs.append((pixels[y0 - ring, across], pixels[y0 + ring, across]))
    if y1 - 1 + ring < height:
        pairs.append((pixels[y1 - 1 + ring, across], pixels[y1 - 1 - ring, across]))
    if not pairs:
        return None
    outside = np.concatenate([o for o, _ in pairs])
    inside = np.concatenate([i for _, i in pairs])
    if len(outside) < BOX_MIN_PAIRS or outside.std() < BOX_MIN_SPREAD:
        return None
    shows, laid = np.polyfit(outside, inside, 1)
    residual = float(np.std(inside - (shows * outside + laid)))
    if not BOX_SLOPE[0] <= shows <= BOX_SLOPE[1] or residual > BOX_MAX_RESIDUAL * max(float(inside.std()), 1.0):
        return None
    return float(shows), float(laid)


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
