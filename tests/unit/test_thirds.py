"""Thirds of a picture, stored and queried beside its halves: an overlay across the middle leaves
no half clean but two thirds, and a stored third matches only beside another part of its item
(`hashmatch.matching.policy.THIRDS_AGREEING`), through the real hashing and matcher."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from hashmatch.bank.model import Provenance
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching import rules
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import THIRD_MATCH_THRESHOLD
from hashmatch.matching.rules import picture_queries
from hashmatch.media.model import MediaHashes, is_third
from hashmatch.service.service import item_from_media
from hashmatch.signals.bits import hex_distance
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.reuploads.drawing import font
from tests.unit import reference_media
from tests.unit.test_regions import checked, hashed

pytestmark = pytest.mark.unit

PHOTOS = (
    "pdq/reg-test-input/labelme-subset/q0291.jpg",
    "pdq/reg-test-input/labelme-subset/q1050.jpg",
    "pdq/misc-images/c.png",
)
DESK = "pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg"
# A test-card video: its frames 2.5 s apart share their top third and differ below it.
TEST_CARD = "video/test-padded-dimensions.mp4"


def reference_photo(relative: str) -> Image.Image:
    return reference_media.reference_photo(relative, side=1024)


def banded(picture: Image.Image) -> Image.Image:
    """`picture` under a half-transparent dark band with white text across its middle (from 36% to
    64% of its height, nearly its whole width): every half shows part of it, its top and bottom
    thirds none."""
    canvas = picture.convert("RGBA")
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    w, h = canvas.size
    draw.rounded_rectangle((0.03 * w, 0.36 * h, 0.97 * w, 0.64 * h), radius=int(0.03 * h), fill=(20, 20, 20, 200))
    for line, y in (("nobody was ready for this", 0.45), ("watch till the end", 0.55)):
        draw.text((w / 2, y * h), line, fill=(255, 255, 255, 255), font=font(int(0.07 * h), "bold"), anchor="mm")
    canvas.alpha_composite(overlay)
    return canvas.convert("RGB")


def matcher_of(*shared: MediaHashes, thirds: bool = True) -> tuple[Matcher, list[str]]:
    """A matcher over a bank holding each shared picture, with or without its stored thirds."""
    bank = MemoryBank()
    ids = []
    for number, hashes in enumerate(shared):
        if not thirds:
            hashes = replace(hashes, framings=tuple(f for f in hashes.framings if not is_third(f.label)))
        item = item_from_media(hashes, Provenance(contributor=f"member-{number}", shared_at="2026-12-06T00:00:00Z"))
        bank.put_items([item])
        ids.append(item.item_id)
    return Matcher(bank, BankIndex()), ids


@pytest.mark.parametrize("name", PHOTOS)
def test_a_copy_under_a_band_across_its_middle_matches_by_two_stored_thirds(name: str) -> None:
    original = reference_photo(name)
    shared = [hashed(original, for_sharing=True), hashed(reference_photo(DESK), for_sharing=True)]
    assert {f.label for f in shared[0].framings} >= {"content+third_top", "content+third_bottom"}
    matcher, (item_id, _) = matcher_of(*shared)
    copy = checked(banded(original), matcher)
    (match,) = [m for m in matcher.match(copy) if m.item_id == item_id]
    assert match.detail.get("shared_third") is True and match.detail["agreeing_parts"] >= 2, match
    assert match.distance <= THIRD_MATCH_THRESHOLD
    # Without the stored thirds nothing else of the copy comes near: the thirds are what found it.
    # (The band painted over comes near, corroborated by its pHash, on one of these photos: that
    # way, `PHASH_VIEWS`, is set aside here.)
    without, (item_id, _) = matcher_of(*shared, thirds=False)
    copy = checked(banded(original), without)
    copy = replace(copy, queries=tuple(q for q in copy.queries if q.signal != "phash"))
    assert [m for m in without.match(copy) if m.item_id == item_id] == []


def test_two_frames_of_a_test_card_that_share_only_a_third_do_not_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """The look-alike the rule was set on: the frames' top thirds hash alike, nothing else does."""
    first = hashed(reference_media.reference_frame(TEST_CARD, 1.0), for_sharing=True)
    matcher, (item_id,) = matcher_of(first)
    check = checked(reference_media.reference_frame(TEST_CARD, 3.5), matcher)
    assert [m for m in matcher.match(check) if m.item_id == item_id] == []
    # What holds them apart is the rule, not the distance: a stored third is as close as copies come,
    thirds = [f.value for f in first.framings if is_third(f.label)]
    queries = [q.value for q in picture_queries(check, "pdq")]
    assert min(hex_distance(q, t) for q in queries for t in thirds) <= THIRD_MATCH_THRESHOLD
    # and were one third enough, the later frame would match the first.
    monkeypatch.setattr(rules, "THIRDS_AGREEING", 1)
    assert [m.item_id for m in matcher.match(check)] == [item_id]
