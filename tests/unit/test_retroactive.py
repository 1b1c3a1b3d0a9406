"""Retroactive matching: checks made before a share are reported when the share would have matched them."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from PIL import Image

from hashmatch.bank.model import Provenance
from hashmatch.matching.policy import CORROBORATED_PDQ_LIMIT, PHASH_CORROBORATION_THRESHOLD
from hashmatch.media.codec import hashes_from_json, hashes_to_json
from hashmatch.media.framing import Framing
from hashmatch.media.image import hash_picture
from hashmatch.media.model import MediaHashes
from hashmatch.media.uneven import CUT_VIEW_CUTS, coarse_cut_views
from hashmatch.service.notifications import EventType, ObjectRef, notification_schema
from hashmatch.service.retroactive import (
    WHOLE_VIEW_LABELS,
    RetainedCheck,
    RetainedPrints,
    RetentionError,
    RetentionPolicy,
    RetroactiveScanner,
)
from hashmatch.service.service import item_from_media
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD
from hashmatch_tools.fakes import MemoryBank, MemoryRetainedChecks, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.reuploads import TUNED
from hashmatch_tools.samples import (
    jpeg_bytes,
    mirrored,
    panning_frames,
    png_bytes,
    resized,
    scene,
    smooth_photo,
    video_bytes,
)
from tests.unit import reference_media

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()


@pytest.fixture
def world():
    clock = Clock()
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    retained = MemoryRetainedChecks(clock.seconds)
    pipeline = service_on(
        bank,
        store,
        notifier,
        PLATFORMS,
        clock=clock,
        retained=retained,
        retention=RetentionPolicy({"facebook": 30, "tiktok": 7}),
    )
    return pipeline, store, notifier, retained, clock


def _retroactive(notifier: RecordingNotifier, platform: str) -> list[dict]:
    return [n.body for n in notifier.to(platform) if n.body.get("retroactive")]


def test_a_copy_checked_before_the_share_is_reported_after_it(world) -> None:
    pipeline, store, notifier, _retained, clock = world
    original = scene(41)
    pipeline.process(
        store.put("in", "check/facebook/early.jpg", jpeg_bytes(mirrored(original), 50), {"content-id": "post-1"})
    )
    pipeline.process(store.put("in", "check/facebook/other.jpg", jpeg_bytes(scene(42)), {"content-id": "post-2"}))
    pipeline.process(
        store.put("in", "check/youtube/early.png", png_bytes(resized(original, 0.5)), {"content-id": "yt-1"})
    )
    assert {n.event_type for n in notifier.sent} == {EventType.CHECK_CLEAN}
    checked_at = clock.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    clock.now += timedelta(days=3)
    pipeline.process(store.put("in", "share/tiktok/a.jpg", jpeg_bytes(original), {"labels": "self-harm"}))

    (found,) = _retroactive(notifier, "facebook")
    assert found["event_type"] == "match.found"
    assert found["content_id"] == "post-1" and found["object"]["key"] == "check/facebook/early.jpg"
    assert found["checked_at"] == checked_at
    assert found["matches"][0]["labels"] == ["suicide-self-harm"] and found["matches"][0]["contributor"] == "tiktok"
    jsonschema.Draft202012Validator(notification_schema()).validate(found)
    assert _retroactive(notifier, "youtube") == [], "youtube did not opt in: its checks were not kept"


def test_a_copy_with_an_overlay_over_one_half_checked_before_the_share_is_reported_after_it(world) -> None:
    """Halves reach back too: a check retained before the share, of a copy whose bottom half a box
    hides, matches the later share through its top half, held to the half threshold as forward."""
    pipeline, store, notifier, _retained, clock = world
    original = scene(1)  # its top half has detail (a flat half is not stored)
    w, h = original.size
    boxed = original.copy()
    boxed.paste((250, 250, 250), (round(0.1 * w), round(0.55 * h), round(0.95 * w), round(0.95 * h)))
    pipeline.process(store.put("in", "check/facebook/boxed.jpg", jpeg_bytes(boxed), {"content-id": "post-9"}))
    assert {n.event_type for n in notifier.sent} == {EventType.CHECK_CLEAN}

    clock.now += timedelta(days=1)
    pipeline.process(store.put("in", "share/tiktok/a.png", png_bytes(original), {"labels": "self-harm"}))

    (found,) = _retroactive(notifier, "facebook")
    assert found["content_id"] == "post-9"
    (match,) = found["matches"]
    assert match["query"].startswith("whole+half_top") and match["detail"]["shared_half"] is True
    jsonschema.Draft202012Validator(notification_schema()).validate(found)


def test_a_view_corroborated_by_its_phash_checked_before_the_share_is_reported_after_it(world) -> None:
    """The pHash of a view reaches back too: a photo under the benchmark's text boxes, painted over,
    comes back past PDQ's threshold and is corroborated by its own pHash (forward:
    `tests/unit/test_overlays.py`). The retained check keeps that pHash, and the scan uses it."""
    pipeline, store, notifier, retained, clock = world
    photo = reference_media.reference_photo("pdq/reg-test-input/exif-rotn/exif-rotn-1.jpg", side=512, draft=1024)
    boxed = TUNED["overlay: text boxes"](photo, random.Random(5))
    pipeline.process(store.put("in", "check/facebook/boxed.png", png_bytes(boxed), {"content-id": "post-5"}))
    assert {n.event_type for n in notifier.sent} == {EventType.CHECK_CLEAN}
    (kept,) = retained.checks("facebook", "")
    painted = [q for q in kept.hashes.queries if q.signal == "phash" and q.label == Framing.uncovered(Framing.WHOLE)]
    assert len(painted) == 1, "the check is retained with the pHash of the painted picture"

    clock.now += timedelta(days=1)
    pipeline.process(store.put("in", "share/tiktok/desk.png", png_bytes(photo), {"labels": "self-harm"}))

    (found,) = _retroactive(notifier, "facebook")
    assert found["content_id"] == "post-5"
    (match,) = found["matches"]
    assert match["query"] == Framing.uncovered(Framing.WHOLE)
    assert PDQ_MATCH_THRESHOLD < match["distance"] <= CORROBORATED_PDQ_LIMIT
    assert match["detail"]["phash_distance"] <= PHASH_CORROBORATION_THRESHOLD
    jsonschema.Draft202012Validator(notification_schema()).validate(found)
    # Without that pHash the same retained check is not found.
    item = item_from_media(_shared(photo), Provenance("tiktok", "2026-12-01T00:00:00Z"))
    scanner = RetroactiveScanner(MemoryRetainedChecks(), RetentionPolicy({"facebook": 30}))
    assert [m.matches[0].query for m in scanner.scan_checks([item], RetainedPrints([kept]))] == [match["query"]]
    alone = replace(
        kept, hashes=replace(kept.hashes, queries=tuple(q for q in kept.hashes.queries if q not in painted))
    )
    assert scanner.scan_checks([item], RetainedPrints([alone])) == []


def test_purged_and_expired_checks_are_not_reported(world) -> None:
    pipeline, store, notifier, retained, clock = world
    first, second = scene(43), scene(44)
    pipeline.process(store.put("in", "check/facebook/a.jpg", jpeg_bytes(first, 60), {"content-id": "a"}))
    pipeline.process(store.put("in", "check/tiktok/b.jpg", jpeg_bytes(second, 60), {"content-id": "b"}))

    assert retained.purge("facebook") == 1
    pipeline.process(store.put("in", "share/youtube/first.jpg", jpeg_bytes(first)))
    assert _retroactive(notifier, "facebook") == []

    clock.now += timedelta(days=8)  # tiktok keeps its checks 7 days
    pipeline.process(store.put("in", "share/youtube/second.jpg", jpeg_bytes(second)))
    assert _retroactive(notifier, "tiktok") == []


def test_a_shared_video_finds_an_earlier_checked_clip(world) -> None:
    pipeline, store, notifier, _retained, clock = world
    frames = panning_frames(45, 12.0)
    pipeline.process(store.put("in", "check/facebook/clip.mp4", video_bytes(frames[72:216]), {"content-id": "clip"}))
    pipeline.process(store.put("in", "check/facebook/unrelated.mp4", video_bytes(panning_frames(46, 6.0))))
    clock.now += timedelta(hours=1)

    pipeline.process(store.put("in", "share/tiktok/stream.mp4", video_bytes(frames), {"labels": "terrorism"}))

    (found,) = _retroactive(notifier, "facebook")
    assert found["content_id"] == "clip" and found["media"] == "video"


def test_retention_settings_are_bounded_and_name_members() -> None:
    assert RetentionPolicy.parse("*:10", PLATFORMS).days == dict.fromkeys(PLATFORMS, 10)
    assert RetentionPolicy.parse("tiktok", PLATFORMS).days == {"tiktok": 30}
    assert RetentionPolicy.parse("", PLATFORMS).days == {}
    for bad, says in (("tiktok:365", "1..90"), ("nobody:5", "not a member"), ("tiktok:x", "whole number")):
        with pytest.raises(RetentionError, match=says):
            RetentionPolicy.parse(bad, PLATFORMS)


def _cut(image: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


# Each side cut by its own share: the centre moves, so no framing the check queries lies near a
# framing the share stores; forward, only the uneven-crop search on the copy's pixels finds it.
UNEVEN_CUTS_OF_COPIES = [(0.08, 0.01, 0.02, 0.07), (0.01, 0.06, 0.09, 0.04), (0.0, 0.1, 0.05, 0.03)]


@pytest.mark.parametrize("cuts", UNEVEN_CUTS_OF_COPIES)
def test_a_copy_cut_unevenly_before_the_share_is_reported_after_it(world, cuts) -> None:
    pipeline, store, notifier, _retained, clock = world
    original = smooth_photo(13, (480, 320))
    pipeline.process(
        store.put("in", "check/facebook/cut.jpg", jpeg_bytes(_cut(original, *cuts)), {"content-id": "cut"})
    )
    other = _cut(smooth_photo(21, (480, 320)), *cuts)
    pipeline.process(store.put("in", "check/facebook/other.jpg", jpeg_bytes(other), {"content-id": "other"}))
    clock.now += timedelta(hours=2)

    pipeline.process(store.put("in", "share/tiktok/original.jpg", jpeg_bytes(original), {"labels": "self-harm"}))

    (found,) = _retroactive(notifier, "facebook")
    assert found["content_id"] == "cut"
    assert found["matches"][0]["signal"] == "pdq" and found["matches"][0]["distance"] <= 31
    jsonschema.Draft202012Validator(notification_schema()).validate(found)


def _shared(image: Image.Image) -> MediaHashes:
    """A shared picture's hashes as the edge makes them (a stand-in digest: no file was read)."""
    hashes = hash_picture(image, for_sharing=True)
    return replace(hashes, signals={**hashes.signals, "sha256": "5" * 64})


def test_a_shared_picture_brings_its_cut_views_and_the_bank_keeps_none() -> None:
    shared = _shared(smooth_photo(13, (480, 320)))
    assert len(shared.cut_views) == len(CUT_VIEW_CUTS) ** 4
    assert len(coarse_cut_views(shared.cut_views)) == 16
    assert hashes_from_json(hashes_to_json(shared)) == shared  # they cross from the edge with the share
    item = item_from_media(shared, Provenance("tiktok", "2026-12-01T00:00:00Z"))
    assert item.cut_views == shared.cut_views
    without = item_from_media(replace(shared, cut_views=()), Provenance("tiktok", "2026-12-01T00:00:00Z"))
    assert item.near_entries == without.near_entries, "the index and the bank get no more entries"
    assert hash_picture(Image.new("RGB", (320, 240), (90, 90, 90)), for_sharing=True).cut_views == ()
    for bad in (["ab"], [7], "f" * 64):
        with pytest.raises(ValueError, match="cut_views"):
            hashes_from_json({**hashes_to_json(shared), "cut_views": bad})


def test_a_copy_cut_unevenly_is_a_candidate_through_the_cut_views_alone() -> None:
    """Its stored hashes do not bring the copy within 48 bits; a coarse cut view does, of one of the
    copy's whole-picture hashes (main PDQ, whole framing, central crops: kept first)."""
    original = smooth_photo(13, (480, 320))
    item = item_from_media(_shared(original), Provenance("tiktok", "2026-12-01T00:00:00Z"))
    copy = hash_picture(_cut(original, 0.08, 0.01, 0.02, 0.07))
    check = RetainedCheck(
        "facebook", ObjectRef("b", "k"), None, "2026-12-01T00:00:00.000Z", replace(copy, uneven_crops=None)
    )
    prints = RetainedPrints([check])
    assert prints.whole_rows == 1 + len(WHOLE_VIEW_LABELS)
    assert prints.candidates([item]) == {0}
    assert RetainedPrints([check]).candidates([replace(item, cut_views=())]) == set()
    scanner = RetroactiveScanner(MemoryRetainedChecks(), RetentionPolicy({"facebook": 30}))
    (found,) = scanner.scan_checks([item], prints)
    assert found.matches[0].distance <= 31
