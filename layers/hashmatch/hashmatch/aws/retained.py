"""Retained checks (`hashmatch.service.retroactive`) in the bank table.

One record per check: ``pk = RETAINED#<platform>#<yyyy-mm-dd>`` (the day it was checked),
``sk = <checked_at>#<check_id>``, the check's pixel-free hashes as zlib-compressed JSON
(`hashmatch.media.codec`), where it came from, and ``expires_at`` (the platform's retention) for
the table's TTL. A platform's records share its partitions, so a member's principal can be
allowed to purge its own (``dynamodb:LeadingKeys`` ``RETAINED#<platform>#*``) and nothing else.

A DynamoDB item is at most 400 KB: a long video's check (every sample's hashes in eight
orientations, and the footage found inside each) can be more. Such a check is kept smaller
rather than refused (`fitted_check`): without its samples' framings first, then with every second
sample, every fourth..., and a warning says what was left out. It is still matched retroactively,
on fewer samples.

DynamoDB's TTL deletes within a few days of expiry, not at once: reads filter on ``expires_at``
too, so an expired check is never reported. Where a retained-check bucket is deployed, records
made before the current hour are moved to hourly S3 shards (`hashmatch.aws.retained_shards`),
and the table holds only the tail not yet compacted.

Which days hold records: a platform's day registry (``pk = RETAINED#<platform>#days``, ``sk =
days``), a string set each retain adds its day to before it writes its record (once a day per
process), so a reader queries the days a record may be in rather than every day of the retention
(a scan of nine members retaining 30 days made 388 queries for one share, nearly all of empty
days). The registry only ever grows (a purge or a compaction leaves it: a day listed with nothing
in it costs an empty query, a day with records left out would hide them), and it has no expiry.
A table that held records before its registry began (a deployment updated from a version without
it) has them found: every day from the table's creation to the registry's first day (``since``,
with a day's grace for a deploy that crosses midnight) is queried, as before the registry; a
table created with it has none such. Yesterday and today are queried whatever it lists
(`_days_with_records`).
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from hashmatch.media.codec import fitted_hashes, hashes_from_json, hashes_to_json
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.retroactive import MAX_RETENTION_DAYS, RetainedCheck, UnreadableCheck

__all__ = [
    "DOCUMENT_LIMIT",
    "RETAINED_PREFIX",
    "DynamoRetainedChecks",
    "RetainedRecord",
    "decode_check",
    "encode_check",
    "fitted_check",
]

logger = logging.getLogger(__name__)

RETAINED_PREFIX = "RETAINED#"
# The compressed document's most bytes: a DynamoDB item is at most 400 KB, keys and attributes included.
DOCUMENT_LIMIT = 350_000


@dataclass(frozen=True)
class RetainedRecord:
    """One retained check as stored: its compressed document (`encode_check`), when it was made,
    and when it expires (epoch seconds). Moved as it is from the table to shards."""

    check_id: str
    checked_at: str
    expires_at: int
    document: bytes


def encode_check(check: RetainedCheck) -> bytes:
    """`check` (all but its platform and time, which its key holds) as zlib-compressed JSON."""
    document = {
        "hashes": hashes_to_json(check.hashes),
        "bucket": check.obj.bucket,
        "key": check.obj.key,
        "etag": check.obj.etag,
        "size": check.obj.size,
        "sequencer": check.obj.sequencer,
        "content_id": check.content_id,
        "entry": check.entry,
    }
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def fitted_check(check: RetainedCheck, limit: int = DOCUMENT_LIMIT) -> tuple[bytes, str | None]:
    """`encode_check(check)` when it is at most `limit` bytes; else a video's check made to fit
    (`hashmatch.media.codec.fitted_hashes`: without its samples' framings, then with every second,
    fourth... sample), and what was left out (None when nothing was)."""
    return fitted_hashes(
        check.hashes, lambda hashes: encode_check(replace(check, hashes=hashes)), lambda blob: len(blob) <= limit
    )


def decode_check(platform: str, checked_at: str, blob: bytes) -> RetainedCheck:
    """The check `encode_check` wrote; raises `UnreadableCheck` for anything else."""
    try:
        document = json.loads(zlib.decompress(blob))
        obj = ObjectRef(
            str(document["bucket"]),
            str(document["key"]),
            document["etag"],
            int(document["size"]),
            document["sequencer"],
        )
        return RetainedCheck(
            platform, obj, document["content_id"], checked_at, hashes_from_json(document["hashes"]), document["entry"]
        )
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError, RecursionError, ArithmeticError) as error:
        raise UnreadableCheck(f"a retained check of {platform} at {checked_at} cannot be read: {error}") from error


def _stored_record(record: dict[str, Any]) -> RetainedRecord | None:
    """A table item as a `RetainedRecord` (its document not decoded); None for an item this code
    did not write (no ``<checked_at>#<check_id>`` key, no binary document or no expiry)."""
    checked_at, _, check_id = str(record.get("sk", "")).rpartition("#")
    document = getattr(record.get("check"), "value", None)
    expires_at = record.get("expires_at")
    if not checked_at or not isinstance(document, bytes) or not isinstance(expires_at, (int, Decimal)):
        return None
    return RetainedRecord(check_id, checked_at, int(expires_at), document)


def _partition(platform: str, day: str) -> str:
    return f"{RETAINED_PREFIX}{platform}#{day}"


def _registry(platform: str) -> dict[str, str]:
    """The key of `platform`'s day registry (no day partition's: a day is yyyy-mm-dd)."""
    return {"pk": f"{RETAINED_PREFIX}{platform}#days", "sk": "days"}


def _days(since: str, now: datetime) -> list[str]:
    """The days from `since` (ISO 8601) to `now`, as yyyy-mm-dd."""
    start = datetime.fromisoformat(since.replace("Z", "+00:00")).date()
    first = max(start, (now - timedelta(days=MAX_RETENTION_DAYS + 1)).date())
    count = (now.date() - first).days
    return [(first + timedelta(days=n)).isoformat() for n in range(count + 1)]


class DynamoRetainedChecks:
    def __init__(self, table: Any, clock: Any = time.time, *, created: str | None = None) -> None:
        """`created`: the day the table was created, when known (else asked of DynamoDB once)."""
        self._table = table
        self._clock = clock
        self._registered: set[tuple[str, str]] = set()  # (platform, day) this process added
        self._created_on = created

    def retain(self, check: RetainedCheck, days: int) -> None:
        document, left_out = fitted_check(check)
        if left_out is not None:
            logger.warning(
                "retained check made smaller to fit one item",
                extra={"platform": check.platform, "check_id": check.check_id, "left_out": left_out},
            )
        self._register(check.platform, check.checked_at[:10])
        self._table.put_item(
            Item={
                "pk": _partition(check.platform, check.checked_at[:10]),
                "sk": f"{check.checked_at}#{check.check_id}",
                "check": document,
                "expires_at": int(self._clock()) + days * 86400,
            }
        )

    def checks(self, platform: str, since: str, until: str | None = None) -> Iterator[RetainedCheck]:
        """`platform`'s unexpired retained checks made at or after `since` (and before `until`,
        when given: a slice of time a scan worker reads)."""
        now = int(self._clock())
        for day in self._days_with_records(platform, since, datetime.fromtimestamp(now, UTC)):
            if until is not None and day > until[:10]:
                break
            sk = Key("sk").gte(since) if until is None else Key("sk").between(since, until)
            condition = Key("pk").eq(_partition(platform, day)) & sk
            for record in self._query(condition, Attr("expires_at").gt(now)):
                try:
                    check = self._check(platform, record)
                except UnreadableCheck:
                    logger.error("an unreadable retained check was left out", exc_info=True)
                    continue
                yield check

    def records(self, platform: str, before: str, since: str | None = None) -> Iterator[RetainedRecord]:
        """`platform`'s retained checks still in the table made before `before` (and at or after
        `since`), expired ones too: what a compaction moves to shards."""
        now = datetime.fromtimestamp(int(self._clock()), UTC)
        since = since or (now - timedelta(days=MAX_RETENTION_DAYS + 1)).isoformat()
        for day in self._days_with_records(platform, since, now):
            condition = Key("pk").eq(_partition(platform, day)) & Key("sk").between(since, before)
            for record in self._query(condition, None):
                stored = _stored_record(record)
                if stored is None:
                    logger.error("a malformed retained-check record was left in place", extra={"sk": record.get("sk")})
                elif stored.checked_at < before:
                    yield stored

    def delete(self, platform: str, records: Iterable[RetainedRecord]) -> None:
        """Remove `records` from the table (after a compaction has put them in a shard)."""
        with self._table.batch_writer() as batch:
            for record in records:
                pk = _partition(platform, record.checked_at[:10])
                batch.delete_item(Key={"pk": pk, "sk": f"{record.checked_at}#{record.check_id}"})

    def purge(self, platform: str, before: str | None = None) -> int:
        now = datetime.fromtimestamp(int(self._clock()), UTC)
        oldest = (now - timedelta(days=MAX_RETENTION_DAYS + 1)).isoformat()
        purged = 0
        with self._table.batch_writer() as batch:
            for day in self._days_with_records(platform, oldest, now):
                condition = Key("pk").eq(_partition(platform, day))
                if before is not None:
                    condition = condition & Key("sk").lt(before)
                for record in self._query(condition, None, keys_only=True):
                    batch.delete_item(Key={"pk": record["pk"], "sk": record["sk"]})
                    purged += 1
        return purged

    def _register(self, platform: str, day: str) -> None:
        """`day` added to `platform`'s day registry, before a record of that day is written."""
        if (platform, day) in self._registered:
            return
        self._table.update_item(
            Key=_registry(platform),
            # `since`: the day the registry began, by this process's clock (not the check's day,
            # which a retry may carry from days before), so no day before it is left unread.
            UpdateExpression="ADD #days :days SET #since = if_not_exists(#since, :today)",
            ExpressionAttributeNames={"#days": "days", "#since": "since"},
            ExpressionAttributeValues={
                ":days": {day},
                ":today": datetime.fromtimestamp(int(self._clock()), UTC).date().isoformat(),
            },
        )
        self._registered.add((platform, day))

    def _days_with_records(self, platform: str, since: str, now: datetime) -> list[str]:
        """The days from `since` to `now` (`_days`) that `platform`'s records may be in: those its
        registry lists; yesterday and today whatever it says (a check retained while this reads
        registers its day after the registry was read, and writes its record before the day is
        queried); and those a version without the registry may have written records in, from the
        table's creation to the day after the registry's first (to today without one)."""
        days = _days(since, now)
        recent = (now - timedelta(days=1)).date().isoformat()
        if not days or days[0] >= recent:  # the last hours (a scan's tail windows): nothing to look up
            return days
        registry = next(self._query(Key("pk").eq(_registry(platform)["pk"]), None), None)
        listed = {str(day) for day in registry.get("days", ())} if registry else set()
        unlisted_from = self._created()
        unlisted_to = (
            (date.fromisoformat(str(registry["since"])) + timedelta(days=1)).isoformat() if registry else days[-1]
        )
        return [day for day in days if day in listed or day >= recent or unlisted_from <= day <= unlisted_to]

    def _created(self) -> str:
        """The day the table was created (no record is older), once per process; "" when unknown."""
        if self._created_on is None:
            try:
                self._created_on = self._table.creation_date_time.date().isoformat()
            except (ClientError, AttributeError) as error:
                logger.info("the bank table's creation time is unknown: every unlisted day is read", exc_info=error)
                self._created_on = ""
        return self._created_on

    def _query(self, condition: Any, filtered: Any, *, keys_only: bool = False) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
        if filtered is not None:
            kwargs["FilterExpression"] = filtered
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        while True:
            response = self._table.query(**kwargs)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _check(platform: str, record: dict[str, Any]) -> RetainedCheck:
        stored = _stored_record(record)
        if stored is None:
            raise UnreadableCheck(f"the retained check {record.get('sk')} of {platform} is no record this code wrote")
        return decode_check(platform, stored.checked_at, stored.document)
