"""Interop with python-threatexchange (`tx`), its real code in this process (never the `tx` binary).

- What tx hashes (its own PDQ of the reference photos, as `tx hash photo` prints it) is a hash list
  hashmatch shares as it is, and a check of the photos then matches it.
- What `hashmatch export --format threatexchange` writes is what tx's local-file collab loads
  (every line kept: tx drops the lines it cannot read silently), and tx's own PDQ of the photos and
  digests of a video match it, through tx's indexes and through its CLI (`fetch`, `match`).
- `DynamoBank.iter_items`, which the export reads, pages through a Scan of the real table.

The tx tests skip, loudly, where python-threatexchange is not installed (it is in the dev extra).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.bank.hashlist import parse_hash_list
from hashmatch.bank.model import Provenance, SharedItem, item_id_for
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import EventType
from hashmatch.service.service import item_from_media
from hashmatch.signals import SIGNALS
from hashmatch.signals.digest import file_digests
from hashmatch.signals.pdq import PDQ_MATCH_THRESHOLD
from hashmatch_tools.export import export_bank, export_items
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from tests.integration.conftest import BankBackend

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dynamodb_local")]

TX_MISSING = (
    "PYTHON-THREATEXCHANGE NOT INSTALLED, ITS INTEROP TESTS DID NOT RUN: "
    "pip install threatexchange (it is in hashmatch's dev extra)"
)
REQUIRE_THREATEXCHANGE = "HASHMATCH_REQUIRE_THREATEXCHANGE"
PLATFORMS = ("tiktok", "facebook", "youtube")
COLLAB = "hashmatch-export"
# Distinct reference photos the bank holds, and edited copies of the first that tx must match.
BANK_PHOTOS = (
    "pdq/bridge-mods/aaa-orig.jpg",
    "pdq/misc-images/c.png",
    "pdq/misc-images/wee.jpg",
    "pdq/reg-test-input/labelme-subset/q0122.jpg",
)
EDITED_COPIES = ("pdq/bridge-mods/blur-a-lot.jpg", "pdq/bridge-mods/sharpen-a-lot.jpg", "pdq/misc-images/b.jpg")
UNRELATED_PHOTO = "pdq/reg-test-input/labelme-subset/q0291.jpg"
VIDEO = "video/chair-19-sd-bar.mp4"
# tx hashes no PDQ for a picture of quality under 50, and prints nothing for it.
FLAT_PHOTO = "pdq/misc-images/small.jpg"


@pytest.fixture(scope="module")
def tx() -> ModuleType:
    """python-threatexchange, or a loud skip saying it is missing (a failure instead where CI is set
    and HASHMATCH_REQUIRE_THREATEXCHANGE=1)."""
    try:
        module = pytest.importorskip("threatexchange", reason=TX_MISSING)
    except pytest.skip.Exception:
        print(f"\n*** {TX_MISSING} ***", file=sys.stderr)
        if os.environ.get("CI") and os.environ.get(REQUIRE_THREATEXCHANGE) == "1":
            pytest.fail(f"{TX_MISSING} (required: CI is set and {REQUIRE_THREATEXCHANGE}=1)", pytrace=False)
        raise
    from importlib.metadata import version

    print(f"\npython-threatexchange {version('threatexchange')} from {Path(module.__file__ or '').parent}")
    return module


@pytest.fixture
def tx_cli(tx: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """tx's command line, run in this process on a state directory of its own; returns its stdout."""
    from threatexchange.cli.main import inner_main

    state = tmp_path / "tx-state"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TX_STATEDIR", str(state))

    def run(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            inner_main(list(argv), state_dir=state)
        return out.getvalue()

    return run


def _tx_pdq(path: Path) -> str:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return str(PdqSignal.hash_from_file(path))


def _pdq_distance(left: str, right: str) -> int:
    return SIGNALS.get("pdq").distance(left, right)


def test_tx_hash_output_is_shared_as_it_is_and_matches_the_photos(
    tx: ModuleType, tx_cli: Callable[..., str], shared_data: Path
) -> None:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    photos = [shared_data / name for name in (*BANK_PHOTOS, FLAT_PHOTO)]
    # What `tx hash photo FILE...` prints, from tx's own PDQ signal class...
    expected = "".join(f"{PdqSignal.get_name()} {h}\n" for h in map(_tx_pdq, photos) if h)
    # ...and from its command line, which prints nothing for the flat picture.
    printed = tx_cli("hash", "photo", *map(str, photos))
    assert printed == expected and len(printed.splitlines()) == len(BANK_PHOTOS)

    entries = parse_hash_list(printed.encode())
    assert [e.signals for e in entries] == [{"pdq": _tx_pdq(p)} for p in photos[: len(BANK_PHOTOS)]]
    for entry, photo in zip(entries, photos, strict=False):
        # tx's PDQ (pdqhash) is not bit for bit ours, but well within the match threshold.
        assert _pdq_distance(entry.signals["pdq"], hash_file(photo).signals["pdq"]) <= 16, photo.name

    bank, store, notifier = MemoryBank(), MemoryStore(), RecordingNotifier()
    service = service_on(bank, store, notifier, PLATFORMS, clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    service.process(store.put("ingest", "share/tiktok/tx-hash.txt", printed.encode(), {"labels": "violent-extremism"}))
    assert [n.event_type for n in notifier.to("tiktok")] == [EventType.SHARE_ACCEPTED]
    assert sorted(item.signals["pdq"] for item in bank.items.values()) == sorted(e.signals["pdq"] for e in entries)

    for name in (*BANK_PHOTOS, *EDITED_COPIES):
        body = (shared_data / name).read_bytes()
        service.process(store.put("ingest", f"check/facebook/{Path(name).name}", body, {"content-id": name}))
    verdicts = {n.body["content_id"]: n for n in notifier.to("facebook") if n.body.get("content_id")}
    for name in (*BANK_PHOTOS, *EDITED_COPIES):
        assert verdicts[name].event_type is EventType.MATCH_FOUND, name
        assert verdicts[name].body["contributors"] == ["tiktok"]
        assert verdicts[name].body["matches"][0]["labels"] == ["violent-extremism"]


def _photo_item(path: Path, contributor: str, labels: tuple[str, ...]) -> SharedItem:
    provenance = Provenance(contributor, "2026-05-01T10:00:00.000Z", labels)
    return item_from_media(hash_file(path, for_sharing=True), provenance)


def _video_item(path: Path, contributor: str) -> SharedItem:
    """A video by its digests alone (what the bank's record keeps of one, besides its frames)."""
    with path.open("rb") as stream:
        digests = file_digests(stream)
    return SharedItem(
        item_id=item_id_for(contributor, "sha256", digests["sha256"]),
        provenance=Provenance(contributor, "2026-05-02T10:00:00.000Z", ("self-harm",)),
        media="video",
        signals=digests,
    )


@pytest.fixture
def exported(tx: ModuleType, shared_data: Path, tmp_path: Path) -> tuple[Path, MemoryBank]:
    """A bank of the reference photos and a video, exported in tx's format to a file."""
    bank = MemoryBank()
    photos = [_photo_item(shared_data / name, "tiktok", ("gore",)) for name in BANK_PHOTOS]
    bank.put_items([*photos, _video_item(shared_data / VIDEO, "youtube")])
    path = tmp_path / "hashmatch-export.txt"
    with path.open("w", encoding="utf-8") as out:
        summary = export_items(bank, out, "threatexchange")
    assert summary.items == len(BANK_PHOTOS) + 1
    # Every photo has a pHash, which tx has no type for.
    assert summary.skipped == {"phash": len(BANK_PHOTOS)}
    return path, bank


def test_tx_loads_every_line_of_the_export_and_matches_against_it(
    tx: ModuleType, exported: tuple[Path, MemoryBank], shared_data: Path
) -> None:
    from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.sha256 import VideoSHA256Signal

    path, bank = exported
    lines = path.read_text().splitlines()
    collab = FileCollaborationConfig(name=COLLAB, filename=str(path))
    api = LocalFileSignalExchangeAPI.for_collab(collab)
    fetched: dict[Any, Any] = {}
    for delta in api.fetch_iter([PdqSignal, VideoMD5Signal, VideoSHA256Signal], None):
        api.naive_fetch_merge(fetched, delta.updates)
    # tx's own validation (`validate_signal_str` of each type): it drops what fails, silently.
    by_type = api.naive_convert_to_signal_type([PdqSignal, VideoMD5Signal, VideoSHA256Signal], collab, fetched)
    loaded = sorted(f"{s_type.get_name()} {signal}" for s_type, signals in by_type.items() for signal in signals)
    assert loaded == sorted(lines)
    # A photo's digests go as tx's video ones too (tx has no others): they match `tx match video` only.
    assert {s_type.get_name(): len(signals) for s_type, signals in by_type.items()} == {
        "pdq": len(BANK_PHOTOS),
        "video_md5": len(BANK_PHOTOS) + 1,
        "video_sha256": len(BANK_PHOTOS) + 1,
    }

    pdq_index = PdqSignal.get_index_cls().build((signal, signal) for signal in by_type[PdqSignal])
    ours = {item.signals["pdq"]: item for item in bank.items.values() if "pdq" in item.signals}
    for name in (*BANK_PHOTOS, *EDITED_COPIES):
        query = _tx_pdq(shared_data / name)
        matches = pdq_index.query(query)
        assert matches, f"tx found nothing for {name}"
        best = min(matches, key=lambda m: m.similarity_info.distance)
        assert best.similarity_info.distance <= PDQ_MATCH_THRESHOLD
        assert PdqSignal.compare_hash(query, best.metadata).match
        expected = BANK_PHOTOS[0] if name in EDITED_COPIES else name
        assert _pdq_distance(best.metadata, hash_file(shared_data / expected).signals["pdq"]) == 0, name
        assert best.metadata in ours
    assert pdq_index.query(_tx_pdq(shared_data / UNRELATED_PHOTO)) == []

    video = shared_data / VIDEO
    for s_type in (VideoMD5Signal, VideoSHA256Signal):
        index = s_type.get_index_cls().build((signal, signal) for signal in by_type[s_type])
        assert len(index.query(s_type.hash_from_file(video))) == 1, s_type.get_name()


def test_tx_cli_fetches_the_export_as_a_local_file_collab_and_matches(
    tx: ModuleType, tx_cli: Callable[..., str], exported: tuple[Path, MemoryBank], shared_data: Path
) -> None:
    path, _bank = exported
    tx_cli("config", "collab", "edit", "local_file", COLLAB, "--create", "--filename", str(path.resolve()))
    tx_cli("fetch")
    summary = dict(line.split(": ") for line in tx_cli("dataset").splitlines())
    digests = str(len(BANK_PHOTOS) + 1)
    assert summary == {"pdq": str(len(BANK_PHOTOS)), "video_md5": digests, "video_sha256": digests}

    for name in (BANK_PHOTOS[0], *EDITED_COPIES):
        printed = tx_cli("match", "--all", "photo", str(shared_data / name))
        assert printed.startswith("pdq ") and f"({COLLAB})" in printed, (name, printed)
    assert tx_cli("match", "--all", "photo", str(shared_data / UNRELATED_PHOTO)) == ""
    printed = tx_cli("match", "--all", "video", str(shared_data / VIDEO))
    assert {line.split()[0] for line in printed.splitlines()} == {"video_md5", "video_sha256"}


# -- the bank the export reads: DynamoBank.iter_items on the real table ---------------------------


def _dynamo_items() -> list[SharedItem]:
    items = []
    for number in range(23):
        sha256 = f"{number:02x}" * 32
        contributor = PLATFORMS[number % 3]
        items.append(
            SharedItem(
                item_id=item_id_for(contributor, "sha256", sha256),
                provenance=Provenance(
                    contributor,
                    f"2026-01-{number + 1:02d}T12:00:00.000Z",
                    ("gore",) if number % 2 else ("csam", "self-harm"),
                    severity="high" if number % 5 == 0 else None,
                ),
                media="image",
                signals={"sha256": sha256, "md5": f"{number:02x}" * 16, "pdq": f"{255 - number:02x}" * 32},
            )
        )
    return items


def test_dynamo_bank_iter_items_pages_through_a_scan_and_exports_as_memory_does(
    bank_backend: BankBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = DynamoBank(bank_backend.table_name, bank_backend.resource)
    memory = MemoryBank()
    items = _dynamo_items()
    for target in (bank, memory):
        target.put_items(items)
        target.withdraw_items(items[:3], "2026-02-01T00:00:00.000Z")
    # Small pages, so the paging loop runs on every backend (each page filters ITEM#/META out of
    # the exact-hash and log records too).
    pages: list[int] = []
    scan = bank._table.scan

    def paged_scan(**kwargs: Any) -> Any:
        response = scan(**kwargs, Limit=7)
        pages.append(len(response["Items"]))
        return response

    monkeypatch.setattr(bank._table, "scan", paged_scan)

    found = {item.item_id: item for item in bank.iter_items()}
    assert len(pages) > 10
    assert set(found) == {item.item_id for item in items}
    assert {i for i, item in found.items() if item.status == "withdrawn"} == {item.item_id for item in items[:3]}
    for item in items:
        assert found[item.item_id].provenance == item.provenance and found[item.item_id].signals == item.signals

    since = {item.item_id for item in bank.iter_items("2026-01-20T12:00:00.000Z")}
    assert since == {item.item_id for item in items[19:]}
    assert since == {item.item_id for item in memory.iter_items("2026-01-20T12:00:00.000Z")}

    for fmt, filters in (("jsonl", {}), ("csv", {"label": "gore", "since": "2026-01-10"}), ("threatexchange", {})):
        exports = []
        for source in (bank, memory):
            out = io.StringIO()
            count = export_bank(source, out, fmt, **filters)
            exports.append((count, sorted(out.getvalue().splitlines())))
        assert exports[0] == exports[1], fmt
        assert exports[0][0] > 0
