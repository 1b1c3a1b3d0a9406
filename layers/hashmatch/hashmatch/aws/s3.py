"""Dropped objects in the ingest bucket: fetched to temporary storage, deleted once processed.

Both are conditional on the S3 event's ETag: a key written again between the event and the fetch
holds other bytes, which this event must not check (the newer object has an event of its own), so
the fetch reports this event's object as gone; and a delete never removes an upload that landed
after the one processed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from hashmatch.service.metadata import decode_metadata
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.ports import FetchedObject

COPY_CHUNK_BYTES = 8 * 1024**2
_GONE = {"NoSuchKey", "404", "NotFound"}
# The key now holds another object than the event's (written again since).
_REPLACED = {"PreconditionFailed", "412"}


class S3ObjectStore:
    """`hashmatch.service.ports.ObjectStore` on S3; large objects stream to disk, never into memory."""

    def __init__(self, s3_client: Any = None, temp_dir: str | None = None) -> None:
        self._s3 = s3_client or boto3.client("s3")
        self._temp_dir = temp_dir

    @contextmanager
    def fetch(self, obj: ObjectRef, max_bytes: int) -> Iterator[FetchedObject | None]:
        try:
            response = self._s3.get_object(Bucket=obj.bucket, Key=obj.key, **_if_match(obj))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE | _REPLACED:
                yield None
                return
            raise
        body = response["Body"]
        size = int(response.get("ContentLength", 0))
        metadata = decode_metadata(response.get("Metadata", {}))
        if size > max_bytes:
            body.close()
            yield FetchedObject(path=None, metadata=metadata, size=size)
            return
        with tempfile.TemporaryDirectory(dir=self._temp_dir, prefix="hashmatch-") as folder:
            path = Path(folder) / "object"
            with path.open("wb") as out:
                shutil.copyfileobj(body, out, COPY_CHUNK_BYTES)
            yield FetchedObject(path=path, metadata=metadata, size=size)

    def metadata(self, obj: ObjectRef) -> dict[str, str] | None:
        try:
            response = self._s3.head_object(Bucket=obj.bucket, Key=obj.key, **_if_match(obj))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE | _REPLACED:
                return None
            raise
        return decode_metadata(response.get("Metadata", {}))

    def delete(self, obj: ObjectRef) -> None:
        """Delete the event's object; a newer object under the same key (or none) is left alone."""
        try:
            self._s3.delete_object(Bucket=obj.bucket, Key=obj.key, **_if_match(obj))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _GONE | _REPLACED:
                raise


def _if_match(obj: ObjectRef) -> dict[str, str]:
    """The event's ETag as a precondition (quoted, as S3 sends it in headers); none when unknown."""
    if not obj.etag:
        return {}
    etag = obj.etag if obj.etag.startswith('"') else f'"{obj.etag}"'
    return {"IfMatch": etag}
