"""The retained-check shard file: what compaction writes is what the scan reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashmatch.aws.retained import DOCUMENT_LIMIT, RetainedRecord, decode_check, encode_check, fitted_check
from hashmatch.aws.retained_shards import (
    RETENTION_TIERS,
    RetainedShard,
    ShardError,
    read_shard_bytes,
    retention_tier,
    write_shard,
)
from hashmatch.bank.model import Provenance
from hashmatch.media.image import hash_picture
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.retroactive import RetainedCheck, RetainedPrints
from hashmatch.service.service import item_from_media
from hashmatch_tools.samples import mirrored, resized, sampled_video_hashes, smooth_photo

pytestmark = pytest.mark.unit


def _record(number: int, seed: int) -> RetainedRecord:
    hashes = replace(hash_picture(mirrored(resized(smooth_photo(seed, (480, 320)), 0.8))), uneven_crops=None)
    check = RetainedCheck(
        "facebook", ObjectRef("b", f"k{number}"), f"c{number}", f"2026-12-01T10:0{number}:00.000Z", hashes
    )
    return RetainedRecord(check.check_id, check.checked_at, 1_800_000_000 + number, encode_check(check))


def test_a_shard_reads_back_as_written_and_fetches_only_the_documents_asked_for() -> None:
    records = [_record(n, seed) for n, seed in enumerate((13, 40, 41, 13))]
    shard = RetainedShard.build("facebook", "2026-12-01T10", records + records[:1])  # a duplicate, kept once
    data = write_shard(shard)
    fetched: list[int] = []
    read = read_shard_bytes(data)
    assert read.platform == "facebook" and read.hour == "2026-12-01T10" and len(read) == 4
    assert read.records() == sorted(records, key=lambda r: r.checked_at)
    shared = hash_picture(smooth_photo(13, (480, 320)), for_sharing=True)
    shared = replace(shared, signals={**shared.signals, "sha256": "5" * 64})
    item = item_from_media(shared, Provenance("tiktok", "2026-12-01T12:00:00Z"))
    candidates = read.prints.candidates([item])
    assert candidates == RetainedPrints([shard.check(n) for n in range(4)]).candidates([item]) == {0, 3}
    original = read.check
    read.check = lambda number: fetched.append(number) or original(number)  # type: ignore[method-assign]
    assert {read.prints.checks[n].obj.key for n in candidates} == {"k0", "k3"}
    assert sorted(fetched) == [0, 3]  # the other checks' documents were never decoded


def test_an_unreadable_shard_says_so() -> None:
    data = write_shard(RetainedShard.build("facebook", "2026-12-01T10", [_record(0, 13)]))
    with pytest.raises(ShardError, match="bad magic"):
        read_shard_bytes(b"not a shard at all")
    with pytest.raises(ShardError):
        read_shard_bytes(data[:200])


def test_a_shard_is_tagged_with_the_smallest_tier_at_or_above_its_retention() -> None:
    assert [retention_tier(d) for d in (0.5, 1, 6.9, 7.2, 30, 45, 90, 91)] == [1, 1, 7, 14, 30, 60, 90, 90]
    assert RETENTION_TIERS[-1] == 90


def video_check(samples: int, framings: int) -> RetainedCheck:
    """A sampled video's check: `samples` frames, each in 8 orientations with `framings` framings."""
    hashes = sampled_video_hashes(samples, framings, seed=samples)
    return RetainedCheck("facebook", ObjectRef("b", "long.mp4"), "c", "2026-12-01T10:00:00.000Z", hashes)


def test_a_long_videos_check_is_kept_smaller_to_fit_one_item_and_a_short_ones_as_it_is() -> None:
    short = video_check(60, 6)
    assert fitted_check(short) == (encode_check(short), None)
    long = video_check(2 * 3600, 6)  # two hours at 1 fps
    assert len(encode_check(long)) > 400_000
    document, left_out = fitted_check(long)
    assert len(document) <= DOCUMENT_LIMIT and left_out is not None
    kept = decode_check("facebook", long.checked_at, document)
    assert all(frame.framings == () for frame in kept.hashes.frames)
    step = round(len(long.hashes.frames) / len(kept.hashes.frames))
    assert step >= 2 and f"1 sample in {step}" in left_out
    # The samples kept are the video's own, evenly spread, each still in its eight orientations.
    expected = [replace(frame, framings=()) for frame in long.hashes.frames[::step]]
    assert list(kept.hashes.frames) == expected
