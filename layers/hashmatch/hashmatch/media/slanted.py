"""Where a picture sits turned or in perspective inside a larger frame, and the picture set upright.

A re-upload often shows the shared picture with four straight edges that are not upright: turned
on a grown canvas (the corners filled with a colour or a background), a photo of a screen or a
print taken at a slant, a picture laid at an angle on a background, a tilted card in a layout.
`hashmatch.media.regions` finds upright rectangles only, and `hashmatch.media.tilt` turns the
whole copy back for pictures whose corners were cut away; neither follows a picture whose own
edges are slanted. So:

1. edges, from the picture's RGB at most `SIDE` pixels a side, box-blurred over 3x3 pixels: a pixel
   is on a near-horizontal edge where the largest step across its rows, over the three channels
   (a coloured background often has the luma of the picture it frames), is at least `EDGE_STEP`
   grey levels per pixel, steeper than along the row by the turn allowed, and no smaller than its
   neighbours' across; near-vertical edges alike;
2. lines, turned by at most `MAX_TURN` degrees from upright: a Hough vote of those edge pixels over
   turns `TURN_STEP` apart, the `MAX_LINES` strongest peaks per direction holding at least
   `MIN_RUN` of the side, less those crossing a stronger line inside the image at a few degrees (a
   chord of that edge), each fitted (least squares) to the edge pixels within 2 pixels of it;
3. every quadrilateral of two near-horizontal and two near-vertical lines whose corners lie inside
   the image, whose sides are at least `MIN_SPAN` of the image apart and which is not upright (two
   sides or more turned by `MIN_SLANT` degrees or more: upright ones are `regions`' work, and a
   turned or keystoned picture slants two sides at least, where one line fitted a little off
   slants one) is scored by the
   share of each side, between its corners, that is edge within a pixel; those whose weakest side
   is at least `MIN_SIDE_COVER` edge are kept, without near-duplicates, taking in turn the best
   covered and the largest (a picture's own letterbox bars or a border inside it are covered
   better than its outline against a busy background).

`rectified_views` then reads each quadrilateral as the upright picture it shows: PDQ's 64x64 cell
centres are mapped onto it by the homography of its corners and sampled from the analysis luma
(`AnalysisLuma.cell_sampler`, as `tilt` does), for the whole quadrilateral and its central crops
at the stored crops' scales, so each lands on a stored framing (content, 90% and 80% crops).
Designed on the TUNED families `slanted: turned 2-12 on a backdrop` and `slanted: laid at a
slant on a backdrop` (`hashmatch_tools.reuploads`; `benchmarks/bench_robustness.py --edit slanted`):
of their copies of the tuned photos 90.9% and 63.6% match, against 18.2% and 0.0% without this
stage, with no false match. A picture is searched at `SIDE` pixels with `MAX_LINES` lines a side
and at most `MAX_VOTERS` voting edge pixels: 3.0 ms of the 12 MP check's 49 ms in
`benchmarks/bench_image_speed.py`, which prints it. A video is searched on its first sampled
frames only, and the frames that recur are kept for the rest (`framing.SlantedLayout`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.model import Region
from hashmatch.signals.base import Orientation
from hashmatch.signals.pdq import PDQ_GRID, block_hashes

__all__ = ["MAX_FRAMES", "SIDE", "SlantedFrame", "SlantedView", "homography", "rectified_views", "slanted_frames"]

EDGE_STEP = 8.0  # grey levels per pixel across an edge (half the step between the two neighbours)
MAX_TURN = 15.0  # degrees a picture's side may be turned from upright
TURN_STEP = 0.5  # degrees between the turns voted for
MAX_LINES = 10  # the strongest lines kept per direction
MAX_VOTERS = 6000  # edge pixels voting per direction; every k-th of a busier picture's (texture, noise)
SIDE = 384  # frames are looked for in the picture at most this many pixels a side
MIN_RUN = 0.2  # a line holds at least this share of the side in edge pixels
CROSSING_TURN = 3.0  # degrees: a weaker line crossing a stronger one at less than this is the same edge
MIN_SPAN = 0.2  # opposite sides are at least this share of the image apart
MIN_SLANT = 0.75  # degrees: a quadrilateral with fewer than two sides turned this much is left to `regions`
MIN_SIDE_COVER = 0.4  # each side is at least this much edge
MAX_FRAMES = 3
SAME_FRAME = 0.015  # quadrilaterals whose corners are all closer than this (share of the long side) are one
CORNER_SLACK = 0.02  # corners may lie this share of the side outside the image (an edge a pixel off)
MIN_SIDE_PIXELS = 48  # images smaller than this on a side hold no frame worth finding


@dataclass(frozen=True)
class SlantedFrame:
    """A quadrilateral where a picture sits: its corners (top-left, top-right, bottom-right,
    bottom-left) as shares of the image's width and height."""

    corners: tuple[tuple[float, float], ...]

    def near(self, other: SlantedFrame) -> bool:
        """Whether every corner is within `SAME_FRAME` of the other's (shares of the sides)."""
        return all(math.dist(a, b) <= SAME_FRAME for a, b in zip(self.corners, other.corners, strict=True))

    def bounds(self) -> Region:
        """The upright rectangle around it, inside the image."""
        xs = [min(max(x, 0.0), 1.0) for x, _ in self.corners]
        ys = [min(max(y, 0.0), 1.0) for _, y in self.corners]
        return Region(min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class SlantedView:
    """The picture a `frame` shows set upright, its central `scale` crop, and that crop's PDQ
    hashes in the orientations asked for."""

    frame: SlantedFrame
    scale: float
    hashes: list[tuple[Orientation, str]]


def slanted_frames(picture: np.ndarray, limit: int = MAX_FRAMES) -> list[SlantedFrame]:
    """Up to `limit` slanted quadrilaterals where a picture may sit inside `picture` (an RGB or grey
    array, at most `SIDE` pixels a side: the constants were measured there), in the order described
    in the module docstring; none for an image too small or without such edges."""
    height, width = picture.shape[:2]
    if min(height, width) < MIN_SIDE_PIXELS:
        return []
    across_rows, across_cols = _edge_maps(picture)
    rows = _lines(across_rows)  # y = c + x t
    cols = _lines(across_cols.T)  # x = c + y t
    if len(rows) < 2 or len(cols) < 2:
        return []
    row_cover = np.stack([_cumulative_cover(across_rows, line) for line in rows])
    col_cover = np.stack([_cumulative_cover(across_cols.T, line) for line in cols])
    (row_t, row_c), (col_t, col_c) = np.asarray(rows).T, np.asarray(cols).T
    # The corner of row line i and column line k.
    corner_y = (row_c[:, None] + col_c[None, :] * row_t[:, None]) / (1.0 - row_t[:, None] * col_t[None, :])
    corner_x = col_c[None, :] + corner_y * col_t[None, :]
    top, bottom, left, right = (
        axis.ravel()
        for axis in np.meshgrid(
            np.arange(len(rows)), np.arange(len(rows)), np.arange(len(cols)), np.arange(len(cols)), indexing="ij"
        )
    )
    row_middle, col_middle = row_c + row_t * width / 2, col_c + col_t * height / 2
    apart = (row_middle[bottom] - row_middle[top] >= MIN_SPAN * height) & (
        col_middle[right] - col_middle[left] >= MIN_SPAN * width
    )
    xs = np.stack([corner_x[top, left], corner_x[top, right], corner_x[bottom, right], corner_x[bottom, left]], -1)
    ys = np.stack([corner_y[top, left], corner_y[top, right], corner_y[bottom, right], corner_y[bottom, left]], -1)
    inside = ((xs >= -CORNER_SLACK * width) & (xs <= (1 + CORNER_SLACK) * width)).all(-1)
    inside &= ((ys >= -CORNER_SLACK * height) & (ys <= (1 + CORNER_SLACK) * height)).all(-1)
    turns = np.stack([row_t[top], row_t[bottom], col_t[left], col_t[right]], -1)
    slanted = (np.degrees(np.arctan(np.abs(turns))) >= MIN_SLANT).sum(-1) >= 2
    keep = apart & inside & slanted
    top, bottom, left, right, xs, ys = top[keep], bottom[keep], left[keep], right[keep], xs[keep], ys[keep]
    if not len(top):
        return []
    cover = np.minimum.reduce(
        [
            _span_cover(row_cover, top, xs[:, 0], xs[:, 1]),
            _span_cover(row_cover, bottom, xs[:, 3], xs[:, 2]),
            _span_cover(col_cover, left, ys[:, 0], ys[:, 3]),
            _span_cover(col_cover, right, ys[:, 1], ys[:, 2]),
        ]
    )
    area = 0.5 * np.abs(sum(xs[:, a] * ys[:, (a + 1) % 4] - xs[:, (a + 1) % 4] * ys[:, a] for a in range(4)))
    good = np.flatnonzero(cover >= MIN_SIDE_COVER)
    by_cover = sorted(good.tolist(), key=lambda q: (-cover[q], -area[q]))
    by_area = sorted(good.tolist(), key=lambda q: -area[q])
    chosen: list[int] = []
    for q in (q for pair in zip(by_cover, by_area, strict=True) for q in pair):
        if all(_apart(xs[q], ys[q], xs[o], ys[o], SAME_FRAME * max(width, height)) for o in chosen):
            chosen.append(q)
        if len(chosen) == limit:
            break
    return [
        SlantedFrame(tuple((float(x) / width, float(y) / height) for x, y in zip(xs[q], ys[q], strict=True)))
        for q in chosen
    ]


def rectified_views(
    luma: AnalysisLuma, frames: Sequence[SlantedFrame], scales: Sequence[float], orientations: Sequence[Orientation]
) -> list[SlantedView]:
    """For each frame and each of `scales`, the central crop of the picture it shows set upright,
    with its hashes; none for a crop of quality below 50, none at all for an image too small."""
    if luma.too_small or not frames:
        return []
    grey = luma.cell_sampler()
    sampled = [(frame, scale, _rectified(grey, frame, scale)) for frame in frames for scale in scales]
    views = [(frame, scale) for frame, scale, block in sampled if block is not None]
    if not views:
        return []
    blocks = np.stack([block for *_, block in sampled if block is not None])
    hashed = block_hashes(blocks, orientations)
    return [SlantedView(frame, scale, hashes) for (frame, scale), hashes in zip(views, hashed, strict=True) if hashes]


# ---------------------------------------------------------------- edges and lines


def _edge_maps(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean maps of the pixels on a near-horizontal edge and on a near-vertical edge."""
    pixels = np.clip(picture, 0, 255).astype(np.uint8)
    blurred = np.asarray(Image.fromarray(pixels).filter(ImageFilter.BoxBlur(1)), dtype=np.float32)
    if blurred.ndim == 2:
        blurred = blurred[:, :, np.newaxis]
    down = np.zeros(blurred.shape[:2], np.float32)
    along = np.zeros(blurred.shape[:2], np.float32)
    for channel in range(blurred.shape[2]):
        values = blurred[:, :, channel]
        np.maximum(down[1:-1], np.abs(values[2:] - values[:-2]) / 2, out=down[1:-1])
        np.maximum(along[:, 1:-1], np.abs(values[:, 2:] - values[:, :-2]) / 2, out=along[:, 1:-1])
    steep = math.tan(math.radians(MAX_TURN + 5.0))
    across_rows = (down >= EDGE_STEP) & (along <= down * steep)
    across_rows[1:-1] &= (down[1:-1] >= down[:-2]) & (down[1:-1] >= down[2:])
    across_cols = (along >= EDGE_STEP) & (down <= along * steep)
    across_cols[:, 1:-1] &= (along[:, 1:-1] >= along[:, :-2]) & (along[:, 1:-1] >= along[:, 2:])
    return across_rows, across_cols


def _lines(edges: np.ndarray) -> list[tuple[float, float]]:
    """The strongest lines `across = c + along * t` through an edge map indexed [across, along]."""
    span, length = edges.shape
    across, along = np.nonzero(edges)
    every = max(1, -(-len(across) // MAX_VOTERS))
    across, along = across[::every], along[::every]
    slopes = np.tan(np.radians(np.arange(-MAX_TURN, MAX_TURN + TURN_STEP / 2, TURN_STEP))).astype(np.float32)
    offset = math.ceil(length * float(slopes.max())) + 2
    bins = span + 2 * offset
    shifted = (across + offset).astype(np.float32)
    intercepts = np.rint(shifted - along.astype(np.float32) * slopes[:, np.newaxis]).astype(np.int32)
    intercepts += (np.arange(len(slopes), dtype=np.int32) * bins)[:, np.newaxis]
    votes = np.bincount(intercepts.ravel(), minlength=len(slopes) * bins).reshape(len(slopes), bins)
    votes = (votes[:, :-1] + votes[:, 1:]).astype(np.float32)  # a line between two bins
    found: list[tuple[float, float]] = []
    for _ in range(MAX_LINES):
        turn, bin_ = np.unravel_index(int(np.argmax(votes)), votes.shape)
        if votes[turn, bin_] < MIN_RUN * length / every:
            break
        votes[max(0, turn - 8) : turn + 9, max(0, bin_ - 6) : bin_ + 7] = 0.0
        voted = (float(slopes[turn]), bin_ - offset + 0.5)
        if not any(_crossing(voted, kept, length) for kept in found):
            found.append(_fitted(across, along, *voted))
    return found


def _crossing(line: tuple[float, float], other: tuple[float, float], length: int) -> bool:
    """Whether `line` crosses `other` inside the image at less than `CROSSING_TURN` degrees: the same
    edge voted for again along a chord of it, not an edge of its own."""
    (slope, intercept), (other_slope, other_intercept) = line, other
    if abs(math.degrees(math.atan(slope) - math.atan(other_slope))) >= CROSSING_TURN:
        return False
    start, end = intercept - other_intercept, intercept - other_intercept + (slope - other_slope) * length
    return start * end <= 0.0 or min(abs(start), abs(end)) <= 1.0


def _fitted(across: np.ndarray, along: np.ndarray, slope: float, intercept: float) -> tuple[float, float]:
    """The line fitted (least squares) to the edge pixels within 2 pixels of (`slope`, `intercept`)."""
    near = np.abs(across - (intercept + along * slope)) <= 2.0
    x, y = along[near].astype(np.float64), across[near].astype(np.float64)
    if len(x) < 8:
        return slope, intercept
    x_mean, y_mean = x.mean(), y.mean()
    spread = float(np.square(x - x_mean).sum())
    if spread <= 0.0:
        return slope, intercept
    fitted = float(((x - x_mean) * (y - y_mean)).sum()) / spread
    return fitted, float(y_mean - fitted * x_mean)


def _cumulative_cover(edges: np.ndarray, line: tuple[float, float]) -> np.ndarray:
    """Along `line` through an edge map indexed [across, along]: how many of its first n positions
    have an edge pixel within a pixel of it (length + 1 counts, from 0)."""
    span, length = edges.shape
    slope, intercept = line
    along = np.arange(length)
    centre = np.rint(intercept + along * slope).astype(np.int64)
    hit = np.zeros(length, dtype=bool)
    for step in (-1, 0, 1):
        across = centre + step
        inside = (across >= 0) & (across < span)
        hit[inside] |= edges[across[inside], along[inside]]
    return np.concatenate([[0], np.cumsum(hit)])


def _span_cover(counts: np.ndarray, lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The share of edge along each of `lines` between `start` and `end` (0 for a span under 8 pixels)."""
    last = counts.shape[1] - 1
    low = np.clip(np.ceil(start), 0, last).astype(np.int64)
    high = np.clip(np.floor(end) + 1, 0, last).astype(np.int64)
    length = high - low
    return np.where(length >= 8, (counts[lines, high] - counts[lines, low]) / np.maximum(length, 1), 0.0)


def _apart(xs: np.ndarray, ys: np.ndarray, other_xs: np.ndarray, other_ys: np.ndarray, tolerance: float) -> bool:
    return bool(np.hypot(xs - other_xs, ys - other_ys).max() > tolerance)


# ---------------------------------------------------------------- setting upright


def _rectified(grey: Image.Image, frame: SlantedFrame, scale: float) -> np.ndarray | None:
    """PDQ's 64x64 buffer of the central `scale` crop of the picture `frame` shows, set upright;
    None for corners that span no quadrilateral."""
    width, height = grey.size
    corners = [(x * width, y * height) for x, y in frame.corners]
    grid = float(PDQ_GRID)
    low, high = (1.0 - scale) / 2.0, (1.0 + scale) / 2.0
    try:
        unit = homography(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)), corners)
        crop = [_mapped(unit, u, v) for u, v in ((low, low), (high, low), (high, high), (low, high))]
        cells = homography(((0.0, 0.0), (grid, 0.0), (grid, grid), (0.0, grid)), crop)
    except (np.linalg.LinAlgError, ZeroDivisionError):
        return None
    sampled = grey.transform((PDQ_GRID, PDQ_GRID), Image.Transform.PERSPECTIVE, cells, Image.Resampling.BILINEAR)
    return np.asarray(sampled, dtype=np.float64)


def homography(
    source: Sequence[tuple[float, float]], target: Sequence[tuple[float, float]]
) -> tuple[float, float, float, float, float, float, float, float]:
    """The 8 coefficients (Pillow's PERSPECTIVE data) mapping each `source` point to its `target`."""
    rows: list[list[float]] = []
    values: list[float] = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y])
        rows.append([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y])
        values += [u, v]
    a, b, c, d, e, f, g, h = (float(v) for v in np.linalg.solve(np.asarray(rows), np.asarray(values)))
    return a, b, c, d, e, f, g, h


def _mapped(coefficients: Sequence[float], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f, g, h = coefficients
    w = g * x + h * y + 1.0
    return (a * x + b * y + c) / w, (d * x + e * y + f) / w
