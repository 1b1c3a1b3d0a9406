"""Image decoding: every Pillow mode reads right, hostile files are rejected, the fast path is faithful."""

from __future__ import annotations

import hashlib
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from hashmatch.media import image as imaging
from hashmatch.media.image import ALPHA_BACKGROUND, decode_image, hash_image, to_rgb
from hashmatch.media.model import Limits, Rejected, RejectReason, sniff_media
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ_MIN_QUALITY, pdq_dihedral_hashes, pdq_hash
from hashmatch.signals.phash import phash

pytestmark = pytest.mark.unit

# The stated tolerance of the fast path (reduced-scale JPEG decode straight to a luma thumbnail)
# against a full decode followed by the reference pipeline. Measured on every reference photo
# and a 12 MP photo: at most 2 PDQ bits and 0 pHash bits.
FAST_PATH_PDQ_BITS = 6
FAST_PATH_PHASH_BITS = 4
# Each mode file is the same picture converted and re-saved (some lossily): measured 0-2 bits.
MODE_PDQ_BITS = 8
MODE_PHASH_BITS = 4
PHOTO_SUFFIXES = {".jpg", ".png", ".webp"}


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> Image.Image:
    with Image.open(shared_data / "pdq" / "bridge-mods" / "aaa-orig.jpg") as image:
        return image.convert("RGB")


def smooth_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like picture with detail at every scale, so its PDQ quality is high."""
    rng = np.random.default_rng(seed)
    picture = np.zeros((size[1], size[0], 3))
    for cells in (4, 16, 64):
        noise = Image.fromarray(rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8))
        picture += np.asarray(noise.resize(size, Image.Resampling.BICUBIC), dtype=np.float64)
    return Image.fromarray((picture / 3).astype(np.uint8))


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header declaring `width` x `height` grey pixels, one row of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" * (min(width, 1000) + 1))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", row) + png_chunk(b"IEND", b"")


def assert_rejected(path: str, reason: RejectReason, limits: Limits | None = None) -> None:
    for function in (hash_image, decode_image):
        with pytest.raises(Rejected) as caught:
            function(path, limits or Limits())
        assert caught.value.reason is reason, f"{function.__name__}: {caught.value}"


# Every Pillow mode


def mode_files(shared_data: Path) -> list[Path]:
    return sorted(p for p in (shared_data / "pdq" / "misc-images" / "modes").iterdir() if p.suffix != ".md")


def test_every_mode_file_hashes_like_the_original(shared_data: Path) -> None:
    folder = shared_data / "pdq" / "misc-images" / "modes"
    original = hash_image(str(folder / "original.jpg"), Limits())
    files = mode_files(shared_data)
    assert {p.stem for p in files} >= {"1", "L", "P", "LA", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "HSV", "LAB"}
    assert {p.stem for p in files} >= {"I", "F", "original"}
    for path in files:
        if path.name == "LAB.tiff":
            continue  # a zero-byte file: see the next test
        hashes = hash_image(str(path), Limits())
        assert (hashes.width, hashes.height) == (1600, 1004), path.name
        assert hex_distance(hashes.signals["pdq"], original.signals["pdq"]) <= MODE_PDQ_BITS, path.name
        assert hex_distance(hashes.signals["phash"], original.signals["phash"]) <= MODE_PHASH_BITS, path.name
        rgb = decode_image(str(path), Limits())
        assert rgb.mode == "RGB"
        assert hex_distance(pdq_hash(rgb).hex, original.signals["pdq"]) <= MODE_PDQ_BITS, path.name


def test_the_lab_tiff_in_the_reference_set_is_empty_and_rejected_as_such(shared_data: Path) -> None:
    # The generator's save failed and left 0 bytes (Pillow cannot identify it, having nothing to
    # read); a real LAB TIFF decodes fine, as the generated-modes test shows.
    path = shared_data / "pdq" / "misc-images" / "modes" / "LAB.tiff"
    assert path.stat().st_size == 0
    assert_rejected(str(path), RejectReason.EMPTY)


def deep_and_odd_modes(photo: Image.Image) -> dict[str, tuple[Image.Image, str]]:
    """`photo` in modes the reference files lack (their WebP copies were saved as RGB)."""
    small = photo.resize((640, 402))
    grey = np.asarray(small.convert("L"), dtype=np.float64)
    return {
        "I;16 (16-bit PNG)": (Image.fromarray((grey * 257).astype(np.uint16)), "png"),
        "I (32-bit TIFF, wide range)": (Image.fromarray((grey * 1000 - 50_000).astype(np.int32)), "tiff"),
        "F (float TIFF, 0..1)": (Image.fromarray((grey / 255).astype(np.float32)), "tiff"),
        "F (float TIFF, 0..255)": (Image.fromarray(grey.astype(np.float32)), "tiff"),
        "LAB (TIFF)": (small.convert("LAB"), "tiff"),
        "CMYK (TIFF)": (small.convert("CMYK"), "tiff"),
        "1 (TIFF)": (small.convert("1"), "tiff"),
        "P (GIF)": (small.convert("P"), "gif"),
        "RGB (BMP)": (small, "bmp"),
        "RGB (WebP)": (small, "webp"),
        "YCbCr (JPEG)": (small.convert("YCbCr"), "jpeg"),
    }


def test_deep_and_odd_modes_decode_to_the_same_picture(photo: Image.Image, tmp_path: Path) -> None:
    reference = pdq_hash(photo.resize((640, 402))).hex
    for name, (image, file_format) in deep_and_odd_modes(photo).items():
        path = tmp_path / f"{abs(hash(name))}.{file_format}"
        image.save(path, file_format.upper())
        with Image.open(path) as reopened:
            opened_mode = reopened.mode
        hashes = hash_image(str(path), Limits())
        assert hex_distance(hashes.signals["pdq"], reference) <= MODE_PDQ_BITS, f"{name} opened as {opened_mode}"
        assert decode_image(str(path), Limits()).mode == "RGB"


def test_16_bit_pixels_are_scaled_not_clipped(photo: Image.Image) -> None:
    grey = np.asarray(photo.convert("L").resize((64, 40)), dtype=np.float64)
    deep = Image.fromarray((grey * 257).astype(np.uint16))
    assert deep.mode == "I;16"
    clipped = np.asarray(deep.convert("RGB"))
    assert clipped.mean() > 250  # what a plain convert gives: nearly all white
    scaled = np.asarray(to_rgb(deep), dtype=np.float64)[:, :, 0]
    assert np.abs(scaled - grey).max() <= 1


def test_float_pixels_outside_8_bits_are_stretched_to_fit() -> None:
    values = np.linspace(-3.0, 7.0, 100, dtype=np.float32).reshape(10, 10)
    pixels = np.asarray(to_rgb(Image.fromarray(values)))[:, :, 0]
    assert pixels.min() == 0
    assert pixels.max() == 255
    assert np.all(np.diff(pixels.ravel().astype(int)) >= 0)


def test_transparent_areas_are_shown_on_the_background(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # invisible black
    rgba.paste((200, 30, 30, 255), (16, 16, 48, 48))
    rgba.paste((30, 30, 200, 128), (0, 0, 8, 8))
    path = tmp_path / "sticker.png"
    rgba.save(path)
    rgb = decode_image(str(path), Limits())
    assert rgb.getpixel((60, 60)) == ALPHA_BACKGROUND
    assert rgb.getpixel((30, 30)) == (200, 30, 30)
    red, _, blue = rgb.getpixel((2, 2))  # half-transparent blue over white
    assert 110 <= red <= 145 and blue >= 220


def test_palette_transparency_is_honoured(tmp_path: Path) -> None:
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (8, 8, 24, 24))
    path = tmp_path / "palette.png"
    palette.save(path, transparency=0)
    rgb = decode_image(str(path), Limits())
    assert rgb.getpixel((0, 0)) == ALPHA_BACKGROUND
    assert rgb.getpixel((16, 16)) == (255, 0, 0)


@pytest.mark.parametrize(
    "mode",
    ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV", "LAB", "I", "I;16", "F"],
)
def test_to_rgb_reads_every_mode(photo: Image.Image, mode: str) -> None:
    small = photo.resize((128, 80))
    converted = small.convert("RGBA").convert(mode) if mode in ("La", "RGBa") else small.convert(mode)
    rgb = to_rgb(converted)
    assert rgb.mode == "RGB"
    assert rgb.size == small.size
    if mode not in ("1", "P", "PA"):  # dithered or quantised: compared through hashes above
        grey = np.asarray(small.convert("L"), dtype=np.float64)
        assert np.abs(np.asarray(rgb.convert("L"), dtype=np.float64) - grey).mean() < 4, mode


# Hostile and broken files


def test_empty_file(tmp_path: Path) -> None:
    assert_rejected(write(tmp_path, "empty.jpg", b""), RejectReason.EMPTY)


def test_file_over_the_byte_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.png", png_header_only(10, 10) + b"\x00" * 5000)
    assert_rejected(path, RejectReason.TOO_LARGE, Limits(max_image_bytes=4096))


def test_decompression_bomb_header_is_rejected_before_decoding(tmp_path: Path) -> None:
    # 20000 x 20000 grey pixels (400 MB decoded) declared by a file of about 100 bytes.
    path = write(tmp_path, "bomb.png", png_header_only(20_000, 20_000))
    assert Path(path).stat().st_size < 200
    assert_rejected(path, RejectReason.DECOMPRESSION_BOMB)


def test_bomb_below_pillows_own_limit_is_caught_by_ours(tmp_path: Path) -> None:
    path = write(tmp_path, "bomb.png", png_header_only(2000, 2000))
    assert_rejected(path, RejectReason.DECOMPRESSION_BOMB, Limits(max_image_pixels=1_000_000))


def test_huge_dimensions_are_too_large(tmp_path: Path) -> None:
    # Few pixels, but a side far beyond any real photo.
    assert_rejected(write(tmp_path, "ribbon.png", png_header_only(40_000, 8)), RejectReason.TOO_LARGE)


def test_truncated_jpeg_is_corrupt(photo: Image.Image, tmp_path: Path) -> None:
    whole = tmp_path / "whole.jpg"
    photo.save(whole, quality=90)
    content = whole.read_bytes()
    assert_rejected(write(tmp_path, "cut.jpg", content[: len(content) // 2]), RejectReason.CORRUPT)


def test_truncated_png_is_corrupt(photo: Image.Image, tmp_path: Path) -> None:
    whole = tmp_path / "whole.png"
    photo.resize((400, 250)).save(whole)
    content = whole.read_bytes()
    assert_rejected(write(tmp_path, "cut.png", content[: len(content) // 3]), RejectReason.CORRUPT)


def test_random_bytes_are_unsupported(tmp_path: Path) -> None:
    content = np.random.default_rng(1234).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    assert sniff_media(content[:64]) is None
    assert_rejected(write(tmp_path, "noise.jpg", content), RejectReason.UNSUPPORTED_MEDIA)


def test_text_file_is_unsupported(tmp_path: Path) -> None:
    text = "name,hash\nexample,d8f8f0cce0f4a84f0e370a22028f67f0b36e2ed596623e1d33e6b39c4e9c9b22\n" * 20
    assert_rejected(write(tmp_path, "list.png", text.encode()), RejectReason.UNSUPPORTED_MEDIA)


@pytest.mark.parametrize(
    "magic",
    [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x10\x00\x00WEBPVP8 ", b"II*\x00", b"BM"],
    ids=["jpeg", "png", "gif", "webp", "tiff", "bmp"],
)
def test_right_magic_then_garbage_is_corrupt(tmp_path: Path, magic: bytes) -> None:
    garbage = np.random.default_rng(len(magic)).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    assert_rejected(write(tmp_path, "garbage", magic + garbage), RejectReason.CORRUPT)


def test_a_video_is_not_an_image(tmp_path: Path) -> None:
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 100
    assert_rejected(write(tmp_path, "clip.jpg", mp4), RejectReason.UNSUPPORTED_MEDIA)


def test_pillow_warnings_never_escape(photo: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "small.png"
    photo.resize((40, 40)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1600 pixels: Pillow warns of a bomb
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hash_image(str(path), Limits()).width == 40
        decode_image(str(path), Limits())


def test_pillows_own_bomb_error_is_a_rejection(
    photo: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "small.png"
    photo.resize((64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 > 2 x 1000: Pillow raises
    assert_rejected(str(path), RejectReason.DECOMPRESSION_BOMB)


def test_heif_without_pillow_heif_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    monkeypatch.setitem(__import__("sys").modules, "pillow_heif", None)  # as if not installed
    imaging._heif_opener_registered.cache_clear()
    try:
        with pytest.raises(Rejected) as caught:
            hash_image(write(tmp_path, "photo.heic", heic), Limits())
        assert caught.value.reason is RejectReason.UNSUPPORTED_MEDIA
        assert "pillow-heif" in caught.value.message
    finally:
        imaging._heif_opener_registered.cache_clear()


# Formats


def test_heif_and_avif_decode(photo: Image.Image, tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    imaging._heif_opener_registered()  # registers the HEIF writer too
    small = photo.resize((320, 201))
    reference = pdq_hash(small).hex
    for file_format, name in (("HEIF", "photo.heic"), ("AVIF", "photo.avif")):
        path = tmp_path / name
        small.save(path, file_format, quality=90)
        kind, sniffed = sniff_media(path.read_bytes()[:64]) or ("", "")
        assert (kind, sniffed) == ("image", file_format.lower())
        hashes = hash_image(str(path), Limits())
        assert hex_distance(hashes.signals["pdq"], reference) <= MODE_PDQ_BITS, file_format


def test_animated_gif_frames_are_sampled_with_their_offsets(tmp_path: Path) -> None:
    frames = [smooth_picture(seed, (160, 120)) for seed in range(10)]
    path = tmp_path / "animation.gif"
    durations = [100, 0, 100, 100, 250, 100, 100, 100, 100, 100]  # 0 ms plays as 100 ms
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    hashes = hash_image(str(path), Limits(max_gif_frames=4))
    assert [f.offset for f in hashes.frames] == [0.0, 0.3, 0.75, 1.05]  # frames 0, 3, 6, 9
    assert hashes.frames[0].pdq == hashes.signals["pdq"]
    with Image.open(path) as animation:
        for frame, index in zip(hashes.frames, (0, 3, 6, 9), strict=True):
            animation.seek(index)
            assert hex_distance(frame.pdq, pdq_hash(animation.convert("RGB")).hex) <= 2
            assert frame.quality >= PDQ_MIN_QUALITY
    assert len({f.pdq for f in hashes.frames}) == 4


def test_animation_frames_stay_within_the_pixel_budget(tmp_path: Path) -> None:
    frames = [smooth_picture(seed, (100, 100)) for seed in range(20)]
    path = tmp_path / "long.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    hashes = hash_image(str(path), Limits(max_gif_frames=16, max_image_pixels=50_000))
    assert len(hashes.frames) == 5  # 50 000 pixels decode the first 5 frames only
    assert hashes.frames[-1].offset == pytest.approx(0.4)


def test_a_still_gif_has_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "still.gif"
    smooth_picture(1).save(path)
    assert hash_image(str(path), Limits()).frames == ()


# The fast path


def test_hash_image_returns_every_image_signal(shared_data: Path) -> None:
    path = shared_data / "pdq" / "misc-images" / "b.jpg"
    hashes = hash_image(str(path), Limits())
    content = path.read_bytes()
    assert hashes.media == "image"
    assert hashes.signals["sha256"] == hashlib.sha256(content).hexdigest()
    assert hashes.signals["md5"] == hashlib.md5(content).hexdigest()
    assert set(hashes.signals) == {"sha256", "md5", "pdq", "phash"}
    with Image.open(path) as image:
        dihedral = [h.hex for h in pdq_dihedral_hashes(image)]
    assert hashes.signals["pdq"] == dihedral[0]
    assert list(hashes.orientation_hashes("pdq")) == dihedral[1:]
    assert hashes.pdq_quality == 100
    assert (hashes.width, hashes.height) == (1600, 1004)


def full_decode_hashes(path: Path) -> tuple[str, str, int]:
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image).convert("RGB")
    reference = pdq_hash(upright)
    return reference.hex, phash(upright), reference.quality


def test_fast_path_stays_within_tolerance_of_a_full_decode(shared_data: Path) -> None:
    photos = [p for p in sorted((shared_data / "pdq").rglob("*")) if p.suffix in PHOTO_SUFFIXES and p.stat().st_size]
    assert len(photos) >= 40
    for path in photos:
        pdq_full, phash_full, quality = full_decode_hashes(path)
        fast = hash_image(str(path), Limits())
        assert hex_distance(fast.signals["phash"], phash_full) <= FAST_PATH_PHASH_BITS, path.name
        if quality >= PDQ_MIN_QUALITY:
            assert hex_distance(fast.signals["pdq"], pdq_full) <= FAST_PATH_PDQ_BITS, path.name


@pytest.mark.parametrize("size", [(4096, 2570), (2600, 1630)], ids=["eighth-scale", "quarter-scale"])
def test_fast_path_on_large_jpegs(photo: Image.Image, tmp_path: Path, size: tuple[int, int]) -> None:
    # Large enough that libjpeg decodes at 1/8 and 1/4 of the size.
    path = tmp_path / "large.jpg"
    photo.resize(size, Image.Resampling.BICUBIC).save(path, quality=90)
    pdq_full, phash_full, _ = full_decode_hashes(path)
    fast = hash_image(str(path), Limits())
    assert hex_distance(fast.signals["pdq"], pdq_full) <= FAST_PATH_PDQ_BITS
    assert hex_distance(fast.signals["phash"], phash_full) <= FAST_PATH_PHASH_BITS
    assert (fast.width, fast.height) == size


def test_reduced_decode_keeps_the_thumbnail_no_smaller_than_pdq_needs(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "large.jpg"
    photo.resize((4096, 2570)).save(path, quality=90)
    reduced = decode_image(str(path), Limits(), at_least=512)
    assert reduced.size == (512, 322)  # 1/8 scale: exactly what a 512 thumbnail needs
    assert decode_image(str(path), Limits()).size == (4096, 2570)
