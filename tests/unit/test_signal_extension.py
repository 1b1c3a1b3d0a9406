"""Proof by extension: a signal registered from outside the package is hashed, stored, indexed,
snapshotted, parsed in hash lists, matched and reported, with no edit to any other module.

The signal is a difference hash (dHash, as imagehash computes it: a 9x8 grey thumbnail, one bit
per pair of horizontal neighbours, set where the left one is brighter), defined here only.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image

from hashmatch.bank.hashlist import parse_hash_list
from hashmatch.index.bank_index import BankIndex
from hashmatch.index.snapshot import load_snapshot, write_snapshot
from hashmatch.media.model import Rejected
from hashmatch.service.notifications import EventType, notification_schema
from hashmatch.signals import SIGNALS, PictureHash, PictureSignal, ThresholdBounds
from hashmatch_tools.fakes import MemoryBank, MemoryStore, RecordingNotifier, service_on
from hashmatch_tools.samples import jpeg_bytes, scene
from tests.unit.signal_contract import GOLDEN, SignalContract

pytestmark = pytest.mark.unit

imagehash = pytest.importorskip("imagehash")

PLATFORMS = ("tiktok", "reddit")


class DHashSignal(PictureSignal):
    name = "dhash"
    aliases = ("difference_hash",)
    hex_length = 16
    default_threshold = 10
    bounds = ThresholdBounds(0, 16)

    def hash_picture(self, picture: Image.Image) -> PictureHash | None:
        small = np.asarray(picture.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
        bits = small[:, 1:] > small[:, :-1]
        return PictureHash(np.packbits(bits.ravel()).tobytes().hex())


DHASH = DHashSignal()


@pytest.fixture(autouse=True)
def dhash_registered() -> Iterator[None]:
    with SIGNALS.registered(DHASH):
        yield
    assert "dhash" not in SIGNALS


class TestDHashContract(SignalContract):
    signal = DHASH

    def golden(self, shared_data: Path | None) -> Iterator[GOLDEN]:
        for seed in (3, 4):
            picture = scene(seed, (400, 300))
            yield picture, str(imagehash.dhash(picture))


def test_a_registered_signal_is_hashed_stored_matched_and_reported() -> None:
    store, bank, notifier = MemoryStore(), MemoryBank(), RecordingNotifier()
    service = service_on(bank, store, notifier, PLATFORMS, clock=lambda: datetime(2026, 12, 4, tzinfo=UTC))
    original = scene(21)
    service.process(store.put("ingest", "share/tiktok/a.jpg", jpeg_bytes(original)))

    (item,) = bank.items.values()
    assert DHASH.parse(item.signals["dhash"]) == item.signals["dhash"]
    assert DHASH.distance(item.signals["dhash"], str(imagehash.dhash(original))) <= 2
    assert any(entry.signal == "dhash" and entry.kind == "hash" for entry in item.near_entries)

    service.process(store.put("ingest", "check/reddit/b.jpg", jpeg_bytes(original, quality=40)))
    alert, verdict = notifier.to("reddit")
    assert alert.event_type is EventType.HASH_SHARED and alert.body["items"][0]["signals"]["dhash"]
    assert verdict.event_type is EventType.MATCH_FOUND
    by_signal = {match["signal"]: match for match in verdict.body["matches"]}
    assert by_signal["dhash"]["distance"] <= DHASH.default_threshold
    assert DHASH.distance(verdict.body["signals"]["dhash"], item.signals["dhash"]) == by_signal["dhash"]["distance"]
    schema = notification_schema()
    assert "dhash" in schema["$defs"]["match"]["properties"]["signal"]["enum"]
    jsonschema.Draft202012Validator(schema).validate(verdict.body)
    for sent in notifier.sent:
        jsonschema.Draft202012Validator(schema).validate(sent.body)


def test_a_registered_signal_is_indexed_and_snapshotted() -> None:
    bank = MemoryBank()
    store, notifier = MemoryStore(), RecordingNotifier()
    service = service_on(bank, store, notifier, PLATFORMS)
    service.process(store.put("ingest", "share/tiktok/a.jpg", jpeg_bytes(scene(22))))
    index = BankIndex()
    assert "dhash" in index.index_specs()
    index.refresh(bank)
    (item,) = bank.items.values()
    buffer = io.BytesIO()
    write_snapshot(index, buffer)
    loaded = load_snapshot(io.BytesIO(buffer.getvalue()))
    (hit,) = loaded.query("dhash", [item.signals["dhash"]], 0)
    assert hit.entry.item_id == item.item_id


def test_a_registered_signal_is_read_from_hash_lists_by_name_and_alias() -> None:
    value = "0123456789abcdef"
    (by_name,) = parse_hash_list(f"dhash:{value}\n".encode())
    (by_alias,) = parse_hash_list(f'{{"signal": "difference_hash", "hash": "{value.upper()}"}}\n'.encode())
    assert by_name.signals == by_alias.signals == {"dhash": value}
    # 16 digits are a pHash or a dHash now: a bare one is refused, naming both.
    with pytest.raises(Rejected, match="phash or dhash"):
        parse_hash_list(f"{value}\n".encode())
