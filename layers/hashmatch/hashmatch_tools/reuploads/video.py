"""Seeded re-upload edits of a video, for `benchmarks/bench_video_robustness.py`.

A re-posted video is edited once and re-encoded: the logo, the caption, the layout, the crop are
where they were in the first frame in every frame. So a frame edit is the picture edit of
`hashmatch_tools.reuploads` run on each frame with the same seed: it draws the same choices every
time (where the logo goes, how big, which corner), so it stays put while the footage moves under
it. Beside those, the edits only a video has: a clip of it, and a stretch of it spliced into other
footage.

    frames = edited_frames(frames, FRAME_EDITS["overlay: large corner logo"], seed="copy-1")
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from PIL import Image

from hashmatch_tools.reuploads import geometric as g
from hashmatch_tools.reuploads import layouts as lay
from hashmatch_tools.reuploads import overlays as ov
from hashmatch_tools.reuploads import quality as q
from hashmatch_tools.reuploads.drawing import logo

__all__ = ["FRAME_EDITS", "HELD_OUT_FRAME_EDITS", "FrameEdit", "edited_frames", "large_corner_logo"]

FrameEdit = Callable[[Image.Image, random.Random], Image.Image]


def large_corner_logo(image: Image.Image, rng: random.Random) -> Image.Image:
    """A broadcaster's or re-poster's logo 25-40% of the short side in one corner, nearly opaque."""
    canvas = image.convert("RGBA")
    short = min(image.size)
    size = max(16, int(short * rng.uniform(0.25, 0.40)))
    layer = logo(size, rng, rng.randint(200, 255))
    margin = int(short * rng.uniform(0.02, 0.05))
    right, bottom = rng.random() < 0.5, rng.random() < 0.5
    x = image.width - layer.width - margin if right else margin
    y = image.height - layer.height - margin if bottom else margin
    canvas.alpha_composite(layer, (max(0, x), max(0, y)))
    return canvas.convert("RGB")


def _half_size(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.resize((max(2, image.width // 2), max(2, image.height // 2)), Image.Resampling.BILINEAR)


def _at_most(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` shrunk, if need be, to fit in `size` (a video edit keeps the footage's scale)."""
    scale = min(1.0, size[0] / image.width, size[1] / image.height)
    if scale == 1.0:
        return image
    fitted = (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    return image.resize(fitted, Image.Resampling.LANCZOS)


# Edits applied to every frame with one seed. Grouped by what hides or moves the footage.
FRAME_EDITS: dict[str, FrameEdit] = {
    "geometric: mirror": g.mirror,
    "geometric: uneven crop 0-12%": g.uneven_crop,
    "geometric: rotate 1-4 + crop": g.rotate_small_crop,
    "quality: half resolution": _half_size,
    "quality: vintage": q.vintage,
    "layout: caption bar": lay.caption_bar,
    "layout: duet with other footage": lay.duet,
    "layout: picture-in-picture": lay.picture_in_picture,
    "overlay: corner logo": ov.corner_logo,
    "overlay: large corner logo": large_corner_logo,
    "overlay: big logo over the middle": ov.big_logo,
    "overlay: text boxes": ov.text_boxes,
    "overlay: stickers": ov.stickers,
    # A landscape video reposted as a reel or a story: cover-cropped to a phone screen (a portrait
    # one to a phone screen or 16:9), the window near the centre. Added after the matching above
    # was tuned, to show what it missed then: no crop grid ran on video (`hashmatch.media.video_crops`
    # lays one now).
    "reframed: filled to a phone screen": lambda image, rng: _at_most(g.filled_screen(image, rng), image.size),
}


# Edits never looked at while video matching was tuned (its stored crops, its sample framings and
# the corroboration threshold were chosen on FRAME_EDITS' copies): the HELD-OUT picture families
# that make sense on every frame, run only to report (`benchmarks/bench_video_robustness.py`).
HELD_OUT_FRAME_EDITS: dict[str, FrameEdit] = {
    "screenshot: story viewer": lay.story_screenshot,
    "layout: green-screen reaction": lay.green_screen,
    "layout: collage/grid": lay.collage,
    "overlay: scribbles": ov.scribbles,
    "overlay: frame/border": ov.frame_border,
    "overlay: emoji storm": ov.emoji_storm,
    "geometric: rotate 3-8, no crop": g.rotate_no_crop,
    "geometric: stretch + mirror": g.stretch_mirror,
    "quality: hue rotation": q.hue_rotation,
}


def edited_frames(frames: list[np.ndarray], edit: FrameEdit, seed: str) -> list[np.ndarray]:
    """Every frame (RGB arrays) through `edit` with a generator seeded by `seed` afresh, so every
    choice the edit draws is the same in each frame; sizes evened for H.264."""
    out = []
    for frame in frames:
        edited = edit(Image.fromarray(frame), random.Random(seed)).convert("RGB")
        width, height = edited.width // 2 * 2, edited.height // 2 * 2
        out.append(np.ascontiguousarray(np.asarray(edited)[:height, :width]))
    return out
