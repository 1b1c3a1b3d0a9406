"""The hash bank on one DynamoDB table (single-table design).

| pk                        | sk                            | what                                        |
|---------------------------|-------------------------------|---------------------------------------------|
| ``ITEM#<item_id>``        | ``META``                      | a shared item: provenance, signals, status  |
| ``HASH#<signal>#<hex>``   | ``ITEM#<item_id>``            | exact lookup of any signal value            |
| ``LOG``                   | ``<time>#<item_id>#<op>#<n>`` | change log the near-match indexes replay    |
| ``QUOTA#<platform>#<day>``| ``SHARES``                    | items a member shared that UTC day          |
| ``NOTICE#<id>``           | ``META``                      | which items a match.found named, for whom   |
| ``BENIGN``                | ``<item_id>``                 | the benign bank's hashes, read whole        |
| ``MATCHES#<day>``         | ``<hour>#<platform>#<label>`` | checks that matched, counted for reports    |
| ``INCIDENT#<id>``         | ``META``                      | an incident: title, labels, status, timeline|
| ``INCIDENT_MATCHES#<id>`` | ``<hour>#<platform>``         | a member's matches on the incident's items  |

The incidents' match counters have a partition prefix of their own so the check function may
write them (a ``dynamodb:LeadingKeys`` condition) without being able to change an incident.

Writes are idempotent: item ids are derived from what was shared, so a retried share
overwrites the same records; a repeated log entry re-adds the same index entries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from hashmatch.bank.model import NearEntry, Provenance, SharedItem, entry_kind
from hashmatch.governance.incidents import Incident, IncidentStatus, TimelineEntry
from hashmatch.service.ports import BankChange, ItemMoved

LOG_PARTITION = "LOG"
BENIGN_PARTITION = "BENIGN"
LOG_ENTRIES_PER_RECORD = 1000  # ~100 bytes each: well under DynamoDB's 400 KB item limit
SLOW_COMMIT_SECONDS = 2.0  # under half the readers' overlap window (near.LOG_OVERLAP)
BATCH_GET_LIMIT = 100
ITEM_PREFIX = "ITEM#"
META_SORT_KEY = "META"
NOTICE_DAYS = 90  # a match.found can be confirmed or disputed by its id for this long
INCIDENT_PREFIX = "INCIDENT#"
INCIDENT_MATCHES_PREFIX = "INCIDENT_MATCHES#"


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

    def put_items(self, items: Sequence[SharedItem], *, read: Mapping[str, SharedItem] | None = None) -> None:
        """`hashmatch.service.ports.Bank.put_items`: a re-shared item's record is updated in place,
        on condition its status is the one read, so no quarantine, removal or dispute that landed
        meanwhile is undone; new items are written in batches."""
        read = read or {}
        for item in items:
            if item.item_id in read:
                self._update_reshared(item, read[item.item_id].status)
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for item in items:
                if item.item_id not in read:
                    batch.put_item(Item=self._meta_record(item))
                for signal, value in item.signals.items():
                    batch.put_item(
                        Item={"pk": f"HASH#{signal}#{value}", "sk": f"ITEM#{item.item_id}", "item_id": item.item_id}
                    )
                if item.status == "benign":
                    batch.put_item(Item={"pk": BENIGN_PARTITION, "sk": item.item_id, "signals": dict(item.signals)})
        for item in items:
            if item.near_entries and item.status != "removed":
                self._log(item.item_id, "add", item.near_entries)

    def _update_reshared(self, item: SharedItem, status_read: str) -> None:
        """A re-shared item's record written over what the share read, its disputes, their
        reasons, confirmations and last status change left as they are; raises `ItemMoved` when
        its status is no longer `status_read`."""
        record = self._meta_record(item)
        owned = {k: v for k, v in record.items() if k not in ("pk", "sk", "confirmed_by", "disputed_by")}
        names = {f"#f{n}": name for n, name in enumerate(owned)}
        values = {f":f{n}": value for n, value in enumerate(owned.values())}
        try:
            self._table.update_item(
                Key=_item_key(item.item_id),
                UpdateExpression="SET " + ", ".join(f"#f{n} = :f{n}" for n in range(len(owned))),
                ConditionExpression="#status_read = :status_read",
                ExpressionAttributeNames={**names, "#status_read": "status"},
                ExpressionAttributeValues={**values, ":status_read": status_read},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ItemMoved(f"item {item.item_id} is no longer {status_read}: share again") from error
            raise

    def withdraw_items(self, items: Sequence[SharedItem], withdrawn_at: str, *, by: str | None = None) -> None:
        update, values = "SET #status = :withdrawn, withdrawn_at = :at, status_at = :at", {":at": withdrawn_at}
        if by is not None:
            update += ", status_by = :by"
            values[":by"] = by
        else:  # no request to name: an earlier one's must not stay, or it would pass for this change
            update += " REMOVE status_by"
        for item in items:
            self._table.update_item(
                Key=_item_key(item.item_id),
                UpdateExpression=update,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":withdrawn": "withdrawn", **values},
            )
            self._log(item.item_id, "remove", ())

    def set_status(
        self,
        item_id: str,
        status: str,
        at: str,
        *,
        expected: Sequence[str],
        clear_disputes: bool = False,
        by: str | None = None,
    ) -> SharedItem | None:
        """Move an item to `status` when it is in one of `expected` (atomically), noting `at` and
        `by`; the item as it is now, or None when it is not there or not in an expected status. A
        removed item also leaves the near-match indexes (a "remove" log entry)."""
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": status, ":at": at}
        conditions = []
        for number, name in enumerate(expected):
            values[f":expected{number}"] = name
            conditions.append(f"#status = :expected{number}")
        update = "SET #status = :status, status_at = :at"
        removed = ["disputed_by", "dispute_reasons"] if clear_disputes else []
        if by is not None:
            update += ", status_by = :by"
            values[":by"] = by
        else:  # no request to name: an earlier one's must not stay, or it would pass for this change
            removed.append("status_by")
        if removed:
            update += " REMOVE " + ", ".join(removed)
        try:
            record = self._table.update_item(
                Key=_item_key(item_id),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(pk) AND ({' OR '.join(conditions)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        if status == "removed":
            self._log(item_id, "remove", ())
        return self._item_from_record(record)

    def record_feedback(self, item_id: str, member: str, verdict: str, reason: str) -> SharedItem | None:
        """Add `member` to the item's confirmations or disputes (a set: saying it twice counts
        once); the item as it is now, or None when there is no such item."""
        attribute = "confirmed_by" if verdict == "confirm" else "disputed_by"
        update = f"ADD {attribute} :member"
        values: dict[str, Any] = {":member": {member}}
        if verdict == "dispute":
            update += " SET dispute_reasons = if_not_exists(dispute_reasons, :empty)"
            values[":empty"] = {}
        try:
            record = self._table.update_item(
                Key=_item_key(item_id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
            if verdict == "dispute":  # the reason goes under the member's name in a map made above
                record = self._table.update_item(
                    Key=_item_key(item_id),
                    UpdateExpression="SET dispute_reasons.#member = :reason",
                    ExpressionAttributeNames={"#member": member},
                    ExpressionAttributeValues={":reason": reason},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return self._item_from_record(record)

    def dispute_reasons(self, item_id: str) -> dict[str, str]:
        record = self._table.get_item(Key=_item_key(item_id), ConsistentRead=True).get("Item") or {}
        return {str(k): str(v) for k, v in record.get("dispute_reasons", {}).items()}

    def count_shares(self, member: str, day: str, count: int, quota: int) -> bool:
        """Count `count` more items shared by `member` on `day` when that stays within `quota`;
        False (nothing counted) when it would not, the day's first share included."""
        if count > quota:
            return False
        try:
            self._table.update_item(
                Key={"pk": f"QUOTA#{member}#{day}", "sk": "SHARES"},
                UpdateExpression="ADD items_shared :count SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(items_shared) OR items_shared <= :room",
                ExpressionAttributeValues={
                    ":count": count,
                    ":room": quota - count,
                    ":expires": int(time.time()) + 2 * 86400,
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def remember_notice(self, notification_id: str, member: str, item_ids: Sequence[str]) -> None:
        """Which items a `match.found` sent to `member` named, so feedback can name the notification."""
        self._table.put_item(
            Item={
                "pk": f"NOTICE#{notification_id}",
                "sk": META_SORT_KEY,
                "platform": member,
                "item_ids": list(item_ids),
                "expires_at": int(time.time()) + NOTICE_DAYS * 86400,
            }
        )

    def notice(self, notification_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(member, item ids) of a `match.found` remembered by `remember_notice`, or None."""
        record = self._table.get_item(Key={"pk": f"NOTICE#{notification_id}", "sk": META_SORT_KEY}, ConsistentRead=True)
        found = record.get("Item")
        return None if found is None else (str(found["platform"]), tuple(found["item_ids"]))

    def benign_hashes(self) -> list[tuple[str, str, str]]:
        found = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(BENIGN_PARTITION), "ConsistentRead": True}
        while True:
            response = self._table.query(**kwargs)
            for record in response["Items"]:
                found += [(str(record["sk"]), str(s), str(v)) for s, v in record.get("signals", {}).items()]
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count_matches(self, member: str, hour: str, labels: Sequence[str]) -> None:
        for label in labels or ("unlabelled",):
            self._table.update_item(
                Key={"pk": f"MATCHES#{hour[:10]}", "sk": f"{hour}#{member}#{label}"},
                UpdateExpression="ADD matched_checks :one",
                ExpressionAttributeValues={":one": 1},
            )

    def match_counts(self, since: str) -> Iterator[tuple[str, str, str, int]]:
        day = datetime.fromisoformat(since[:10]).date()
        today = datetime.now(UTC).date()
        while day <= today:
            kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"MATCHES#{day.isoformat()}")}
            while True:
                response = self._table.query(**kwargs)
                for record in response["Items"]:
                    hour, member, label = str(record["sk"]).split("#", 2)
                    yield hour, member, label, int(record["matched_checks"])
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            day += timedelta(days=1)

    def get_incident(self, incident_id: str) -> Incident | None:
        record = self._table.get_item(
            Key={"pk": f"{INCIDENT_PREFIX}{incident_id}", "sk": META_SORT_KEY}, ConsistentRead=True
        ).get("Item")
        if record is None:
            return None
        status: IncidentStatus = record["status"]
        return Incident(
            incident_id=str(record["incident_id"]),
            title=str(record["title"]),
            labels=tuple(record.get("labels", [])),
            status=status,
            opened_by=str(record["opened_by"]),
            opened_at=str(record["opened_at"]),
            timeline=tuple(TimelineEntry.from_json(step) for step in record.get("timeline", [])),
        )

    def put_incident(self, incident: Incident, *, expected: str | None) -> bool:
        """Write the incident's record (timeline whole) when the stored status is `expected`
        (None: no record yet); False when another request moved it first."""
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected is not None:
            condition = {
                "ConditionExpression": "#status = :expected",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":expected": expected},
            }
        try:
            self._table.put_item(
                Item={"pk": f"{INCIDENT_PREFIX}{incident.incident_id}", "sk": META_SORT_KEY, **incident.to_json()},
                **condition,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def count_incident_matches(self, incident_id: str, hour: str, member: str, count: int) -> None:
        self._table.update_item(
            Key={"pk": f"{INCIDENT_MATCHES_PREFIX}{incident_id}", "sk": f"{hour}#{member}"},
            UpdateExpression="ADD matches :count",
            ExpressionAttributeValues={":count": count},
        )

    def incident_counts(self, incident_id: str) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"{INCIDENT_MATCHES_PREFIX}{incident_id}"),
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**kwargs)
            for record in response["Items"]:
                hour, member = str(record["sk"]).split("#", 1)
                counts[(hour, member)] = int(record.get("matches", 0))
            if "LastEvaluatedKey" not in response:
                return counts
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

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
    def _meta_record(item: SharedItem) -> dict[str, Any]:
        provenance = item.provenance
        record: dict[str, Any] = {
            **_item_key(item.item_id),
            "item_id": item.item_id,
            "contributor": provenance.contributor,
            "shared_at": provenance.shared_at,
            "labels": list(provenance.labels),
            "media": item.media,
            "signals": dict(item.signals),
            "status": item.status,
            "near_entry_count": len(item.near_entries),
        }
        for name in ("confirmed_by", "disputed_by"):
            if getattr(item, name):
                record[name] = set(getattr(item, name))
        for name in ("severity", "confidence", "incident", "note"):
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
                confidence=record.get("confidence"),
                incident=record.get("incident"),
                note=record.get("note"),
            ),
            media=record["media"],
            signals=dict(record.get("signals", {})),
            duration=float(record["duration"]) if "duration" in record else None,
            status=record.get("status", "active"),
            confirmed_by=tuple(sorted(record.get("confirmed_by", ()))),
            disputed_by=tuple(sorted(record.get("disputed_by", ()))),
            source=record.get("source"),
            status_at=record.get("status_at"),
            status_by=record.get("status_by"),
        )
