"""`SegmentStore` on the hashing queue (tasks) and the signals bucket (parts, hashes only):
``signals/segments/<share id>/<index>.json``, each a segment's hashes in the codec's JSON form,
expired with the bucket's other documents when a share never completes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hashmatch.edge.segments import SegmentTask
from hashmatch.media.codec import hashes_from_json, hashes_to_json
from hashmatch.media.model import MediaHashes

__all__ = ["SEGMENTS_PREFIX", "S3SegmentStore"]

SEGMENTS_PREFIX = "signals/segments/"
# SendMessageBatch takes 10 messages a call.
_BATCH = 10


class S3SegmentStore:
    def __init__(self, bucket: str, s3_client: Any, queue_url: str, sqs_client: Any) -> None:
        self._bucket = bucket
        self._s3 = s3_client
        self._queue_url = queue_url
        self._sqs = sqs_client

    def schedule(self, tasks: Sequence[SegmentTask]) -> None:
        for start in range(0, len(tasks), _BATCH):
            batch = tasks[start : start + _BATCH]
            entries = [{"Id": str(task.index), "MessageBody": json.dumps(task.to_json())} for task in batch]
            response = self._sqs.send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            if response.get("Failed"):
                failed = ", ".join(f"{f['Id']}: {f.get('Message', f.get('Code'))}" for f in response["Failed"])
                raise RuntimeError(f"segment tasks not queued ({failed})")

    def put_part(self, task: SegmentTask, hashes: MediaHashes) -> None:
        body = json.dumps(hashes_to_json(hashes), separators=(",", ":")).encode()
        self._s3.put_object(Bucket=self._bucket, Key=self._key(task, task.index), Body=body)

    def parts(self, task: SegmentTask) -> list[MediaHashes] | None:
        prefix = f"{SEGMENTS_PREFIX}{task.share_id}/"
        listed = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=prefix, MaxKeys=1000).get("Contents", [])
        wanted = {self._key(task, n) for n in range(task.count)}
        if not wanted <= {item["Key"] for item in listed}:
            return None
        return [
            hashes_from_json(json.loads(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()))
            for key in sorted(wanted)
        ]

    def discard(self, task: SegmentTask) -> None:
        keys = [{"Key": self._key(task, n)} for n in range(task.count)]
        self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True})

    @staticmethod
    def _key(task: SegmentTask, index: int) -> str:
        return f"{SEGMENTS_PREFIX}{task.share_id}/{index:04d}.json"
