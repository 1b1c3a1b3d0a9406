"""Governance against retries and races: an action retried after it changed the bank (its audit
record or its answer failed) is recorded and told as the first attempt would have been, instead of
refused because the item is already where that attempt put it; and a contributor's re-share never
undoes a quarantine, a removal or the disputes others cast."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import boto3
import pytest
from moto import mock_aws

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.bank.hashlist import HashListEntry
from hashmatch.bank.model import NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.governance.policy import CoalitionRules
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.service.governance import Governance
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch.service.ports import AuditRecord, Bank, ItemMoved
from hashmatch.service.routing import OPERATOR
from hashmatch.service.service import HashmatchService
from hashmatch.service.submission import Kind, Submission
from hashmatch_tools.fakes import MemoryBank, RecordingNotifier

PDQ = "f" * 16 + "0" * 16 + "a5" * 16
PLATFORMS = ("tiktok", "facebook", "youtube", "reddit")


class FailingOnce:
    """An audit log whose first write of an `action` record fails, as an S3 SlowDown would."""

    def __init__(self, action: str) -> None:
        self.action, self.failed, self.records = action, False, []

    def append(self, records: Sequence[AuditRecord]) -> None:
        if not self.failed and any(r.action == self.action for r in records):
            self.failed = True
            raise RuntimeError("SlowDown")
        self.records += list(records)


@pytest.fixture(params=["memory", "dynamodb"])
def bank(request: pytest.FixtureRequest) -> Iterator[Bank]:
    if request.param == "memory":
        yield MemoryBank()
        return
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        keys = [("pk", "HASH"), ("sk", "RANGE")]
        dynamodb.create_table(
            TableName="bank",
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoBank("bank", dynamodb)


def _item(bank: Bank) -> SharedItem:
    item = SharedItem(
        item_id_for("tiktok", "pdq", PDQ), Provenance("tiktok", "t0"), "hashes", {"pdq": PDQ}, (NearEntry("pdq", PDQ),)
    )
    bank.put_items([item])
    return item


def _governance(bank: Bank, audit: FailingOnce, quorum: int = 2) -> Governance:
    rules = CoalitionRules(dispute_quorum=quorum)
    return Governance(bank=bank, platforms=PLATFORMS, rules=rules, audit=audit, now=lambda: "2026-12-07T12:00:00.000Z")


def test_an_operators_removal_retried_is_recorded_and_announced(bank: Bank) -> None:
    item, audit = _item(bank), FailingOnce("remove")
    governance = _governance(bank, audit)
    request = {"action": "remove", "item_id": item.item_id, "reason": "out of scope", "operator": "alice"}
    asked = Submission(
        "operator", OPERATOR, ObjectRef("b", "operator/r1.json", "e", 1, "s"), Kind.REQUEST, request=request
    )
    with pytest.raises(RuntimeError, match="SlowDown"):
        governance.operator(asked)
    told = governance.operator(asked)  # the queue delivers the request again
    assert [(r.action, r.outcome, r.actor) for r in audit.records] == [("remove", "done", "operator:alice")]
    assert {n.event_type for n in told} == {EventType.HASH_REMOVED} and len(told) == len(PLATFORMS)
    # Another request to remove it is refused: the item was removed by the first.
    again = Submission(
        "operator", OPERATOR, ObjectRef("b", "operator/r2.json", "e", 1, "t"), Kind.REQUEST, request=request
    )
    assert governance.operator(again) == []
    assert [(r.action, r.outcome) for r in audit.records][-1] == ("remove", "refused")


def test_a_quarantine_by_disputes_retried_is_recorded_and_announced(bank: Bank) -> None:
    item, audit = _item(bank), FailingOnce("quarantine")
    governance = _governance(bank, audit)

    def dispute(member: str) -> Submission:
        request = {"target": item.item_id, "verdict": "dispute", "reason": "satire"}
        where = ObjectRef("b", f"feedback/{member}/d.json", "e", 1, member)
        return Submission("feedback", member, where, Kind.REQUEST, request=request)

    governance.feedback(dispute("facebook"))
    with pytest.raises(RuntimeError, match="SlowDown"):
        governance.feedback(dispute("youtube"))  # the quorum: quarantined, then the record fails
    told = governance.feedback(dispute("youtube"))
    quarantines = [r for r in audit.records if r.action == "quarantine"]
    assert [(r.actor, r.outcome) for r in quarantines] == [("coalition", "done")]
    assert sum(n.event_type is EventType.HASH_QUARANTINED for n in told) == len(PLATFORMS)


def _reshared(item: SharedItem) -> SharedItem:
    """The same item as its contributor would share it again (a fresh provenance)."""
    return SharedItem(item.item_id, Provenance("tiktok", "t9"), "hashes", dict(item.signals), item.near_entries)


def test_a_reshare_never_undoes_a_quarantine_that_landed_after_it_read_the_item(bank: Bank) -> None:
    item = _item(bank)
    audit = FailingOnce("none")
    governance = _governance(bank, audit)
    where = ObjectRef("b", "share/tiktok/again.txt", "e", 1, "s")
    submission = Submission("share", "tiktok", where, Kind.ENTRIES)
    admitted, read = governance.admit_share(submission, [_reshared(item)])
    assert read[item.item_id].status == "active"
    # An operator quarantines it while the re-share is on its way to the bank.
    assert bank.set_status(item.item_id, "quarantined", "t5", expected=("active",), by="operator") is not None
    with pytest.raises(ItemMoved):
        bank.put_items(admitted, read=read)
    assert bank.get_items([item.item_id])[item.item_id].status == "quarantined"
    # The share is retried: it reads the item again and keeps it quarantined.
    admitted, read = governance.admit_share(submission, [_reshared(item)])
    bank.put_items(admitted, read=read)
    assert bank.get_items([item.item_id])[item.item_id].status == "quarantined"


def test_a_reshare_keeps_the_disputes_and_their_reasons_and_a_removed_item_out_of_the_index(bank: Bank) -> None:
    item = _item(bank)
    governance = _governance(bank, FailingOnce("none"), quorum=3)
    where = ObjectRef("b", "feedback/facebook/d.json", "e", 1, "f")
    request = {"target": item.item_id, "verdict": "dispute", "reason": "satire"}
    governance.feedback(Submission("feedback", "facebook", where, Kind.REQUEST, request=request))
    share = Submission("share", "tiktok", ObjectRef("b", "share/tiktok/again.txt", "e", 1, "s"), Kind.ENTRIES)
    _reshare(bank, governance, share, item)
    kept = bank.get_items([item.item_id])[item.item_id]
    assert kept.disputed_by == ("facebook",) and bank.dispute_reasons(item.item_id) == {"facebook": "satire"}

    assert bank.set_status(item.item_id, "removed", "t6", expected=("active",), by="operator") is not None
    position = max(change.position for change in bank.changes_since(None))
    _reshare(bank, governance, share, item)
    assert bank.get_items([item.item_id])[item.item_id].status == "removed"
    assert [change.operation for change in bank.changes_since(position)] == []


def _reshare(bank: Bank, governance: Governance, share: Submission, item: SharedItem) -> None:
    admitted, read = governance.admit_share(share, [_reshared(item)])
    bank.put_items(admitted, read=read)


def test_a_withdrawal_retried_is_recorded_and_announced(bank: Bank) -> None:
    item = _item(bank)
    audit, notifier = FailingOnce("withdraw"), RecordingNotifier()
    service = HashmatchService(
        bank=bank, notifier=notifier, matcher=Matcher(bank, BankIndex()), platforms=PLATFORMS, audit=audit
    )
    where = ObjectRef("b", "withdraw/tiktok/w.txt", "e", 1, "w")
    withdrawal = Submission("withdraw", "tiktok", where, Kind.ENTRIES, entries=(HashListEntry({"pdq": PDQ}, 1),))
    with pytest.raises(RuntimeError, match="SlowDown"):
        service.process(withdrawal)
    assert bank.get_items([item.item_id])[item.item_id].status == "withdrawn"
    service.process(withdrawal)  # the queue delivers it again
    assert [(r.action, r.item_ids) for r in audit.records] == [("withdraw", (item.item_id,))]
    told = [n.event_type for n in notifier.sent]
    assert told.count(EventType.HASH_WITHDRAWN) == len(PLATFORMS) and EventType.SHARE_REJECTED not in told


def test_a_status_change_made_by_no_request_names_none(bank: Bank) -> None:
    # A share rolled back withdraws what it stored, as no request: an earlier request's name must
    # not stay on the item, or a retry of that request would take this change for its own.
    item = _item(bank)
    assert bank.set_status(item.item_id, "quarantined", "t1", expected=("active",), by="request-r") is not None
    assert bank.get_items([item.item_id])[item.item_id].status_by == "request-r"
    assert bank.set_status(item.item_id, "active", "t2", expected=("quarantined",)) is not None
    assert bank.get_items([item.item_id])[item.item_id].status_by is None
    bank.set_status(item.item_id, "active", "t3", expected=("active",), by="request-s")
    bank.withdraw_items([item], "t4")
    withdrawn = bank.get_items([item.item_id])[item.item_id]
    assert (withdrawn.status, withdrawn.status_at, withdrawn.status_by) == ("withdrawn", "t4", None)
