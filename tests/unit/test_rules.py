"""Each matching rule on its own, with literal hashes and the in-memory bank: no images."""

from __future__ import annotations

import random

import pytest

from hashmatch.bank.model import NearEntry, Provenance, SharedItem
from hashmatch.index.bank_index import BankIndex
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import (
    CORROBORATED_PDQ_LIMIT,
    FRAME_CORROBORATION_THRESHOLD,
    FRAME_MATCH_THRESHOLD,
    HALF_MATCH_THRESHOLD,
    MAX_CORROBORATED_VIEWS,
    PHASH_CORROBORATION_THRESHOLD,
    SAME_SEARCH_BITS,
    THIRD_MATCH_THRESHOLD,
    THIRDS_AGREEING,
    UNEVEN_CROP_SEARCHES_PER_ITEM,
    UNEVEN_CROP_START_LIMIT,
    Thresholds,
    corroborated_pdq_limit,
)
from hashmatch.matching.rules import (
    agreeing_parts,
    corroborated_evidence,
    corroborating_views,
    corroboration_candidates,
    exact_evidence,
    frame_hits,
    lone_signal_candidates,
    lone_signal_evidence,
    near_evidence,
    picture_queries,
    uneven_crop_candidates,
    video_evidence,
)
from hashmatch.matching.video import FrameQuery
from hashmatch.media.framing import PHASH_FRAMES
from hashmatch.media.model import PHASH_VIEWS, UNCOVERED_WHOLE_QUERY, FrameHash, LabelledHash, MediaHashes, Region
from hashmatch.signals.base import Orientation
from hashmatch.signals.bits import hex_distance
from hashmatch.signals.pdq import low_frequency_key
from hashmatch_tools.fakes import MemoryBank

pytestmark = pytest.mark.unit

WHEN = "2026-12-04T00:00:00.000Z"
PDQ_A = "f" * 32 + "0" * 32
PHASH_A = "ff00ff00ff00ff00"


def flip(value: str, bits: int) -> str:
    """`value` with its lowest `bits` bits inverted."""
    width = len(value) * 4
    return f"{int(value, 16) ^ ((1 << bits) - 1):0{width // 4}x}"


def item(
    item_id: str,
    signals: dict[str, str],
    entries: tuple[NearEntry, ...] = (),
    media: str = "image",
    duration: float | None = None,
) -> SharedItem:
    return SharedItem(item_id, Provenance("tiktok", WHEN, ("gore",)), media, signals, entries, duration)


def bank_with(*items: SharedItem) -> tuple[MemoryBank, BankIndex]:
    bank = MemoryBank()
    bank.put_items(items)
    index = BankIndex()
    index.refresh(bank)
    return bank, index


def check(signals: dict[str, str], quality: int = 100, queries: tuple[LabelledHash, ...] = ()) -> MediaHashes:
    return MediaHashes(media="image", signals=signals, quality={"pdq": quality}, queries=queries)


def test_exact_evidence_is_an_equal_digest() -> None:
    bank, _ = bank_with(item("i1", {"sha256": "a" * 64, "md5": "b" * 32}))
    evidence, found = exact_evidence(bank, check({"sha256": "a" * 64, "md5": "c" * 32}))
    assert [(e.item_id, e.signal, e.distance) for e in evidence] == [("i1", "sha256", 0)]
    assert set(found) == {"i1"}


def test_near_evidence_is_within_each_signals_threshold_and_names_the_query() -> None:
    stored = item("i1", {"pdq": PDQ_A}, (NearEntry("pdq", PDQ_A), NearEntry("pdq", flip(PDQ_A, 100), "framing")))
    _, index = bank_with(stored)
    rotated = LabelledHash("pdq", flip(PDQ_A, 31), Orientation.ROTATE_90.value)
    framing = LabelledHash("pdq", flip(PDQ_A, 100 + 3), "inside_bars")  # 3 bits from the stored framing
    hashes = check({"pdq": flip(PDQ_A, 32)}, queries=(rotated, framing))
    found = {(e.query, e.distance) for e in near_evidence(index, hashes, Thresholds())}
    assert found == {("rotate_90", 31), ("inside_bars", 3)}  # the original is 32 bits off: no match
    stricter = near_evidence(index, hashes, Thresholds({"pdq": 30}))
    assert [(e.query, e.distance) for e in stricter] == [("inside_bars", 3)]


def test_a_half_matches_only_within_the_half_threshold_on_either_side() -> None:
    half = flip(PDQ_A, 60)
    stored = item("i1", {"pdq": PDQ_A}, (NearEntry("pdq", PDQ_A), NearEntry("pdq", half, "half")))
    _, index = bank_with(stored)

    def found(*queries: LabelledHash, thresholds: Thresholds | None = None) -> set[tuple[str, int, bool]]:
        hashes = check({"pdq": flip(PDQ_A, 200)}, queries=queries)
        evidence = near_evidence(index, hashes, thresholds or Thresholds())
        return {(e.query, e.distance, bool(e.detail.get("shared_half"))) for e in evidence}

    at_the_threshold = LabelledHash("pdq", flip(PDQ_A, 60 + HALF_MATCH_THRESHOLD), "whole+half_top")
    past_it = LabelledHash("pdq", flip(PDQ_A, 60 + HALF_MATCH_THRESHOLD + 1), "inside_bars+half_left")
    assert found(at_the_threshold) == {("whole+half_top", HALF_MATCH_THRESHOLD, True)}
    assert found(past_it) == set()  # within PDQ's 31 bits of a stored half, but not within the half's
    # A queried half is held to it against any stored hash, a stored half against any query.
    assert found(LabelledHash("pdq", flip(PDQ_A, HALF_MATCH_THRESHOLD + 1), "whole+half_bottom/flip_x")) == set()
    assert found(LabelledHash("pdq", flip(PDQ_A, 60 + 12), "whole+middle_band")) == set()
    assert found(LabelledHash("pdq", flip(PDQ_A, 12), "whole+middle_band")) == {("whole+middle_band", 12, False)}
    # A platform stricter than the half threshold is stricter for halves too.
    strict = Thresholds({"pdq": HALF_MATCH_THRESHOLD - 2})
    assert found(at_the_threshold, thresholds=strict) == set()


def flip_from(value: str, start: int, bits: int) -> str:
    """`value` with `bits` bits inverted from its `start`-th lowest bit up."""
    width = len(value) * 4
    return f"{int(value, 16) ^ (((1 << bits) - 1) << start):0{width // 4}x}"


def test_a_stored_third_matches_only_beside_another_part_of_its_item() -> None:
    top, bottom = flip_from(PDQ_A, 0, 60), flip_from(PDQ_A, 100, 60)  # 120 bits apart, 60 from the main
    half = flip_from(PDQ_A, 180, 60)
    entries = (NearEntry("pdq", PDQ_A), NearEntry("pdq", top, "third"), NearEntry("pdq", bottom, "third"))
    _, index = bank_with(item("i1", {"pdq": PDQ_A}, entries))
    _, with_half = bank_with(item("i1", {"pdq": PDQ_A}, (*entries, NearEntry("pdq", half, "half"))))

    def found(*queries: LabelledHash, bank: BankIndex = index) -> set[tuple[str, int, object, object]]:
        hashes = check({"pdq": flip(PDQ_A, 250)}, queries=queries)
        return {
            (e.query, e.distance, e.detail.get("shared_third"), e.detail.get("agreeing_parts"))
            for e in near_evidence(bank, hashes, Thresholds())
        }

    assert THIRDS_AGREEING == 2
    one = LabelledHash("pdq", top, "whole+third_top")
    assert found(one) == set()  # a third of a picture alone is too little
    other = LabelledHash("pdq", flip_from(bottom, 200, THIRD_MATCH_THRESHOLD), "whole+third_bottom")
    assert found(one, other) == {
        ("whole+third_top", 0, True, 2),
        ("whole+third_bottom", THIRD_MATCH_THRESHOLD, True, 2),
    }
    # The other third past the third threshold (stricter than a half's) is no agreement.
    assert THIRD_MATCH_THRESHOLD < HALF_MATCH_THRESHOLD
    far = LabelledHash("pdq", flip_from(bottom, 200, THIRD_MATCH_THRESHOLD + 1), "whole+third_bottom")
    assert found(one, far) == set()
    # The same third found twice (as it is, and by a second query) is one part, not two.
    again = LabelledHash("pdq", flip_from(top, 200, 3), "inside_bars+third_top")
    assert found(one, again) == set()
    # A stored half counts as the other part (and matches on its own, within the half threshold).
    by_half = LabelledHash("pdq", flip_from(half, 200, HALF_MATCH_THRESHOLD), "whole+half_bottom")
    assert found(one, by_half, bank=with_half) == {
        ("whole+third_top", 0, True, 2),
        ("whole+half_bottom", HALF_MATCH_THRESHOLD, None, None),
    }
    # A queried third is held to the third threshold, and matches a whole stored picture alone.
    assert found(LabelledHash("pdq", flip(PDQ_A, 4), "whole+third_left")) == {("whole+third_left", 4, None, None)}
    assert found(LabelledHash("pdq", flip(PDQ_A, THIRD_MATCH_THRESHOLD + 1), "whole+third_left")) == set()


def random_flip(rng: random.Random, value: str, bits: int) -> str:
    """`value` with `bits` bits at random positions inverted."""
    width = len(value) * 4
    mask = sum(1 << k for k in rng.sample(range(width), bits))
    return f"{int(value, 16) ^ mask:0{width // 4}x}"


def recorded_lookups(index: BankIndex, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(index name, threshold) of every lookup `index`'s own indexes answer from now on."""
    lookups: list[tuple[str, int]] = []
    with index.frozen_state() as state:
        held = dict(state.indexes)
    for name, held_index in held.items():

        def query(rows: object, threshold: int, name: str = name, original=held_index.query) -> object:
            lookups.append((name, threshold))
            return original(rows, threshold)

        monkeypatch.setattr(held_index, "query", query)
    return lookups


def every_pair_within_its_limit(
    items: list[SharedItem], queries: list[LabelledHash], threshold: int
) -> list[tuple[int, str, str, int]]:
    """(query position, item id, query label, distance) of every query and stored entry within
    their pair's limit, each query against each entry: a stored third only where two parts of its
    item agree."""
    pairs, thirds, parts = [], [], {}
    for row, query in enumerate(queries):
        for shared in items:
            for entry in shared.near_entries:
                distance = hex_distance(query.value, entry.value)
                third = entry.kind == "third" or "third_" in query.label
                half = entry.kind == "half" or "half_" in query.label
                limit = min(threshold, THIRD_MATCH_THRESHOLD if third else HALF_MATCH_THRESHOLD if half else 31)
                if distance <= limit:
                    if entry.kind in ("half", "third"):
                        parts.setdefault(shared.item_id, []).append((query.label, entry.value))
                    (thirds if entry.kind == "third" else pairs).append((row, shared.item_id, query.label, distance))
    agreeing = {item_id: agreeing_parts(found) for item_id, found in parts.items()}
    return sorted(pairs + [pair for pair in thirds if agreeing[pair[1]] >= THIRDS_AGREEING])


def test_parts_are_looked_up_within_their_own_limits_and_find_every_pair_within_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(20261207)
    kinds = ("hash", "half", "half", "third", "third", "third", "framing")
    items: list[SharedItem] = []
    for k in range(6):
        base = f"{rng.getrandbits(256):064x}"
        entries = tuple(
            NearEntry("pdq", base if kind == "hash" else random_flip(rng, base, 40 + n), kind)
            for n, kind in enumerate(kinds)
        )
        items.append(item(f"i{k}", {"pdq": base}, entries))
    _, index = bank_with(*items)
    stored = [e.value for shared in items for e in shared.near_entries]
    crops = ("", "+half_top", "+half_left/flip_x", "+third_top", "+third_centre")  # a whole framing, halves, thirds
    hashes = check(
        {"pdq": random_flip(rng, stored[0], 20)},
        queries=tuple(
            LabelledHash("pdq", random_flip(rng, value, rng.randrange(0, 34)), f"framing{n}{rng.choice(crops)}")
            for n, value in enumerate(rng.sample(stored, 36))
        ),
    )
    queries = picture_queries(hashes, "pdq")  # the original first, then framing0, framing1, ...
    lookups = recorded_lookups(index, monkeypatch)
    for thresholds in (Thresholds(), Thresholds({"pdq": 9})):
        lookups.clear()
        found = near_evidence(index, hashes, thresholds)
        rows = [[q.label for q in queries].index(e.query) for e in found]
        expected = every_pair_within_its_limit(items, queries, thresholds.pdq)
        assert sorted((row, e.item_id, e.query, e.distance) for row, e in zip(rows, found, strict=True)) == expected
        # In the order of the queries, as one lookup would give them (the stored thirds' last).
        whole = [(row, e.distance) for row, e in zip(rows, found, strict=True) if not e.detail.get("shared_third")]
        assert whole == sorted(whole)
        assert {e.query for e in found if "half_" in e.query}  # the halves found something
        assert any(e.detail.get("shared_third") for e in found) == (thresholds.pdq >= THIRD_MATCH_THRESHOLD)
        # PDQ's own index (whole pictures, framings) within the threshold for whole queries, within a
        # part's limit for queried parts; the stored parts, held apart, never past the half threshold.
        half, third = min(thresholds.pdq, HALF_MATCH_THRESHOLD), min(thresholds.pdq, THIRD_MATCH_THRESHOLD)
        expected = {("pdq", thresholds.pdq), ("pdq", half), ("pdq", third), ("pdq_part", half), ("pdq_part", third)}
        assert sorted(set(lookups)) == sorted(expected)
        assert lookups.count(("pdq", thresholds.pdq)) == 1  # the whole queries in one lookup


def test_a_video_frame_never_matches_a_shared_pictures_third() -> None:
    third = flip(PDQ_A, 60)
    still = item("s1", {"pdq": PDQ_A}, (NearEntry("pdq", PDQ_A, "hash"), NearEntry("pdq", third, "third")))
    _, index = bank_with(still)
    frames = (FrameHash(0.0, third, 100),)
    video = MediaHashes(media="video", signals={}, frames=frames, duration=1.0, extra={"sample_fps": 1.0})
    assert frame_hits(index, video) == {}
    frames = (FrameHash(0.0, PDQ_A, 100),)  # the picture itself, as a control
    video = MediaHashes(media="video", signals={}, frames=frames, duration=1.0, extra={"sample_fps": 1.0})
    assert set(frame_hits(index, video)) == {"s1"}


def test_a_video_frame_shows_a_shared_pictures_half_only_within_the_half_threshold() -> None:
    half = flip(PDQ_A, 60)
    still = item("s1", {"pdq": PDQ_A}, (NearEntry("pdq", PDQ_A, "hash"), NearEntry("pdq", half, "half")))
    _, index = bank_with(still)
    for bits, expected in ((HALF_MATCH_THRESHOLD, {"s1"}), (HALF_MATCH_THRESHOLD + 1, set())):
        frames = (FrameHash(0.0, flip(half, bits), 100),)
        video = MediaHashes(media="video", signals={}, frames=frames, duration=1.0, extra={"sample_fps": 1.0})
        assert set(frame_hits(index, video)) == expected


def test_a_flat_picture_is_queried_by_its_framings_only() -> None:
    rotated = LabelledHash("pdq", PDQ_A, "rotate_90")
    framing = LabelledHash("pdq", PDQ_A, "inside_padding")
    flat = check({"pdq": PDQ_A}, quality=10, queries=(rotated, framing))
    assert [(q.label, q.value) for q in picture_queries(flat, "pdq")] == [("inside_padding", PDQ_A)]
    usable = check({"pdq": PDQ_A}, quality=50, queries=(rotated, framing))
    assert [q.label for q in picture_queries(usable, "pdq")] == ["original", "rotate_90", "inside_padding"]


def test_corroboration_accepts_pdq_past_the_threshold_only_with_phash_close() -> None:
    stored = item("i1", {"pdq": PDQ_A, "phash": PHASH_A}, (NearEntry("pdq", PDQ_A), NearEntry("phash", PHASH_A)))
    _, index = bank_with(stored)
    items = {"i1": stored}
    for pdq_bits, phash_bits, matched in (
        (40, PHASH_CORROBORATION_THRESHOLD, True),
        (40, PHASH_CORROBORATION_THRESHOLD + 1, False),
        (CORROBORATED_PDQ_LIMIT, 0, True),
        (CORROBORATED_PDQ_LIMIT + 1, 0, False),
    ):
        hashes = check({"pdq": flip(PDQ_A, pdq_bits), "phash": flip(PHASH_A, phash_bits)})
        views = corroborating_views(hashes)
        evidence = corroborated_evidence(corroboration_candidates(index, views, Thresholds()), items, views)
        assert bool(evidence) is matched, (pdq_bits, phash_bits)
    # Within the threshold it is a plain PDQ match, not a corroboration candidate.
    within = check({"pdq": flip(PDQ_A, 31), "phash": PHASH_A})
    assert not corroboration_candidates(index, corroborating_views(within), Thresholds())


def test_a_view_of_the_picture_is_corroborated_by_its_own_phash() -> None:
    # A text box or a screenshot's frame moves the copy's main PDQ and pHash past corroboration
    # (110 and 20 bits); the picture painted over, or the rectangle it fills, is 40 PDQ bits from
    # the stored picture and its pHash 4.
    stored = item("i1", {"pdq": PDQ_A, "phash": PHASH_A}, (NearEntry("pdq", PDQ_A), NearEntry("phash", PHASH_A)))
    _, index = bank_with(stored)
    items = {"i1": stored}
    main = {"pdq": flip(PDQ_A, 110), "phash": flip(PHASH_A, 20)}
    frame, other_frame = Region(0.1, 0.2, 0.9, 0.7), Region(0.0, 0.0, 0.5, 0.5)

    def view(label: str, phash_bits: int, region: Region | None = None, phash_region: Region | None = None):
        pdq = LabelledHash("pdq", flip(PDQ_A, 40), label, region)
        phash = LabelledHash("phash", flip(PHASH_A, phash_bits), label, phash_region or region)
        return check(main, queries=(pdq, phash))

    def corroborated(hashes: MediaHashes) -> list[tuple[str, int, object]]:
        views = corroborating_views(hashes)
        evidence = corroborated_evidence(corroboration_candidates(index, views, Thresholds()), items, views)
        return [(e.query, e.distance, e.detail["phash_distance"]) for e in evidence]

    assert corroborated(view(UNCOVERED_WHOLE_QUERY, 4)) == [(UNCOVERED_WHOLE_QUERY, 40, 4)]
    assert corroborated(view("inside_bars", 4)) == [("inside_bars", 40, 4)]
    assert corroborated(view("inside_frame", 4, frame)) == [("inside_frame", 40, 4)]
    assert corroborated(view(UNCOVERED_WHOLE_QUERY, PHASH_CORROBORATION_THRESHOLD + 1)) == []
    # A frame's pHash corroborates that frame's PDQ, not another's.
    assert corroborated(view("inside_frame", 4, frame, other_frame)) == []
    # Only whole upright views: a pHash beside a crop, a part or a turn is not comparable.
    for label in ("uncovered_whole+central_crop_90", "whole+half_top", "rotate_90", "inside_frame/flip_x"):
        assert label not in PHASH_VIEWS
        assert corroborated(view(label, 4)) == [], label
    # Nor a flat picture's.
    flat = view(UNCOVERED_WHOLE_QUERY, 4)
    assert corroborated(MediaHashes(media="image", signals=main, quality={"pdq": 10}, queries=flat.queries)) == []


def test_a_check_is_looked_up_for_corroboration_by_at_most_as_many_views_as_an_edge_makes() -> None:
    # One of each view but the frames, and two frames: what `hashmatch.media.framing` makes at most.
    assert 1 + (len(PHASH_VIEWS) - 1) + PHASH_FRAMES == MAX_CORROBORATED_VIEWS
    # A hash list may carry more pairs (here 20 frames): the first ones only are looked up.
    frames = [Region(0.0, k / 40, 0.5, 0.5 + k / 40) for k in range(20)]
    queries = tuple(
        LabelledHash(signal, flip(value, 40), "inside_frame", frame)
        for frame in frames
        for signal, value in (("pdq", PDQ_A), ("phash", PHASH_A))
    )
    hashes = check({"pdq": flip(PDQ_A, 110), "phash": flip(PHASH_A, 20)}, queries=queries)
    views = corroborating_views(hashes)
    assert [v.label for v in views] == ["original"] + ["inside_frame"] * (MAX_CORROBORATED_VIEWS - 1)
    assert [v.region for v in views[1:]] == frames[: MAX_CORROBORATED_VIEWS - 1]


def test_the_corroboration_limit_follows_a_platforms_threshold_but_never_passes_the_measured_one() -> None:
    assert corroborated_pdq_limit(31) == CORROBORATED_PDQ_LIMIT == 48
    assert corroborated_pdq_limit(24) == 41
    assert corroborated_pdq_limit(40) == 48


def test_phash_matches_alone_only_items_shared_without_a_pdq() -> None:
    only_phash = item("i1", {"phash": PHASH_A}, (NearEntry("phash", PHASH_A),), media="hashes")
    with_pdq = item("i2", {"pdq": PDQ_A, "phash": PHASH_A}, (NearEntry("pdq", PDQ_A), NearEntry("phash", PHASH_A)))
    _, index = bank_with(only_phash, with_pdq)
    hashes = check({"pdq": flip(PDQ_A, 120), "phash": flip(PHASH_A, 2)})
    candidates = lone_signal_candidates(index, hashes, Thresholds())
    assert {h.entry.item_id for h in candidates} == {"i1", "i2"}
    evidence = lone_signal_evidence(candidates, {"i1": only_phash, "i2": with_pdq})
    assert [(e.item_id, e.signal, e.distance) for e in evidence] == [("i1", "phash", 2)]


def test_a_video_matches_a_shared_video_by_alignment_and_a_still_by_one_frame() -> None:
    frames = tuple(FrameHash(float(t), flip(PDQ_A, 40 + t), 100) for t in range(6))
    shared_video = item(
        "v1",
        {"sha256": "c" * 64},
        tuple(NearEntry("pdq", f.pdq, "frame", f.offset, f.offset) for f in frames),
        media="video",
        duration=6.0,
    )
    bank, index = bank_with(shared_video)
    checked = MediaHashes(media="video", signals={}, frames=frames, duration=6.0, extra={"sample_fps": 1.0})
    hits = [
        (FrameQuery(f.offset, Orientation.ORIGINAL, f.pdq), hit)
        for f in frames
        for hit in index.query("pdq", [f.pdq], 0)
    ]
    (evidence,) = video_evidence(checked, shared_video, hits)
    assert (evidence.signal, evidence.query, evidence.distance) == ("vpdq", "frames", 0)
    assert evidence.detail["matched"] is True
    # Two aligned frames are not enough (at least three samples).
    assert video_evidence(checked, shared_video, hits[:2]) == []
    still = item("s1", {"pdq": frames[2].pdq}, (NearEntry("pdq", frames[2].pdq),))
    (evidence,) = video_evidence(checked, still, hits[2:3])
    assert (evidence.signal, evidence.query) == ("pdq", "frame@2.00s")
    matches = Matcher(bank, BankIndex()).match(checked)
    assert [(m.item_id, m.signal) for m in matches] == [("v1", "vpdq")]


def _distinct_frames(count: int, seed: int) -> list[str]:
    """`count` seeded PDQ hashes, about 128 bits from each other."""
    rng = random.Random(seed)
    return [f"{rng.getrandbits(256):064x}" for _ in range(count)]


def test_frames_loosely_alike_corroborate_an_alignment_only_one_strict_pair_anchors() -> None:
    stored = _distinct_frames(8, seed=3)
    shared_video = item(
        "v1",
        {"sha256": "c" * 64},
        tuple(NearEntry("pdq", value, "frame", float(t), float(t)) for t, value in enumerate(stored)),
        media="video",
        duration=8.0,
    )
    bank, index = bank_with(shared_video)
    matcher = Matcher(bank, index)
    off = FRAME_CORROBORATION_THRESHOLD - 4  # past the frame threshold, within the corroboration one
    assert off > FRAME_MATCH_THRESHOLD

    def checked(first: int) -> MediaHashes:
        # Sample 0 `first` bits from its frame, samples 1-3 `off` bits from theirs, 4-5 unrelated.
        values = [flip(stored[0], first), *(flip(stored[t], off) for t in (1, 2, 3)), *_distinct_frames(2, seed=4)]
        frames = tuple(FrameHash(float(t), value, 100) for t, value in enumerate(values))
        return MediaHashes(media="video", signals={}, frames=frames, duration=6.0, extra={"sample_fps": 1.0})

    (match,) = matcher.match(checked(first=2))
    assert (match.item_id, match.signal) == ("v1", "vpdq")
    assert match.detail["segments"][0]["frames"] == 4 and match.detail["segments"][0]["best_distance"] == 2
    # Without a pair within the frame threshold, four loosely alike samples make no match.
    assert matcher.match(checked(first=off)) == []
    # Without corroboration the one strict pair is alone: no alignment of three samples.
    hits = frame_hits(index, checked(first=2), corroboration=FRAME_MATCH_THRESHOLD)
    assert video_evidence(checked(first=2), shared_video, hits["v1"]) == []
    # Corroboration asks again only in the orientations of the strict pairs, of the items they found.
    loose = frame_hits(index, checked(first=2))["v1"]
    assert sorted(q.offset for q, _ in loose) == [0.0, 1.0, 2.0, 3.0]
    assert frame_hits(index, checked(first=off)) == {}


def test_a_videos_halves_align_like_its_frames_but_only_within_the_half_threshold() -> None:
    """A copy whose every sample is unlike the shared frames but for one half (an overlay over the
    other): its half queries align with the halves stored with each run, at most the half
    threshold away; a sample's half never counts further off, nor as a looser corroborating pair."""
    frames, halves = _distinct_frames(6, seed=5), _distinct_frames(6, seed=6)
    entries = [NearEntry("pdq", value, "frame", float(t), float(t)) for t, value in enumerate(frames)]
    entries += [NearEntry("pdq", value, "half", float(t), float(t)) for t, value in enumerate(halves)]
    shared_video = item("v1", {"sha256": "d" * 64}, tuple(entries), media="video", duration=6.0)
    bank, index = bank_with(shared_video)
    matcher = Matcher(bank, index)

    def checked(bits: int, label: str = "whole+half_top") -> MediaHashes:
        covered = _distinct_frames(6, seed=7)  # what the samples show where the overlay is
        samples = tuple(
            FrameHash(float(t), covered[t], 100, framings=((label, flip(halves[t], bits)),)) for t in range(6)
        )
        return MediaHashes(media="video", signals={}, frames=samples, duration=6.0, extra={"sample_fps": 1.0})

    (match,) = matcher.match(checked(HALF_MATCH_THRESHOLD))
    assert (match.item_id, match.signal) == ("v1", "vpdq") and match.detail["segments"][0]["frames"] == 6
    assert matcher.match(checked(HALF_MATCH_THRESHOLD + 1)) == []
    # A sample's half held to the half threshold against a stored run's frame too.
    frames_only = item("v2", {"sha256": "e" * 64}, tuple(entries[:6]), media="video", duration=6.0)
    bank, index = bank_with(frames_only)
    near_frames = MediaHashes(
        media="video",
        signals={},
        frames=tuple(
            FrameHash(
                float(t), _distinct_frames(6, seed=8)[t], 100, framings=(("whole+half_left", flip(frames[t], 12)),)
            )
            for t in range(6)
        ),
        duration=6.0,
        extra={"sample_fps": 1.0},
    )
    assert frame_hits(index, near_frames) == {}


def test_the_matcher_reports_only_active_items_with_their_best_evidence_per_signal() -> None:
    stored = item("i1", {"sha256": "a" * 64, "pdq": PDQ_A}, (NearEntry("pdq", PDQ_A),))
    bank, _ = bank_with(stored)
    matcher = Matcher(bank, BankIndex())
    hashes = check({"sha256": "a" * 64, "pdq": flip(PDQ_A, 5)}, queries=(LabelledHash("pdq", PDQ_A, "whole"),))
    matches = matcher.match(hashes)
    assert [(m.signal, m.distance, m.query) for m in matches] == [("sha256", 0, "original"), ("pdq", 0, "whole")]
    bank.withdraw_items([stored], WHEN)
    assert matcher.match(hashes) == []


def _far_from_key(value: str, bits: int) -> str:
    """`value` (a PDQ hash) with its highest `bits` bits inverted: bytes outside its low-frequency key."""
    return f"{int(value, 16) ^ (((1 << bits) - 1) << (256 - bits)):064x}"


def test_an_unevenly_cut_copy_is_searched_toward_each_item_then_another_framing_of_each() -> None:
    rng = random.Random(7)
    framings = {name: [f"{rng.getrandbits(256):064x}" for _ in range(3)] for name in ("a", "b", "c", "d", "e")}

    def index_of(*names: str) -> BankIndex:
        items = (item(n, {}, tuple(NearEntry("pdq", v, "framing") for v in framings[n])) for n in names)
        return bank_with(*items)[1]

    # One grid rectangle per stored framing, its key the framing's, its PDQ this many bits away.
    starts = {("a", 0): 20, ("a", 1): 30, ("a", 2): 22, ("b", 0): 40, ("b", 1): 44, ("b", 2): 50, ("c", 0): 60}
    starts |= {("d", 0): 70, ("e", 0): 80}
    grid = [_far_from_key(framings[name][k], bits) for (name, k), bits in starts.items()]
    keys = [low_frequency_key(value) for value in grid]
    assert all(key == low_frequency_key(framings[n][k]) for key, (n, k) in zip(keys, starts, strict=True))
    assert [hex_distance(g, framings[n][k]) for g, (n, k) in zip(grid, starts, strict=True)] == list(starts.values())

    def found(index: BankIndex) -> list[tuple[str, int]]:
        where = {value: (n, k) for n, values in framings.items() for k, value in enumerate(values)}
        candidates = uneven_crop_candidates(index, keys, grid)
        assert all(c.row == list(starts).index(where[c.stored]) for c in candidates)  # each from its own row
        return [where[c.stored] for c in candidates]

    assert UNEVEN_CROP_SEARCHES_PER_ITEM == 2
    # Four items or more: one search each, the closest four, as if each had one framing.
    assert found(index_of("a", "b", "c", "d", "e")) == [("a", 0), ("b", 0), ("c", 0), ("d", 0)]
    # Three: one each, and the search left toward a's second closest (a's 30 bits waits behind its 22).
    assert found(index_of("a", "b", "c")) == [("a", 0), ("a", 2), ("b", 0), ("c", 0)]
    # Two: two each. One: its two closest, never a third.
    assert found(index_of("a", "b")) == [("a", 0), ("a", 2), ("b", 0), ("b", 1)]
    assert found(index_of("a")) == [("a", 0), ("a", 2)]


def test_a_framing_whose_key_agrees_by_chance_is_not_searched_toward() -> None:
    """In a large bank some stored framings' keys agree with a grid rectangle's by chance; such a
    framing shares those 64 bits of its PDQ with the rectangle and ~96 of the other 192, so it
    starts ~96 bits away: past the start limit (90), where a copy's framing (32 bits at the median,
    84 at the 99th percentile) is not."""
    rng = random.Random(11)
    copy_framing, chance = (f"{rng.getrandbits(256):064x}" for _ in range(2))
    _, index = bank_with(
        item("copy", {}, (NearEntry("pdq", copy_framing, "framing"),)),
        item("chance", {}, (NearEntry("pdq", chance, "framing"),)),
    )
    grid = [_far_from_key(copy_framing, 84), _far_from_key(chance, 96)]
    keys = [low_frequency_key(value) for value in grid]
    assert keys == [low_frequency_key(copy_framing), low_frequency_key(chance)]
    assert 84 <= UNEVEN_CROP_START_LIMIT < 96

    candidates = uneven_crop_candidates(index, keys, grid)

    assert [(c.row, c.stored) for c in candidates] == [(0, copy_framing)]


def test_a_second_search_toward_one_item_is_never_the_first_again() -> None:
    first = f"{random.Random(3).getrandbits(256):064x}"
    near = _far_from_key(first, SAME_SEARCH_BITS)  # another stored entry a few bits away: one run's frames
    other = f"{random.Random(4).getrandbits(256):064x}"
    _, index = bank_with(item("v", {}, tuple(NearEntry("pdq", v, "framing") for v in (first, near, other))))
    grid = [_far_from_key(first, 20), _far_from_key(other, 40)]
    keys = [low_frequency_key(value) for value in grid]
    assert hex_distance(first, near) == SAME_SEARCH_BITS

    candidates = uneven_crop_candidates(index, keys, grid)

    assert [(c.row, c.stored) for c in candidates] == [(0, near), (1, other)]
