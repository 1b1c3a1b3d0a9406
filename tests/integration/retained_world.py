"""Retained checks over three hours (copies of two photos, unrelated pictures) in the table of a
moto stack, with its shard store and compactor: the world the shard and fan-out tests scan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from hashmatch.aws.retained import DynamoRetainedChecks
from hashmatch.aws.retained_shards import RetainedCompactor, S3RetainedShards, ShardedRetainedChecks
from hashmatch.bank.model import Provenance
from hashmatch.media.image import hash_picture
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.retroactive import RetainedCheck, RetentionPolicy, RetroactiveScanner
from hashmatch.service.service import item_from_media
from hashmatch_tools.local.template import Stack
from hashmatch_tools.samples import mirrored, resized, smooth_photo

REGION = "us-east-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 20, tzinfo=UTC)

    def __call__(self) -> float:
        return self.now.timestamp()


def at(clock: Clock, minutes_ago: float) -> str:
    moment = clock.now - timedelta(minutes=minutes_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def retained_check(platform: str, key: str, image: Any, checked_at: str) -> RetainedCheck:
    hashes = replace(hash_picture(image), uneven_crops=None)
    return RetainedCheck(platform, ObjectRef("ingest", key, "e", 1, "s"), f"post-{key}", checked_at, hashes)


def shared(seed: int) -> Any:
    hashes = hash_picture(smooth_photo(seed, (480, 320)), for_sharing=True)
    hashes = replace(hashes, signals={**hashes.signals, "sha256": f"{seed:064d}"})
    return item_from_media(hashes, Provenance("tiktok", "2026-12-01T12:20:00Z"))


def build_world(moto_aws: Stack) -> dict[str, Any]:
    """Retained checks over three hours: copies of two photos, and unrelated pictures."""
    clock = Clock()
    session = boto3.session.Session(region_name=REGION)
    table = session.resource("dynamodb").Table(moto_aws.physical_names("BankTable")["ref"])
    s3 = session.client("s3")
    bucket = moto_aws.physical_names("RetainedBucket")["ref"]
    dynamo = DynamoRetainedChecks(table, clock)
    shards = S3RetainedShards(bucket, s3)
    sharded = ShardedRetainedChecks(dynamo, shards, clock)
    for number, (minutes, seed, copy) in enumerate(
        [(150, 13, True), (140, 50, False), (95, 21, True), (80, 51, False), (10, 13, True), (5, 52, False)]
    ):
        photo = smooth_photo(seed, (480, 320))
        image = mirrored(resized(photo, 0.8)) if copy else photo
        sharded.retain(retained_check("facebook", f"k{number}", image, at(clock, minutes)), 30)
    sharded.retain(retained_check("youtube", "y0", smooth_photo(21, (480, 320)), at(clock, 200)), 7)
    compactor = RetainedCompactor(dynamo, shards, ["facebook", "youtube", "tiktok"], clock)
    return {"clock": clock, "sharded": sharded, "dynamo": dynamo, "shards": shards, "compactor": compactor,
            "s3": s3, "bucket": bucket}  # fmt: skip


def found(retained: Any, clock: Clock, seeds: tuple[int, ...] = (13, 21)) -> set[tuple[str, str]]:
    scanner = RetroactiveScanner(retained, RetentionPolicy({"facebook": 30, "youtube": 7}))
    matches = scanner.scan([shared(seed) for seed in seeds], clock.now)
    return {(m.check.platform, m.check.obj.key) for m in matches}
