"""A picture whose edges are turned or keystoned inside a larger frame: found, set upright, matched
through the real hashing and matcher, and look-alikes kept apart."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from hashmatch.media import framing
from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.model import Region
from hashmatch.media.slanted import SlantedFrame, rectified_views, slanted_frames
from hashmatch.signals.base import Orientation
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD
from tests.unit.test_regions import (
    BRIDGE,
    DESK,
    DESK_LOOKALIKES,
    bank_of,
    checked,
    matched_queries,
    photo,
    reference_photo,
    synthetic_photo,
    thumbnail,
    without,
)

pytestmark = pytest.mark.unit

Corners = list[tuple[float, float]]


# ---------------------------------------------------------------- copies with slanted edges


def _backdrop(size: tuple[int, int], seed: int) -> Image.Image:
    """A smooth textured background, unlike any shared picture."""
    texture = np.random.default_rng(seed).integers(40, 216, (size[1] // 24 + 2, size[0] // 24 + 2, 3))
    return Image.fromarray(texture.astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)


def turned_on_canvas(picture: Image.Image, angle: float, seed: int = 1) -> tuple[Image.Image, Corners]:
    """`picture` turned by `angle` degrees counter-clockwise on a canvas grown to hold it, over a
    textured background, and where its corners went (top-left, top-right, bottom-right, bottom-left,
    as shares of the canvas)."""
    turned = picture.convert("RGBA").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    canvas = _backdrop(turned.size, seed)
    canvas.paste(turned, (0, 0), turned)
    w, h = picture.size
    radians = math.radians(angle)
    cos, sin = math.cos(radians), math.sin(radians)
    corners = []
    for x, y in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)):
        # Pillow turns counter-clockwise on screen, where y grows downward.
        corners.append(((x * cos + y * sin) / turned.width + 0.5, (-x * sin + y * cos) / turned.height + 0.5))
    return canvas.convert("RGB"), corners


def keystoned(
    picture: Image.Image, corners: Corners, size: tuple[int, int], seed: int = 2, colour: tuple[int, ...] | None = None
) -> Image.Image:
    """`picture` warped so that its corners land on `corners` (shares of `size`) over a background
    (textured, or of one `colour`): a photo of a screen or a print taken at a slant."""
    width, height = size
    target = [(x * width, y * height) for x, y in corners]
    w, h = picture.size
    # Pillow maps each output pixel back into the picture: from the corners to the picture's.
    source = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    rows, values = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        values += [u, v]
    coefficients = tuple(float(c) for c in np.linalg.solve(np.asarray(rows, float), np.asarray(values, float)))
    warped = picture.convert("RGBA").transform(
        size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC
    )
    canvas = _backdrop(size, seed) if colour is None else Image.new("RGB", size, colour)
    canvas.paste(warped, (0, 0), warped)
    return canvas.convert("RGB")


SLANTED_SCREEN: Corners = [(0.16, 0.12), (0.86, 0.17), (0.82, 0.85), (0.2, 0.9)]


def found_near(frames: list[SlantedFrame], corners: Corners, tolerance: float) -> bool:
    return any(
        max(math.dist(a, b) for a, b in zip(frame.corners, corners, strict=True)) <= tolerance for frame in frames
    )


def frames_of(image: Image.Image) -> list[SlantedFrame]:
    """What `check_framings` looks in: the picture at most 512 pixels a side."""
    return slanted_frames(np.asarray(thumbnail(image).convert("RGB")))


def bounds(corners: Corners) -> Region:
    xs, ys = [min(max(x, 0.0), 1.0) for x, _ in corners], [min(max(y, 0.0), 1.0) for _, y in corners]
    return Region(min(xs), min(ys), max(xs), max(ys))


# ---------------------------------------------------------------- finding the frame


@pytest.mark.parametrize("angle", [-11.0, -6.0, 4.0, 9.0])
def test_a_picture_turned_on_a_grown_canvas_is_found_where_its_corners_went(angle: float) -> None:
    copy, corners = turned_on_canvas(synthetic_photo(), angle)
    assert found_near(frames_of(copy), corners, 0.012), (corners, frames_of(copy))


def test_a_keystoned_picture_is_found_where_its_corners_went() -> None:
    copy = keystoned(synthetic_photo(), SLANTED_SCREEN, (800, 600))
    assert found_near(frames_of(copy), SLANTED_SCREEN, 0.012), frames_of(copy)


def test_an_upright_picture_is_left_to_the_upright_rectangles() -> None:
    canvas = _backdrop((800, 600), 3)
    canvas.paste(synthetic_photo(size=(480, 360)), (160, 120))
    upright = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]
    assert not found_near(frames_of(canvas), upright, 0.03)


def test_a_blank_or_tiny_image_holds_no_slanted_frame() -> None:
    assert slanted_frames(np.full((300, 400, 3), 128, dtype=np.uint8)) == []
    copy, _ = turned_on_canvas(synthetic_photo(size=(40, 30)), 7.0)
    assert slanted_frames(np.asarray(copy)) == []


def test_the_picture_set_upright_hashes_as_the_stored_content_does() -> None:
    original = synthetic_photo()
    copy, corners = turned_on_canvas(original, 8.0)
    frame = SlantedFrame(tuple(corners))
    (upright,) = rectified_views(AnalysisLuma(thumbnail(copy)), [frame], (1.0,), (Orientation.ORIGINAL,))
    (stored,) = rectified_views(
        AnalysisLuma(thumbnail(original)),
        [SlantedFrame(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))],
        (1.0,),
        (Orientation.ORIGINAL,),
    )
    assert hex_distance(upright.hashes[0][1], stored.hashes[0][1]) <= 16


# ---------------------------------------------------------------- matching through the pipeline


@pytest.mark.parametrize("name", ["synthetic", BRIDGE])
@pytest.mark.parametrize("angle", [-9.0, 12.0])
def test_a_copy_turned_on_a_grown_canvas_matches_by_the_slanted_frame(name: str, angle: float) -> None:
    original = photo(name)
    matcher, (item_id, _) = bank_of(original, synthetic_photo(seed=99))
    copy, corners = turned_on_canvas(original, angle)
    hashes = checked(copy, matcher)
    queries = matched_queries(matcher, hashes, item_id)
    assert any(q.startswith("inside_slanted_frame") for q in queries), queries
    (match,) = [m for m in matcher.match(hashes) if m.item_id == item_id]
    assert match.distance <= PDQ_MATCH_THRESHOLD
    if match.query.startswith("inside_slanted_frame"):
        assert Region(*match.detail["region"]).close_to(bounds(corners), 0.02)
    # Beyond the turns `tilt` tries and on a canvas no upright rectangle fits: nothing else finds it.
    assert matched_queries(matcher, without(hashes, "inside_slanted_frame"), item_id) == []


@pytest.mark.parametrize("name", ["synthetic", BRIDGE])
def test_a_photo_of_a_screen_taken_at_a_slant_matches_by_the_slanted_frame(name: str) -> None:
    original = photo(name)
    matcher, (item_id, _) = bank_of(original, synthetic_photo(seed=99))
    hashes = checked(keystoned(original, SLANTED_SCREEN, (900, 700)), matcher)
    (match,) = [m for m in matcher.match(hashes) if m.item_id == item_id]
    assert match.query.startswith("inside_slanted_frame"), match.query
    assert Region(*match.detail["region"]).close_to(bounds(SLANTED_SCREEN), 0.02)
    assert matched_queries(matcher, without(hashes, "inside_slanted_frame"), item_id) == []


def test_a_jpeg_laid_on_a_backdrop_of_its_own_brightness_is_found_by_colour(monkeypatch) -> None:
    from hashmatch.media import image as imaging

    original = synthetic_photo()
    grey = np.asarray(original.convert("L"), dtype=np.float64)
    edge = float(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).mean())
    magenta = round((edge - 0.587 * 12) / (0.299 + 0.114))  # (m, 12, m) has the edge's luma
    copy = keystoned(original, SLANTED_SCREEN, (900, 700), colour=(magenta, 12, magenta))
    matcher, (item_id, _) = bank_of(original, synthetic_photo(seed=99))
    queries = matched_queries(matcher, checked(copy, matcher), item_id)
    assert any(q.startswith("inside_slanted_frame") for q in queries), queries
    # Decoded to its luma only, the JPEG shows no edge around the picture: nothing finds it.
    luma_only = imaging._pdq_thumbnail_and_colours
    monkeypatch.setattr(
        imaging,
        "_pdq_thumbnail_and_colours",
        lambda image, orientation, use_draft, colours: luma_only(
            image, orientation, use_draft=use_draft, colours=False
        ),
    )
    assert matched_queries(matcher, checked(copy, matcher), item_id) == []


def test_look_alikes_set_upright_do_not_match_the_shared_shot() -> None:
    matcher, (desk_id,) = bank_of(reference_photo(DESK))
    for number, relative in enumerate(DESK_LOOKALIKES):
        for angle in (-8.0, 10.0):
            copy, _ = turned_on_canvas(reference_photo(relative), angle, seed=number)
            assert matched_queries(matcher, checked(copy, matcher), desk_id) == [], (relative, angle)
        hashes = checked(keystoned(reference_photo(relative), SLANTED_SCREEN, (900, 700)), matcher)
        assert matched_queries(matcher, hashes, desk_id) == [], relative


# ---------------------------------------------------------------- a video's layout


def test_a_video_is_searched_on_its_first_samples_and_keeps_the_frames_that_recur(monkeypatch) -> None:
    turned, corners = turned_on_canvas(synthetic_photo(), 9.0)
    moved = turned_on_canvas(synthetic_photo(), -5.0)[0].resize(turned.size)  # a frame seen once
    samples = [turned, moved, turned, turned, moved]
    searched = []
    real = framing.slanted_frames

    def counting(picture: np.ndarray, limit: int = 3) -> list[SlantedFrame]:
        searched.append(picture.shape)
        return real(picture, limit)

    monkeypatch.setattr(framing, "slanted_frames", counting)
    layout = framing.SlantedLayout()
    found = [layout.frames_for(np.asarray(sample.convert("L"))) for sample in samples]
    assert len(searched) == framing.LAYOUT_SAMPLES
    assert found_near(found[0], corners, 0.012) and found_near(found[2], corners, 0.012)
    # From then on, the frame found on two of the three searched samples, and nothing else.
    assert found[3] == found[4] and found_near(found[3], corners, 0.012)
    assert all(any(frame.near(seen) for seen in found[0]) for frame in found[3])
