"""Bars of one colour at a picture's edges: letterbox, pillarbox, solid padding, caption bars.

One detector for pictures (on their small analysis luma, `hashmatch.media.framing`) and for video
frames (on the full-size luma, probing every few pixels along each line), so a barred copy is
trimmed alike whichever way it comes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BAR_CLEAN_SHARE",
    "BAR_NOISE",
    "BAR_TOLERANCE",
    "CAPTION_SHARE",
    "CROSSED_SHARE",
    "EDGE_SHARE",
    "MAX_CAPTION",
    "MIN_BORDER",
    "MIN_CONTENT",
    "BarBox",
    "bar_noise",
    "bar_thickness",
    "content_box",
    "flat_bars",
    "solid_bars",
]

BAR_TOLERANCE = 16.0  # a bar pixel is within this many grey levels of the bar's colour (ringing included)
BAR_CLEAN_SHARE = 0.95  # a line of a solid bar is at least this much bar colour
CAPTION_SHARE = 0.1  # a line of a caption bar (text included) is at least this much bar colour
MAX_CAPTION = 0.4  # caption bars are looked for within this share of the side
MIN_BORDER = 0.02  # thinner bars (a share of the side) are ignored
MIN_CONTENT = 0.25  # what is left inside bars keeps at least this share of each side
# A caption box, a sticker or a logo laid over a barred picture often runs onto its bars: the lines
# it crosses are no longer clean, and the bar would end where the overlay starts, cutting the
# picture's content unevenly. So a solid bar also takes the lines past its clean ones that are at
# least CROSSED_SHARE its colour along a run from the edge, when at least EDGE_SHARE of the line's
# positions end that run together (within `_edge_slack` lines): the bar's own inner edge, straight
# where a picture starts; and only as thick as the bar facing it, as apps centre what they
# letterbox or pillarbox. A photo's dark edge or plain sky ends raggedly, and a dark side of a
# picture of its own seldom faces one as wide: they are left as they were.
CROSSED_SHARE = 0.6
EDGE_SHARE = 0.5
MIN_LINES = 8  # pictures with fewer lines than this are never trimmed
# On a full-size video frame, bar lines are probed every this many pixels: bars are uniform.
FRAME_PROBE_STEP = 4
# A bar trimmed off a video frame or off a shared picture is flat: its lines' standard deviation
# (the median over its lines) is at most this many grey levels. Measured by
# `benchmarks/study_bars.py`: drawn or encoded bars 0.0-0.7 on the reference videos and 0.0 on the
# reference photos' analysis luma; a plain wall filmed at the edges of a frame, within
# `BAR_TOLERANCE` of one colour but grainy, 2.1-5.0 (the doorknob video), a photo's dark vignette
# 4.5-6.5 (skimage's retina). Such an edge is no bar: trimmed in some frames and not in others (a
# logo over it, the camera moving), it moved the doorknob's frame hashes ~100 bits.
BAR_NOISE = 1.0


@dataclass(frozen=True)
class BarBox:
    """The content rectangle left after trimming solid bars, in pixels: rows [top, bottom), cols [left, right)."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def bar_thickness(lines: np.ndarray, *, caption: bool = False) -> int:
    """Thickness in lines of the bar of one colour at the start of `lines` (0 when there is none).

    A solid bar ends at the first line that is not almost all the edge line's colour. A caption
    bar has text on it: it ends at the last clean line before the first line with almost none of
    the bar's colour, within `MAX_CAPTION` of the side.
    """
    near = _near(lines)
    if not caption:
        return _clean_thickness(near)
    share = near.mean(axis=1)
    reach = min(int(MAX_CAPTION * len(lines)), _leading_run(share >= CAPTION_SHARE))
    clean_lines = np.flatnonzero(share[:reach] >= BAR_CLEAN_SHARE)
    thickness = int(clean_lines[-1]) + 1 if len(clean_lines) else 0
    return thickness if thickness >= MIN_BORDER * len(lines) else 0


def solid_bars(luma: np.ndarray, probe_step: int = 1) -> tuple[int, int, int, int]:
    """Thickness of the solid bars at the left, top, right and bottom edges (0 where none), probing
    every `probe_step`-th pixel along each line: clean bars (`bar_thickness`), or bars an overlay
    crosses (`_crossed_thickness`) as thick as the bar facing them."""
    rows = luma[:, ::probe_step]
    cols = luma[::probe_step, :].T
    nears = [_near(lines) for lines in (cols, rows, cols[::-1], rows[::-1])]
    clean = [_clean_thickness(near) for near in nears]
    crossed = [_crossed_thickness(near) for near in nears]
    found = list(clean)
    for side, near in enumerate(nears):
        facing = (side + 2) % 4
        slack = 2 * _edge_slack(len(near))
        if crossed[side] > clean[side] and any(
            abs(crossed[side] - t) <= slack for t in (clean[facing], crossed[facing])
        ):
            found[side] = crossed[side]
    left, top, right, bottom = found
    return left, top, right, bottom


def _near(lines: np.ndarray, colour: float | None = None) -> np.ndarray:
    """Which pixels of `lines` are within `BAR_TOLERANCE` of `colour` (by default the edge line's
    median)."""
    colour = float(np.median(lines[0])) if colour is None else colour
    return np.abs(lines.astype(np.float32) - np.float32(colour)) < BAR_TOLERANCE


def _clean_thickness(near: np.ndarray) -> int:
    thickness = _leading_run(near.mean(axis=1) >= BAR_CLEAN_SHARE)
    return thickness if thickness >= MIN_BORDER * len(near) else 0


def _crossed_thickness(near: np.ndarray) -> int:
    """Thickness in lines of a bar an overlay crosses (`CROSSED_SHARE`, `EDGE_SHARE`; 0 when there
    is none), given which pixels are its colour (`_near`, lines from the edge as rows): how far
    each position stays its colour from the edge, and where most of them stop together."""
    count, positions = near.shape
    runs = np.where(near.all(axis=0), count, np.argmin(near, axis=0))  # per position, from the edge
    thickness = int(np.sort(runs)[int((1.0 - CROSSED_SHARE) * positions)])
    if thickness < MIN_BORDER * count or thickness == count:
        return 0
    at_edge = np.count_nonzero((runs >= thickness) & (runs <= thickness + _edge_slack(count)))
    return thickness if at_edge >= EDGE_SHARE * positions else 0


def _edge_slack(lines: int) -> int:
    """Lines a bar's inner edge may waver by (resizing and coding ring along it)."""
    return max(1, round(0.005 * lines))


def content_box(luma: np.ndarray, probe_step: int = FRAME_PROBE_STEP) -> BarBox | None:
    """The content box of one frame after trimming solid bars, or None when there is nothing to trim.

    Blank frames, and frames whose content would keep less than `MIN_CONTENT` of a side, are left
    whole; a grainy edge is no bar (`flat_bars`). Bars are found per frame, so footage
    spliced from barred and bare sources trims alike.
    """
    height, width = luma.shape
    if height < MIN_LINES or width < MIN_LINES:
        return None
    left, top, right, bottom = flat_bars(luma, solid_bars(luma, probe_step), probe_step)
    if not any((left, top, right, bottom)):
        return None
    box = BarBox(top, height - bottom, left, width - right)
    if box.height < MIN_CONTENT * height or box.width < MIN_CONTENT * width:
        return None
    return box


def flat_bars(luma: np.ndarray, bars: tuple[int, int, int, int], probe_step: int = 1) -> tuple[int, int, int, int]:
    """`bars` (left, top, right, bottom thicknesses, as `solid_bars` gives them) with those that are
    not flat (`BAR_NOISE`) set to 0, probing every `probe_step`-th pixel along each line."""
    height, width = luma.shape
    left, top, right, bottom = bars
    return (
        _flat(luma[:, :left].T, probe_step),
        _flat(luma[:top], probe_step),
        _flat(luma[:, width - right :].T, probe_step),
        _flat(luma[height - bottom :], probe_step),
    )


def _flat(bar: np.ndarray, probe_step: int) -> int:
    """The thickness of `bar` (its lines, as rows) if it is flat (`BAR_NOISE`), else 0."""
    if not len(bar):
        return 0
    return len(bar) if bar_noise(bar, probe_step) <= BAR_NOISE else 0


def bar_noise(bar: np.ndarray, probe_step: int = 1) -> float:
    """How grainy `bar` (its lines, as rows) is: the median over its lines of their standard
    deviation, in grey levels, probing every `probe_step`-th pixel. A bar an overlay crosses (some
    line under `BAR_CLEAN_SHARE` its colour) is judged by the positions it crosses in no line, at
    least `CROSSED_SHARE` of them (infinitely grainy otherwise): the overlay is no grain of it."""
    probed = bar[:, ::probe_step].astype(np.float64)
    near = _near(probed, float(np.median(probed)))
    if (near.mean(axis=1) < BAR_CLEAN_SHARE).any():
        uncrossed = near.all(axis=0)
        if uncrossed.mean() < CROSSED_SHARE:
            return float("inf")
        probed = probed[:, uncrossed]
    return float(np.median(np.std(probed, axis=1)))


def _leading_run(flags: np.ndarray) -> int:
    return len(flags) if flags.all() else int(np.argmin(flags))
