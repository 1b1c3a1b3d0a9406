"""S3 event notifications as they arrive through SQS."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from hashmatch.service.notifications import ObjectRef


class MalformedEvent(ValueError):
    """A queue message that is not an S3 event notification; it can never be processed."""


def objects_from_message(body: str) -> list[ObjectRef]:
    """The objects an S3 event notification (an SQS message body) reports as created.

    S3's `s3:TestEvent`, sent when notifications are configured, reports none.
    Keys arrive URL-encoded with `+` for spaces and are decoded here. Each object carries the
    principal the record's `userIdentity` names (`ObjectRef.principal`, "" when it names none).
    """
    try:
        message = json.loads(body)
    except json.JSONDecodeError as error:
        raise MalformedEvent(f"message body is not JSON: {error.msg}") from error
    if not isinstance(message, dict):
        raise MalformedEvent("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if "Records" not in message:
        raise MalformedEvent("message has no Records: not an S3 event notification")
    objects = []
    for record in message["Records"]:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        try:
            s3 = record["s3"]
            objects.append(
                ObjectRef(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(s3["object"]["key"]),
                    etag=str(s3["object"].get("eTag", "")),
                    size=int(s3["object"].get("size", 0)),
                    sequencer=str(s3["object"].get("sequencer", "")),
                    principal=_principal(record),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MalformedEvent(f"S3 record lacks {error}") from error
    return objects


def _principal(record: dict[str, object]) -> str:
    identity = record.get("userIdentity")
    return str(identity.get("principalId") or "") if isinstance(identity, dict) else ""
