"""The append-only audit log on S3 with Object Lock in compliance mode.

One object per record, ``audit/<day>/<time>-<digest>.json``. The bucket is created with Object
Lock and a default retention in COMPLIANCE mode (`AuditBucket` in the template): until it runs out
no principal, the account's root included, can delete a record's version or shorten its retention.
A record is written only where no object is (``If-None-Match: *``), and the bucket policy refuses
any write without that condition to every principal, so a record, once written, is the one every
reader sees: it cannot be replaced by a newer version either. The key carries a digest of the
record, so a retry of the same record finds it written and is done. The functions may only put
objects there (no delete, no retention or legal-hold rights, denied again in the bucket policy);
members have no access at all; operators read it (`hashmatch audit`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from hashmatch.service.ports import AuditRecord

PREFIX = "audit/"
# What S3 answers a conditional write to a key that holds an object (or one being written).
_WRITTEN_ALREADY = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def record_key(record: AuditRecord) -> str:
    """Where `record` is written: sorted by time within its day; the digest tells records of one
    instant apart and is the same for a record written twice."""
    body = json.dumps(asdict(record), sort_keys=True, default=str)
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return f"{PREFIX}{record.at[:10]}/{record.at}-{digest}.json"


def record_from_json(document: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        action=str(document["action"]),
        actor=str(document["actor"]),
        at=str(document["at"]),
        outcome=str(document.get("outcome", "done")),
        item_ids=tuple(str(i) for i in document.get("item_ids", ())),
        reason=str(document.get("reason", "")),
        request=str(document.get("request", "")),
        detail=dict(document.get("detail", {})),
        writer=str(document.get("writer", "")),
    )


class S3AuditLog:
    """`hashmatch.service.ports.AuditLog` on an Object Lock bucket."""

    def __init__(self, bucket: str, s3_client: Any, today: Any = lambda: datetime.now(UTC).date()) -> None:
        self._bucket = bucket
        self._s3 = s3_client
        self._today = today

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Write each of `records` where none is yet; one already there under its key (which
        holds a digest of it) is the same record, written by an earlier attempt."""
        for record in records:
            try:
                self._s3.put_object(
                    Bucket=self._bucket,
                    Key=record_key(record),
                    Body=json.dumps(asdict(record), sort_keys=True).encode(),
                    ContentType="application/json",
                    # Object Lock needs an integrity checksum on every put.
                    ChecksumAlgorithm="SHA256",
                    IfNoneMatch="*",
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in _WRITTEN_ALREADY:
                    raise

    def read(self, since: str) -> Iterator[AuditRecord]:
        day = date.fromisoformat(since[:10])
        while day <= self._today():
            kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": f"{PREFIX}{day.isoformat()}/"}
            if day.isoformat() == since[:10]:
                kwargs["StartAfter"] = f"{PREFIX}{day.isoformat()}/{since}"
            for page in self._s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for entry in page.get("Contents", []):
                    body = self._s3.get_object(Bucket=self._bucket, Key=entry["Key"])["Body"].read()
                    record = record_from_json(json.loads(body))
                    if record.at >= since:
                        yield record
            day += timedelta(days=1)
