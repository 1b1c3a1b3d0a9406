"""The edge: hashes only cross to the coalition; check-by-hash lists; the sandbox; the lookup API."""

from __future__ import annotations

import faulthandler
import json
import os
import re
import signal
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashmatch.aws.api import handle_request
from hashmatch.edge.ingest import MAX_CHECK_LINE_BYTES, _check_entry, check_line
from hashmatch.edge.sandbox import Sandbox, SandboxLimits
from hashmatch.media.codec import MAX_FRAME_FRAMINGS, hashes_from_json, hashes_to_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import FrameHash, MediaHashes, Rejected, RejectReason, is_half, is_third
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch.service.results import results_key
from hashmatch.service.submission import Kind
from hashmatch_tools.fakes import MemoryBank, MemoryStore, Pipeline, RecordingNotifier, service_on
from hashmatch_tools.samples import (
    jpeg_bytes,
    mirrored,
    panning_frames,
    sampled_video_hashes,
    scene,
    smooth_photo,
    video_bytes,
)

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "reddit")
BUCKET = "ingest"


@pytest.fixture
def parts() -> tuple[Pipeline, MemoryStore, RecordingNotifier]:
    store, notifier = MemoryStore(), RecordingNotifier()
    return service_on(MemoryBank(), store, notifier, PLATFORMS), store, notifier


def _checked(picture: Image.Image, pipeline: Pipeline) -> dict[str, object]:
    """What `hashmatch hash --for-check` prints for a picture, refined through the coalition's candidates."""
    from hashmatch.edge.ingest import refine

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.jpg"
        path.write_bytes(jpeg_bytes(picture))
        hashes = refine(hash_file(path), pipeline.matcher)
    return hashes_to_json(hashes)


def test_a_submission_holds_hashes_never_pixels(parts) -> None:
    pipeline, store, _ = parts
    pipeline.process(store.put(BUCKET, "check/reddit/a.jpg", jpeg_bytes(scene(31)), {"content-id": "a"}))
    (submission,) = pipeline.sink.sent
    assert submission.kind is Kind.HASHES and submission.hashes is not None
    assert submission.hashes.uneven_crops is None
    text = json.dumps(submission.to_json())
    assert "luma" not in text and len(text) < 20_000
    assert store.objects == {}  # the raw object is deleted once handed on


def test_hashes_survive_their_json_form_and_bad_json_is_refused() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jpg"
        path.write_bytes(jpeg_bytes(scene(32, (400, 300))))
        checked = replace(hash_file(path), uneven_crops=None)
        shared = hash_file(path, for_sharing=True)
    for hashes in (checked, shared):
        assert hashes_from_json(json.loads(json.dumps(hashes_to_json(hashes)))) == hashes
    document = hashes_to_json(checked)
    for broken, message in (
        ({**document, "signals": {"pdq": "zz"}}, "pdq"),
        ({**document, "queries": [["pdq", "Bad Label!", "0" * 64]]}, "label"),
        ({**document, "queries": [["tmk", "whole", "0" * 64]]}, "unknown signal"),
        ({**document, "queries": [["pdq", "uneven_crop", "0" * 64, [0.5, 0, 0.4, 1]]]}, "region"),
        ({**document, "frames": [[-1, "0" * 64, 50]]}, "offset"),
        ({**document, "quality": {"pdq": 101}}, "quality"),
    ):
        with pytest.raises(ValueError, match=message):
            hashes_from_json(broken)


def test_a_videos_frame_framings_survive_their_json_form_and_older_frames_still_read() -> None:
    framed = FrameHash(
        1.0, "0f" * 32, 90, ("1e" * 32,) * 7, (("below_caption", "2d" * 32), ("inside_frame/flip_x", "3c" * 32))
    )
    hashes = MediaHashes(media="video", signals={"pdq": "0f" * 32}, frames=(framed, FrameHash(2.0, "4b" * 32, 80)))
    document = json.loads(json.dumps(hashes_to_json(hashes)))
    assert document["frames"][0][4] == [["below_caption", "2d" * 32], ["inside_frame/flip_x", "3c" * 32]]
    assert len(document["frames"][1]) == 4  # no framings: the four-element form, as before
    assert hashes_from_json(document) == hashes
    older = {**document, "frames": [[1.0, "0f" * 32, 90, ["1e" * 32] * 7], [2.0, "4b" * 32, 80]]}
    assert [f.framings for f in hashes_from_json(older).frames] == [(), ()]
    for framings, message in (
        ([["Bad Label!", "2d" * 32]], "label"),
        ([["below_caption", "zz"]], "pdq"),
        ([["below_caption"]], "label, pdq"),
        ([["whole", "2d" * 32]] * (MAX_FRAME_FRAMINGS + 1), f"at most {MAX_FRAME_FRAMINGS}"),
    ):
        broken = {**document, "frames": [[1.0, "0f" * 32, 90, [], framings]]}
        with pytest.raises(ValueError, match=message):
            hashes_from_json(broken)


def test_a_check_by_hash_list_is_answered_entry_by_entry(parts) -> None:
    pipeline, store, notifier = parts
    original = scene(33)
    pipeline.process(store.put(BUCKET, "share/tiktok/a.jpg", jpeg_bytes(original), {"labels": "self-harm"}))
    copy, unrelated = _checked(mirrored(original), pipeline), _checked(scene(34), pipeline)
    lines = [
        json.dumps({**copy, "content_id": "поста-1"}),
        "",
        "# a comment",
        json.dumps({**unrelated, "content_id": "post-2"}),
        '{"signals": {"pdq": "not hex"}, "content_id": "post-3"}',
    ]
    pipeline.process(store.put(BUCKET, "check/reddit/list.jsonl", "\n".join(lines).encode(), {"content-id": "batch"}))
    sent = notifier.to("reddit")
    found = [n for n in sent if n.event_type is EventType.MATCH_FOUND]
    (completed,) = [n for n in sent if n.event_type is EventType.CHECK_COMPLETED]
    assert [n.body["content_id"] for n in found] == ["поста-1"] and found[0].body["entry"] == {"line": 1}
    assert completed.body["counts"] == {"entries": 3, "matched": 1, "clean": 1, "rejected": 1}
    results = pipeline.results.objects[completed.body["results"]["key"]]
    assert [(r["entry"]["line"], r["event_type"], r["content_id"]) for r in results] == [
        (1, "match.found", "поста-1"),
        (4, "check.clean", "post-2"),
        (5, "check.rejected", "post-3"),
    ]
    assert completed.body["results"]["key"].startswith("results/reddit/")


def test_a_check_list_uploaded_again_under_its_key_leaves_the_first_uploads_results_as_they_were(parts) -> None:
    pipeline, store, notifier = parts
    original = scene(33)
    pipeline.process(store.put(BUCKET, "share/tiktok/a.jpg", jpeg_bytes(original), {"labels": "self-harm"}))
    copy, unrelated = _checked(mirrored(original), pipeline), _checked(scene(34), pipeline)
    first = json.dumps({**copy, "content_id": "first"}).encode()
    again = json.dumps({**unrelated, "content_id": "again"}).encode()
    pipeline.process(store.put(BUCKET, "check/reddit/daily.jsonl", first))
    pipeline.process(store.put(BUCKET, "check/reddit/daily.jsonl", again))
    keys = [n.body["results"]["key"] for n in notifier.to("reddit") if n.event_type is EventType.CHECK_COMPLETED]
    assert len(keys) == 2 and keys[0] != keys[1]
    assert all(key.startswith("results/reddit/daily.jsonl.") for key in keys)
    [(first_result,)], [(again_result,)] = ([pipeline.results.objects[key]] for key in keys)
    assert (first_result["content_id"], first_result["event_type"]) == ("first", "match.found")
    assert (again_result["content_id"], again_result["event_type"]) == ("again", "check.clean")


def test_a_results_key_names_the_upload_not_only_the_list() -> None:
    upload = ObjectRef(BUCKET, "check/reddit/daily.jsonl", etag="e1", size=10, sequencer="0A1")
    key = results_key("reddit", upload, (1, 2))
    assert re.fullmatch(r"results/reddit/daily\.jsonl\.[0-9a-f]{12}\.00001-of-00002\.jsonl", key)
    assert results_key("reddit", replace(upload, principal="someone"), (1, 2)) == key  # the same delivery
    assert results_key("reddit", replace(upload, sequencer="0A2"), (1, 2)) != key  # a new write of the key
    assert results_key("reddit", upload, (2, 2)) != key


def test_a_long_check_list_goes_in_chunks_each_with_its_results(parts) -> None:
    pipeline, store, notifier = parts
    pipeline.edge._check_chunk = 2
    entry = _checked(scene(35, (320, 240)), pipeline)
    body = "\n".join(json.dumps({**entry, "content_id": f"c{n}"}) for n in range(5)).encode()
    pipeline.process(store.put(BUCKET, "check/reddit/five.jsonl", body))
    completed = [n for n in notifier.to("reddit") if n.event_type is EventType.CHECK_COMPLETED]
    assert [n.body["page"] for n in completed] == [{"number": k, "of": 3} for k in (1, 2, 3)]
    assert sum(n.body["counts"]["entries"] for n in completed) == 5


def test_a_long_check_list_is_handed_on_a_chunk_at_a_time_as_it_is_read(parts, monkeypatch) -> None:
    """A 100,000-entry list must never sit in memory whole: each chunk goes on as soon as it is read."""
    import hashmatch.edge.ingest as ingest

    pipeline, store, _ = parts
    pipeline.edge._check_chunk = 2
    read: list[int] = []
    parse = ingest._check_entry
    monkeypatch.setattr(ingest, "_check_entry", lambda line, text: (read.append(line), parse(line, text))[1])
    read_when_sent: list[int] = []
    send = pipeline.sink.send
    monkeypatch.setattr(pipeline.sink, "send", lambda submission: (read_when_sent.append(len(read)), send(submission)))
    entry = _checked(scene(35, (320, 240)), pipeline)
    body = "\n".join(json.dumps({**entry, "content_id": f"c{n}"}) for n in range(5)).encode()
    pipeline.process(store.put(BUCKET, "check/reddit/five.jsonl", body))
    assert read_when_sent == [2, 4, 5]


def test_text_that_is_no_check_list_is_rejected_whole(parts) -> None:
    pipeline, store, notifier = parts
    pipeline.process(store.put(BUCKET, "check/reddit/notes.txt", b"remember to buy milk\n", {"content-id": "n"}))
    (rejection,) = notifier.to("reddit")
    assert rejection.event_type is EventType.CHECK_REJECTED
    assert rejection.body["rejection"]["reason"] == "unsupported_media"


# JSON that `json.loads` refuses with more than a JSONDecodeError: nested past the recursion
# limit (RecursionError), and an integer over Python's 4,300 digits (a plain ValueError).
UNREADABLE_JSON = [
    pytest.param(b'{"content_id": "deep", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests too deep", id="deep"),
    pytest.param(b'{"content_id": "long", "width": ' + b"1" * 5000 + b"}", "more than 4300 digits", id="long-int"),
]


@pytest.mark.parametrize(("line", "says"), UNREADABLE_JSON)
def test_a_check_line_json_cannot_read_is_one_rejected_entry(parts, line: bytes, says: str) -> None:
    assert says in (_check_entry(2, line).error or "")
    pipeline, store, notifier = parts
    good = json.dumps({"content_id": "fine", "signals": {"md5": "0" * 32}}).encode()
    pipeline.process(store.put(BUCKET, "check/reddit/list.jsonl", b"\n".join([good, line, good])))
    (completed,) = [n for n in notifier.to("reddit") if n.event_type is EventType.CHECK_COMPLETED]
    assert completed.body["counts"] == {"entries": 3, "matched": 0, "clean": 2, "rejected": 1}
    results = pipeline.results.objects[completed.body["results"]["key"]]
    (rejected,) = [r for r in results if r["event_type"] == "check.rejected"]
    assert rejected["entry"] == {"line": 2} and says in rejected["rejection"]["message"]


@pytest.mark.parametrize(("text", "says"), UNREADABLE_JSON)
def test_a_request_json_cannot_read_is_refused_as_an_invalid_request(tmp_path: Path, text: bytes, says: str) -> None:
    from hashmatch.edge.ingest import _request

    path = tmp_path / "feedback.json"
    path.write_bytes(text)
    with pytest.raises(Rejected, match=says) as refused:
        _request(path)
    assert refused.value.reason.value == "invalid_request"


def test_a_member_edges_rejection_reaches_the_coalition_with_its_reason(parts) -> None:
    pipeline, store, notifier = parts
    line = {"content_id": "c1", "rejection": {"reason": "too_large", "message": "over 2 GB"}}
    pipeline.process(store.put(BUCKET, "check/reddit/edge.jsonl", json.dumps(line).encode()))
    (completed,) = [n for n in notifier.to("reddit") if n.event_type is EventType.CHECK_COMPLETED]
    (result,) = pipeline.results.objects[completed.body["results"]["key"]]
    assert result["rejection"] == {"reason": "too_large", "message": "over 2 GB"}


def test_a_check_entrys_reason_must_be_a_known_one() -> None:
    from hashmatch.service.notifications import ObjectRef
    from hashmatch.service.submission import CheckEntry, Submission, submission_from_json

    entry = CheckEntry(1, "c1", error="over 2 GB", reason=RejectReason.TOO_LARGE)
    submission = Submission("check", "reddit", ObjectRef(BUCKET, "check/reddit/x.jsonl"), Kind.CHECKS, checks=(entry,))
    document = submission.to_json()
    assert submission_from_json(document).checks == (entry,)
    document["checks"][0]["reason"] = "because"
    with pytest.raises(ValueError, match="reason 'because'"):
        submission_from_json(document)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 1e308),  # overflows a DynamoDB number
        ("duration", 1e-200),  # underflows one
        ("duration", -7),
        ("duration", 24 * 3600 + 1),
        ("offset", 1e308),
        ("offset", 1e-200),
    ],
)
def test_times_the_bank_cannot_store_are_refused(field: str, value: float) -> None:
    video = {"media": "video", "signals": {"sha256": "ab" * 32}, "duration": 22.1, "frames": [[0.0, "0f" * 32, 90]]}
    assert hashes_from_json(video).duration == 22.1
    assert hashes_from_json({**video, "duration": 0, "frames": [[1.1e-5, "0f" * 32, 90]]}).frames[0].offset == 1.1e-5
    broken = {**video, "duration": value} if field == "duration" else {**video, "frames": [[value, "0f" * 32, 90]]}
    with pytest.raises(ValueError, match=f"{field} must be 0 or 1e-09 to 86400 seconds"):
        hashes_from_json(broken)


@pytest.mark.parametrize(
    "signals",
    [{"pdq": "0f" * 32, "PDQ": "1e" * 32}, {"md5": "0" * 32, "video_md5": "1" * 32}],
)
def test_a_signal_named_twice_is_refused_not_overwritten(signals: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="twice"):
        hashes_from_json({"signals": signals})


def test_a_share_made_at_the_edge_stores_its_framings(parts) -> None:
    pipeline, store, notifier = parts
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.jpg"
        path.write_bytes(jpeg_bytes(scene(36)))
        shared = hash_file(path, for_sharing=True)
    line = json.dumps({**hashes_to_json(shared), "labels": ["graphic-violence"]})
    pipeline.process(store.put(BUCKET, "share/tiktok/edge.jsonl", line.encode()))
    (item,) = pipeline.coalition._bank.items.values()  # type: ignore[attr-defined]
    assert sum(e.kind in ("framing", "half", "third") for e in item.near_entries) == len(shared.framings) >= 7
    # Its halves and thirds are indexed as such (held to the stricter threshold), its other framings as framings.
    assert sum(e.kind == "half" for e in item.near_entries) == sum(is_half(f.label) for f in shared.framings) >= 2
    assert sum(e.kind == "third" for e in item.near_entries) == sum(is_third(f.label) for f in shared.framings) >= 2
    assert item.provenance.labels == ("graphic-violence",)
    # A letterboxed copy is caught through the stored framings, as if the media had been dropped here.
    copy = Image.new("RGB", (1024, 1024), (0, 0, 0))
    copy.paste(scene(36), (0, 128))
    pipeline.process(store.put(BUCKET, "check/reddit/copy.jpg", jpeg_bytes(copy)))
    verdict = notifier.to("reddit")[-1]
    assert verdict.event_type is EventType.MATCH_FOUND


def test_the_lookup_api_names_candidates_and_refuses_bad_requests(parts) -> None:
    pipeline, store, _ = parts
    original = scene(37)
    pipeline.process(store.put(BUCKET, "share/tiktok/a.jpg", jpeg_bytes(original)))
    width, height = original.size
    copy = original.crop((round(0.08 * width), round(0.01 * height), round(0.98 * width), round(0.93 * height)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.jpg"
        path.write_bytes(jpeg_bytes(copy))
        search = hash_file(path).uneven_crops
    assert search is not None

    def ask(body: object, method: str = "POST", path: str = "/v1/candidates") -> tuple[int, dict]:
        event = {"rawPath": path, "requestContext": {"http": {"method": method}}, "body": json.dumps(body)}
        answer = handle_request(event, lambda: pipeline.matcher)
        return answer["statusCode"], json.loads(answer["body"])

    status, body = ask({"keys": list(search.keys), "hashes": list(search.hashes)})
    assert status == 200 and body["candidates"]
    assert all(0 <= c["row"] < len(search.keys) and len(c["stored"]) == 64 for c in body["candidates"])
    assert ask({"keys": ["xyz"], "hashes": ["0" * 64]})[0] == 400
    assert ask({"keys": [], "hashes": ["0" * 64]})[0] == 400
    assert ask({"keys": ["0" * 16] * 1000, "hashes": ["0" * 64] * 1000})[0] == 413
    assert ask({}, "GET", "/v1/nothing")[0] == 404


def _big_png(path: Path) -> None:
    rows = np.random.default_rng(0).integers(0, 255, (64, 4000, 3), dtype=np.uint8)
    Image.fromarray(np.tile(rows, (60, 1, 1))).save(path)  # 4000 x 3840, compresses well


def test_the_sandbox_turns_a_memory_blow_up_into_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _big_png(path)
    sandbox = Sandbox(SandboxLimits(memory_bytes=40 * 1024**2))
    try:
        with pytest.raises(Rejected, match="too_large"):
            sandbox.hash(path)
        # The same sandbox goes on with the next file.
        small = tmp_path / "small.jpg"
        small.write_bytes(jpeg_bytes(scene(38, (320, 240))))
        assert sandbox.hash(small).signals == hash_file(small).signals
    finally:
        sandbox.close()


def test_the_sandbox_turns_a_file_that_takes_too_long_into_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _big_png(path)
    sandbox = Sandbox(SandboxLimits(cpu_seconds=0.01, wall_seconds=0.05))
    try:
        with pytest.raises(Rejected, match="too_large"):
            sandbox.hash(path)
    finally:
        sandbox.close()


@pytest.mark.parametrize("name", ["a.jpg", "a.mp4"])
def test_the_sandbox_hashes_as_the_process_itself_does_and_keeps_the_search(tmp_path: Path, name: str) -> None:
    """A picture's search and a video's (`hashmatch.media.video_crops`) cross the process boundary."""
    path = tmp_path / name
    if name.endswith(".jpg"):
        path.write_bytes(jpeg_bytes(scene(39)))
    else:
        path.write_bytes(video_bytes(panning_frames(101, 4.0, 24, (480, 360)), 24))
    sandbox = Sandbox()
    try:
        inside = sandbox.hash(path)
    finally:
        sandbox.close()
    direct = hash_file(path)
    for field in ("media", "signals", "quality", "queries", "framings", "frames", "duration"):
        assert getattr(inside, field) == getattr(direct, field), field
    assert inside.uneven_crops is not None and direct.uneven_crops is not None
    assert type(inside.uneven_crops) is type(direct.uneven_crops)
    assert inside.uneven_crops.grids == direct.uneven_crops.grids


def test_a_crashing_decoder_is_a_rejection_not_a_failed_batch(tmp_path: Path, monkeypatch) -> None:
    """A child killed by a signal (a decoder's segfault) comes back as `corrupt`, and the server goes on."""
    from hashmatch.edge import sandbox as module

    def crash(path: str, for_sharing: bool, media_limits: object, window: object = None) -> bytes:
        faulthandler.disable()  # pytest's, inherited by the child: no traceback noise for a planned crash
        os.kill(os.getpid(), signal.SIGSEGV)
        return b""

    monkeypatch.setattr(module, "_hash_in_child", crash)  # the fork below copies this process, patch included
    request = {"path": str(tmp_path / "x"), "for_sharing": False, "limits": {}, "media_limits": {}}
    exitcode, answer = module._serve_one(request)
    assert (exitcode, answer) == (-signal.SIGSEGV, b"")
    rejection = module._failure(exitcode, SandboxLimits())
    assert rejection.reason.value == "corrupt" and f"signal {signal.SIGSEGV}" in rejection.message


class CountingBank(MemoryBank):
    """Counts the reads of the bank's change log (one DynamoDB Query each in the adapter)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_reads = 0

    def changes_since(self, since):  # type: ignore[no-untyped-def]
        self.log_reads += 1
        return super().changes_since(since)


def test_a_check_list_chunk_reads_the_bank_log_once_for_all_its_entries() -> None:
    store, notifier, bank = MemoryStore(), RecordingNotifier(), CountingBank()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    original = scene(35)
    pipeline.process(store.put(BUCKET, "share/tiktok/a.jpg", jpeg_bytes(original), {"labels": "graphic-violence"}))
    entries = [_checked(mirrored(original), pipeline)] + [_checked(scene(36 + n), pipeline) for n in range(5)]
    listing = "".join(json.dumps({**entry, "content_id": f"post-{n}"}) + "\n" for n, entry in enumerate(entries))
    reads_before = bank.log_reads
    pipeline.process(store.put(BUCKET, "check/reddit/six.jsonl", listing.encode()))
    assert bank.log_reads - reads_before == 1  # not one per entry
    (completed,) = [n for n in notifier.to("reddit") if n.event_type is EventType.CHECK_COMPLETED]
    assert completed.body["counts"] == {"entries": 6, "matched": 1, "clean": 5, "rejected": 0}


def test_a_long_videos_check_line_is_made_to_fit_and_still_reads() -> None:
    short = sampled_video_hashes(60, 40, "tilted_cw_3.5+central_crop_82/flip_x")
    line, left_out = check_line(short, {"content_id": "c1"})
    assert left_out is None and line == {"content_id": "c1", **hashes_to_json(short)}
    # 40 minutes at 1 fps with 40 framings a sample is ~10 MB: over a line's limit.
    long = sampled_video_hashes(2400, 40, "tilted_cw_3.5+central_crop_82/flip_x")
    assert len(json.dumps(hashes_to_json(long)).encode()) > MAX_CHECK_LINE_BYTES
    line, left_out = check_line(long, {"content_id": "c2"})
    encoded = json.dumps(line).encode()
    assert len(encoded) <= MAX_CHECK_LINE_BYTES
    assert left_out == "the samples' framings left out; every sample kept (2400 of 2400)"
    entry = _check_entry(1, encoded)
    assert entry.error is None and entry.content_id == "c2"
    assert entry.hashes is not None and [f.pdq for f in entry.hashes.frames] == [f.pdq for f in long.frames]
    assert not any(f.framings for f in entry.hashes.frames)


class CountingCandidates:
    """The coalition's candidates, with each question's number of grids noted; `fail`: every
    question goes unanswered (the lookup API is unreachable)."""

    def __init__(self, matcher, *, fail: bool = False, sent=None) -> None:
        self.matcher = matcher
        self.fail = fail
        self.sent = sent  # what the edge had handed on when asked
        self.questions: list[int] = []
        self.sent_when_asked: list[int] = []

    def uneven_crop_candidates_many(self, grids):
        self.questions.append(len(grids))
        self.sent_when_asked.append(len(self.sent) if self.sent is not None else 0)
        if self.fail:
            raise ConnectionError("the lookup API did not answer")
        return self.matcher.uneven_crop_candidates_many(grids)


def _batch_edge(pipeline: Pipeline, store: MemoryStore, candidates: CountingCandidates):
    from hashmatch.edge.ingest import EdgeHasher

    return EdgeHasher(store=store, sink=pipeline.sink, hasher=hash_file, platforms=PLATFORMS, candidates=candidates)


def _uneven_crop(picture: Image.Image) -> Image.Image:
    """Cut by 8%, 1%, 2% and 7% (left, top, right, bottom): found by the uneven-crop search alone."""
    width, height = picture.size
    return picture.crop((round(width * 0.08), round(height * 0.01), round(width * 0.98), round(height * 0.93)))


def test_a_batch_asks_the_coalition_once_for_all_its_checked_pictures_and_a_bad_object_fails_alone(parts) -> None:
    pipeline, store, notifier = parts
    shared = smooth_photo(13, (480, 320))
    pipeline.process(store.put(BUCKET, "share/tiktok/s.jpg", jpeg_bytes(shared), {"labels": "terrorism"}))
    candidates = CountingCandidates(pipeline.matcher)
    batch = [
        store.put(BUCKET, "check/reddit/crop.jpg", jpeg_bytes(_uneven_crop(shared)), {"content-id": "crop"}),
        store.put(BUCKET, "check/reddit/other.jpg", jpeg_bytes(scene(72)), {"content-id": "other"}),
        store.put(BUCKET, "check/nobody/x.jpg", jpeg_bytes(scene(73))),  # no member platform
        store.put(BUCKET, "check/reddit/mirror.jpg", jpeg_bytes(mirrored(shared)), {"content-id": "mirror"}),
    ]
    sent = len(notifier.sent)

    outcomes = _batch_edge(pipeline, store, candidates).process_many(batch)

    assert candidates.questions == [3]  # one question, a grid per checked picture
    assert [type(o).__name__ for o in outcomes] == ["Outcome", "Outcome", "UnroutableObject", "Outcome"]
    verdicts = {n.body.get("content_id"): n.event_type for n in notifier.sent[sent:]}
    assert verdicts == {"crop": EventType.MATCH_FOUND, "other": EventType.CHECK_CLEAN, "mirror": EventType.MATCH_FOUND}
    assert list(store.objects) == [(BUCKET, "check/nobody/x.jpg")]  # the failed object stays for its retry
    # The uneven crop is found through the search the question refined, not without it.
    assert pipeline.matcher.match(replace(hash_file_of(_uneven_crop(shared)), uneven_crops=None)) == []


def test_an_unanswered_question_fails_the_checks_that_asked_it_and_nothing_else(parts) -> None:
    pipeline, store, notifier = parts
    candidates = CountingCandidates(pipeline.matcher, fail=True, sent=pipeline.sink.sent)
    batch = [
        store.put(BUCKET, "check/reddit/a.jpg", jpeg_bytes(scene(74)), {"content-id": "a"}),
        store.put(BUCKET, "share/tiktok/b.jpg", jpeg_bytes(scene(75)), {"labels": "terrorism"}),
        store.put(BUCKET, "check/reddit/c.jpg", jpeg_bytes(scene(76)), {"content-id": "c"}),
    ]

    outcomes = _batch_edge(pipeline, store, candidates).process_many(batch)

    assert candidates.questions == [2]
    assert candidates.sent_when_asked == [1]  # the share, which asks nothing, went on before the question
    assert [type(o).__name__ for o in outcomes] == ["ConnectionError", "Outcome", "ConnectionError"]
    assert [n.event_type for n in notifier.sent if n.platform == "tiktok"] == [EventType.SHARE_ACCEPTED]
    assert EventType.CHECK_CLEAN not in [n.event_type for n in notifier.sent]
    assert sorted(key for _, key in store.objects) == ["check/reddit/a.jpg", "check/reddit/c.jpg"]


def hash_file_of(picture: Image.Image, *, for_sharing: bool = False) -> MediaHashes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "copy.jpg"
        path.write_bytes(jpeg_bytes(picture))
        return hash_file(path, for_sharing=for_sharing)


class RefusingSink:
    """A sink whose queue refuses the submissions of one object key (SQS throttled it)."""

    def __init__(self, sink, refused_key: str) -> None:
        self.sink = sink
        self.refused_key = refused_key

    def send(self, submission) -> None:
        if submission.obj.key == self.refused_key:
            raise ConnectionError("SQS throttled")
        self.sink.send(submission)


def test_an_object_that_cannot_be_handed_on_stays_for_its_retry_and_the_others_go_on(parts) -> None:
    from hashmatch.edge.ingest import EdgeHasher
    from hashmatch.service.handoffs import MemoryHandOffs

    pipeline, store, notifier = parts
    handoffs = MemoryHandOffs()
    edge = EdgeHasher(
        store=store,
        sink=RefusingSink(pipeline.sink, "check/reddit/b.jpg"),
        hasher=hash_file,
        platforms=PLATFORMS,
        candidates=pipeline.matcher,
        handoffs=handoffs,
    )
    batch = [
        store.put(BUCKET, f"check/reddit/{name}.jpg", jpeg_bytes(scene(90 + n)), {"content-id": name})
        for n, name in enumerate("abc")
    ]

    outcomes = edge.process_many(batch)

    assert [type(o).__name__ for o in outcomes] == ["Outcome", "ConnectionError", "Outcome"]
    assert sorted(n.body["content_id"] for n in notifier.sent) == ["a", "c"]
    assert [key for _, key in store.objects] == ["check/reddit/b.jpg"]  # not deleted: its retry hashes it again
    assert [handoffs.handed_on(obj) for obj in batch] == [True, False, True]


@pytest.mark.parametrize(
    ("name", "family", "copy"),
    # Two copies of desk-6 (its window in the square differs). A stitch of labelme-q2821 was found
    # this way only until the fine grids inside frames found it too.
    [("desk-6", "screenshot: feed app", 0), ("desk-6", "screenshot: feed app", 1)],
)
def test_a_picture_cut_to_fill_a_cell_is_found_by_the_core_grid_inside_the_frame(
    shared_data: Path, name: str, family: str, copy: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feed's square cuts the picture to fill it: the core grid laid inside the frame found finds
    it (`hashmatch.media.uneven._cores_inside`), and nothing else here does."""
    import random

    from hashmatch.bank.model import Provenance
    from hashmatch.edge.ingest import refine
    from hashmatch.index.bank_index import BankIndex
    from hashmatch.matching.matcher import Matcher
    from hashmatch.media import uneven
    from hashmatch.service.service import item_from_media
    from hashmatch_tools import reuploads
    from hashmatch_tools.reuploads.photos import gather_photos

    photo = next(p for p in gather_photos(shared_data) if p.name == name)
    item = item_from_media(hash_file_of(photo.image, for_sharing=True), Provenance("tiktok", "2026-12-06T00:00:00Z"))
    bank = MemoryBank()
    bank.put_items([item])
    matcher = Matcher(bank, BankIndex())
    edited = reuploads.TUNED[family](photo.image, random.Random(f"20240611|{name}|{family}|{copy}"))
    assert item.item_id in {m.item_id for m in matcher.match(refine(hash_file_of(edited), matcher))}
    monkeypatch.setattr(uneven, "_cores_inside", lambda luma, frames: [])
    assert item.item_id not in {m.item_id for m in matcher.match(refine(hash_file_of(edited), matcher))}
