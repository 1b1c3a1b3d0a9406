"""Every built-in signal meets the signal contract, and what is derived from the registry agrees with it."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashmatch.bank.hashlist import parse_hash_list
from hashmatch.index.bank_index import BankIndex
from hashmatch.media.model import Rejected
from hashmatch.service.notifications import notification_schema, published_schema
from hashmatch.service.settings import default_bounds
from hashmatch.signals import SIGNALS, MatchKind, UnknownSignal
from hashmatch.signals.digest import MD5, SHA256
from hashmatch.signals.pdq import PDQ
from hashmatch.signals.phash import PHASH
from tests.unit.signal_contract import GOLDEN, SignalContract

pytestmark = pytest.mark.unit

LOW_QUALITY = {
    "misc-images/small.jpg",
    "reg-test-input/labelme-subset/q0003.jpg",
    "reg-test-input/labelme-subset/q0004.jpg",
}


class TestSha256(SignalContract):
    signal = SHA256

    def golden(self, shared_data: Path | None) -> Iterator[GOLDEN]:
        yield b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        yield b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


class TestMd5(SignalContract):
    signal = MD5

    def golden(self, shared_data: Path | None) -> Iterator[GOLDEN]:
        yield b"", "d41d8cd98f00b204e9800998ecf8427e"
        yield b"abc", "900150983cd24fb0d6963f7d28e17f72"


class TestPdq(SignalContract):
    signal = PDQ

    def golden(self, shared_data: Path | None) -> Iterator[GOLDEN]:
        """The hashes the reference Python port published for the reference photos (those of quality
        below 50 left out: flat pictures whose coefficients tie at the median, never matched)."""
        if shared_data is None:
            return
        with (shared_data / "pdq" / "expected.csv").open(newline="") as stream:
            for row in csv.DictReader(stream):
                if row["source"].startswith("pdq/python") and row["path"] not in LOW_QUALITY:
                    yield shared_data / "pdq" / row["path"], row["pdq_hex"]


class TestPhash(SignalContract):
    signal = PHASH

    def golden(self, shared_data: Path | None) -> Iterator[GOLDEN]:
        """imagehash.phash of the reference photos (4.3.1), pinned."""
        if shared_data is None:
            return
        for relative, expected in (
            ("pdq/misc-images/b.jpg", "aca29c1c33dc23d7"),
            ("pdq/misc-images/c.png", "b093c368c327ce6e"),
            ("pdq/reg-test-input/labelme-subset/q0122.jpg", "80807f275dfac565"),
        ):
            yield shared_data / relative, expected


def test_the_registry_holds_the_built_in_signals_in_order() -> None:
    assert SIGNALS.names() == ("sha256", "md5", "pdq", "phash", "vpdq")
    assert [s.name for s in SIGNALS.exact()] == ["sha256", "md5"]
    assert [s.name for s in SIGNALS.indexed()] == ["pdq", "phash"]
    assert all(s.match is MatchKind.NEAR for s in SIGNALS.indexed())


def test_other_systems_names_resolve_to_ours() -> None:
    assert SIGNALS.get("video_md5") is MD5 and SIGNALS.get("video_sha256") is SHA256
    with pytest.raises(UnknownSignal, match="known: sha256, md5, pdq, phash, vpdq"):
        SIGNALS.get("tmk")


def test_a_name_or_alias_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered: md5"):
        SIGNALS.register(MD5)


def test_the_published_schema_equals_what_the_registry_derives() -> None:
    published, derived = published_schema(), notification_schema()
    assert published == derived
    signals = published["$defs"]["signals"]["properties"]
    assert sorted(signals) == sorted(s.name for s in SIGNALS.hash_signals())
    assert published["$defs"]["match"]["properties"]["signal"]["enum"] == list(SIGNALS.names())


def test_threshold_bounds_come_from_the_signals() -> None:
    assert {name: (b.low, b.high) for name, b in default_bounds().items()} == {"pdq": (16, 40), "phash": (0, 10)}


def test_bare_hashes_name_their_signal_by_length_unless_two_signals_share_it() -> None:
    lengths = {s.hex_length for s in SIGNALS.hash_signals()}
    for length in lengths:
        candidates = SIGNALS.by_hex_length(length)
        line = ("ab" * 32)[:length]
        if len(candidates) == 1:
            (entry,) = parse_hash_list(f"{line}\n".encode())
            assert entry.signals == {candidates[0].name: line}
        else:
            with pytest.raises(Rejected, match=" or ".join(s.name for s in candidates)):
                parse_hash_list(f"{line}\n".encode())


def test_the_matcher_indexes_every_indexed_signal_and_the_derived_ones() -> None:
    assert list(BankIndex().index_specs()) == ["pdq", "phash", "framing_key", "pdq_part"]
