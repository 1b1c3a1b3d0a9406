"""Where a picture gets placed: app screenshots (phone and desktop) and remix layouts."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFilter

from hashmatch_tools.reuploads.drawing import (
    avatar,
    contain,
    cover,
    fit_width,
    font,
    footage,
    handle,
    icon,
    nav_bar,
    person,
    random_colour,
    rounded,
    sentence,
    status_bar,
    word,
    wrap,
)

LIGHT = {
    "bg": (255, 255, 255),
    "fg": (10, 10, 10),
    "muted": (115, 115, 115),
    "line": (219, 219, 219),
    "accent": (0, 149, 246),
}
DARK = {"bg": (0, 0, 0), "fg": (245, 245, 245), "muted": (168, 168, 168), "line": (38, 38, 38), "accent": (0, 149, 246)}
DIM = {
    "bg": (21, 32, 43),
    "fg": (247, 249, 249),
    "muted": (139, 152, 165),
    "line": (56, 68, 77),
    "accent": (29, 155, 240),
}
GREYBG = {
    "bg": (242, 242, 247),
    "fg": (0, 0, 0),
    "muted": (120, 120, 128),
    "line": (210, 210, 215),
    "accent": (10, 132, 255),
}


def _theme(rng: random.Random) -> dict:
    return dict(rng.choice([LIGHT, LIGHT, DARK, DARK, DIM, GREYBG]))


def _device(rng: random.Random, aspects=(16 / 9, 19.5 / 9, 20 / 9, 4 / 3)) -> tuple[int, int]:
    width = rng.choice([720, 828, 1080, 1170, 1242, 1284])
    return width, round(width * rng.choice(aspects))


def _cap_aspect(image: Image.Image, max_tall: float, max_wide: float) -> Image.Image:
    """Centre-cropped as feed apps do: at most `max_tall` high per unit wide, at most `max_wide` wide per unit high."""
    w, h = image.size
    if h / w > max_tall:
        nh = round(w * max_tall)
        top = (h - nh) // 2
        return image.crop((0, top, w, top + nh))
    if w / h > max_wide:
        nw = round(h * max_wide)
        left = (w - nw) // 2
        return image.crop((left, 0, left + nw, h))
    return image


def _text_block(draw, x, y, width, text, fnt, fill, spacing=1.3, max_lines=3) -> int:
    lines = wrap(draw, text, fnt, width)[:max_lines]
    size = fnt.size if hasattr(fnt, "size") else 12
    for i, line in enumerate(lines):
        draw.text((x, y + i * size * spacing), line, fill=fill, font=fnt)
    return int(len(lines) * size * spacing)


# ---------------------------------------------------------------- TUNED: screenshots


def feed_screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone screenshot of a photo-feed app: status bar, app bar, post header with avatar and name,
    the photo fitted to the width (cut to 4:5 at most), action row, likes, caption, comments, nav bar."""
    W, H = _device(rng)
    t = _theme(rng)
    canvas = Image.new("RGB", (W, H), t["bg"])
    draw = ImageDraw.Draw(canvas)
    u = W / 100  # a unit: 1% of the width
    photo = fit_width(_cap_aspect(image, 1.25, 1.91), W)
    status_h, appbar_h, header_h, actions_h, nav_h = int(6 * u), int(11 * u), int(12 * u), int(11 * u), int(14 * u)
    # how much of what precedes the post is on screen: app bar (+ stories) or the previous post's tail
    above = [("status", status_h)]
    if rng.random() < 0.6:
        above.append(("appbar", appbar_h))
        if rng.random() < 0.35:
            above.append(("stories", int(24 * u)))
    else:
        above.append(("tail", int(rng.uniform(5, 25) * u)))
    y = 0
    needed = sum(h for _, h in above) + header_h + photo.height + actions_h + nav_h
    if needed > H:  # scroll: drop what precedes the post first
        above = [("status", status_h)]
    for kind, height in above:
        if kind == "status":
            status_bar(canvas, height, t["fg"], t["bg"], rng)
        elif kind == "appbar":
            draw.text(
                (4 * u, y + height / 2),
                word(rng, (2, 3)).capitalize(),
                fill=t["fg"],
                font=font(int(6.5 * u), "serif"),
                anchor="lm",
            )
            icon(draw, "heart", W - 17 * u, y + height / 2, 6 * u, t["fg"])
            icon(draw, "comment", W - 7 * u, y + height / 2, 6 * u, t["fg"])
        elif kind == "stories":
            for i in range(5):
                cx = 4 * u + i * 20 * u
                avatar(canvas, (int(cx), int(y + 2 * u), int(cx + 16 * u), int(y + 18 * u)), rng, ring=True)
                draw.text((cx + 8 * u, y + 21 * u), handle(rng)[:9], fill=t["fg"], font=font(int(2.6 * u)), anchor="mm")
        else:
            draw.text((4 * u, y + 1 * u), sentence(rng), fill=t["muted"], font=font(int(3.2 * u)))
            draw.line((0, y + height - 1, W, y + height - 1), fill=t["line"], width=1)
        y += height
    # post header
    avatar(canvas, (int(3 * u), int(y + 2 * u), int(11 * u), int(y + 10 * u)), rng, ring=rng.random() < 0.4)
    draw.text(
        (14 * u, y + (4.5 if rng.random() < 0.5 else 6) * u),
        handle(rng),
        fill=t["fg"],
        font=font(int(3.4 * u), "bold"),
        anchor="lm",
    )
    if rng.random() < 0.5:
        draw.text(
            (14 * u, y + 8.2 * u),
            word(rng, (2, 3)).capitalize() + ", " + word(rng).capitalize(),
            fill=t["fg"],
            font=font(int(2.9 * u)),
            anchor="lm",
        )
    icon(draw, "dots", W - 6 * u, y + header_h / 2, 5 * u, t["fg"])
    y += header_h
    canvas.paste(photo, (0, y))
    if rng.random() < 0.3:  # carousel counter chip on the photo
        draw.rounded_rectangle((W - 14 * u, y + 3 * u, W - 3 * u, y + 8 * u), radius=2.5 * u, fill=(40, 40, 40))
        draw.text(
            (W - 8.5 * u, y + 5.5 * u),
            f"1/{rng.randint(2, 9)}",
            fill=(255, 255, 255),
            font=font(int(2.8 * u)),
            anchor="mm",
        )
    y += photo.height
    # action row, likes, caption, comments
    for i, kind in enumerate(["heart", "comment", "share"]):
        icon(draw, kind, (6 + 10 * i) * u, y + actions_h / 2, 6 * u, t["fg"])
    icon(draw, "bookmark", W - 6 * u, y + actions_h / 2, 6 * u, t["fg"])
    y += actions_h
    body = font(int(3.3 * u))
    bold = font(int(3.3 * u), "bold")
    draw.text((4 * u, y), f"{rng.randint(12, 99999):,} likes", fill=t["fg"], font=bold)
    y += int(5 * u)
    y += _text_block(
        draw, 4 * u, y, int(92 * u), handle(rng) + "  " + sentence(rng, (5, 20)), body, t["fg"], max_lines=2
    )
    draw.text((4 * u, y + u), f"View all {rng.randint(2, 900)} comments", fill=t["muted"], font=body)
    y += int(6 * u)
    for _ in range(rng.randint(0, 2)):
        draw.text((4 * u, y), handle(rng) + " " + sentence(rng, (2, 6)), fill=t["fg"], font=body)
        y += int(5 * u)
    draw.text((4 * u, y), f"{rng.randint(1, 23)} hours ago", fill=t["muted"], font=font(int(2.6 * u)))
    y += int(8 * u)
    if y < H - nav_h - 12 * u:  # the next post's header
        avatar(canvas, (int(3 * u), int(y + 2 * u), int(11 * u), int(y + 10 * u)), rng)
        draw.text((14 * u, y + 6 * u), handle(rng), fill=t["fg"], font=bold, anchor="lm")
    nav_bar(canvas, H - nav_h, nav_h, t["fg"], t["bg"], ["home", "search", "plus", "play", "user"], rng)
    return canvas


def microblog_screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone screenshot of a microblog post: author row, text, the photo with side margins and
    rounded corners (cut to 5:4 high at most), timestamp, counts, action row, reply box, nav bar."""
    W, H = _device(rng)
    t = _theme(rng)
    canvas = Image.new("RGB", (W, H), t["bg"])
    draw = ImageDraw.Draw(canvas)
    u = W / 100
    status_h = int(6 * u)
    status_bar(canvas, status_h, t["fg"], t["bg"], rng)
    y = status_h
    icon(draw, "back", 5 * u, y + 6 * u, 5 * u, t["fg"])
    draw.text((14 * u, y + 6 * u), "Post", fill=t["fg"], font=font(int(4.5 * u), "bold"), anchor="lm")
    y += int(12 * u)
    avatar(canvas, (int(4 * u), int(y), int(15 * u), int(y + 11 * u)), rng)
    draw.text(
        (18 * u, y + 3 * u),
        word(rng, (2, 3)).capitalize() + " " + word(rng).capitalize(),
        fill=t["fg"],
        font=font(int(3.6 * u), "bold"),
        anchor="lm",
    )
    draw.text((18 * u, y + 8 * u), "@" + handle(rng), fill=t["muted"], font=font(int(3.3 * u)), anchor="lm")
    y += int(14 * u)
    y += _text_block(draw, 4 * u, y, int(92 * u), sentence(rng, (4, 30)), font(int(4 * u)), t["fg"], max_lines=4) + int(
        2 * u
    )
    margin = int(rng.uniform(3, 5) * u)
    photo = fit_width(_cap_aspect(image, 1.25, 2.2), W - 2 * margin)
    _, mask = rounded(photo, int(rng.uniform(2, 5) * u))
    if rng.random() < 0.7:  # a hairline border, as these apps draw
        draw.rounded_rectangle(
            (margin - 1, y - 1, margin + photo.width, y + photo.height), radius=int(4 * u), outline=t["line"], width=1
        )
    canvas.paste(photo, (margin, y), mask)
    y += photo.height + int(3 * u)
    small = font(int(3.2 * u))
    posted = f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d} PM"
    day = f"{rng.randint(1, 28)} {word(rng, (1, 1)).capitalize()} 25"
    draw.text((4 * u, y), f"{posted} · {day} · {rng.randint(1, 999)}K Views", fill=t["muted"], font=small)
    y += int(6 * u)
    draw.line((4 * u, y, W - 4 * u, y), fill=t["line"], width=1)
    y += int(2 * u)
    draw.text(
        (4 * u, y),
        f"{rng.randint(1, 999)} Reposts   {rng.randint(1, 99)} Quotes   {rng.randint(1, 99)}K Likes",
        fill=t["fg"],
        font=small,
    )
    y += int(6 * u)
    draw.line((4 * u, y, W - 4 * u, y), fill=t["line"], width=1)
    for i, kind in enumerate(["comment", "share", "heart", "bookmark"]):
        icon(draw, kind, (12 + 25 * i) * u, y + 5 * u, 5 * u, t["muted"])
    y += int(10 * u)
    draw.line((0, y, W, y), fill=t["line"], width=1)
    nav_h = int(14 * u)
    if y + 12 * u < H - nav_h:
        draw.rounded_rectangle(
            (4 * u, H - nav_h - 12 * u, W - 4 * u, H - nav_h - 3 * u), radius=4 * u, outline=t["line"], width=2
        )
        draw.text((8 * u, H - nav_h - 7.5 * u), "Post your reply", fill=t["muted"], font=small, anchor="lm")
    nav_bar(canvas, H - nav_h, nav_h, t["fg"], t["bg"], ["home", "search", "bell", "user"], rng)
    return canvas


# ---------------------------------------------------------------- TUNED: remix layouts


def _placed_in(image: Image.Image, size: tuple[int, int], rng: random.Random, max_cut: float = 0.2) -> Image.Image:
    """The picture filling a cell: cover-cropped when that cuts at most `max_cut` of a side, else contained on black."""
    w, h = size
    scale = max(w / image.width, h / image.height)
    cut = 1 - min(w / (image.width * scale), h / (image.height * scale))
    if cut <= max_cut:
        return cover(image, size, rng)
    cell = Image.new("RGB", size, (0, 0, 0))
    fitted = contain(image, size)
    cell.paste(fitted, ((w - fitted.width) // 2, (h - fitted.height) // 2))
    return cell


def duet(image: Image.Image, rng: random.Random) -> Image.Image:
    """Side by side with synthetic 'other footage': two cells of 9:16, 3:4 or 1:1, the photo in one."""
    cell_aspect = rng.choice([16 / 9, 4 / 3, 1.0])
    cw = rng.choice([360, 540, 640])
    ch = round(cw * cell_aspect)
    canvas = Image.new("RGB", (2 * cw, ch), (0, 0, 0))
    mine = _placed_in(image, (cw, ch), rng)
    other = footage((cw, ch), rng)
    left = rng.random() < 0.5
    canvas.paste(mine, (0 if left else cw, 0))
    canvas.paste(other, (cw if left else 0, 0))
    if rng.random() < 0.5:  # the app's UI over the frame
        draw = ImageDraw.Draw(canvas)
        for i, kind in enumerate(["heart", "comment", "share"]):
            icon(draw, kind, 2 * cw - 0.06 * cw, ch * (0.55 + 0.1 * i), 0.08 * cw, (255, 255, 255))
        draw.text((0.04 * cw, ch * 0.9), "@" + handle(rng), fill=(255, 255, 255), font=font(int(0.05 * cw), "bold"))
    return canvas


def stitch(image: Image.Image, rng: random.Random) -> Image.Image:
    """A 9:16 frame: the photo in the top or bottom half (fitted to width), synthetic footage in the other."""
    W = rng.choice([540, 720, 1080])
    H = round(W * 16 / 9)
    canvas = Image.new("RGB", (W, H), (0, 0, 0))
    mine = _placed_in(image, (W, H // 2), rng)
    other = footage((W, H - H // 2), rng)
    top = rng.random() < 0.5
    canvas.paste(mine, (0, 0 if top else H - H // 2))
    canvas.paste(other, (0, H // 2 if top else 0))
    return canvas


def caption_bar(image: Image.Image, rng: random.Random) -> Image.Image:
    """A meme caption bar (10-25% of the height) above or below, 1-3 lines of text."""
    bar = int(image.height * rng.uniform(0.10, 0.25))
    bg, ink = rng.choice([((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255)), ((250, 250, 250), (20, 20, 20))])
    canvas = Image.new("RGB", (image.width, image.height + bar), bg)
    top = rng.random() < 0.6
    canvas.paste(image, (0, bar if top else 0))
    draw = ImageDraw.Draw(canvas)
    size = max(8, int(bar * rng.uniform(0.22, 0.38)))
    fnt = font(size, rng.choice(["bold", "sans"]))
    lines = wrap(draw, sentence(rng, (3, 14)), fnt, int(image.width * 0.92))[:3]
    y0 = (0 if top else image.height) + (bar - len(lines) * size * 1.2) / 2
    for i, line in enumerate(lines):
        draw.text((image.width / 2, y0 + i * size * 1.2 + size / 2), line, fill=ink, font=fnt, anchor="mm")
    return canvas


# The layouts apps give a post of several pictures: the frame's shape (width / height) and each
# cell as shares of it (left, top, right, bottom), before the gutters. A microblog shows 2-4 in a
# 16:9 frame; a social feed 2-4 in a square one, two side by side or stacked, three as one wide
# above two; a chat album 4 in a square.
MULTI_PHOTO_LAYOUTS: tuple[tuple[float, tuple[tuple[float, float, float, float], ...]], ...] = (
    (16 / 9, ((0, 0, 0.5, 1), (0.5, 0, 1, 1))),
    (16 / 9, ((0, 0, 0.5, 1), (0.5, 0, 1, 0.5), (0.5, 0.5, 1, 1))),
    (16 / 9, ((0, 0, 0.5, 0.5), (0.5, 0, 1, 0.5), (0, 0.5, 0.5, 1), (0.5, 0.5, 1, 1))),
    (1.0, ((0, 0, 0.5, 1), (0.5, 0, 1, 1))),
    (1.0, ((0, 0, 1, 0.5), (0, 0.5, 1, 1))),
    (1.0, ((0, 0, 1, 0.5), (0, 0.5, 0.5, 1), (0.5, 0.5, 1, 1))),
    (1.0, ((0, 0, 0.5, 0.5), (0.5, 0, 1, 0.5), (0, 0.5, 0.5, 1), (0.5, 0.5, 1, 1))),
)


def multi_photo_post(image: Image.Image, rng: random.Random) -> Image.Image:
    """A post showing 2-4 pictures in one frame (`MULTI_PHOTO_LAYOUTS`), thin gutters (0-8 pixels)
    of the app's background between them. The photo fills one cell, cover-cropped (off-centre by up
    to 15% of the slack); synthetic footage fills the others."""
    aspect, cells = rng.choice(MULTI_PHOTO_LAYOUTS)
    width = rng.choice([720, 1080, 1200])
    height = round(width / aspect)
    gutter = rng.choice([0, 2, 4, 6, 8])
    canvas = Image.new("RGB", (width, height), rng.choice([(255, 255, 255), (0, 0, 0), (21, 32, 43)]))
    mine = rng.randrange(len(cells))
    for k, (left, top, right, bottom) in enumerate(cells):
        # A gutter's half on each inner side of a cell.
        x0 = round(left * width) + (gutter // 2 if left > 0 else 0)
        y0 = round(top * height) + (gutter // 2 if top > 0 else 0)
        x1 = round(right * width) - (gutter - gutter // 2 if right < 1 else 0)
        y1 = round(bottom * height) - (gutter - gutter // 2 if bottom < 1 else 0)
        size = (x1 - x0, y1 - y0)
        canvas.paste(cover(image, size, rng) if k == mine else footage(size, rng), (x0, y0))
    return canvas


# The frames an app fills around a picture of another shape with a blurred copy of it (width /
# height): a reel or a story (9:16), a feed's square and portrait post (1:1, 4:5), a landscape
# video (16:9). A frame is only drawn when it differs from the picture's shape by `FILL_SLACK` or
# more: otherwise the picture fills it and there is little to see of the fill.
BLURRED_FILL_FRAMES: tuple[float, ...] = (9 / 16, 1.0, 4 / 5, 16 / 9)
FILL_SLACK = 0.1


def blurred_fill(image: Image.Image, rng: random.Random) -> Image.Image:
    """The picture fitted inside a frame of another shape (`BLURRED_FILL_FRAMES`) at 88-100% of the
    size that fits, over the same picture enlarged to cover the frame, blurred (a radius of 2-6% of
    the frame's width) and darkened by up to 35%: how reels, stories and feeds fill the space a
    picture leaves. Centred across; up or down by up to 8% of the room left."""
    aspect = image.width / image.height
    frames = [f for f in BLURRED_FILL_FRAMES if abs(f / aspect - 1.0) >= FILL_SLACK]
    frame = rng.choice(frames)
    width = rng.choice([720, 1080])
    size = (width, round(width / frame))
    fill = cover(image, size).filter(ImageFilter.GaussianBlur(width * rng.uniform(0.02, 0.06)))
    kept = rng.uniform(0.65, 1.0)  # of the fill's brightness
    canvas = Image.eval(fill, lambda level: round(level * kept))
    fitted = rng.uniform(0.88, 1.0)
    pic = contain(image, (round(size[0] * fitted), round(size[1] * fitted)))
    room = size[1] - pic.height
    y = round(room / 2 + rng.uniform(-0.08, 0.08) * room)
    canvas.paste(pic, ((size[0] - pic.width) // 2, max(0, min(room, y))))
    return canvas


# ---------------------------------------------------------------- HELD-OUT: screenshots


def story_screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone screenshot of a story/reel viewer: the photo fitted to the height (cut at the sides) or
    contained on a blurred or solid fill, progress bars, avatar and name, right-side icons and a caption
    drawn over it, a reply field below."""
    W, H = _device(rng, aspects=(16 / 9, 19.5 / 9, 20 / 9))
    canvas = Image.new("RGB", (W, H), (0, 0, 0))
    u = W / 100
    status_h = int(6 * u)
    reply_h = int(rng.choice([0, 14]) * u)
    area = (W, H - status_h - reply_h)
    mode = rng.choice(["height", "contain-blur", "contain-solid"])
    if mode == "height" and image.width * area[1] / image.height > W / 0.6:
        mode = "contain-blur"  # fitting a wide photo to the height would show less than 60% of it
    if mode == "height":
        scaled_h = area[1]
        scaled_w = round(image.width * scaled_h / image.height)
        pic = image.resize((max(1, scaled_w), scaled_h), Image.Resampling.LANCZOS)
        x = (W - scaled_w) // 2 + int(rng.uniform(-0.1, 0.1) * max(0, scaled_w - W))
        canvas.paste(pic, (x, status_h))
    else:
        if mode == "contain-blur":
            canvas.paste(cover(image, area).filter(ImageFilter.GaussianBlur(W * 0.04)), (0, status_h))
        else:
            canvas.paste(Image.new("RGB", area, random_colour(rng, 0, 255)), (0, status_h))
        pic = contain(image, (W, int(area[1] * rng.uniform(0.7, 1.0))))
        canvas.paste(pic, ((W - pic.width) // 2, status_h + (area[1] - pic.height) // 2))
    status_bar(canvas, status_h, (255, 255, 255), (0, 0, 0), rng)
    draw = ImageDraw.Draw(canvas)
    y = status_h + 2 * u
    n = rng.randint(1, 6)
    seg = (W - 4 * u - (n - 1) * u) / n
    for i in range(n):
        x0 = 2 * u + i * (seg + u)
        draw.rounded_rectangle(
            (x0, y, x0 + seg, y + 0.6 * u), radius=0.3 * u, fill=(255, 255, 255) if i == 0 else (150, 150, 150)
        )
    avatar(canvas, (int(3 * u), int(y + 3 * u), int(12 * u), int(y + 12 * u)), rng)
    draw.text(
        (15 * u, y + 7.5 * u),
        handle(rng) + f"  {rng.randint(1, 23)}h",
        fill=(255, 255, 255),
        font=font(int(3.4 * u), "bold"),
        anchor="lm",
    )
    icon(draw, "dots", W - 13 * u, y + 7.5 * u, 4 * u, (255, 255, 255))
    draw.line((W - 6 * u, y + 5 * u, W - 3 * u, y + 10 * u), fill=(255, 255, 255), width=int(0.6 * u))
    draw.line((W - 3 * u, y + 5 * u, W - 6 * u, y + 10 * u), fill=(255, 255, 255), width=int(0.6 * u))
    if rng.random() < 0.6:  # reel: right-side icons and counts over the picture
        for i, kind in enumerate(["heart", "comment", "share", "dots"]):
            cy = H - reply_h - (48 - 11 * i) * u
            icon(draw, kind, W - 7 * u, cy, 6.5 * u, (255, 255, 255))
            draw.text(
                (W - 7 * u, cy + 5 * u),
                f"{rng.randint(1, 999)}K",
                fill=(255, 255, 255),
                font=font(int(2.6 * u)),
                anchor="mm",
            )
    cap = font(int(3.4 * u))
    _text_block(
        draw, 4 * u, H - reply_h - 16 * u, int(75 * u), sentence(rng, (4, 16)), cap, (255, 255, 255), max_lines=2
    )
    if reply_h:
        draw.rounded_rectangle(
            (3 * u, H - reply_h + 2 * u, W - 24 * u, H - 3 * u), radius=5 * u, outline=(255, 255, 255), width=2
        )
        draw.text((7 * u, H - reply_h / 2 - 0.5 * u), "Send message", fill=(255, 255, 255), font=cap, anchor="lm")
        icon(draw, "heart", W - 17 * u, H - reply_h / 2 - 0.5 * u, 5.5 * u, (255, 255, 255))
        icon(draw, "share", W - 7 * u, H - reply_h / 2 - 0.5 * u, 5.5 * u, (255, 255, 255))
    return canvas


def chat_screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone screenshot of a chat: header, text bubbles, the photo as a rounded bubble 55-75% of the
    width (time stamp over its corner), input bar, sometimes a keyboard."""
    W, H = _device(rng, aspects=(16 / 9, 19.5 / 9, 20 / 9))
    t = _theme(rng)
    wallpaper = rng.choice([t["bg"], (236, 229, 221), (11, 20, 26), (200, 220, 240)])
    canvas = Image.new("RGB", (W, H), wallpaper)
    draw = ImageDraw.Draw(canvas)
    u = W / 100
    dark = sum(wallpaper) < 300
    fg = (240, 240, 240) if dark else (15, 15, 15)
    mine_colour = rng.choice([(220, 248, 198), (0, 92, 75), (10, 132, 255), (229, 229, 234)])
    theirs_colour = (32, 44, 51) if dark else (255, 255, 255)
    status_h = int(6 * u)
    header_h = int(13 * u)
    status_bar(canvas, status_h, t["fg"], t["bg"], rng)
    draw.rectangle((0, status_h, W, status_h + header_h), fill=t["bg"])
    icon(draw, "back", 4 * u, status_h + header_h / 2, 4.5 * u, t["fg"])
    avatar(canvas, (int(9 * u), int(status_h + 2.5 * u), int(17 * u), int(status_h + 10.5 * u)), rng)
    draw.text(
        (20 * u, status_h + header_h / 2),
        word(rng, (2, 3)).capitalize(),
        fill=t["fg"],
        font=font(int(3.8 * u), "bold"),
        anchor="lm",
    )
    icon(draw, "camera", W - 16 * u, status_h + header_h / 2, 5 * u, t["fg"])
    icon(draw, "dots", W - 5 * u, status_h + header_h / 2, 4 * u, t["fg"])
    input_h = int(13 * u)
    keyboard_h = int(rng.choice([0, 0, 75]) * u)
    bottom = H - input_h - keyboard_h
    # the photo bubble
    bw = int(W * rng.uniform(0.55, 0.75))
    photo = fit_width(_cap_aspect(image, 1.3, 2.0), bw)
    pad = int(rng.uniform(0.5, 1.2) * u)
    mine = rng.random() < 0.5
    bx = W - bw - 2 * pad - 3 * u if mine else 3 * u
    space = bottom - status_h - header_h
    by = status_h + header_h + int(rng.uniform(0.1, 0.9) * max(0, space - photo.height - 2 * pad))
    draw.rounded_rectangle(
        (bx, by, bx + bw + 2 * pad, by + photo.height + 2 * pad),
        radius=int(3 * u),
        fill=mine_colour if mine else theirs_colour,
    )
    _, mask = rounded(photo, int(2.5 * u))
    canvas.paste(photo, (int(bx + pad), int(by + pad)), mask)
    stamp = f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}"
    draw.text(
        (bx + pad + bw - 2 * u, by + pad + photo.height - 2 * u),
        stamp,
        fill=(255, 255, 255),
        font=font(int(2.8 * u)),
        anchor="rb",
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    # text bubbles above and below the photo
    body = font(int(3.6 * u))

    def bubble(y: int, up: bool) -> int:
        text = sentence(rng, (2, 12))
        lines = wrap(draw, text, body, int(60 * u))[:3]
        tw = max(draw.textlength(line, font=body) for line in lines) + 6 * u
        th = len(lines) * 3.6 * u * 1.3 + 4 * u
        right = rng.random() < 0.5
        x0 = W - 3 * u - tw if right else 3 * u
        y0 = y - th if up else y
        draw.rounded_rectangle(
            (x0, y0, x0 + tw, y0 + th), radius=int(3 * u), fill=mine_colour if right else theirs_colour
        )
        for i, line in enumerate(lines):
            draw.text(
                (x0 + 3 * u, y0 + 2 * u + i * 3.6 * u * 1.3),
                line,
                fill=fg if not (right and sum(mine_colour) < 300) else (255, 255, 255),
                font=body,
            )
        return int(th + 2 * u)

    y = by - 2 * u
    while y - 12 * u > status_h + header_h:
        y -= bubble(int(y), True)
    y = by + photo.height + 2 * pad + 2 * u
    while y + 12 * u < bottom:
        y += bubble(int(y), False)
    draw.rectangle((0, 0, W, status_h + header_h), fill=t["bg"])  # bubbles scroll under the header
    status_bar(canvas, status_h, t["fg"], t["bg"], rng)
    icon(draw, "back", 4 * u, status_h + header_h / 2, 4.5 * u, t["fg"])
    avatar(canvas, (int(9 * u), int(status_h + 2.5 * u), int(17 * u), int(status_h + 10.5 * u)), rng)
    draw.text(
        (20 * u, status_h + header_h / 2),
        word(rng, (2, 3)).capitalize(),
        fill=t["fg"],
        font=font(int(3.8 * u), "bold"),
        anchor="lm",
    )
    draw.rectangle((0, bottom, W, H), fill=t["bg"])
    draw.rounded_rectangle((3 * u, bottom + 2 * u, W - 16 * u, bottom + input_h - 2 * u), radius=4 * u, fill=t["line"])
    draw.text((7 * u, bottom + input_h / 2), "Message", fill=t["muted"], font=body, anchor="lm")
    draw.ellipse((W - 13 * u, bottom + 2 * u, W - 3 * u, bottom + input_h - 2 * u), fill=t["accent"])
    if keyboard_h:
        ky = bottom + input_h
        draw.rectangle((0, ky, W, H), fill=(209, 212, 217) if not dark else (40, 40, 42))
        rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
        kw = W / 10.5
        for r, keys in enumerate(rows):
            offset = (W - len(keys) * kw) / 2
            for k, ch in enumerate(keys):
                x0, y0 = offset + k * kw + 0.4 * u, ky + 3 * u + r * 13 * u
                draw.rounded_rectangle(
                    (x0, y0, x0 + kw - 0.8 * u, y0 + 11 * u),
                    radius=u,
                    fill=(255, 255, 255) if not dark else (90, 90, 94),
                )
                draw.text((x0 + kw / 2, y0 + 5.5 * u), ch, fill=fg, font=font(int(4.5 * u)), anchor="mm")
        draw.rounded_rectangle(
            (25 * u, ky + 42 * u, 75 * u, ky + 53 * u), radius=u, fill=(255, 255, 255) if not dark else (90, 90, 94)
        )
    return canvas


def desktop_screenshot(image: Image.Image, rng: random.Random) -> Image.Image:
    """A landscape browser screenshot: tab strip, URL bar, left navigation, the photo in the content
    column (fitted to its width, cut to 5:4 high at most, scrolled so it shows whole), right sidebar."""
    W = rng.choice([1280, 1440, 1920])
    H = round(W * rng.choice([9 / 16, 10 / 16]))
    t = _theme(rng)
    canvas = Image.new("RGB", (W, H), t["bg"])
    draw = ImageDraw.Draw(canvas)
    u = W / 200
    chrome = (222, 225, 230) if sum(t["bg"]) > 300 else (32, 33, 36)
    chrome_fg = (30, 30, 30) if sum(t["bg"]) > 300 else (230, 230, 230)
    tabs_h, url_h = int(9 * u), int(10 * u)
    draw.rectangle((0, 0, W, tabs_h + url_h), fill=chrome)
    for i in range(rng.randint(2, 6)):
        x0 = 20 * u + i * 45 * u
        if i == 0:
            draw.rounded_rectangle((x0, 2 * u, x0 + 44 * u, tabs_h + 2 * u), radius=2 * u, fill=t["bg"])
        draw.text(
            (x0 + 4 * u, tabs_h / 2 + u),
            sentence(rng, (2, 4))[:22],
            fill=chrome_fg,
            font=font(int(3.2 * u)),
            anchor="lm",
        )
    for i in range(3):
        draw.ellipse(
            (3 * u + i * 5 * u, 3 * u, 6 * u + i * 5 * u, 6 * u), fill=[(255, 95, 86), (255, 189, 46), (39, 201, 63)][i]
        )
    draw.rounded_rectangle(
        (20 * u, tabs_h + 1.5 * u, W - 30 * u, tabs_h + url_h - 1.5 * u),
        radius=3 * u,
        fill=t["bg"] if sum(t["bg"]) < 300 else (255, 255, 255),
    )
    draw.text(
        (25 * u, tabs_h + url_h / 2),
        f"https://www.{word(rng, (2, 3))}.com/{word(rng)}/status/{rng.randrange(10**9, 10**10)}",
        fill=chrome_fg,
        font=font(int(3.4 * u)),
        anchor="lm",
    )
    top = tabs_h + url_h
    col_x = int(W * rng.uniform(0.22, 0.3))
    col_w = int(W * rng.uniform(0.3, 0.42))
    # left navigation
    for i, kind in enumerate(["home", "search", "bell", "comment", "bookmark", "user"]):
        cy = top + (14 + 14 * i) * u
        icon(draw, kind, col_x - 55 * u, cy, 6 * u, t["fg"])
        draw.text(
            (col_x - 47 * u, cy), word(rng, (1, 3)).capitalize(), fill=t["fg"], font=font(int(4.4 * u)), anchor="lm"
        )
    draw.line((col_x, top, col_x, H), fill=t["line"], width=1)
    draw.line((col_x + col_w, top, col_x + col_w, H), fill=t["line"], width=1)
    # the post
    photo = fit_width(_cap_aspect(image, 1.25, 2.2), col_w - int(20 * u))
    y = top + 6 * u
    header_h = 14 * u
    text_h = 12 * u
    after = y + header_h + text_h + photo.height
    if after > H - 4 * u:  # scrolled so the photo shows whole
        y -= after - (H - 4 * u)
    avatar(canvas, (int(col_x + 4 * u), int(y), int(col_x + 14 * u), int(y + 10 * u)), rng)
    draw.text(
        (col_x + 17 * u, y + 3 * u),
        word(rng, (2, 3)).capitalize() + "  @" + handle(rng),
        fill=t["fg"],
        font=font(int(3.6 * u), "bold"),
        anchor="lm",
    )
    _text_block(
        draw,
        col_x + 17 * u,
        y + 7 * u,
        int(col_w - 22 * u),
        sentence(rng, (4, 20)),
        font(int(3.6 * u)),
        t["fg"],
        max_lines=3,
    )
    py = int(y + header_h + text_h)
    _, mask = rounded(photo, int(3 * u))
    canvas.paste(photo, (int(col_x + 16 * u), py), mask)
    y2 = py + photo.height + 3 * u
    for i, kind in enumerate(["comment", "share", "heart", "bookmark"]):
        icon(draw, kind, col_x + 20 * u + 25 * i * u, y2 + 3 * u, 4.5 * u, t["muted"])
    draw.rectangle((0, 0, W, top), fill=None)
    # chrome drawn again over anything scrolled under it
    if y < top:
        draw.rectangle((0, 0, W, top), fill=chrome)
        draw.rounded_rectangle(
            (20 * u, tabs_h + 1.5 * u, W - 30 * u, tabs_h + url_h - 1.5 * u), radius=3 * u, fill=(255, 255, 255)
        )
    # right sidebar
    sx = col_x + col_w + 8 * u
    draw.rounded_rectangle((sx, top + 6 * u, W - 8 * u, top + 16 * u), radius=5 * u, fill=t["line"])
    draw.text((sx + 5 * u, top + 11 * u), "Search", fill=t["muted"], font=font(int(3.6 * u)), anchor="lm")
    y3 = top + 24 * u
    draw.text((sx, y3), "Trends for you", fill=t["fg"], font=font(int(4.5 * u), "bold"))
    for _ in range(rng.randint(3, 7)):
        y3 += 13 * u
        if y3 > H - 10 * u:
            break
        draw.text((sx, y3), "Trending", fill=t["muted"], font=font(int(3 * u)))
        draw.text((sx, y3 + 4 * u), "#" + word(rng, (2, 4)).capitalize(), fill=t["fg"], font=font(int(3.6 * u), "bold"))
    return canvas


# ---------------------------------------------------------------- HELD-OUT: remix layouts


def picture_in_picture(image: Image.Image, rng: random.Random) -> Image.Image:
    """The photo as an inset 25-45% of the frame's width over synthetic footage, with a border or shadow."""
    W = rng.choice([720, 1080, 1280])
    H = round(W * rng.choice([16 / 9, 9 / 16, 4 / 3, 1.0]))
    canvas = footage((W, H), rng)
    iw = int(W * rng.uniform(0.25, 0.45))
    inset = fit_width(image, iw)
    if inset.height > 0.8 * H:
        inset = contain(image, (W, int(0.8 * H)))
    x = rng.choice([int(0.03 * W), W - inset.width - int(0.03 * W), (W - inset.width) // 2])
    y = rng.choice([int(0.03 * H), H - inset.height - int(0.03 * H), (H - inset.height) // 2])
    draw = ImageDraw.Draw(canvas)
    style = rng.choice(["border", "shadow", "none", "rounded"])
    if style == "border":
        b = max(2, int(iw * 0.02))
        draw.rectangle((x - b, y - b, x + inset.width + b, y + inset.height + b), fill=(255, 255, 255))
    elif style == "shadow":
        shadow = Image.new("L", canvas.size, 0)
        ImageDraw.Draw(shadow).rectangle((x + 6, y + 6, x + inset.width + 6, y + inset.height + 6), fill=160)
        canvas.paste((0, 0, 0), (0, 0), shadow.filter(ImageFilter.GaussianBlur(6)))
    if style == "rounded":
        _, mask = rounded(inset, int(iw * 0.06))
        canvas.paste(inset, (x, y), mask)
    else:
        canvas.paste(inset, (x, y))
    return canvas


def green_screen(image: Image.Image, rng: random.Random) -> Image.Image:
    """The photo as the full background (own aspect or cover-cropped to 9:16), a synthetic person
    keyed over a bottom corner, 20-35% of the frame."""
    if rng.random() < 0.5:
        W = rng.choice([720, 1080])
        canvas = _placed_in(image, (W, round(W * 16 / 9)), rng, max_cut=0.45)
    else:
        canvas = image.convert("RGB").copy()
    W, H = canvas.size
    share = rng.uniform(0.20, 0.35)
    ph = int((share * W * H / 0.8) ** 0.5)
    ph = min(ph, int(0.75 * H))
    pw = int(ph * 0.8)
    cut = person((pw, ph), rng)
    x = rng.choice([0, W - pw, int(rng.uniform(0, max(1, W - pw)))])
    canvas = canvas.convert("RGBA")
    canvas.alpha_composite(cut, (max(0, min(W - pw, x)), H - ph))
    return canvas.convert("RGB")


def collage(image: Image.Image, rng: random.Random) -> Image.Image:
    """A 2x2, 1x3 or 3x1 grid with gutters; the photo fills one cell (cover-cropped), synthetic pictures the others."""
    cols, rows = rng.choice([(2, 2), (3, 1), (1, 3)])
    aspect = image.height / image.width * rng.uniform(0.85, 1.15)
    cw = rng.choice([320, 400, 540])
    ch = max(32, round(cw * aspect))
    gutter = int(cw * rng.choice([0.0, 0.01, 0.02, 0.03]))
    W, H = cols * cw + (cols + 1) * gutter, rows * ch + (rows + 1) * gutter
    canvas = Image.new("RGB", (W, H), rng.choice([(255, 255, 255), (0, 0, 0), (30, 30, 30)]))
    mine = rng.randrange(cols * rows)
    for k in range(cols * rows):
        c, r = k % cols, k // cols
        cell = _placed_in(image, (cw, ch), rng, max_cut=0.25) if k == mine else footage((cw, ch), rng)
        canvas.paste(cell, (gutter + c * (cw + gutter), gutter + r * (ch + gutter)))
    return canvas
