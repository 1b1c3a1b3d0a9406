"""Exporting the bank (`hashmatch_tools.export`): the three formats, the filters, and the round
trip through a share of the export."""

from __future__ import annotations

import argparse
import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hashmatch.bank.hashlist import parse_hash_list
from hashmatch.bank.model import NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.governance.incidents import opened
from hashmatch.service.notifications import EventType
from hashmatch_tools.export import (
    CSV_COLUMNS,
    add_export_command,
    export_bank,
    export_command,
    export_items,
    parse_time,
)
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on

pytestmark = pytest.mark.unit

PLATFORMS = ("tiktok", "facebook", "youtube")
SHA_A, MD5_A, SHA_B, SHA_C, MD5_C, MD5_E, SHA_W = (
    "a1" * 32,
    "a2" * 16,
    "b1" * 32,
    "c1" * 32,
    "c2" * 16,
    "e2" * 16,
    "d1" * 32,
)
# Perceptual hashes as real ones look (about half the bits set, few repeated bytes): a hash of
# one repeated byte is refused as degenerate.
PDQ_A, PHASH_A = "5be9dfa2e14f06e9d8a621baa9ded888f49a6e380f0d9c00ee91e0ea01d09ff9", "9363a182426ef4b6"
PDQ_B, PHASH_B = "62e5acf97d76e29fa9de781eec5776d0ab877defe24f7d7e00a8c9d6f19cd0d3", "a45477444ba31e6b"
PDQ_W = "41f8474dcf23a86eccc1d0be9813861e588a794ea021a7121c49f3d7d2fc1caa"


def _item(
    contributor: str,
    media: str,
    signals: dict[str, str],
    shared_at: str,
    labels: tuple[str, ...] = (),
    severity: str | None = None,
    incident: str | None = None,
    note: str | None = None,
) -> SharedItem:
    """An item as the service stores it: its id from its sha256 (media) or first signal (a hash list)."""
    primary = ("sha256", signals["sha256"]) if "sha256" in signals else sorted(signals.items())[0]
    return SharedItem(
        item_id=item_id_for(contributor, *primary),
        provenance=Provenance(contributor, shared_at, tuple(sorted(labels)), severity, incident, note),
        media=media,
        signals=signals,
        near_entries=(NearEntry("pdq", signals["pdq"]),) if "pdq" in signals else (),
    )


ITEM_A = _item(
    "tiktok",
    "image",
    {"sha256": SHA_A, "md5": MD5_A, "pdq": PDQ_A, "phash": PHASH_A},
    "2026-01-10T09:00:00.000Z",
    labels=("suicide-self-harm", "graphic-violence"),
    severity="high",
)
ITEM_B = _item(
    "facebook",
    "image",
    {"sha256": SHA_B, "pdq": PDQ_B, "phash": PHASH_B},
    "2026-02-01T00:00:00.000Z",
    labels=("violent-extremism",),
)
ITEM_C = _item(
    "youtube",
    "video",
    {"sha256": SHA_C, "md5": MD5_C},
    "2026-03-01T12:30:00.250Z",
    labels=("graphic-violence",),
    incident="inc-7",
    note="from the live stream",
)
ITEM_E = _item("tiktok", "hashes", {"md5": MD5_E}, "2026-03-02T08:00:00.000Z")
WITHDRAWN = _item(
    "tiktok", "image", {"sha256": SHA_W, "pdq": PDQ_W}, "2026-01-20T00:00:00.000Z", labels=("graphic-violence",)
)
ACTIVE = (ITEM_A, ITEM_B, ITEM_C, ITEM_E)


@pytest.fixture
def bank() -> MemoryBank:
    bank = MemoryBank()
    bank.put_items([WITHDRAWN, ITEM_C, ITEM_A, ITEM_E, ITEM_B])
    bank.withdraw_items([WITHDRAWN], "2026-01-21T00:00:00.000Z")
    return bank


def _export(bank: MemoryBank, fmt: str, **filters: str) -> tuple[str, int]:
    out = io.StringIO()
    count = export_bank(bank, out, fmt, **filters)  # type: ignore[arg-type]
    return out.getvalue(), count


def test_jsonl_holds_every_active_item_with_its_provenance(bank: MemoryBank) -> None:
    text, count = _export(bank, "jsonl")
    records = {record["item_id"]: record for record in map(json.loads, text.splitlines())}
    assert count == 4 and set(records) == {item.item_id for item in ACTIVE}
    assert records[ITEM_A.item_id] == {
        "item_id": ITEM_A.item_id,
        "contributor": "tiktok",
        "shared_at": "2026-01-10T09:00:00.000Z",
        "labels": ["graphic-violence", "suicide-self-harm"],
        "severity": "high",
        "media": "image",
        "signals": {"sha256": SHA_A, "md5": MD5_A, "pdq": PDQ_A, "phash": PHASH_A},
    }
    assert list(records[ITEM_A.item_id]) == [
        "item_id",
        "contributor",
        "shared_at",
        "labels",
        "severity",
        "media",
        "signals",
    ]
    assert records[ITEM_C.item_id]["incident"] == "inc-7" and records[ITEM_C.item_id]["note"] == "from the live stream"
    assert "severity" not in records[ITEM_C.item_id]
    assert records[ITEM_E.item_id] == {
        "item_id": ITEM_E.item_id,
        "contributor": "tiktok",
        "shared_at": "2026-03-02T08:00:00.000Z",
        "labels": [],
        "media": "hashes",
        "signals": {"md5": MD5_E},
    }


def test_csv_has_one_row_per_signal_with_provenance(bank: MemoryBank) -> None:
    text, count = _export(bank, "csv", contributor="tiktok")
    assert count == 2
    lines = text.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert sorted(lines[1:]) == sorted(
        [
            f"sha256,{SHA_A},tiktok,2026-01-10T09:00:00.000Z,graphic-violence;suicide-self-harm",
            f"md5,{MD5_A},tiktok,2026-01-10T09:00:00.000Z,graphic-violence;suicide-self-harm",
            f"pdq,{PDQ_A},tiktok,2026-01-10T09:00:00.000Z,graphic-violence;suicide-self-harm",
            f"phash,{PHASH_A},tiktok,2026-01-10T09:00:00.000Z,graphic-violence;suicide-self-harm",
            f"md5,{MD5_E},tiktok,2026-03-02T08:00:00.000Z,",
        ]
    )
    # An item's rows stay together, in the registry's signal order.
    rows_of_a = [number for number, line in enumerate(lines) if ITEM_A.provenance.shared_at in line]
    assert rows_of_a == list(range(rows_of_a[0], rows_of_a[0] + 4))
    assert [lines[number].split(",")[0] for number in rows_of_a] == ["sha256", "md5", "pdq", "phash"]


def test_threatexchange_writes_tx_names_and_leaves_phash_out(bank: MemoryBank) -> None:
    out = io.StringIO()
    summary = export_items(bank, out, "threatexchange")
    assert sorted(out.getvalue().splitlines()) == sorted(
        [
            f"video_sha256 {SHA_A}",
            f"video_md5 {MD5_A}",
            f"pdq {PDQ_A}",
            f"video_sha256 {SHA_B}",
            f"pdq {PDQ_B}",
            f"video_sha256 {SHA_C}",
            f"video_md5 {MD5_C}",
            f"video_md5 {MD5_E}",
        ]
    )
    assert summary.items == 4 and summary.lines == 8 and summary.read == 5
    assert summary.skipped == {"phash": 2}
    assert summary.warnings == ["left out 2 phash hashes: python-threatexchange has no phash type"]


def test_threatexchange_warns_when_one_pdq_hash_would_never_match_in_tx(bank: MemoryBank) -> None:
    summary = export_items(bank, io.StringIO(), "threatexchange", label="violent-extremism")
    assert summary.items == 1
    assert any("exactly one pdq hash" in warning for warning in summary.warnings)


def test_withdrawn_items_are_left_out_of_every_format(bank: MemoryBank) -> None:
    for fmt in ("jsonl", "csv", "threatexchange"):
        text, count = _export(bank, fmt)
        assert count == 4
        assert SHA_W not in text and PDQ_W not in text and WITHDRAWN.item_id not in text


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"label": "graphic-violence"}, (ITEM_A, ITEM_C)),
        ({"label": "violent-extremism"}, (ITEM_B,)),
        ({"label": "nothing-has-it"}, ()),
        ({"contributor": "tiktok"}, (ITEM_A, ITEM_E)),
        ({"contributor": "tiktok", "label": "graphic-violence"}, (ITEM_A,)),
        ({"since": "2026-02-01"}, (ITEM_B, ITEM_C, ITEM_E)),
        # At or after, to the millisecond, whatever the precision or offset of the bound.
        ({"since": "2026-03-01T12:30:00.250Z"}, (ITEM_C, ITEM_E)),
        ({"since": "2026-03-01T12:30:00.250000+00:00"}, (ITEM_C, ITEM_E)),
        ({"since": "2026-03-01T12:30:00.251Z"}, (ITEM_E,)),
        ({"since": "2026-03-01T13:30:00.251+01:00"}, (ITEM_E,)),
        ({"since": "2026-03-01T14:30:00"}, (ITEM_E,)),
        ({"since": "2026-01-01", "contributor": "facebook", "label": "violent-extremism"}, (ITEM_B,)),
    ],
)
def test_filters(bank: MemoryBank, filters: dict[str, str], expected: tuple[SharedItem, ...]) -> None:
    text, count = _export(bank, "jsonl", **filters)
    assert {json.loads(line)["item_id"] for line in text.splitlines()} == {item.item_id for item in expected}
    assert count == len(expected)


def test_since_must_be_a_time(bank: MemoryBank) -> None:
    with pytest.raises(ValueError):
        export_bank(bank, io.StringIO(), "jsonl", since="last tuesday")
    with pytest.raises(ValueError, match="unknown export format"):
        export_bank(bank, io.StringIO(), "xml")
    assert parse_time("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)


def test_progress_counts_every_item_read(bank: MemoryBank) -> None:
    seen: list[int] = []
    export_bank(bank, io.StringIO(), "csv", label="violent-extremism", progress=seen.append)
    assert seen[:5] == [1, 2, 3, 4, 5] and seen[-1] == 5


def test_each_format_reads_back_as_a_share_list(bank: MemoryBank) -> None:
    jsonl, _ = _export(bank, "jsonl")
    entries = parse_hash_list(jsonl.encode())
    assert {json.dumps(e.signals): (e.labels, e.overrides) for e in entries} == {
        json.dumps(item.signals): (item.provenance.labels, _overrides(item)) for item in ACTIVE
    }
    assert len(entries) == len(ACTIVE)
    csv_text, _ = _export(bank, "csv")
    assert Counter((tuple(e.signals.items()), e.labels or ()) for e in parse_hash_list(csv_text.encode())) == Counter(
        (((name, value),), item.provenance.labels) for item in ACTIVE for name, value in item.signals.items()
    )
    tx, _ = _export(bank, "threatexchange")
    assert Counter(tuple(e.signals.items()) for e in parse_hash_list(tx.encode())) == Counter(
        ((name, value),) for item in ACTIVE for name, value in item.signals.items() if name != "phash"
    )


def _overrides(item: SharedItem) -> dict[str, str]:
    return {
        name: getattr(item.provenance, name)
        for name in ("severity", "incident", "note")
        if getattr(item.provenance, name)
    }


def _reshare(bank: MemoryBank, fmt: str, metadata: dict[str, str] | None = None) -> MemoryBank:
    """A fresh bank holding what each contributor's export of `bank` became when that contributor
    shared it: export -> the edge's `parse_hash_list` -> the service -> `put_items`."""
    copy, store, notifier = MemoryBank(), MemoryStore(), RecordingNotifier()
    service = service_on(copy, store, notifier, PLATFORMS, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    # A share may name only an incident opened in the bank it goes to.
    for name in sorted({item.provenance.incident for item in bank.items.values() if item.provenance.incident}):
        copy.put_incident(opened(name, name, (), "operator:test", "2026-06-01T00:00:00.000Z"), expected=None)
    for platform in PLATFORMS:
        text, count = _export(bank, fmt, contributor=platform)
        if count:
            service.process(store.put("ingest", f"share/{platform}/export.{fmt}", text.encode(), metadata))
    events = [n.event_type for n in notifier.sent]
    assert EventType.SHARE_REJECTED not in events and EventType.SHARE_ACCEPTED in events
    return copy


def _held(bank: MemoryBank) -> Counter[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]]]:
    """(contributor, signals, labels) of each active item."""
    return Counter(
        (item.provenance.contributor, tuple(sorted(item.signals.items())), item.provenance.labels)
        for item in bank.items.values()
        if item.status == "active"
    )


def _held_by_signal(bank: MemoryBank, *, without: str = "") -> Counter[tuple[str, str, str, tuple[str, ...]]]:
    """(contributor, signal, hash, labels) of each signal of each active item."""
    return Counter(
        (item.provenance.contributor, name, value, item.provenance.labels)
        for item in bank.items.values()
        if item.status == "active"
        for name, value in item.signals.items()
        if name != without
    )


def test_jsonl_round_trip_reproduces_every_item(bank: MemoryBank) -> None:
    copy = _reshare(bank, "jsonl")
    assert _held(copy) == _held(bank)
    # The same ids (derived from the contributor and the sha256, or the first signal) and notes.
    originals = {item.item_id: item for item in ACTIVE}
    assert set(copy.items) == set(originals)
    for item in copy.items.values():
        assert _overrides(item) == _overrides(originals[item.item_id])
        assert item.media == originals[item.item_id].media


def test_csv_round_trip_reproduces_every_signal_with_its_labels(bank: MemoryBank) -> None:
    copy = _reshare(bank, "csv")
    assert _held_by_signal(copy) == _held_by_signal(bank)


def test_threatexchange_round_trip_reproduces_every_signal_tx_has(bank: MemoryBank) -> None:
    copy = _reshare(bank, "threatexchange", {"labels": "violent-extremism"})
    assert Counter((c, s, v) for c, s, v, _ in _held_by_signal(copy).elements()) == Counter(
        (c, s, v) for c, s, v, _ in _held_by_signal(bank, without="phash").elements()
    )
    assert {item.provenance.labels for item in copy.items.values()} == {("violent-extremism",)}


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hashmatch")
    commands = parser.add_subparsers(dest="command", required=True)

    def where(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--endpoint-url")

    add_export_command(commands, where)
    return parser.parse_args(argv)


def test_the_export_command_writes_the_file_and_reports_on_stderr(
    bank: MemoryBank, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bank.txt"
    args = _cli(
        ["export", "--format", "threatexchange", "--since", "2026-01-01T00:00:00+01:00", "--output", str(target)]
    )
    assert args.since == "2025-12-31T23:00:00.000Z" and args.endpoint_url is None

    assert export_command(args, bank) == 0

    assert len(target.read_text().splitlines()) == 8
    assert list(tmp_path.iterdir()) == [target]  # the partial file was renamed
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "4 items (8 lines) as threatexchange" in captured.err and "left out 2 phash hashes" in captured.err


def test_the_export_command_writes_to_stdout_and_refuses_a_bad_time(
    bank: MemoryBank, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export_command(_cli(["export", "--format", "jsonl", "--label", "violent-extremism"]), bank) == 0
    assert [json.loads(line)["item_id"] for line in capsys.readouterr().out.splitlines()] == [ITEM_B.item_id]
    with pytest.raises(SystemExit) as exited:
        _cli(["export", "--format", "jsonl", "--since", "yesterday"])
    assert exited.value.code == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err


def test_a_failed_export_leaves_no_file(bank: MemoryBank, tmp_path: Path) -> None:
    class Broken(MemoryBank):
        def iter_items(self, since: str | None = None):  # type: ignore[no-untyped-def]
            yield from bank.iter_items(since)
            raise ConnectionError("the network went away")

    target = tmp_path / "out.jsonl"
    with pytest.raises(ConnectionError):
        export_command(_cli(["export", "--format", "jsonl", "--output", str(target)]), Broken())
    assert list(tmp_path.iterdir()) == []
