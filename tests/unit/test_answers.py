"""One final answer per submission: a retry republishes the answer kept the first time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashmatch.media.hashing import hash_file
from hashmatch.service.answers import MemoryAnswers, answer_from_json, answer_to_json
from hashmatch.service.notifications import EventType, Notification, ObjectRef
from hashmatch.service.routing import Outcome
from hashmatch.service.submission import Kind, Submission
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook")


class FlakyNotifier(RecordingNotifier):
    """Fails the publish numbered `fail_at` (0-based, counted over its life) once."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at = fail_at

    def publish(self, notification: Notification) -> None:
        self.calls += 1
        if self.calls - 1 == self.fail_at:
            raise ConnectionError("SNS timed out")
        super().publish(notification)


def _hashes(tmp_path, seed: int):
    path = tmp_path / f"{seed}.jpg"
    path.write_bytes(jpeg_bytes(scene(seed)))
    return replace(hash_file(path), uneven_crops=None)


def _check(tmp_path, seed: int, sequencer: str = "01") -> Submission:
    obj = ObjectRef("in", f"check/facebook/{seed}.jpg", etag="e", size=1, sequencer=sequencer)
    return Submission("check", "facebook", obj, Kind.HASHES, {"content-id": f"c{seed}"}, hashes=_hashes(tmp_path, seed))


def test_a_retry_after_a_failed_publish_republishes_the_kept_verdict_not_a_new_one(tmp_path) -> None:
    store, bank, notifier = MemoryStore(), MemoryBank(), FlakyNotifier(fail_at=0)
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    service = pipeline.coalition
    check = _check(tmp_path, 21)

    with pytest.raises(ConnectionError):
        service.process(check)  # decided clean, kept, then SNS failed
    # Meanwhile the same picture is shared: deciding again would now say match.found.
    pipeline.process(store.put("in", "share/tiktok/a.jpg", jpeg_bytes(scene(21))))
    assert service.process(check) is Outcome.PROCESSED

    verdicts = [n for n in notifier.to("facebook") if n.event_type in (EventType.CHECK_CLEAN, EventType.MATCH_FOUND)]
    assert [n.event_type for n in verdicts] == [EventType.CHECK_CLEAN]
    # A later delivery of the same event publishes nothing more.
    assert service.process(check) is Outcome.ALREADY_PROCESSED
    assert len([n for n in notifier.to("facebook") if n.body.get("object", {}).get("key") == check.obj.key]) == 1
    # A new upload of the same key (a new S3 sequencer) is a new check, decided now.
    again = replace(check, obj=replace(check.obj, sequencer="02"))
    service.process(again)
    assert notifier.to("facebook")[-1].event_type is EventType.MATCH_FOUND


def test_a_dead_letter_publishes_the_kept_answer_when_there_is_one_else_failed(tmp_path) -> None:
    notifier = FlakyNotifier(fail_at=0)
    service = service_on(MemoryBank(), MemoryStore(), notifier, PLATFORMS).coalition
    kept, unanswered = _check(tmp_path, 22), _check(tmp_path, 23)
    with pytest.raises(ConnectionError):
        service.process(kept)

    service.fail(kept, "processing failed on every try")
    service.fail(unanswered, "processing failed on every try")

    by_key = {n.body["object"]["key"]: n.event_type for n in notifier.to("facebook")}
    assert by_key == {kept.obj.key: EventType.CHECK_CLEAN, unanswered.obj.key: EventType.CHECK_FAILED}
    assert service.fail(kept, "again") is Outcome.ALREADY_PROCESSED
    # An operator's replay of the failed record decides its verdict, which follows the failure.
    assert service.process(unanswered) is Outcome.PROCESSED
    assert notifier.to("facebook")[-1].event_type is EventType.CHECK_CLEAN


def test_a_share_answer_cut_short_is_republished_whole_in_order(tmp_path) -> None:
    store, bank = MemoryStore(), MemoryBank()
    notifier = FlakyNotifier(fail_at=1)  # share.accepted goes out, the first hash.shared fails
    service = service_on(bank, store, notifier, PLATFORMS).coalition
    obj = ObjectRef("in", "share/tiktok/x.jpg", etag="e", size=1, sequencer="01")
    share = Submission("share", "tiktok", obj, Kind.HASHES, {"labels": "terrorism"}, hashes=_hashes(tmp_path, 24))

    with pytest.raises(ConnectionError):
        service.process(share)
    first_items = dict(bank.items)
    service.process(share)

    events = [(n.platform, n.event_type) for n in notifier.sent]
    assert events == [
        ("tiktok", EventType.SHARE_ACCEPTED),
        ("tiktok", EventType.SHARE_ACCEPTED),  # republished: same notification id, subscribers dedupe
        ("facebook", EventType.HASH_SHARED),
    ]
    assert notifier.sent[0].body == notifier.sent[1].body
    assert bank.items == first_items  # decided once: the item was stored once


def test_kept_answers_go_through_json_unchanged() -> None:
    notification = Notification("tiktok", EventType.CHECK_CLEAN, {"a": [1, "é"], "b": None})
    assert answer_from_json(answer_to_json([notification])) == (notification,)
    answers = MemoryAnswers()
    assert answers.keep("k", [notification]) == (notification,)
    other = Notification("tiktok", EventType.MATCH_FOUND, {})
    assert answers.keep("k", [other]) == (notification,)  # the first kept stands
