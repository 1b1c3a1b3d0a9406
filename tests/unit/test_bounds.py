"""Every object's cost is bounded before work starts, and long hash lists go on in parts that
resume after a crash without duplicates."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from hashmatch.media.model import Limits, NeedsSegments, Rejected, RejectReason
from hashmatch.media.video import ALL_FRAMES, hash_video
from hashmatch.service.notifications import EventType
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import panning_frames, video_bytes

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    """Two seconds of 160x120 at 24 fps."""
    path = tmp_path_factory.mktemp("bounds") / "clip.mp4"
    path.write_bytes(video_bytes(panning_frames(31, 2.0, 24, (160, 120)), fps=24))
    return str(path)


@pytest.mark.parametrize(
    ("limits", "fps", "says"),
    [
        (Limits(max_video_frame_pixels=160 * 120 - 1), None, "pixels per frame"),
        (Limits(max_video_fps=20), None, "frames per second"),
    ],
)
def test_videos_over_a_bound_are_rejected_before_decoding_naming_the_limit(clip, limits, fps, says) -> None:
    with pytest.raises(Rejected) as rejected:
        hash_video(clip, limits, fps=fps)
    assert rejected.value.reason is RejectReason.TOO_LARGE
    assert says in rejected.value.message


def test_a_shared_video_over_what_one_go_hashes_is_hashed_in_windows_that_add_up_to_the_whole(clip) -> None:
    tight = Limits(max_shared_video_pixel_frames=160 * 120 * 24 * 0.8)  # 0.8 s of this clip in one go
    with pytest.raises(NeedsSegments) as long:
        hash_video(clip, tight, fps=ALL_FRAMES)
    windows = long.value.windows()
    assert [round(start, 2) for start, _ in windows] == [0.0, 0.67, 1.33] and windows[-1][1] is None
    refusal = long.value.as_rejection()  # where nothing can split the work
    assert refusal.reason is RejectReason.TOO_LARGE and "share it in shorter parts" in refusal.message

    parts = [hash_video(clip, tight, fps=ALL_FRAMES, window=window) for window in windows]

    whole = hash_video(clip, Limits(), fps=ALL_FRAMES)
    assert [frame for part in parts for frame in part.frames] == list(whole.frames)
    assert all(part.signals == whole.signals and part.duration == whole.duration for part in parts)
    with pytest.raises(Rejected, match="window of 2 s"):
        hash_video(clip, tight, fps=ALL_FRAMES, window=(0.0, None))


def test_the_shared_video_bound_applies_to_shares_only(clip) -> None:
    tight = Limits(max_shared_video_pixel_frames=160 * 120 * 24 * 1.5)
    checked = hash_video(clip, tight)  # a check samples at 1 fps: not bounded by the share budget
    assert checked.frames
    shared = hash_video(clip, Limits(), fps=ALL_FRAMES)
    assert len(shared.frames) >= 40


def test_a_hash_list_over_the_byte_limit_is_rejected_before_it_is_read(monkeypatch) -> None:
    import hashmatch.edge.ingest as ingest

    monkeypatch.setattr(ingest, "MAX_HASH_LIST_BYTES", 100)
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    monkeypatch.setattr(ingest, "parse_hash_list", lambda *_a, **_k: pytest.fail("the list was read"))
    listing = "".join(f"md5:{hashlib.md5(bytes([n])).hexdigest()}\n" for n in range(10)).encode()

    pipeline.process(store.put("in", "share/tiktok/big.txt", listing))

    (rejection,) = notifier.to("tiktok")
    assert rejection.event_type is EventType.SHARE_REJECTED
    assert rejection.body["rejection"]["reason"] == "too_large"
    assert "at most 100 bytes" in rejection.body["rejection"]["message"]
    assert bank.items == {}


def test_a_check_list_over_the_byte_limit_is_rejected_before_it_is_read(monkeypatch) -> None:
    import hashmatch.edge.ingest as ingest

    monkeypatch.setattr(ingest, "MAX_CHECK_LIST_BYTES", 100)
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    monkeypatch.setattr(ingest, "_entry_lines", lambda *_a, **_k: pytest.fail("the list was read"))
    listing = "".join(f'{{"signals": {{"md5": "{hashlib.md5(bytes([n])).hexdigest()}"}}}}\n' for n in range(5))

    pipeline.process(store.put("in", "check/tiktok/big.jsonl", listing.encode()))

    (rejection,) = notifier.to("tiktok")
    assert rejection.event_type is EventType.CHECK_REJECTED
    assert rejection.body["rejection"]["reason"] == "too_large"
    assert "a check list is at most 100 bytes" in rejection.body["rejection"]["message"]


def test_a_check_list_of_100000_ordinary_lines_is_within_its_byte_limit(tmp_path) -> None:
    # The check lines `hashmatch hash --for-check` writes for a few seeded photos, measured: a full
    # list of the longest of them must fit the limit, and the limit the largest object the edge reads.
    import json

    from hashmatch.edge.ingest import MAX_CHECK_LIST_BYTES, MAX_CHECK_LIST_ENTRIES, check_line
    from hashmatch.media.hashing import hash_file
    from hashmatch_tools.samples import jpeg_bytes, scene

    longest = 0
    for seed in range(4):
        photo = tmp_path / f"photo{seed}.jpg"
        photo.write_bytes(jpeg_bytes(scene(seed, (1280, 1024))))
        line, _ = check_line(hash_file(photo, Limits()), {"content_id": f"post-{seed}"})
        longest = max(longest, len(json.dumps(line).encode()) + 1)
    assert MAX_CHECK_LIST_ENTRIES * longest < MAX_CHECK_LIST_BYTES < Limits().max_file_bytes


def test_an_over_long_check_line_is_one_rejected_entry(monkeypatch) -> None:
    import hashmatch.edge.ingest as ingest

    monkeypatch.setattr(ingest, "MAX_CHECK_LINE_BYTES", 100)
    monkeypatch.setattr(ingest, "_CHECK_LINE_READ", 102)
    store, notifier = MemoryStore(), RecordingNotifier()
    pipeline = service_on(MemoryBank(), store, notifier, PLATFORMS)
    line = '{{"content_id": "{}", "signals": {{"md5": "{}"}}}}'
    listing = "\n".join([line.format("a", "0" * 32), line.format("b" * 5000, "1" * 32), line.format("c", "2" * 32)])

    pipeline.process(store.put("in", "check/tiktok/list.jsonl", listing.encode()))

    (completed,) = [n for n in notifier.to("tiktok") if n.event_type is EventType.CHECK_COMPLETED]
    results = pipeline.results.objects[completed.body["results"]["key"]]
    assert [(r["entry"]["line"], r["event_type"], r["content_id"]) for r in results] == [
        (1, "check.clean", "a"),
        (2, "check.rejected", None),
        (3, "check.clean", "c"),
    ]
    assert results[1]["rejection"]["message"] == "line 2: over 100 bytes"


_PEAK_WHILE_READING = """
import json, sys, tracemalloc
from pathlib import Path
from hashmatch.edge.ingest import _entry_lines
tracemalloc.start()
lines = [(number, len(text)) for number, text in _entry_lines(Path(sys.argv[1]))]
_, peak = tracemalloc.get_traced_memory()
print(json.dumps({"lines": lines, "peak": peak}))
"""


def test_an_over_long_check_line_is_never_held_whole(tmp_path) -> None:
    """A 40 MB line is read a limit's worth at a time, not into memory whole (nor copied by strip).
    Measured in a process of its own: tracemalloc counts every thread's allocations, and a test
    worker may still run another test's threads."""
    import json
    import subprocess
    import sys

    from hashmatch.edge.ingest import MAX_CHECK_LINE_BYTES

    path = tmp_path / "list.jsonl"
    path.write_bytes(b'{"content_id": "' + b"x" * (40 * 1024**2) + b'"}\n{"signals": {}}\n')
    answer = subprocess.run(
        [sys.executable, "-c", _PEAK_WHILE_READING, str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    measured = json.loads(answer.stdout)
    assert measured["peak"] < 3 * MAX_CHECK_LINE_BYTES  # the line's first part, and readline's own working copy
    assert measured["lines"] == [[1, MAX_CHECK_LINE_BYTES + 2], [2, len(b'{"signals": {}}')]]


class CrashingBank(MemoryBank):
    """Fails its `crash_at`-th put_items (1-based) once, as a function killed mid-write would."""

    def __init__(self, crash_at: int) -> None:
        super().__init__()
        self.crash_at = crash_at
        self.puts = 0

    def put_items(self, items, *, read=None):
        self.puts += 1
        if self.puts == self.crash_at:
            super().put_items(items[: len(items) // 2], read=read)  # half written, then the crash
            raise TimeoutError("killed mid-write")
        super().put_items(items, read=read)


def test_a_50000_line_hash_list_shares_completely_in_parts_across_a_crash() -> None:
    lines = 50_000
    listing = "".join(f"md5:{hashlib.md5(str(n).encode()).hexdigest()}\n" for n in range(lines)).encode()
    store, bank, notifier = MemoryStore(), CrashingBank(crash_at=4), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    obj = store.put("in", "share/tiktok/list.txt", listing, {"labels": "terrorism"})

    with pytest.raises(TimeoutError):
        pipeline.process(obj)  # parts 1-3 answered, part 4 half-written when the function died
    assert (obj.bucket, obj.key) in store.objects, "the list stays for the retry"
    pipeline.process(obj)  # the queue's retry of the same event

    assert len(bank.items) == lines
    accepted = [n for n in notifier.to("tiktok") if n.event_type is EventType.SHARE_ACCEPTED]
    parts = Counter(n.body["part"]["number"] for n in accepted)
    assert sorted(parts) == list(range(1, 11)) and {n.body["part"]["of"] for n in accepted} == {10}
    ids = [n.body["notification_id"] for n in notifier.sent]
    assert len(ids) == len(set(ids)), "no notification was sent twice"
    shared = {item["item_id"] for n in notifier.to("facebook") for item in n.body["items"]}
    assert len(shared) == lines
    assert (obj.bucket, obj.key) not in store.objects
