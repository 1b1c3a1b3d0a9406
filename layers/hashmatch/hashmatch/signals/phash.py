"""pHash as `imagehash.phash` computes it (bit for bit), in numpy without scipy."""

from __future__ import annotations

import numpy as np
from PIL import Image

PHASH_HEX_LENGTH = 16
PHASH_BITS = 64
_SIZE = 32
_KEEP = 8
# scipy.fftpack.dct type II, unnormalised, rows 0..7: 2 cos(pi k (2n + 1) / 2N).
_DCT_8x32 = 2.0 * np.cos(np.pi * np.outer(np.arange(_KEEP), 2 * np.arange(_SIZE) + 1) / (2 * _SIZE))


def phash(image: Image.Image) -> str:
    """The 64-bit pHash of `image` as 16 hex digits, equal to ``str(imagehash.phash(image))``."""
    small = image.convert("L").resize((_SIZE, _SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    low = _DCT_8x32 @ pixels @ _DCT_8x32.T
    bits = low > np.median(low)
    return np.packbits(bits.ravel()).tobytes().hex()
