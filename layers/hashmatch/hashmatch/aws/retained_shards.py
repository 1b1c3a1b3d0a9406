"""Retained checks in hourly S3 shards, the DynamoDB table holding only the tail not yet compacted.

A scheduled compaction (`RetainedCompactor`, template.yaml `CompactionFunction`) moves each
platform's retained checks made before the current hour from the bank table
(`hashmatch.aws.retained`) into one object per platform and hour,
``retained/<platform>/<yyyy-mm-dd>/<hh>.shard``:

* 8 bytes of magic and the little-endian length of the *prints* part that follows;
* prints (`hashmatch.index.arrayfile`: a JSON header, then `.npy` records): each check's id,
  time, expiry and the offset of its document, and the scan's packed arrays (`RetainedPrints`:
  PDQ columns of uint64 words and their owners, whole-picture rows first, pHash likewise),
  ~1 KB a checked picture;
* documents: each check's compressed hash document as the table held it, read with a ranged
  GET (pinned to the ETag read) only for the scan's candidates.

Safe to rerun and to interrupt: a run writes the shard (merging what is there, by check id)
before it deletes the table's records, and readers read the table's tail first, then the shards,
and count a check found in both once. Shards are written conditionally (``If-None-Match``, or
``If-Match`` the ETag read), so a run and a purge that cross never undo each other: the loser
fails and its next attempt starts from what the winner wrote.

Expiry: every check carries its ``expires_at`` and readers skip expired ones; each shard is tagged
with a retention tier (`RETENTION_TIERS`, the smallest at or above the days its newest expiry is
away) that the bucket's lifecycle deletes it after. Purge (`ShardedRetainedChecks.purge`) deletes
a platform's shards, or with ``before`` deletes those wholly before it and rewrites the one it
falls in.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import re
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, overload

import boto3
import numpy as np
from botocore.exceptions import ClientError

from hashmatch.aws.retained import DynamoRetainedChecks, RetainedRecord, decode_check
from hashmatch.index.arrayfile import read_array, read_header, write_array, write_header
from hashmatch.service.retroactive import (
    MAX_RETENTION_DAYS,
    RetainedCheck,
    RetainedPrints,
    UnreadableCheck,
)

__all__ = [
    "RETENTION_TIERS",
    "SHARD_PREFIX",
    "CompactionReport",
    "RetainedCompactor",
    "RetainedShard",
    "S3RetainedShards",
    "ShardConflict",
    "ShardError",
    "ShardedRetainedChecks",
    "iso_time",
    "live_prints",
    "prints_length",
    "read_shard",
    "write_shard",
]

logger = logging.getLogger(__name__)

SHARD_PREFIX = "retained/"
FORMAT = "hashmatch-retained-shard"
FORMAT_VERSION = 1
MAGIC = b"HMRSHRD\x01"
# Lifecycle rules (template.yaml, RetainedBucket) delete a shard this many days after it was
# written, by its `retention-days` tag: the smallest tier at or above its checks' retention.
RETENTION_TIERS = (1, 7, 14, 30, 60, MAX_RETENTION_DAYS)
RETENTION_TAG = "retention-days"
# Packed arrays a reader keeps between scans: ~300,000 retained checks, a third of the share
# function's 1 GB; more is read again from S3 at each scan, one shard resident at a time.
CACHE_BYTES = 320 * 1024**2
# Seconds a run keeps back to finish the hour it is merging (a 400,000-check hour: well under).
COMPACTION_RESERVE_SECONDS = 120.0
_GONE = {"NoSuchKey", "404", "NotFound"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class ShardError(ValueError):
    """A shard this code cannot read."""


class ShardConflict(RuntimeError):
    """The shard changed between reading and rewriting it (a concurrent compaction or purge)."""


def shard_key(platform: str, hour: str) -> str:
    """``retained/<platform>/<day>/<hh>.shard`` for `hour` as ``yyyy-mm-ddThh``."""
    return f"{SHARD_PREFIX}{platform}/{hour[:10]}/{hour[11:13]}.shard"


def _hour_of(key: str) -> str:
    day, hour = key.rsplit("/", 2)[-2:]
    return f"{day}T{hour[:2]}"


def retention_tier(days: float) -> int:
    return next((tier for tier in RETENTION_TIERS if tier >= days), RETENTION_TIERS[-1])


class RetainedShard:
    """One platform-hour of retained checks: per check its id, time, expiry and document span,
    and the scan's packed arrays. Documents are read through `document`, which a shard read from
    S3 fetches by ranged GET."""

    def __init__(
        self,
        platform: str,
        hour: str,
        records: Sequence[RetainedRecord],
        prints: RetainedPrints,
        document: Callable[[int], bytes] | None = None,
    ) -> None:
        self.platform = platform
        self.hour = hour
        self.check_ids = np.asarray([r.check_id for r in records], dtype="S32")
        self.checked_at = np.asarray([r.checked_at for r in records], dtype="S32")
        self.expires_at = np.asarray([r.expires_at for r in records], dtype=np.int64)
        self.prints = prints
        self._records = list(records)
        self._document = document

    @classmethod
    def build(cls, platform: str, hour: str, records: Iterable[RetainedRecord]) -> RetainedShard:
        """A shard of `records` (one per check id, in time order); a record whose document cannot
        be read (`UnreadableCheck`) is left out and logged."""
        unique = sorted({r.check_id: r for r in records}.values(), key=lambda r: (r.checked_at, r.check_id))
        kept, checks = [], []
        for record in unique:
            try:
                checks.append(decode_check(platform, record.checked_at, record.document))
            except UnreadableCheck:
                logger.error("an unreadable retained check was left out of its shard", exc_info=True)
                continue
            kept.append(record)
        return cls(platform, hour, kept, RetainedPrints(checks))

    def __len__(self) -> int:
        return len(self.check_ids)

    def record(self, number: int) -> RetainedRecord:
        if self._records:
            return self._records[number]
        blob = self._document(number) if self._document else b""
        return RetainedRecord(
            self.check_ids[number].decode(), self.checked_at[number].decode(), int(self.expires_at[number]), blob
        )

    def records(self) -> list[RetainedRecord]:
        """Every check as stored (reads every document of a shard read from S3)."""
        return [self.record(n) for n in range(len(self))]

    def check(self, number: int) -> RetainedCheck:
        return decode_check(self.platform, self.checked_at[number].decode(), self.record(number).document)


def write_shard(shard: RetainedShard) -> bytes:
    """The shard object's bytes (layout in the module docstring)."""
    records = shard.records()
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum([len(r.document) for r in records], out=offsets[1:])
    pdq, pdq_owner, whole_rows, phash, phash_owner = shard.prints.arrays()
    header = {"format": FORMAT, "version": FORMAT_VERSION, "platform": shard.platform, "hour": shard.hour}
    prints = io.BytesIO()
    write_header(prints, MAGIC, {**header, "checks": len(records), "whole_rows": whole_rows})
    for array in (shard.check_ids, shard.checked_at, shard.expires_at, offsets, pdq, pdq_owner, phash, phash_owner):
        write_array(prints, array)
    head = prints.getvalue()
    return MAGIC + struct.pack("<Q", len(head)) + head + b"".join(r.document for r in records)


def prints_length(prefix: bytes) -> int:
    """The length of the prints part, from a shard's first 16 bytes; raises `ShardError`."""
    if len(prefix) < 16 or prefix[:8] != MAGIC:
        raise ShardError("not a hashmatch retained-check shard (bad magic)")
    return int(struct.unpack("<Q", prefix[8:16])[0])


def read_shard(prints: bytes, document: Callable[[int, int], bytes]) -> RetainedShard:
    """The shard whose prints part is `prints`; `document(start, end)` returns bytes of the
    documents part. Raises `ShardError` for a file this code cannot read."""
    stream = io.BytesIO(prints)
    header = read_header(stream, MAGIC, FORMAT, FORMAT_VERSION, "retained-check shard", ShardError)
    count = int(header["checks"])

    def array(dtype: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
        return read_array(stream, np.dtype(dtype), shape, what="retained-check shard", error=ShardError)

    check_ids, checked_at = array("S32", (count,)), array("S32", (count,))
    expires_at, offsets = array(np.int64, (count,)), array(np.int64, (count + 1,))
    pdq, pdq_owner = array(np.uint64), array(np.int32)
    phash, phash_owner = array(np.uint64), array(np.int32)
    if pdq.shape[-1] != pdq_owner.shape[0] or phash.shape[-1] != phash_owner.shape[0]:
        raise ShardError("corrupt retained-check shard: columns and owners differ in length")
    # A member may write its own shards (to purge): every index into the checks is checked here,
    # where a bad one is one unreadable shard, rather than wherever it would be used.
    owners = np.concatenate([pdq_owner, phash_owner])
    if owners.size and (int(owners.min()) < 0 or int(owners.max()) >= count):
        raise ShardError("corrupt retained-check shard: a hash belongs to no check")
    if not 0 <= int(header["whole_rows"]) <= pdq_owner.shape[0]:
        raise ShardError("corrupt retained-check shard: more whole-picture rows than rows")
    if int(offsets[0]) != 0 or bool((np.diff(offsets) < 0).any()):
        raise ShardError("corrupt retained-check shard: its documents' offsets do not run in order from 0")

    def fetch(number: int) -> bytes:
        return document(int(offsets[number]), int(offsets[number + 1]))

    shard = RetainedShard(str(header["platform"]), str(header["hour"]), (), RetainedPrints(()), fetch)
    shard.check_ids, shard.checked_at, shard.expires_at = check_ids, checked_at, expires_at
    shard.prints = RetainedPrints.from_arrays(
        _ShardChecks(shard), pdq, pdq_owner, int(header["whole_rows"]), phash, phash_owner
    )
    return shard


def read_shard_bytes(data: bytes) -> RetainedShard:
    """A shard from its whole object's bytes (tests, benchmarks, local files)."""
    length = prints_length(data[:16])
    base = 16 + length
    return read_shard(data[16:base], lambda start, end: data[base + start : base + end])


class _ShardChecks(Sequence[RetainedCheck]):
    """A shard's checks, each decoded (and its document fetched) only when asked for."""

    def __init__(self, shard: RetainedShard) -> None:
        self._shard = shard
        self._decoded: dict[int, RetainedCheck] = {}

    def __len__(self) -> int:
        return len(self._shard)

    @overload
    def __getitem__(self, number: int) -> RetainedCheck: ...
    @overload
    def __getitem__(self, number: slice) -> Sequence[RetainedCheck]: ...
    def __getitem__(self, number: int | slice) -> RetainedCheck | Sequence[RetainedCheck]:
        if isinstance(number, slice):
            return [self[n] for n in range(len(self))[number]]
        if number not in self._decoded:
            self._decoded[number] = self._shard.check(number)
        return self._decoded[number]


@dataclass(frozen=True)
class ListedShard:
    key: str
    etag: str
    # Bytes of the whole object, as listed (0 when not known).
    size: int = 0


class S3RetainedShards:
    """Shard objects in `bucket`; builds an S3 client only when none is given. Keeps the shards it
    read in memory by key and ETag, up to `cache_bytes` of packed arrays (the most recently read
    kept), so a warm function reads a shard again only once it changed or was evicted."""

    def __init__(self, bucket: str, s3_client: Any = None, cache_bytes: int = CACHE_BYTES) -> None:
        self._bucket = bucket
        self._s3 = s3_client or boto3.client("s3")
        self._cache: dict[str, tuple[str, RetainedShard]] = {}
        self._cache_bytes = cache_bytes

    def listed(self, platform: str, since_hour: str = "") -> list[ListedShard]:
        """`platform`'s shards of hours at or after `since_hour` (``yyyy-mm-ddThh``; all when empty)."""
        prefix = f"{SHARD_PREFIX}{platform}/"
        start = shard_key(platform, since_hour) if since_hour else ""
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for listed in page.get("Contents", []):
                if listed["Key"].endswith(".shard") and listed["Key"] >= start:
                    found.append(ListedShard(listed["Key"], listed["ETag"], int(listed.get("Size", 0))))
        return found

    def shard(self, listed: ListedShard) -> RetainedShard:
        """The shard `listed` names, as of its ETag (from memory when read before); raises
        `ShardError` for an unreadable one, ClientError for S3 (PreconditionFailed: it changed)."""
        cached = self._cache.get(listed.key)
        if cached is not None and cached[0] == listed.etag:
            self._remember(listed, cached[1])
            return cached[1]
        prefix = self._range(listed, 0, 16)
        length = prints_length(prefix)
        base = 16 + length
        prints = self._range(listed, 16, base)
        shard = _where_it_lies(
            read_shard(prints, lambda start, end: self._range(listed, base + start, base + end)), listed.key
        )
        self._remember(listed, shard)
        return shard

    def _remember(self, listed: ListedShard, shard: RetainedShard) -> None:
        self._cache.pop(listed.key, None)
        self._cache[listed.key] = (listed.etag, shard)
        held = sum(cached.prints.nbytes for _, cached in self._cache.values())
        for key in list(self._cache):  # oldest first
            if held <= self._cache_bytes or key == listed.key:
                break
            held -= self._cache.pop(key)[1].prints.nbytes

    def get(self, platform: str, hour: str) -> tuple[RetainedShard | None, str | None]:
        """The shard of `platform` and `hour`, documents and all, and its ETag, or (None, None).
        An object there that is no readable shard of that platform and hour gives (None, its
        ETag), logged: a rewrite replaces it."""
        key = shard_key(platform, hour)
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE:
                return None, None
            raise
        etag = str(response["ETag"])
        try:
            # Read whole: a rewrite needs every document, one request rather than one per check.
            return _where_it_lies(read_shard_bytes(response["Body"].read()), key), etag
        except ShardError:
            logger.error("an unreadable retained-check shard will be replaced", extra={"key": key}, exc_info=True)
            return None, etag

    def put(self, shard: RetainedShard, etag: str | None, now: float) -> None:
        """Write `shard` over the version `etag` (None: only if there is none); raises `ShardConflict`."""
        days = (int(shard.expires_at.max()) - now) / 86400 if len(shard) else 1
        kwargs: dict[str, Any] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=shard_key(shard.platform, shard.hour),
                Body=write_shard(shard),
                Tagging=f"{RETENTION_TAG}={retention_tier(days)}",
                **kwargs,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _CONFLICT:
                raise ShardConflict(
                    f"{shard_key(shard.platform, shard.hour)} changed while it was rewritten"
                ) from error
            raise

    def delete(self, platform: str, hour: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=shard_key(platform, hour))
        self._cache.pop(shard_key(platform, hour), None)

    def _range(self, listed: ListedShard, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        response = self._s3.get_object(
            Bucket=self._bucket, Key=listed.key, Range=f"bytes={start}-{end - 1}", IfMatch=listed.etag
        )
        data: bytes = response["Body"].read()
        return data


def _where_it_lies(shard: RetainedShard, key: str) -> RetainedShard:
    """`shard`, read from the object `key`; raises `ShardError` unless its own platform (a name,
    no ``/`` in it) and hour (``yyyy-mm-ddThh``) are those of the key. A member may write under
    its own prefix (to purge its checks), so the key, not what the object says, decides whose
    checks a shard holds."""
    if "/" in shard.platform or not _HOUR.fullmatch(shard.hour) or shard_key(shard.platform, shard.hour) != key:
        raise ShardError(f"{key} holds a shard of {shard.platform!r} for {shard.hour!r}")
    return shard


_HOUR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")


def iso_time(seconds: float) -> str:
    """`seconds` since the epoch as the ISO 8601 text retained checks are keyed by (UTC, milliseconds)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def live_prints(shard: RetainedShard, since: str, now: float, skip: set[str] | None = None) -> RetainedPrints | None:
    """`shard`'s prints with only its checks made at or after `since`, unexpired and not in `skip`."""
    live = (shard.checked_at >= since.encode()) & (shard.expires_at > int(now))
    if skip:
        live &= ~np.isin(shard.check_ids, np.asarray(sorted(skip), dtype="S32"))
    if live.all():
        return shard.prints
    if not live.any():
        return None
    pdq, owner, whole_rows, phash, phash_owner = shard.prints.arrays()
    columns, phash_columns = live[owner], live[phash_owner]
    return RetainedPrints.from_arrays(
        shard.prints.checks,
        pdq[:, columns],
        owner[columns],
        int(columns[:whole_rows].sum()),
        phash[:, phash_columns] if phash.ndim == 2 else phash,
        phash_owner[phash_columns],
    )


class ShardedRetainedChecks:
    """`RetainedChecks` kept in the bank table until compacted, then in S3 shards: `retain` writes
    the table; `prints` and `checks` read the table's tail, then the shards, each check once."""

    def __init__(
        self, table_checks: DynamoRetainedChecks, shards: S3RetainedShards, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = table_checks
        self._shards = shards
        self._clock = clock

    def retain(self, check: RetainedCheck, days: int) -> None:
        self._table.retain(check, days)

    def prints(self, platform: str, since: str) -> Iterator[RetainedPrints]:
        now = self._clock()
        # The tail first: a compaction writes a shard before deleting its records, so whatever
        # it moved meanwhile is in a shard listed after this read.
        tail = list(self._table.checks(platform, since))
        if tail:
            yield RetainedPrints(tail)
        skip = {check.check_id for check in tail}
        for listed in self._shards.listed(platform, since[:13]):
            try:
                shard = self._shards.shard(listed)
            except ShardError:
                logger.error("an unreadable retained-check shard left out", extra={"key": listed.key}, exc_info=True)
                continue
            prints = live_prints(shard, since, now, skip)
            if prints is not None:
                yield prints

    def checks(self, platform: str, since: str) -> Iterator[RetainedCheck]:
        """The checks `prints` holds (those with a hash to scan), decoded with their documents
        fetched one by one: for tests and small stores; the scanner reads `prints`."""
        for prints in self.prints(platform, since):
            _, owner, _, _, phash_owner = prints.arrays()
            for number in np.unique(np.concatenate([owner, phash_owner])).tolist():
                yield prints.checks[number]

    def purge(self, platform: str, before: str | None = None) -> int:
        """Delete `platform`'s retained checks (before `before` only, when given) from the table,
        then from the shards: a shard wholly before `before` is deleted, the one it falls in
        rewritten without them. Raises `ShardConflict` when a compaction rewrote a shard meanwhile
        (purging again finishes the job)."""
        purged = self._table.purge(platform, before)
        for listed in self._shards.listed(platform):
            hour = _hour_of(listed.key)
            if before is not None and hour > before:
                continue
            if before is None or f"{hour}~" < before:
                try:
                    purged += len(self._shards.shard(listed))
                except ShardError:
                    logger.error("an unreadable retained-check shard purged", extra={"key": listed.key}, exc_info=True)
                self._shards.delete(platform, hour)
                continue
            shard, etag = self._shards.get(platform, hour)
            if shard is None:
                continue
            records = shard.records()
            kept = [r for r in records if r.checked_at >= before]
            if len(kept) == len(records):
                continue
            purged += len(records) - len(kept)
            if kept:
                self._shards.put(RetainedShard.build(platform, hour, kept), etag, self._clock())
            else:
                self._shards.delete(platform, hour)
        return purged


@dataclass(frozen=True)
class CompactionReport:
    """What one run moved: checks per platform, shards written, and seconds taken."""

    moved: dict[str, int]
    shards: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RetainedCompactor:
    """Moves retained checks older than the current hour from the table into hourly shards."""

    def __init__(
        self,
        table_checks: DynamoRetainedChecks,
        shards: S3RetainedShards,
        platforms: Sequence[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table_checks
        self._shards = shards
        self._platforms = list(platforms)
        self._clock = clock

    def compact(self, time_left: Callable[[], float] | None = None) -> CompactionReport:
        """One run: for each platform and hour before the current one with records in the table,
        merge them into that hour's shard, then delete them from the table. The table returns
        records in time order, so one hour is held at a time. An hour whose shard a purge
        rewrote meanwhile (`ShardConflict`) is left for the next run; other errors are raised
        as S3 or DynamoDB raise them. What was not moved stays in the table, read from there."""
        started = self._clock()
        cutoff = datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%dT%H")
        moved: dict[str, int] = {}
        written = 0
        for platform in self._platforms:
            hours = itertools.groupby(self._table.records(platform, before=cutoff), key=lambda r: r.checked_at[:13])
            for hour, group in hours:
                if time_left is not None and time_left() < COMPACTION_RESERVE_SECONDS:
                    return CompactionReport(moved, written, round(self._clock() - started, 3))
                records = list(group)
                try:
                    self._merge(platform, hour, records)
                except ShardConflict:
                    logger.warning("shard changed while it was merged; left for the next run", exc_info=True)
                    continue
                written += 1
                moved[platform] = moved.get(platform, 0) + len(records)
        return CompactionReport(moved, written, round(self._clock() - started, 3))

    def _merge(self, platform: str, hour: str, records: list[RetainedRecord]) -> None:
        now = int(self._clock())
        shard, etag = self._shards.get(platform, hour)
        merged = {r.check_id: r for r in (shard.records() if shard is not None else [])}
        for record in records:
            merged.setdefault(record.check_id, record)
        kept = RetainedShard.build(platform, hour, [r for r in merged.values() if r.expires_at > now])
        if len(kept):
            self._shards.put(kept, etag, now)
        elif etag is not None:  # a shard (or an unreadable object) stands there
            self._shards.delete(platform, hour)
        self._table.delete(platform, records)


@functools.cache
def compactor() -> RetainedCompactor:
    """The process-wide compactor, from the environment (RETAINED_BUCKET is required here)."""
    from hashmatch.service.settings import RETAINED_BUCKET, Settings, SettingsError

    settings = Settings.from_environment()
    if not settings.retained_bucket:
        raise SettingsError(f"environment variable {RETAINED_BUCKET} is required")
    session = boto3.session.Session()
    table = DynamoRetainedChecks(session.resource("dynamodb").Table(settings.table_name))
    return RetainedCompactor(
        table, S3RetainedShards(settings.retained_bucket, session.client("s3")), settings.platforms
    )
