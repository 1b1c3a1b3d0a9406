"""The service end to end on in-memory ports: check, share, withdraw, rejections, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PIL import Image, ImageDraw, ImageOps

from hashmatch.matching.policy import HALF_MATCH_THRESHOLD
from hashmatch.media.framing import CORE_SHAPE
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import EventType
from hashmatch.service.routing import Outcome, UnroutableObject, route_for
from hashmatch_tools.fakes import MemoryBank, MemoryStore, Pipeline, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, mirrored, png_bytes, resized, scene

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube")
BUCKET = "ingest"


@pytest.fixture
def parts() -> tuple[Pipeline, MemoryStore, MemoryBank, RecordingNotifier]:
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    service = service_on(bank, store, notifier, PLATFORMS, clock=lambda: datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    return service, store, bank, notifier


def test_route_for_names_action_and_platform() -> None:
    assert route_for("check/tiktok/a/b.jpg", PLATFORMS).platform == "tiktok"
    assert route_for("share/youtube/x.jsonl", PLATFORMS).action == "share"
    for bad in ("check/unknown/x.jpg", "check/tiktok/", "other/tiktok/x.jpg", "check"):
        with pytest.raises(UnroutableObject):
            route_for(bad, PLATFORMS)


def test_share_alerts_every_other_member_and_deletes_the_media(parts) -> None:
    service, store, bank, notifier = parts
    obj = store.put(BUCKET, "share/tiktok/a.jpg", jpeg_bytes(scene(1)), {"labels": "graphic-violence,gore"})

    assert service.process(obj) is Outcome.PROCESSED

    assert [n.event_type for n in notifier.to("tiktok")] == [EventType.SHARE_ACCEPTED]
    for platform in ("facebook", "youtube"):
        (alert,) = notifier.to(platform)
        assert alert.event_type is EventType.HASH_SHARED
        # "gore" is the taxonomy's alias of graphic-violence: stored and sent as the id.
        assert alert.body["items"][0]["labels"] == ["graphic-violence"]
        assert alert.body["items"][0]["contributor"] == "tiktok"
        assert alert.labels == ("graphic-violence",)
    assert store.objects == {}
    assert len(bank.items) == 1


def test_check_finds_edited_copies_and_is_clean_on_unrelated(parts) -> None:
    service, store, _bank, notifier = parts
    original = scene(2)
    service.process(store.put(BUCKET, "share/tiktok/a.jpg", jpeg_bytes(original), {"labels": "graphic-violence"}))
    copies = {
        "exact": jpeg_bytes(original),
        "reencoded": jpeg_bytes(original, quality=40),
        "resized": png_bytes(resized(original, 0.5)),
        "mirrored": jpeg_bytes(mirrored(original)),
        "unrelated": jpeg_bytes(scene(3)),
    }
    for name, body in copies.items():
        service.process(store.put(BUCKET, f"check/facebook/{name}.jpg", body, {"content-id": name}))

    verdicts = {n.body["content_id"]: n for n in notifier.to("facebook") if n.body.get("content_id")}
    for name in ("exact", "reencoded", "resized", "mirrored"):
        assert verdicts[name].event_type is EventType.MATCH_FOUND, name
        assert verdicts[name].body["matches"][0]["labels"] == ["graphic-violence"]
        assert verdicts[name].body["contributors"] == ["tiktok"]
    assert verdicts["exact"].body["matches"][0]["signal"] == "sha256"
    assert verdicts["mirrored"].body["matches"][0]["query"] != "original"
    assert verdicts["unrelated"].event_type is EventType.CHECK_CLEAN
    assert store.objects == {}


def test_unusable_files_are_rejected_with_a_reason_and_deleted(parts) -> None:
    service, store, _bank, notifier = parts
    inputs = {"empty": b"", "text": b"hello, not an image\n", "truncated": jpeg_bytes(scene(4))[:300]}
    for name, body in inputs.items():
        assert (
            service.process(store.put(BUCKET, f"check/youtube/{name}", body, {"content-id": name})) is Outcome.PROCESSED
        )
    reasons = {n.body["content_id"]: n.body["rejection"]["reason"] for n in notifier.to("youtube")}
    assert reasons == {"empty": "empty", "text": "unsupported_media", "truncated": "corrupt"}
    assert all(n.event_type is EventType.CHECK_REJECTED for n in notifier.sent)
    assert store.objects == {}


def test_a_second_delivery_of_a_processed_object_does_nothing(parts) -> None:
    service, store, _bank, notifier = parts
    obj = store.put(BUCKET, "check/tiktok/a.jpg", jpeg_bytes(scene(5)))
    assert service.process(obj) is Outcome.PROCESSED
    assert service.process(obj) is Outcome.ALREADY_PROCESSED
    assert len(notifier.sent) == 1


def test_hash_list_share_then_withdraw(parts) -> None:
    service, store, bank, notifier = parts
    image = scene(6)
    hashes = hash_file_bytes(jpeg_bytes(image))
    listing = f'{{"signals": {{"pdq": "{hashes.signals["pdq"]}"}}, "labels": ["self-harm"]}}\n'
    service.process(store.put(BUCKET, "share/youtube/list.jsonl", listing.encode(), {"labels": "ignored"}))
    service.process(store.put(BUCKET, "check/tiktok/copy.jpg", jpeg_bytes(image, quality=50), {"content-id": "c1"}))
    (verdict,) = [n for n in notifier.to("tiktok") if n.body.get("content_id") == "c1"]
    assert verdict.event_type is EventType.MATCH_FOUND
    assert verdict.body["matches"][0]["labels"] == ["suicide-self-harm"]

    service.process(store.put(BUCKET, "withdraw/youtube/w.txt", f"pdq:{hashes.signals['pdq']}\n".encode()))
    assert {n.event_type for n in notifier.sent[-3:]} == {EventType.HASH_WITHDRAWN}
    service.process(store.put(BUCKET, "check/tiktok/copy2.jpg", jpeg_bytes(image, quality=50), {"content-id": "c2"}))
    (after,) = [n for n in notifier.to("tiktok") if n.body.get("content_id") == "c2"]
    assert after.event_type is EventType.CHECK_CLEAN
    assert all(item.status == "withdrawn" for item in bank.items.values())


def test_withdrawing_what_another_platform_shared_is_rejected(parts) -> None:
    service, store, _bank, notifier = parts
    body = jpeg_bytes(scene(7))
    service.process(store.put(BUCKET, "share/tiktok/a.jpg", body))
    sha256 = hash_file_bytes(body).signals["sha256"]
    service.process(store.put(BUCKET, "withdraw/facebook/w.txt", f"sha256:{sha256}\n".encode()))
    (rejection,) = [n for n in notifier.to("facebook") if n.event_type is EventType.SHARE_REJECTED]
    assert "none of these" in rejection.body["rejection"]["message"]


def test_invalid_hash_list_rejects_the_whole_file(parts) -> None:
    service, store, bank, notifier = parts
    listing = b"md5:0123456789abcdef0123456789abcdef\npdq:nothex\n"
    service.process(store.put(BUCKET, "share/tiktok/list.txt", listing))
    (rejection,) = notifier.to("tiktok")
    assert rejection.event_type is EventType.SHARE_REJECTED
    assert rejection.body["rejection"]["reason"] == "invalid_hash_list"
    assert "line 2" in rejection.body["rejection"]["message"]
    assert bank.items == {}


def test_too_large_objects_are_rejected_without_download() -> None:
    from hashmatch.media.model import Limits

    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    service = service_on(bank, store, notifier, PLATFORMS, limits=Limits(max_file_bytes=10))
    service.process(store.put(BUCKET, "check/tiktok/big.jpg", b"x" * 11, {"content-id": "big"}))
    (rejection,) = notifier.sent
    assert rejection.body["rejection"]["reason"] == "too_large"
    assert rejection.body["content_id"] == "big"


def hash_file_bytes(body: bytes):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f"
        path.write_bytes(body)
        return hash_file(path)


def test_video_clips_splices_and_frames_match_a_shared_video(parts) -> None:
    from hashmatch_tools.samples import letterboxed_frames, mirrored_frames, panning_frames, video_bytes

    service, store, _bank, notifier = parts
    footage = panning_frames(11, seconds=12)
    service.process(store.put(BUCKET, "share/tiktok/stream.mp4", video_bytes(footage), {"labels": "self-harm"}))
    other = panning_frames(12, seconds=10)
    checks = {
        "clip": video_bytes(footage[37 : 37 + 24 * 6]),
        "mirrored-letterboxed": video_bytes(letterboxed_frames(mirrored_frames(footage))),
        "spliced": video_bytes(other[:120] + footage[50 : 50 + 24 * 5] + other[120:]),
        "unrelated": video_bytes(other),
        "still": jpeg_bytes(Image.fromarray(footage[100])),
    }
    for name, body in checks.items():
        service.process(store.put(BUCKET, f"check/facebook/{name}", body, {"content-id": name}))
    verdicts = {n.body["content_id"]: n.body for n in notifier.to("facebook") if n.body.get("content_id")}
    for name in ("clip", "mirrored-letterboxed", "spliced"):
        assert verdicts[name]["event_type"] == "match.found", name
        (match,) = verdicts[name]["matches"]
        assert match["signal"] == "vpdq" and match["labels"] == ["suicide-self-harm"]
        assert match["detail"]["segments"], name
    clip = verdicts["clip"]["matches"][0]["detail"]["segments"][0]
    assert abs(clip["shared_start"] - 37 / 24) < 1.0
    assert verdicts["unrelated"]["event_type"] == "check.clean"
    assert verdicts["still"]["event_type"] == "match.found"
    assert verdicts["still"]["matches"][0]["query"] == "original"


def test_a_clip_of_a_second_and_a_half_matches_its_shared_video(parts) -> None:
    """Sampled once a second, a 1.5-second clip has 2 samples, short of the 3 a video match needs:
    a short check is sampled faster (`Limits.min_video_samples`)."""
    from hashmatch_tools.samples import panning_frames, video_bytes

    service, store, _bank, notifier = parts
    footage = panning_frames(21, seconds=10)
    service.process(store.put(BUCKET, "share/tiktok/stream.mp4", video_bytes(footage), {"labels": "self-harm"}))
    other = panning_frames(22, seconds=10)
    checks = {"clip": video_bytes(footage[100 : 100 + 36]), "unrelated": video_bytes(other[60 : 60 + 36])}
    for name, body in checks.items():
        service.process(store.put(BUCKET, f"check/facebook/{name}", body, {"content-id": name}))
    verdicts = {n.body["content_id"]: n.body for n in notifier.to("facebook") if n.body.get("content_id")}
    assert verdicts["clip"]["event_type"] == "match.found"
    (segment,) = verdicts["clip"]["matches"][0]["detail"]["segments"]
    assert abs(segment["shared_start"] - 100 / 24) < 0.5
    assert verdicts["unrelated"]["event_type"] == "check.clean"


def test_a_platform_stricter_threshold_applies_to_its_own_checks_only() -> None:
    from hashmatch.matching.policy import Thresholds

    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    strict = {"tiktok": Thresholds({"pdq": 2, "phash": 0})}
    service = service_on(
        bank, store, notifier, PLATFORMS, thresholds=lambda platform: strict.get(platform, Thresholds())
    )
    original = scene(8)
    service.process(store.put(BUCKET, "share/youtube/a.jpg", png_bytes(original)))
    stamped = original.copy()
    # A logo over a corner, a smaller one over the opposite corner and a small sticker in the middle:
    # every hash moves (each half and each third holds one of them), too far for the strict
    # platform, within the default threshold.
    w, h = original.size
    stamped.paste((255, 255, 255), (40, 40, 340, 200))
    stamped.paste((255, 255, 255), (w - 140, h - 110, w - 40, h - 40))
    stamped.paste((255, 255, 255), (w // 2 - 30, h // 2 - 20, w // 2 + 30, h // 2 + 20))
    copy = jpeg_bytes(stamped, quality=40)
    for platform in ("tiktok", "facebook"):
        service.process(store.put(BUCKET, f"check/{platform}/copy.jpg", copy, {"content-id": platform}))
    verdicts = {n.body["content_id"]: n for n in notifier.sent if n.body.get("content_id")}
    assert verdicts["facebook"].event_type is EventType.MATCH_FOUND
    assert min(m["distance"] for m in verdicts["facebook"].body["matches"]) > 2
    assert verdicts["tiktok"].event_type is EventType.CHECK_CLEAN


def test_a_copy_filled_to_a_phone_screen_matches_through_the_core_grid(parts) -> None:
    """A landscape picture filled to a 9:16 screen keeps its height and 42% of its width: the
    search finds the stored core (`CORE_SHAPE`), where it lies in the copy."""
    service, store, _bank, notifier = parts
    original, other = scene(9), scene(10)
    for name, image in (("a", original), ("b", other)):
        service.process(store.put(BUCKET, f"share/youtube/{name}.png", png_bytes(image), {"labels": "gore"}))
    w, h = original.size
    kept = round(h * 9 / 16)
    left = (w - kept) // 2
    copy = original.crop((left, 0, left + kept, h))
    service.process(store.put(BUCKET, "check/tiktok/story.jpg", jpeg_bytes(copy), {"content-id": "story"}))

    (verdict,) = [n for n in notifier.sent if n.body.get("content_id") == "story"]
    assert verdict.event_type is EventType.MATCH_FOUND
    (match,) = verdict.body["matches"]
    assert match["query"] == "uneven_crop" and match["distance"] <= 31
    across, down = CORE_SHAPE[0] * h, CORE_SHAPE[1] * h  # pixels: the core is a share of the short side
    expected = (
        (w / 2 - across / 2 - left) / kept,
        (h - down) / 2 / h,
        (w / 2 + across / 2 - left) / kept,
        (h + down) / 2 / h,
    )
    found = match["detail"]["region"]
    assert all(abs(a - b) < 0.03 for a, b in zip(found, expected, strict=True)), (found, expected)


def test_a_copy_with_a_box_over_its_bottom_half_matches_by_its_top_half(parts) -> None:
    """A solid box with text over most of a picture's bottom half, the copy mirrored: no framing but
    the halves comes near, and the top half matches within the half threshold; the notification
    says a stored half matched, and another picture with the same box matches nothing."""
    service, store, _bank, notifier = parts
    original, other = scene(1), scene(10)  # scene(1)'s top half has detail (a flat half is not stored)
    for name, image in (("a", original), ("b", other)):
        service.process(store.put(BUCKET, f"share/youtube/{name}.png", png_bytes(image), {"labels": "gore"}))
    for name, image in (("boxed", original), ("other-boxed", scene(11))):
        w, h = image.size
        copy = image.copy()
        draw = ImageDraw.Draw(copy)
        draw.rectangle((round(0.1 * w), round(0.55 * h), round(0.95 * w), round(0.95 * h)), fill=(250, 250, 250))
        draw.text((w // 2, round(0.75 * h)), "you will not believe this", fill=(0, 0, 0), anchor="mm")
        copy = ImageOps.mirror(copy)
        service.process(store.put(BUCKET, f"check/tiktok/{name}.jpg", jpeg_bytes(copy), {"content-id": name}))

    (verdict,) = [n for n in notifier.sent if n.body.get("content_id") == "boxed"]
    assert verdict.event_type is EventType.MATCH_FOUND
    (match,) = verdict.body["matches"]
    assert match["query"] == "whole+half_top/flip_x" and match["distance"] <= HALF_MATCH_THRESHOLD
    assert match["detail"]["shared_half"] is True
    (unrelated,) = [n for n in notifier.sent if n.body.get("content_id") == "other-boxed"]
    assert unrelated.event_type is EventType.CHECK_CLEAN


# Each side's cut (left, top, right, bottom) and the stored central crop the search finds: up to 10%
# a side, the 80% crop; deeper (here 12-19%), the 80% crop is cut too and the 60% one is found.
UNEVEN_CUTS = {"up to 10%": ((0.09, 0.0, 0.02, 0.07), 0.8), "beyond 10%": ((0.17, 0.12, 0.14, 0.19), 0.6)}


@pytest.mark.parametrize("case", sorted(UNEVEN_CUTS))
def test_an_unevenly_cropped_copy_matches_through_the_uneven_crop_search(parts, case: str) -> None:
    service, store, _bank, notifier = parts
    (left, top, right, bottom), scale = UNEVEN_CUTS[case]
    original, other = scene(9), scene(10)
    for name, image in (("a", original), ("b", other)):
        service.process(store.put(BUCKET, f"share/youtube/{name}.png", png_bytes(image), {"labels": "gore"}))
    w, h = original.size
    copy = original.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))
    service.process(store.put(BUCKET, "check/tiktok/copy.jpg", jpeg_bytes(copy), {"content-id": "copy"}))

    (verdict,) = [n for n in notifier.sent if n.body.get("content_id") == "copy"]
    assert verdict.event_type is EventType.MATCH_FOUND
    (match,) = verdict.body["matches"]
    assert match["query"] == "uneven_crop" and match["signal"] == "pdq" and match["distance"] <= 31
    shared = {n.body["items"][0]["item_id"] for n in notifier.to("youtube") if n.event_type is EventType.SHARE_ACCEPTED}
    assert match["item_id"] in shared
    # Where the stored crop of the original lies in the copy's coordinates: x (margin - left) / kept ...
    margin, kept_x, kept_y = (1 - scale) / 2, 1 - left - right, 1 - top - bottom
    found = match["detail"]["region"]
    expected = (
        (margin - left) / kept_x,
        (margin - top) / kept_y,
        (1 - margin - left) / kept_x,
        (1 - margin - top) / kept_y,
    )
    assert all(abs(a - b) < 0.02 for a, b in zip(found, expected, strict=True)), (found, expected)
