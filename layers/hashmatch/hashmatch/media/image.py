"""Decoding untrusted image files into pixels, and hashing them.

Files come from member platforms and may be broken or hostile, so every way one can fail comes out
as `Rejected` with a reason users can act on, never as a Pillow exception or warning:

- `empty` (zero bytes), `too_large` (more bytes than `Limits.max_image_bytes`, or a side longer
  than `Limits.max_image_side`), `decompression_bomb` (the header declares more pixels than
  `Limits.max_image_pixels`; checked before a single pixel is decoded), `unsupported_media` (not an
  image format we decode, judged by content, not by name), `corrupt` (anything the decoder chokes on).

Hashing is dominated by decoding. `hash_image` therefore never decodes more pixels than PDQ's
512-pixel thumbnail needs: a JPEG is decoded straight to its luma plane at the smallest DCT scale
(1/2, 1/4 or 1/8) that keeps both sides at least as large as that thumbnail, and the thumbnail is
then made as Pillow's `thumbnail` makes it (bicubic, reducing gap 2). PDQ and pHash both read
luma only. A checked JPEG keeps its chroma too, at that reduced scale, for one use: its colours
at `hashmatch.media.slanted.SIDE` pixels, where slanted frames are looked for (a backdrop often
has the brightness of the picture laid on it, rarely its colour); a shared one is decoded to luma.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache

import numpy as np
from PIL import ExifTags, Image, features

from hashmatch.media.framing import check_framings, shared_cut_views, stored_framings
from hashmatch.media.luma import shrunk
from hashmatch.media.model import FrameHash, LabelledHash, Limits, MediaHashes, Rejected, RejectReason, sniff_media
from hashmatch.media.slanted import SIDE as SLANTED_SIDE
from hashmatch.signals import SIGNALS
from hashmatch.signals.base import OTHER_ORIENTATIONS
from hashmatch.signals.digest import file_digests
from hashmatch.signals.pdq import PDQ_DOWNSAMPLE_DIMS, pdq_from_luma, pdq_luma

__all__ = ["ALPHA_BACKGROUND", "decode_image", "hash_image", "hash_picture", "to_rgb"]

# Transparent pixels are shown on white by browsers and most apps, so that is what we hash.
ALPHA_BACKGROUND = (255, 255, 255)
SNIFF_BYTES = 64

_PILLOW_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "heif": "HEIF",
    "avif": "AVIF",
}
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_DEEP_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})
# EXIF orientation -> the transposition that shows the image upright (as ImageOps.exif_transpose).
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS_ORIENTATIONS = frozenset({5, 6, 7, 8})
# GIF delays this short are played as 100 ms by browsers.
_SHORTEST_FRAME_MS = 10
_DEFAULT_FRAME_MS = 100


def decode_image(path: str, limits: Limits, *, at_least: int | None = None) -> Image.Image:
    """The image at `path` as an RGB image, EXIF orientation applied (an animation's first frame).

    Transparent areas are composited onto `ALPHA_BACKGROUND`; 16- and 32-bit and float pixels are
    scaled to 8 bits. With `at_least`, a JPEG may be decoded at a reduced DCT scale that keeps it
    no smaller than a thumbnail fitting in `at_least` x `at_least`; other formats decode in full.
    Raises `Rejected` (empty, too_large, decompression_bomb, unsupported_media, corrupt).
    """
    data = _read_image_bytes(path, limits)
    with _decoding_failures_rejected():
        image = _open(data, limits)
        if at_least is not None and image.format == "JPEG":
            image.draft("RGB", _thumbnail_size(image.size, at_least))
        image.load()
        return _oriented(to_rgb(image), _orientation(image))


def hash_image(path: str, limits: Limits, *, for_sharing: bool = False) -> MediaHashes:
    """Every registered file and picture signal of an image, and the PDQ hashes of its framings:
    those to store when `for_sharing`, else those to query with the picture's rotations/flips, and
    the search for uneven crops as `uneven_crops` (see `hashmatch.media.uneven`).

    Every picture signal hashes the same thumbnail (PDQ's reference downsample to fit 512x512,
    upright). `width` and `height` are the full image's, after EXIF orientation. An animation (GIF,
    WebP, APNG) also gets the PDQ hashes of up to `limits.max_gif_frames` frames spread over it in
    `frames`. Raises `Rejected` as `decode_image` does.
    """
    data = _read_image_bytes(path, limits)
    signals = file_digests(io.BytesIO(data))
    with _decoding_failures_rejected():
        image = _open(data, limits)
        width, height = image.size
        orientation = _orientation(image)
        thumbnail, colours = _pdq_thumbnail_and_colours(image, orientation, use_draft=True, colours=not for_sharing)
        if orientation in _SIDEWAYS_ORIENTATIONS:
            width, height = height, width
        frames = _animation_frames(image, orientation, limits) if getattr(image, "is_animated", False) else ()
    picture = hash_picture(thumbnail, for_sharing=for_sharing, colours=colours)
    return replace(picture, signals={**signals, **picture.signals}, frames=frames, width=width, height=height)


def hash_picture(
    thumbnail: Image.Image, *, for_sharing: bool = False, colours: Image.Image | None = None
) -> MediaHashes:
    """Every registered picture signal of an upright picture already shrunk as PDQ's reference
    shrinks it (at most 512x512), with its framings: those to store when `for_sharing`, else its
    rotations/flips and framings to query and its search for uneven crops (shared: also its views
    as unevenly cut copies show it, for copies checked before the share). No file signals.
    `colours`: the picture's colours, upright, where `thumbnail` is its luma only (a JPEG's)."""
    signals: dict[str, str] = {}
    quality: dict[str, int] = {}
    queries: list[LabelledHash] = []
    for signal in SIGNALS.picture_signals():
        hashed = signal.hash_picture(thumbnail)
        if hashed is None:
            continue
        signals[signal.name] = hashed.value
        if hashed.quality is not None:
            quality[signal.name] = hashed.quality
        queries += [
            LabelledHash(signal.name, value, o.value)
            for o, value in zip(OTHER_ORIENTATIONS, hashed.orientations, strict=False)
        ]
    if for_sharing:
        return MediaHashes(
            media="image",
            signals=signals,
            quality=quality,
            framings=stored_framings(thumbnail),
            cut_views=shared_cut_views(thumbnail),
        )
    framings, uneven_crops = check_framings(thumbnail, colours=colours)
    return MediaHashes(
        media="image",
        signals=signals,
        quality=quality,
        queries=(*queries, *framings),
        uneven_crops=uneven_crops,
        width=thumbnail.width,
        height=thumbnail.height,
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """`image` as 8-bit RGB, whatever its Pillow mode; raises `Rejected` for a mode we cannot read."""
    mode = image.mode
    if mode in _DEEP_MODES:
        return _deep_to_8bit(image).convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return _composite_on_background(image)
    if mode == "RGB":
        return image
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, f"pixel mode {mode} cannot be read") from error


def _read_image_bytes(path: str, limits: Limits) -> bytes:
    size = os.stat(path).st_size
    if size == 0:
        raise Rejected(RejectReason.EMPTY, "the file is empty (0 bytes)")
    if size > limits.max_image_bytes:
        raise Rejected(RejectReason.TOO_LARGE, f"{size} bytes is over the image limit of {limits.max_image_bytes}")
    with open(path, "rb") as stream:
        data = stream.read(size + 1)  # the limit still holds if the file grew since stat
    if not data:
        raise Rejected(RejectReason.EMPTY, "the file is empty (0 bytes)")
    if len(data) > limits.max_image_bytes:
        raise Rejected(RejectReason.TOO_LARGE, f"over the image limit of {limits.max_image_bytes} bytes")
    return data


@contextmanager
def _decoding_failures_rejected() -> Iterator[None]:
    # Decoders raise a zoo of exception types on malformed input (OSError, ValueError,
    # SyntaxError, struct.error, EOFError, IndexError, ...), and warn about odd metadata; a file
    # that makes them fail is corrupt, whatever the type. The cause stays chained for the logs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        except Rejected:
            raise
        except Image.DecompressionBombError as error:
            raise Rejected(RejectReason.DECOMPRESSION_BOMB, str(error)) from error
        except MemoryError as error:
            raise Rejected(RejectReason.TOO_LARGE, "not enough memory to decode the image") from error
        except Exception as error:
            detail = f"{type(error).__name__}: {str(error)[:200]}"
            raise Rejected(RejectReason.CORRUPT, f"cannot decode: {detail}") from error


def _open(data: bytes, limits: Limits) -> Image.Image:
    """The image's header parsed and its dimensions checked; no pixel is decoded yet."""
    sniffed = sniff_media(data[:SNIFF_BYTES])
    if sniffed is None:
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, "not an image format we read (judged by content)")
    kind, name = sniffed
    if kind != "image":
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, f"a {name} video, not an image")
    image = Image.open(io.BytesIO(data), formats=[_pillow_format(name)])
    _check_dimensions(image.size, limits)
    return image


def _pillow_format(name: str) -> str:
    if name == "heif" and not _heif_opener_registered():
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, "HEIC/HEIF needs pillow-heif, which is not installed")
    if name == "avif" and not features.check("avif"):
        raise Rejected(RejectReason.UNSUPPORTED_MEDIA, "AVIF needs Pillow built with libavif")
    return _PILLOW_FORMATS[name]


@cache
def _heif_opener_registered() -> bool:
    # Registered on first use, so importing this module never needs pillow-heif.
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


def _check_dimensions(size: tuple[int, int], limits: Limits) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise Rejected(RejectReason.CORRUPT, f"the header declares a {width}x{height} image")
    if width * height > limits.max_image_pixels:
        raise Rejected(
            RejectReason.DECOMPRESSION_BOMB,
            f"the header declares {width}x{height} = {width * height} pixels, over the limit of "
            f"{limits.max_image_pixels}",
        )
    if max(width, height) > limits.max_image_side:
        raise Rejected(
            RejectReason.TOO_LARGE,
            f"the header declares {width}x{height}, a side over the limit of {limits.max_image_side}",
        )


def _thumbnail_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """The size Pillow's ``thumbnail((side, side))`` gives an image of `size`."""
    width, height = size
    if width <= side and height <= side:
        return size
    aspect = width / height
    if aspect <= 1:
        exact = side * aspect
        return max(min(math.floor(exact), math.ceil(exact), key=lambda n: abs(aspect - n / side)), 1), side
    exact = side / aspect
    return side, max(min(math.floor(exact), math.ceil(exact), key=lambda n: 0 if n == 0 else abs(aspect - side / n)), 1)


def _pdq_thumbnail(image: Image.Image, orientation: int, *, use_draft: bool) -> Image.Image:
    """The current frame shrunk as PDQ's reference shrinks it, to fit 512x512, and oriented.

    A JPEG decoded at reduced scale gives its luma plane as float ("F"), resized in floating point;
    anything else gives RGB resized exactly as the reference's Pillow `thumbnail` does.
    """
    thumbnail, _ = _pdq_thumbnail_and_colours(image, orientation, use_draft=use_draft, colours=False)
    return thumbnail


def _pdq_thumbnail_and_colours(
    image: Image.Image, orientation: int, *, use_draft: bool, colours: bool
) -> tuple[Image.Image, Image.Image | None]:
    """`_pdq_thumbnail`, and where that is a JPEG's luma and `colours` is asked for, the JPEG's
    colours at most `SLANTED_SIDE` pixels long, oriented (None otherwise)."""
    target = _thumbnail_size(image.size, PDQ_DOWNSAMPLE_DIMS)
    box = None
    if use_draft and image.format == "JPEG" and target != image.size:
        # Asking for the thumbnail's own size picks the smallest DCT scale that stays at least
        # that large, so the resize below only ever shrinks. "L" makes libjpeg emit the Y plane
        # (JPEG's Y is PDQ's luma) and skip colour conversion; "YCbCr" emits the planes as they
        # are, the same Y beside the chroma, and skips it too.
        drafted = image.draft("YCbCr" if colours else "L", target)
        box = drafted[1] if drafted is not None else None
    image.load()
    coloured = None
    if box is not None and image.mode == "YCbCr":
        kept = image.crop(box)  # the drafted image may run a few pixels past the picture
        coloured = _oriented(shrunk(kept, SLANTED_SIDE).convert("RGB"), orientation)
        image = image.getchannel("Y")
    small = image.convert("F") if box is not None and image.mode == "L" else to_rgb(image)
    if small.size != target:
        small = small.resize(target, Image.Resampling.BICUBIC, box=box, reducing_gap=2.0)
    if small is image:
        small = image.copy()  # an animation draws its next frame over this one
    return _oriented(small, orientation), coloured


def _orientation(image: Image.Image) -> int:
    """The EXIF (or XMP) orientation of the file `image` was opened from; 1 when unreadable."""
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:
        # Unreadable metadata is no reason to refuse pixels that decode fine: keep them as stored.
        return 1


def _oriented(image: Image.Image, orientation: int) -> Image.Image:
    """`image` turned upright as `orientation` says (`image` itself when it already is)."""
    method = _TRANSPOSES.get(orientation)
    return image.transpose(method) if method is not None else image


def _composite_on_background(image: Image.Image) -> Image.Image:
    rgba = image.convert("LA").convert("RGBA") if image.mode == "La" else image.convert("RGBA")
    if rgba.getchannel("A").getextrema()[0] == 255:
        return rgba.convert("RGB")
    background = Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _deep_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float pixels scaled (not clipped) to 8-bit luma.

    The range decides the scale: floats in [0, 1] are fractions of white; values in [0, 255] are
    8-bit values in a wider type (what Pillow itself makes of 8-bit data); other values in
    [0, 65535] are 16-bit; anything else is stretched from its minimum to its maximum.
    """
    values = np.asarray(image).astype(np.float32)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if image.mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = values
    elif image.mode != "F" and low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0
    elif high > low:
        scaled = (values - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(values)
    pixels = np.clip(np.rint(np.nan_to_num(scaled, nan=0.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _animation_frames(image: Image.Image, orientation: int, limits: Limits) -> tuple[FrameHash, ...]:
    """PDQ hashes of up to `limits.max_gif_frames` frames spread evenly over the animation.

    Animations decode frame after frame, so frames are only taken from the first ones whose
    pixels together stay within `limits.max_image_pixels`: cost is bounded whatever the file says.
    """
    frame_pixels = image.size[0] * image.size[1]
    decodable = min(int(getattr(image, "n_frames", 1)), max(1, limits.max_image_pixels // frame_pixels))
    count = min(decodable, max(1, limits.max_gif_frames))
    wanted = {round(i * (decodable - 1) / max(1, count - 1)) for i in range(count)}
    frames: list[FrameHash] = []
    offset_ms = 0
    for index in range(max(wanted) + 1):
        image.seek(index)
        if index in wanted:
            pdq = pdq_from_luma(pdq_luma(_pdq_thumbnail(image, orientation, use_draft=False)))
            frames.append(FrameHash(offset=offset_ms / 1000.0, pdq=pdq.hex, quality=pdq.quality))
        duration = image.info.get("duration") or 0
        offset_ms += int(duration) if duration > _SHORTEST_FRAME_MS else _DEFAULT_FRAME_MS
    return tuple(frames)
