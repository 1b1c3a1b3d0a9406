"""Copies turned by a few degrees: the checked picture turned back, cut where the shared crop lies.

People straighten a horizon or tilt a picture for effect, then cut away the corners the turn left
empty: the copy shows the original's centre turned by a few degrees. PDQ survives about a degree
of turn; at 3 degrees plus the cut a copy is 60-100 bits from every stored framing, and neither the
8 rotations/flips nor the crops follow it.

So a checked picture is also turned back by each of `TILT_ANGLES`, either way: a copy turned by
that angle is then upright again, its own corners now empty, and the largest upright rectangle of
its aspect inside is clean. A copy turned by a with its corners cut holds the share k(a) of the
original's sides (k: that rectangle's share, `inscribed_share`); turned back, a central crop q of
it holds q k(a) (1 - 2e), e being any further cut per side. So the view hashed is the central crop
with q k(a) (1 - 2e) equal to the stored 80% crop of the shared picture, for e in
`TILT_EXTRA_CROPS`, and never beyond the clean rectangle; where the turn leaves less than that
(q <= k(a) needs 0.8 <= k(a)^2: a 16:9 picture turned by 5 degrees keeps k = 0.87), equal to the
stored 60% crop (`hashmatch.media.framing.DEEP_CROP_SCALE`) instead. A copy turned by an angle
between two of `TILT_ANGLES` is at most 0.75 degrees off one of them, which PDQ tolerates.

Each view is sampled straight from the analysis luma: Pillow's affine transform (bilinear) reads
PDQ's 64x64 cell centres along the turned crop, from the luma box-blurred over 3x3 pixels, which
stands in for the area average of a cell (3-4 pixels across): 12 small samplings instead of 6 turned
copies of the picture. Measured against turning the luma and averaging exactly: 2 bits apart at the
median, 8 at the 90th percentile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hashmatch.media.luma import AnalysisLuma
from hashmatch.signals.base import Orientation
from hashmatch.signals.pdq import PDQ_GRID, block_hashes

__all__ = ["TILT_ANGLES", "TILT_EXTRA_CROPS", "TiltedView", "inscribed_share", "tilted_views"]

# Degrees, each way: copies turned by 1.25-8.75 degrees come within 0.75 of one of them. Set with
# `benchmarks/study_deep_crop.py --part tilt` (66 copies of TUNED photos turned 1-8 degrees, corners
# cut): (2, 3.5, 5) aimed at the 80% crop found 71.2%; aimed at the 60% crop where the turn leaves
# less than the 80%, 74.2%; with 6.5 added, 83.3%; with 8 as well, 89.4% (8 more hashes a check).
TILT_ANGLES: tuple[float, ...] = (2.0, 3.5, 5.0, 6.5, 8.0)
# Further cuts per side a copy may have beside its corners (share of the side).
TILT_EXTRA_CROPS: tuple[float, ...] = (0.0, 0.015)


@dataclass(frozen=True)
class TiltedView:
    """The checked picture turned back by `angle` degrees (a copy turned clockwise when positive),
    its central `scale` crop, and that crop's PDQ hashes in the orientations asked for."""

    angle: float
    scale: float
    hashes: list[tuple[Orientation, str]]


def tilted_views(luma: AnalysisLuma, targets: Sequence[float], orientations: Sequence[Orientation]) -> list[TiltedView]:
    """For each of `TILT_ANGLES` either way and each of `TILT_EXTRA_CROPS`, the central crop of the
    picture turned back that shows the original's central share as a copy so turned and cut would
    (see the module docstring), with its hashes; none for a crop of quality below 50, and none at
    all for an image smaller than the analysis minimum. The share is the first of `targets` (the
    stored central crops, largest first) that the turn leaves whole: a wide picture turned by 5
    degrees or more keeps less than the 80% crop, but still the 60% one."""
    if luma.too_small:
        return []
    blurred = luma.cell_sampler()
    views = [
        (angle, scale)
        for angle in sorted({sign * a for a in TILT_ANGLES for sign in (-1.0, 1.0)})
        for scale in _scales(inscribed_share(luma.width, luma.height, angle), targets)
    ]
    blocks = np.stack([_sampled(blurred, angle, scale) for angle, scale in views])
    hashed = block_hashes(blocks, orientations)
    return [TiltedView(angle, scale, hashes) for (angle, scale), hashes in zip(views, hashed, strict=True) if hashes]


def _scales(clean: float, targets: Sequence[float]) -> list[float]:
    """The central crops of a picture turned back whose clean share is `clean` that show the
    original's central share, the first of `targets` that fits inside the clean share (else the
    last), for each of `TILT_EXTRA_CROPS` (never beyond the clean share).

    A crop q of the turned-back copy shows q `clean` of the original, and q is at most `clean`:
    a target t fits when t <= clean ** 2."""
    target = next((t for t in targets if t <= clean * clean), targets[-1])
    return sorted({min(clean, target / (clean * (1.0 - 2.0 * extra))) for extra in TILT_EXTRA_CROPS})


def _sampled(picture: Image.Image, angle: float, scale: float) -> np.ndarray:
    """PDQ's 64x64 buffer of the central `scale` crop of `picture` turned by `angle` degrees
    counter-clockwise about its centre (as Pillow's `rotate` turns), sampled at the cells' centres."""
    width, height = picture.size
    crop_width, crop_height = scale * width, scale * height
    # Pillow reads the input at (a x + b y + c, d x + e y + f) for output pixel centre (x, y); a
    # turn by `angle` reads the input at M (p - centre) + centre, M turning by -angle.
    turn = -math.radians(angle)
    cos, sin = math.cos(turn), math.sin(turn)
    across, down = crop_width / PDQ_GRID, crop_height / PDQ_GRID
    coefficients = (
        cos * across,
        sin * down,
        width / 2 - cos * crop_width / 2 - sin * crop_height / 2,
        -sin * across,
        cos * down,
        height / 2 + sin * crop_width / 2 - cos * crop_height / 2,
    )
    cells = picture.transform((PDQ_GRID, PDQ_GRID), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR)
    return np.asarray(cells, dtype=np.float64)


def inscribed_share(width: float, height: float, angle: float) -> float:
    """The share of each side of a `width` x `height` picture kept by the largest rectangle of the
    same aspect that fits, upright, inside the picture turned by `angle` degrees."""
    radians = math.radians(abs(angle))
    cos, sin = math.cos(radians), math.sin(radians)
    return min(width / (width * cos + height * sin), height / (width * sin + height * cos))
