"""PDQ, Meta's 256-bit perceptual image hash, in numpy.

The pipeline follows the reference implementation (ThreatExchange `pdq/python` and `pdq/cpp`):

1. the caller hands an RGB image no larger than 512x512 (`PDQ_DOWNSAMPLE_DIMS`; the reference
   Python port shrinks with Pillow's `thumbnail`, which `prepare_for_pdq` repeats);
2. luma ``Y = 0.299 R + 0.587 G + 0.114 B`` in floating point;
3. two passes of the Jarosz box filter along rows then columns, window ``ceil(n / 128)``;
4. decimation to 64x64 by sampling the centre of each cell (steps 3 and 4 are linear, so they run
   as one cached 64 x n matrix per axis: two small matrix products instead of sliding sums);
5. quality: the sum of absolute neighbour differences on the 64x64 buffer, scaled, capped at 100;
6. the 16x16 block of DCT-II coefficients 1..16 in each direction (``D A D^T``);
7. bit ``16 i + j`` is set where coefficient ``(i, j)`` exceeds the median of all 256;
8. hex: the sixteen 16-bit words, most significant word first.

Rotations and flips of the image only permute and negate DCT coefficients, so all eight
dihedral variants come from one DCT, as in the reference's `...WithDihedrals` functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from hashmatch.bank.model import PART_KINDS
from hashmatch.index.spec import DerivedIndex, HammingIndexSpec
from hashmatch.signals.base import ORIENTATIONS, Orientation, PictureHash, PictureSignal, ThresholdBounds

__all__ = [
    "FRAMING_KEYS",
    "LOW_FREQUENCY_BYTES",
    "PDQ",
    "PDQ_BITS",
    "PDQ_DOWNSAMPLE_DIMS",
    "PDQ_HEX_LENGTH",
    "PDQ_MATCH_THRESHOLD",
    "PDQ_MIN_QUALITY",
    "PDQ_PARTS",
    "DCT_16x64",
    "PdqHash",
    "PdqSignal",
    "block_hashes",
    "coefficients_to_hex",
    "coefficients_to_hexes",
    "decimation_band",
    "dihedral_coefficients",
    "hex_to_bits",
    "low_frequency_key",
    "pdq_dihedral_from_luma",
    "pdq_dihedral_hashes",
    "pdq_from_luma",
    "pdq_hash",
    "pdq_luma",
    "prepare_for_pdq",
    "quality_scores",
]

PDQ_DOWNSAMPLE_DIMS = 512
PDQ_HEX_LENGTH = 64
PDQ_BITS = 256
# The PDQ authors' confident-match threshold (python-threatexchange's PDQ_CONFIDENT_MATCH_THRESHOLD).
PDQ_MATCH_THRESHOLD = 31
PDQ_MIN_QUALITY = 50
PDQ_GRID = 64  # PDQ's decimated buffer is 64x64
PDQ_MEDIAN_RANK = 127  # the reference's Torben median of 256 coefficients: the lower middle value
# The bytes of a PDQ hash (as `coefficients_to_hex` lays it out) holding the bits of the 8x8
# lowest-frequency DCT coefficients: bit 16 i + j sits in byte 31 - 2 i - j // 8, so for i, j < 8
# these are the low bytes of the first eight 16-bit words from the end.
LOW_FREQUENCY_BYTES = slice(17, 32, 2)

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
DCT_16x64 = np.sqrt(2.0 / 64.0) * np.cos((np.pi / 2.0 / 64.0) * np.outer(np.arange(1, 17), 2 * np.arange(64) + 1))
# Coefficient row i (frequency i + 1) changes sign under a flip when i + 1 is odd.
_FLIP_SIGNS = np.where(np.arange(16) % 2 == 0, -1.0, 1.0)


@dataclass(frozen=True)
class PdqHash:
    """A PDQ hash (64 lowercase hex digits) with its quality score (0-100)."""

    hex: str
    quality: int


def prepare_for_pdq(image: Image.Image) -> Image.Image:
    """An RGB copy no larger than 512x512, as the reference Python port feeds the hasher."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if max(rgb.size) > PDQ_DOWNSAMPLE_DIMS:
        rgb = rgb.copy() if rgb is image else rgb
        rgb.thumbnail((PDQ_DOWNSAMPLE_DIMS, PDQ_DOWNSAMPLE_DIMS))
    return rgb


def pdq_hash(image: Image.Image) -> PdqHash:
    """The PDQ hash of `image` (any size or mode)."""
    coefficients, quality = _dct_and_quality(_luma(prepare_for_pdq(image)))
    return PdqHash(coefficients_to_hex(coefficients), quality)


def pdq_dihedral_hashes(image: Image.Image) -> tuple[PdqHash, ...]:
    """The PDQ hashes of all eight rotations and flips of `image`; the original comes first."""
    coefficients, quality = _dct_and_quality(_luma(prepare_for_pdq(image)))
    return tuple(PdqHash(coefficients_to_hex(c), quality) for c in dihedral_coefficients(coefficients))


def pdq_from_luma(luma: np.ndarray) -> PdqHash:
    """The PDQ hash of a 2-D float luma array already at hashing size (at most 512 per side)."""
    coefficients, quality = _dct_and_quality(luma)
    return PdqHash(coefficients_to_hex(coefficients), quality)


def pdq_dihedral_from_luma(luma: np.ndarray) -> tuple[PdqHash, ...]:
    """`pdq_dihedral_hashes` for a 2-D luma array already at hashing size; the original first."""
    coefficients, quality = _dct_and_quality(np.asarray(luma, dtype=np.float64))
    return tuple(PdqHash(coefficients_to_hex(c), quality) for c in dihedral_coefficients(coefficients))


def dihedral_coefficients(coefficients: np.ndarray) -> list[np.ndarray]:
    """The 16x16 DCT blocks of the original and its 7 rotations/flips (`ORIENTATIONS` order); for
    a stack of blocks (..., 16, 16), the stack turned each way."""
    flip_x = coefficients * _FLIP_SIGNS[np.newaxis, :]
    flip_y = coefficients * _FLIP_SIGNS[:, np.newaxis]
    rotate_180 = flip_x * _FLIP_SIGNS[:, np.newaxis]
    return [
        coefficients,
        flip_x.swapaxes(-1, -2),  # rotate 90
        rotate_180,
        flip_y.swapaxes(-1, -2),  # rotate 270
        flip_x,
        flip_y,
        coefficients.swapaxes(-1, -2),  # transpose
        rotate_180.swapaxes(-1, -2),  # anti-transpose
    ]


def pdq_luma(image: Image.Image) -> np.ndarray:
    """PDQ's float luma of an image: an "L" or "F" image's values are taken as luma already."""
    if image.mode in ("L", "F"):
        return np.asarray(image, dtype=np.float64)
    return _luma(image if image.mode == "RGB" else image.convert("RGB"))


def _luma(rgb: Image.Image) -> np.ndarray:
    pixels = np.asarray(rgb, dtype=np.float64)
    return pixels @ _LUMA


@lru_cache(maxsize=64)
def _filter_and_decimate(length: int) -> np.ndarray:
    """The 64 x `length` matrix taking a luma axis to its 64 decimated, twice box-filtered samples.

    Both box-filter passes and the decimation are linear, so one small matrix product per axis
    replaces the reference's sliding sums: ``block = rows_matrix @ luma @ cols_matrix.T``.
    """
    window = _window(length)
    # The reference's box1DFloat: output o averages inputs [o - (window - half), o + half).
    half = (window + 2) // 2
    positions = np.arange(length)
    low = np.maximum(0, positions - (window - half))
    high = np.minimum(length, positions + half)
    counts = high - low
    centres = ((np.arange(64) + 0.5) * length / 64).astype(np.intp)
    # Row r averages the first pass's outputs around centre r, and each of those averages a window
    # of inputs: add each output's weight over its window, as steps in a difference array, so
    # memory stays 64 x `length` whatever the size.
    rows = np.repeat(np.arange(64), counts[centres])
    outputs = np.concatenate([np.arange(low[c], high[c]) for c in centres])
    weights = 1.0 / (counts[centres].repeat(counts[centres]) * counts[outputs])
    steps = np.zeros((64, length + 1))
    np.add.at(steps, (rows, low[outputs]), weights)
    np.add.at(steps, (rows, high[outputs]), -weights)
    matrix = np.cumsum(steps[:, :length], axis=1)
    matrix.setflags(write=False)
    return matrix


@lru_cache(maxsize=64)
def decimation_band(length: int) -> tuple[np.ndarray, np.ndarray]:
    """`_filter_and_decimate(length)` as a band: for each of the 64 outputs, the input indices it
    reads and their weights (float32), both 64 x band, padded with weight 0.

    Each output reads about ``length / 64`` neighbouring inputs, so a full-size video frame is
    filtered by gathering and weighting about one copy of it, several times faster than the dense
    matrix product and free of BLAS threading overhead.
    """
    matrix = _filter_and_decimate(length)
    support = [np.flatnonzero(row) for row in matrix]
    band = max(len(columns) for columns in support)
    indices = np.zeros((PDQ_GRID, band), dtype=np.intp)
    weights = np.zeros((PDQ_GRID, band), dtype=np.float32)
    for row, columns in enumerate(support):
        indices[row, : len(columns)] = columns
        indices[row, len(columns) :] = columns[0]  # padding with weight 0
        weights[row, : len(columns)] = matrix[row, columns]
    indices.setflags(write=False)
    weights.setflags(write=False)
    return indices, weights


def _window(old_dimension: int, new_dimension: int = 64) -> int:
    return (old_dimension + 2 * new_dimension - 1) // (2 * new_dimension)


def _dct_and_quality(luma: np.ndarray) -> tuple[np.ndarray, int]:
    rows, cols = luma.shape
    block = _filter_and_decimate(rows) @ luma @ _filter_and_decimate(cols).T
    return DCT_16x64 @ block @ DCT_16x64.T, _quality(block)


def _quality(block: np.ndarray) -> int:
    return int(quality_scores(block))


def quality_scores(blocks: np.ndarray) -> np.ndarray:
    """PDQ's quality score (0-100) of every 64x64 block in the last two axes: the sum of absolute
    neighbour differences, scaled to 0-100 grey levels and truncated, over 90, capped at 100."""
    scale = blocks.dtype.type(100.0 / 255.0)
    gradient = np.abs(np.trunc(np.diff(blocks, axis=-2) * scale)).sum(axis=(-2, -1), dtype=np.float64)
    gradient += np.abs(np.trunc(np.diff(blocks, axis=-1) * scale)).sum(axis=(-2, -1), dtype=np.float64)
    return np.minimum(100, (gradient / 90).astype(np.int64))


def low_frequency_key(pdq_hex: str) -> str:
    """The 64 bits of `pdq_hex` that belong to its 8x8 lowest-frequency coefficients, as 16 hex digits.

    Low frequencies move half as fast as PDQ's 16x16 when a picture is shifted or rescaled, so two
    framings of one picture a few percent apart agree here long after the whole hash has drifted
    past its threshold: `hashmatch.media.uneven.UnevenCropSearch` finds candidates with it.
    """
    return bytes.fromhex(pdq_hex)[LOW_FREQUENCY_BYTES].hex()


def hex_to_bits(pdq_hex: str) -> np.ndarray:
    """The 16x16 boolean matrix of a PDQ hash: entry (i, j) is set when coefficient (i, j) exceeds the median."""
    words = np.unpackbits(np.frombuffer(bytes.fromhex(pdq_hex), dtype=np.uint8)).reshape(16, 16)
    return words[::-1, ::-1].astype(bool)


def coefficients_to_hex(coefficients: np.ndarray) -> str:
    """The PDQ hash of a 16x16 block of DCT coefficients: bits above the median, hex laid out as the reference."""
    flat = coefficients.ravel()
    median = np.partition(flat, PDQ_MEDIAN_RANK)[PDQ_MEDIAN_RANK]
    bits = flat > median
    # Bit k lives in 16-bit word k // 16 at position k % 16; words print most significant first.
    words = bits.reshape(16, 16)[::-1, ::-1]
    return np.packbits(words).tobytes().hex()


def coefficients_to_hexes(coefficients: np.ndarray) -> list[str]:
    """`coefficients_to_hex` of every 16x16 block of a stack (..., 16, 16), at once."""
    flat = coefficients.reshape(-1, 256)
    median = np.partition(flat, PDQ_MEDIAN_RANK, axis=1)[:, PDQ_MEDIAN_RANK : PDQ_MEDIAN_RANK + 1]
    words = (flat > median).reshape(-1, 16, 16)[:, ::-1, ::-1]
    packed = np.packbits(words.reshape(len(flat), 256), axis=1).tobytes()
    return [packed[k : k + 32].hex() for k in range(0, len(packed), 32)]


def block_hashes(blocks: np.ndarray, orientations: Sequence[Orientation]) -> list[list[tuple[Orientation, str]] | None]:
    """For each 64x64 block of a stack (n, 64, 64), its PDQ hashes in `orientations` (all from one
    DCT), or None where its quality is below `PDQ_MIN_QUALITY`."""
    usable = quality_scores(blocks) >= PDQ_MIN_QUALITY
    found: list[list[tuple[Orientation, str]] | None] = [None] * len(blocks)
    if not usable.any():
        return found
    oriented = dihedral_coefficients(DCT_16x64 @ blocks[usable] @ DCT_16x64.T)
    hexes = [(o, coefficients_to_hexes(oriented[ORIENTATIONS.index(o)])) for o in orientations]
    for row, index in enumerate(np.flatnonzero(usable).tolist()):
        found[index] = [(o, turned[row]) for o, turned in hexes]
    return found


def _low_frequency_rows(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows[:, LOW_FREQUENCY_BYTES])


# Framing keys: the low-frequency keys of every stored PDQ framing and of every stored frame of a
# shared video (its runs' whole frames and central crops), in an index of their own under the PDQ
# entries' ids, for the uneven-crop search (`hashmatch.matching.rules.uneven_crop_candidates`) of
# checked pictures and videos.
FRAMING_KEYS = DerivedIndex(
    "framing_key", entry_kinds=("framing", "frame"), spec=HammingIndexSpec(64), key=_low_frequency_rows
)


def _same_rows(rows: np.ndarray) -> np.ndarray:
    return rows


# The parts of pictures (stored halves and thirds, a shared video's first-frame halves), held in an
# index of their own: they only ever match within `HALF_MATCH_THRESHOLD` (10 bits) or less, so the
# whole pictures' lookups within 31 bits (most of a check's) need not sort through them, and their
# own lookups are within 10 bits (`hashmatch.matching.rules.near_evidence`).
PDQ_PARTS = DerivedIndex(
    "pdq_part", entry_kinds=tuple(sorted(PART_KINDS)), spec=HammingIndexSpec(256), key=_same_rows, holds=True
)


class PdqSignal(PictureSignal):
    """PDQ: Meta's 256-bit perceptual hash, with its quality and its 8 rotations/flips from one DCT."""

    name = "pdq"
    hex_length = PDQ_HEX_LENGTH
    default_threshold = PDQ_MATCH_THRESHOLD
    # From clearly strict to the PDQ authors' loosest recommendation plus margin.
    bounds = ThresholdBounds(16, 40)
    min_quality = PDQ_MIN_QUALITY
    balanced = True

    def hash_picture(self, picture: Image.Image) -> PictureHash | None:
        dihedral = pdq_dihedral_from_luma(pdq_luma(picture))
        return PictureHash(dihedral[0].hex, dihedral[0].quality, tuple(h.hex for h in dihedral[1:]))

    def derived_indexes(self) -> tuple[DerivedIndex, ...]:
        return (FRAMING_KEYS, PDQ_PARTS)


PDQ = PdqSignal()
