"""Retained checks compacted into hourly S3 shards (moto): the scan finds what it found before."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from hashmatch.aws.retained import DynamoRetainedChecks, RetainedRecord, encode_check
from hashmatch.aws.retained_shards import (
    RETENTION_TAG,
    RetainedShard,
    S3RetainedShards,
    ShardConflict,
    shard_key,
    write_shard,
)
from hashmatch.service.retroactive import RetainedPrints, RetentionPolicy, RetroactiveScanner
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import mirrored, resized, smooth_photo
from tests.integration.retained_world import Clock, at, build_world, found, retained_check, shared
from tests.unit.test_retained_shard_format import video_check

pytestmark = pytest.mark.integration

REGION = "us-east-1"


@pytest.fixture
def world(moto_aws: Stack) -> dict[str, Any]:
    return build_world(moto_aws)


def _keys(world: dict[str, Any]) -> list[str]:
    listed = world["s3"].list_objects_v2(Bucket=world["bucket"], Prefix="retained/").get("Contents", [])
    return sorted(o["Key"] for o in listed)


def test_compaction_moves_hours_before_the_current_one_and_the_scan_finds_the_same_matches(world) -> None:
    clock = world["clock"]
    before = found(world["dynamo"], clock)
    assert before == {("facebook", "k0"), ("facebook", "k2"), ("facebook", "k4"), ("youtube", "y0")}

    report = world["compactor"].compact()

    assert report.moved == {"facebook": 4, "youtube": 1}
    assert _keys(world) == [
        shard_key("facebook", "2026-12-01T09"),
        shard_key("facebook", "2026-12-01T10"),
        shard_key("facebook", "2026-12-01T11"),
        shard_key("youtube", "2026-12-01T09"),
    ]
    # The table keeps only the current hour's checks.
    assert sorted(c.obj.key for c in world["dynamo"].checks("facebook", "2026-11-01")) == ["k4", "k5"]
    assert found(world["sharded"], clock) == before
    assert found(world["sharded"], clock, seeds=(99,)) == set()
    tags = world["s3"].get_object_tagging(Bucket=world["bucket"], Key=_keys(world)[0])["TagSet"]
    assert tags == [{"Key": RETENTION_TAG, "Value": "30"}]


def test_a_rerun_adds_no_duplicates_and_an_interrupted_run_is_counted_once(world) -> None:
    clock, sharded, dynamo = world["clock"], world["sharded"], world["dynamo"]
    world["compactor"].compact()
    assert world["compactor"].compact().moved == {}
    # A run that wrote its shard and died before deleting: the same check in the table and a shard.
    late = retained_check("facebook", "k0", mirrored(resized(smooth_photo(13, (480, 320)), 0.8)), at(clock, 150))
    dynamo.retain(late, 30)
    keys = [c.obj.key for c in sharded.checks("facebook", "2026-11-01")]
    assert sorted(keys) == ["k0", "k1", "k2", "k3", "k4", "k5"]
    assert len([m for m in RetroactiveScanner(sharded, RetentionPolicy({"facebook": 30})).scan(
        [shared(13)], clock.now) if m.check.obj.key == "k0"]) == 1  # fmt: skip
    # A late check of an hour already compacted is merged into its shard.
    dynamo.retain(retained_check("facebook", "k9", smooth_photo(60, (480, 320)), at(clock, 145)), 30)
    assert world["compactor"].compact().moved == {"facebook": 2}
    keys = [c.obj.key for c in sharded.checks("facebook", "2026-11-01")]
    assert sorted(keys) == ["k0", "k1", "k2", "k3", "k4", "k5", "k9"]


def test_expired_checks_and_shards_are_never_scanned(world) -> None:
    clock = world["clock"]
    world["compactor"].compact()
    clock.now += timedelta(days=7, hours=1)  # youtube's 7 days are over; facebook's 30 are not
    assert found(world["sharded"], clock) == {("facebook", "k0"), ("facebook", "k2"), ("facebook", "k4")}
    clock.now += timedelta(days=24)
    assert found(world["sharded"], clock) == set()
    assert list(world["sharded"].checks("facebook", "2026-11-01")) == []


def test_purge_removes_from_the_shards_at_once(world) -> None:
    clock, sharded = world["clock"], world["sharded"]
    world["compactor"].compact()
    # Before 10:30: the 09 shard goes, the 10 shard is rewritten without its 10:05 check.
    before = at(clock, 115)
    assert sharded.purge("facebook", before) == 2
    assert shard_key("facebook", "2026-12-01T09") not in _keys(world)
    keys = sorted(c.obj.key for c in sharded.checks("facebook", "2026-11-01"))
    assert keys == ["k2", "k3", "k4", "k5"]
    assert found(sharded, clock) == {("facebook", "k2"), ("facebook", "k4"), ("youtube", "y0")}
    assert sharded.purge("facebook") == 4
    assert not [k for k in _keys(world) if k.startswith("retained/facebook/")]
    assert found(sharded, clock) == {("youtube", "y0")}


def test_a_shard_under_one_members_prefix_is_only_ever_read_as_that_members(world) -> None:
    # A member may write under its own prefix (to purge): a shard there that names another member
    # must not make a check of that member's, nor send it a retroactive alert.
    clock = world["clock"]
    world["compactor"].compact()
    before = found(world["sharded"], clock)
    hour, checked_at = "2026-12-01T11", at(clock, 70)
    forged = retained_check("facebook", "chosen-by-youtube", smooth_photo(13, (480, 320)), checked_at)
    record = RetainedRecord(forged.check_id, checked_at, int(clock()) + 86400, encode_check(forged))
    shard = write_shard(RetainedShard.build("facebook", hour, [record]))
    world["s3"].put_object(Bucket=world["bucket"], Key=shard_key("youtube", hour), Body=shard)
    assert found(world["sharded"], clock) == before


def test_an_unreadable_shard_or_record_is_left_out_and_fails_no_share(world) -> None:
    clock, table = world["clock"], world["dynamo"]._table
    world["compactor"].compact()
    before = found(world["sharded"], clock)
    world["s3"].put_object(Bucket=world["bucket"], Key=shard_key("youtube", "2026-12-01T10"), Body=b"junk")
    junk = {"check": Binary(b"junk"), "expires_at": int(clock()) + 86400}
    table.put_item(Item={"pk": "RETAINED#youtube#2026-12-01", "sk": f"{at(clock, 70)}#junk", **junk})
    table.put_item(Item={"pk": "RETAINED#youtube#2026-12-01", "sk": f"{at(clock, 5)}#junk", **junk})
    table.put_item(Item={"pk": "RETAINED#youtube#2026-12-01", "sk": "no-check-id", "check": "text"})
    assert found(world["sharded"], clock) == before
    # The compaction drops the unreadable record of 11:10 (no shard for it) and fails on nothing;
    # the member's purge removes the unreadable shard.
    assert world["compactor"].compact().moved == {"youtube": 1}
    assert shard_key("youtube", "2026-12-01T11") not in _keys(world)
    assert found(world["sharded"], clock) == before
    world["sharded"].purge("youtube")
    assert not [key for key in _keys(world) if key.startswith("retained/youtube/")]


def _planted(world: dict[str, Any], platform: str, owner_shift: int = 0) -> bytes:
    """A shard a member could write under its own prefix: one check of photo 13 at 11:10 named
    `platform`, its hashes' owners moved by `owner_shift`."""
    clock, checked_at = world["clock"], at(world["clock"], 70)
    check = retained_check(platform, "planted", smooth_photo(13, (480, 320)), checked_at)
    record = RetainedRecord(check.check_id, checked_at, int(clock()) + 86400, encode_check(check))
    shard = RetainedShard.build(platform, "2026-12-01T11", [record])
    pdq, owner, whole, phash, phash_owner = shard.prints.arrays()
    shard.prints = RetainedPrints.from_arrays(
        shard.prints.checks, pdq, owner + owner_shift, whole, phash, phash_owner + owner_shift
    )
    return write_shard(shard)


def test_a_planted_shard_that_reads_but_does_not_hold_together_fails_no_share(world) -> None:
    clock = world["clock"]
    world["compactor"].compact()
    before = found(world["sharded"], clock)
    key = shard_key("youtube", "2026-12-01T11")
    world["s3"].put_object(Bucket=world["bucket"], Key=key, Body=_planted(world, "youtube", owner_shift=5))
    assert found(world["sharded"], clock) == before
    # Under a member's prefix, one level down, naming a platform with a "/" in it: not read either.
    nested = shard_key("youtube/sub", "2026-12-01T11")
    world["s3"].put_object(Bucket=world["bucket"], Key=nested, Body=_planted(world, "youtube/sub"))
    assert found(world["sharded"], clock) == before
    # A record whose document holds a number no integer can be (a size of Infinity).
    hashes = {"media": "image", "signals": {"pdq": "f" * 64}}
    document = {"bucket": "b", "key": "k", "etag": "e", "size": float("inf"), "sequencer": "s", "hashes": hashes}
    document |= {"content_id": None, "entry": None}
    blob = Binary(zlib.compress(json.dumps(document).encode()))
    item = {"pk": "RETAINED#youtube#2026-12-01", "sk": f"{at(clock, 5)}#inf", "check": blob}
    world["dynamo"]._table.put_item(Item={**item, "expires_at": int(clock()) + 86400})
    assert found(world["sharded"], clock) == before


def test_a_shard_rewritten_meanwhile_is_not_overwritten(world) -> None:
    world["compactor"].compact()
    shards = world["shards"]
    shard, etag = shards.get("facebook", "2026-12-01T10")
    assert shard is not None and etag is not None
    fewer = RetainedShard.build("facebook", "2026-12-01T10", shard.records()[:1])
    shards.put(fewer, etag, world["clock"]())  # another writer got there first
    with pytest.raises(ShardConflict):
        shards.put(shard, etag, world["clock"]())
    with pytest.raises(ShardConflict):
        shards.put(shard, None, world["clock"]())


def test_a_warm_reader_reads_a_shard_again_only_once_it_changed_or_was_evicted(world) -> None:
    world["compactor"].compact()
    shards = world["shards"]
    first, second = shards.listed("facebook")[:2]
    kept = shards.shard(first)
    assert shards.shard(first) is kept
    with pytest.raises(ClientError, match="PreconditionFailed"):  # reads are pinned to the listed ETag
        shards.shard(replace(first, etag='"changed"'))
    small = S3RetainedShards(world["bucket"], world["s3"], cache_bytes=0)  # keeps only the last one read
    kept = small.shard(first)
    small.shard(second)
    assert small.shard(first) is not kept


def test_an_hour_whose_shard_a_purge_rewrote_meanwhile_is_left_for_the_next_run(world, monkeypatch) -> None:
    shards, put = world["shards"], world["shards"].put

    def crossing(shard: RetainedShard, etag: str | None, now: float) -> None:
        if shard.hour == "2026-12-01T10":
            raise ShardConflict("a purge rewrote it")
        put(shard, etag, now)

    monkeypatch.setattr(shards, "put", crossing)
    assert world["compactor"].compact().moved == {"facebook": 2, "youtube": 1}
    assert sorted(c.obj.key for c in world["dynamo"].checks("facebook", "2026-11-01")) == ["k1", "k2", "k4", "k5"]
    monkeypatch.setattr(shards, "put", put)
    assert world["compactor"].compact().moved == {"facebook": 2}
    assert found(world["sharded"], world["clock"]) == {
        ("facebook", "k0"),
        ("facebook", "k2"),
        ("facebook", "k4"),
        ("youtube", "y0"),
    }


def test_a_long_videos_check_is_retained_in_one_item_and_read_back(moto_aws: Stack) -> None:
    clock = Clock()
    table = (
        boto3.session.Session(region_name=REGION)
        .resource("dynamodb")
        .Table(moto_aws.physical_names("BankTable")["ref"])
    )
    long = replace(video_check(2 * 3600, 6), checked_at=at(clock, 5))
    too_big = {"pk": "RETAINED#facebook#2026-12-01", "sk": "raw", "check": encode_check(long)}
    with pytest.raises(ClientError, match="size"):
        table.put_item(Item=too_big)  # what retaining it whole would do
    dynamo = DynamoRetainedChecks(table, clock)
    dynamo.retain(long, 30)
    (kept,) = list(dynamo.checks("facebook", at(clock, 60)))
    assert kept.check_id == long.check_id and 0 < len(kept.hashes.frames) < len(long.hashes.frames)
