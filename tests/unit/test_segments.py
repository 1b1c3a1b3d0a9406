"""A long shared video hashed in segments and shared once all are in (in memory, real hashing)."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pytest

from hashmatch.edge.segments import MAX_SEGMENTS, SegmentTask, plan_segments, segment_task_from_message
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import Limits, MediaHashes, NeedsSegments, Rejected
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch.service.routing import Outcome
from hashmatch_tools.fakes import MemoryBank, MemorySegments, MemoryStore, Pipeline, RecordingNotifier, service_on
from hashmatch_tools.samples import panning_frames, video_bytes

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "reddit")
# 0.8 s of a 160x120 24 fps clip in one go: its 2 s come in 3 segments.
TIGHT = Limits(max_shared_video_pixel_frames=160 * 120 * 24 * 0.8)


@pytest.fixture(scope="module")
def clip() -> bytes:
    return video_bytes(panning_frames(31, 2.0, 24, (160, 120)), fps=24)


def _pipeline(
    segments: MemorySegments | None = None,
) -> tuple[Pipeline, MemoryStore, RecordingNotifier, MemoryBank]:
    store, notifier, bank = MemoryStore(), RecordingNotifier(), MemoryBank()
    hasher = functools.partial(hash_file, limits=TIGHT)
    pipeline = service_on(bank, store, notifier, PLATFORMS, hasher=hasher, limits=TIGHT, segments=segments)
    return pipeline, store, notifier, bank


def _types(notifier: RecordingNotifier, platform: str) -> list[str]:
    return [n.event_type.value for n in notifier.to(platform)]


def test_a_long_shared_video_is_shared_once_every_segment_is_in_and_then_matches(clip) -> None:
    segments = MemorySegments()
    pipeline, store, notifier, bank = _pipeline(segments)
    obj = store.put("ingest", "share/tiktok/stream.mp4", clip, {"labels": "suicide-self-harm"})

    assert pipeline.process(obj) is Outcome.PROCESSED
    assert [(t.index, t.count, t.end is None) for t in segments.queued] == [(0, 3, False), (1, 3, False), (2, 3, True)]
    assert store.objects and notifier.to("tiktok") == []  # nothing shared, the object kept for its segments

    last, *others = reversed(segments.queued)
    for task in others:
        assert pipeline.edge.process_segment(task) is Outcome.PROCESSED
        assert notifier.to("tiktok") == [] and store.objects  # still nothing: not all are in

    pipeline.edge.process_segment(last)

    assert _types(notifier, "tiktok") == ["share.accepted"] and _types(notifier, "reddit") == ["hash.shared"]
    assert store.objects == {} and segments.kept == {}
    (item,) = bank.items.values()
    whole = hash_file_whole(clip)
    assert item.signals["sha256"] == whole.signals["sha256"]
    runs = [e for e in item.near_entries if e.kind == "frame"]
    assert runs and runs[0].offset == 0.0 and max(e.end or e.offset or 0 for e in runs) >= 1.9
    # A copy of the footage checked later is caught.
    pipeline.process(store.put("ingest", "check/reddit/copy.mp4", clip))
    assert _types(notifier, "reddit")[-1] == "match.found"


def hash_file_whole(clip: bytes) -> MediaHashes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "whole.mp4"
        path.write_bytes(clip)
        return hash_file(path, for_sharing=True)


def test_a_segment_retried_after_the_share_completed_is_no_second_answer(clip) -> None:
    segments = MemorySegments()
    pipeline, store, notifier, _ = _pipeline(segments)
    pipeline.process(store.put("ingest", "share/tiktok/stream.mp4", clip))
    for task in segments.queued:
        pipeline.edge.process_segment(task)

    assert pipeline.edge.process_segment(segments.queued[0]) is Outcome.ALREADY_PROCESSED

    assert _types(notifier, "tiktok") == ["share.accepted"]  # no share.expired after it


def test_without_a_segment_store_a_long_shared_video_is_refused_naming_the_limit(clip) -> None:
    pipeline, store, notifier, _ = _pipeline(None)
    pipeline.process(store.put("ingest", "share/tiktok/stream.mp4", clip))
    (refusal,) = notifier.to("tiktok")
    assert refusal.event_type is EventType.SHARE_REJECTED
    assert refusal.body["rejection"]["reason"] == "too_large"
    assert "share it in shorter parts" in refusal.body["rejection"]["message"]
    assert store.objects == {}


def test_an_unreadable_segment_refuses_the_whole_share_and_its_siblings_are_then_dropped(clip) -> None:
    segments = MemorySegments()
    pipeline, store, notifier, bank = _pipeline(segments)
    pipeline.process(store.put("ingest", "share/tiktok/stream.mp4", clip))
    first, second, third = segments.queued
    pipeline.edge.process_segment(first)
    # A window longer than one go allows: the hasher refuses it.
    pipeline.edge.process_segment(SegmentTask(second.obj, 1, 3, 0.0, None))

    assert _types(notifier, "tiktok") == ["share.rejected"]
    assert store.objects == {} and segments.kept == {}
    pipeline.edge.process_segment(third)  # finds the object gone: the hand-off was recorded
    assert _types(notifier, "tiktok") == ["share.rejected"] and bank.items == {}


def test_a_segment_task_for_anything_but_a_share_is_refused(clip) -> None:
    segments = MemorySegments()
    pipeline, store, notifier, _ = _pipeline(segments)
    obj = store.put("ingest", "check/reddit/stream.mp4", clip)
    with pytest.raises(ValueError, match="no share"):
        pipeline.edge.process_segment(SegmentTask(obj, 0, 1, 0.0, None))
    assert notifier.to("reddit") == [] and store.objects and segments.kept == {}


def test_a_segment_task_crosses_the_queue_whole_and_a_bad_one_is_refused() -> None:
    obj = ObjectRef("ingest", "share/tiktok/a b.mp4", "e", 10, "s", "AWS:AROA:x")
    task = SegmentTask(obj, 2, 14, 2069.2, None)
    assert segment_task_from_message(json.dumps(task.to_json())) == task
    assert segment_task_from_message('{"Records": []}') is None
    with pytest.raises(ValueError, match="out of bounds"):
        segment_task_from_message(json.dumps(SegmentTask(obj, 14, 14, 0.0, None).to_json()))
    with pytest.raises(ValueError, match="malformed"):
        segment_task_from_message('{"segment": {"index": 1}}')


def test_a_video_needing_more_than_the_segments_a_share_may_have_is_refused() -> None:
    obj = ObjectRef("ingest", "share/tiktok/8k.mp4", "e", 10, "s")
    assert len(plan_segments(obj, NeedsSegments(4 * 3600.0, 1036.0, "long"))) == 14
    with pytest.raises(Rejected, match=f"over the {MAX_SEGMENTS}"):
        plan_segments(obj, NeedsSegments(4 * 3600.0, 4.0, "long"))
