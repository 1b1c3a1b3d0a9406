"""Governance: the closed taxonomy, and what may enter the bank (labels, severities, hashes)."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime

import pytest

from hashmatch.bank.model import NearEntry, Provenance, SharedItem
from hashmatch.edge.ingest import SHARE_PART_ENTRIES
from hashmatch.governance.admission import admit
from hashmatch.governance.taxonomy import TaxonomyError, taxonomy, taxonomy_from_json
from hashmatch.media.model import Rejected, RejectReason
from hashmatch.service.notifications import EventType, notification_schema
from hashmatch.signals import SIGNALS
from hashmatch_tools.cli import main
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, scene

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube")
WHEN = "2026-12-04T12:00:00.000Z"
# The PDQ and pHash of `scene(11)`: about half their bits set, few repeated bytes.
PDQ = "f7f061c3c3af38382fc374f81c03bcf8c75a8450b6b4c03c2d780692bce5d3b5"
PHASH = "a3d657ac0f1e1e05"


def _item(labels: tuple[str, ...] = ("graphic-violence",), severity: str | None = None, pdq: str = PDQ) -> SharedItem:
    return SharedItem(
        "item-1",
        Provenance("tiktok", WHEN, labels, severity=severity),
        "hashes",
        {"pdq": pdq},
        near_entries=(NearEntry("pdq", pdq),),
    )


def test_the_taxonomy_is_narrow_and_has_the_ids_clients_use() -> None:
    scheme = taxonomy()
    assert set(scheme.ids) == {"graphic-violence", "suicide-self-harm", "violent-extremism"}
    for label in scheme.labels:
        assert label.definition and label.include and label.exclude, label.id
    assert scheme.severities == ("low", "medium", "high", "critical")


def test_labels_resolve_to_ids_and_anything_else_is_refused() -> None:
    scheme = taxonomy()
    assert scheme.canonical_labels(["Gore", "graphic violence", "terrorism"]) == (
        "graphic-violence",
        "violent-extremism",
    )
    with pytest.raises(TaxonomyError, match=r"'memes'.*allowed: graphic-violence"):
        scheme.canonical_labels(["graphic-violence", "memes"])
    assert scheme.severity(" High ") == "high" and scheme.severity(None) is None
    with pytest.raises(TaxonomyError, match="not on the scale"):
        scheme.severity("apocalyptic")


def test_a_taxonomy_with_a_name_given_twice_is_not_loaded() -> None:
    document = {
        "version": "x",
        "severities": ["low"],
        "labels": [
            {"id": "a", "definition": "a", "aliases": ["b"]},
            {"id": "b", "definition": "b"},
        ],
    }
    with pytest.raises(ValueError, match="twice"):
        taxonomy_from_json(document)


def test_admit_stores_ids_and_refuses_labels_severities_and_degenerate_hashes() -> None:
    admitted = admit(_item(("gore", "self-harm"), severity="HIGH"))
    assert admitted.provenance.labels == ("graphic-violence", "suicide-self-harm")
    assert admitted.provenance.severity == "high"
    cases = [
        (_item(("terrorism", "satire")), RejectReason.INVALID_LABEL),
        (_item(severity="extreme"), RejectReason.INVALID_SEVERITY),
        (_item(pdq="0" * 64), RejectReason.DEGENERATE_HASH),
        (_item(pdq="f" * 60 + "0" * 4), RejectReason.DEGENERATE_HASH),
        (_item(pdq="a5" * 32), RejectReason.DEGENERATE_HASH),  # half the bits set, one byte repeated
    ]
    for item, reason in cases:
        with pytest.raises(Rejected) as refused:
            admit(item, "line 7: ")
        assert refused.value.reason is reason
        assert refused.value.message.startswith("line 7: ")


def test_real_hashes_are_not_degenerate() -> None:
    rng = random.Random(20261204)
    for signal in (SIGNALS.get("pdq"), SIGNALS.get("phash")):
        assert signal.balanced
        for _ in range(200):
            # A median-thresholded hash: exactly half the bits set, in a random order.
            bits = [1] * (signal.bits // 2) + [0] * (signal.bits // 2)
            rng.shuffle(bits)
            value = int("".join(map(str, bits)), 2).to_bytes(signal.bits // 8, "big").hex()
            assert signal.degenerate(value) is None, value
    assert SIGNALS.get("pdq").degenerate(PDQ) is None and SIGNALS.get("phash").degenerate(PHASH) is None
    assert SIGNALS.get("md5").degenerate("0" * 32) is None  # exact digests are what they are


def _service():
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    clock = lambda: datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # noqa: E731
    return service_on(bank, store, notifier, PLATFORMS, clock=clock), store, bank, notifier


def test_a_share_with_a_label_outside_the_taxonomy_is_refused_whole() -> None:
    service, store, bank, notifier = _service()
    service.process(store.put("ingest", "share/tiktok/a.jpg", jpeg_bytes(scene(1)), {"labels": "gore,memes"}))
    (refused,) = notifier.sent
    assert refused.platform == "tiktok" and refused.event_type is EventType.SHARE_REJECTED
    assert refused.body["rejection"]["reason"] == "invalid_label" and "'memes'" in refused.body["rejection"]["message"]
    assert bank.items == {}


def test_a_hash_list_with_one_degenerate_entry_shares_nothing() -> None:
    service, store, bank, notifier = _service()
    lines = [{"pdq": PDQ}, {"pdq": "0" * 64}, {"phash": PHASH}]
    listing = "".join(json.dumps(line) + "\n" for line in lines)
    service.process(store.put("ingest", "share/tiktok/list.jsonl", listing.encode(), {"labels": "terrorism"}))
    (refused,) = notifier.sent
    assert refused.body["rejection"]["reason"] == "degenerate_hash"
    assert refused.body["rejection"]["message"].startswith("line 2: ")
    assert bank.items == {}


def test_a_share_stores_taxonomy_ids_and_rivals_see_no_object_or_content_id() -> None:
    service, store, bank, notifier = _service()
    metadata = {"labels": "terrorism", "severity": "Critical", "content-id": "tiktok-video-77"}
    service.process(store.put("ingest", "share/tiktok/secret/a.jpg", jpeg_bytes(scene(3)), metadata))
    (item,) = bank.items.values()
    assert item.provenance.labels == ("violent-extremism",) and item.provenance.severity == "critical"
    (own,) = notifier.to("tiktok")
    assert own.event_type is EventType.SHARE_ACCEPTED and own.body["content_id"] == "tiktok-video-77"
    for rival in ("facebook", "youtube"):
        (alert,) = notifier.to(rival)
        text = json.dumps(alert.body)
        assert alert.event_type is EventType.HASH_SHARED and alert.labels == ("violent-extremism",)
        assert "tiktok-video-77" not in text and "secret/a.jpg" not in text
        assert alert.body["taxonomy_version"] == taxonomy().version


def test_the_schema_knows_every_refusal_reason() -> None:
    reasons = notification_schema()["properties"]["rejection"]["properties"]["reason"]["enum"]
    assert {"invalid_label", "invalid_severity", "degenerate_hash"} <= set(reasons)
    assert set(reasons) == {reason.value for reason in RejectReason}


def test_hashmatch_taxonomy_prints_one_json_line_per_label(capsys) -> None:
    assert main(["taxonomy"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == list(taxonomy().ids)
    assert all(line["definition"] and line["taxonomy_version"] == taxonomy().version for line in lines)


def test_hashmatch_share_refuses_an_unknown_label_before_uploading(capsys) -> None:
    assert main(["share", "--platform", "tiktok", "--label", "memes", "missing.jpg"]) == 2
    assert "outside the coalition's taxonomy" in capsys.readouterr().err


def test_a_list_shared_in_parts_is_refused_whole_for_its_last_line() -> None:
    # 5,001 entries: two parts of a share; the bad line is in the second.
    rows = [f"pdq,{hashlib.sha256(str(n).encode()).hexdigest()}" for n in range(SHARE_PART_ENTRIES)]
    service, store, bank, notifier = _service()
    listing = "\n".join(["signal,hash", *rows, f"pdq,{'0' * 64}"]) + "\n"
    service.process(store.put("ingest", "share/tiktok/list.csv", listing.encode(), {"labels": "gore"}))
    (refused,) = notifier.sent  # not part 1 accepted, then part 2 refused
    assert refused.event_type is EventType.SHARE_REJECTED
    assert refused.body["rejection"]["reason"] == "degenerate_hash"
    assert f"line {SHARE_PART_ENTRIES + 2}: " in refused.body["rejection"]["message"]
    assert bank.items == {}


def test_a_list_with_a_label_outside_the_taxonomy_on_one_line_is_refused_before_any_part() -> None:
    lines = [{"pdq": hashlib.sha256(str(n).encode()).hexdigest()} for n in range(SHARE_PART_ENTRIES)]
    lines.append({"pdq": PDQ, "labels": ["graphic-violence", "satire"]})
    service, store, bank, notifier = _service()
    listing = "".join(json.dumps(line) + "\n" for line in lines)
    service.process(store.put("ingest", "share/tiktok/list.jsonl", listing.encode(), {"labels": "gore"}))
    (refused,) = notifier.sent
    assert refused.body["rejection"]["reason"] == "invalid_label" and "'satire'" in refused.body["rejection"]["message"]
    assert f"line {SHARE_PART_ENTRIES + 1}: " in refused.body["rejection"]["message"]
    assert bank.items == {}
