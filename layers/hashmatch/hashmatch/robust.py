"""Extra PDQ hashes that let edited copies of an image match: borders, captions, crops.

PDQ follows the picture's framing closely: a crop of 1% per side moves it ~22 bits, 2% ~40 bits,
so plain PDQ misses copies that add pixels (letterbox bars, 9:16 padding with solid or blurred
fill, caption bars) or lose some (crops). Extra hashes put the framing back:

- `index_variants(image)`: 4 hashes stored beside a shared image's main PDQ: its content (inside
  its own letterbox bars, if any), central crops of that at 90% and 80%, so a copy cropped by
  5% or 10% per side finds a stored hash with the same framing, and its middle band (without the
  top and bottom 16%, where captions, meme text and watermarks go).
- `check_framings(image)`: for a checked image, the hashes queried beside its main PDQ and its 8
  dihedral variants: the content rectangles found inside padding, bars and caption bars, each in
  its 8 rotations/flips (all from one DCT), and for the whole image and the image without its
  caption bars, central crops from 98% down to 90% (as they are and mirrored), so a copy cropped
  by anything from 0 to 10% per side lands within 1% of a stored framing, and the middle band of
  the whole image and of the picture inside padding: ~30-40 hashes;
- and an `UnevenCropSearch` for copies cut unevenly (each side by its own 0-10%, which moves the
  picture's centre): the stored 80% crop lies somewhere inside such a copy. 81 rectangles on a grid
  of cuts (`UNEVEN_CUTS`) come within ~2% of it; their PDQ is often still 32-60 bits away, but
  the 64 bits of its 8x8 lowest frequencies (`signals.pdq.low_frequency_key`), which drift half as
  fast, are within `FRAMING_KEY_THRESHOLD` of the stored crop's. The matcher looks those keys up,
  and for each stored crop found, `UnevenCropSearch.closest` moves the rectangle's four edges to
  where its PDQ agrees best with the stored one; the PDQ distance there decides, at the usual 31 bits.

Every region is hashed from one luma at most 256 pixels on the long side: a summed-area table gives
the exact area average of any rectangle on PDQ's 64x64 grid, then PDQ's DCT, median threshold and
quality score apply unchanged. Area averaging ignores the source resolution, so these hashes also
hold where the reference filter aliases (fine textures, small text) under resizing and flips; that
is why the whole image is stored once more as a region hash. Hashes of PDQ quality below 50 are
never produced, and an image that is flat inside the bars or padding found around it produces none.

`is_match` holds the rule: PDQ's 31 bits for every pairing, plus pHash corroboration for upright
whole images. `benchmarks/bench_robustness.py` measures all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image

from hashmatch.signals.hamming import hex_distance
from hashmatch.signals.pdq import (
    PDQ_BITS,
    PDQ_MATCH_THRESHOLD,
    PDQ_MIN_QUALITY,
    _coefficients_to_hex,
    _DCT_16x64,
    dihedral_coefficients,
    hex_to_bits,
    low_frequency_key,
)

__all__ = [
    "FRAMING_KEY_THRESHOLD",
    "INDEX_CROP_SCALES",
    "MAX_UNEVEN_CROP_SEARCHES",
    "PDQ_CORROBORATED_THRESHOLD",
    "PHASH_CORROBORATION_THRESHOLD",
    "QUERY_CROP_SCALES",
    "UNEVEN_CROP_START_LIMIT",
    "UNEVEN_CUTS",
    "HashKind",
    "Region",
    "UnevenCropSearch",
    "check_framings",
    "content_regions",
    "index_variants",
    "is_match",
    "query_variants",
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
# Uneven crops (each side cut by its own 0-10%) move the picture's centre, which central crops
# cannot follow. The stored 80% central crop still lies inside such a copy, at a place set by the
# cuts (left, right) on each axis: `UnevenCropSearch` starts from where that stored crop would lie
# for each pair of cuts on this grid, on both axes (9 x 9 = 81 rectangles, all from one
# summed-area table), every edge within 0.019 of the truth. Points nearer the ends than an even
# spread (1/60, 3/60, 5/60) help copies cut by almost nothing or almost 10% on several sides: of
# 384 seeded copies (`bench_robustness.py --edit 0-10% --copies 12`) 368 are found, 367 with the
# even spread.
UNEVEN_CUTS: tuple[float, ...] = (0.0125, 0.05, 0.0875)
# A grid rectangle's low-frequency key within this many of its 64 bits of a stored framing's makes
# that framing a candidate. Of those 384 copies, 12 bits would find 376 (97.9%) instead of 368
# (95.8%) (`--key-threshold 12`), for 1.5-2.4x the key lookup's CPU (`bench_index.py
# --framing-keys --key-threshold 12`: 31-51 ms against 21 ms per check at 1M framings); keys of
# different photos came no closer than 15.
FRAMING_KEY_THRESHOLD = 10
# `UnevenCropSearch.closest` moves each edge by these steps (shares of the copy's side), coarse to
# fine, at most `SEARCH_MOVES` times per step: enough to cover the grid's 0.019 from any start.
SEARCH_STEPS: tuple[float, ...] = (0.008, 0.004, 0.002)
SEARCH_MOVES = 6
# The matcher searches from a grid rectangle at most this many PDQ bits from the stored framing
# (copies start 32 bits away at the median, 84 at the 99th percentile; different photos 96 and
# more), and at most this many times per check, closest starts first: a search costs ~10 ms.
UNEVEN_CROP_START_LIMIT = 100
MAX_UNEVEN_CROP_SEARCHES = 4

# Bars of one colour (letterbox, solid padding, caption bars), on the analysis luma (0-255).
BAR_TOLERANCE = 16.0  # a bar pixel is within this of the bar's colour (JPEG ringing included)
BAR_CLEAN_SHARE = 0.95  # a line of a solid bar is at least this much bar colour
CAPTION_SHARE = 0.1  # a line of a caption bar (text included) is at least this much bar colour
MAX_CAPTION = 0.4  # caption bars are looked for within this share of the side
# Padding around a centred picture (solid or blurred fill): a seam at the same distance from two
# opposite edges, with flat fill outside it.
SEAM_MIN_SCORE = 1.8  # seam step / (1 + detail of the busiest fill line) of an accepted seam
SEAM_MAX_FILL_DETAIL = 0.35  # mean fill detail / picture detail of an accepted seam
MAX_PADDING = 0.375  # padding is looked for within this share of the side, on each side
# Matching (`is_match`): a PDQ distance beyond 31 bits still matches when pHash agrees closely.
PDQ_CORROBORATED_THRESHOLD = 48
PHASH_CORROBORATION_THRESHOLD = 8

# Rectangles.
MIN_BORDER = 0.02  # thinner borders (a share of the side) are ignored
MIN_CONTENT = 0.25  # a content rectangle keeps at least this share of each side
SAME_REGION = 0.005  # rectangles whose edges are closer than this (share of the side) are one
MIN_SIDE = 16  # images smaller than this (analysis pixels) are hashed whole only


class HashKind(StrEnum):
    """Where a PDQ hash came from: the whole image, or a region of it."""

    MAIN = "main"  # the whole image as it is, by the reference hasher
    DIHEDRAL = "dihedral"  # one of the whole image's 7 other rotations/flips
    REGION = "region"  # a content rectangle or central crop (`index_variants`, `query_variants`)


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

    def middle_band(self) -> Region:
        """This rectangle without `OVERLAY_MARGIN` of its height at the top and at the bottom."""
        margin = (self.bottom - self.top) * OVERLAY_MARGIN
        return Region(self.left, self.top + margin, self.right, self.bottom - margin)

    def close_to(self, other: Region) -> bool:
        """Whether every edge is within `SAME_REGION` of the other's: one framing for PDQ."""
        edges = zip(
            (self.left, self.top, self.right, self.bottom),
            (other.left, other.top, other.right, other.bottom),
            strict=True,
        )
        return all(abs(a - b) <= SAME_REGION for a, b in edges)


WHOLE = Region(0.0, 0.0, 1.0, 1.0)


def is_match(distance: int, query_kind: HashKind, stored_kind: HashKind, phash_distance: int | None = None) -> bool:
    """Whether a query PDQ hash `distance` bits from a stored one is a match.

    - Any pairing of whole-image and region hashes within PDQ's 31 bits matches: across the
      benchmark's photos, no hash of one photo (original, edited copy, any region or orientation)
      came closer than 80 bits to any hash stored for another.
    - Upright whole image against stored whole image, 32 to `PDQ_CORROBORATED_THRESHOLD` bits,
      matches when the two images' pHashes (`phash_distance`) are within
      `PHASH_CORROBORATION_THRESHOLD`: text or a logo over the picture moves PDQ further than
      pHash. pHash never matches alone: two photos of one scene can be 2-4 pHash bits apart.
      Only the upright pair qualifies, since pHash has no rotated or cropped variants.
    """
    if distance <= PDQ_MATCH_THRESHOLD:
        return True
    return (
        query_kind is HashKind.MAIN
        and stored_kind is HashKind.MAIN
        and phash_distance is not None
        and distance <= PDQ_CORROBORATED_THRESHOLD
        and phash_distance <= PHASH_CORROBORATION_THRESHOLD
    )


def index_variants(image: Image.Image) -> tuple[str, ...]:
    """Extra PDQ hashes to store for a shared image, beside its main PDQ.

    Four: the content (the whole image, or what lies inside its own letterbox or pillarbox bars),
    its central crops at `INDEX_CROP_SCALES` and its middle band (`Region.middle_band`); fewer where
    a hash's PDQ quality is below 50. `image` is an RGB image of any size, already upright (EXIF
    applied).
    """
    luma = _Luma(image)
    content = _inside_own_bars(luma.pixels)
    regions = [content, *(content.central_crop(scale) for scale in INDEX_CROP_SCALES), content.middle_band()]
    return _unique(h for region in regions for h in luma.hashes(region, _IDENTITY))


def check_framings(image: Image.Image) -> tuple[tuple[str, ...], UnevenCropSearch | None]:
    """What a checked image is looked up with besides its main PDQ and 8 dihedral variants: the
    framings' hashes to query (`query_variants`), and the search for uneven crops (None when the
    image is too small, blank or flat, or flat inside its padding or bars).

    `image` is an RGB image of any size, already upright (EXIF applied).
    """
    luma = _Luma(image)
    hashes = _query_hashes(luma)
    if hashes is None:
        return (), None
    search = UnevenCropSearch(luma)
    return hashes, search if search.keys else None


def query_variants(image: Image.Image) -> tuple[str, ...]:
    """Extra PDQ hashes to query for a checked image, beside its main PDQ and 8 dihedral variants.

    The whole image and each content rectangle found (inside padding, bars or caption bars) in
    its 8 rotations/flips; for the whole image and the image without its caption bars also central
    crops at `QUERY_CROP_SCALES`, as they are and mirrored; the middle band of the whole image and
    of the picture inside padding, as they are and mirrored. Hashes of PDQ quality below 50 are left
    out, and a blank or flat image, or one flat inside its padding or bars, gives none. `image` is
    an RGB image of any size, already upright (EXIF applied).
    """
    return _query_hashes(_Luma(image)) or ()


def _query_hashes(luma: _Luma) -> tuple[str, ...] | None:
    """`query_variants` of `luma`; None for a picture flat inside the frame found around it."""
    framed, padded = _candidates(luma.pixels)
    inside = {region: luma.hashes(region, _ALL_ORIENTATIONS) for region in (*framed, *padded)}
    if _blank_inside_frame(inside):
        return None
    hashes: list[str] = []
    for region in framed:
        hashes.extend(inside[region])
        for scale in QUERY_CROP_SCALES:
            hashes.extend(luma.hashes(region.central_crop(scale), _MIRRORED))
    for region in padded:
        hashes.extend(inside[region])
    for region in (WHOLE, *padded):
        hashes.extend(luma.hashes(region.middle_band(), _MIRRORED))
    return _unique(hashes)


def _blank_inside_frame(inside: dict[Region, list[str]]) -> bool:
    """Flat inside every frame found on two opposite sides: a blank frame, as degenerate as a blank image."""
    framing = [hashes for region, hashes in inside.items() if region.top > 0.0 and region.bottom < 1.0]
    framing += [hashes for region, hashes in inside.items() if region.left > 0.0 and region.right < 1.0]
    return bool(framing) and not any(framing)


class UnevenCropSearch:
    """Where a shared image's stored 80% crop lies inside a copy cut unevenly on every side.

    `keys` are the low-frequency keys (`signals.pdq.low_frequency_key`) of the grid rectangles
    (`UNEVEN_CUTS`) of PDQ quality >= 50, to look up among stored framings within
    `FRAMING_KEY_THRESHOLD`; `hashes` their PDQ hashes, row for row. `closest(row, stored)` then
    searches around rectangle `row` for the framing whose PDQ is closest to `stored`.
    """

    def __init__(self, luma: _Luma) -> None:
        self._luma = luma
        spans = _uneven_crop_spans()
        grid = luma.grid(spans, spans)
        self.regions: tuple[Region, ...] = tuple(region for region, _ in grid)
        self.hashes: tuple[str, ...] = tuple(value for _, value in grid)
        self.keys: tuple[str, ...] = tuple(low_frequency_key(value) for value in self.hashes)

    def closest(self, row: int, stored: str) -> tuple[int, Region]:
        """The PDQ distance to `stored` of the framing found around grid rectangle `row`, and that framing.

        A pattern search: each round hashes the rectangle and the 24 others one step away on the
        left or right edge and on the top or bottom edge (one summed-area table, one batch of DCTs)
        and moves to the one whose coefficients disagree least with `stored`'s bits (each
        disagreement weighted by how far the coefficient lies on the wrong side of the median),
        until no move helps; then a finer step. The result is never worse than the start.
        """
        start = self.regions[row]
        signs = np.where(hex_to_bits(stored), 1.0, -1.0).astype(np.float32).ravel()
        edges = np.array([start.left, start.top, start.right, start.bottom])
        for step in SEARCH_STEPS:
            for _ in range(SEARCH_MOVES):
                moved = self._best_move(edges, step, signs)
                if moved is None:
                    break
                edges = moved
        found = Region(*edges.tolist())
        hashes = self._luma.hashes(found, _IDENTITY)
        distance = hex_distance(hashes[0], stored) if hashes else PDQ_BITS
        start_distance = hex_distance(self.hashes[row], stored)
        return (distance, found) if distance < start_distance else (start_distance, start)

    def distance_to(self, stored: str, *, any_start: bool = False) -> int:
        """The PDQ distance the matcher's search reaches toward one stored framing, for measuring
        (the matcher finds its starts through the framing-key index instead): searched from the grid
        rectangle closest to it in PDQ among those whose key is within `FRAMING_KEY_THRESHOLD` of its
        key, when that start is within `UNEVEN_CROP_START_LIMIT` (else `PDQ_BITS`, no search); with
        `any_start`, from the closest rectangle whatever its key and distance, as an adversary would.
        """
        key = low_frequency_key(stored)
        rows = [
            row for row, value in enumerate(self.keys) if any_start or hex_distance(value, key) <= FRAMING_KEY_THRESHOLD
        ]
        if not rows:
            return PDQ_BITS
        start = min(rows, key=lambda row: hex_distance(self.hashes[row], stored))
        if not any_start and hex_distance(self.hashes[start], stored) > UNEVEN_CROP_START_LIMIT:
            return PDQ_BITS
        return self.closest(start, stored)[0]

    def _best_move(self, edges: np.ndarray, step: float, signs: np.ndarray) -> np.ndarray | None:
        left, top, right, bottom = edges.tolist()
        xs = _moves(left, right, step)
        ys = _moves(top, bottom, step)
        blocks = self._luma._blocks(xs, ys, np.float32)  # (5, 5, 64, 64)
        dct = _DCT_16x64_SINGLE
        coefficients = (dct @ blocks @ dct.T).reshape(len(ys) * len(xs), -1)
        centred = coefficients - np.partition(coefficients, _MEDIAN, axis=1)[:, _MEDIAN : _MEDIAN + 1]
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


def _uneven_crop_spans() -> list[tuple[float, float]]:
    """Where the stored `INDEX_CROP_SCALES[-1]` central crop lies along one axis of a copy whose
    two ends were cut by each pair of `UNEVEN_CUTS`, as shares of the copy's side."""
    margin = (1.0 - INDEX_CROP_SCALES[-1]) / 2.0
    spans = []
    for first in UNEVEN_CUTS:
        for last in UNEVEN_CUTS:
            kept = 1.0 - first - last
            spans.append(((margin - first) / kept, (1.0 - margin - first) / kept))
    return spans


def content_regions(image: Image.Image) -> list[Region]:
    """The rectangles `query_variants` hashes before cropping: the whole image first."""
    framed, padded = _candidates(_Luma(image).pixels)
    return [*framed, *padded]


# ---------------------------------------------------------------- finding the picture in a frame


def _candidates(luma: np.ndarray) -> tuple[list[Region], list[Region]]:
    """Content rectangles: those a caption may have been added to (the whole image first), and
    those inside padding, where the picture was kept whole."""
    framed = [WHOLE]
    padded: list[Region] = []
    height, width = luma.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        return framed, padded

    def add(borders: tuple[int, int, int, int], into: list[Region]) -> None:
        region = _region_inside(borders, width, height)
        if region is not None and not any(region.close_to(seen) for seen in (*framed, *padded)):
            into.append(region)

    top = _bar(luma, caption=True)
    bottom = _bar(luma[::-1], caption=True)
    add((0, top, 0, 0), framed)
    add((0, 0, 0, bottom), framed)
    add((0, top, 0, bottom), framed)
    add(_solid_bars(luma), padded)
    rows, cols = _padding(luma), _padding(luma.T)
    add((cols, rows, cols, rows), padded)
    return framed, padded


def _inside_own_bars(luma: np.ndarray) -> Region:
    """The rectangle inside a shared image's own letterbox or pillarbox bars, if it has them.

    Only bars in equal pairs count: a photo's flat sky or wall is content, and trimming it would
    move every stored hash away from copies that keep it.
    """
    height, width = luma.shape
    if height < MIN_SIDE or width < MIN_SIDE:
        return WHOLE
    left, top, right, bottom = _solid_bars(luma)
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


def _solid_bars(luma: np.ndarray) -> tuple[int, int, int, int]:
    """Thickness of the solid bars at the left, top, right and bottom edges (0 where none)."""
    return (
        _bar(luma.T, caption=False),
        _bar(luma, caption=False),
        _bar(luma.T[::-1], caption=False),
        _bar(luma[::-1], caption=False),
    )


def _bar(lines: np.ndarray, *, caption: bool) -> int:
    """Thickness in lines of the bar of one colour at the start of `lines` (0 when there is none).

    A solid bar ends at the first line that is not almost all the edge line's colour. A caption
    bar has text on it: it ends at the last clean line before the first line with almost none of
    the bar's colour, within `MAX_CAPTION` of the side.
    """
    colour = float(np.median(lines[0]))
    share = (np.abs(lines - colour) < BAR_TOLERANCE).mean(axis=1)
    clean = share >= BAR_CLEAN_SHARE
    if caption:
        reach = min(int(MAX_CAPTION * len(lines)), _leading_run(share >= CAPTION_SHARE))
        clean_lines = np.flatnonzero(clean[:reach])
        thickness = int(clean_lines[-1]) + 1 if len(clean_lines) else 0
    else:
        thickness = _leading_run(clean)
    return thickness if thickness >= MIN_BORDER * len(lines) else 0


def _leading_run(flags: np.ndarray) -> int:
    return len(flags) if flags.all() else int(np.argmin(flags))


def _padding(luma: np.ndarray) -> int:
    """Thickness of even padding above and below a centred picture (0 when none is found).

    The picture's edges are a seam: a step between neighbouring rows at the same distance from
    the top and the bottom, with fill outside it far flatter than the picture. Each candidate
    thickness t scores min(step at t, step at height - t) / (1 + detail of the busiest fill line);
    the best counts when it stands out and its fill is flat on average.
    """
    height = luma.shape[0]
    first, last = max(2, int(MIN_BORDER * height)), int(MAX_PADDING * height)
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


# Which of `dihedral_coefficients`' eight blocks to hash: all, the original, it and its mirror.
_ALL_ORIENTATIONS = tuple(range(8))
_IDENTITY = (0,)
_MIRRORED = (0, 4)
_GRID = 64  # PDQ's buffer
_DCT_16x64_SINGLE = _DCT_16x64.astype(np.float32)
_CELL_EDGES = np.linspace(0.0, 1.0, _GRID + 1)
_MEDIAN = 127  # PDQ's median of 256 coefficients: the lower middle one


class _Luma:
    """An image's luma (Y = 0.299 R + 0.587 G + 0.114 B) at most `WORK_SIDE` long, with a
    summed-area table for the area average of any rectangle."""

    def __init__(self, image: Image.Image) -> None:
        grey = _shrunk(image if image.mode == "L" else image.convert("L"), WORK_SIDE)
        self.pixels = np.asarray(grey, dtype=np.float64)
        self.height, self.width = self.pixels.shape
        self.table = np.zeros((self.height + 1, self.width + 1))
        self.table[1:, 1:] = self.pixels.cumsum(axis=1).cumsum(axis=0)

    def hashes(self, region: Region, orientations: Sequence[int]) -> list[str]:
        """PDQ hashes of `region` in the `orientations` asked for; none when quality is below 50."""
        block = self._block(region)
        if block is None or _qualities(block[None])[0] < PDQ_MIN_QUALITY:
            return []
        coefficients = dihedral_coefficients(_DCT_16x64 @ block @ _DCT_16x64.T)
        return [_coefficients_to_hex(coefficients[i]) for i in orientations]

    def grid(self, xs: Sequence[tuple[float, float]], ys: Sequence[tuple[float, float]]) -> list[tuple[Region, str]]:
        """Every rectangle spanning one of `xs` (left, right) across and one of `ys` (top, bottom)
        down, as shares of the sides, row by row, with its PDQ hash (as it is); none for a
        rectangle of quality below 50, and none at all for an image smaller than `MIN_SIDE`.

        In single precision, for speed: a hash may differ from `hashes` of the same rectangle by a
        bit or two, where a coefficient lies that close to the median.
        """
        if self.height < MIN_SIDE or self.width < MIN_SIDE or not xs or not ys:
            return []
        averages = self._blocks(xs, ys, np.float32)
        usable = _qualities(averages) >= PDQ_MIN_QUALITY
        dct = _DCT_16x64_SINGLE
        coefficients = dct @ averages[usable] @ dct.T
        rectangles = [Region(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]
        kept = [region for region, keep in zip(rectangles, usable.ravel().tolist(), strict=True) if keep]
        return [(region, _coefficients_to_hex(c)) for region, c in zip(kept, coefficients, strict=True)]

    def _block(self, region: Region) -> np.ndarray | None:
        """PDQ's 64x64 buffer of `region`: area averages; None for a region under a pixel across."""
        if (region.right - region.left) * self.width < 1.0 or (region.bottom - region.top) * self.height < 1.0:
            return None
        block: np.ndarray = self._blocks([(region.left, region.right)], [(region.top, region.bottom)])[0, 0]
        return block

    def _blocks(
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


def _qualities(blocks: np.ndarray) -> np.ndarray:
    """PDQ's quality score (`signals.pdq._quality`) of every 64x64 block in the last two axes."""
    scale = blocks.dtype.type(100.0 / 255.0)
    gradient = np.abs(np.trunc(np.diff(blocks, axis=-2) * scale)).sum(axis=(-2, -1), dtype=np.float64)
    gradient += np.abs(np.trunc(np.diff(blocks, axis=-1) * scale)).sum(axis=(-2, -1), dtype=np.float64)
    return np.minimum(100, (gradient / 90).astype(np.int64))


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


def _unique(hashes: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hashes))
