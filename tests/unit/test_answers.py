"""One final answer per submission: a retry republishes the answer kept the first time."""

from __future__ import annotations

from dataclasses import replace

import jsonschema
import pytest

from hashmatch.edge.ingest import EdgeHasher
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.media.hashing import hash_file
from hashmatch.service.answers import CLAIMED, AnswerInProgress, MemoryAnswers, answer_from_json, answer_to_json
from hashmatch.service.handoffs import MemoryHandOffs
from hashmatch.service.notifications import EventType, Notification, ObjectRef, notification_schema
from hashmatch.service.routing import Outcome
from hashmatch.service.service import HashmatchService
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


class NoticeThrottledOnce(MemoryBank):
    """A bank that cannot write the first notice record asked of it (the table throttled)."""

    def __init__(self) -> None:
        super().__init__()
        self.throttled = False

    def remember_notice(self, notification_id, member, item_ids) -> None:
        if not self.throttled:
            self.throttled = True
            raise ConnectionError("DynamoDB throttled")
        super().remember_notice(notification_id, member, item_ids)


def test_a_delivery_that_meets_another_attempts_claim_waits_and_nothing_is_decided_twice(tmp_path) -> None:
    """SQS may deliver one check twice at once: the second delivery meets the first's claim and is
    tried again later, so the match is counted and remembered once, and answered once."""
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    pipeline.process(store.put("in", "share/tiktok/s.jpg", jpeg_bytes(scene(61)), {"labels": "terrorism"}))
    now = [1000.0]
    answers = MemoryAnswers(clock=lambda: now[0])
    service = HashmatchService(
        bank=bank, notifier=notifier, matcher=pipeline.matcher, platforms=PLATFORMS, answers=answers
    )
    check = _check(tmp_path, 61)
    sent = len(notifier.sent)

    assert answers.claim(check.idempotency_key, 60) is CLAIMED  # the first delivery, deciding
    with pytest.raises(AnswerInProgress):
        service.process(check, claim_seconds=60)
    assert notifier.sent[sent:] == [] and bank.matches == {} and bank.notices == {}

    now[0] += 61  # the first delivery died: its claim lapsed, and the retry decides
    assert service.process(check, claim_seconds=60) is Outcome.PROCESSED
    assert service.process(check, claim_seconds=60) is Outcome.ALREADY_PROCESSED
    told = notifier.sent[sent:]
    assert [n.event_type for n in told] == [EventType.MATCH_FOUND]
    assert list(bank.matches.values()) == [1] and list(bank.notices) == [told[0].body["notification_id"]]


def test_an_attempt_that_fails_before_keeping_its_answer_leaves_no_claim(tmp_path) -> None:
    store, bank, notifier = MemoryStore(), NoticeThrottledOnce(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    pipeline.process(store.put("in", "share/tiktok/s.jpg", jpeg_bytes(scene(62)), {"labels": "terrorism"}))
    answers = MemoryAnswers(clock=lambda: 1000.0)  # no claim would ever lapse
    service = HashmatchService(
        bank=bank, notifier=notifier, matcher=pipeline.matcher, platforms=PLATFORMS, answers=answers
    )
    check = _check(tmp_path, 62)
    sent = len(notifier.sent)
    with pytest.raises(ConnectionError):
        service.process(check, claim_seconds=60)
    assert answers.kept(check.idempotency_key) is None and notifier.sent[sent:] == []
    assert service.process(check, claim_seconds=60) is Outcome.PROCESSED  # not AnswerInProgress
    assert [n.event_type for n in notifier.sent[sent:]] == [EventType.MATCH_FOUND]


def test_kept_answers_go_through_json_unchanged() -> None:
    notification = Notification("tiktok", EventType.CHECK_CLEAN, {"a": [1, "é"], "b": None})
    assert answer_from_json(answer_to_json([notification])) == (notification,)
    answers = MemoryAnswers()
    assert answers.keep("k", [notification]) == (notification,)
    other = Notification("tiktok", EventType.MATCH_FOUND, {})
    assert answers.keep("k", [other]) == (notification,)  # the first kept stands


class HeldSink:
    """A queue nobody reads yet: what the edge hands on waits here (a `SubmissionSink`)."""

    def __init__(self, fail: bool = False) -> None:
        self.held: list[Submission] = []
        self.fail = fail

    def send(self, submission: Submission) -> None:
        if self.fail:
            raise ConnectionError("SQS timed out")
        self.held.append(submission)


def _edge_and_coalition(handoffs: MemoryHandOffs | None):
    store, bank, notifier, sink = MemoryStore(), MemoryBank(), RecordingNotifier(), HeldSink()
    coalition = HashmatchService(
        bank=bank, notifier=notifier, matcher=Matcher(bank, BankIndex()), platforms=PLATFORMS, handoffs=handoffs
    )
    edge = EdgeHasher(
        store=store,
        sink=sink,
        hasher=lambda path, for_sharing=False: replace(hash_file(path), uneven_crops=None),
        platforms=PLATFORMS,
        handoffs=handoffs,
    )
    return store, notifier, sink, coalition, edge


def _final(notifier: RecordingNotifier, obj: ObjectRef) -> list[EventType]:
    return [n.event_type for n in notifier.sent if n.body.get("object", {}).get("key") == obj.key]


@pytest.mark.parametrize("recorded", [True, False], ids=["hand-offs recorded", "control: none recorded"])
def test_a_gone_from_the_retry_of_an_edge_that_handed_on_never_outranks_the_real_verdict(recorded) -> None:
    """The edge hands the check on, deletes the picture and dies before its record is acknowledged;
    its retry finds the picture gone. The real submission waits for its own retry, so `gone` is
    processed first: it must not be the answer, or the platform is told to upload again."""
    store, notifier, sink, coalition, edge = _edge_and_coalition(MemoryHandOffs() if recorded else None)
    obj = store.put("in", "check/facebook/a.jpg", jpeg_bytes(scene(31)), {"content-id": "a"})

    assert edge.process(obj) is Outcome.PROCESSED
    assert edge.process(obj) is Outcome.ALREADY_PROCESSED  # the retry after the kill
    real, gone = sink.held
    assert gone.kind is Kind.GONE and gone.idempotency_key == real.idempotency_key

    coalition.process(gone)
    coalition.process(real)
    if recorded:
        assert _final(notifier, obj) == [EventType.CHECK_CLEAN]
    else:  # without the record, `gone` is answered first and stands: what the fix prevents
        assert _final(notifier, obj) == [EventType.CHECK_EXPIRED]


def test_an_object_gone_before_any_hand_off_is_still_answered_expired() -> None:
    store, notifier, sink, coalition, edge = _edge_and_coalition(MemoryHandOffs())
    obj = store.put("in", "check/facebook/b.jpg", jpeg_bytes(scene(32)))
    store.delete(obj)  # expired (or deleted) before the edge came to it

    assert edge.process(obj) is Outcome.ALREADY_PROCESSED
    (gone,) = sink.held
    assert coalition.process(gone) is Outcome.PROCESSED
    assert coalition.process(gone) is Outcome.ALREADY_PROCESSED
    assert _final(notifier, obj) == [EventType.CHECK_EXPIRED]


def test_the_edge_records_a_hand_off_only_once_everything_was_handed_on() -> None:
    handoffs = MemoryHandOffs()
    store, notifier, _sink, coalition, edge = _edge_and_coalition(handoffs)
    obj = store.put("in", "check/facebook/c.jpg", jpeg_bytes(scene(33)))
    failing = EdgeHasher(
        store=store, sink=HeldSink(fail=True), hasher=hash_file, platforms=PLATFORMS, handoffs=handoffs
    )
    with pytest.raises(ConnectionError):
        failing.process(obj)
    assert not handoffs.handed_on(obj) and (obj.bucket, obj.key) in store.objects, "kept for the retry"

    assert edge.process(obj) is Outcome.PROCESSED
    assert handoffs.handed_on(obj) and (obj.bucket, obj.key) not in store.objects
    # A dead-lettered hashing record for the same object (its deletion kept failing, say) is no
    # answer either: the submissions handed on give it.
    edge_failure = Submission("check", "facebook", obj, Kind.FAILURE, {"failure": "hashing failed on every try"})
    assert coalition.process(edge_failure) is Outcome.ALREADY_PROCESSED
    assert notifier.sent == []


class UnkeepableAnswers(MemoryAnswers):
    """Answers that cannot be kept (the table throttles every try)."""

    def keep(self, key, notifications):
        raise ConnectionError("DynamoDB throttled")


def test_a_share_that_fails_after_storing_is_withdrawn_and_said_so(tmp_path) -> None:
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, ("tiktok", "facebook", "youtube"))
    pipeline.process(store.put("in", "share/tiktok/kept.jpg", jpeg_bytes(scene(41)), {"labels": "terrorism"}))
    earlier = set(bank.items)
    failing = HashmatchService(
        bank=bank,
        notifier=notifier,
        matcher=pipeline.matcher,
        platforms=("tiktok", "facebook", "youtube"),
        answers=UnkeepableAnswers(),
    )
    obj = ObjectRef("in", "share/tiktok/x.jpg", etag="e", size=1, sequencer="01")
    share = Submission("share", "tiktok", obj, Kind.HASHES, {"labels": "terrorism"}, hashes=_hashes(tmp_path, 42))
    for _try in range(3):
        with pytest.raises(ConnectionError):
            failing.process(share)  # stored, then the answer could not be kept
    (stored,) = set(bank.items) - earlier
    assert bank.items[stored].status == "active"
    sent = len(notifier.sent)

    assert pipeline.coalition.fail(share, "processing failed on every try") is Outcome.PROCESSED

    assert bank.items[stored].status == "withdrawn"
    assert all(bank.items[item].status == "active" for item in earlier), "another share's item stays"
    told = notifier.sent[sent:]
    failed = [n for n in told if n.event_type is EventType.SHARE_FAILED]
    assert len(failed) == 1 and "withdrawn" in failed[0].body["failure"]["message"]
    withdrawn = {
        n.platform: [i["item_id"] for i in n.body["items"]] for n in told if n.event_type is EventType.HASH_WITHDRAWN
    }
    assert withdrawn == {"tiktok": [stored], "facebook": [stored], "youtube": [stored]}
    validator = jsonschema.Draft202012Validator(notification_schema(), format_checker=jsonschema.FormatChecker())
    for notification in told:
        validator.validate(notification.body)
    # Nothing of the failed share matches any more.
    copy = _hashes(tmp_path, 42)
    assert pipeline.matcher.match(copy) == []
    # The dead letter delivered again: the same notices (same ids), nothing else withdrawn.
    pipeline.coalition.fail(share, "processing failed on every try")
    again = notifier.sent[sent + len(told) :]
    assert [n.body["notification_id"] for n in again] == [n.body["notification_id"] for n in told]


def test_a_failed_share_of_a_file_already_shared_leaves_the_earlier_share_standing(tmp_path) -> None:
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    pipeline.process(store.put("in", "share/tiktok/first.jpg", jpeg_bytes(scene(44)), {"labels": "terrorism"}))
    (item,) = bank.items
    failing = HashmatchService(
        bank=bank, notifier=notifier, matcher=pipeline.matcher, platforms=PLATFORMS, answers=UnkeepableAnswers()
    )
    obj = ObjectRef("in", "share/tiktok/again.jpg", etag="e", size=1, sequencer="03")
    again = Submission("share", "tiktok", obj, Kind.HASHES, {"labels": "terrorism"}, hashes=_hashes(tmp_path, 44))
    with pytest.raises(ConnectionError):
        failing.process(again)  # the same file's item written again, then the answer could not be kept

    pipeline.coalition.fail(again, "processing failed on every try")
    assert bank.items[item].status == "active", "the first share was accepted: its item stays"
    assert [n.event_type for n in notifier.sent if n.body.get("object", {}).get("key") == obj.key] == [
        EventType.SHARE_FAILED
    ]


def test_a_failed_share_that_stored_nothing_is_only_failed(tmp_path) -> None:
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    pipeline = service_on(bank, store, notifier, PLATFORMS)
    pipeline.process(store.put("in", "share/tiktok/same.jpg", jpeg_bytes(scene(43)), {"labels": "terrorism"}))
    (item,) = bank.items
    # Another share of the same picture dead-lettered before it stored anything.
    obj = ObjectRef("in", "share/tiktok/again.jpg", etag="e", size=1, sequencer="02")
    share = Submission("share", "tiktok", obj, Kind.HASHES, {"labels": "terrorism"}, hashes=_hashes(tmp_path, 43))
    pipeline.coalition.fail(share, "processing failed on every try")
    assert bank.items[item].status == "active"
    assert [n.event_type for n in notifier.sent if n.body.get("object", {}).get("key") == obj.key] == [
        EventType.SHARE_FAILED
    ]
