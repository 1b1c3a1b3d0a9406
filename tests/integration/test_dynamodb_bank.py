"""DynamoBank on moto and on Amazon's DynamoDB Local, each with the bank table from template.yaml.

DynamoDB Local holds real DynamoDB's limits: Query pages stop at 1 MB and BatchGetItem leaves
keys unprocessed past 16 MB, so the paging loops in the adapter run for real here.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from hashmatch.aws.dynamodb import LOG_ENTRIES_PER_RECORD, DynamoBank
from hashmatch.bank.model import ItemStatus, NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.index.bank_index import BankIndex
from hashmatch_tools.local.template import Stack
from tests.integration.conftest import BankBackend

# One worker holds every test here, so an xdist run starts DynamoDB Local once.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dynamodb_local")]

SHARED_AT = "2025-06-01T12:00:00.000000Z"
QUERY_PAGE_BYTES = 1024 * 1024


def _pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _item(
    number: int,
    contributor: str = "tiktok",
    frames: int = 0,
    note: str | None = None,
    duration: float | None = None,
) -> SharedItem:
    """A shared item with exact signals and, for `frames` > 0, a video's per-frame PDQ entries."""
    sha256 = hashlib.sha256(f"media-{number}".encode()).hexdigest()
    md5 = hashlib.md5(f"media-{number}".encode()).hexdigest()
    rng = random.Random(number)
    pdq = _pdq(rng)
    entries = (
        (NearEntry("pdq", pdq),)
        if frames == 0
        else tuple(NearEntry("pdq", _pdq(rng), "frame", offset=frame / 2) for frame in range(frames))
    )
    return SharedItem(
        item_id=item_id_for(contributor, "sha256", sha256),
        provenance=Provenance(contributor, SHARED_AT, labels=("self-harm", "graphic-violence"), note=note),
        media="video" if frames else "image",
        signals={"sha256": sha256, "md5": md5, "pdq": pdq},
        near_entries=entries,
        duration=duration,
    )


def _stored(item: SharedItem, status: ItemStatus = "active") -> SharedItem:
    """What the bank gives back for `item`: its near entries live in the log, not the record."""
    return replace(item, near_entries=(), status=status)


@pytest.fixture
def bank(bank_backend: BankBackend) -> DynamoBank:
    return DynamoBank(bank_backend.table_name, bank_backend.resource)


def test_put_then_find_by_exact_hash_and_get_items_across_batch_pages(bank: DynamoBank) -> None:
    items = [_item(n) for n in range(250)]
    bank.put_items(items)

    for item in items[::100]:
        assert bank.items_by_exact("sha256", item.signals["sha256"]) == [_stored(item)]
        assert bank.items_by_exact("md5", item.signals["md5"]) == [_stored(item)]
    assert bank.items_by_exact("sha256", "0" * 64) == []

    ids = [item.item_id for item in items]
    # 250 distinct ids: three BatchGetItem requests of at most 100 keys; repeats and unknown ids are fine.
    found = bank.get_items([*ids, *ids[:30], "not-in-the-bank"])
    assert found == {item.item_id: _stored(item) for item in items}
    assert bank.get_items([]) == {}


def test_get_items_follows_unprocessed_keys(bank: DynamoBank, bank_backend: BankBackend) -> None:
    # 60 items of ~300 KB: a 16 MB BatchGetItem response holds about 50 of them.
    note = "n" * 300_000
    items = [_item(n, note=note) for n in range(60)]
    bank.put_items(items)

    keys = [{"pk": {"S": f"ITEM#{item.item_id}"}, "sk": {"S": "META"}} for item in items]
    raw = bank_backend.client.batch_get_item(RequestItems={bank_backend.table_name: {"Keys": keys}})
    assert raw.get("UnprocessedKeys", {}).get(bank_backend.table_name), "a response stops at 16 MB"

    found = bank.get_items([item.item_id for item in items])
    assert found == {item.item_id: _stored(item) for item in items}


def test_hash_list_sized_share_is_fully_indexed(bank: DynamoBank) -> None:
    hash_list = [_item(n, contributor="reddit") for n in range(300)]
    bank.put_items(hash_list)

    assert bank.get_items([item.item_id for item in hash_list]) == {i.item_id: _stored(i) for i in hash_list}
    # moto's Query sorts the whole table per call: a sample of exact lookups keeps this test fast there.
    for item in hash_list[::60]:
        assert bank.items_by_exact("sha256", item.signals["sha256"]) == [_stored(item)]
        assert bank.items_by_exact("md5", item.signals["md5"]) == [_stored(item)]
    changes = list(bank.changes_since(None))
    assert [change.operation for change in changes] == ["add"] * 300
    assert {change.item_id: change.entries for change in changes} == {i.item_id: i.near_entries for i in hash_list}


class _QueryCounter:
    """A DynamoDB resource whose tables count their Query calls."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self.queries = 0

    def Table(self, name: str) -> Any:
        table = self._resource.Table(name)
        query = table.query

        def counted(**kwargs: Any) -> Any:
            self.queries += 1
            return query(**kwargs)

        table.query = counted
        return table

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


def test_changes_since_pages_through_a_log_larger_than_one_query_page(bank_backend: BankBackend) -> None:
    counter = _QueryCounter(bank_backend.resource)
    bank = DynamoBank(bank_backend.table_name, counter)
    # 15,000 frame entries in 15 log records of ~80 KB: ~1.2 MB, more than one Query page.
    videos = [_item(n, frames=5_000, duration=2_500.0) for n in range(3)]
    bank.put_items(videos)

    changes = list(bank.changes_since(None))
    assert counter.queries > 1, f"the log should span more than one {QUERY_PAGE_BYTES}-byte Query page"
    chunks_per_video = -(-5_000 // LOG_ENTRIES_PER_RECORD)
    assert len(changes) == len(videos) * chunks_per_video
    positions = [change.position for change in changes]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    for video in videos:
        logged = [change for change in changes if change.item_id == video.item_id]
        assert all(change.operation == "add" for change in logged)
        assert tuple(entry for change in logged for entry in change.entries) == video.near_entries

    # Strictly after: the position given is never returned again.
    assert [change.position for change in bank.changes_since(positions[-3])] == positions[-2:]
    assert list(bank.changes_since(positions[-1])) == []


def test_withdraw_marks_the_item_and_logs_a_remove(bank: DynamoBank) -> None:
    kept, withdrawn = _item(1), _item(2)
    bank.put_items([kept, withdrawn])
    (before,) = [change.position for change in bank.changes_since(None) if change.item_id == withdrawn.item_id]

    bank.withdraw_items([withdrawn], withdrawn_at="2025-06-02T08:00:00.000000Z")

    assert bank.get_items([kept.item_id, withdrawn.item_id]) == {
        kept.item_id: _stored(kept),
        withdrawn.item_id: _stored(withdrawn, status="withdrawn"),
    }
    assert bank.items_by_exact("sha256", withdrawn.signals["sha256"]) == [_stored(withdrawn, status="withdrawn")]
    (remove,) = [change for change in bank.changes_since(before) if change.operation == "remove"]
    assert (remove.item_id, remove.entries) == (withdrawn.item_id, ())


def test_repeated_put_overwrites_and_never_duplicates(bank: DynamoBank, bank_backend: BankBackend) -> None:
    items = [_item(n) for n in range(20)]
    bank.put_items(items)
    bank.put_items(items)

    assert bank.get_items([item.item_id for item in items]) == {item.item_id: _stored(item) for item in items}
    for item in items:
        assert bank.items_by_exact("sha256", item.signals["sha256"]) == [_stored(item)]
    # Records in the table: one META per item and one HASH record per signal value; only the log grows.
    scan = bank_backend.client.scan(TableName=bank_backend.table_name, Select="COUNT", ConsistentRead=True)
    assert scan["Count"] == len(items) * (1 + 3) + 2 * len(items)
    near = BankIndex()
    near.refresh(bank)
    assert len(near) == len(items)


def test_offsets_and_duration_round_trip_as_floats(bank: DynamoBank, bank_backend: BankBackend) -> None:
    rng = random.Random(7)
    offsets = [0.0, 0.1, 0.5, 1 / 3, 12.345, 3599.999, None]
    video = replace(
        _item(1, frames=1, duration=61.25),
        near_entries=tuple(NearEntry("pdq", _pdq(rng), "frame", offset) for offset in offsets),
    )
    bank.put_items([video])

    stored = bank_backend.resource.Table(bank_backend.table_name).get_item(
        Key={"pk": f"ITEM#{video.item_id}", "sk": "META"}, ConsistentRead=True
    )["Item"]
    assert stored["duration"] == Decimal("61.25")
    (change,) = bank.changes_since(None)
    assert [entry.offset for entry in change.entries] == offsets
    assert all(isinstance(entry.offset, float) for entry in change.entries if entry.offset is not None)
    found = bank.get_items([video.item_id])[video.item_id]
    assert found.duration == 61.25 and isinstance(found.duration, float)


def test_the_share_that_stored_an_item_last_round_trips(bank: DynamoBank) -> None:
    named, unnamed = replace(_item(1), source="0f" * 16), _item(2)
    bank.put_items([named, unnamed])
    found = bank.get_items([named.item_id, unnamed.item_id])
    assert (found[named.item_id].source, found[unnamed.item_id].source) == ("0f" * 16, None)


def test_near_indexes_refresh_applies_adds_then_a_remove(bank: DynamoBank) -> None:
    image, video = _item(1), _item(2, frames=40)
    bank.put_items([image, video])
    near = BankIndex()

    assert near.refresh(bank) == 2
    assert len(near) == 1 + 40
    hits = near.query("pdq", [video.near_entries[7].value], threshold=0)
    assert [(hit.entry.item_id, hit.entry.offset) for hit in hits] == [(video.item_id, 3.5)]

    bank.withdraw_items([video], withdrawn_at="2025-06-02T08:00:00.000000Z")
    assert near.refresh(bank) == 1
    assert len(near) == 1
    assert near.query("pdq", [entry.value for entry in video.near_entries], threshold=0) == []
    assert [hit.entry.item_id for hit in near.query("pdq", [image.signals["pdq"]], threshold=0)] == [image.item_id]
    assert near.refresh(bank) == 0


def test_claims_and_kept_answers_on_the_bank_table(bank_backend: BankBackend) -> None:
    """A submission's key is claimed once at a time, the claim lapses or is released, and the first
    answer kept replaces it, with real DynamoDB's conditional writes."""
    from hashmatch.aws.answers import DynamoAnswerStore
    from hashmatch.service.answers import CLAIMED, AnswerInProgress, KeptAnswer
    from hashmatch.service.notifications import EventType, Notification

    now = [1_000_000.0]
    answers = DynamoAnswerStore(bank_backend.resource.Table(bank_backend.table_name), clock=lambda: now[0])
    clean = Notification("tiktok", EventType.CHECK_CLEAN, {"notification_id": "a"})
    found = Notification("tiktok", EventType.MATCH_FOUND, {"notification_id": "b"})

    assert answers.claim("k1", 60) is CLAIMED
    with pytest.raises(AnswerInProgress):  # a second delivery while the first decides
        answers.claim("k1", 60)
    assert answers.kept("k1") is None  # a claim is no answer
    now[0] += 61  # the first attempt died: its claim lapsed
    assert answers.claim("k1", 60) is CLAIMED
    assert answers.keep("k1", [clean]) == (clean,)
    assert answers.keep("k1", [found]) == (clean,)  # the first answer kept stands
    standing = answers.claim("k1", 60)  # a repeat finds the answer: nothing to decide
    assert isinstance(standing, KeptAnswer) and standing.notifications == (clean,) and not standing.published
    answers.mark_published("k1")
    assert answers.claim("k1", 60) == KeptAnswer((clean,), published=True)
    answers.release("k1")  # never drops a kept answer
    assert answers.kept("k1") == KeptAnswer((clean,), published=True)

    assert answers.claim("k2", 60) is CLAIMED
    answers.release("k2")  # the attempt failed: the next delivery need not wait
    assert answers.claim("k2", 60) is CLAIMED
    assert answers.kept("k2") is None


def test_bank_on_the_provisioned_local_stack(moto_aws: Stack) -> None:
    # The whole template provisioned on moto: the functions' table, found as the template names it.
    bank = DynamoBank(moto_aws.physical_names("BankTable")["ref"])
    item = _item(1)
    bank.put_items([item])
    assert bank.items_by_exact("sha256", item.signals["sha256"]) == [_stored(item)]
    assert [change.item_id for change in bank.changes_since(None)] == [item.item_id]


def test_incidents_move_only_from_the_status_expected_and_count_matches(bank: DynamoBank) -> None:
    from hashmatch.governance.incidents import moved, opened

    incident = opened("inc-7", "Live-streamed attack", ("violent-extremism",), "platform:tiktok", SHARED_AT)
    assert bank.get_incident("inc-7") is None
    assert bank.put_incident(incident, expected=None)
    assert not bank.put_incident(incident, expected=None)  # an id is opened once
    escalated = moved(incident, "escalate", "operator:alice", SHARED_AT, "spreading")
    assert not bank.put_incident(escalated, expected="escalated")
    assert bank.put_incident(escalated, expected="open")
    assert bank.get_incident("inc-7") == escalated

    for member, count in (("facebook", 1), ("facebook", 2), ("reddit", 1)):
        bank.count_incident_matches("inc-7", "2026-12-04T12", member, count)
    bank.count_incident_matches("inc-7", "2026-12-04T13", "facebook", 1)
    assert bank.incident_counts("inc-7") == {
        ("2026-12-04T12", "facebook"): 3,
        ("2026-12-04T12", "reddit"): 1,
        ("2026-12-04T13", "facebook"): 1,
    }
    assert bank.incident_counts("inc-8") == {}


def test_feedback_status_moves_quotas_notices_benign_and_match_counts(bank: DynamoBank) -> None:
    """The governance records, under real DynamoDB semantics (reserved words, set and map updates,
    conditional writes)."""
    item = _item(40)
    bank.put_items([item])
    bank.record_feedback(item.item_id, "youtube", "dispute", "a film still")
    twice = bank.record_feedback(item.item_id, "youtube", "dispute", "still a film still")
    assert twice is not None and twice.disputed_by == ("youtube",)
    confirmed = bank.record_feedback(item.item_id, "reddit", "confirm", "")
    assert confirmed is not None and confirmed.confirmed_by == ("reddit",) and confirmed.backers == ("reddit", "tiktok")
    assert bank.dispute_reasons(item.item_id) == {"youtube": "still a film still"}
    assert bank.record_feedback("0" * 32, "reddit", "confirm", "") is None

    assert bank.set_status(item.item_id, "active", "t1", expected=("quarantined",)) is None
    quarantined = bank.set_status(item.item_id, "quarantined", "t1", expected=("active",))
    assert quarantined is not None and quarantined.status == "quarantined"
    restored = bank.set_status(item.item_id, "active", "t2", expected=("quarantined",), clear_disputes=True)
    assert restored is not None and restored.disputed_by == () and restored.confirmed_by == ("reddit",)
    assert bank.dispute_reasons(item.item_id) == {}
    position = max(change.position for change in bank.changes_since(None))
    assert bank.set_status(item.item_id, "removed", "t3", expected=("active",)) is not None
    assert [c.operation for c in bank.changes_since(position)] == ["remove"]

    assert bank.count_shares("tiktok", "2026-12-04", 3, 4)
    assert not bank.count_shares("tiktok", "2026-12-04", 2, 4)  # 3 + 2 > 4: nothing counted
    assert bank.count_shares("tiktok", "2026-12-04", 1, 4)
    assert bank.count_shares("youtube", "2026-12-04", 4, 4)
    assert not bank.count_shares("reddit", "2026-12-04", 5, 4)  # more than the quota, on a fresh day too
    assert bank.count_shares("reddit", "2026-12-04", 4, 4)

    bank.remember_notice("a" * 32, "facebook", [item.item_id])
    assert bank.notice("a" * 32) == ("facebook", (item.item_id,))
    assert bank.notice("b" * 32) is None

    benign = replace(_item(41, contributor="benign-bank"), status="benign")
    bank.put_items([benign])
    assert sorted(bank.benign_hashes()) == sorted((benign.item_id, s, v) for s, v in benign.signals.items())

    today = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    bank.count_matches("facebook", today, ["graphic-violence"])
    bank.count_matches("facebook", today, ["graphic-violence", "violent-extremism"])
    counts = {(member, label): n for _hour, member, label, n in bank.match_counts(today[:10])}
    assert counts == {("facebook", "graphic-violence"): 2, ("facebook", "violent-extremism"): 1}
