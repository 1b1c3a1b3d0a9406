"""What the edits draw: fonts, made-up words and handles, icons, avatars, stickers, logos, a keyed-out
person and "other footage", and the ways apps fit a picture into a box.

Everything here is synthetic (shapes, noise, DejaVu text), so a copy never holds a second real photo:
a copy that shows the shared photo beside "other footage" still shows one real photo only.
"""

from __future__ import annotations

import io
import math
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

Colour = tuple[int, int, int]

# DejaVu where the system has it (Debian, Ubuntu, most containers); Pillow's own font elsewhere,
# which changes how copies look, not which edits they go through.
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_FONTS = {
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "cond": "DejaVuSansCondensed.ttf",
    "serif": "DejaVuSerif.ttf",
    "mono": "DejaVuSansMono.ttf",
}


@lru_cache(maxsize=256)
def font(size: int, style: str = "sans") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font `size` pixels high (at least 6) in `style`: sans, bold, cond, serif or mono."""
    size = max(6, int(size))
    path = _FONT_DIR / _FONTS.get(style, _FONTS["sans"])
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


# Made-up words: text that looks like captions and handles in no particular language.
_SYLLABLES = (
    *("ka", "lo", "mi", "ra", "te", "su", "no", "vi", "pe", "da", "zu", "lo", "ren", "tor", "mil", "sa", "kei"),
    *("an", "dro", "vel", "ix", "pa", "qua", "hum", "bri", "sto", "nel", "fa", "go", "ji", "ku", "ly", "ma"),
    *("ne", "op", "ro", "si", "ta", "ul", "ve", "wo", "xe", "ya", "zo"),
)


def word(rng: random.Random, syllables: tuple[int, int] = (1, 3)) -> str:
    """A made-up word of 1-3 (or `syllables`) syllables."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(*syllables)))


def sentence(rng: random.Random, words: tuple[int, int] = (3, 9)) -> str:
    """A capitalised made-up sentence, sometimes with a hashtag, a mention or an interjection."""
    text = " ".join(word(rng) for _ in range(rng.randint(*words)))
    if rng.random() < 0.3:
        text += " " + rng.choice(["#" + word(rng), "@" + word(rng), "lol", "!!", "?", "..."])
    return text[0].upper() + text[1:]


def handle(rng: random.Random) -> str:
    """A made-up user name."""
    return (
        word(rng, (2, 3))
        + rng.choice(["", "_", "."])
        + (str(rng.randrange(10, 999)) if rng.random() < 0.5 else word(rng, (1, 1)))
    )


def wrap(
    draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> list[str]:
    """`text` broken into lines at most `width` pixels wide in `fnt` (a word longer than that alone)."""
    lines: list[str] = []
    line = ""
    for w in text.split():
        trial = f"{line} {w}".strip()
        if draw.textlength(trial, font=fnt) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = w
    if line:
        lines.append(line)
    return lines


def random_colour(rng: random.Random, low: int = 0, high: int = 255) -> tuple[int, int, int]:
    """An RGB colour with every channel in [low, high]."""
    return tuple(rng.randint(low, high) for _ in range(3))  # type: ignore[return-value]


# ---------------------------------------------------------------- synthetic footage and people


def footage(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A synthetic 'other video/photo': smooth random colour field, shapes, texture and noise.

    Not a real photo, so a copy that shows it beside the shared photo still holds one real photo.
    """
    w, h = size
    gw, gh = rng.randint(3, 7), rng.randint(3, 7)
    seed = rng.randrange(1 << 30)
    nrng = np.random.default_rng(seed)
    field = nrng.uniform(0, 255, (gh, gw, 3)).astype(np.uint8)
    base = Image.fromarray(field).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(base, "RGBA")
    for _ in range(rng.randint(6, 18)):
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.5) * w, y0 + rng.uniform(0.05, 0.5) * h
        colour = (*random_colour(rng), rng.randint(120, 255))
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind < 0.8:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y0), (x1, y0 + rng.uniform(0, 1) * (y1 - y0)), (x0 + (x1 - x0) / 2, y1)], fill=colour)
    base = base.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3.0)))
    noise = nrng.normal(0, rng.uniform(3, 12), (h, w, 1))
    pixels = np.clip(np.asarray(base, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def person(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """An RGBA cut-out of a synthetic person (head and shoulders) as a green-screen reaction shows."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    skin = rng.choice([(241, 194, 160), (198, 134, 66), (141, 85, 36), (255, 219, 172), (224, 172, 105)])
    shirt = random_colour(rng, 20, 230)
    hair = random_colour(rng, 0, 90)
    draw.ellipse((0.05 * w, 0.55 * h, 0.95 * w, 1.4 * h), fill=(*shirt, 255))  # shoulders
    draw.rectangle((0.4 * w, 0.45 * h, 0.6 * w, 0.65 * h), fill=(*skin, 255))  # neck
    draw.ellipse((0.25 * w, 0.08 * h, 0.75 * w, 0.58 * h), fill=(*skin, 255))  # head
    draw.chord((0.23 * w, 0.04 * h, 0.77 * w, 0.45 * h), 180, 360, fill=(*hair, 255))  # hair
    eye = 0.03 * w
    for ex in (0.4, 0.6):
        draw.ellipse((ex * w - eye, 0.3 * h - eye, ex * w + eye, 0.3 * h + eye), fill=(30, 30, 30, 255))
    mouth = rng.choice(["open", "smile"])
    if mouth == "open":
        draw.ellipse((0.44 * w, 0.4 * h, 0.56 * w, 0.5 * h), fill=(90, 20, 20, 255))
    else:
        draw.arc((0.4 * w, 0.34 * h, 0.6 * w, 0.46 * h), 20, 160, fill=(90, 20, 20, 255), width=max(1, int(0.015 * w)))
    if rng.random() < 0.5:  # a hand
        hx = rng.uniform(0.0, 0.6) * w
        draw.ellipse((hx, 0.62 * h, hx + 0.22 * w, 0.9 * h), fill=(*skin, 255))
    # soft matte edge, as keying leaves it
    alpha = layer.getchannel("A").filter(ImageFilter.GaussianBlur(max(0.5, 0.004 * w)))
    layer.putalpha(alpha)
    return layer


# ---------------------------------------------------------------- icons, avatars, stickers


def avatar(canvas: Image.Image, box: tuple[int, int, int, int], rng: random.Random, ring: bool = False) -> None:
    """A round avatar in `box` (a footage crop or an initial on a colour), with a story ring if asked."""
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = box
    if ring:
        draw.ellipse(
            box, outline=rng.choice([(225, 48, 108), (253, 29, 29), (131, 58, 180)]), width=max(2, (x1 - x0) // 14)
        )
        pad = max(3, (x1 - x0) // 8)
        box = (x0 + pad, y0 + pad, x1 - pad, y1 - pad)
    inner = footage((max(2, box[2] - box[0]), max(2, box[3] - box[1])), rng) if rng.random() < 0.5 else None
    mask = Image.new("L", (max(2, box[2] - box[0]), max(2, box[3] - box[1])), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, mask.width - 1, mask.height - 1), fill=255)
    if inner is None:
        inner = Image.new("RGB", mask.size, random_colour(rng, 40, 220))
        ImageDraw.Draw(inner).text(
            (mask.width // 2, mask.height // 2),
            word(rng, (1, 1))[0].upper(),
            fill="white",
            anchor="mm",
            font=font(mask.height // 2, "bold"),
        )
    canvas.paste(inner, box[:2], mask)


def icon(
    draw: ImageDraw.ImageDraw,
    kind: str,
    cx: float,
    cy: float,
    size: float,
    colour: Colour | tuple[int, int, int, int],
    width: int | None = None,
) -> None:
    """An outline icon as apps draw them, centred at (cx, cy): heart, comment, share, bookmark, home,
    search, plus, play, user, dots, back, bell or camera (a circle for anything else)."""
    s = size / 2
    width = width or max(2, int(size / 12))
    if kind == "heart":
        draw.ellipse((cx - s, cy - s * 0.8, cx, cy + s * 0.1), outline=colour, width=width)
        draw.ellipse((cx, cy - s * 0.8, cx + s, cy + s * 0.1), outline=colour, width=width)
        draw.line(
            (cx - s * 0.93, cy - 0.1 * s, cx, cy + s * 0.9, cx + s * 0.93, cy - 0.1 * s), fill=colour, width=width
        )
    elif kind == "comment":
        draw.ellipse((cx - s, cy - s, cx + s, cy + s * 0.9), outline=colour, width=width)
        draw.line((cx - s * 0.7, cy + s * 0.6, cx - s, cy + s), fill=colour, width=width)
    elif kind == "share":
        draw.polygon([(cx - s, cy - s * 0.2), (cx + s, cy - s), (cx + s * 0.2, cy + s)], outline=colour, width=width)
    elif kind == "bookmark":
        draw.line(
            (
                cx - s * 0.6,
                cy + s,
                cx - s * 0.6,
                cy - s,
                cx + s * 0.6,
                cy - s,
                cx + s * 0.6,
                cy + s,
                cx,
                cy + s * 0.4,
                cx - s * 0.6,
                cy + s,
            ),
            fill=colour,
            width=width,
        )
    elif kind == "home":
        draw.line((cx - s, cy, cx, cy - s, cx + s, cy), fill=colour, width=width)
        draw.rectangle((cx - s * 0.7, cy, cx + s * 0.7, cy + s), outline=colour, width=width)
    elif kind == "search":
        draw.ellipse((cx - s, cy - s, cx + s * 0.4, cy + s * 0.4), outline=colour, width=width)
        draw.line((cx + s * 0.3, cy + s * 0.3, cx + s, cy + s), fill=colour, width=width)
    elif kind == "plus":
        draw.rounded_rectangle((cx - s, cy - s, cx + s, cy + s), radius=s / 3, outline=colour, width=width)
        draw.line((cx - s * 0.5, cy, cx + s * 0.5, cy), fill=colour, width=width)
        draw.line((cx, cy - s * 0.5, cx, cy + s * 0.5), fill=colour, width=width)
    elif kind == "play":
        draw.rounded_rectangle((cx - s, cy - s, cx + s, cy + s), radius=s / 3, outline=colour, width=width)
        draw.polygon([(cx - s * 0.3, cy - s * 0.45), (cx + s * 0.5, cy), (cx - s * 0.3, cy + s * 0.45)], fill=colour)
    elif kind == "user":
        draw.ellipse((cx - s * 0.45, cy - s, cx + s * 0.45, cy - s * 0.1), outline=colour, width=width)
        draw.arc((cx - s, cy - s * 0.1, cx + s, cy + s * 1.8), 180, 360, fill=colour, width=width)
    elif kind == "dots":
        for dx in (-0.6, 0, 0.6):
            r = max(1.5, s * 0.15)
            draw.ellipse((cx + dx * s - r, cy - r, cx + dx * s + r, cy + r), fill=colour)
    elif kind == "back":
        draw.line((cx + s * 0.3, cy - s, cx - s * 0.5, cy, cx + s * 0.3, cy + s), fill=colour, width=width)
    elif kind == "bell":
        draw.chord((cx - s * 0.8, cy - s, cx + s * 0.8, cy + s * 1.2), 180, 360, outline=colour, width=width)
        draw.line((cx - s, cy + s * 0.2, cx + s, cy + s * 0.2), fill=colour, width=width)
    elif kind == "camera":
        draw.rounded_rectangle((cx - s, cy - s * 0.6, cx + s, cy + s * 0.8), radius=s / 4, outline=colour, width=width)
        draw.ellipse((cx - s * 0.4, cy - s * 0.3, cx + s * 0.4, cy + s * 0.5), outline=colour, width=width)
    else:
        draw.ellipse((cx - s, cy - s, cx + s, cy + s), outline=colour, width=width)


def status_bar(canvas: Image.Image, height: int, fg: Colour, bg: Colour | None, rng: random.Random, y: int = 0) -> None:
    """A phone's status bar at `y`: the time, signal bars and a battery."""
    draw = ImageDraw.Draw(canvas)
    w = canvas.width
    if bg is not None:
        draw.rectangle((0, y, w, y + height), fill=bg)
    f = font(int(height * 0.5), "bold")
    draw.text(
        (int(w * 0.06), y + height // 2), f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}", fill=fg, font=f, anchor="lm"
    )
    # signal bars, wifi, battery
    x = int(w * 0.78)
    bar = height * 0.12
    for i in range(4):
        top = y + height * (0.65 - 0.1 * i)
        draw.rectangle((x + i * bar * 1.6, top, x + i * bar * 1.6 + bar, y + height * 0.7), fill=fg)
    bx = int(w * 0.88)
    draw.rounded_rectangle(
        (bx, y + height * 0.32, bx + height * 0.9, y + height * 0.68),
        radius=height * 0.08,
        outline=fg,
        width=max(1, height // 20),
    )
    level = rng.uniform(0.2, 0.95)
    draw.rectangle((bx + 3, y + height * 0.32 + 3, bx + 3 + (height * 0.9 - 6) * level, y + height * 0.68 - 3), fill=fg)


def nav_bar(
    canvas: Image.Image,
    top: int,
    height: int,
    fg: Colour,
    bg: Colour,
    icons: list[str],
    rng: random.Random,
    gesture: bool = True,
) -> None:
    """An app's bottom navigation bar at `top`: a row of `icons`, and the gesture handle below them."""
    draw = ImageDraw.Draw(canvas)
    w = canvas.width
    draw.rectangle((0, top, w, top + height), fill=bg)
    if rng.random() < 0.7:
        draw.line((0, top, w, top), fill=tuple(int(0.85 * c + 0.15 * (255 - c)) for c in bg), width=1)
    n = len(icons)
    icon_band = height * (0.62 if gesture else 1.0)
    for i, kind in enumerate(icons):
        icon(draw, kind, (i + 0.5) * w / n, top + icon_band / 2, icon_band * 0.45, fg)
    if gesture:
        gw = w * 0.35
        draw.rounded_rectangle(
            ((w - gw) / 2, top + height * 0.8, (w + gw) / 2, top + height * 0.8 + max(3, height * 0.05)),
            radius=4,
            fill=fg,
        )


def sticker(size: int, rng: random.Random) -> Image.Image:
    """An RGBA emoji/sticker: smiley, heart, star, flame, speech bubble or a word sticker."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    kind = rng.choice(["smiley", "heart", "star", "flame", "bubble", "word", "laugh"])
    s = size
    if kind in ("smiley", "laugh"):
        d.ellipse((0, 0, s - 1, s - 1), fill=(255, 204, 51, 255), outline=(200, 140, 0, 255), width=max(1, s // 30))
        if kind == "laugh":
            for ex in (0.3, 0.7):
                d.arc(
                    (ex * s - 0.12 * s, 0.28 * s, ex * s + 0.12 * s, 0.45 * s),
                    200,
                    340,
                    fill=(60, 30, 0, 255),
                    width=max(2, s // 18),
                )
            d.chord((0.2 * s, 0.45 * s, 0.8 * s, 0.85 * s), 0, 180, fill=(90, 20, 20, 255))
            d.ellipse((0.02 * s, 0.45 * s, 0.18 * s, 0.62 * s), fill=(80, 170, 255, 255))
            d.ellipse((0.82 * s, 0.45 * s, 0.98 * s, 0.62 * s), fill=(80, 170, 255, 255))
        else:
            for ex in (0.33, 0.67):
                d.ellipse((ex * s - 0.06 * s, 0.3 * s, ex * s + 0.06 * s, 0.45 * s), fill=(60, 30, 0, 255))
            d.arc((0.25 * s, 0.35 * s, 0.75 * s, 0.8 * s), 20, 160, fill=(60, 30, 0, 255), width=max(2, s // 18))
    elif kind == "heart":
        c = rng.choice([(235, 30, 60, 255), (255, 105, 180, 255), (200, 0, 40, 255)])
        d.ellipse((0.02 * s, 0.1 * s, 0.52 * s, 0.6 * s), fill=c)
        d.ellipse((0.48 * s, 0.1 * s, 0.98 * s, 0.6 * s), fill=c)
        d.polygon([(0.05 * s, 0.45 * s), (0.5 * s, 0.95 * s), (0.95 * s, 0.45 * s)], fill=c)
    elif kind == "star":
        pts = []
        for k in range(10):
            r = 0.48 * s if k % 2 == 0 else 0.2 * s
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((s / 2 + r * math.cos(a), s / 2 + r * math.sin(a)))
        d.polygon(pts, fill=(255, 215, 0, 255), outline=(210, 150, 0, 255))
    elif kind == "flame":
        d.ellipse((0.15 * s, 0.3 * s, 0.85 * s, 0.98 * s), fill=(255, 90, 0, 255))
        d.polygon([(0.15 * s, 0.62 * s), (0.5 * s, 0.0), (0.85 * s, 0.62 * s)], fill=(255, 90, 0, 255))
        d.ellipse((0.3 * s, 0.55 * s, 0.7 * s, 0.95 * s), fill=(255, 210, 0, 255))
    elif kind == "bubble":
        d.rounded_rectangle(
            (0, 0.1 * s, s - 1, 0.75 * s),
            radius=s // 6,
            fill=(255, 255, 255, 255),
            outline=(0, 0, 0, 255),
            width=max(1, s // 40),
        )
        d.polygon([(0.2 * s, 0.74 * s), (0.15 * s, 0.98 * s), (0.4 * s, 0.74 * s)], fill=(255, 255, 255, 255))
        d.text(
            (s / 2, 0.42 * s),
            word(rng, (1, 2)).upper() + "!",
            fill=(0, 0, 0, 255),
            anchor="mm",
            font=font(s // 6, "bold"),
        )
    else:
        text = rng.choice(["OMG", "LOL", "WOW", "NO WAY", "MOOD", "SAME", word(rng).upper()])
        colour = random_colour(rng, 30, 255)
        d.rounded_rectangle((0, 0.3 * s, s - 1, 0.7 * s), radius=s // 10, fill=(*colour, 255))
        f = font(int(s * 0.22), "bold")
        d.text(
            (s / 2, s / 2),
            text,
            fill=(255, 255, 255, 255),
            anchor="mm",
            font=f,
            stroke_width=max(1, s // 60),
            stroke_fill=(0, 0, 0, 255),
        )
    return layer.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC, expand=False)


def logo(size: int, rng: random.Random, alpha: int) -> Image.Image:
    """An RGBA platform-like logo mark: a rounded square or disc with a glyph."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    colour = (*random_colour(rng, 30, 255), alpha)
    if rng.random() < 0.5:
        d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 4, fill=colour)
    else:
        d.ellipse((0, 0, size - 1, size - 1), fill=colour)
    glyph = rng.choice(["play", "note", "letter", "camera"])
    white = (255, 255, 255, alpha)
    s = size
    if glyph == "play":
        d.polygon([(0.38 * s, 0.28 * s), (0.75 * s, 0.5 * s), (0.38 * s, 0.72 * s)], fill=white)
    elif glyph == "note":
        d.ellipse((0.3 * s, 0.6 * s, 0.5 * s, 0.78 * s), fill=white)
        d.rectangle((0.46 * s, 0.22 * s, 0.52 * s, 0.7 * s), fill=white)
        d.polygon([(0.52 * s, 0.22 * s), (0.72 * s, 0.3 * s), (0.52 * s, 0.38 * s)], fill=white)
    elif glyph == "camera":
        icon(d, "camera", s / 2, s / 2, s * 0.55, white, width=max(2, s // 14))
    else:
        d.text((s / 2, s / 2), word(rng, (1, 1))[0].upper(), fill=white, anchor="mm", font=font(int(s * 0.6), "bold"))
    return layer


# ---------------------------------------------------------------- fitting and pasting


def contain(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` scaled to fit inside `size`, its aspect kept."""
    return ImageOps.contain(image, (max(1, size[0]), max(1, size[1])), Image.Resampling.LANCZOS)


def cover(image: Image.Image, size: tuple[int, int], rng: random.Random | None = None) -> Image.Image:
    """Scaled to fill `size` and cropped (centred, or off-centre by up to 15% when rng is given)."""
    w, h = max(1, size[0]), max(1, size[1])
    scale = max(w / image.width, h / image.height)
    scaled = image.resize(
        (max(w, round(image.width * scale)), max(h, round(image.height * scale))), Image.Resampling.LANCZOS
    )
    slack_x, slack_y = scaled.width - w, scaled.height - h
    fx = 0.5 if rng is None else min(1.0, max(0.0, 0.5 + rng.uniform(-0.15, 0.15)))
    fy = 0.5 if rng is None else min(1.0, max(0.0, 0.5 + rng.uniform(-0.15, 0.15)))
    x, y = round(slack_x * fx), round(slack_y * fy)
    return scaled.crop((x, y, x + w, y + h))


def fit_width(image: Image.Image, width: int) -> Image.Image:
    """`image` scaled to `width` pixels wide, its aspect kept."""
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def rounded(image: Image.Image, radius: int) -> tuple[Image.Image, Image.Image]:
    """`image` and the mask that pastes it with rounded corners."""
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, image.width - 1, image.height - 1), radius=radius, fill=255)
    return image, mask


def jpeg_roundtrip(image: Image.Image, quality: int, subsampling: int | None = None) -> Image.Image:
    """`image` saved as a JPEG of `quality` (and chroma `subsampling`, if given) and decoded again."""
    buffer = io.BytesIO()
    kwargs = {"quality": int(quality)}
    if subsampling is not None:
        kwargs["subsampling"] = subsampling
    image.convert("RGB").save(buffer, "JPEG", **kwargs)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")
