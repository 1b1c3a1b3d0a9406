"""Seeded edits modelled on how re-uploads happen, in two halves: TUNED and HELD-OUT.

Every edit is ``edit(image: PIL RGB image, rng: random.Random) -> PIL RGB image``; every choice
(how much, where, which theme, device, text) is drawn from `rng`, so a photo, an edit name and a
seed give one copy exactly. Texts, icons, avatars, stickers, people and "other footage" are drawn
(`hashmatch_tools.reuploads.drawing`): a copy holds exactly one real photo.

    from hashmatch_tools.reuploads import HELD_OUT, TUNED
    copy = TUNED["screenshot: feed app"](photo, random.Random(7))

The split is by family, and where a family is on both sides, by parameter range. It is fixed: tune
matching on `TUNED` only and run `HELD_OUT` only to report (`benchmarks/bench_robustness.py` shows
both halves side by side). The classes the robustness issue names (a 3 degree turn with its corners
cut, an app screenshot, mirrored + cut unevenly + captioned, a tiled diagonal watermark) are known,
so they are TUNED.

- screenshots. TUNED: feed app (photo fitted to the width, header, action row, comments; light or
  dark; 4 device shapes), microblog (photo with margins and rounded corners below a text post).
  HELD-OUT: story viewer (photo fitted to the height or contained on a fill, UI drawn over it),
  chat (photo as a bubble 55-75% of the width), desktop browser.
- remix layouts. TUNED: duet side by side, stitch top/bottom, caption bar (10-25% high); a
  multi-photo post (2-4 pictures in one frame, thin gutters); a picture on a blurred fill (fitted
  inside a reel's, a feed's or a video's frame over a blurred, darkened copy of itself); neither
  drawn by the compositions.
  HELD-OUT: picture-in-picture (a 25-45% inset), green-screen reaction (a person keyed over a
  corner), collage/grid.
- drawn or pasted over. TUNED: 1-4 stickers, 1-2 text boxes, corner logo, tiled diagonal text
  watermark. HELD-OUT: scribbles, big central logo, frame or border, 10-25 emoji, rows of logo +
  handle.
- geometric. TUNED: turned 1-4 degrees + corners cut, uneven crop 0-12% per side, mirror, zoom-in
  85-95%, stretch 0.85-1.15, mirror + uneven crop + caption; slanted: turned 2-12 degrees on a
  grown canvas over a backdrop, laid at a slant (corners moved up to 8%, turned up to 6 degrees) on a
  backdrop (one colour or other footage; not drawn by the compositions); reframed: cover-cropped to
  a square, 4:5 or 16:9 at any offset, keeping at least 60% of the cut side; filled to a phone
  screen (9:16 to 9:20; a portrait picture to 16:9), the window within 10% of the slack from the
  centre (neither drawn by the compositions). HELD-OUT: phone photo of a screen
  (keystone 3-10%), turned 3-8 degrees without a cut, turned 4-7 + cut, uneven crop 10-20%,
  stretch beyond 0.85-1.15 + mirror.
- colour and quality. TUNED: JPEG q25-70, contrast, gamma, saturation/grey, noise, blur, resize
  0.3-0.8, sharpen. HELD-OUT: vintage, hue rotation, posterize, screenshot scaling, JPEG q10-20,
  white balance, local contrast.
- compositions: geometric -> overlay -> layout -> quality, each step from the same half.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PIL import Image

from hashmatch_tools.reuploads import geometric as g
from hashmatch_tools.reuploads import layouts as lay
from hashmatch_tools.reuploads import overlays as ov
from hashmatch_tools.reuploads import quality as q

Edit = Callable[[Image.Image, random.Random], Image.Image]

__all__ = ["CATEGORIES", "FAMILIES", "HELD_OUT", "JPEG_FAMILIES", "TUNED", "Edit", "chain_steps", "compose_chain"]


def _mirror_uneven_caption(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mirrored, cut unevenly on two sides (2-10% each), a caption bar on top."""
    image = g.mirror(image, rng)
    w, h = image.size
    sides = rng.sample(["l", "t", "r", "b"], 2)
    cut = {s: (rng.uniform(0.02, 0.10) if s in sides else 0.0) for s in "ltrb"}
    image = image.crop((round(cut["l"] * w), round(cut["t"] * h), round(w - cut["r"] * w), round(h - cut["b"] * h)))
    return lay.caption_bar(image, rng)


# half -> category -> {family name: edit}
CATEGORIES: dict[str, dict[str, dict[str, Edit]]] = {
    "tuned": {
        "screenshot": {
            "screenshot: feed app": lay.feed_screenshot,
            "screenshot: microblog": lay.microblog_screenshot,
        },
        "layout": {
            "layout: duet side-by-side": lay.duet,
            "layout: stitch top/bottom": lay.stitch,
            "layout: caption bar": lay.caption_bar,
        },
        "overlay": {
            "overlay: stickers": ov.stickers,
            "overlay: text boxes": ov.text_boxes,
            "overlay: corner logo": ov.corner_logo,
            "overlay: tiled diagonal watermark": ov.tiled_diagonal_watermark,
        },
        "geometric": {
            "geometric: rotate 1-4 + crop": g.rotate_small_crop,
            "geometric: uneven crop 0-12%": g.uneven_crop,
            "geometric: mirror": g.mirror,
            "geometric: zoom-in crop 85-95%": g.zoom_crop,
            "geometric: stretch 0.85-1.15": g.stretch,
            "geometric: mirror + uneven crop + caption": _mirror_uneven_caption,
        },
        # Not drawn by the compositions (`chain_steps`), which stay as they were before these were added.
        "slanted": {
            "slanted: turned 2-12 on a backdrop": g.turned_on_backdrop,
            "slanted: laid at a slant on a backdrop": g.laid_at_a_slant,
        },
        # Not drawn by the compositions either.
        "reframed": {
            "reframed: cover-crop to 1:1, 4:5 or 16:9": g.reframed,
            "reframed: filled to a phone screen": g.filled_screen,
        },
        # Not drawn by the compositions either.
        "multi-photo": {
            "layout: multi-photo post": lay.multi_photo_post,
        },
        # Nor this.
        "blurred fill": {
            "layout: picture on a blurred fill": lay.blurred_fill,
        },
        "quality": {
            "quality: JPEG q25-70": q.jpeg,
            "quality: contrast/brightness": q.contrast_brightness,
            "quality: gamma": q.gamma,
            "quality: saturation/grey": q.saturation,
            "quality: noise": q.noise,
            "quality: blur": q.blur,
            "quality: resize 0.3-0.8": q.resize,
            "quality: sharpen": q.sharpen,
        },
    },
    "held_out": {
        "screenshot": {
            "screenshot: story viewer": lay.story_screenshot,
            "screenshot: chat": lay.chat_screenshot,
            "screenshot: desktop browser": lay.desktop_screenshot,
        },
        "layout": {
            "layout: picture-in-picture": lay.picture_in_picture,
            "layout: green-screen reaction": lay.green_screen,
            "layout: collage/grid": lay.collage,
        },
        "overlay": {
            "overlay: scribbles": ov.scribbles,
            "overlay: big logo": ov.big_logo,
            "overlay: frame/border": ov.frame_border,
            "overlay: emoji storm": ov.emoji_storm,
            "overlay: tiled rows watermark": ov.tiled_rows_watermark,
        },
        "geometric": {
            "geometric: perspective (phone photo of screen)": g.phone_photo_of_screen,
            "geometric: rotate 3-8, no crop": g.rotate_no_crop,
            "geometric: rotate 4-7 + crop": g.rotate_medium_crop,
            "geometric: uneven crop 10-20%": g.uneven_crop_large,
            "geometric: stretch + mirror": g.stretch_mirror,
        },
        "quality": {
            "quality: vintage": q.vintage,
            "quality: hue rotation": q.hue_rotation,
            "quality: posterize": q.posterize,
            "quality: screenshot scaling": q.screenshot_scaling,
            "quality: JPEG q10-20": q.jpeg_heavy,
            "quality: white balance": q.white_balance,
            "quality: local contrast": q.local_contrast,
        },
    },
}


def chain_steps(half: str, rng: random.Random) -> list[str]:
    """The families a composed copy of `half` goes through, in order: a geometric edit, an overlay
    (six times in ten), a layout or screenshot (six times in ten), a colour or quality edit. The
    composed edit draws these first from its `rng`: replay the seed to know a copy's steps."""
    families = CATEGORIES[half]
    steps = [rng.choice(sorted(families["geometric"]))]
    if rng.random() < 0.6:
        steps.append(rng.choice(sorted(families["overlay"])))
    if rng.random() < 0.6:
        steps.append(rng.choice(sorted({**families["layout"], **families["screenshot"]})))
    steps.append(rng.choice(sorted(families["quality"])))
    return steps


def compose_chain(half: str) -> Edit:
    """An edit that chains `half`'s edits as `chain_steps` draws them."""
    edits = {name: edit for category in CATEGORIES[half].values() for name, edit in category.items()}

    def compose(image: Image.Image, rng: random.Random) -> Image.Image:
        for name in chain_steps(half, rng):
            image = edits[name](image.convert("RGB"), rng)
        return image.convert("RGB")

    compose.__doc__ = f"A chain of {half} edits: geometric -> overlay -> layout -> quality."
    return compose


TUNED: dict[str, Edit] = {name: e for cat in CATEGORIES["tuned"].values() for name, e in cat.items()}
TUNED["compose (tuned)"] = compose_chain("tuned")
HELD_OUT: dict[str, Edit] = {name: e for cat in CATEGORIES["held_out"].values() for name, e in cat.items()}
HELD_OUT["compose (held-out)"] = compose_chain("held_out")
FAMILIES: dict[str, dict[str, Edit]] = {"tuned": TUNED, "held_out": HELD_OUT}
# Families whose copies end in a lossy JPEG re-encode: store them losslessly, or the upload's own
# JPEG pass adds to the edit.
JPEG_FAMILIES = frozenset(name for half in FAMILIES.values() for name in half if "JPEG" in name)
