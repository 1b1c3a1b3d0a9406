"""pHash as `imagehash.phash` computes it (bit for bit), in numpy without scipy."""

from __future__ import annotations

import numpy as np
from PIL import Image

from hashmatch.signals.base import PictureHash, PictureSignal, ThresholdBounds

__all__ = ["PHASH", "PHASH_BITS", "PHASH_HEX_LENGTH", "PhashSignal", "phash"]

PHASH_HEX_LENGTH = 16
PHASH_BITS = 64
_SIZE = 32
_KEEP = 8
# scipy.fftpack.dct type II, unnormalised, rows 0..7: 2 cos(pi k (2n + 1) / 2N).
_DCT_8x32 = 2.0 * np.cos(np.pi * np.outer(np.arange(_KEEP), 2 * np.arange(_SIZE) + 1) / (2 * _SIZE))
# Rounding noise of the DCT relative to its DC term; real coefficients never differ by this little.
_TIE_TOLERANCE = 1e-12


def phash(image: Image.Image) -> str:
    """The 64-bit pHash of `image` as 16 hex digits, equal to ``str(imagehash.phash(image))``.

    In flat, striped or mirror-symmetric images many coefficients are exactly zero (or exactly
    equal) and sit at the median. scipy's FFT-based DCT gives most of those exact zeros while a
    matrix product leaves ~1e-13 of rounding in them, so values within rounding of the median
    count as equal to it (bit 0) as they do in scipy. Where scipy's own rounding noise decides
    such a tie (e.g. images 2 pixels wide), the two can still differ.
    """
    small = image.convert("L").resize((_SIZE, _SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    low = _DCT_8x32 @ pixels @ _DCT_8x32.T
    tolerance = _TIE_TOLERANCE * abs(float(low[0, 0]))
    bits = low > np.median(low) + tolerance
    return np.packbits(bits.ravel()).tobytes().hex()


class PhashSignal(PictureSignal):
    """pHash as imagehash computes it.

    Measured in benchmarks/bench_robustness.py: 98% of mild edits of a photo stay within 8 bits,
    but two photos of one scene can be 2-4 bits apart, so pHash matches on its own only at a tight
    threshold, and only items shared without a PDQ (`hashmatch.matching.policy`).
    """

    name = "phash"
    hex_length = PHASH_HEX_LENGTH
    default_threshold = 6
    # Up to where different photos of one scene begin to collide.
    bounds = ThresholdBounds(0, 10)
    balanced = True

    def hash_picture(self, picture: Image.Image) -> PictureHash | None:
        return PictureHash(phash(picture))


PHASH = PhashSignal()
