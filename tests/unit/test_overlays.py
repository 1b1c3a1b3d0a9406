"""Graphics drawn over a picture, found and painted over (`hashmatch.media.overlays`), and the
painted picture queried beside a check's other hashes (``uncovered_*``: `hashmatch.media.framing`)."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hashmatch.bank.model import Provenance
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import CORROBORATED_PDQ_LIMIT, PHASH_CORROBORATION_THRESHOLD
from hashmatch.media import framing, overlays
from hashmatch.media.framing import QUERY_CROP_SCALES, Framing, _frame_luma, query_framings, sample_framings
from hashmatch.media.image import hash_picture
from hashmatch.media.luma import AnalysisLuma
from hashmatch.media.model import HALF_SIDES, MediaHashes, Region, is_third
from hashmatch.media.overlays import MAX_MASK, MIN_PICTURE_MASK, overlay_mask, painted_over
from hashmatch.media.regions import MAX_RECTANGLES
from hashmatch.service.notifications import published_schema
from hashmatch.service.service import item_from_media
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD
from hashmatch_tools import oracles
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.reuploads import TUNED
from hashmatch_tools.reuploads.drawing import font, sticker
from tests.unit import reference_media

pytestmark = pytest.mark.unit

DESK = "pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg"
STREET = "pdq/reg-test-input/labelme-subset/q0122.jpg"
BRIDGE = "pdq/bridge-mods/aaa-orig.jpg"
COASTER = "pdq/reg-test-input/pen-and-coaster.png"

# As the imaging module may hand a photo over: at most 512 px.
reference_photo = functools.partial(reference_media.reference_photo, side=512, draft=1024)

BOX = (0.1, 0.45, 0.7, 0.57)  # a text box across the middle: every half of the picture shows part of it


def with_text_box(image: Image.Image, box: tuple[float, float, float, float] = BOX) -> Image.Image:
    """`image` with a white story-style text box (rounded, black text) over `box` (shares of its sides)."""
    copy = image.convert("RGB")
    draw = ImageDraw.Draw(copy)
    left, top, right, bottom = (box[0] * copy.width, box[1] * copy.height, box[2] * copy.width, box[3] * copy.height)
    draw.rounded_rectangle((left, top, right, bottom), radius=int((bottom - top) / 4), fill=(255, 255, 255))
    size = int((bottom - top) * 0.35)
    draw.text(
        ((left + right) / 2, (top + bottom) / 2),
        "when the weekend hits",
        fill=(0, 0, 0),
        font=font(size, "bold"),
        anchor="mm",
    )
    return copy


def with_stickers(image: Image.Image) -> Image.Image:
    """`image` with three emoji stickers, each 16% of its short side, over its middle."""
    copy = image.convert("RGBA")
    rng = random.Random(3)
    for x, y in ((0.3, 0.35), (0.6, 0.55), (0.45, 0.7)):
        copy.alpha_composite(sticker(int(min(copy.size) * 0.16), rng), (int(copy.width * x), int(copy.height * y)))
    return copy.convert("RGB")


def mask_of(image: Image.Image) -> np.ndarray | None:
    return overlay_mask(_frame_luma(image))


def share_masked(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """The share of `box` (shares of the sides) that `mask` covers."""
    height, width = mask.shape
    inside = mask[round(box[1] * height) : round(box[3] * height), round(box[0] * width) : round(box[2] * width)]
    return float(inside.mean())


def without_uncovered(hashes: MediaHashes) -> MediaHashes:
    return replace(hashes, queries=tuple(q for q in hashes.queries if not q.label.startswith("uncovered_")))


def test_a_text_box_over_a_photo_is_found_and_little_else() -> None:
    photo = reference_photo(DESK)
    mask = mask_of(with_text_box(photo))
    assert mask is not None
    assert share_masked(mask, BOX) > 0.95
    box_share = (BOX[2] - BOX[0]) * (BOX[3] - BOX[1])
    assert mask.mean() < box_share + 0.05  # the box, its rim and little of the photo


def test_a_photo_with_nothing_drawn_over_it_has_little_or_no_mask() -> None:
    for relative in (DESK, STREET, BRIDGE):
        mask = mask_of(reference_photo(relative))
        assert mask is None or mask.mean() < 0.05, relative


def test_a_smooth_gradient_and_a_bar_at_the_edge_are_no_overlay() -> None:
    rows = np.linspace(40.0, 200.0, 384)[:, np.newaxis]
    sky = np.repeat(rows, 512, axis=1)  # one level per row: flat tiles that chain across levels
    sky[:, 100:400] += np.linspace(0.0, 30.0, 300)  # and across
    assert overlay_mask(sky) is None
    photo = _frame_luma(reference_photo(DESK)).astype(np.float64)
    own = overlay_mask(photo)
    assert own is None or own.mean() < 0.05
    barred = photo.copy()
    barred[:60] = 16.0  # a solid bar along the top edge: trimmed as a bar elsewhere
    mask = overlay_mask(barred)
    assert mask is None or mask[:60].mean() < 0.05
    boxed = photo.copy()
    boxed[150:230, 100:400] = 235.0  # the same solid patch inside the picture
    mask = overlay_mask(boxed)
    assert mask is not None and mask[150:230, 100:400].all()


def test_an_overlay_too_large_to_be_one_is_left_alone() -> None:
    photo = _frame_luma(reference_photo(DESK)).astype(np.float64)
    photo[20:-20, 20:-20] = 128.0  # a patch over most of the picture
    assert overlay_mask(photo) is None
    assert MAX_MASK < 0.8


def test_painting_over_keeps_every_known_pixel_and_fills_from_the_surroundings() -> None:
    pixels = np.full((96, 128), 90.0)
    pixels[:, 64:] = 150.0
    covered = pixels.copy()
    covered[40:56, 20:44] = 255.0  # a box on the left, dark side
    mask = np.zeros(pixels.shape, dtype=bool)
    mask[40:56, 20:44] = True
    painted = painted_over(covered, mask)
    assert np.array_equal(painted[~mask], covered[~mask])
    assert np.allclose(painted[mask], 90.0)
    # a mask at another size is scaled to the pixels
    assert np.allclose(painted_over(covered, np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1))[mask], 90.0)


@pytest.mark.parametrize(
    ("relative", "edit"),
    [
        (DESK, with_text_box),
        (COASTER, functools.partial(with_text_box, box=(0.2, 0.42, 0.8, 0.54))),
        (DESK, with_stickers),
        (COASTER, with_stickers),
    ],
    ids=["desk, a text box", "coaster, a text box", "desk, stickers", "coaster, stickers"],
)
def test_a_photo_under_a_text_box_or_stickers_is_found_only_painted_over(
    relative: str, edit: Callable[[Image.Image], Image.Image]
) -> None:
    photo = reference_photo(relative)
    shared = hash_picture(photo, for_sharing=True)
    copy = hash_picture(edit(photo))
    assert any(q.label.startswith("uncovered_") for q in copy.queries)
    # The thirds, where two of them are left clean, find such a copy too: left aside here.
    shared = replace(shared, framings=tuple(f for f in shared.framings if not is_third(f.label)))
    assert oracles.pdq_distance(copy, shared) <= PDQ_MATCH_THRESHOLD
    assert oracles.pdq_distance(without_uncovered(copy), shared) > PDQ_MATCH_THRESHOLD


def with_see_through_box(image: Image.Image, box: tuple[float, float, float, float], opacity: int) -> Image.Image:
    """`image` with a black story-style caption box `opacity` / 255 opaque over `box` (shares of its
    sides), its text opaque white."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = (box[0] * base.width, box[1] * base.height, box[2] * base.width, box[3] * base.height)
    draw.rounded_rectangle((left, top, right, bottom), radius=int((bottom - top) / 6), fill=(0, 0, 0, opacity))
    draw.text(
        ((left + right) / 2, (top + bottom) / 2),
        "when the weekend hits",
        fill=(255, 255, 255, 255),
        font=font(int((bottom - top) * 0.25), "bold"),
        anchor="mm",
    )
    base.alpha_composite(layer)
    return base.convert("RGB")


SEE_THROUGH_BOX = (0.08, 0.3, 0.92, 0.62)


def test_a_half_transparent_box_is_taken_off_where_it_was_laid() -> None:
    photo = reference_photo(DESK)
    copy = AnalysisLuma(with_see_through_box(photo, SEE_THROUGH_BOX, 180)).pixels
    original = AnalysisLuma(photo).pixels
    box = Region(*SEE_THROUGH_BOX)
    taken_off = overlays.unblended(copy, [box])
    assert taken_off is not None
    pixels, opaque, where = taken_off
    height, width = copy.shape
    rows = slice(round(box.top * height) + 3, round(box.bottom * height) - 3)
    cols = slice(round(box.left * width) + 3, round(box.right * width) - 3)
    clear = ~opaque[rows, cols]
    assert opaque[rows, cols].mean() > 0.01  # the text
    assert where[rows, cols].all() and not where[: round(box.top * height) - 1].any()
    before = np.abs(copy[rows, cols] - original[rows, cols])[clear].mean()
    after = np.abs(pixels[rows, cols] - original[rows, cols])[clear].mean()
    assert before > 40 and after < 12, (before, after)
    # The same rectangle of the photo with nothing laid over it is no box.
    assert overlays.unblended(original, [box]) is None


def test_a_photo_under_a_half_transparent_box_is_found_with_the_box_taken_off(monkeypatch: pytest.MonkeyPatch) -> None:
    photo = reference_photo(DESK)
    shared = hash_picture(photo, for_sharing=True)
    shared = replace(shared, framings=tuple(f for f in shared.framings if not is_third(f.label)))
    copy = with_see_through_box(photo, SEE_THROUGH_BOX, 180)
    assert oracles.pdq_distance(hash_picture(copy), shared) <= PDQ_MATCH_THRESHOLD
    monkeypatch.setattr(framing, "unblended", lambda *_: None)
    assert oracles.pdq_distance(hash_picture(copy), shared) > PDQ_MATCH_THRESHOLD


def test_painted_over_copies_stay_far_from_other_photos() -> None:
    desk, street, bridge = (reference_photo(r) for r in (DESK, STREET, BRIDGE))
    for copy, others in ((with_text_box(desk), (street, bridge)), (with_stickers(street), (desk, bridge))):
        hashes = hash_picture(copy)
        for other in others:
            assert oracles.pdq_distance(hashes, hash_picture(other, for_sharing=True)) > PDQ_MATCH_THRESHOLD + 16


def test_what_a_check_adds_for_an_overlay_is_bounded() -> None:
    photo = reference_photo(DESK)
    plain = {f.label for f in query_framings(photo)}
    boxed = [f for f in query_framings(with_text_box(photo)) if f.label.startswith("uncovered_")]
    # the desk's own solid patches cover under `MIN_PICTURE_MASK` of it: nothing is painted over
    assert not any(label.startswith("uncovered_") for label in plain)
    assert boxed
    assert len(boxed) <= 2 * (1 + len(QUERY_CROP_SCALES) + len(HALF_SIDES) + MAX_RECTANGLES)
    assert {f.label for f in boxed} >= {Framing.uncovered(Framing.WHOLE), f"{Framing.uncovered(Framing.WHOLE)}/flip_x"}


def test_a_sampled_video_frame_under_a_text_box_is_painted_over_too() -> None:
    frame = np.asarray(with_text_box(reference_photo(DESK)).convert("L"))
    labels = [label for label, _ in sample_framings(frame)]
    uncovered = [label for label in labels if label.startswith("uncovered_")]
    # whole and halves, as they are and mirrored: no crops or frames (a sample's framings are capped)
    assert len(uncovered) == 2 * (1 + len(HALF_SIDES))
    assert not any("central_crop" in label for label in uncovered)


def test_overlay_constants_hang_together() -> None:
    assert 0 < overlays.MIN_AREA < overlays.MAX_AREA < overlays.MAX_MASK < 1
    assert overlays.TILE >= 2 and overlays.FLAT_RANGE > 0


def test_a_small_mark_is_painted_over_on_a_video_sample_but_not_on_a_picture() -> None:
    photo = reference_photo(DESK)
    marked = with_text_box(photo, box=(0.4, 0.45, 0.55, 0.52))  # about 1% of the picture
    mask = mask_of(marked)
    assert mask is not None and 0.0 < mask.mean() < MIN_PICTURE_MASK
    assert not any(f.label.startswith("uncovered_") for f in query_framings(marked))
    labels = [label for label, _ in sample_framings(np.asarray(marked.convert("L")))]
    assert any(label.startswith("uncovered_") for label in labels)


def test_every_painted_over_label_is_a_query_the_notification_schema_allows() -> None:
    pattern = re.compile(published_schema()["$defs"]["match"]["properties"]["query"]["pattern"])
    photo = reference_photo(DESK)
    labels = [f.label for f in query_framings(with_text_box(photo)) if f.label.startswith("uncovered_")]
    labels += [label for label, _ in sample_framings(np.asarray(with_stickers(photo).convert("L")))]
    assert any(label.startswith("uncovered_inside_frame") or label.startswith("uncovered_whole+") for label in labels)
    assert [label for label in labels if not pattern.match(label)] == []


def _matcher_of(photo: Image.Image) -> tuple[Matcher, str]:
    """A matcher over a bank holding `photo`, shared (its hashes as the edge makes them)."""
    shared = hash_picture(photo, for_sharing=True)
    shared = replace(shared, signals={**shared.signals, "sha256": "0" * 64})
    item = item_from_media(shared, Provenance(contributor="member-1", shared_at="2026-12-04T00:00:00Z"))
    bank = MemoryBank()
    bank.put_items([item])
    return Matcher(bank, BankIndex()), item.item_id


@pytest.mark.parametrize(
    ("relative", "seed"),
    [(DESK, 5), ("pdq/misc-images/c.png", 23), (BRIDGE, 13)],
    ids=["desk", "coaster", "bridge"],
)
def test_a_photo_under_text_boxes_painted_over_past_the_threshold_is_corroborated_by_its_phash(
    relative: str, seed: int
) -> None:
    # The benchmark's own text boxes (1-2 boxes, seeded): painted over, the picture comes back
    # past PDQ's threshold but within corroboration, and its pHash close.
    photo = reference_photo(relative)
    matcher, item_id = _matcher_of(photo)
    copy = hash_picture(TUNED["overlay: text boxes"](photo, random.Random(seed)))
    [found] = [m for m in matcher.match(copy) if m.item_id == item_id]
    assert found.query == Framing.uncovered(Framing.WHOLE)
    assert PDQ_MATCH_THRESHOLD < found.distance <= CORROBORATED_PDQ_LIMIT
    assert found.detail["phash_distance"] <= PHASH_CORROBORATION_THRESHOLD
    # Without the painted picture's pHash, nothing of the check finds it.
    painted = [q for q in copy.queries if q.signal == "phash" and q.label == found.query]
    assert len(painted) == 1
    alone = replace(copy, queries=tuple(q for q in copy.queries if q not in painted))
    assert not [m for m in matcher.match(alone) if m.item_id == item_id]
