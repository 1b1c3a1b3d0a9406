"""Geometric edits: small turns with or without the corners cut, crops even and uneven, mirroring,
zooming in, a wrong aspect ratio, a picture turned or laid at a slant on a backdrop, and a phone
photo of a screen showing the picture."""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from hashmatch.media.slanted import homography
from hashmatch_tools.reuploads.drawing import footage


def _crop_shares(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """`image` with each side cut by its share of the side (unchanged if that leaves under 8 pixels)."""
    w, h = image.size
    box = (round(left * w), round(top * h), round(w - right * w), round(h - bottom * h))
    if box[2] - box[0] < 8 or box[3] - box[1] < 8:
        return image
    return image.crop(box)


def inscribed_size(w: float, h: float, angle_deg: float) -> tuple[float, float]:
    """The largest axis-aligned rectangle of the image's own aspect inside it rotated by `angle_deg`."""
    a = math.radians(abs(angle_deg))
    c, s = math.cos(a), math.sin(a)
    # a rectangle k*w x k*h, rotated into the frame of the original, must fit inside w x h
    k = min(w / (w * c + h * s), h / (w * s + h * c))
    return w * k, h * k


def rotate_with_crop(image: Image.Image, angle: float, extra: float = 0.0) -> Image.Image:
    """Rotated by `angle` degrees, then cropped to the centred rectangle (same aspect) without corners,
    and `extra` more per side."""
    rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    cw, ch = inscribed_size(image.width, image.height, angle)
    cw, ch = cw * (1 - 2 * extra), ch * (1 - 2 * extra)
    x0, y0 = (rotated.width - cw) / 2, (rotated.height - ch) / 2
    return rotated.crop((round(x0 + 0.5), round(y0 + 0.5), round(x0 + cw - 0.5), round(y0 + ch - 0.5)))


# ---------------------------------------------------------------- TUNED


def rotate_small_crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Rotated by 1-4 degrees either way, corners cropped away, plus 0-2% more per side."""
    angle = rng.uniform(1.0, 4.0) * rng.choice([-1, 1])
    return rotate_with_crop(image, angle, rng.uniform(0.0, 0.02))


def uneven_crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Each side cut by its own 0-12%."""
    return _crop_shares(image, *(rng.uniform(0.0, 0.12) for _ in range(4)))


def mirror(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mirrored left to right."""
    return ImageOps.mirror(image)


def zoom_crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """A zoom-in: a window of 85-95% of each side, placed anywhere, scaled back to the original size."""
    s = rng.uniform(0.85, 0.95)
    fx, fy = rng.random(), rng.random()
    left, top = (1 - s) * fx, (1 - s) * fy
    cropped = _crop_shares(image, left, top, 1 - s - left, 1 - s - top)
    return cropped.resize(image.size, Image.Resampling.BICUBIC)


def stretch(image: Image.Image, rng: random.Random) -> Image.Image:
    """One axis scaled by 0.85-1.15 (a wrong aspect ratio)."""
    f = rng.uniform(0.85, 1.15)
    if rng.random() < 0.5:
        return image.resize((max(8, round(image.width * f)), image.height), Image.Resampling.BICUBIC)
    return image.resize((image.width, max(8, round(image.height * f))), Image.Resampling.BICUBIC)


def _backdrop(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """What shows around a picture laid on something: one colour (black, white or any), or other footage."""
    if rng.random() < 0.5:
        return Image.new("RGB", size, rng.choice([(0, 0, 0), (255, 255, 255), _colour(rng)]))
    return footage(size, rng)


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def turned_on_backdrop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Turned by 2-12 degrees either way on a canvas grown to hold it, nothing cut, the corners
    showing one colour or other footage."""
    angle = rng.uniform(2.0, 12.0) * rng.choice([-1, 1])
    turned = image.convert("RGBA").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    canvas = _backdrop(turned.size, rng)
    canvas.paste(turned, (0, 0), turned)
    return canvas


def laid_at_a_slant(image: Image.Image, rng: random.Random) -> Image.Image:
    """Laid at a slant on a backdrop (one colour or other footage) of which it fills 50-70% of each
    side: each corner moved by up to 8% of the side, the whole turned by up to 6 degrees."""
    w, h = image.size
    share = rng.uniform(0.5, 0.7)
    width, height = round(w / share), round(h / share)
    cx, cy = width * rng.uniform(0.45, 0.55), height * rng.uniform(0.45, 0.55)
    turn = math.radians(rng.uniform(-6.0, 6.0))
    corners = []
    for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)):
        x, y = x + rng.uniform(-0.08, 0.08) * w, y + rng.uniform(-0.08, 0.08) * h
        corners.append((cx + x * math.cos(turn) - y * math.sin(turn), cy + x * math.sin(turn) + y * math.cos(turn)))
    coefficients = _perspective_coefficients(corners, [(0, 0), (w, 0), (w, h), (0, h)])
    warped = image.convert("RGBA").transform(
        (width, height), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC
    )
    canvas = _backdrop((width, height), rng)
    canvas.paste(warped, (0, 0), warped)
    return canvas


# Shapes apps ask for (width / height): square, portrait 4:5, landscape 16:9.
REFRAME_ASPECTS: tuple[float, ...] = (1.0, 4 / 5, 16 / 9)


def reframed(image: Image.Image, rng: random.Random) -> Image.Image:
    """Cover-cropped to another shape an app asks for (square, 4:5 or 16:9; one that keeps at
    least 60% of the side it cuts), the window placed anywhere along that side, then scaled to
    1080 pixels wide. A picture that none of them cuts by 2-40% is only scaled."""
    w, h = image.size
    kept = [(aspect, min(aspect * h / w, w / (aspect * h))) for aspect in REFRAME_ASPECTS]
    choices = [(aspect, keep) for aspect, keep in kept if 0.6 <= keep < 0.98]
    if choices:
        aspect, keep = rng.choice(choices)
        first = (1.0 - keep) * rng.random()
        if aspect * h < w:  # narrower than the picture: cut across
            image = _crop_shares(image, first, 0.0, 1.0 - keep - first, 0.0)
        else:
            image = _crop_shares(image, 0.0, first, 0.0, 1.0 - keep - first)
    scale = 1080 / image.width
    return image.resize((1080, max(8, round(image.height * scale))), Image.Resampling.LANCZOS)


# Phone screens a story or a reel fills (width / height): 9:16, 9:18, 9:19.5, 9:20; and the wide
# frame a portrait picture may fill too (16:9). A picture this much taller than wide is a portrait.
SCREEN_ASPECTS: tuple[float, ...] = (9 / 16, 9 / 18, 9 / 19.5, 9 / 20)
WIDE_ASPECT = 16 / 9
PORTRAIT = 1.1


def filled_screen(image: Image.Image, rng: random.Random) -> Image.Image:
    """Filled to a phone screen (a story or a reel: 9:16 to 9:20) or, for a portrait picture, to a
    phone screen or a 16:9 frame: cover-cropped, the window within 10% of the slack from the centre
    (apps centre it, the poster may nudge it), then scaled to 1080 pixels wide."""
    w, h = image.size
    aspect = rng.choice((*SCREEN_ASPECTS, WIDE_ASPECT) if h > w * PORTRAIT else SCREEN_ASPECTS)
    shift = 0.5 + rng.uniform(-0.1, 0.1)
    if aspect * h < w:  # narrower than the picture: cut across
        kept = aspect * h / w
        image = _crop_shares(image, (1.0 - kept) * shift, 0.0, (1.0 - kept) * (1.0 - shift), 0.0)
    else:
        kept = w / (aspect * h)
        image = _crop_shares(image, 0.0, (1.0 - kept) * shift, 0.0, (1.0 - kept) * (1.0 - shift))
    scale = 1080 / image.width
    return image.resize((1080, max(8, round(image.height * scale))), Image.Resampling.LANCZOS)


# ---------------------------------------------------------------- HELD-OUT


def rotate_no_crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Rotated by 3-8 degrees either way, the canvas grown, corners filled with black, white or a colour."""
    angle = rng.uniform(3.0, 8.0) * rng.choice([-1, 1])
    fill = rng.choice([(0, 0, 0), (255, 255, 255), (rng.randrange(256),) * 3])
    return image.convert("RGB").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def rotate_medium_crop(image: Image.Image, rng: random.Random) -> Image.Image:
    """Rotated by 4-7 degrees either way, corners cropped away."""
    angle = rng.uniform(4.0, 7.0) * rng.choice([-1, 1])
    return rotate_with_crop(image, angle, rng.uniform(0.0, 0.01))


def uneven_crop_large(image: Image.Image, rng: random.Random) -> Image.Image:
    """Each side cut by its own 10-20%."""
    return _crop_shares(image, *(rng.uniform(0.10, 0.20) for _ in range(4)))


def stretch_mirror(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mirrored, and one axis scaled by 0.75-0.85 or 1.15-1.3."""
    f = rng.uniform(0.75, 0.85) if rng.random() < 0.5 else rng.uniform(1.15, 1.3)
    image = ImageOps.mirror(image)
    if rng.random() < 0.5:
        return image.resize((max(8, round(image.width * f)), image.height), Image.Resampling.BICUBIC)
    return image.resize((image.width, max(8, round(image.height * f))), Image.Resampling.BICUBIC)


def _perspective_coefficients(dst: list[tuple[float, float]], src: list[tuple[float, float]]) -> list[float]:
    """PIL's PERSPECTIVE data mapping output points `dst` to input points `src`."""
    return list(homography(dst, src))


def phone_photo_of_screen(image: Image.Image, rng: random.Random) -> Image.Image:
    """Someone photographs the picture on a screen: a keystoned quad (each corner moved by 3-10%),
    a dark bezel and a desk/room around it, a light gradient, slight blur, sensor noise."""
    w, h = image.size
    scale = 1000 / max(w, h)
    pic = image.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.LANCZOS)
    pw, ph = pic.size
    bezel = int(max(pw, ph) * rng.uniform(0.02, 0.06))
    screen = Image.new("RGB", (pw + 2 * bezel, ph + 2 * bezel), tuple(rng.randint(5, 35) for _ in range(3)))
    screen.paste(pic, (bezel, bezel))
    sw, sh = screen.size
    margin = rng.uniform(0.05, 0.2)
    out_w, out_h = round(sw * (1 + 2 * margin)), round(sh * (1 + 2 * margin))
    background = footage((out_w, out_h), rng).filter(ImageFilter.GaussianBlur(rng.uniform(2, 6)))
    background = Image.eval(background, lambda v: int(v * rng.uniform(0.3, 0.7)))
    ox, oy = (out_w - sw) / 2, (out_h - sh) / 2
    corners = [(ox, oy), (ox + sw, oy), (ox + sw, oy + sh), (ox, oy + sh)]
    # keystone: each corner moved by 3-10% of the side, plus an overall tilt
    tilt_x, tilt_y = rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06)
    moved = []
    for i, (x, y) in enumerate(corners):
        dx = rng.uniform(0.03, 0.10) * sw * rng.choice([-1, 1])
        dy = rng.uniform(0.03, 0.10) * sh * rng.choice([-1, 1])
        sx = -1 if i in (0, 3) else 1
        sy = -1 if i in (0, 1) else 1
        moved.append((x + dx * 0.5 + tilt_x * sw * sy, y + dy * 0.5 + tilt_y * sh * sx))
    coefficients = _perspective_coefficients(moved, [(0, 0), (sw, 0), (sw, sh), (0, sh)])
    warped = screen.transform((out_w, out_h), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    mask = Image.new("L", (out_w, out_h), 0)
    ImageDraw.Draw(mask).polygon(moved, fill=255)
    background.paste(warped, (0, 0), mask)
    # light gradient / glare, blur, noise
    gx = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.2), out_w)[None, :]
    gy = np.linspace(rng.uniform(0.8, 1.1), rng.uniform(0.8, 1.1), out_h)[:, None]
    pixels = np.asarray(background, np.float32) * (gx * gy)[..., None]
    pixels += np.random.default_rng(rng.randrange(1 << 30)).normal(0, rng.uniform(2, 6), pixels.shape)
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2))
    )
    # the photographer's framing: a little off-centre
    return _crop_shares(photo, *(rng.uniform(0.0, margin * 0.6) for _ in range(4)))
