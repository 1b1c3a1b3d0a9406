"""Dropped objects in the ingest bucket: fetched to temporary storage, deleted once processed."""

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


class S3ObjectStore:
    """`hashmatch.service.ports.ObjectStore` on S3; large objects stream to disk, never into memory."""

    def __init__(self, s3_client: Any = None, temp_dir: str | None = None) -> None:
        self._s3 = s3_client or boto3.client("s3")
        self._temp_dir = temp_dir

    @contextmanager
    def fetch(self, obj: ObjectRef, max_bytes: int) -> Iterator[FetchedObject | None]:
        try:
            response = self._s3.get_object(Bucket=obj.bucket, Key=obj.key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _GONE:
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

    def delete(self, obj: ObjectRef) -> None:
        self._s3.delete_object(Bucket=obj.bucket, Key=obj.key)
