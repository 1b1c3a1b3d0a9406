"""The hash bank on one DynamoDB table (single-table design).

| pk                        | sk                            | what                                        |
|---------------------------|-------------------------------|---------------------------------------------|
| ``ITEM#<item_id>``        | ``META``                      | a shared item: provenance, signals, status  |
| ``HASH#<signal>#<hex>``   | ``ITEM#<item_id>``            | exact lookup of any signal value            |
| ``LOG``                   | ``<time>#<item_id>#<op>#<n>`` | change log the near-match indexes replay    |

Writes are idempotent: item ids are derived from what was shared, so a retried share
overwrites the same records; a repeated log entry re-adds the same index entries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key

from hashmatch.bank.model import NearEntry, Provenance, SharedItem, entry_kind
from hashmatch.service.ports import BankChange

LOG_PARTITION = "LOG"
LOG_ENTRIES_PER_RECORD = 1000  # ~100 bytes each: well under DynamoDB's 400 KB item limit
SLOW_COMMIT_SECONDS = 2.0  # under half the readers' overlap window (near.LOG_OVERLAP)
BATCH_GET_LIMIT = 100
ITEM_PREFIX = "ITEM#"
META_SORT_KEY = "META"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _item_key(item_id: str) -> dict[str, str]:
    return {"pk": f"{ITEM_PREFIX}{item_id}", "sk": META_SORT_KEY}


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class DynamoBank:
    """`hashmatch.service.ports.Bank` on a DynamoDB table with ``pk``/``sk`` string keys."""

    def __init__(self, table_name: str, dynamodb_resource: Any = None, clock: Any = _now) -> None:
        resource = dynamodb_resource or boto3.resource("dynamodb")
        self._table = resource.Table(table_name)
        self._resource = resource
        self._table_name = table_name
        self._clock = clock

    def put_items(self, items: Sequence[SharedItem]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in items:
                batch.put_item(Item=self._meta_record(item, status="active"))
                for signal, value in item.signals.items():
                    batch.put_item(
                        Item={"pk": f"HASH#{signal}#{value}", "sk": f"ITEM#{item.item_id}", "item_id": item.item_id}
                    )
        for item in items:
            if item.near_entries:
                self._log(item.item_id, "add", item.near_entries)

    def withdraw_items(self, items: Sequence[SharedItem], withdrawn_at: str) -> None:
        for item in items:
            self._table.update_item(
                Key=_item_key(item.item_id),
                UpdateExpression="SET #status = :withdrawn, withdrawn_at = :at",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":withdrawn": "withdrawn", ":at": withdrawn_at},
            )
            self._log(item.item_id, "remove", ())

    def _log(self, item_id: str, operation: str, entries: Sequence[NearEntry]) -> None:
        chunks = [entries[i : i + LOG_ENTRIES_PER_RECORD] for i in range(0, len(entries), LOG_ENTRIES_PER_RECORD)]
        for number, chunk in enumerate(chunks or [()]):
            while True:
                started = time.monotonic()
                position = f"{self._clock()}#{item_id}#{operation}#{number:05d}"
                self._table.put_item(
                    Item={
                        "pk": LOG_PARTITION,
                        "sk": position,
                        "op": operation,
                        "item_id": item_id,
                        "entries": [[e.signal, e.value, e.kind, _decimal(e.offset), _decimal(e.end)] for e in chunk],
                    }
                )
                # Readers look back LOG_OVERLAP before their last position: an entry that took
                # longer than half of it to commit is written again under a fresh position.
                if time.monotonic() - started < SLOW_COMMIT_SECONDS:
                    break

    def items_by_exact(self, signal: str, value: str) -> list[SharedItem]:
        response = self._table.query(KeyConditionExpression=Key("pk").eq(f"HASH#{signal}#{value}"), ConsistentRead=True)
        ids = [record["item_id"] for record in response["Items"]]
        found = self.get_items(ids)
        return [found[item_id] for item_id in ids if item_id in found]

    def get_items(self, item_ids: Sequence[str]) -> dict[str, SharedItem]:
        found: dict[str, SharedItem] = {}
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table_name: {
                    "Keys": [_item_key(i) for i in unique[start : start + BATCH_GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._resource.batch_get_item(RequestItems=request)
                for record in response["Responses"].get(self._table_name, []):
                    item = self._item_from_record(record)
                    found[item.item_id] = item
                request = response.get("UnprocessedKeys") or {}
        return found

    def changes_since(self, position: str | None) -> Iterator[BankChange]:
        condition = Key("pk").eq(LOG_PARTITION)
        if position is not None:
            condition = condition & Key("sk").gt(position)
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
        while True:
            response = self._table.query(**kwargs)
            for record in response["Items"]:
                yield BankChange(
                    position=record["sk"],
                    operation=record["op"],
                    item_id=record["item_id"],
                    entries=tuple(
                        NearEntry(signal, value, entry_kind(kind), *(None if t is None else float(t) for t in times))
                        for signal, value, kind, *times in record.get("entries", [])
                    ),
                )
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def iter_items(self, since: str | None = None) -> Iterator[SharedItem]:
        """Every item's ``META`` record (active and withdrawn; the caller filters), `since` compared
        with ``shared_at`` as text, in the table's order.

        A paginated Scan with a filter (``begins_with(pk, "ITEM#") AND sk = "META"``): it reads and
        is billed for the whole table, exact-hash and change-log records included, so it is meant
        for occasional exports, not request paths. Eventually consistent: a share made in the
        last second may be missed. The items come without their near-match entries.
        """
        condition = Attr("pk").begins_with(ITEM_PREFIX) & Attr("sk").eq(META_SORT_KEY)
        if since is not None:
            condition = condition & Attr("shared_at").gte(since)
        kwargs: dict[str, Any] = {"FilterExpression": condition}
        while True:
            response = self._table.scan(**kwargs)
            for record in response["Items"]:
                yield self._item_from_record(record)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _meta_record(item: SharedItem, status: str) -> dict[str, Any]:
        provenance = item.provenance
        record: dict[str, Any] = {
            **_item_key(item.item_id),
            "item_id": item.item_id,
            "contributor": provenance.contributor,
            "shared_at": provenance.shared_at,
            "labels": list(provenance.labels),
            "media": item.media,
            "signals": dict(item.signals),
            "status": status,
            "near_entry_count": len(item.near_entries),
        }
        for name in ("severity", "incident", "note"):
            if getattr(provenance, name):
                record[name] = getattr(provenance, name)
        if item.duration is not None:
            record["duration"] = _decimal(item.duration)
        if item.source is not None:
            record["source"] = item.source
        return record

    @staticmethod
    def _item_from_record(record: dict[str, Any]) -> SharedItem:
        return SharedItem(
            item_id=record["item_id"],
            provenance=Provenance(
                contributor=record["contributor"],
                shared_at=record["shared_at"],
                labels=tuple(record.get("labels", [])),
                severity=record.get("severity"),
                incident=record.get("incident"),
                note=record.get("note"),
            ),
            media=record["media"],
            signals=dict(record.get("signals", {})),
            duration=float(record["duration"]) if "duration" in record else None,
            status=record.get("status", "active"),
            source=record.get("source"),
        )
