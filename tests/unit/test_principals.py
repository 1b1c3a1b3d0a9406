"""Members in their own accounts: the edge refuses an object whose writer is not the role of the
platform its key names, tells that platform (`wrong_principal`) and the audit log, and never reads
the object's body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

import pytest

from hashmatch.edge.principals import PrincipalCheck, role_id_of
from hashmatch.media.model import RejectReason
from hashmatch.service.events import objects_from_message
from hashmatch.service.notifications import EventType, ObjectRef
from hashmatch.service.routing import OPERATOR, Route
from hashmatch_tools.fakes import MemoryAuditLog, MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "reddit")
BUCKET = "ingest"
TIKTOK_ROLE, FACEBOOK_ROLE, REDDIT_ROLE = "AROATIKTOKEXAMPLE1", "AROAFACEBOOKEXAMPLE", "AROAREDDITEXAMPLE"


class FixedRoles:
    """Member roles whose ids can change (`current`), kept as first read until asked `fresh`."""

    def __init__(self, role_ids: Mapping[str, str]) -> None:
        self.current = dict(role_ids)
        self.kept = dict(role_ids)
        self.lookups = 0

    def role_ids(self, *, fresh: bool = False) -> Mapping[str, str]:
        if fresh:
            self.lookups += 1
            self.kept = dict(self.current)
        return self.kept


def _assumed(role_id: str) -> str:
    return f"AWS:{role_id}:upload-session"


@pytest.fixture
def coalition():
    store, notifier, audit = MemoryStore(), RecordingNotifier(), MemoryAuditLog()
    roles = FixedRoles({"tiktok": TIKTOK_ROLE, "facebook": FACEBOOK_ROLE, "reddit": REDDIT_ROLE})
    pipeline = service_on(MemoryBank(), store, notifier, PLATFORMS, audit=audit, principals=PrincipalCheck(roles))
    return pipeline, store, notifier, audit


def _drop(store: MemoryStore, key: str, principal: str, body: bytes | None = None) -> ObjectRef:
    obj = store.put(BUCKET, key, body or jpeg_bytes(scene(7)), {"content-id": "clip-1"})
    return replace(obj, principal=principal)


@pytest.mark.parametrize(
    ("principal", "found"),
    [
        ("AWS:AROAEXAMPLE:session", "AROAEXAMPLE"),
        ("AROAEXAMPLE:botocore-session-1", "AROAEXAMPLE"),
        ("AWS:AIDAEXAMPLE", None),
        ("AWS:111111111111", None),
        ("", None),
    ],
)
def test_the_role_id_is_read_from_the_events_principal(principal: str, found: str | None) -> None:
    assert role_id_of(principal) == found


def test_a_platforms_own_role_uploads_and_is_hashed(coalition) -> None:
    pipeline, store, notifier, _ = coalition
    pipeline.process(_drop(store, "check/tiktok/a.jpg", _assumed(TIKTOK_ROLE)))
    (verdict,) = notifier.to("tiktok")
    assert verdict.event_type is EventType.CHECK_CLEAN
    assert store.objects == {}


@pytest.mark.parametrize(
    "principal",
    [_assumed(FACEBOOK_ROLE), "AWS:AIDACOALITIONUSER", "AWS:AROASOMEOTHERROLE:s", ""],
    ids=["another-platforms-role", "a-user-of-the-coalition-account", "another-role", "no-principal"],
)
def test_anyone_else_under_a_platforms_prefix_is_refused_to_that_platform_and_audited(coalition, principal) -> None:
    pipeline, store, notifier, audit = coalition
    pipeline.process(_drop(store, "share/tiktok/a.jpg", principal))
    (refused,) = notifier.to("tiktok")
    assert refused.event_type is EventType.SHARE_REJECTED
    assert refused.body["rejection"]["reason"] == "wrong_principal"
    assert refused.body["content_id"] == "clip-1"
    assert notifier.to("facebook") == []
    assert pipeline.sink.sent[0].kind.value == "rejection"  # handed on without hashes
    assert store.objects == {}  # deleted, never hashed
    (record,) = audit.records
    assert (record.action, record.outcome, record.request) == ("share", "refused", "share/tiktok/a.jpg")
    assert record.reason.startswith("wrong_principal: written by")


def test_the_body_of_a_refused_object_is_never_read(coalition) -> None:
    pipeline, store, notifier, _ = coalition
    obj = _drop(store, "check/tiktok/a.jpg", _assumed(FACEBOOK_ROLE))

    def fetch(*args, **kwargs):
        raise AssertionError("a refused object was fetched")

    store.fetch = fetch  # type: ignore[method-assign]
    pipeline.process(obj)
    assert notifier.to("tiktok")[0].body["rejection"]["reason"] == "wrong_principal"


def test_a_platforms_role_may_not_drop_an_operators_request(coalition) -> None:
    pipeline, store, _, audit = coalition
    pipeline.process(_drop(store, "operator/q.json", _assumed(TIKTOK_ROLE), b'{"action": "quarantine"}'))
    assert audit.records[-1].actor == "operator" and audit.records[-1].outcome == "refused"
    assert "wrong_principal" in audit.records[-1].reason
    assert store.objects == {}


def test_the_refusal_names_the_writer(coalition) -> None:
    pipeline, store, notifier, _ = coalition
    pipeline.process(_drop(store, "check/reddit/a.jpg", _assumed(TIKTOK_ROLE)))
    pipeline.process(_drop(store, "check/reddit/b.jpg", "AWS:AIDACOALITIONUSER"))
    first, second = (n.body["rejection"]["message"] for n in notifier.to("reddit"))
    assert first.startswith("written by tiktok's role; only reddit's role may write under reddit's prefixes")
    assert second.startswith("written by principal AWS:AIDACOALITIONUSER;")


def test_an_operators_request_from_outside_the_platforms_roles_is_not_refused() -> None:
    check = PrincipalCheck(FixedRoles({"tiktok": TIKTOK_ROLE}))
    assert check.refusal(Route("operator", OPERATOR), "AWS:AROAOPERATORS:alice") is None


def test_with_no_members_nothing_is_checked() -> None:
    check = PrincipalCheck(FixedRoles({}))
    assert check.refusal(Route("share", "tiktok"), "") is None
    assert check.refusal(Route("operator", OPERATOR), "AWS:AROAANY:s") is None


def test_a_role_created_again_is_looked_up_again_at_most_once_a_minute() -> None:
    now = [0.0]
    roles = FixedRoles({"tiktok": TIKTOK_ROLE})
    check = PrincipalCheck(roles, clock=lambda: now[0])
    roles.current = {"tiktok": "AROANEWTIKTOKROLE"}
    assert check.refusal(Route("check", "tiktok"), _assumed("AROANEWTIKTOKROLE")) is None
    assert roles.lookups == 1
    refused = check.refusal(Route("check", "tiktok"), _assumed(FACEBOOK_ROLE))
    assert refused is not None and refused.reason is RejectReason.WRONG_PRINCIPAL
    assert roles.lookups == 1  # within the minute: no look-up for every refused object
    now[0] = 61.0
    assert check.refusal(Route("check", "tiktok"), _assumed(FACEBOOK_ROLE)) is not None
    assert roles.lookups == 2


def test_the_s3_event_names_the_principal_and_it_is_no_part_of_the_identity() -> None:
    record = {
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROATIKTOKEXAMPLE1:tiktok-uploader"},
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "share/tiktok/a.jpg", "sequencer": "01"}},
    }
    (obj,) = objects_from_message(json.dumps({"Records": [record]}))
    assert obj.principal == "AWS:AROATIKTOKEXAMPLE1:tiktok-uploader"
    assert obj.identity == replace(obj, principal="").identity
    del record["userIdentity"]
    assert objects_from_message(json.dumps({"Records": [record]}))[0].principal == ""
