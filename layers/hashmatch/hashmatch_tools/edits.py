"""The edits re-uploads of harmful media go through, as seeded functions on Pillow images.

A copy that comes back is rarely the file that was shared: it is mirrored or rotated, fitted into a
9:16 frame with bars or a blurred fill, cropped, captioned, watermarked, re-encoded, resized or
recoloured, or several of these at once. `EDITS` names each edit; every edit is a pure function of
an RGB image and a `random.Random` (for the choices a person makes: how much to crop, which
caption, which corner), so a seed makes a run repeatable. The benchmark
(`benchmarks/bench_robustness.py`) and the end-to-end tests measure matching over this catalogue.

- `MILD_EDITS`: edits that keep the framing and the picture (re-encoding, resizing, colour, a small
  logo), against which hash thresholds are tuned.
- `REENCODED_EDITS`: edits that end in a lossy JPEG re-encode: store their result losslessly
  (`encode_copy`), or a second lossy pass adds to the edit.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

__all__ = [
    "CAPTIONS",
    "EDITS",
    "MILD_EDITS",
    "REENCODED_EDITS",
    "REFERENCE_PHOTOS",
    "Edit",
    "encode_copy",
    "open_photo",
]

Edit = Callable[[Image.Image, random.Random], Image.Image]

# Real photos in the reference media folder (shared/data beside a checkout: the ThreatExchange PDQ
# samples), one per scene; the bridge family (bridge-mods/*, dih/*, misc-images/b.jpg, modes/*) is
# one scene, so one photo of it.
REFERENCE_PHOTOS = (
    "pdq/bridge-mods/aaa-orig.jpg",
    "pdq/misc-images/c.png",
    "pdq/reg-test-input/pen-and-coaster.png",
    "pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg",
    *(f"pdq/reg-test-input/labelme-subset/{n}.jpg" for n in ("q0003", "q0004", "q0122", "q0291")),
    *(f"pdq/reg-test-input/labelme-subset/{n}.jpg" for n in ("q0746", "q1050", "q2821")),
)
# Quality of the JPEG files copies are uploaded as, unless the edit is itself a JPEG re-encode.
UPLOAD_JPEG_QUALITY = 95

CAPTIONS = (
    "when the weekend finally hits",
    "nobody:  absolutely nobody:",
    "this is why we can't have nice things",
    "POV: you forgot to check the stove",
    "wait for it...",
    "me explaining to my mom",
)


def open_photo(path: str | Path) -> Image.Image:
    """The photo at `path` as the edits take it: upright (EXIF orientation applied), RGB."""
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


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
    """Each side cut by its own seeded 0-10%: the picture's centre moves, which central crops cannot
    follow (`robust.UnevenCropSearch` does)."""
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
    """Re-encoded as a JPEG of seeded quality 30-50, and decoded again."""
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
MILD_EDITS = ("JPEG q30-50", "resize 0.5x", "resize 2x", "greyscale", "sepia", "high saturation", "watermark logo")
REENCODED_EDITS = ("JPEG q30-50", "crop 5% + watermark + JPEG")


def encode_copy(image: Image.Image, edit: str) -> tuple[bytes, str]:
    """The file a platform would receive for `image`, the result of the edit named `edit`, and
    its suffix: PNG for `REENCODED_EDITS` (the pixels exactly as the low-quality JPEG left them),
    else a JPEG at quality 95, as photos are usually uploaded."""
    buffer = io.BytesIO()
    if edit in REENCODED_EDITS:
        image.save(buffer, "PNG")
        return buffer.getvalue(), ".png"
    image.convert("RGB").save(buffer, "JPEG", quality=UPLOAD_JPEG_QUALITY)
    return buffer.getvalue(), ".jpg"
