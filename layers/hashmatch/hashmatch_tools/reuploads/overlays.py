"""What people draw or paste over a picture: stickers, text boxes, logos, watermarks, scribbles,
emoji, and frames drawn over its edge or around it."""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

from hashmatch_tools.reuploads.drawing import font, handle, logo, random_colour, sentence, sticker, word, wrap


def _rgba(image: Image.Image) -> Image.Image:
    return image.convert("RGBA")


# ---------------------------------------------------------------- TUNED


def stickers(image: Image.Image, rng: random.Random) -> Image.Image:
    """1-4 emoji/stickers, each 8-18% of the short side (story stickers, reaction emoji)."""
    canvas = _rgba(image)
    short = min(image.size)
    for _ in range(rng.randint(1, 4)):
        size = max(12, int(short * rng.uniform(0.08, 0.18)))
        layer = sticker(size, rng)
        x = rng.randint(0, max(0, image.width - size))
        y = rng.randint(0, max(0, image.height - size))
        canvas.alpha_composite(layer, (x, y))
    return canvas.convert("RGB")


def text_boxes(image: Image.Image, rng: random.Random) -> Image.Image:
    """1-2 story-style text boxes (rounded, solid or half-transparent) with 1-3 lines of text."""
    canvas = _rgba(image)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randint(1, 2)):
        size = max(10, int(image.height * rng.uniform(0.035, 0.06)))
        fnt = font(size, rng.choice(["bold", "sans", "serif"]))
        max_width = int(image.width * rng.uniform(0.5, 0.85))
        lines = wrap(draw, sentence(rng, (3, 12)), fnt, max_width)[:3]
        box_w = int(max(draw.textlength(line, font=fnt) for line in lines)) + 2 * size
        box_h = int(len(lines) * size * 1.3) + size
        x = rng.randint(0, max(0, image.width - box_w))
        y = rng.randint(0, max(0, image.height - box_h))
        bg, fg = rng.choice(
            [((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255)), (random_colour(rng), (255, 255, 255))]
        )
        alpha = rng.choice([255, 255, rng.randint(150, 230)])
        draw.rounded_rectangle((x, y, x + box_w, y + box_h), radius=size // 2, fill=(*bg, alpha))
        for i, line in enumerate(lines):
            draw.text(
                (x + box_w / 2, y + size * 0.5 + i * size * 1.3 + size * 0.65),
                line,
                fill=(*fg, 255),
                font=fnt,
                anchor="mm",
            )
    canvas.alpha_composite(overlay)
    return canvas.convert("RGB")


def corner_logo(image: Image.Image, rng: random.Random) -> Image.Image:
    """A half-transparent platform logo and @handle in a corner (as re-posting apps stamp)."""
    canvas = _rgba(image)
    short = min(image.size)
    size = max(12, int(short * rng.uniform(0.07, 0.14)))
    alpha = rng.randint(130, 220)
    layer = logo(size, rng, alpha)
    margin = int(short * rng.uniform(0.02, 0.05))
    right, bottom = rng.random() < 0.5, rng.random() < 0.6
    text = "@" + handle(rng)
    fnt = font(int(size * 0.45), "bold")
    text_w = int(ImageDraw.Draw(canvas).textlength(text, font=fnt))
    x = image.width - margin - size - text_w - size // 4 if right else margin
    y = image.height - margin - size if bottom else margin
    canvas.alpha_composite(layer, (max(0, x), max(0, y)))
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).text(
        (x + size + size // 4, y + size // 2),
        text,
        fill=(255, 255, 255, alpha),
        anchor="lm",
        font=fnt,
        stroke_width=max(1, size // 30),
        stroke_fill=(0, 0, 0, alpha // 2),
    )
    canvas.alpha_composite(overlay)
    return canvas.convert("RGB")


def tiled_diagonal_watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    """Repeated text tiled over the whole picture at 20-45 degrees, opacity 0.12-0.35, dense (stock-photo style)."""
    canvas = _rgba(image)
    diag = int(math.hypot(*image.size)) + 2
    layer = Image.new("RGBA", (diag, diag), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(8, int(min(image.size) * rng.uniform(0.035, 0.07)))
    fnt = font(size, rng.choice(["bold", "sans"]))
    text = rng.choice(["@" + handle(rng), word(rng, (2, 3)).upper() + ".com", "SAMPLE", word(rng, (2, 3)).upper()])
    alpha = int(255 * rng.uniform(0.12, 0.35))
    colour = rng.choice([(255, 255, 255), (0, 0, 0), (200, 200, 200)])
    text_w = draw.textlength(text, font=fnt)
    step_x = int(text_w + size * rng.uniform(0.8, 2.5))
    step_y = int(size * rng.uniform(1.8, 3.2))
    for row, y in enumerate(range(0, layer.height, step_y)):
        offset = (row % 2) * step_x // 2
        for x in range(-step_x, layer.width, step_x):
            draw.text((x + offset, y), text, fill=(*colour, alpha), font=fnt)
    angle = rng.uniform(20, 45) * rng.choice([-1, 1])
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC)
    x0 = (layer.width - image.width) // 2
    y0 = (layer.height - image.height) // 2
    canvas.alpha_composite(layer.crop((x0, y0, x0 + image.width, y0 + image.height)))
    return canvas.convert("RGB")


# ---------------------------------------------------------------- HELD-OUT


def scribbles(image: Image.Image, rng: random.Random) -> Image.Image:
    """3-9 freehand strokes (a finger on a story), 1-3% of the short side wide."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    short = min(image.size)
    for _ in range(rng.randint(3, 9)):
        colour = random_colour(rng, 0, 255)
        width = max(2, int(short * rng.uniform(0.01, 0.03)))
        x, y = rng.uniform(0, image.width), rng.uniform(0, image.height)
        heading = rng.uniform(0, 2 * math.pi)
        points = [(x, y)]
        for _ in range(rng.randint(8, 30)):
            heading += rng.uniform(-0.7, 0.7)
            step = short * rng.uniform(0.02, 0.06)
            x = min(image.width, max(0, x + step * math.cos(heading)))
            y = min(image.height, max(0, y + step * math.sin(heading)))
            points.append((x, y))
        draw.line(points, fill=colour, width=width, joint="curve")
    return canvas


def big_logo(image: Image.Image, rng: random.Random) -> Image.Image:
    """A semi-transparent logo 25-45% of the width over the middle of the picture."""
    canvas = _rgba(image)
    size = max(16, int(image.width * rng.uniform(0.25, 0.45)))
    size = min(size, int(image.height * 0.8))
    layer = logo(size, rng, rng.randint(90, 170))
    x = (image.width - size) // 2 + int(rng.uniform(-0.1, 0.1) * image.width)
    y = (image.height - size) // 2 + int(rng.uniform(-0.1, 0.1) * image.height)
    canvas.alpha_composite(layer, (max(0, x), max(0, y)))
    return canvas.convert("RGB")


def frame_border(image: Image.Image, rng: random.Random) -> Image.Image:
    """A decorative frame 4-12% of the short side thick: drawn over the picture's edge, or added outside it."""
    short = min(image.size)
    t = max(3, int(short * rng.uniform(0.04, 0.12)))
    style = rng.choice(["solid", "gradient", "dots", "double", "polaroid"])
    outside = rng.random() < 0.5
    if outside:
        canvas = Image.new(
            "RGB", (image.width + 2 * t, image.height + 2 * t + (2 * t if style == "polaroid" else 0)), (255, 255, 255)
        )
        box = (t, t, t + image.width, t + image.height)
    else:
        canvas = image.convert("RGB").copy()
        box = (t, t, image.width - t, image.height - t)
    draw = ImageDraw.Draw(canvas)
    W, H = canvas.size
    c1, c2 = random_colour(rng), random_colour(rng)
    if style in ("solid", "polaroid"):
        colour = (250, 250, 245) if style == "polaroid" else c1
        if outside:
            draw.rectangle((0, 0, W, H), fill=colour)
        else:
            for k in range(t):
                draw.rectangle((k, k, W - 1 - k, H - 1 - k), outline=colour)
    elif style == "gradient":
        for k in range(t + 1 if outside else t):
            f = min(1.0, k / max(1, t))
            shade = tuple(int(a * (1 - f) + b * f) for a, b in zip(c1, c2, strict=True))
            draw.rectangle((k, k, W - 1 - k, H - 1 - k), outline=shade)
    elif style == "dots":
        if outside:
            draw.rectangle((0, 0, W, H), fill=c1)
        else:
            for k in range(t):
                draw.rectangle((k, k, W - 1 - k, H - 1 - k), outline=c1)
        r = max(1, t // 4)
        for x in range(t // 2, W, 3 * r):
            for y in (t // 2, H - t // 2):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=c2)
        for y in range(t // 2, H, 3 * r):
            for x in (t // 2, W - t // 2):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=c2)
    else:  # double line
        if outside:
            draw.rectangle((0, 0, W, H), fill=c1)
        for k in list(range(0, t // 3)) + list(range(2 * t // 3, t)):
            draw.rectangle((k, k, W - 1 - k, H - 1 - k), outline=c2)
    if outside:
        canvas.paste(image.convert("RGB"), box[:2])
        if style == "polaroid":
            d = ImageDraw.Draw(canvas)
            d.text(
                (W // 2, H - int(1.5 * t)),
                sentence(rng, (2, 4)),
                fill=(40, 40, 40),
                anchor="mm",
                font=font(max(8, t // 2), "serif"),
            )
    return canvas


def emoji_storm(image: Image.Image, rng: random.Random) -> Image.Image:
    """10-25 small emoji (4-9% of the short side) scattered over the picture."""
    canvas = _rgba(image)
    short = min(image.size)
    for _ in range(rng.randint(10, 25)):
        size = max(8, int(short * rng.uniform(0.04, 0.09)))
        canvas.alpha_composite(
            sticker(size, rng),
            (rng.randint(0, max(0, image.width - size)), rng.randint(0, max(0, image.height - size))),
        )
    return canvas.convert("RGB")


def tiled_rows_watermark(image: Image.Image, rng: random.Random) -> Image.Image:
    """Horizontal rows of a logo mark + @handle over the whole picture, opacity 0.25-0.45."""
    canvas = _rgba(image)
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    size = max(10, int(min(image.size) * rng.uniform(0.05, 0.09)))
    alpha = int(255 * rng.uniform(0.25, 0.45))
    mark = logo(size, rng, alpha)
    text = "@" + handle(rng)
    fnt = font(int(size * 0.55), "bold")
    unit = size + int(draw.textlength(text, font=fnt)) + size
    step_y = int(size * rng.uniform(2.2, 3.5))
    colour = rng.choice([(255, 255, 255), (0, 0, 0)])
    for row, y in enumerate(range(size // 2, image.height, step_y)):
        offset = (row % 2) * unit // 2 - unit // 2
        for x in range(offset, image.width, unit):
            if x >= 0:
                overlay.alpha_composite(mark, (x, y))
            draw.text((x + size + size // 4, y + size // 2), text, fill=(*colour, alpha), font=fnt, anchor="lm")
    canvas.alpha_composite(overlay)
    return canvas.convert("RGB")
