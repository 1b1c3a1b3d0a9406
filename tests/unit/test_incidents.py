"""Incidents through the real edge and service on in-memory ports: opened by a member, shares
under it, matches counted per hour and member, escalated, closed by an operator, and shares under
a closed or unknown incident refused; every notification valid against the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from hashmatch.aws.submissions import INCIDENT_GROUP, message_group
from hashmatch.bank.hashlist import parse_hash_list
from hashmatch.governance.incidents import moved, opened
from hashmatch.governance.requests import incident_request_from_json, operator_request_from_json
from hashmatch.media.model import Rejected
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch.service.submission import Kind, Submission
from hashmatch_tools import cli
from hashmatch_tools.fakes import MemoryBank
from hashmatch_tools.samples import jpeg_bytes, scene
from tests.unit.coalition import InMemoryCoalition

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube", "reddit")


class Coalition(InMemoryCoalition):
    def __init__(self) -> None:
        super().__init__(PLATFORMS, now=datetime(2026, 12, 4, 12, 5, tzinfo=UTC))

    def incident(self, platform: str, **request: object) -> None:
        self.drop(f"incident/{platform}/r.json", json.dumps(request).encode())

    def share(self, platform: str, seed: int, incident: str) -> None:
        metadata = {"labels": "violent-extremism", "incident": incident}
        self.drop(f"share/{platform}/a.jpg", jpeg_bytes(scene(seed)), metadata)

    def check(self, platform: str, seed: int) -> None:
        self.drop(f"check/{platform}/c.jpg", jpeg_bytes(ImageOps.mirror(scene(seed))))


def test_an_incident_from_opening_to_closing() -> None:
    coalition = Coalition()
    coalition.incident(
        "tiktok", action="open", incident="inc-7", title="Live-streamed attack", labels=["violent extremism"]
    )
    for platform in PLATFORMS:
        told = coalition.last(platform)
        assert told.event_type is EventType.INCIDENT_OPENED
        assert told.body["incident"]["status"] == "open"
        assert told.body["incident"]["labels"] == ["violent-extremism"]
        assert told.body["incident"]["opened_by"] == "platform:tiktok"

    coalition.share("tiktok", 21, "inc-7")
    accepted = coalition.last("tiktok")
    assert accepted.event_type is EventType.SHARE_ACCEPTED and accepted.body["items"][0]["incident"] == "inc-7"

    coalition.check("facebook", 21)
    found = coalition.last("facebook")
    assert found.event_type is EventType.MATCH_FOUND and found.body["matches"][0]["incident"] == "inc-7"
    coalition.check("facebook", 21)
    coalition.now += timedelta(hours=1)
    coalition.check("reddit", 21)
    coalition.check("reddit", 22)  # clean: nothing counted
    assert coalition.bank.incident_counts("inc-7") == {
        ("2026-12-04T12", "facebook"): 2,
        ("2026-12-04T13", "reddit"): 1,
    }

    coalition.incident("youtube", action="escalate", incident="inc-7", note="spreading fast")
    assert coalition.last("reddit").event_type is EventType.INCIDENT_ESCALATED
    coalition.share("youtube", 23, "inc-7")  # escalated: still taking shares
    assert coalition.last("youtube").event_type is EventType.SHARE_ACCEPTED

    coalition.incident("facebook", action="close", incident="inc-7")  # not its opener
    refused = coalition.last("facebook")
    assert refused.event_type is EventType.INCIDENT_REJECTED
    assert "only it or an operator" in refused.body["rejection"]["message"]

    coalition.operator(action="incident-close", incident="inc-7", reason="contained")
    closed = coalition.last("tiktok")
    assert closed.event_type is EventType.INCIDENT_CLOSED
    assert [(s["action"], s["by"]) for s in closed.body["incident"]["timeline"]] == [
        ("opened", "platform:tiktok"),
        ("escalated", "platform:youtube"),
        ("closed", "operator:alice"),
    ]

    coalition.share("tiktok", 24, "inc-7")
    late = coalition.last("tiktok")
    assert late.event_type is EventType.SHARE_REJECTED
    assert late.body["rejection"]["reason"] == "unknown_incident" and "closed" in late.body["rejection"]["message"]
    coalition.check("facebook", 21)  # what was shared under it still matches, and is still counted
    assert coalition.bank.incident_counts("inc-7")[("2026-12-04T13", "facebook")] == 1

    actions = [(r.action, r.actor, r.outcome) for r in coalition.audit.records if r.action.startswith("incident")]
    assert actions == [
        ("incident-open", "platform:tiktok", "done"),
        ("incident-escalate", "platform:youtube", "done"),
        ("incident-close", "platform:facebook", "refused"),
        ("incident-close", "operator:alice", "done"),
    ]
    coalition.assert_valid()


def test_shares_under_an_unknown_incident_and_bad_requests_are_refused() -> None:
    coalition = Coalition()
    coalition.share("tiktok", 25, "inc-99")
    assert coalition.last("tiktok").body["rejection"]["reason"] == "unknown_incident"
    coalition.incident("tiktok", action="escalate", incident="inc-99")
    assert coalition.last("tiktok").body["rejection"]["reason"] == "unknown_incident"
    coalition.incident("tiktok", action="open", incident="inc-8")  # no title
    assert coalition.last("tiktok").body["rejection"]["reason"] == "invalid_request"
    coalition.incident("tiktok", action="open", incident="inc-8", title="t", labels=["cats"])
    assert coalition.last("tiktok").body["rejection"]["reason"] == "invalid_label"
    coalition.incident("tiktok", action="open", incident="inc-8", title="Raid")
    coalition.incident("facebook", action="open", incident="inc-8", title="Raid again")
    assert "exists already" in coalition.last("facebook").body["rejection"]["message"]
    coalition.drop("incident/tiktok/r.json", b"not json")
    assert coalition.last("tiktok").event_type is EventType.INCIDENT_REJECTED
    # An operator's refused request is on the audit log only.
    coalition.operator(action="incident-escalate", incident="nope")
    assert coalition.audit.records[-1].outcome == "refused"
    assert coalition.bank.get_incident("inc-8") is not None and coalition.bank.get_incident("nope") is None
    coalition.assert_valid()


def test_request_parsing_is_strict() -> None:
    request = incident_request_from_json(
        {"action": "open", "incident": "inc-1", "title": " A ", "labels": ["graphic violence"]}
    )
    assert (request.move, request.title) == ("open", "A")
    for bad in (
        {"action": "reopen", "incident": "inc-1"},
        {"action": "close", "incident": "inc 1"},
        {"action": "close", "incident": "inc-1\n"},  # would read as inc-1 to other members
        {"action": "close", "incident": "inc-1", "colour": "red"},
        {"action": "open", "incident": "inc-1", "title": "t", "labels": "graphic-violence"},
    ):
        with pytest.raises(Rejected):
            incident_request_from_json(bad)
    operator = operator_request_from_json(
        {"action": "incident-escalate", "incident": "inc-1", "operator": "bob", "reason": "spreading"}
    )
    assert operator.incident is not None and operator.incident.move == "escalate"
    with pytest.raises(Rejected):
        operator_request_from_json(
            {"action": "incident-close", "incident": "inc-1\n", "operator": "bob", "reason": "over"}
        )


def test_the_lifecycle_goes_one_way() -> None:
    incident = opened("inc-1", "t", (), "platform:tiktok", "2026-12-04T12:00:00.000Z")
    closed = moved(incident, "close", "operator:bob", "2026-12-04T13:00:00.000Z")
    assert closed.status == "closed" and not closed.accepting
    for move in ("escalate", "close", "open"):
        with pytest.raises(ValueError):
            moved(closed, move, "operator:bob", "2026-12-04T14:00:00.000Z")  # type: ignore[arg-type]


def test_incident_traffic_has_its_own_message_group() -> None:
    obj = ObjectRef("ingest", "share/tiktok/a.jpg")
    plain = Submission("share", "tiktok", obj, Kind.HASHES, {"labels": "graphic-violence"})
    assert message_group(plain) == "tiktok"
    assert message_group(Submission("share", "tiktok", obj, Kind.HASHES, {"incident": "inc-7"})) == INCIDENT_GROUP
    assert message_group(Submission("incident", "tiktok", obj, Kind.REQUEST, {})) == INCIDENT_GROUP
    entries = tuple(
        parse_hash_list(f'{{"signals": {{"sha256": "{"ab" * 32}"}}, "incident": "inc-7"}}\n'.encode(), None)
    )
    assert message_group(Submission("share", "tiktok", obj, Kind.ENTRIES, {}, entries=entries)) == INCIDENT_GROUP
    assert message_group(Submission("check", "tiktok", obj, Kind.HASHES, {"incident": "inc-7"})) == "tiktok"


class _FakeCoalition:
    bucket = "ingest"

    def __init__(self, bank: MemoryBank) -> None:
        self._bank = bank
        self.dropped: list[tuple[str, bytes]] = []

    def bank(self) -> MemoryBank:
        return self._bank

    def put(self, action: str, platform: str, name: str, body: bytes, metadata: object = None) -> str:
        key = f"{action}/{platform}/{name}"
        self.dropped.append((key, body))
        return key

    def put_operator(self, name: str, body: bytes) -> str:
        self.dropped.append((f"operator/{name}", body))
        return f"operator/{name}"


def test_incident_status_prints_the_timeline_and_writes_a_png_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = MemoryBank()
    incident = opened("inc-7", "Live-streamed attack", ("violent-extremism",), "platform:tiktok", "2026-12-04T12:00Z")
    bank.put_incident(moved(incident, "escalate", "platform:youtube", "2026-12-04T13:00Z"), expected=None)
    for hour, member, count in (("2026-12-04T12", "facebook", 3), ("2026-12-04T14", "reddit", 5)):
        bank.count_incident_matches("inc-7", hour, member, count)
    fake = _FakeCoalition(bank)
    monkeypatch.setattr(cli, "_coalition", lambda *_args, **_kwargs: fake)

    chart = tmp_path / "chart.png"
    assert cli.main(["incident", "status", "inc-7", "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert "status escalated" in out and "escalated  platform:youtube" in out
    assert "2026-12-04T13:00" in out  # the quiet hour between is a row of zeros
    rows = [
        line.split()[0] for line in out.splitlines() if line.startswith("  2026-12-04T1") and "platform:" not in line
    ]
    assert rows == ["2026-12-04T12:00", "2026-12-04T13:00", "2026-12-04T14:00"]
    assert chart.stat().st_size > 0 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(chart) as image:
        image.verify()

    assert cli.main(["incident", "escalate", "inc-7", "--platform", "facebook", "--reason", "spreading"]) == 0
    key, body = fake.dropped[-1]
    assert key.startswith("incident/facebook/")
    assert json.loads(body) == {"action": "escalate", "incident": "inc-7", "note": "spreading"}
    assert cli.main(["incident", "close", "inc-7", "--operator", "alice", "--reason", "over"]) == 0
    assert json.loads(fake.dropped[-1][1])["action"] == "incident-close"
    assert cli.main(["incident", "open", "inc-8", "--platform", "tiktok"]) == 2  # no title
    assert cli.main(["incident", "status", "inc-9", "--chart", str(chart)]) == 1
