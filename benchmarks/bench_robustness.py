"""Robustness of hashmatch's image matching against the edits copies come back with.

For every real photo found (the reference photos in ../shared/data, the sample photos shipped in
scikit-image and PyWavelets when installed, one frame of each reference video), the benchmark makes
seeded edited copies (mirror, rotation, letterbox, 9:16 padding with solid or blurred fill, crops,
caption bars, meme text, watermark, JPEG, resize, colour filters and combinations), then reports per
edit the share of copies matched by

- hashmatch: stored = main PDQ + `index_variants`; query = main PDQ + 8 dihedral + `query_variants`,
  matched by `robust.is_match`;
- plain PDQ: main hash against main hash, within 31 bits;
- PDQ + dihedral: the 8 rotations/flips of the copy against the main hash, within 31 bits;
- pHash: within 10 bits;

and the false matches: every original and every copy of one photo queried against the stored hashes
of every other photo. A second table measures pHash thresholds: edits of one photo against different
photos of one scene (a stereo pair, two photos of one desk, video frames seconds apart).

    .venv/bin/python benchmarks/bench_robustness.py            # whole run, about a minute
    .venv/bin/python benchmarks/bench_robustness.py --quick    # a few photos, for a smoke test
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from hashmatch import robust
from hashmatch.signals.hamming import popcount_rows
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY, pdq_dihedral_hashes, pdq_hash
from hashmatch.signals.phash import phash

SEED = 20240611
SERVICE_SIDE = 1024  # the imaging module hands images at most this long on the long side
PHASH_ANCHOR_THRESHOLD = 10
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

Edit = Callable[[Image.Image, random.Random], Image.Image]


# ---------------------------------------------------------------- photos


@dataclass
class Photo:
    name: str
    image: Image.Image


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _video_frame(path: Path, seconds: float) -> Image.Image | None:
    try:
        import av
    except ImportError:
        return None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_image().convert("RGB")
    return None


SKIMAGE_PHOTOS = [
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
]
SHARED_PHOTOS = (
    # The bridge family (bridge-mods/*, dih/*, misc-images/b.jpg, modes/*) is one scene: one photo.
    "pdq/bridge-mods/aaa-orig.jpg",
    "pdq/misc-images/c.png",
    "pdq/reg-test-input/pen-and-coaster.png",
    "pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg",
    *(f"pdq/reg-test-input/labelme-subset/{n}.jpg" for n in ("q0003", "q0004", "q0122", "q0291")),
    *(f"pdq/reg-test-input/labelme-subset/{n}.jpg" for n in ("q0746", "q1050", "q2821")),
)
VIDEO_PHOTOS = ("chair-orig-22-sd-bar", "pattern-hd-no-bar", "doorknob-hd-no-bar")


def gather_photos() -> list[Photo]:
    """Every real photo available here, one per scene."""
    photos = [Photo(Path(p).stem, _open(DATA / p)) for p in SHARED_PHOTOS if (DATA / p).exists()]
    skimage = _package_dir("skimage")
    if skimage is not None:
        for name in SKIMAGE_PHOTOS:
            if (skimage / "data" / name).exists():
                photos.append(Photo(f"skimage:{Path(name).stem}", _open(skimage / "data" / name)))
    pywt = _package_dir("pywt")
    if pywt is not None:
        for name in ("aero", "ascent"):
            if (pywt / "data" / f"{name}.npz").exists():
                with np.load(pywt / "data" / f"{name}.npz") as archive:
                    pixels = archive[next(iter(archive.files))]
                photos.append(Photo(f"pywt:{name}", Image.fromarray(pixels.astype(np.uint8)).convert("RGB")))
    for name in VIDEO_PHOTOS:
        frame = _video_frame(DATA / "video" / f"{name}.mp4", 1.0)
        if frame is not None:
            photos.append(Photo(f"video:{name}", frame))
    return photos


def gather_scene_pairs() -> list[tuple[str, Image.Image, Image.Image]]:
    """Pairs of different photos of one scene: what a near-duplicate hash must not call copies."""
    pairs = []
    skimage = _package_dir("skimage")
    if skimage is not None and (skimage / "data" / "motorcycle_right.png").exists():
        pairs.append(
            (
                "motorcycle stereo pair",
                _open(skimage / "data" / "motorcycle_left.png"),
                _open(skimage / "data" / "motorcycle_right.png"),
            )
        )
    if (DATA / "pdq/misc-images/c.png").exists():
        pairs.append(
            (
                "pen and coaster, two shots",
                _open(DATA / "pdq/misc-images/c.png"),
                _open(DATA / "pdq/reg-test-input/pen-and-coaster.png"),
            )
        )
    for name in (*VIDEO_PHOTOS, "chair-19-sd-bar", "pattern-sd-grey-bar"):
        frames = [_video_frame(DATA / "video" / f"{name}.mp4", t) for t in (1.0, 2.0, 3.0, 5.0)]
        for (a, b), (ta, tb) in zip(
            ((frames[0], frames[1]), (frames[1], frames[2]), (frames[0], frames[3])),
            ((1, 2), (2, 3), (1, 5)),
            strict=True,
        ):
            if a is not None and b is not None:
                pairs.append((f"video {name} {ta}s vs {tb}s", a, b))
    return pairs


# ---------------------------------------------------------------- edits

CAPTIONS = (
    "when the weekend finally hits",
    "nobody:  absolutely nobody:",
    "this is why we can't have nice things",
    "POV: you forgot to check the stove",
    "wait for it...",
    "me explaining to my mom",
)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(8, size))


def _fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, size: int) -> ImageFont.ImageFont:
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > 0.94 * width:
        size = int(size * 0.9)
        font = _font(size)
    return font  # type: ignore[return-value]


def mirror(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.mirror(image)


def rotate_90(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_90)


def rotate_180(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_180)


def letterbox(image: Image.Image, rng: random.Random) -> Image.Image:
    """Black bars above and below adding 25-50% to the height (a wide picture in a taller frame)."""
    extra = int(image.height * rng.uniform(0.25, 0.5))
    return ImageOps.expand(image, border=(0, extra // 2, 0, extra - extra // 2), fill=(0, 0, 0))


def _nine_sixteen(image: Image.Image) -> tuple[int, int]:
    width = max(image.width, round(image.height * 9 / 16))
    return width, round(width * 16 / 9)


def pad_solid(image: Image.Image, rng: random.Random) -> Image.Image:
    """Fitted into a 9:16 frame of one colour (black, white or a seeded grey/colour)."""
    colour = rng.choice([(0, 0, 0), (255, 255, 255), (24, 24, 24), (rng.randrange(256),) * 3])
    return ImageOps.pad(image, _nine_sixteen(image), color=colour)


def pad_blurred(image: Image.Image, rng: random.Random) -> Image.Image:
    """Fitted into a 9:16 frame filled with a blurred, zoomed copy of itself."""
    size = _nine_sixteen(image)
    background = ImageOps.fit(image, size).filter(ImageFilter.GaussianBlur(size[0] * rng.uniform(0.02, 0.05)))
    background = ImageEnhance.Brightness(background).enhance(rng.uniform(0.6, 1.0))
    fitted = ImageOps.contain(image, size)
    background.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return background


def _crop(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(left * w), round(top * h), round(w - right * w), round(h - bottom * h)))


def crop_5(image: Image.Image, rng: random.Random) -> Image.Image:
    return _crop(image, 0.05, 0.05, 0.05, 0.05)


def crop_10(image: Image.Image, rng: random.Random) -> Image.Image:
    return _crop(image, 0.10, 0.10, 0.10, 0.10)


def crop_between(image: Image.Image, rng: random.Random) -> Image.Image:
    """Every side cut by one seeded 3-9%: between the scales hashmatch stores."""
    cut = rng.uniform(0.03, 0.09)
    return _crop(image, cut, cut, cut, cut)


def crop_sloppy(image: Image.Image, rng: random.Random) -> Image.Image:
    """Each side cut by its own seeded 0-1.5%: a hand-made crop of the borders."""
    return _crop(image, *(rng.uniform(0.0, 0.015) for _ in range(4)))


def crop_asymmetric(image: Image.Image, rng: random.Random) -> Image.Image:
    """Each side cut by its own seeded 0-10%: beyond what a framing-bound hash can follow."""
    return _crop(image, *(rng.uniform(0.0, 0.10) for _ in range(4)))


def _caption(image: Image.Image, rng: random.Random, top: bool) -> Image.Image:
    bar = int(image.height * rng.uniform(0.12, 0.22))
    background, ink = rng.choice([((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255))])
    canvas = Image.new("RGB", (image.width, image.height + bar), background)
    canvas.paste(image, (0, bar if top else 0))
    draw = ImageDraw.Draw(canvas)
    text = rng.choice(CAPTIONS)
    font = _fit_text(draw, text, image.width, int(bar * 0.45))
    y = bar // 2 if top else image.height + bar // 2
    draw.text((image.width // 2, y), text, fill=ink, font=font, anchor="mm")
    return canvas


def caption_top(image: Image.Image, rng: random.Random) -> Image.Image:
    return _caption(image, rng, top=True)


def caption_bottom(image: Image.Image, rng: random.Random) -> Image.Image:
    return _caption(image, rng, top=False)


def meme_text(image: Image.Image, rng: random.Random) -> Image.Image:
    """White text with a black outline over the top and bottom of the picture."""
    canvas = image.copy()
    draw = ImageDraw.Draw(canvas)
    size = int(image.height * 0.09)
    for text, y in ((rng.choice(CAPTIONS).upper(), 0.08), (rng.choice(CAPTIONS).upper(), 0.92)):
        font = _fit_text(draw, text, image.width, size)
        draw.text(
            (image.width // 2, int(image.height * y)),
            text,
            fill=(255, 255, 255),
            font=font,
            anchor="mm",
            stroke_width=max(1, size // 12),
            stroke_fill=(0, 0, 0),
        )
    return canvas


def watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    """A half-transparent logo (disc and handle) in a seeded corner, about a fifth of the width."""
    canvas = image.convert("RGBA")
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    logo = int(min(image.size) * 0.12)
    margin = int(min(image.size) * 0.03)
    right, bottom = rng.random() < 0.5, rng.random() < 0.7
    x = image.width - margin - logo * 3 if right else margin
    y = image.height - margin - logo if bottom else margin
    alpha = rng.randint(140, 200)
    draw.ellipse((x, y, x + logo, y + logo), fill=(255, 40, 90, alpha))
    draw.text((x + logo // 2, y + logo // 2), "▶", fill=(255, 255, 255, alpha), anchor="mm", font=_font(logo // 2))
    draw.text(
        (x + logo + margin // 2, y + logo // 2),
        f"@user{rng.randrange(1000, 9999)}",
        fill=(255, 255, 255, alpha),
        anchor="lm",
        font=_font(int(logo * 0.4)),
    )
    return Image.alpha_composite(canvas, overlay).convert("RGB")


def jpeg(image: Image.Image, rng: random.Random) -> Image.Image:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=rng.randint(30, 50))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def resize_half(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.resize((max(1, image.width // 2), max(1, image.height // 2)), Image.Resampling.BILINEAR)


def resize_double(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)


def grey(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


def sepia(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(image), black=(40, 26, 13), white=(255, 240, 192))


def saturate(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageEnhance.Color(image).enhance(rng.uniform(1.8, 2.5))


def mirror_letterbox(image: Image.Image, rng: random.Random) -> Image.Image:
    return letterbox(mirror(image, rng), rng)


def crop_caption(image: Image.Image, rng: random.Random) -> Image.Image:
    return caption_bottom(crop_between(image, rng), rng)


def rotate_pad_blurred(image: Image.Image, rng: random.Random) -> Image.Image:
    return pad_blurred(mirror(image, rng), rng)


def jpeg_crop_watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    return jpeg(watermark(crop_5(image, rng), rng), rng)


EDITS: dict[str, Edit] = {
    "mirror": mirror,
    "rotate 90": rotate_90,
    "rotate 180": rotate_180,
    "letterbox (black bars)": letterbox,
    "pad 9:16, solid fill": pad_solid,
    "pad 9:16, blurred fill": pad_blurred,
    "crop 5% per side": crop_5,
    "crop 10% per side": crop_10,
    "crop 3-9% per side": crop_between,
    "crop 0-1.5% per side, asymmetric": crop_sloppy,
    "crop 0-10% per side, asymmetric": crop_asymmetric,
    "caption bar on top": caption_top,
    "caption bar below": caption_bottom,
    "meme text on the picture": meme_text,
    "watermark logo": watermark,
    "JPEG q30-50": jpeg,
    "resize 0.5x": resize_half,
    "resize 2x": resize_double,
    "greyscale": grey,
    "sepia": sepia,
    "high saturation": saturate,
    "mirror + letterbox": mirror_letterbox,
    "crop 3-9% + caption": crop_caption,
    "mirror + pad 9:16 blurred": rotate_pad_blurred,
    "crop 5% + watermark + JPEG": jpeg_crop_watermark,
}
# Crops that move the picture's centre by more than ~1.5% of a side: PDQ (and any hash of the whole
# frame) moves 40+ bits per 2%, and no affordable set of stored or queried crops follows them.
KNOWN_LIMITS = ("crop 0-10% per side, asymmetric",)
MILD_EDITS = ("JPEG q30-50", "resize 0.5x", "resize 2x", "greyscale", "sepia", "high saturation", "watermark logo")


# ---------------------------------------------------------------- hashing as the service does


def as_service_sees(image: Image.Image) -> Image.Image:
    if max(image.size) <= SERVICE_SIDE:
        return image
    small = image.copy()
    small.thumbnail((SERVICE_SIDE, SERVICE_SIDE), Image.Resampling.BILINEAR)
    return small


@dataclass
class Hashes:
    main: str | None  # None when PDQ quality < 50: the service rejects such media
    dihedral: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    phash: str = ""


def stored_hashes(image: Image.Image) -> Hashes:
    image = as_service_sees(image)
    main = pdq_hash(image)
    if main.quality < PDQ_MIN_QUALITY:
        return Hashes(None, phash=phash(image))
    return Hashes(main.hex, [main.hex], list(robust.index_variants(image)), phash(image))


def query_hashes(image: Image.Image) -> Hashes:
    image = as_service_sees(image)
    dihedral = pdq_dihedral_hashes(image)
    variants = list(robust.query_variants(image))
    if dihedral[0].quality < PDQ_MIN_QUALITY:
        # A padded copy of a plain picture can score low as a whole while its content does not.
        return Hashes(None, [], variants, phash(image))
    return Hashes(dihedral[0].hex, [h.hex for h in dihedral], variants, phash(image))


def _bits(hashes: list[str]) -> np.ndarray:
    if not hashes:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8).reshape(len(hashes), -1)


def _min_distance(left: list[str], right: list[str]) -> int:
    if not left or not right:
        return 256
    a, b = _bits(left), _bits(right)
    return int(popcount_rows(np.bitwise_xor(a[:, None, :], b[None, :, :]).reshape(-1, a.shape[1])).min())


def _phash_distance(left: str, right: str) -> int:
    return (int(left, 16) ^ int(right, 16)).bit_count()


@dataclass
class Verdicts:
    hashmatch: bool
    hashmatch_pdq_only: bool  # without pHash corroboration
    hashmatch_distance: int
    plain: bool
    dihedral: bool
    phash: bool
    upright_distance: int  # PDQ, the copy's main hash against the stored main hash
    phash_distance: int


def compare(query: Hashes, stored: Hashes) -> Verdicts:
    """How each method judges `query` against `stored`."""
    phash_distance = _phash_distance(query.phash, stored.phash)
    if stored.main is None:  # rejected at share time: nothing stored
        return Verdicts(False, False, 256, False, False, phash_distance <= PHASH_ANCHOR_THRESHOLD, 256, phash_distance)
    main, dihedral, region = robust.HashKind.MAIN, robust.HashKind.DIHEDRAL, robust.HashKind.REGION
    upright = _min_distance(query.dihedral[:1], [stored.main])
    pairs = (
        (upright, main, main),
        (_min_distance(query.dihedral[1:], [stored.main]), dihedral, main),
        (_min_distance(query.dihedral, stored.variants), dihedral, region),
        (_min_distance(query.variants, [stored.main]), region, main),
        (_min_distance(query.variants, stored.variants), region, region),
    )
    hashmatch = any(
        robust.is_match(distance, query_kind, stored_kind, phash_distance)
        for distance, query_kind, stored_kind in pairs
    )
    pdq_only = any(robust.is_match(distance, query_kind, stored_kind) for distance, query_kind, stored_kind in pairs)
    return Verdicts(
        hashmatch,
        pdq_only,
        min(distance for distance, _, _ in pairs),
        upright <= PDQ_MATCH_THRESHOLD,
        min(pairs[0][0], pairs[1][0]) <= PDQ_MATCH_THRESHOLD,
        phash_distance <= PHASH_ANCHOR_THRESHOLD,
        upright,
        phash_distance,
    )


# ---------------------------------------------------------------- the run


@dataclass
class EditResult:
    copies: int = 0
    hashmatch: int = 0
    pdq_only: int = 0
    plain: int = 0
    dihedral: int = 0
    phash: int = 0
    false_hashmatch: int = 0
    false_plain: int = 0
    false_phash: int = 0
    closest_other: int = 256
    distances: list[int] = field(default_factory=list)
    phash_distances: list[int] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def add(self, other: EditResult) -> None:
        for name in ("copies", "hashmatch", "pdq_only", "plain", "dihedral", "phash"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("false_hashmatch", "false_plain", "false_phash"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.closest_other = min(self.closest_other, other.closest_other)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "-"


def run(photos: list[Photo], seed: int, only: list[str] | None = None) -> tuple[dict[str, EditResult], list[Photo]]:
    """Per edit: how each method judges every copy against its own photo and every other photo."""
    stored = {p.name: stored_hashes(p.image) for p in photos}
    usable = [p for p in photos if stored[p.name].main is not None]
    results: dict[str, EditResult] = {}
    for edit_index, (edit_name, edit) in enumerate({"original": _unchanged, **EDITS}.items()):
        if only and edit_name != "original" and not any(part in edit_name for part in only):
            continue
        result = results.setdefault(edit_name, EditResult())
        for photo_index, photo in enumerate(usable):
            rng = random.Random(seed * 1000 + edit_index * 100 + photo_index)
            copy = query_hashes(edit(photo.image, rng))
            own = compare(copy, stored[photo.name])
            result.copies += 1
            result.hashmatch += own.hashmatch
            result.pdq_only += own.hashmatch_pdq_only
            result.plain += own.plain
            result.dihedral += own.dihedral
            result.phash += own.phash
            result.distances.append(own.hashmatch_distance)
            result.phash_distances.append(own.phash_distance)
            if not own.hashmatch:
                result.misses.append(photo.name)
            for other in photos:
                if other.name == photo.name:
                    continue
                verdict = compare(copy, stored[other.name])
                result.false_hashmatch += verdict.hashmatch
                result.false_plain += verdict.plain
                result.false_phash += verdict.phash
                result.closest_other = min(result.closest_other, verdict.hashmatch_distance)
    return results, usable


def _unchanged(image: Image.Image, rng: random.Random) -> Image.Image:
    return image


def print_table(results: dict[str, EditResult]) -> None:
    print(
        "| edit | copies | **hashmatch** | hashmatch, PDQ only | plain PDQ | PDQ + 8 dihedral "
        f"| pHash <= {PHASH_ANCHOR_THRESHOLD} | median / max best distance "
        "| false matches: hashmatch / plain PDQ / pHash | closest other photo (bits) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    total, limited = EditResult(), EditResult()
    for name, r in results.items():
        print(
            f"| {name} | {r.copies} | **{_pct(r.hashmatch, r.copies)}** | {_pct(r.pdq_only, r.copies)} "
            f"| {_pct(r.plain, r.copies)} | {_pct(r.dihedral, r.copies)} | {_pct(r.phash, r.copies)} "
            f"| {statistics.median(r.distances):.0f} / {max(r.distances)} "
            f"| {r.false_hashmatch} / {r.false_plain} / {r.false_phash} | {r.closest_other} |"
        )
        if name != "original":
            total.add(r)
            if name not in KNOWN_LIMITS:
                limited.add(r)
    for label, t in (("all edits", total), ("all edits but the known limit", limited)):
        print(
            f"| **{label}** | {t.copies} | **{_pct(t.hashmatch, t.copies)}** | {_pct(t.pdq_only, t.copies)} "
            f"| {_pct(t.plain, t.copies)} | {_pct(t.dihedral, t.copies)} | {_pct(t.phash, t.copies)} | "
            f"| {t.false_hashmatch} / {t.false_plain} / {t.false_phash} | {t.closest_other} |"
        )


def print_misses(results: dict[str, EditResult]) -> None:
    misses = {name: r.misses for name, r in results.items() if r.misses}
    if misses:
        print("\nCopies hashmatch missed:")
        for name, photos in misses.items():
            print(f"- {name}: {', '.join(photos)}")


def phash_thresholds(results: dict[str, EditResult], photos: list[Photo]) -> None:
    """pHash distance: edits of one photo vs different photos (of one scene, and unrelated)."""
    pairs = gather_scene_pairs()
    scene = [(name, _phash_distance(phash(a), phash(b)), _pdq_distance(a, b)) for name, a, b in pairs]
    hashes = [phash(as_service_sees(p.image)) for p in photos]
    unrelated = [_phash_distance(hashes[i], hashes[j]) for i in range(len(hashes)) for j in range(i + 1, len(hashes))]
    mild = [d for name in MILD_EDITS for d in results[name].phash_distances]
    every = [d for name, r in results.items() if name != "original" for d in r.phash_distances]
    print("\npHash distances (64 bits):")
    print(f"- pairs of different photos of one scene: {sorted(d for _, d, _ in scene)}")
    for name, d, pdq_d in scene:
        print(f"  - {name}: pHash {d}, PDQ {pdq_d}")
    print(f"- unrelated photos: min {min(unrelated)}, 1st percentile {np.percentile(unrelated, 1):.0f}")
    print(
        "\n| pHash threshold | mild edits matched (JPEG, resize, colour, watermark) | all edits matched "
        "| scene pairs matched (false) | unrelated pairs matched (false) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for threshold in (4, 6, 8, 10, 12):
        print(
            f"| {threshold} | {_pct(sum(d <= threshold for d in mild), len(mild))} "
            f"| {_pct(sum(d <= threshold for d in every), len(every))} "
            f"| {sum(d <= threshold for _, d, _ in scene)} of {len(scene)} "
            f"| {sum(d <= threshold for d in unrelated)} of {len(unrelated)} |"
        )


def _pdq_distance(a: Image.Image, b: Image.Image) -> int:
    return _min_distance([pdq_hash(a).hex], [pdq_hash(b).hex])


def cost(photos: list[Photo]) -> None:
    """CPU milliseconds per image for index_variants + query_variants, at 512 and 1024 px.

    CPU time of this process (`time.process_time`), so that other work on a shared machine does not
    count; numpy here runs single-threaded (no BLAS-sized products).
    """
    for side in (512, 1024):
        images = []
        for photo in photos:
            image = photo.image.copy()
            image.thumbnail((side, side))
            images.append(image)
        index_ms: list[float] = []
        query_ms: list[float] = []
        for _ in range(3):
            for image in images:
                start = time.process_time()
                robust.index_variants(image)
                middle = time.process_time()
                robust.query_variants(image)
                end = time.process_time()
                index_ms.append((middle - start) * 1000)
                query_ms.append((end - middle) * 1000)
        both = [a + b for a, b in zip(index_ms, query_ms, strict=True)]
        print(
            f"- at most {side} px: index_variants {statistics.median(index_ms):.1f} ms, "
            f"query_variants {statistics.median(query_ms):.1f} ms, both: median "
            f"{statistics.median(both):.1f} ms, p95 {np.percentile(both, 95):.1f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help="six photos only")
    parser.add_argument("--edit", action="append", help="only edits whose name contains this (repeatable)")
    args = parser.parse_args(argv)
    photos = gather_photos()
    if not photos:
        print("no photos found: needs ../shared/data or scikit-image installed", file=sys.stderr)
        return 1
    if args.quick:
        photos = photos[:6]
    started = time.perf_counter()
    results, usable = run(photos, args.seed, args.edit)
    skipped = sorted({p.name for p in photos} - {p.name for p in usable})
    print(f"Robustness of image matching, seed {args.seed}, {len(usable)} photos")
    print(f"({len(photos)} gathered; PDQ quality < {PDQ_MIN_QUALITY}, so rejected: {', '.join(skipped) or 'none'})\n")
    print_table(results)
    print_misses(results)
    if args.edit:
        return 0
    sizes = [len(stored_hashes(p.image).variants) for p in usable]
    queries = [len(query_hashes(p.image).variants) for p in usable]
    print(
        f"\nStored per image: 1 main + {statistics.mean(sizes):.2f} index variants (max {max(sizes)}); "
        f"queried per image: 9 + {statistics.mean(queries):.1f} query variants (max {max(queries)})"
    )
    print("\nCost of the variants on one core:")
    cost(usable)
    phash_thresholds(results, usable)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
