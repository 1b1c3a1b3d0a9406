"""Who wrote a request is on its audit record, as S3 named them: an operator's name is what the
request says, the writer is what it is checked against."""

from __future__ import annotations

import pytest

from hashmatch.bank.model import NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.governance.policy import CoalitionRules
from hashmatch.service.governance import Governance
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.ports import AuditRecord
from hashmatch.service.routing import OPERATOR
from hashmatch.service.submission import Kind, Submission, submission_from_json
from hashmatch_tools.fakes import MemoryBank

PDQ = "f" * 16 + "0" * 16 + "a5" * 16
WRITER = "AWS:AROAEXAMPLEOPERATOR1:bob-laptop"


class Kept:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def append(self, records: list[AuditRecord]) -> None:
        self.records += records


def test_an_operators_request_is_recorded_with_the_principal_that_wrote_it() -> None:
    bank, audit = MemoryBank(), Kept()
    item = SharedItem(
        item_id_for("tiktok", "pdq", PDQ), Provenance("tiktok", "t0"), "hashes", {"pdq": PDQ}, (NearEntry("pdq", PDQ),)
    )
    bank.put_items([item])
    governance = Governance(
        bank=bank, platforms=("tiktok", "youtube"), rules=CoalitionRules(), audit=audit, now=lambda: "t1"
    )
    request = {"action": "quarantine", "item_id": item.item_id, "reason": "review", "operator": "alice"}
    where = ObjectRef("ingest", "operator/q.json", "e", 1, "s", WRITER)
    sent = Submission("operator", OPERATOR, where, Kind.REQUEST, request=request)
    received = submission_from_json(sent.to_json())  # across the queue between the two functions
    assert received.obj.principal == WRITER
    governance.operator(received)
    (record,) = audit.records
    assert (record.actor, record.writer, record.request) == ("operator:alice", WRITER, "operator/q.json")


def test_a_principal_is_kept_as_printable_text_of_bounded_length() -> None:
    document = Submission("operator", OPERATOR, ObjectRef("ingest", "operator/q.json"), Kind.REQUEST).to_json()
    document["object"]["principal"] = "AWS:AROA\nforged" + "x" * 1000
    principal = submission_from_json(document).obj.principal
    assert principal.startswith("AWS:AROA?forged") and len(principal) == 256
    document["object"]["principal"] = 7
    with pytest.raises(ValueError, match="principal"):
        submission_from_json(document)
