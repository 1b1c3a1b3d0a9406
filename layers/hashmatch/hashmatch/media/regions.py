"""Where a picture sits inside a larger frame: an app screenshot, a duet or stitch, a collage, a
border or a frame drawn around it.

Re-uploads often show the shared picture as one part of something larger: a phone screenshot with
a status bar, a header, an action row and comments; a duet beside other footage; a stitch above
it; a caption bar; a decorative border. The frame is rarely a solid bar (`hashmatch.media.bars`
finds those), but the picture keeps four straight edges, or shares some with the frame. So:

1. edge maps: the boundary between two rows is an edge at a column where the mean of the two rows
   below differs from the mean of the two rows above by more than `EDGE_STEP` grey levels *and*
   by `DOMINANCE` times the variation along the line on its flatter side (texture varies both
   ways; the edge of a pasted picture steps across and runs flat along); columns alike;
2. lines: rows (and columns) holding a run of edge at least `MIN_RUN` of the side long, the
   `MAX_LINES` longest, plus the image's own borders;
3. every rectangle with its top and bottom on two lines and its sides on two lines is scored by how
   much of each of its four sides is edge (an image border counts as edge); those whose weakest
   side is at least `MIN_SIDE_COVER` edge are kept, without near-duplicates, in two rankings taken
   in turn: best covered first (then the larger), and the same with an image border counting only
   `BORDER_COVER`. A full-width rule across a screenshot closes a rectangle against the borders for
   free, so the first ranking alone filled the first places with those and left a picture pasted
   with margins (four edges of its own) eleventh of twelve; in the second it comes first.
4. a picture set between gutters (a post of several pictures, an album, a thin border) has an
   edge on either side of each gutter, and the rectangle out to the far one covers as well and is
   larger: each side is moved in, across a flat strip (`GUTTER_SPREAD`), to the farthest line
   within `SAME_RECTANGLE`, or every hash of the picture is ~1% of its side off.
5. a post of several pictures, or a collage, divides its frame into cells, and a union of cells
   (a post's top row, its left column) is as well covered as a cell and larger, so both rankings
   put the unions first, and a photo's cell often ranked out of the best two frames. So the cells
   of such a grid come right after the first of each
   ranking, best covered and larger first, and are returned as `GridCell`: rectangles whose four
   sides are all at least `CELL_COVER` edge and that no line as well covered runs across from
   side to side (one at least the least side, `MIN_SIDE_SHARE`, inside the rectangle's own sides).
   Nothing is ranked down: the first two are as before.

All of it on the luma of the PDQ thumbnail (at most 512 pixels a side, `hashmatch.media.framing.FRAME_SIDE`),
vectorised: cumulative sums along the edge maps give the coverage of any side at once. Measured on phone and microblog
screenshots, duets, stitches and caption layouts (`benchmarks/bench_robustness.py`), and on
unrelated photos, where lines inside the picture (a window, a horizon) give rectangles that hash
far from every stored picture: the check simply queries a few more framings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hashmatch.media.model import Region

__all__ = ["MAX_RECTANGLES", "GridCell", "frame_rectangles"]

EDGE_STEP = 10.0  # grey levels between the two rows on either side of an edge
DOMINANCE = 1.5  # the step exceeds the along-line variation on its flatter side this many times
ALONG = 2  # edges across a line are looked for every this many pixels along it (each its mean)
RUN_GAP = 2  # gaps in an edge line this short (steps along it) are closed: anti-aliasing, JPEG ringing
MIN_RUN = 0.15  # a line holds a run of edge at least this share of the side long
MAX_LINES = 18  # the longest lines kept per direction (plus the borders)
LINE_SPACING = 2  # lines closer than this (pixels) are one
MIN_SIDE_SHARE = 0.15  # a rectangle is at least this share of the image's side
MIN_SIDE_PIXELS = 24  # and at least this many pixels
MIN_SIDE_COVER = 0.6  # each side of a rectangle is at least this much edge
BORDER_COVER = MIN_SIDE_COVER  # what an image border counts for in the ranking by a picture's own edges
AREA_WEIGHT = 0.25  # in the ranking, a rectangle's share of the image counts this much beside its cover
MAX_RECTANGLES = 12
SAME_RECTANGLE = 0.015  # rectangles whose edges are all closer than this (share of the side) are one
CELL_COVER = 0.9  # each side of a grid's cell is at least this much edge, and so is a line that splits one
GUTTER_SPREAD = 6.0  # grey levels (standard deviation) a strip inside a side spans at most to be a gutter


def frame_rectangles(luma: np.ndarray, limit: int = MAX_RECTANGLES) -> list[Region]:
    """Up to `limit` rectangles where a picture may sit inside the frame `luma` shows, best first;
    never the whole image; the cells of a grid as `GridCell`. Empty for an image too small to hold
    one, or with no straight edges.

    `luma` is a 2-D array of grey levels (0-255), any size: the constants were measured on lumas of
    at most 512 pixels a side.
    """
    height, width = luma.shape
    if min(height, width) < 2 * MIN_SIDE_PIXELS:
        return []
    pixels = np.asarray(luma, dtype=np.float32)
    # Edges along each boundary between rows (boundary r lies above row r), and between columns,
    # every `ALONG` pixels along the boundary.
    across_rows = _edge_map(_pooled(pixels))  # (height + 1, width // ALONG)
    across_cols = _edge_map(np.ascontiguousarray(_pooled(pixels.T)))  # (width + 1, height // ALONG)
    rows = np.asarray(sorted({0, height, *_lines(across_rows, MIN_RUN * width / ALONG)}))
    cols = np.asarray(sorted({0, width, *_lines(across_cols, MIN_RUN * height / ALONG)}))
    least_height, least_width = (
        max(MIN_SIDE_PIXELS, MIN_SIDE_SHARE * height),
        max(MIN_SIDE_PIXELS, MIN_SIDE_SHARE * width),
    )
    top, bottom = _spans(rows, least_height)
    left, right = _spans(cols, least_width)
    if not len(top) or not len(left):
        return []
    # A side's cover depends on its own line and the span across it only: computed once per line
    # and span, then read for every rectangle, (row span, column span) pairs row-major.
    across = _cover(across_rows, rows, left // ALONG, right // ALONG, border=(0, height))  # (row lines, column spans)
    down = _cover(across_cols, cols, top // ALONG, bottom // ALONG, border=(0, width))  # (column lines, row spans)
    row_index, col_index = {line: k for k, line in enumerate(rows)}, {line: k for k, line in enumerate(cols)}
    top_line, bottom_line = [row_index[r] for r in top], [row_index[r] for r in bottom]
    left_line, right_line = [col_index[c] for c in left], [col_index[c] for c in right]
    covers = np.stack([across[top_line], across[bottom_line], down[left_line].T, down[right_line].T], axis=-1).reshape(
        -1, 4
    )
    split = _split(across, rows, (top, bottom), least_height) | _split(down, cols, (left, right), least_width).T
    row_spans, col_spans = len(top), len(left)
    top, bottom = np.repeat(top, col_spans), np.repeat(bottom, col_spans)
    left, right = np.tile(left, row_spans), np.tile(right, row_spans)
    on_border = np.stack([top == 0, bottom == height, left == 0, right == width], axis=1)
    kept = np.flatnonzero((covers.min(axis=1) >= MIN_SIDE_COVER) & ~on_border.all(axis=1))
    area = (bottom - top)[kept] * (right - left)[kept] / (height * width)
    # Two rankings, taken in turn: by cover with the image's borders as full edges (a picture the
    # borders close: a duet, a stitch, one fitted to the screen's width under a caption bar), and
    # with a border counting only `BORDER_COVER` (a picture pasted with four edges of its own: a post
    # with margins), which the rules across a screenshot would otherwise push out of the first few.
    closed_by_borders = np.argsort(-(covers[kept].mean(axis=1) + AREA_WEIGHT * area), kind="stable")
    own_edges = np.where(on_border[kept], BORDER_COVER, covers[kept])
    with_own_edges = np.argsort(-(own_edges.mean(axis=1) + AREA_WEIGHT * area), kind="stable")
    in_turn = _first_seen(np.stack([closed_by_borders, with_own_edges], axis=1).ravel())
    # A grid's cells next, best covered and larger first.
    is_cell = (covers[kept].min(axis=1) >= CELL_COVER) & ~split.ravel()[kept]
    cells = closed_by_borders[is_cell[closed_by_borders]]
    order = _first_seen(np.concatenate([in_turn[:2], cells, in_turn[2:]]))
    edges = np.stack([left / width, top / height, right / width, bottom / height], axis=1)[kept[order]]
    ranked_cells = is_cell[order]
    found: list[Region] = []
    while len(edges) and len(found) < limit:
        best = edges[0]
        inside = _inside_gutters(Region(*(float(edge) for edge in best)), pixels, rows, cols)
        if not any(inside.close_to(other, SAME_RECTANGLE) for other in found):
            found.append(GridCell(inside.left, inside.top, inside.right, inside.bottom) if ranked_cells[0] else inside)
        # The best of the rest, leaving out near-duplicates of the one just taken.
        rest = np.abs(edges[1:] - best).max(axis=1) > SAME_RECTANGLE
        edges, ranked_cells = edges[1:][rest], ranked_cells[1:][rest]
    return found


@dataclass(frozen=True)
class GridCell(Region):
    """A rectangle `frame_rectangles` found that is a cell of a grid: its four sides are each at
    least `CELL_COVER` edge, and no line as well covered runs across it."""


def _first_seen(ranks: np.ndarray) -> np.ndarray:
    """`ranks` without repeats, each where it first appears."""
    _, first = np.unique(ranks, return_index=True)
    return ranks[np.sort(first)]


def _split(cover: np.ndarray, lines: np.ndarray, spans: tuple[np.ndarray, np.ndarray], least: float) -> np.ndarray:
    """(spans, spans across): whether a rectangle spanning `spans` (first, second pairs of `lines`)
    one way and each span of `cover` (`_cover`: lines, spans across) the other has, at least `least`
    inside its own sides, a line at least `CELL_COVER` edge along the whole span across: two cells
    or more of a grid, not one."""
    first, second = spans
    inside = (lines >= first[:, None] + least) & (lines <= second[:, None] - least)  # (spans, lines)
    split: np.ndarray = inside.astype(np.int32) @ (cover >= CELL_COVER).astype(np.int32) > 0
    return split


def _inside_gutters(region: Region, pixels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> Region:
    """`region` (whose sides lie on `rows` and `cols`, lines of `pixels`) with each side moved in to
    the farthest line within `SAME_RECTANGLE` of it where the strip between them is flat
    (`GUTTER_SPREAD`; a pixel next to either line left aside, where edges blur): a gutter, a
    margin or a thin border."""
    height, width = pixels.shape
    left, top, right, bottom = region.pixel_box(width, height)
    reach_down, reach_across = SAME_RECTANGLE * height + 1, SAME_RECTANGLE * width + 1
    top = _moved_in(top, 1, rows, reach_down, lambda a, b: pixels[a:b, left:right])
    bottom = _moved_in(bottom, -1, rows, reach_down, lambda a, b: pixels[a:b, left:right])
    left = _moved_in(left, 1, cols, reach_across, lambda a, b: pixels[top:bottom, a:b])
    right = _moved_in(right, -1, cols, reach_across, lambda a, b: pixels[top:bottom, a:b])
    return Region(left / width, top / height, right / width, bottom / height)


def _moved_in(side: int, inward: int, lines: np.ndarray, reach: float, strip: Callable[[int, int], np.ndarray]) -> int:
    """The farthest of `lines` at most `reach` from `side` in the `inward` direction (+1: toward
    higher positions) whose strip from `side` (`strip(first, last)`, the pixels between, a pixel
    next to either line left aside) is flat; `side` itself when there is none."""

    def flat(line: int) -> bool:
        first, last = sorted((side, line))
        between = strip(first + 1, last - 1)
        return between.size > 0 and float(between.std()) <= GUTTER_SPREAD

    inner = [int(line) for line in lines if 0 < (line - side) * inward <= reach and flat(int(line))]
    return max(inner, key=lambda line: line * inward, default=side)


def _pooled(luma: np.ndarray) -> np.ndarray:
    """`luma` averaged over runs of `ALONG` pixels along each row: edges across the rows keep their
    place to the pixel, at a fraction of the work."""
    kept = luma.shape[1] // ALONG * ALONG
    pooled: np.ndarray = luma[:, 0:kept:ALONG].copy()
    for offset in range(1, ALONG):
        pooled += luma[:, offset:kept:ALONG]
    pooled *= 1.0 / ALONG
    return pooled


def _edge_map(luma: np.ndarray) -> np.ndarray:
    """(rows + 1, cols) booleans: whether the boundary above row r is an edge at column c (the
    image's first, second and last boundaries never are: a two-row mean needs two rows each side).

    Sums of two rows stand for their means, so both sides of each comparison are doubled; every
    step works in place on a few arrays the size of the picture, which are most of the cost.
    """
    rows, cols = luma.shape
    edges = np.zeros((rows + 1, cols), dtype=bool)
    if rows < 4 or cols < 3:
        return edges
    pairs = luma[:-1] + luma[1:]  # pairs[i]: rows i and i + 1
    step = pairs[2:] - pairs[:-2]  # boundary i + 2: rows i + 2, i + 3 against rows i, i + 1
    np.abs(step, out=step)
    gradient = np.diff(luma, axis=1)
    np.abs(gradient, out=gradient)
    along = np.empty_like(luma)  # the larger step to either neighbour along the line
    np.maximum(gradient[:, :-1], gradient[:, 1:], out=along[:, 1:-1])
    along[:, 0], along[:, -1] = along[:, 1], along[:, -2]
    along_pairs = np.add(along[:-1], along[1:], out=pairs)
    flatter = np.minimum(along_pairs[:-2], along_pairs[2:], out=along[:-3])
    flatter *= DOMINANCE
    inner = edges[2:-2]
    np.greater(step, flatter, out=inner)
    inner &= step > 2.0 * EDGE_STEP
    return _closed(edges)


def _closed(edges: np.ndarray) -> np.ndarray:
    """Gaps of at most `RUN_GAP` pixels along each line filled (a morphological closing)."""
    grown = edges.copy()
    for shift in range(1, RUN_GAP + 1):
        grown[:, shift:] |= edges[:, :-shift]
    closed = grown.copy()
    for shift in range(1, RUN_GAP + 1):
        closed[:, :-shift] &= grown[:, shift:]
    return closed


def _lines(edges: np.ndarray, min_run: float) -> list[int]:
    """Positions of the boundaries holding the longest runs of edge (at least `min_run` long), at
    most `MAX_LINES`, no two within `LINE_SPACING`."""
    counts = _cumulative(edges)
    shortest = math.ceil(min_run)
    if shortest >= counts.shape[1]:
        return []
    # Lines where some window of that length is all edge hold such a run: only those are measured.
    candidates = np.flatnonzero(((counts[:, shortest:] - counts[:, :-shortest]) >= shortest).any(axis=1))
    counts = counts[candidates]
    # The run ending at each position: its count less the count at the last gap before it.
    upto = counts[:, 1:]
    at_gaps = np.where(upto == counts[:, :-1], upto, 0)
    longest = np.zeros(len(edges), dtype=np.int64)
    if len(candidates):
        longest[candidates] = (upto - np.maximum.accumulate(at_gaps, axis=1)).max(axis=1)
    kept: list[int] = []
    for line in np.argsort(-longest, kind="stable").tolist():
        if longest[line] < min_run or len(kept) == MAX_LINES:
            break
        if all(abs(line - other) > LINE_SPACING for other in kept):
            kept.append(line)
    return kept


def _spans(lines: np.ndarray, min_length: float) -> tuple[np.ndarray, np.ndarray]:
    """Every (first, second) pair of `lines` at least `min_length` apart."""
    first, second = np.meshgrid(lines, lines, indexing="ij")
    wide = second - first >= min_length
    return first[wide], second[wide]


def _cumulative(edges: np.ndarray) -> np.ndarray:
    """Edge counts along each line up to each position: (lines, length + 1)."""
    counts = np.zeros((edges.shape[0], edges.shape[1] + 1), dtype=np.int16 if edges.shape[1] < 2**15 else np.int32)
    np.cumsum(edges, axis=1, out=counts[:, 1:])
    return counts


def _cover(
    edges: np.ndarray, lines: np.ndarray, start: np.ndarray, end: np.ndarray, border: tuple[int, int]
) -> np.ndarray:
    """(lines, spans): the share of each span [start, end) that is edge along each of `lines`, the
    best of the line and its two neighbours (an edge found a pixel off still counts); 1 along the
    image's own `border` lines."""
    near = np.clip(lines[:, None] + np.array([-1, 0, 1]), 0, len(edges) - 1)  # (lines, 3)
    counts = _cumulative(edges[near.ravel()]).reshape(len(lines), 3, -1)
    covered = counts[:, :, end] - counts[:, :, start]  # (lines, 3, spans)
    best = covered.max(axis=1) / np.maximum(end - start, 1)
    best[np.isin(lines, border)] = 1.0
    return best
