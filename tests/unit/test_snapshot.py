"""Near-match snapshots and the compact entry table: a loaded snapshot answers exactly as the indexes
it was taken from, a refresh after loading applies only the log's tail, and a bad file is refused."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace

import numpy as np
import pytest

from hashmatch.bank.model import IndexedEntry, NearEntry, Provenance, SharedItem, item_id_for
from hashmatch.index import snapshot
from hashmatch.index.bank_index import BankIndex, NearHit
from hashmatch.index.snapshot import SnapshotError, load_snapshot, write_snapshot
from hashmatch.service.ports import BankChange
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import FRAMING_KEYS as FRAMING_KEY_INDEX
from hashmatch.signals.pdq import PDQ_PARTS as PDQ_PART_INDEX
from hashmatch.signals.pdq import low_frequency_key
from hashmatch_tools.fakes import MemoryBank

pytestmark = pytest.mark.unit

FRAMING_KEYS = FRAMING_KEY_INDEX.name
PDQ_PARTS = PDQ_PART_INDEX.name

WHEN = "2026-01-01T00:00:00.000Z"


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _near(rng: random.Random, value: str, flips: int) -> str:
    bits = len(value) * 4
    number = int(value, 16)
    for bit in rng.sample(range(bits), flips):
        number ^= 1 << bit
    return f"{number:0{bits // 4}x}"


def _item(rng: random.Random, n: int, frames: int = 0) -> SharedItem:
    pdq, phash = _hex(rng, 256), _hex(rng, 64)
    entries = [NearEntry("pdq", pdq), NearEntry("phash", phash), NearEntry("pdq", _near(rng, pdq, 20), "framing")]
    entries += [NearEntry("pdq", _hex(rng, 256), "frame", k * 0.5, k * 0.5 + 0.4) for k in range(frames)]
    if frames:
        entries.append(NearEntry("pdq", _hex(rng, 256), "frame", None))  # a frame with no time
    else:
        entries.append(NearEntry("pdq", _hex(rng, 256), "half"))  # a picture's half
        if n % 3 == 0:
            entries.append(NearEntry("pdq", _hex(rng, 256), "third"))  # and a third
    return SharedItem(
        item_id=item_id_for("tiktok", "sha256", f"{n:064x}"),
        provenance=Provenance("tiktok", WHEN),
        media="video" if frames else "image",
        signals={"pdq": pdq, "phash": phash},
        near_entries=tuple(entries),
    )


THRESHOLDS = {"pdq": 31, "phash": 8, FRAMING_KEYS: 10}


def _all_hits(near: BankIndex, queries: dict[str, list[str]]) -> dict[str, list[NearHit]]:
    return {signal: near.query(signal, values, THRESHOLDS[signal]) for signal, values in queries.items()}


def _queries(rng: random.Random, items: list[SharedItem]) -> dict[str, list[str]]:
    queries: dict[str, list[str]] = {"pdq": [], "phash": []}
    for item in items:
        for entry in item.near_entries:
            queries[entry.signal].append(_near(rng, entry.value, rng.randrange(0, 12)))
    queries["pdq"] += [_hex(rng, 256) for _ in range(20)]
    queries["phash"] += [_hex(rng, 64) for _ in range(20)]
    queries[FRAMING_KEYS] = [low_frequency_key(value) for value in queries["pdq"]]
    return queries


@pytest.fixture
def shared() -> tuple[MemoryBank, list[SharedItem]]:
    """A bank with images and videos shared, some withdrawn, one re-shared after its withdrawal."""
    rng = random.Random(11)
    bank = MemoryBank()
    items = [_item(rng, n, frames=6 if n % 4 == 0 else 0) for n in range(40)]
    bank.put_items(items[:30])
    bank.withdraw_items(items[5:10], WHEN)
    bank.put_items([items[7]])
    return bank, items


def _round_trip(near: BankIndex) -> BankIndex:
    buffer = io.BytesIO()
    write_snapshot(near, buffer)
    buffer.seek(0)
    return load_snapshot(buffer)


@pytest.mark.parametrize("delta_limit", [4, 100_000])
def test_a_loaded_snapshot_answers_exactly_as_the_original(shared, delta_limit: int) -> None:
    bank, items = shared
    near = BankIndex(delta_limit=delta_limit)
    near.refresh(bank)
    queries = _queries(random.Random(3), items)
    before = _all_hits(near, queries)

    loaded = _round_trip(near)

    assert _all_hits(loaded, queries) == before == _all_hits(near, queries)
    live = [item for n, item in enumerate(items[:30]) if n not in (5, 6, 8, 9)]
    assert len(loaded) == len(near) == sum(len(item.near_entries) for item in live)
    assert loaded.position == near.position
    hits = before["pdq"]
    assert {h.entry.item_id for h in hits} >= {items[0].item_id, items[7].item_id}
    assert not {h.entry.item_id for h in hits} & {i.item_id for i in items[5:7] + items[8:10] + items[30:]}
    frame = items[0].near_entries[4]
    (hit,) = [h for h in loaded.query("pdq", [frame.value], 0)]
    assert hit.entry == IndexedEntry(items[0].item_id, "pdq", frame.value, "frame", frame.offset, frame.end)
    (untimed,) = loaded.query("pdq", [items[0].near_entries[-1].value], 0)
    assert untimed.entry.kind == "frame" and untimed.entry.offset is None and untimed.entry.end is None
    # Framing keys point back to the whole stored PDQ framing or video frame; a main hash has none.
    framing = items[0].near_entries[2]
    (key_hit,) = loaded.query(FRAMING_KEYS, [low_frequency_key(framing.value)], 0)
    assert key_hit.entry == IndexedEntry(items[0].item_id, "pdq", framing.value, "framing", None)
    (frame_key_hit,) = loaded.query(FRAMING_KEYS, [low_frequency_key(frame.value)], 0)
    assert frame_key_hit.entry == hit.entry
    main = items[0].near_entries[0]
    assert main.kind == "hash"
    assert not loaded.query(FRAMING_KEYS, [low_frequency_key(main.value)], 0)
    # A half keeps its kind (the matcher holds it to the stricter threshold) and has no framing key.
    half = items[1].near_entries[-1]
    (half_hit,) = loaded.query("pdq", [half.value], 0)
    assert half_hit.entry == IndexedEntry(items[1].item_id, "pdq", half.value, "half", None)
    assert not loaded.query(FRAMING_KEYS, [low_frequency_key(half.value)], 0)
    # Halves are held apart from PDQ's own index, in the parts index, and found there alone.
    assert loaded.query(PDQ_PARTS, [half.value], 0) == [half_hit]
    assert not loaded.query(PDQ_PARTS, [main.value], 0)
    assert not loaded.query("pdq", [half.value], 0, kind_limits={"half": -1})
    with loaded.frozen_state() as state:
        parts = sum(1 for item in live for entry in item.near_entries if entry.kind in ("half", "third"))
        assert len(state.indexes[PDQ_PARTS]) == parts > 0
        assert len(state.indexes["pdq"]) == sum(1 for i in live for e in i.near_entries if e.signal == "pdq") - parts


def test_refresh_after_loading_applies_only_the_tail(shared) -> None:
    bank, items = shared
    near = BankIndex()
    near.refresh(bank)
    loaded = _round_trip(near)
    assert loaded.refresh(bank) == 0

    bank.put_items(items[30:35])
    bank.withdraw_items([items[0]], WHEN)
    assert loaded.refresh(bank) == 6
    replayed = BankIndex()
    replayed.refresh(bank)
    queries = _queries(random.Random(5), items)
    assert _all_hits(loaded, queries) == _all_hits(replayed, queries)
    assert len(loaded) == len(replayed)
    assert not loaded.query("pdq", [items[0].signals["pdq"]], 0)
    assert loaded.query("pdq", [items[34].signals["pdq"]], 0)[0].entry.item_id == items[34].item_id


def test_a_change_committed_late_inside_the_overlap_is_applied_after_loading(shared) -> None:
    bank, items = shared
    near = BankIndex()
    near.refresh(bank)
    loaded = _round_trip(near)
    # A writer whose clock read earlier than the snapshot's position committed only now.
    stamp = bank.log[0].position.split("#", 1)[0]
    late = BankChange(f"{stamp}#{items[39].item_id}#add#00000", "add", items[39].item_id, items[39].near_entries)
    bank.log = sorted([*bank.log, late], key=lambda change: change.position)

    assert loaded.refresh(bank) == 1
    assert loaded.query("pdq", [items[39].signals["pdq"]], 0)[0].entry.item_id == items[39].item_id


def test_an_empty_index_round_trips() -> None:
    loaded = _round_trip(BankIndex())
    assert len(loaded) == 0 and loaded.position is None
    assert loaded.query("pdq", ["0" * 64], 31) == []


def _snapshot_bytes(bank: MemoryBank) -> bytes:
    near = BankIndex()
    near.refresh(bank)
    buffer = io.BytesIO()
    write_snapshot(near, buffer)
    return buffer.getvalue()


def test_a_file_that_is_not_a_snapshot_is_refused(shared) -> None:
    with pytest.raises(SnapshotError, match="bad magic"):
        load_snapshot(io.BytesIO(b"PK\x03\x04 something else entirely"))


def test_a_truncated_snapshot_is_refused(shared) -> None:
    data = _snapshot_bytes(shared[0])
    for cut in (len(data) - 4, len(data) // 2, 200):
        with pytest.raises(SnapshotError, match=r"truncated|corrupt"):
            load_snapshot(io.BytesIO(data[:cut]))


def test_a_snapshot_of_another_version_is_refused(shared, monkeypatch: pytest.MonkeyPatch) -> None:
    # Version 4 (PDQ's parts in PDQ's own index), as the previous release wrote it: the log is replayed instead.
    monkeypatch.setattr(snapshot, "FORMAT_VERSION", 4)
    data = _snapshot_bytes(shared[0])
    monkeypatch.undo()
    with pytest.raises(SnapshotError, match=r"version 4; .*reads 'hashmatch\.near-snapshot' version 5"):
        load_snapshot(io.BytesIO(data))


def test_a_snapshot_whose_parts_disagree_is_refused(shared) -> None:
    data = _snapshot_bytes(shared[0])
    # Same length, another entry count: the table's arrays no longer fit the header.
    start = data.index(b'"entries": ') + len(b'"entries": ')
    digits = data[start : data.index(b",", start)]
    wrong = str(int(digits) - 1).rjust(len(digits)).encode()
    with pytest.raises(SnapshotError, match="corrupt"):
        load_snapshot(io.BytesIO(data[:start] + wrong + data[start + len(digits) :]))


def test_snapshot_header_is_json_with_format_and_position(shared) -> None:
    data = _snapshot_bytes(shared[0])
    assert data.startswith(snapshot.FORMAT_MAGIC) and data.endswith(snapshot.END_MARKER)
    header = np.lib.format.read_array(io.BytesIO(data[8:]), allow_pickle=False)
    fields = json.loads(header.tobytes())
    assert fields["format"] == "hashmatch.near-snapshot" and fields["version"] == 5
    assert fields["signals"] == ["pdq", "phash"]
    assert fields["indexes"] == ["pdq", "phash", FRAMING_KEYS, PDQ_PARTS]
    assert fields["position"] == shared[0].log[-1].position


class _Reference:
    """What the near-match indexes must answer, by brute force over a dict of live entries."""

    def __init__(self) -> None:
        self.entries: dict[int, IndexedEntry] = {}
        self.seen = 0

    def catch_up(self, bank: MemoryBank) -> None:
        for change in bank.log[self.seen :]:
            self.apply(change)
        self.seen = len(bank.log)

    def apply(self, change: BankChange) -> None:
        if change.operation == "remove":
            self.entries = {k: e for k, e in self.entries.items() if e.item_id != change.item_id}
            return
        for entry in change.entries:
            entry_id = entry.entry_id(change.item_id)
            if entry_id not in self.entries:
                self.entries[entry_id] = IndexedEntry(
                    change.item_id, entry.signal, entry.value, entry.kind, entry.offset, entry.end
                )

    def query(
        self, signal: str, values: list[str], threshold: int, kind_limits: dict[str, int] | None = None
    ) -> list[NearHit]:
        hits = []
        for row, value in enumerate(values):
            for entry_id, entry in self.entries.items():
                if signal == FRAMING_KEYS and entry.signal == "pdq" and entry.kind in FRAMING_KEY_INDEX.entry_kinds:
                    distance = hex_distance(value, low_frequency_key(entry.value))
                elif (
                    signal == PDQ_PARTS and entry.signal == "pdq" and entry.kind in PDQ_PART_INDEX.entry_kinds
                ) or entry.signal == signal:
                    distance = hex_distance(value, entry.value)
                else:
                    continue
                if distance <= min(threshold, (kind_limits or {}).get(entry.kind, threshold)):
                    hits.append((row, distance, entry_id, NearHit(row, entry, distance)))
        return [hit for *_, hit in sorted(hits, key=lambda h: h[:3])]


@pytest.mark.parametrize("seed", range(8))
def test_the_compact_entry_table_answers_as_a_plain_dict_on_random_changes(seed: int) -> None:
    rng = random.Random(seed)
    bank = MemoryBank()
    near = BankIndex(delta_limit=rng.choice([1, 5, 50]))
    reference = _Reference()
    items = [_item(rng, n, frames=rng.choice([0, 0, 3])) for n in range(60)]
    applied = 0
    for _step in range(120):
        action = rng.random()
        if action < 0.5:
            item = rng.choice(items)
            if rng.random() < 0.3:  # the same item re-shared with different entries
                item = replace(item, near_entries=item.near_entries[: rng.randrange(1, len(item.near_entries) + 1)])
            bank.put_items([item])
        elif action < 0.7:
            live = [i for i in items if i.item_id in bank.items and bank.items[i.item_id].status == "active"]
            if live:
                bank.withdraw_items([rng.choice(live)], WHEN)
        elif action < 0.8:
            near.compact()
        elif action < 0.85:
            near = _round_trip(near)
        else:
            applied += near.refresh(bank)
            reference.catch_up(bank)
            queries = _queries(rng, rng.sample(items, 5))
            for signal, threshold in THRESHOLDS.items():
                assert near.query(signal, queries[signal], threshold) == reference.query(
                    signal, queries[signal], threshold
                )
            # The parts held apart: alone, and beside the whole pictures within stricter limits.
            assert near.query(PDQ_PARTS, queries["pdq"], 31) == reference.query(PDQ_PARTS, queries["pdq"], 31)
            limits = rng.choice([{"half": 10, "third": 8}, {"half": -1, "third": -1}, {"half": 40}])
            assert near.query("pdq", queries["pdq"], 31, limits) == reference.query("pdq", queries["pdq"], 31, limits)
            assert len(near) == len(reference.entries)
    assert applied > 0


@pytest.mark.parametrize("seed", range(4))
def test_framing_candidates_are_the_closest_starts_among_key_hits(seed: int) -> None:
    rng = random.Random(seed)
    bank = MemoryBank()
    items = [_item(rng, n) for n in range(40)]
    bank.put_items(items)
    bank.withdraw_items(items[:5], WHEN)
    near = BankIndex(delta_limit=rng.choice([1, 1000]))
    near.refresh(bank)
    framings = [e.value for item in items for e in item.near_entries if e.kind == "framing"]
    hashes = [_near(rng, rng.choice(framings), rng.randrange(10, 60)) for _ in range(30)]
    hashes += [_hex(rng, 256) for _ in range(10)]
    keys = [low_frequency_key(value) for value in hashes]
    skip = {items[10].item_id, items[11].item_id}

    found = near.closest_by_derived_key(FRAMING_KEYS, keys, hashes, 10, 40, 6, skip_items=skip)

    expected = []
    for item in items[5:]:
        for entry in item.near_entries:
            if entry.kind != "framing" or item.item_id in skip:
                continue
            key = low_frequency_key(entry.value)
            rows = [row for row, value in enumerate(keys) if hex_distance(value, key) <= 10]
            if rows:
                start = min(hex_distance(hashes[row], entry.value) for row in rows)
                first = min(row for row in rows if hex_distance(hashes[row], entry.value) == start)
                if start <= 40:
                    expected.append((start, entry.entry_id(item.item_id), first, item.item_id, entry.value))
    expected.sort()
    assert len(expected) > 6  # the limit is exercised
    assert [(h.distance, h.query_row, h.entry.item_id, h.entry.value) for h in found] == [
        (start, row, item_id, value) for start, _, row, item_id, value in expected[:6]
    ]
