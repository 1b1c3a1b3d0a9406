"""Governance carried out (`hashmatch.service.governance`), through the real edge and service on
in-memory ports: member policies, feedback, disputes and quarantine, operators' actions, the
benign bank, quotas, provenance kept on re-share, and the audit log of all of it."""

from __future__ import annotations

import json

import pytest
from PIL import ImageOps

from hashmatch.governance.admission import BenignScreen
from hashmatch.governance.policy import CoalitionRules, MemberPolicy, PolicyError, parse_member_policies
from hashmatch.governance.requests import feedback_from_json, operator_request_from_json
from hashmatch.media.hashing import hash_file
from hashmatch.media.model import Rejected
from hashmatch.service.notifications import EventType, Notification
from hashmatch.service.routing import OPERATOR
from hashmatch.service.submission import Kind, Submission
from hashmatch_tools.governing import build_report
from hashmatch_tools.samples import jpeg_bytes, scene
from tests.unit.coalition import InMemoryCoalition

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube", "twitch", "reddit")
BUCKET = "ingest"


class Coalition(InMemoryCoalition):
    def __init__(self, rules: CoalitionRules | None = None) -> None:
        super().__init__(PLATFORMS, rules)

    def share(self, platform: str, seed: int, labels: str = "graphic-violence") -> str:
        self.drop(f"share/{platform}/a.jpg", jpeg_bytes(scene(seed)), {"labels": labels})
        answer = self.last(platform)
        assert answer.event_type is EventType.SHARE_ACCEPTED, answer.body
        return str(answer.body["items"][0]["item_id"])

    def check(self, platform: str, seed: int, mirrored: bool = True) -> Notification:
        picture = scene(seed)
        self.drop(f"check/{platform}/c.jpg", jpeg_bytes(ImageOps.mirror(picture) if mirrored else picture))
        return self.last(platform)

    def feedback(self, platform: str, target: str, verdict: str, reason: str = "not in scope") -> None:
        request = {"target": target, "verdict": verdict, "reason": reason}
        self.drop(f"feedback/{platform}/f.json", json.dumps(request).encode())


def test_disputes_from_the_quorum_quarantine_an_item_and_an_operator_restores_it() -> None:
    coalition = Coalition()
    item = coalition.share("tiktok", 1)
    assert coalition.check("facebook", 1).event_type is EventType.MATCH_FOUND

    coalition.feedback("facebook", item, "dispute", "a film still, not real violence")
    coalition.feedback("youtube", item, "dispute", "a film still")
    assert coalition.check("reddit", 1).event_type is EventType.MATCH_FOUND  # 2 of 3: still matching
    disputed = coalition.last("tiktok")
    assert disputed.event_type is EventType.HASH_DISPUTED
    assert disputed.body["governance"] == {
        "action": "disputed",
        "disputes": 2,
        "quorum": 3,
        "by": "youtube",
        "reason": "a film still",
    }
    assert "by" not in coalition.last("twitch").body["governance"]  # only the contributor hears who

    coalition.feedback("twitch", item, "dispute", "trailer footage")
    for platform in PLATFORMS:
        assert coalition.last(platform).event_type is EventType.HASH_QUARANTINED
    told = coalition.last("tiktok").body["governance"]
    assert [d["member"] for d in told["disputes_by"]] == ["facebook", "twitch", "youtube"]
    assert "disputes_by" not in coalition.last("reddit").body["governance"]
    assert coalition.check("reddit", 1).event_type is EventType.CHECK_CLEAN

    coalition.operator(action="restore", item_id=item)
    assert coalition.last("reddit").event_type is EventType.HASH_RESTORED
    assert coalition.check("reddit", 1).event_type is EventType.MATCH_FOUND
    assert coalition.bank.items[item].disputed_by == ()  # reviewed: a new dispute starts from zero

    actions = [(r.action, r.actor, r.outcome) for r in coalition.audit.records]
    assert actions[:1] == [("share", "platform:tiktok", "done")]
    assert ("dispute", "platform:twitch", "done") in actions
    assert ("quarantine", "coalition", "done") in actions
    assert actions[-1] == ("restore", "operator:alice", "done")
    coalition.assert_valid()


def test_the_contributor_cannot_dispute_its_own_item_and_unknown_targets_are_refused() -> None:
    coalition = Coalition()
    item = coalition.share("tiktok", 2)
    coalition.feedback("tiktok", item, "dispute", "mine")
    refused = coalition.last("tiktok")
    assert refused.event_type is EventType.FEEDBACK_REJECTED
    assert refused.body["rejection"]["reason"] == "own_item"
    coalition.feedback("facebook", "0" * 32, "confirm")
    assert coalition.last("facebook").body["rejection"]["reason"] == "unknown_item"
    coalition.drop("feedback/facebook/f.json", b'{"target": "x", "verdict": "maybe"}')
    assert coalition.last("facebook").body["rejection"]["reason"] == "invalid_request"
    assert [r.outcome for r in coalition.audit.records[-3:]] == ["refused"] * 3
    coalition.assert_valid()


def test_feedback_by_notification_id_comes_from_its_recipient_only() -> None:
    coalition = Coalition()
    item = coalition.share("tiktok", 3)
    found = coalition.check("facebook", 3)
    notification_id = found.body["notification_id"]
    coalition.feedback("youtube", notification_id, "dispute", "not mine to see")
    assert coalition.last("youtube").body["rejection"]["reason"] == "unknown_item"
    coalition.feedback("facebook", notification_id, "confirm")
    assert coalition.last("facebook").event_type is EventType.HASH_CONFIRMED
    assert coalition.bank.items[item].confirmed_by == ("facebook",)
    # Corroboration is shown on every match: the contributor and the member who confirmed.
    again = coalition.check("reddit", 3)
    assert again.body["corroboration"] == ["facebook", "tiktok"]
    assert again.body["matches"][0]["backers"] == ["facebook", "tiktok"]
    coalition.assert_valid()


def test_a_member_requiring_two_backers_sees_no_match_until_a_second_member_stands_behind_it() -> None:
    rules = CoalitionRules(policies={"reddit": MemberPolicy(required_backers=2)})
    coalition = Coalition(rules)
    item = coalition.share("tiktok", 4)
    assert coalition.check("reddit", 4).event_type is EventType.CHECK_CLEAN
    assert coalition.check("facebook", 4).event_type is EventType.MATCH_FOUND  # the default policy
    coalition.feedback("youtube", item, "confirm")
    assert coalition.check("reddit", 4).event_type is EventType.MATCH_FOUND


def test_labels_and_trusted_contributors_decide_what_a_member_hears() -> None:
    rules = CoalitionRules(
        policies={
            "reddit": MemberPolicy(labels=frozenset({"violent-extremism"})),
            "twitch": MemberPolicy(trusted=frozenset({"youtube", "twitch"})),
        }
    )
    coalition = Coalition(rules)
    coalition.share("tiktok", 5, labels="graphic-violence")
    assert EventType.HASH_SHARED.value not in coalition.events("reddit")
    assert EventType.HASH_SHARED.value not in coalition.events("twitch")
    assert coalition.check("reddit", 5).event_type is EventType.CHECK_CLEAN
    assert coalition.check("twitch", 5).event_type is EventType.CHECK_CLEAN
    assert coalition.check("facebook", 5).event_type is EventType.MATCH_FOUND
    coalition.share("youtube", 6, labels="violent-extremism")
    assert coalition.check("reddit", 6).event_type is EventType.MATCH_FOUND
    assert coalition.check("twitch", 6).event_type is EventType.MATCH_FOUND


def test_the_benign_bank_refuses_colliding_shares_and_explains_checks() -> None:
    coalition = Coalition()
    template = scene(7)
    pdq = hash_file_of(template)
    coalition.operator(action="benign", hashes=[{"pdq": pdq, "note": "meme template"}])
    assert coalition.audit.records[-1].action == "benign"
    resized = template.resize((800, 600))
    coalition.drop("share/tiktok/meme.jpg", jpeg_bytes(resized, quality=60), {"labels": "violent-extremism"})
    refused = coalition.last("tiktok")
    assert refused.event_type is EventType.SHARE_REJECTED
    assert refused.body["rejection"]["reason"] == "benign_collision"
    assert coalition.check("facebook", 7).event_type is EventType.CHECK_CLEAN  # benign alone accuses nobody

    # An item shared before its picture was found common: a check matching both says so.
    coalition.share("tiktok", 13)
    coalition.operator(action="benign", hashes=[{"pdq": hash_file_of(scene(13))}])
    both = coalition.check("facebook", 13, mirrored=False)
    assert both.event_type is EventType.MATCH_FOUND and both.body["benign_collision"] is True
    assert {m.get("benign", False) for m in both.body["matches"]} == {True, False}
    assert both.body["contributors"] == ["tiktok"]
    coalition.assert_valid()


def hash_file_of(picture) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.jpg"
        path.write_bytes(jpeg_bytes(picture))
        return hash_file(path).signals["pdq"]


def test_a_member_over_its_daily_quota_is_rate_limited() -> None:
    coalition = Coalition(CoalitionRules(share_quota=2))
    coalition.share("tiktok", 8)
    coalition.share("tiktok", 9)
    coalition.drop("share/tiktok/a.jpg", jpeg_bytes(scene(10)), {"labels": "graphic-violence"})
    assert coalition.last("tiktok").body["rejection"]["reason"] == "rate_limited"
    coalition.share("facebook", 10)  # another member's quota is its own


def test_re_sharing_keeps_the_first_provenance_and_cannot_lift_a_quarantine() -> None:
    coalition = Coalition()
    item = coalition.share("tiktok", 11, labels="graphic-violence")
    first = coalition.bank.items[item].provenance
    coalition.operator(action="quarantine", item_id=item)
    coalition.drop("share/tiktok/a.jpg", jpeg_bytes(scene(11)), {"labels": "violent-extremism"})
    assert coalition.bank.items[item].provenance == first
    assert coalition.bank.items[item].status == "quarantined"
    assert coalition.check("facebook", 11).event_type is EventType.CHECK_CLEAN
    assert [r.action for r in coalition.audit.records if item in r.item_ids][-1] == "reshare"


def test_operator_requests_that_cannot_be_carried_out_are_refused_on_the_record() -> None:
    coalition = Coalition()
    item = coalition.share("tiktok", 12)
    coalition.operator(action="restore", item_id=item)  # not quarantined
    coalition.operator(action="remove", item_id="f" * 32)
    coalition.drop("operator/r.json", b"not json")
    assert [r.outcome for r in coalition.audit.records[-3:]] == ["refused"] * 3
    assert "it is active, not quarantined" in coalition.audit.records[-3].reason
    coalition.operator(action="remove", item_id=item)
    assert coalition.last("facebook").event_type is EventType.HASH_REMOVED
    assert coalition.check("facebook", 12).event_type is EventType.CHECK_CLEAN
    coalition.operator(action="restore", item_id=item)  # removed is for good
    assert coalition.audit.records[-1].outcome == "refused"
    assert all(n.platform != "@operator" for n in coalition.notifier.sent)


def test_requests_are_parsed_strictly() -> None:
    with pytest.raises(Rejected, match="needs a reason"):
        feedback_from_json({"target": "a" * 32, "verdict": "dispute"})
    with pytest.raises(Rejected, match="unknown field 'targte'"):
        feedback_from_json({"targte": "a" * 32, "verdict": "confirm"})
    with pytest.raises(Rejected, match="32 lowercase hex digits"):
        feedback_from_json({"target": "a" * 32 + "\n", "verdict": "confirm"})
    with pytest.raises(Rejected, match="32 lowercase hex digits"):
        operator_request_from_json({"action": "remove", "item_id": "a" * 32 + "\n", "reason": "r", "operator": "x"})
    with pytest.raises(Rejected, match="operator and its reason"):
        operator_request_from_json({"action": "quarantine", "item_id": "a" * 32, "reason": "", "operator": "x"})
    with pytest.raises(Rejected, match=r"hashes\[1\]"):
        operator_request_from_json({"action": "benign", "hashes": [{"pdq": "zz"}], "reason": "r", "operator": "x"})


def test_member_policies_are_checked_against_taxonomy_members_and_bounds() -> None:
    policies = parse_member_policies({"tiktok": {"labels": ["terrorism"], "required_backers": 2}}, PLATFORMS)
    assert policies["tiktok"].labels == frozenset({"violent-extremism"})
    for bad, message in [
        ({"nobody": {}}, "not a member"),
        ({"tiktok": {"labels": ["memes"]}}, "memes"),
        ({"tiktok": {"trusted": ["nobody"]}}, "trusted"),
        ({"tiktok": {"required_backers": 4}}, "1..3"),
        ({"tiktok": {"colour": "red"}}, "unknown field"),
    ]:
        with pytest.raises(PolicyError, match=message):
            parse_member_policies(bad, PLATFORMS)
    with pytest.raises(PolicyError, match="quorum"):
        CoalitionRules(dispute_quorum=1)


def test_the_benign_screen_catches_near_and_exact_hashes_only() -> None:
    pdq = hash_file_of(scene(20))
    flipped = f"{int(pdq, 16) ^ ((1 << 40) - 1):064x}"  # 40 bits away: past the PDQ threshold
    near = f"{int(pdq, 16) ^ 0b1111:064x}"
    screen = BenignScreen([("b1", "pdq", pdq), ("b2", "md5", "a" * 32)])
    assert screen.collision([("pdq", near)]) == ("b1", "pdq", 4)
    assert screen.collision([("md5", "a" * 32)]) == ("b2", "md5", 0)
    assert screen.collision([("pdq", flipped), ("md5", "b" * 32), ("phash", "0" * 16)]) is None


def test_the_report_counts_by_label_and_contributor_and_shows_a_member_only_its_own_matches() -> None:
    coalition = Coalition()
    kept = coalition.share("tiktok", 21, labels="graphic-violence")
    disputed = coalition.share("youtube", 22, labels="violent-extremism")
    coalition.feedback("facebook", disputed, "dispute", "a news report")
    coalition.drop("withdraw/tiktok/w.txt", f"sha256:{coalition.bank.items[kept].signals['sha256']}\n".encode())
    for platform in ("facebook", "reddit", "reddit"):
        coalition.check(platform, 22)
    coalition.share("tiktok", 23, labels="graphic-violence")
    coalition.check("reddit", 23)
    since = "2026-12-04T00:00:00.000Z"
    items, counts = list(coalition.bank.items.values()), list(coalition.bank.match_counts(since))

    public = build_report(items, counts, since, None)
    assert public["items_by_label"]["graphic-violence"] == {
        "shared": 2,
        "withdrawn": 1,
        "disputed": 0,
        "quarantined": 0,
        "removed": 0,
    }
    assert public["items_by_label"]["violent-extremism"]["disputed"] == 1
    assert public["items_by_contributor"]["tiktok"]["shared"] == 2
    assert public["matches"] == [
        {"label": "graphic-violence", "member": "all members", "checks": 1},
        {"label": "violent-extremism", "member": "all members", "checks": 3},
    ]
    as_reddit = build_report(items, counts, since, "reddit")["matches"]
    assert {"label": "violent-extremism", "member": "reddit", "checks": 2} in as_reddit
    assert {"label": "violent-extremism", "member": "other members", "checks": 1} in as_reddit
    assert not [m for m in as_reddit if m["member"] not in ("reddit", "other members")]


def test_a_shared_list_is_one_audit_record_and_a_re_share_another() -> None:
    coalition = Coalition()
    pdqs = [hash_file_of(scene(seed)) for seed in (30, 31, 32)]
    listing = "".join(f"pdq:{pdq}\n" for pdq in pdqs).encode()
    coalition.drop("share/tiktok/list.txt", listing, {"labels": "graphic-violence"})
    (shared,) = [r for r in coalition.audit.records if r.action == "share"]
    assert len(shared.item_ids) == 3 and shared.detail == {"labels": ["graphic-violence"]}
    coalition.drop("share/tiktok/list.txt", listing[: listing.index(b"\n") + 1], {"labels": "graphic-violence"})
    (reshared,) = [r for r in coalition.audit.records if r.action == "reshare"]
    assert len(reshared.item_ids) == 1 and reshared.item_ids[0] in shared.item_ids


def test_an_operator_request_that_fails_on_every_try_is_on_the_record_not_on_a_topic() -> None:
    coalition = Coalition()
    body = json.dumps({"action": "quarantine", "item_id": "a" * 32, "reason": "r", "operator": "bob"}).encode()
    obj = coalition.store.put("ingest", "operator/stuck.json", body)
    request = Submission("operator", OPERATOR, obj, Kind.REQUEST, request=json.loads(body))
    coalition.pipeline.coalition.fail(request, "processing failed on every try the queue allows")
    assert coalition.notifier.sent == []
    record = coalition.audit.records[-1]
    assert (record.outcome, record.request) == ("failed", "operator/stuck.json")


def test_confidence_is_on_a_closed_scale_and_travels_with_the_item() -> None:
    coalition = Coalition()
    coalition.drop("share/tiktok/a.jpg", jpeg_bytes(scene(40)), {"labels": "gore", "confidence": "Confirmed"})
    accepted = coalition.last("tiktok")
    assert accepted.body["items"][0]["confidence"] == "confirmed"
    found = coalition.check("facebook", 40)
    assert found.event_type is EventType.MATCH_FOUND and found.body["matches"][0]["confidence"] == "confirmed"
    coalition.drop("share/tiktok/a.jpg", jpeg_bytes(scene(41)), {"labels": "gore", "confidence": "certain"})
    refused = coalition.last("tiktok")
    assert refused.body["rejection"]["reason"] == "invalid_confidence"
    assert "possible, probable, confirmed" in refused.body["rejection"]["message"]
    listing = f'{{"signal": "pdq", "hash": "{hash_file_of(scene(42))}", "confidence": "maybe"}}\n'.encode()
    coalition.drop("share/tiktok/l.jsonl", listing, {"labels": "gore"})
    assert coalition.last("tiktok").body["rejection"]["reason"] == "invalid_confidence"
    coalition.assert_valid()
