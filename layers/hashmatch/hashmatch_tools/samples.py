"""Media the demo and tests make for themselves: a user's clone ships no reference media.

Scenes are seeded compositions of shapes, gradients and texture, so two seeds give two
unrelated pictures with the detail PDQ needs (quality 100), and the edits are the ones
re-uploads of harmful media go through.
"""

from __future__ import annotations

import functools
import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from hashmatch.media.model import FrameHash, MediaHashes


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


def panning_frames(seed: int, seconds: float, fps: int = 24, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Frames of a camera panning across a seeded scene, as RGB arrays: footage whose consecutive
    frames differ the way hand-held video does."""
    width, height = size
    canvas = np.asarray(scene(seed, (width * 2, height * 2)))
    count = int(seconds * fps)
    frames = []
    for index in range(count):
        progress = index / max(1, count - 1)
        left = int(progress * width)
        top = int((0.5 - 0.5 * np.cos(progress * np.pi)) * height)
        frames.append(np.ascontiguousarray(canvas[top : top + height, left : left + width]))
    return frames


def video_bytes(frames: list[np.ndarray], fps: int = 24) -> bytes:
    """The frames encoded as an H.264 MP4 (PyAV's bundled ffmpeg)."""
    import tempfile
    from fractions import Fraction
    from pathlib import Path

    import av

    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "video.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "ultrafast"}
            for index, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        return path.read_bytes()


def mirrored_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [np.ascontiguousarray(frame[:, ::-1]) for frame in frames]


def letterboxed_frames(frames: list[np.ndarray], ratio: float = 0.15) -> list[np.ndarray]:
    height = frames[0].shape[0]
    bar = np.zeros((int(height * ratio) // 2 * 2, frames[0].shape[1], 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.concatenate([bar, frame, bar])) for frame in frames]


@functools.cache
def smooth_photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """A seeded stand-in for a photo: smooth shapes at several scales, in colour."""
    rng = np.random.default_rng(seed)
    width, height = size
    canvas = np.zeros((height, width, 3))
    for cells, weight in ((4, 1.0), (12, 0.5), (40, 0.25)):
        noise = rng.random((cells * height // width + 1, cells, 3))
        layer = Image.fromarray((noise * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
        canvas += weight * np.asarray(layer, dtype=np.float64)
    canvas = 255 * (canvas - canvas.min()) / (canvas.max() - canvas.min())
    return Image.fromarray(canvas.astype(np.uint8))


def sampled_video_hashes(samples: int, framings: int, label: str = "inside_frame", seed: int = 0) -> MediaHashes:
    """A checked video's hashes, made up: `samples` frames at 1 fps, each with seeded PDQ hashes
    in 8 orientations and `framings` framings labelled `label` (sizes, not matching, under test)."""
    rng = random.Random(seed)

    def pdq() -> str:
        return f"{rng.getrandbits(256):064x}"

    frames = tuple(
        FrameHash(float(k), pdq(), 90, tuple(pdq() for _ in range(7)), tuple((label, pdq()) for _ in range(framings)))
        for k in range(samples)
    )
    return MediaHashes(media="video", signals={"sha256": "0" * 64}, frames=frames, duration=float(samples))
