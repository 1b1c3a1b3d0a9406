"""The contract every signal type meets, as a base class its tests inherit.

A subclass names the signal (`signal`) and gives golden cases: inputs with the hash they must
give (within `golden_tolerance` for perceptual signals whose references differ by a bit or two).
The base class then checks the text form round trip, the registry entry, the distance properties,
what the signal declares (index, thresholds, bounds) and the golden values.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from hashmatch.signals import SIGNALS, ContentType, FileSignal, MatchKind, PictureSignal, SignalType
from hashmatch.signals.digest import file_digests

GOLDEN = tuple[bytes | Image.Image | Path, str]


class SignalContract:
    signal: SignalType
    golden_tolerance = 0

    def golden(self, shared_data: Path | None) -> Iterator[GOLDEN]:
        """(input, expected hash): bytes for file signals, a picture (or its path) for picture signals."""
        return iter(())

    # -- helpers ------------------------------------------------------------------------------

    def _hash(self, source: bytes | Image.Image | Path) -> str | None:
        if isinstance(self.signal, FileSignal):
            data = source.read_bytes() if isinstance(source, Path) else source
            assert isinstance(data, bytes)
            return file_digests(io.BytesIO(data), (self.signal,))[self.signal.name]
        assert isinstance(self.signal, PictureSignal)
        if isinstance(source, Path):
            with Image.open(source) as opened:
                picture = opened.convert("RGB")
            picture.thumbnail((512, 512))
        else:
            assert isinstance(source, Image.Image)
            picture = source
        hashed = self.signal.hash_picture(picture)
        return None if hashed is None else hashed.value

    def _random_hash(self, rng: random.Random) -> str:
        assert self.signal.hex_length is not None
        return f"{rng.getrandbits(self.signal.bits):0{self.signal.hex_length}x}"

    # -- the contract -------------------------------------------------------------------------

    def test_is_registered_under_its_name_and_aliases(self) -> None:
        assert SIGNALS.get(self.signal.name) is self.signal
        for alias in self.signal.aliases:
            assert SIGNALS.get(alias) is self.signal

    def test_declares_what_it_applies_to_and_how_it_matches(self) -> None:
        assert self.signal.applies_to and all(isinstance(c, ContentType) for c in self.signal.applies_to)
        assert isinstance(self.signal.match, MatchKind)
        if self.signal.match is MatchKind.NEAR and self.signal.index_spec() is not None:
            assert self.signal.bounds is not None
            assert self.signal.default_threshold in self.signal.bounds
        if self.signal.match is MatchKind.EXACT:
            assert self.signal.index_spec() is None

    def test_text_form_round_trips(self) -> None:
        rng = random.Random(self.signal.name)
        for _ in range(20):
            value = self._random_hash(rng)
            assert self.signal.parse(value) == value
            assert self.signal.parse(f"  {value.upper()}\n") == value

    @pytest.mark.parametrize("bad", ["", "xyz", "0" * 5, "g" * 64])
    def test_malformed_text_is_refused_with_a_reason(self, bad: str) -> None:
        with pytest.raises(ValueError, match=self.signal.name):
            self.signal.parse(bad)

    def test_distance_is_a_metric_on_random_hashes(self) -> None:
        rng = random.Random(f"{self.signal.name}-distance")
        for _ in range(50):
            a, b, c = (self._random_hash(rng) for _ in range(3))
            assert self.signal.distance(a, a) == 0
            assert self.signal.distance(a, b) == self.signal.distance(b, a) >= 0
            assert self.signal.distance(a, c) <= self.signal.distance(a, b) + self.signal.distance(b, c)
            if self.signal.match is MatchKind.NEAR:
                assert self.signal.distance(a, b) <= self.signal.bits

    def test_an_index_finds_what_is_within_the_threshold(self) -> None:
        spec = self.signal.index_spec()
        if spec is None:  # matched by exact lookup in the bank instead
            assert self.signal.match is MatchKind.EXACT
            return
        rng = random.Random(f"{self.signal.name}-index")
        stored = [self._random_hash(rng) for _ in range(200)]
        index = spec.build()
        index.add(list(range(len(stored))), spec.encode(stored))
        assert spec.decode(spec.encode(stored)) == stored
        threshold = self.signal.default_threshold
        query = stored[7]
        found = {int(i) for i in index.query(spec.encode([query]), threshold).ids}
        expected = {i for i, value in enumerate(stored) if self.signal.distance(query, value) <= threshold}
        assert found == expected and 7 in found

    def test_golden_values(self, shared_data_or_none: Path | None) -> None:
        cases = list(self.golden(shared_data_or_none))
        if not cases:
            pytest.skip(f"no golden values for {self.signal.name} here (reference media absent)")
        for source, expected in cases:
            value = self._hash(source)
            assert value is not None, source
            assert self.signal.parse(value) == value
            assert self.signal.distance(value, expected) <= self.golden_tolerance, (source, value, expected)
