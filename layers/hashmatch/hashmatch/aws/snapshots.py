"""Near-match snapshots in S3: immutable snapshot objects plus a small pointer to the newest.

Layout in the snapshot bucket:

* ``snapshots/<position>.bin``: one snapshot (`hashmatch.index.snapshot` format), written once;
* ``snapshots/latest.json``: ``{"key", "position", "entries", "items", "bytes", "format_version",
  "published_at"}``, rewritten only after the snapshot it names is completely uploaded, so a
  reader never sees a half-written snapshot. The pointer only moves forward.

Older snapshots are deleted after each publish except the newest `keep`, so a reader that read
the pointer a moment ago still finds the object it names.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from hashmatch.index.bank_index import BankIndex, IndexState
from hashmatch.index.snapshot import FORMAT_VERSION, read_snapshot, write_snapshot

PREFIX = "snapshots/"
POINTER_KEY = f"{PREFIX}latest.json"
KEEP_SNAPSHOTS = 3
# Parallel ranged GETs and multipart PUTs of 16 MiB: a 2 GB snapshot moves in ~128 requests.
TRANSFER = TransferConfig(multipart_threshold=16 * 1024**2, multipart_chunksize=16 * 1024**2, max_concurrency=8)
_GONE = {"NoSuchKey", "404", "NotFound"}


class S3SnapshotStore:
    """Publishes and fetches near-match snapshots in `bucket`; builds an S3 client only when none is given."""

    def __init__(
        self, bucket: str, s3_client: Any = None, temp_dir: str | None = None, keep: int = KEEP_SNAPSHOTS
    ) -> None:
        self._bucket = bucket
        self._s3 = s3_client or boto3.client("s3")
        self._temp_dir = temp_dir
        self._keep = max(1, keep)

    def pointer(self) -> dict[str, Any] | None:
        """The newest snapshot's pointer, or None when nothing was published yet."""
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=POINTER_KEY)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE:
                return None
            raise
        pointer: dict[str, Any] = json.loads(response["Body"].read())
        return pointer

    def latest_state(self) -> IndexState | None:
        """The newest snapshot's state, or None when there is none.

        The object is streamed to a temporary file (parallel ranged GETs) and read from there.
        Raises `hashmatch.index.snapshot.SnapshotError` for a snapshot this code cannot read, and
        botocore's ClientError for S3 failures.
        """
        pointer = self.pointer()
        if pointer is None:
            return None
        with tempfile.TemporaryDirectory(dir=self._temp_dir, prefix="hashmatch-snapshot-") as folder:
            path = Path(folder) / "snapshot.bin"
            with path.open("wb") as out:
                self._s3.download_fileobj(self._bucket, pointer["key"], out, Config=TRANSFER)
            with path.open("rb") as stream:
                return read_snapshot(stream)

    def latest(self) -> BankIndex | None:
        """`BankIndex` continuing from the newest snapshot, or None; raises as `latest_state`."""
        state = self.latest_state()
        return None if state is None else BankIndex.from_state(state)

    def publish(self, index: BankIndex) -> str | None:
        """Upload a snapshot of `index` and point `latest.json` at it; returns its key.

        Returns None without uploading when the published snapshot is already at or past
        `index`'s position. Raises ValueError for indexes that have applied nothing yet.
        """
        if index.position is None:
            raise ValueError("nothing to publish: these indexes have applied no change yet")
        current = self.pointer()
        if current is not None and str(current.get("position", "")) >= index.position:
            return None
        key = f"{PREFIX}{_safe(index.position)}.bin"
        with tempfile.TemporaryDirectory(dir=self._temp_dir, prefix="hashmatch-snapshot-") as folder:
            path = Path(folder) / "snapshot.bin"
            with path.open("wb") as out:
                info = write_snapshot(index, out)
            size = path.stat().st_size
            self._s3.upload_file(str(path), self._bucket, key, Config=TRANSFER)
        pointer = {
            "key": key,
            **info.as_dict(),
            "bytes": size,
            "format_version": FORMAT_VERSION,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        self._s3.put_object(
            Bucket=self._bucket, Key=POINTER_KEY, Body=json.dumps(pointer).encode(), ContentType="application/json"
        )
        self._prune(keep_key=key)
        return key

    def _prune(self, keep_key: str) -> None:
        snapshots = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=PREFIX):
            snapshots += [o for o in page.get("Contents", []) if o["Key"].endswith(".bin")]
        # Keys sort by position, which starts with the log's clock.
        for listed in sorted(snapshots, key=lambda o: o["Key"])[: -self._keep]:
            if listed["Key"] != keep_key:
                self._s3.delete_object(Bucket=self._bucket, Key=listed["Key"])


def _safe(position: str) -> str:
    """A log position as an S3 key segment that sorts the same way ('#' and ':' avoided)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", position)
