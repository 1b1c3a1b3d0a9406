"""Kept answers (`hashmatch.service.answers`) in the bank table, large ones in S3.

One record per submission: ``pk = ANSWER#<2 hex>`` (spread over 256 partitions), ``sk = <sha256
of the idempotency key>``, the answer as zlib-compressed JSON in ``answer`` (or, over
`INLINE_LIMIT` compressed bytes, a pointer ``overflow`` to an object under ``answers/`` in the
results bucket: a shared hash list alerts every member and its answer can run to megabytes),
``published``, and ``expires_at`` for the table's TTL (`KEEP_SECONDS`: past the dead-letter
queues' 14 days, so a replayed dead letter still finds its answer). Before it holds an answer, the
record is an attempt's claim: ``claimed_until`` (epoch milliseconds) and no ``answer``.

A claim is one conditional put (the record is absent, or an answerless claim that lapsed); only
when it fails is the record read, to tell a kept answer from another attempt's live claim. The
first `keep` wins through a conditional put (no answer yet: it replaces the claim); a large
answer's object is written before the record, under a name of its own, so a losing writer's object
is never the one the record names.
"""

from __future__ import annotations

import hashlib
import time
import uuid
import zlib
from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from hashmatch.service.answers import CLAIMED, AnswerInProgress, KeptAnswer, Standing, answer_from_json, answer_to_json
from hashmatch.service.notifications import Notification

__all__ = ["ANSWER_PREFIX", "INLINE_LIMIT", "KEEP_SECONDS", "DynamoAnswerStore"]

ANSWER_PREFIX = "ANSWER#"
OVERFLOW_PREFIX = "answers/"
# DynamoDB items are at most 400 KB: room for the keys and flags.
INLINE_LIMIT = 300 * 1024
KEEP_SECONDS = 15 * 24 * 3600


class DynamoAnswerStore:
    def __init__(
        self, table: Any, s3_client: Any = None, overflow_bucket: str | None = None, clock: Any = time.time
    ) -> None:
        self._table = table
        self._s3 = s3_client
        self._bucket = overflow_bucket
        self._clock = clock

    @staticmethod
    def _key(key: str) -> dict[str, str]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return {"pk": f"{ANSWER_PREFIX}{digest[:2]}", "sk": digest}

    def kept(self, key: str) -> KeptAnswer | None:
        record = self._table.get_item(Key=self._key(key), ConsistentRead=True).get("Item")
        if record is None or ("answer" not in record and "overflow" not in record):
            return None
        return KeptAnswer(self._notifications(record), published=bool(record.get("published", False)))

    def claim(self, key: str, seconds: float) -> Standing:
        now_ms = int(self._clock() * 1000)
        record = {
            **self._key(key),
            "claimed_until": now_ms + int(seconds * 1000),
            "expires_at": now_ms // 1000 + KEEP_SECONDS,
        }
        lapsed = _unanswered() & Attr("claimed_until").lt(now_ms)
        try:
            self._table.put_item(Item=record, ConditionExpression=Attr("pk").not_exists() | lapsed)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            standing = self.kept(key)
            if standing is None:
                raise AnswerInProgress(f"another attempt is deciding the answer to {key!r}") from None
            return standing
        return CLAIMED

    def release(self, key: str) -> None:
        try:
            self._table.delete_item(Key=self._key(key), ConditionExpression=_unanswered())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def keep(self, key: str, notifications: list[Notification]) -> tuple[Notification, ...]:
        packed = zlib.compress(answer_to_json(notifications).encode(), 6)
        record: dict[str, Any] = {
            **self._key(key),
            "published": False,
            "expires_at": int(self._clock()) + KEEP_SECONDS,
            "count": len(notifications),
        }
        if len(packed) <= INLINE_LIMIT:
            record["answer"] = packed
        else:
            record["overflow"] = self._write_overflow(record["sk"], packed)
        try:
            self._table.put_item(Item=record, ConditionExpression=_unanswered())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            standing = self.kept(key)
            if standing is None:  # kept and expired in between: cannot happen within KEEP_SECONDS
                raise
            return standing.notifications
        return answer_from_json(zlib.decompress(packed))

    def mark_published(self, key: str) -> None:
        self._table.update_item(
            Key=self._key(key), UpdateExpression="SET published = :yes", ExpressionAttributeValues={":yes": True}
        )

    def _write_overflow(self, digest: str, packed: bytes) -> str:
        if self._s3 is None or not self._bucket:
            raise RuntimeError(f"an answer of {len(packed)} compressed bytes needs an overflow bucket")
        name = f"{OVERFLOW_PREFIX}{digest}/{uuid.uuid4().hex}.json.z"
        self._s3.put_object(Bucket=self._bucket, Key=name, Body=packed, ContentType="application/octet-stream")
        return name

    def _notifications(self, record: dict[str, Any]) -> tuple[Notification, ...]:
        if "answer" in record:
            return answer_from_json(zlib.decompress(bytes(record["answer"].value)))
        if self._s3 is None or not self._bucket:
            raise RuntimeError("the kept answer is in the overflow bucket, which this function cannot read")
        body = self._s3.get_object(Bucket=self._bucket, Key=record["overflow"])["Body"].read()
        return answer_from_json(zlib.decompress(body))


def _unanswered() -> Any:
    """The record holds no answer (a claim, at most)."""
    return Attr("answer").not_exists() & Attr("overflow").not_exists()
