"""The near-match index returns exactly what a brute-force scan returns, through adds, removes and reloads."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.index.hamming import FORMAT_VERSION, HammingIndex, NearMatches, default_chunks

pytestmark = pytest.mark.unit

PDQ_BITS = 256
PHASH_BITS = 64


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)


def brute_force(ids: np.ndarray, stored: np.ndarray, queries: np.ndarray, threshold: int) -> list[tuple[int, int, int]]:
    """Reference answer: every pair compared byte by byte, independent of the index's code."""
    if stored.shape[0] == 0 or queries.shape[0] == 0:
        return []
    distances = _POPCOUNT[queries[:, None, :] ^ stored[None, :, :]].sum(axis=2)
    rows, cols = np.nonzero(distances <= threshold)
    found = [(int(r), int(ids[c]), int(distances[r, c])) for r, c in zip(rows, cols, strict=True)]
    return sorted(found, key=lambda m: (m[0], m[2], m[1]))


def flip(hashes: np.ndarray, rng: np.random.Generator, flips: np.ndarray) -> np.ndarray:
    """Each row with exactly ``flips[i]`` distinct bits flipped."""
    nbits = hashes.shape[1] * 8
    rank = rng.random((hashes.shape[0], nbits)).argsort(axis=1).argsort(axis=1)
    return hashes ^ np.packbits(rank < np.asarray(flips)[:, None], axis=1)


def clustered(rng: np.random.Generator, n: int, bits: int, centres: int, max_flips: int) -> np.ndarray:
    centre = rng.integers(0, 256, size=(centres, bits // 8), dtype=np.uint8)
    members = centre[rng.integers(0, centres, size=n)]
    return flip(members, rng, rng.integers(0, max_flips + 1, size=n))


def as_list(matches: NearMatches) -> list[tuple[int, int, int]]:
    return list(matches)


def build(ids: np.ndarray, hashes: np.ndarray, bits: int = PDQ_BITS, **options: int) -> HammingIndex:
    index = HammingIndex(bits, **options)
    index.add(ids, hashes)
    return index


# -- equal to brute force ------------------------------------------------------------------------


@st.composite
def stored_and_queries(draw: st.DrawFn, bits: int) -> tuple[np.ndarray, np.ndarray, int]:
    width = bits // 8
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(0, 60))
    kind = draw(st.sampled_from(["random", "clustered"]))
    if kind == "random" or n == 0:
        stored = rng.integers(0, 256, size=(n, width), dtype=np.uint8)
    else:
        stored = clustered(rng, n, bits, centres=draw(st.integers(1, 4)), max_flips=bits // 6)
    near = stored[rng.integers(0, n, size=4)] if n else np.empty((0, width), dtype=np.uint8)
    near = flip(near, rng, rng.integers(0, bits // 6, size=near.shape[0]))
    queries = np.concatenate([near, rng.integers(0, 256, size=(2, width), dtype=np.uint8)])
    threshold = draw(st.integers(0, bits // 4))
    return stored, queries, threshold


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=stored_and_queries(PDQ_BITS),
    chunks=st.sampled_from([13, 16, 20, 32]),
    delta_limit=st.sampled_from([0, 8, 4096]),
)
def test_pdq_matches_equal_brute_force(case: tuple[np.ndarray, np.ndarray, int], chunks: int, delta_limit: int) -> None:
    stored, queries, threshold = case
    ids = np.arange(stored.shape[0], dtype=np.int64) * 7 - 50
    index = build(ids, stored, chunks=chunks, delta_limit=delta_limit)
    assert as_list(index.query(queries, threshold)) == brute_force(ids, stored, queries, threshold)


@settings(max_examples=100, deadline=None)
@given(case=stored_and_queries(PHASH_BITS), chunks=st.sampled_from([3, 4, 8]))
def test_phash_matches_equal_brute_force(case: tuple[np.ndarray, np.ndarray, int], chunks: int) -> None:
    stored, queries, threshold = case
    ids = np.arange(stored.shape[0], dtype=np.int64)
    index = build(ids, stored, bits=PHASH_BITS, chunks=chunks)
    assert as_list(index.query(queries, threshold)) == brute_force(ids, stored, queries, threshold)


@pytest.mark.parametrize(("kind", "chunks"), [("random", 16), ("clustered", 16), ("clustered", 12)])
def test_seeded_larger_set_equals_brute_force(kind: str, chunks: int) -> None:
    rng = np.random.default_rng(20240531)
    n = 20_000
    if kind == "random":
        stored = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    else:
        stored = clustered(rng, n, PDQ_BITS, centres=200, max_flips=40)
    ids = rng.permutation(n * 3)[:n].astype(np.int64)
    picked = stored[rng.integers(0, n, size=24)]
    queries = np.concatenate(
        [flip(picked, rng, rng.integers(0, 40, size=24)), rng.integers(0, 256, size=(8, 32), dtype=np.uint8)]
    )
    index = HammingIndex.build(PDQ_BITS, ids, stored, chunks=chunks)
    assert index.delta_size == 0 and len(index) == n
    for threshold in (0, 10, 31, 45):
        assert as_list(index.query(queries, threshold)) == brute_force(ids, stored, queries, threshold)


def test_threshold_boundary_includes_t_and_excludes_t_plus_one() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    at_31 = flip(base, rng, np.array([31]))
    at_32 = flip(base, rng, np.array([32]))
    index = build(np.array([31, 32]), np.concatenate([at_31, at_32]))
    assert as_list(index.query(base, 31)) == [(0, 31, 31)]
    assert as_list(index.query(base, 32)) == [(0, 31, 31), (0, 32, 32)]
    assert as_list(index.query(base, 30)) == []


def test_results_are_grouped_by_query_then_distance() -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    stored = flip(np.repeat(base, 3, axis=0), rng, np.array([9, 0, 4]))
    index = build(np.array([10, 11, 12]), stored)
    result = index.query(np.concatenate([base, stored[2:]]), 31)
    assert result.query_rows.tolist() == [0, 0, 0, 1, 1, 1]
    assert result.for_query(0) == [(11, 0), (12, 4), (10, 9)]
    assert result.distances.dtype == np.int32 and result.ids.dtype == np.int64


def test_large_threshold_scans_and_stays_exact() -> None:
    rng = np.random.default_rng(3)
    stored = rng.integers(0, 256, size=(500, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    ids = np.arange(500)
    index = build(ids, stored)
    for threshold in (128, 256, 1000):
        assert as_list(index.query(queries, threshold)) == brute_force(ids, stored, queries, threshold)


# -- freshness -----------------------------------------------------------------------------------


def test_add_after_build_is_visible_to_the_next_query() -> None:
    rng = np.random.default_rng(4)
    stored = rng.integers(0, 256, size=(1000, 32), dtype=np.uint8)
    index = build(np.arange(1000), stored, delta_limit=16)
    index.compact()
    fresh = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    index.add([5000], fresh)
    assert index.delta_size == 1
    assert as_list(index.query(fresh, 0)) == [(0, 5000, 0)]
    # Past the delta limit the rows move into the sorted tables and still match.
    more = rng.integers(0, 256, size=(40, 32), dtype=np.uint8)
    index.add(np.arange(6000, 6040), more)
    assert index.delta_size == 0
    assert len(index) == 1041
    result = index.query(np.concatenate([fresh, more]), 0)
    assert result.ids.tolist() == [5000, *range(6000, 6040)]


def test_remove_stops_matching_at_once_in_main_and_delta() -> None:
    rng = np.random.default_rng(5)
    stored = rng.integers(0, 256, size=(100, 32), dtype=np.uint8)
    index = build(np.arange(100), stored, delta_limit=1000)
    index.compact()
    extra = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    index.add([500], extra)
    assert index.remove([3, 500, 12345]) == 2
    assert as_list(index.query(stored[3:4], 31)) == []
    assert as_list(index.query(extra, 31)) == []
    assert as_list(index.query(stored[4:5], 0)) == [(0, 4, 0)]
    assert len(index) == 99 and 3 not in index and 4 in index
    assert index.remove([3]) == 0


def test_adding_a_present_id_replaces_its_hash() -> None:
    rng = np.random.default_rng(6)
    old, new = rng.integers(0, 256, size=(2, 1, 32), dtype=np.uint8)
    index = build(np.array([1]), old)
    index.compact()
    index.add([1], new)
    assert len(index) == 1
    assert as_list(index.query(old, 0)) == []
    assert as_list(index.query(new, 0)) == [(0, 1, 0)]
    index.add([1], old)  # replaced again, now within the delta
    assert as_list(index.query(np.concatenate([old, new]), 0)) == [(0, 1, 0)]


def test_a_log_of_adds_and_removes_matches_a_model() -> None:
    rng = np.random.default_rng(7)
    index = HammingIndex(PDQ_BITS, delta_limit=25)
    model: dict[int, np.ndarray] = {}
    centres = rng.integers(0, 256, size=(5, 32), dtype=np.uint8)
    for step in range(300):
        if rng.random() < 0.7:
            batch = rng.choice(400, size=int(rng.integers(1, 12)), replace=False)
            hashes = flip(centres[rng.integers(0, 5, size=batch.size)], rng, rng.integers(0, 40, size=batch.size))
            index.add(batch, hashes)
            model.update(zip(batch.tolist(), hashes, strict=True))
        else:
            batch = rng.choice(400, size=int(rng.integers(1, 30)), replace=False)
            assert index.remove(batch) == sum(int(i) in model for i in batch)
            for item in batch.tolist():
                model.pop(item, None)
        if step % 20 == 0:
            ids = np.array(sorted(model), dtype=np.int64)
            stored = np.array([model[i] for i in ids.tolist()], dtype=np.uint8).reshape(-1, 32)
            queries = flip(centres, rng, rng.integers(0, 10, size=5))
            assert len(index) == len(model)
            assert as_list(index.query(queries, 31)) == brute_force(ids, stored, queries, 31)
            # Stored hashes read back by id, and the whole contents, agree with the model too.
            if ids.size:
                np.testing.assert_array_equal(index.rows_of(ids[::-1]), stored[::-1])
            held_ids, held_rows = index.contents()
            order = np.argsort(held_ids)
            np.testing.assert_array_equal(held_ids[order], ids)
            np.testing.assert_array_equal(held_rows[order], stored)
    missing = next(i for i in range(400) if i not in model)
    with pytest.raises(KeyError, match=f"ids not in the index: \\[{missing}\\]"):
        index.rows_of([missing])


# -- snapshot ------------------------------------------------------------------------------------


def test_serialize_and_load_round_trip_with_delta_and_removals() -> None:
    rng = np.random.default_rng(8)
    stored = clustered(rng, 3000, PDQ_BITS, centres=30, max_flips=40)
    index = build(np.arange(3000), stored, delta_limit=100)
    index.remove(np.arange(0, 3000, 7))
    index.add(np.arange(10_000, 10_050), rng.integers(0, 256, size=(50, 32), dtype=np.uint8))
    buffer = io.BytesIO()
    index.serialize(buffer)
    buffer.seek(0)
    loaded = HammingIndex.load(buffer)
    assert len(loaded) == len(index) and loaded.delta_size == index.delta_size == 50
    assert loaded.chunks == index.chunks
    queries = np.concatenate([stored[:40], rng.integers(0, 256, size=(4, 32), dtype=np.uint8)])
    assert as_list(loaded.query(queries, 31)) == as_list(index.query(queries, 31))
    loaded.add([99_999], stored[:1])
    assert 99_999 in loaded and 99_999 not in index
    # The loaded arrays take further removals and merges.
    assert loaded.remove([1]) == 1
    loaded.compact()
    assert loaded.delta_size == 0 and len(loaded) == len(index)
    result = loaded.query(stored[:2], 0)
    assert (99_999, 0) in result.for_query(0) and 1 not in result.ids.tolist()


def test_snapshot_of_phash_index_round_trips_through_a_file(tmp_path) -> None:
    rng = np.random.default_rng(9)
    stored = rng.integers(0, 256, size=(500, 8), dtype=np.uint8)
    index = build(np.arange(500), stored, bits=PHASH_BITS)
    path = tmp_path / "phash.hmnx"
    with path.open("wb") as out:
        index.serialize(out)
    with path.open("rb") as source:
        loaded = HammingIndex.load(source)
    assert loaded.bits == PHASH_BITS
    assert as_list(loaded.query(stored[:20], 8)) == as_list(index.query(stored[:20], 8))


def _snapshot(index: HammingIndex) -> bytes:
    buffer = io.BytesIO()
    index.serialize(buffer)
    return buffer.getvalue()


def test_load_rejects_other_files_and_versions() -> None:
    with pytest.raises(ValueError, match="bad magic"):
        HammingIndex.load(io.BytesIO(b"\x93NUMPY not ours"))
    raw = _snapshot(HammingIndex(PDQ_BITS))
    header_start = raw.index(b'{"format"')
    header_end = raw.index(b"}", header_start) + 1
    header = json.loads(raw[header_start:header_end])
    assert header["version"] == FORMAT_VERSION
    header["version"] = FORMAT_VERSION + 1
    replaced = json.dumps(header).encode()
    assert len(replaced) == header_end - header_start
    with pytest.raises(ValueError, match="unsupported near-index snapshot"):
        HammingIndex.load(io.BytesIO(raw[:header_start] + replaced + raw[header_end:]))
    with pytest.raises(ValueError, match="corrupt"):
        HammingIndex.load(io.BytesIO(raw[: len(raw) // 2]))


def test_snapshot_holds_no_pickle() -> None:
    raw = _snapshot(build(np.arange(3), np.zeros((3, 32), dtype=np.uint8)))
    assert raw.startswith(b"HMNEARIX\x93NUMPY")
    assert b"'descr': '|O'" not in raw


# -- edges and errors ----------------------------------------------------------------------------


def test_popcount_fallback_for_old_numpy_agrees() -> None:
    from hashmatch.signals import bits as module

    words = np.random.default_rng(10).integers(0, 2**63, size=(50, 4), dtype=np.uint64)
    words[0] = np.iinfo(np.uint64).max
    expected = [[bin(int(w)).count("1") for w in row] for row in words]
    assert module._popcount_by_table(words).tolist() == expected


def test_empty_index_matches_nothing() -> None:
    index = HammingIndex(PDQ_BITS)
    queries = np.zeros((8, 32), dtype=np.uint8)
    assert len(index) == 0 and len(index.query(queries, 31)) == 0
    assert len(index.query(np.empty((0, 32), dtype=np.uint8), 31)) == 0
    index.add([], np.empty((0, 32), dtype=np.uint8))
    assert len(index) == 0


def test_hex_convenience() -> None:
    index = HammingIndex(PHASH_BITS)
    index.add_hex([1, 2], ["ffffffffffffffff", "00000000000000ff"])
    assert as_list(index.query_hex(["00000000000000fe"], 1)) == [(0, 2, 1)]
    assert as_list(index.query_hex(["FFFFFFFFFFFFFFFF"], 0)) == [(0, 1, 0)]


@pytest.mark.parametrize(
    ("hashes", "message"),
    [
        (["fff"], "not 16 hex digits"),
        (["zzzzzzzzzzzzzzzz"], "not a hex string"),
        (["ffff fffffffffff"], "not a hex string"),
        ("ffffffffffffffff", "one string"),
    ],
)
def test_rejects_malformed_hex(hashes: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HammingIndex(PHASH_BITS).add_hex([1] * len(hashes), hashes)


def test_rejects_malformed_input_with_clear_errors() -> None:
    index = HammingIndex(PDQ_BITS)
    good = np.zeros((2, 32), dtype=np.uint8)
    with pytest.raises(ValueError, match="dtype"):
        index.add([1, 2], good.astype(np.int64))
    with pytest.raises(ValueError, match=r"shape \(n, 32\)"):
        index.add([1, 2], np.zeros((2, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"shape \(n, 32\)"):
        index.query(np.zeros(32, dtype=np.uint8), 31)
    with pytest.raises(ValueError, match="2 ids for 1 hashes"):
        index.add([1, 2], good[:1])
    with pytest.raises(ValueError, match="repeat"):
        index.add([1, 1], good)
    with pytest.raises(ValueError, match="integers"):
        index.add([1.5, 2.0], good)
    with pytest.raises(ValueError, match=">= 0"):
        index.query(good, -1)
    with pytest.raises(ValueError, match="threshold must be an int"):
        index.query(good, 3.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="multiple of 64"):
        HammingIndex(100)
    with pytest.raises(ValueError, match="chunks"):
        HammingIndex(PDQ_BITS, chunks=4)
    assert len(index) == 0


def test_chunk_keys_widen_past_the_measured_switch_and_a_new_index_stays_small() -> None:
    """16-bit chunk keys for small indexes, 22-bit ones from 1.5M hashes (PDQ, pHash, the framing
    keys); a new index, laid out for the default expected size, keeps the small tables."""
    assert [default_chunks(PDQ_BITS, n) for n in (1_000_000, 1_499_999, 1_500_000, 10_000_000)] == [16, 16, 12, 12]
    assert [default_chunks(64, n) for n in (1_000_000, 1_499_999, 1_500_000, 10_000_000)] == [4, 4, 3, 3]
    assert len(HammingIndex(PDQ_BITS).chunks) == 16
    assert HammingIndex(PDQ_BITS).nbytes < 5_000_000  # 16 tables of 2**16 + 1 offsets
