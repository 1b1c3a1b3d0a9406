"""Media the demo and tests make for themselves: a user's clone ships no reference media.

Scenes are seeded compositions of shapes, gradients and texture, so two seeds give two
unrelated pictures with the detail PDQ needs (quality 100), and the edits are the ones
re-uploads of harmful media go through.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps


def scene(seed: int, size: tuple[int, int] = (1024, 768)) -> Image.Image:
    """A photo-like RGB picture, different for every seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * x / width + np.sin(angle) * y / height) * 0.5 + 0.5
    base = np.stack([ramp * rng.uniform(60, 200) + rng.uniform(0, 40) for _ in range(3)], axis=-1)
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(14, 24))):
        x0, y0 = rng.uniform(-0.1, 1.0) * width, rng.uniform(-0.1, 1.0) * height
        w, h = rng.uniform(0.05, 0.45) * width, rng.uniform(0.05, 0.45) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x0, y0, x0 + w, y0 + h)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=2))
    noise = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8), "RGB")


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def mirrored(image: Image.Image) -> Image.Image:
    return ImageOps.mirror(image)


def resized(image: Image.Image, factor: float) -> Image.Image:
    width, height = image.size
    return image.resize((max(1, int(width * factor)), max(1, int(height * factor))), Image.Resampling.LANCZOS)


def letterboxed(image: Image.Image, ratio: float = 0.2, fill: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """The picture with bars above and below, each `ratio` of its height."""
    width, height = image.size
    bar = int(height * ratio)
    canvas = Image.new("RGB", (width, height + 2 * bar), fill)
    canvas.paste(image, (0, bar))
    return canvas
