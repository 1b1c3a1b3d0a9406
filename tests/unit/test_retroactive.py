"""Retroactive matching: checks made before a share are reported when the share would have matched them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from hashmatch.service.notifications import EventType, notification_schema
from hashmatch.service.retroactive import RetentionError, RetentionPolicy
from hashmatch_tools.fakes import MemoryBank, MemoryRetainedChecks, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import (
    jpeg_bytes,
    mirrored,
    panning_frames,
    png_bytes,
    resized,
    scene,
    video_bytes,
)

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
