"""The edge's hand-off records (`hashmatch.service.handoffs`) in a DynamoDB table of their own.

One item per S3 event's object: ``pk`` the sha256 of its `ObjectRef.identity` (bucket, key,
sequencer, ETag: a new write of the key is a new object), and ``expires_at`` for the table's TTL,
`KEEP_SECONDS` (15 days: past the dead-letter queues' 14, so a replayed dead letter's `gone` still
finds the record). The hashing function may only put items in this table, and has no right on the
bank; the check and share functions may only read them (template.yaml, `HandOffTable`).

A record is written for every object handed on, so its price is paid on every check: one write
unit on demand is $0.000625 per 1,000; the empty S3 object it replaces was a PUT, $0.005 per 1,000.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from hashmatch.service.notifications import ObjectRef

__all__ = ["KEEP_SECONDS", "DynamoHandOffs"]

KEEP_SECONDS = 15 * 24 * 3600


class DynamoHandOffs:
    def __init__(self, table_name: str, dynamodb_client: Any, clock: Callable[[], float] = time.time) -> None:
        self._table = table_name
        self._dynamodb = dynamodb_client
        self._clock = clock

    @staticmethod
    def key(obj: ObjectRef) -> dict[str, dict[str, str]]:
        return {"pk": {"S": hashlib.sha256(obj.identity.encode()).hexdigest()}}

    def record(self, obj: ObjectRef) -> None:
        expires_at = int(self._clock()) + KEEP_SECONDS
        self._dynamodb.put_item(TableName=self._table, Item={**self.key(obj), "expires_at": {"N": str(expires_at)}})

    def handed_on(self, obj: ObjectRef) -> bool:
        found = self._dynamodb.get_item(
            TableName=self._table, Key=self.key(obj), ConsistentRead=True, ProjectionExpression="pk"
        )
        return "Item" in found
