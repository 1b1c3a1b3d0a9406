"""pHash equals imagehash's bit for bit, so hashes shared by imagehash users match ours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.fftpack
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from hashmatch.signals.phash import PHASH_HEX_LENGTH, phash

imagehash = pytest.importorskip("imagehash")

pytestmark = pytest.mark.unit

IMAGE_SUFFIXES = {".jpg", ".png", ".webp", ".tiff", ".gif", ".bmp"}


def reference_images(shared_data: Path) -> list[Path]:
    return sorted(
        path for path in (shared_data / "pdq").rglob("*") if path.suffix in IMAGE_SUFFIXES and path.stat().st_size > 0
    )


def test_every_reference_image_hashes_as_imagehash_does(shared_data: Path) -> None:
    images = reference_images(shared_data)
    assert len(images) >= 45
    for path in images:
        with Image.open(path) as image:
            image.load()
            # Each mode as opened; the small ones also as RGB and L (12 MP photos are slow to resize).
            small = image.width * image.height <= 2_000_000
            variants = (image, image.convert("RGB"), image.convert("L")) if small else (image,)
            for variant in variants:
                assert phash(variant) == str(imagehash.phash(variant)), f"{path.name} ({variant.mode})"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    height=st.integers(3, 160),
    width=st.integers(3, 160),
    mode=st.sampled_from(["L", "RGB", "RGBA"]),
    low=st.integers(0, 255),
    spread=st.integers(0, 255),
)
def test_random_images_hash_as_imagehash_does(
    seed: int, height: int, width: int, mode: str, low: int, spread: int
) -> None:
    # Random pixel content of any size, brightness and contrast (spread 0 is a flat image).
    bands = len(mode)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(low, min(255, low + spread) + 1, size=(height, width, bands), dtype=np.uint8)
    image = Image.fromarray(pixels[:, :, 0] if bands == 1 else pixels)
    assert image.mode == mode
    # Where a coefficient sits on the median to within rounding, scipy's FFT and our matrix product
    # may round it to either side: bit parity is promised only where the median is unambiguous.
    small = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low_frequencies = scipy.fftpack.dct(scipy.fftpack.dct(small, axis=0), axis=1)[:8, :8]
    margin = np.min(np.abs(low_frequencies - np.median(low_frequencies)))
    assume(margin > 1e-6 * max(1.0, float(np.abs(low_frequencies).max())))
    assert phash(image) == str(imagehash.phash(image))


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((40, 40), np.uint8),
        np.full((17, 50), 200, np.uint8),
        np.tile(np.arange(0, 250, 10, dtype=np.uint8), (30, 1)),  # vertical stripes
        (np.indices((37, 61)).sum(axis=0) % 2 * 255).astype(np.uint8),  # checkerboard
        np.hstack([np.arange(20, dtype=np.uint8).reshape(4, 5).repeat(5, 0)] * 2),
    ],
    ids=["black", "flat", "stripes", "checkerboard", "repeated"],
)
def test_flat_and_regular_images_hash_as_imagehash_does(pixels: np.ndarray) -> None:
    # Exact zeros and ties at the median: scipy's DCT gives exact values a matrix product does not.
    image = Image.fromarray(pixels)
    assert phash(image) == str(imagehash.phash(image))


def test_hash_is_16_lowercase_hex_digits() -> None:
    value = phash(Image.new("RGB", (10, 10), (1, 2, 3)))
    assert len(value) == PHASH_HEX_LENGTH
    assert value == value.lower()
    int(value, 16)
