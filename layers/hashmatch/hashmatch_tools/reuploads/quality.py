"""Colour and quality edits: filters, contrast, gamma, noise, blur, sharpen, JPEG, resizing."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from hashmatch_tools.reuploads.drawing import jpeg_roundtrip


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def _image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


# ---------------------------------------------------------------- TUNED


def jpeg(image: Image.Image, rng: random.Random) -> Image.Image:
    return jpeg_roundtrip(image, rng.randint(25, 70))


def contrast_brightness(image: Image.Image, rng: random.Random) -> Image.Image:
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.6, 1.6))
    return ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))


def gamma(image: Image.Image, rng: random.Random) -> Image.Image:
    g = rng.uniform(0.6, 1.6)
    return _image(255.0 * (_array(image) / 255.0) ** g)


def saturation(image: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.35:
        return ImageOps.grayscale(image).convert("RGB")
    return ImageEnhance.Color(image).enhance(rng.choice([rng.uniform(0.2, 0.6), rng.uniform(1.5, 2.5)]))


def noise(image: Image.Image, rng: random.Random) -> Image.Image:
    sigma = rng.uniform(2, 8)
    generator = np.random.default_rng(rng.randrange(1 << 30))
    pixels = _array(image)
    return _image(pixels + generator.normal(0, sigma, pixels.shape))


def blur(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))


def resize(image: Image.Image, rng: random.Random) -> Image.Image:
    f = rng.uniform(0.3, 0.8)
    method = rng.choice(
        [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS, Image.Resampling.BOX]
    )
    return image.resize((max(16, round(image.width * f)), max(16, round(image.height * f))), method)


def sharpen(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.filter(
        ImageFilter.UnsharpMask(radius=rng.uniform(1, 3), percent=rng.randint(80, 200), threshold=rng.randint(0, 3))
    )


# ---------------------------------------------------------------- HELD-OUT


def vintage(image: Image.Image, rng: random.Random) -> Image.Image:
    """Sepia, vignette and film grain."""
    grey = ImageOps.grayscale(image)
    toned = ImageOps.colorize(
        grey,
        black=(rng.randint(20, 60), rng.randint(15, 40), rng.randint(5, 25)),
        white=(255, rng.randint(225, 245), rng.randint(170, 210)),
    )
    pixels = _array(toned)
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    strength = rng.uniform(0.3, 0.6)
    pixels *= (1 - strength * np.clip(r - 0.5, 0, None) ** 1.5)[..., None]
    pixels += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(3, 8), (h, w, 1))
    return _image(pixels)


def hue_rotation(image: Image.Image, rng: random.Random) -> Image.Image:
    hsv = np.asarray(image.convert("HSV"), dtype=np.int16).copy()
    hsv[..., 0] = (hsv[..., 0] + rng.randint(30, 225)) % 256
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def posterize(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.posterize(image.convert("RGB"), rng.choice([3, 4]))


def screenshot_scaling(image: Image.Image, rng: random.Random) -> Image.Image:
    """Shrunk to 35-50% (a thumbnail screenshotted) and blown up 2x again, bilinear."""
    f = rng.uniform(0.35, 0.5)
    small = image.resize((max(16, round(image.width * f)), max(16, round(image.height * f))), Image.Resampling.BILINEAR)
    return small.resize((small.width * 2, small.height * 2), Image.Resampling.BILINEAR)


def jpeg_heavy(image: Image.Image, rng: random.Random) -> Image.Image:
    return jpeg_roundtrip(image, rng.randint(10, 20), subsampling=2)


def white_balance(image: Image.Image, rng: random.Random) -> Image.Image:
    gains = np.array([rng.uniform(0.75, 1.25) for _ in range(3)], dtype=np.float32)
    return _image(_array(image) * gains)


def local_contrast(image: Image.Image, rng: random.Random) -> Image.Image:
    """An 'HDR' look: a large-radius unsharp mask plus a saturation boost."""
    out = image.filter(ImageFilter.UnsharpMask(radius=rng.uniform(15, 40), percent=rng.randint(60, 140), threshold=0))
    return ImageEnhance.Color(out).enhance(rng.uniform(1.1, 1.5))
