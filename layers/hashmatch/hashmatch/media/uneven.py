"""The edge's half of matching copies cut unevenly (each side by its own 0-10%, and deeper, up to 20%).

Such cuts move the picture's centre, which no fixed framing follows, but the stored 80% central
crop of the shared picture still lies inside the copy, at a place set by the cuts on each axis.
`UnevenCropSearch` hashes 81 rectangles on a grid of cuts (`UNEVEN_CUTS`) where that crop would
lie; their PDQ is often still 32-60 bits away, but the 64 bits of its 8x8 lowest frequencies
(`hashmatch.signals.pdq.low_frequency_key`), which drift half as fast, are within a few bits of
the stored crop's. The matcher looks those keys up (`hashmatch.matching.rules.uneven_crop_candidates`)
and, for each stored framing found, `closest` moves the rectangle's four edges to where its PDQ
agrees best with the stored one; the PDQ distance there decides, at the usual threshold.

A copy is also mirrored before being cut, or cut and then shown inside something larger: under a
caption bar, in a screenshot, beside other footage in a duet or a stitch (which cut the picture to
fill their cell). So beside the fine grid on the copy as it is, coarser grids (`COARSE_CUTS`, 16
rectangles) are laid on the copy mirrored and inside the `GRID_FRAMES` best rectangles found inside
a larger frame (`hashmatch.media.regions`), as they are and mirrored: 81 + 16 + 2 x 32 = 161 rows,
for 2 x the fine grid's key lookups. Measured on the TUNED families
(`benchmarks/bench_robustness.py`), where a budget of 162 rows goes: the fine
grid mirrored instead of the coarse grids, 81.8% of copies matched; the fine grid inside one frame
as it is, 82.7%; as it is and mirrored (324 rows), 86.5%; these coarse grids, 86.8% (subset).
The grids inside the frames have since become fine grids too (2 x 2 x 81 =
324 rows instead of 64): a copy mirrored, cut on two sides between the coarse cuts and captioned
kept no coarse rectangle within the key threshold (13-16 bits from the stored crop's key). On the
TUNED screenshot, layout, caption and composed families, 3 copies a photo (`bench_robustness.py
--set tuned --set tuned-held-out-photos --edit "mirror + uneven" --edit "feed app" --edit microblog
--edit duet --edit stitch --edit "caption bar" --edit compose --copies 3`): 382 -> 394 of 462
copies of tuned photos, 245 -> 259 of 294 of held-out photos, 0 false matches (an experimental
patch with the fine grid inside the best frame only found fewer).
A copy cut by more than 10% on a side has lost part of the stored 80% crop too; the stored 60% crop
(`hashmatch.media.framing.DEEP_CROP_SCALE`) still lies inside it while no side is cut by more
than 20%. So a deep grid (`DEEP_CUTS`, 81 rectangles) is laid on the copy as it is where that crop
would lie: 242 rows, 1.5 x the key lookups of the grids above. A copy filled to another shape (a
phone screen, a square) keeps the picture's short side and as little as 25-45% of its long side:
no stored crop lies inside it whole, but the stored central core does (`framing.CORE_SHAPE`), and
the core grid (`core_rectangles`, ~35 rows at the mean) is laid where it would lie. A picture
cut to fill a cell of a layout (a duet, a stitch, a feed's square) is such a copy inside a larger
frame, so the core grid is also laid inside each of the `GRID_FRAMES` rectangles found: on the
TUNED screenshot, layout and reframing families (`bench_robustness.py --set tuned --set
tuned-held-out-photos --edit duet --edit stitch --edit "feed app" --edit microblog --edit compose
--edit cover-crop`), 103 -> 107 of 132 copies of tuned photos and 70 -> 76 of 84 of held-out
photos, 0 false matches (at its first size only, `FRAME_CORE_SCALES`). In a post of several
pictures the photo's cell need not be among those two, so the core grid is laid inside the next
`FURTHER_FRAMES` too, and the fine grid as it is inside those of them that are a grid's cells
(`hashmatch.media.regions.GridCell`; since 2026-12-07), while the whole grid stays within
`MAX_GRID_ROWS`; the frames found rank a grid's cells right after the best two: on the TUNED
multi-photo posts (`bench_robustness.py --set tuned --set tuned-held-out-photos --edit multi-photo
--copies 4`), 53 -> 66 of 88 copies of tuned photos and 34 -> 36 of 56 of held-out photos, 0 false
matches (variants tried as patches, not in the repo: the core grid alone in the cells, the fine
grid mirrored too, a cell's sides 0.8 edge found fewer; the fine grid inside every further frame,
cell or not, found about as many and cost a check by hash markedly more at 10M hashes). A
picture cut unevenly and
then letterboxed or pillarboxed (fitted to a video's frame, a phone's screen), or shown inside its
own bars and zoomed into, is cut inside solid bars that the grids on the whole copy take in; the
picture inside the bars (`framing.Framing.INSIDE_BARS`) is such a frame, so where a copy has solid
bars, the fine grid is laid inside them too, as it is and mirrored, with its core grid, unless
one of the frames is that rectangle already (`BARS_FRAMES`; on the TUNED families,
`bench_robustness.py --set tuned --set tuned-held-out-photos`: 573 -> 575 of 616 copies of tuned
photos and 362 -> 363 of 392 of held-out photos, 0 false matches, the code before at c2cf12f.
Tried on the same sets as experimental patches, not in the repo: the picture inside bars or
padding in place of the second frame, or in place of the grids on the whole copy, lost copies;
inside padding too found none more; inside bars on two opposite sides only, not a caption bar on
one, found one fewer). At most `MAX_GRID_ROWS` (914) rows in all.
Mirrored hashes come from the same DCT coefficients (a sign flip). A search from a mirrored row
moves the same rectangle's edges and compares its mirrored hash; what it finds is labelled
``uneven_crop/flip_x``, its region still given in the copy's own coordinates.

The search needs the picture's pixels, so it runs where they are, at the edge (the hashing
function, the member's edge stack, the CLI): the edge asks the coalition for candidates with the
grid's keys and hashes (`hashmatch.matching.rules.uneven_crop_candidates`, served by the lookup
API), searches toward each, and sends what it found as ``uneven_crop`` queries (`refined`). A
checked video lays the same grids on two of its samples and hashes what they find on its first
samples (`hashmatch.media.video_crops`).

Backward (a copy checked before the picture is shared: `hashmatch.service.retroactive`), the
copy's pixels are gone, but the shared picture's are at the sharer's edge: `cut_views` hashes the
shared picture as a copy cut by each of `CUT_VIEW_CUTS` on each side would show it, 625 views on a
grid whose edges are within 0.0125 of any cut, close enough that a retained copy's whole-picture
hashes (its main PDQ, its whole framing and the central crops of it) come within PDQ's threshold
of one: of 54 seeded copies of 9 photos (cuts of 0-10% per side, `hashmatch_tools.edits`) all 54,
and no copy came nearer than 82 bits to another photo's views. The 16 views of
`CUT_VIEW_COARSE_CUTS` (`coarse_cut_views`), edges within 0.025, find the candidates among
millions of retained checks: those copies came within 58 bits of one, other photos' no nearer
than 92.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hashmatch.media.framing import CORE_SHAPE, DEEP_CROP_SCALE, INDEX_CROP_SCALES, SAME_REGION
from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.model import UNEVEN_CROP_QUERY, Candidate, Grid, LabelledHash, MediaHashes, Region, framing_label
from hashmatch.media.regions import GridCell
from hashmatch.signals.base import Orientation
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ, PDQ_BITS, hex_to_bits, low_frequency_key

__all__ = [
    "COARSE_CUTS",
    "CORE_SCALES",
    "CORE_STEP",
    "CUT_VIEW_COARSE_CUTS",
    "CUT_VIEW_CUTS",
    "DEEP_CUTS",
    "FRAME_CORE_SCALES",
    "FURTHER_FRAMES",
    "GRID_FRAMES",
    "MAX_CORE_POSITIONS",
    "MAX_GRID_ROWS",
    "SEARCH_MOVES",
    "SEARCH_STEPS",
    "SQUARE_ENOUGH",
    "UNEVEN_CUTS",
    "UnevenCropSearch",
    "coarse_cut_views",
    "core_rectangles",
    "cut_views",
]

# The cuts on each axis the grid starts from: 9 pairs (first end, last end) per axis, 81
# rectangles from one summed-area table, every edge within 0.019 of the truth. Points nearer the
# ends than an even spread (1/60, 3/60, 5/60) help copies cut by almost nothing or almost 10% on
# several sides: of 384 seeded copies (`bench_robustness.py --edit crop_uneven --copies 12`) 368
# are found, 367 with the even spread.
UNEVEN_CUTS: tuple[float, ...] = (0.0125, 0.05, 0.0875)
# The coarse grids' cuts: 4 pairs per axis, 16 rectangles, every edge within ~0.025 of the truth,
# which the search's steps still cover.
COARSE_CUTS: tuple[float, ...] = (0.025, 0.075)
# The cuts on each axis of the deep grid, laid on the copy as it is where the stored
# `DEEP_CROP_SCALE` central crop would lie in a copy cut by up to 20% on each side: 9 pairs per axis,
# 81 rectangles, every cut within 1/30 of one of them. Set with `benchmarks/study_deep_crop.py
# --part grid` (220 copies of TUNED photos cut by 0-20% on each side): 75.0% found with these cuts,
# 73.2% with three cuts 0.005 either way, 89.1% with four (256 rectangles: 3x the lookups).
DEEP_CUTS: tuple[float, ...] = (1 / 30, 3 / 30, 5 / 30)
# The core grid: where the stored central core (`hashmatch.media.framing.CORE_SHAPE`) lies in a copy
# filled to another shape (a phone screen, a square, a cell). Such a copy kept the picture's short
# side, so across that side the core is centred and `CORE_SHAPE` of it; along the side the fill cut
# it lies anywhere. Rectangles of that size (and `CORE_SCALES` of it: the copy lost a little of the
# kept side too) at most `CORE_STEP` apart along the cut side, the middle one centred (apps centre
# the window unless the poster moves it), at most `MAX_CORE_POSITIONS` a size. A copy filled to a
# shape turned the other way or more elongated than the picture's (a landscape picture filling a
# phone screen, a 3:2 one a 16:9 frame) kept the side along its own long side and cut its short
# side: only that is tried (`core_rectangles`' `long_side_kept`), both ways for a copy within `SQUARE_ENOUGH`
# of square (a square copy of a landscape picture kept its height, of a portrait its width): ~35
# rectangles at the mean, at most 100. Set with `benchmarks/study_core.py` (TUNED photos only, copies filled
# to another shape): see its table in the README ("Pictures filled to another shape").
CORE_STEP = 0.03
CORE_SCALES: tuple[float, ...] = (1.0, 0.92)
# Inside a frame found in a larger frame, the core grid is laid at the first size only: on the
# TUNED layout and screenshot families it found the same copies as both sizes (107 of 132 and 76 of
# 84, `benchmarks/bench_robustness.py --set tuned --set tuned-held-out-photos --edit duet --edit
# stitch --edit "feed app" --edit microblog --edit compose --edit cover-crop`) for half the rows.
FRAME_CORE_SCALES: tuple[float, ...] = CORE_SCALES[:1]
MAX_CORE_POSITIONS = 25
SQUARE_ENOUGH = 1.1
# The fine grid is laid inside this many of the rectangles found inside a larger frame, best first,
# as they are and mirrored.
GRID_FRAMES = 2
# And inside the picture found within a copy's own solid bars, when it has them, before the frames.
BARS_FRAMES = 1
# The core grid is laid inside the next this many frames found too, and the fine grid as it is
# inside those that are a grid's cells (a post of several pictures has a cell for each, and the
# photo's need not rank among the first two), frame by frame while the whole grid stays within
# `MAX_GRID_ROWS`: most copies' grids are far below it, and the lookup API's limit and request size
# stay as they were. Set on the TUNED multi-photo posts (`bench_robustness.py --set tuned --set
# tuned-held-out-photos --edit multi-photo --copies 4`; see the README, "Pictures cut to fill a
# cell" and "Cells of a grid").
FURTHER_FRAMES = 4
# The most rows a search has: the fine grid, the coarse grid mirrored, the fine grids inside the
# copy's bars and the frames as they are and mirrored, the deep grid and the core grids on the copy
# and inside the bars and the frames. The lookup API refuses
# questions with more keys than it takes (`hashmatch.aws.api.MAX_GRID` is this number).
MAX_GRID_ROWS = (
    len(UNEVEN_CUTS) ** 4 * (1 + 2 * (BARS_FRAMES + GRID_FRAMES))
    + len(COARSE_CUTS) ** 4
    + len(DEEP_CUTS) ** 4
    + 2 * (len(CORE_SCALES) + (BARS_FRAMES + GRID_FRAMES) * len(FRAME_CORE_SCALES)) * MAX_CORE_POSITIONS
)
# `UnevenCropSearch.closest` moves each edge by these steps (shares of the copy's side), coarse to
# fine, at most `SEARCH_MOVES` times per step: enough to cover the grid's 0.019 from any start.
SEARCH_STEPS: tuple[float, ...] = (0.008, 0.004, 0.002)
SEARCH_MOVES = 6
# Found framings further than this from the stored one are not reported: no platform may set a
# PDQ threshold above it (`PdqSignal.bounds`).
REFINED_WITHIN = PDQ.bounds.high if PDQ.bounds is not None else PDQ.default_threshold
# The cuts of each side a shared picture's `cut_views` assume: 5 per side, 25 spans per axis, 625
# views, every edge within 0.0125 of the truth. The coarse views are those whose four cuts are all
# among `CUT_VIEW_COARSE_CUTS`: 16, every edge within 0.025.
CUT_VIEW_CUTS: tuple[float, ...] = (0.0, 0.025, 0.05, 0.075, 0.1)
CUT_VIEW_COARSE_CUTS: tuple[float, ...] = (0.025, 0.075)


class UnevenCropSearch:
    """Where a shared image's stored 80% crop lies inside a copy cut unevenly on every side.

    `keys` are the low-frequency keys of the grid rectangles of PDQ quality >= 50, to look up among
    stored framings; `hashes` their PDQ hashes, row for row; `regions` the rectangles and
    `orientations` how each was turned before hashing (as it is, or mirrored). The grids are laid on
    the whole copy, inside `inside_bars` (the picture within the copy's own solid bars, when it has
    them) and inside `frames` (the rectangles found inside a larger frame, best first).
    `closest(row, stored)` then searches around rectangle `row` for the framing whose PDQ, in that
    row's orientation, is closest to `stored`: on the copy as it is and, given `uncovered` (the copy
    with what seems drawn over it taken off, `hashmatch.media.framing.uncovered_luma`), on that
    too, keeping the closer (an uneven crop under a logo or a sticker).
    """

    def __init__(
        self,
        luma: AnalysisLuma,
        grid: Sequence[tuple[Region, Orientation, str]] | None = None,
        *,
        frames: Sequence[Region] = (),
        inside_bars: Region | None = None,
        uncovered: AnalysisLuma | None = None,
    ) -> None:
        self._luma = luma
        self._uncovered = uncovered
        if grid is None:
            grid = _grid(luma, _grid_frames(frames, inside_bars))
            further = frames[GRID_FRAMES : GRID_FRAMES + FURTHER_FRAMES]
            grid += _further_grids(luma, further, room=MAX_GRID_ROWS - len(grid))
        self.regions: tuple[Region, ...] = tuple(region for region, _, _ in grid)
        self.orientations: tuple[Orientation, ...] = tuple(orientation for _, orientation, _ in grid)
        self.hashes: tuple[str, ...] = tuple(value for _, _, value in grid)
        self.keys: tuple[str, ...] = tuple(low_frequency_key(value) for value in self.hashes)

    @classmethod
    def from_grid(
        cls,
        luma: AnalysisLuma,
        regions: Sequence[Region],
        hashes: Sequence[str],
        orientations: Sequence[Orientation] | None = None,
        uncovered: AnalysisLuma | None = None,
    ) -> UnevenCropSearch:
        """A search over `luma` (and `uncovered`) whose grid was hashed already; without
        `orientations`, every rectangle as it is."""
        turns = [Orientation.ORIGINAL] * len(regions) if orientations is None else list(orientations)
        if len(regions) > MAX_GRID_ROWS:
            raise ValueError(f"a grid of {len(regions)} rectangles, more than a search lays ({MAX_GRID_ROWS})")
        if not len(regions) == len(hashes) == len(turns):
            raise ValueError("a grid needs one hash and one orientation per rectangle")
        parsed = (PDQ.parse(h) for h in hashes)
        if uncovered is not None and (uncovered.width, uncovered.height) != (luma.width, luma.height):
            raise ValueError("the uncovered luma is not the size of the copy's")
        return cls(luma, list(zip(regions, turns, parsed, strict=True)), uncovered=uncovered)

    def to_json(self) -> dict[str, object]:
        """The luma (8-bit, at most `WORK_SIDE` a side), the uncovered one where there is one, and
        the grid, for `from_json` in another process."""
        uncovered = {} if self._uncovered is None else {"uncovered": self._uncovered.to_json()}
        return {**self._luma.to_json(), **uncovered, **self.grid_json()}

    def grid_json(self) -> dict[str, object]:
        """The grid alone: its rectangles, their orientations and PDQ hashes, row for row."""
        return {
            "regions": [[region.left, region.top, region.right, region.bottom] for region in self.regions],
            "orientations": [orientation.value for orientation in self.orientations],
            "hashes": list(self.hashes),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any], luma: AnalysisLuma | None = None) -> UnevenCropSearch:
        """A search as `to_json` wrote it (or its `grid_json` over `luma`), checked as untrusted
        input; raises ValueError, KeyError or TypeError on anything else. Without orientations,
        every rectangle as it is."""
        regions = [_grid_region(region) for region in raw["regions"]]
        orientations = [Orientation(str(o)) for o in raw["orientations"]] if "orientations" in raw else None
        hashes = [str(h) for h in raw["hashes"]]
        uncovered = AnalysisLuma.from_json(raw["uncovered"]) if luma is None and "uncovered" in raw else None
        copy = AnalysisLuma.from_json(raw) if luma is None else luma
        return cls.from_grid(copy, regions, hashes, orientations, uncovered)

    @property
    def grids(self) -> list[Grid]:
        """The one grid the coalition is asked about (`hashmatch.media.model.CropSearch`)."""
        return [(self.keys, self.hashes)]

    def refine(self, hashes: MediaHashes, answers: Sequence[Sequence[Candidate]]) -> MediaHashes:
        """`hashes` (this picture's) with the framings found toward the candidates of the one grid
        added as queries (`refined`), and the search dropped."""
        (candidates,) = answers
        return replace(hashes, queries=hashes.queries + self.refined(candidates), uneven_crops=None)

    def found(self, candidate: Candidate) -> tuple[int, Region, Orientation] | None:
        """What the search toward `candidate` found: the distance to its stored hash, the framing
        and the orientation it is hashed in (None for a row the grid does not have)."""
        searched = self._found(candidate)
        if searched is None:
            return None
        distance, region, _ = searched
        return distance, region, self.orientations[candidate.row]

    def refined(self, candidates: Sequence[Candidate], within: int = REFINED_WITHIN) -> tuple[LabelledHash, ...]:
        """The framings found searching toward each candidate, as ``uneven_crop`` queries (from a
        mirrored row ``uneven_crop/flip_x``) with the region each covers: those whose PDQ ended
        within `within` bits of the stored one (the loosest threshold a platform may choose: the
        matcher applies the checking platform's)."""
        found = []
        for candidate in candidates:
            searched = self._found(candidate)
            if searched is None:
                continue
            distance, region, value = searched
            if distance <= within and value is not None:
                label = framing_label(UNEVEN_CROP_QUERY, None, self.orientations[candidate.row])
                found.append(LabelledHash(PDQ.name, value, label, region))
        return tuple(found)

    def closest(self, row: int, stored: str) -> tuple[int, Region]:
        """The PDQ distance to `stored` of the framing found around grid rectangle `row`, and that
        framing: on the copy as it is, or uncovered where that ends closer (`_search_on`)."""
        distance, region, _ = self._search(row, stored)
        return distance, region

    def _found(self, candidate: Candidate) -> tuple[int, Region, str | None] | None:
        """`_search` toward `candidate`; None for a row the grid does not have."""
        if not 0 <= candidate.row < len(self.regions):
            return None
        return self._search(candidate.row, candidate.stored)

    def _search(self, row: int, stored: str) -> tuple[int, Region, str | None]:
        """`closest`, and the found framing's PDQ hex (None where it is too flat to hash). A search
        that never got closer than its start gives the grid's rectangle, hashed on the copy as it is."""
        found = self._search_on(self._luma, row, stored)
        if self._uncovered is not None:
            uncovered = self._search_on(self._uncovered, row, stored)
            if uncovered[0] < found[0]:
                found = uncovered
        distance, region, value = found
        if value is None:  # the start
            kept = self._luma.hashes(region, (self.orientations[row],))
            value = kept[0][1] if kept else None
        return distance, region, value

    def _search_on(self, luma: AnalysisLuma, row: int, stored: str) -> tuple[int, Region, str | None]:
        """The PDQ distance to `stored` of the framing of `luma` found around grid rectangle `row`,
        that framing and its PDQ hex (None where the search ends at its start).

        A pattern search: each round hashes the rectangle and the 24 others one step away on the
        left or right edge and on the top or bottom edge (one summed-area table, one batch of DCTs)
        and moves to the one whose coefficients disagree least with `stored`'s bits (each
        disagreement weighted by how far the coefficient lies on the wrong side of the median),
        until no move helps; then a finer step. The result is never worse than the start.
        """
        start, orientation = self.regions[row], self.orientations[row]
        signs = np.where(hex_to_bits(stored), 1.0, -1.0).astype(np.float32).ravel()
        edges = np.array([start.left, start.top, start.right, start.bottom])
        for step in SEARCH_STEPS:
            for _ in range(SEARCH_MOVES):
                moved = _best_move(luma, edges, step, signs, orientation)
                if moved is None:
                    break
                edges = moved
        found = Region(*edges.tolist())
        hashes = luma.hashes(found, (orientation,))
        distance = hex_distance(hashes[0][1], stored) if hashes else PDQ_BITS
        start_distance = hex_distance(self.hashes[row], stored)
        if distance < start_distance:
            return distance, found, hashes[0][1]
        return start_distance, start, None


def _grid_region(raw: Any) -> Region:
    """A grid rectangle as `grid_json` wrote it, [left, top, right, bottom] as shares of the copy's
    sides; raises ValueError for anything else (an edge that is not finite, outside 0-1, or not
    before its opposite)."""
    if not isinstance(raw, list) or len(raw) != 4:
        raise ValueError("a grid rectangle is [left, top, right, bottom]")
    left, top, right, bottom = (float(v) for v in raw)
    low, high = -_EDGE_ROUNDING, 1.0 + _EDGE_ROUNDING
    if not (low <= left < right <= high and low <= top < bottom <= high):  # NaN fails every comparison
        raise ValueError(f"a grid rectangle's edges are shares of the sides, in order: {raw}")
    return Region(max(0.0, left), max(0.0, top), min(1.0, right), min(1.0, bottom))


# How far past 0 or 1 a grid rectangle's edge may lie from rounding alone (they are sums of shares).
_EDGE_ROUNDING = 1e-9


def _best_move(
    luma: AnalysisLuma, edges: np.ndarray, step: float, signs: np.ndarray, orientation: Orientation
) -> np.ndarray | None:
    left, top, right, bottom = edges.tolist()
    xs = _moves(left, right, step)
    ys = _moves(top, bottom, step)
    centred = luma.centred_coefficients(xs, ys, orientation)  # (5 x 5, 256)
    wrong = np.maximum(0.0, -signs * centred).sum(axis=1) / (np.abs(centred).sum(axis=1) + 1e-9)
    best = int(np.argmin(wrong))
    if best == 0 or wrong[best] >= wrong[0]:
        return None
    y, x = divmod(best, len(xs))
    return np.array([xs[x][0], ys[y][0], xs[x][1], ys[y][1]])


def _moves(low: float, high: float, step: float) -> list[tuple[float, float]]:
    """A span as it is first, then with either end moved by `step` either way, kept inside [0, 1]."""
    moves = [(low, high), (low - step, high), (low + step, high), (low, high - step), (low, high + step)]
    return [(max(0.0, a), min(1.0, b)) for a, b in moves]


def _grid_frames(frames: Sequence[Region], inside_bars: Region | None) -> list[Region]:
    """The rectangles the grids are laid inside beside the whole copy: the picture inside the copy's
    own bars, unless one of the `GRID_FRAMES` best `frames` is that rectangle already, then those."""
    best = list(frames[:GRID_FRAMES])
    if inside_bars is None or any(frame.close_to(inside_bars, SAME_REGION) for frame in best):
        return best
    return [inside_bars, *best]


def _grid(luma: AnalysisLuma, frames: Sequence[Region]) -> list[tuple[Region, Orientation, str]]:
    """The fine grid on the whole copy as it is; the coarse grid on it mirrored; the fine grid inside
    each of `frames` as it is and mirrored; the deep grid and the core grid on the whole copy as it is;
    the core grid inside each of `frames` as it is."""
    fine, coarse = _uneven_crop_spans(UNEVEN_CUTS), _uneven_crop_spans(COARSE_CUTS)
    rows = luma.grid(fine, fine, (Orientation.ORIGINAL,))
    rows += luma.grid(coarse, coarse, (Orientation.FLIP_X,))
    for frame in frames:
        rows += _fine_inside(luma, frame, (Orientation.ORIGINAL, Orientation.FLIP_X))
    deep = _uneven_crop_spans(DEEP_CUTS, DEEP_CROP_SCALE)
    rows += luma.grid(deep, deep, (Orientation.ORIGINAL,))
    for across, down in core_rectangles(luma.width, luma.height):
        rows += luma.grid(across, down, (Orientation.ORIGINAL,))
    return rows + _cores_inside(luma, frames)


def _further_grids(luma: AnalysisLuma, frames: Sequence[Region], *, room: int) -> list[tuple[Region, Orientation, str]]:
    """The core grid (`_cores_inside`) inside each of `frames` in turn, and the fine grid as it is
    inside those that are a grid's cells (`GridCell`), while their rows fit in `room`."""
    rows: list[tuple[Region, Orientation, str]] = []
    for frame in frames:
        inside = _cores_inside(luma, [frame])
        if isinstance(frame, GridCell):
            inside = _fine_inside(luma, frame, (Orientation.ORIGINAL,)) + inside
        if len(rows) + len(inside) > room:
            break
        rows += inside
    return rows


def _fine_inside(
    luma: AnalysisLuma, frame: Region, orientations: tuple[Orientation, ...]
) -> list[tuple[Region, Orientation, str]]:
    """The fine grid laid inside `frame`, in each of `orientations`."""
    fine = _uneven_crop_spans(UNEVEN_CUTS)
    return luma.grid(_within(frame.left, frame.right, fine), _within(frame.top, frame.bottom, fine), orientations)


def _cores_inside(luma: AnalysisLuma, frames: Sequence[Region]) -> list[tuple[Region, Orientation, str]]:
    """The core grid inside each of `frames`, as it is, at `FRAME_CORE_SCALES`: a picture cut to fill
    a cell (a duet's, a stitch's, a feed's square)."""
    rows = []
    for frame in frames:
        width, height = (frame.right - frame.left) * luma.width, (frame.bottom - frame.top) * luma.height
        for across, down in core_rectangles(max(1, round(width)), max(1, round(height)), scales=FRAME_CORE_SCALES):
            inside = _within(frame.left, frame.right, across), _within(frame.top, frame.bottom, down)
            rows += luma.grid(*inside, (Orientation.ORIGINAL,))
    return rows


def core_rectangles(
    width: int,
    height: int,
    shape: tuple[float, float] = CORE_SHAPE,
    step: float = CORE_STEP,
    scales: Sequence[float] = CORE_SCALES,
    *,
    long_side_kept: bool = True,
) -> list[tuple[list[tuple[float, float]], list[tuple[float, float]]]]:
    """Where a shared picture's central core (`shape`) may lie in a copy `width` x `height` pixels
    that kept the picture's short side (the copy's height, sliding across; then its width, sliding
    down): per size (`scales`), the spans across and down (one of them at most `step` apart along
    the copy, the middle one centred; the other centred), as shares of the copy's sides. With
    `long_side_kept`, only the copy's long side is taken as kept, unless the copy is within
    `SQUARE_ENOUGH` of square."""
    sides = [(height, True), (width, False)]
    if long_side_kept and max(width, height) > SQUARE_ENOUGH * min(width, height):
        sides = sides[:1] if height > width else sides[1:]
    found = []
    for kept, slides_across in sides:
        for scale in scales:
            across, down = shape[0] * kept * scale / width, shape[1] * kept * scale / height
            if across > 1.0 or down > 1.0:
                continue
            length = across if slides_across else down
            # An odd count, so one rectangle is centred, and none further apart than `step`.
            positions = min(MAX_CORE_POSITIONS, 2 * math.ceil((1.0 - length) / 2.0 / step) + 1)
            centres = np.linspace(length / 2, 1.0 - length / 2, positions).tolist()
            sliding = [(centre - length / 2, centre + length / 2) for centre in centres]
            if slides_across:
                found.append((sliding, [(0.5 - down / 2, 0.5 + down / 2)]))
            else:
                found.append(([(0.5 - across / 2, 0.5 + across / 2)], sliding))
    return found


def _within(start: float, end: float, spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """`spans` of [start, end] (shares of it) as shares of the whole side."""
    return [(start + a * (end - start), start + b * (end - start)) for a, b in spans]


def _uneven_crop_spans(cuts: Sequence[float], scale: float = INDEX_CROP_SCALES[-1]) -> list[tuple[float, float]]:
    """Where the stored `scale` central crop lies along one axis of a copy whose two ends were cut
    by each pair of `cuts`, as shares of the copy's side."""
    margin = (1.0 - scale) / 2.0
    spans = []
    for first in cuts:
        for last in cuts:
            kept = 1.0 - first - last
            spans.append(((margin - first) / kept, (1.0 - margin - first) / kept))
    return spans


def cut_views(luma: AnalysisLuma, content: Region) -> tuple[str, ...]:
    """PDQ hashes of the shared picture's `content` as copies cut by each of `CUT_VIEW_CUTS` on each
    side show it (left and right cuts across, top and bottom down, row by row), for matching copies
    checked before the share (`hashmatch.service.retroactive`); none for a picture too small or flat."""
    spans = [(first, 1.0 - last) for first in CUT_VIEW_CUTS for last in CUT_VIEW_CUTS]
    across, down = _within(content.left, content.right, spans), _within(content.top, content.bottom, spans)
    return tuple(value for _, _, value in luma.grid(across, down))


def coarse_cut_views(views: Sequence[str]) -> tuple[str, ...]:
    """The views of `cut_views` whose four cuts are all among `CUT_VIEW_COARSE_CUTS` (none unless
    `views` is a whole grid)."""
    return tuple(views[row] for row in _COARSE_ROWS) if len(views) == len(CUT_VIEW_CUTS) ** 4 else ()


def _coarse_rows() -> tuple[int, ...]:
    coarse = [n for n, cut in enumerate(CUT_VIEW_CUTS) if cut in CUT_VIEW_COARSE_CUTS]
    spans = [first * len(CUT_VIEW_CUTS) + last for first in coarse for last in coarse]
    return tuple(down * len(CUT_VIEW_CUTS) ** 2 + across for down in spans for across in spans)


_COARSE_ROWS = _coarse_rows()
