"""One member platform's side of the coalition: drop objects under its prefixes, read its inbox.

A member writes to the ingest bucket under ``<action>/<platform>/`` (the coalition reads the
action and the platform from the key) and hears back on its SNS topic, through an SQS queue
subscribed to it (`hashmatch subscribe` makes one). `Member` does both with boto3 clients it is
given, or builds from a session on first use.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from hashmatch_client.metadata import encode_metadata
from hashmatch_client.notifications import InvalidNotification, Notification, parse_notification

__all__ = ["Action", "Member"]

Action = Literal["check", "share", "withdraw", "feedback", "incident"]
_ACTIONS = ("check", "share", "withdraw", "feedback", "incident")
# SQS long polling waits at most 20 seconds per receive.
_MAX_WAIT_SECONDS = 20


class Member:
    """A member platform: `platform` as the coalition names it, `bucket` the ingest bucket,
    `inbox_url` the SQS queue subscribed to the platform's topic (needed only to read).

    Pass `s3_client` / `sqs_client` (or a `boto3_session` to make them from); otherwise they are
    made from a default session when first needed."""

    def __init__(
        self,
        platform: str,
        bucket: str,
        inbox_url: str | None = None,
        *,
        s3_client: Any = None,
        sqs_client: Any = None,
        boto3_session: Any = None,
        remember: int = 10_000,
    ) -> None:
        if not platform or "/" in platform:
            raise ValueError(f"a platform name has no slash and is not empty: {platform!r}")
        self.platform = platform
        self.bucket = bucket
        self.inbox_url = inbox_url
        self._s3 = s3_client
        self._sqs = sqs_client
        self._session = boto3_session
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    # -- dropping ---------------------------------------------------------------------------

    def drop(
        self,
        action: Action,
        name: str,
        body: bytes | Path,
        *,
        content_id: str | None = None,
        labels: Iterable[str] = (),
        severity: str | None = None,
        incident: str | None = None,
        note: str | None = None,
        signal: str | None = None,
    ) -> str:
        """Put `body` (bytes, or a file uploaded in parts when large) under ``<action>/<platform>/``
        with its metadata, any value in any script; returns the object key. Raises botocore's
        `ClientError` when S3 refuses (no access to the bucket or prefix, for one)."""
        if action not in _ACTIONS:
            raise ValueError(f"unknown action {action!r}: one of {', '.join(_ACTIONS)}")
        metadata = {
            "content-id": content_id,
            "labels": ",".join(labels) or None,
            "severity": severity,
            "incident": incident,
            "note": note,
            "signal": signal,
        }
        encoded = encode_metadata({k: v for k, v in metadata.items() if v is not None})
        key = f"{action}/{self.platform}/{uuid.uuid4().hex[:12]}-{_key_safe(Path(name).name)}"
        if isinstance(body, Path):
            self.s3.upload_file(str(body), self.bucket, key, ExtraArgs={"Metadata": encoded})
        else:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=encoded)
        return key

    def check(self, name: str, body: bytes | Path, *, content_id: str | None = None) -> str:
        """Ask whether a file (image or video) matches the bank: a verdict follows in the inbox."""
        return self.drop("check", name, body, content_id=content_id)

    def check_hashes(self, entries: Iterable[Mapping[str, Any]], *, name: str = "check-list.jsonl") -> str:
        """Check by hash: `entries` are the lines of a check list, each one file's hashes as
        ``hashmatch hash --for-check`` prints them (at least ``{"content_id": ..., "signals":
        {"pdq": ...}}``). A `check.completed` per chunk follows, and a `match.found` per entry
        that matched (its `entry.line` is the entry's line, from 1)."""
        return self.drop("check", name, _json_lines(entries))

    def share(
        self,
        name: str,
        body: bytes | Path,
        *,
        labels: Iterable[str],
        severity: str | None = None,
        incident: str | None = None,
        note: str | None = None,
        content_id: str | None = None,
    ) -> str:
        """Share a file, or a hash list, with the coalition under the taxonomy's `labels`."""
        return self.drop(
            "share", name, body, labels=labels, severity=severity, incident=incident, note=note, content_id=content_id
        )

    def share_hashes(
        self,
        hashes: Iterable[tuple[str, str]],
        *,
        labels: Iterable[str],
        severity: str | None = None,
        incident: str | None = None,
        note: str | None = None,
        name: str = "hashes.jsonl",
    ) -> str:
        """Share `(signal, hex)` pairs, one item each, as one hash list."""
        lines = ({"signal": signal, "hash": value} for signal, value in hashes)
        return self.drop(
            "share", name, _json_lines(lines), labels=labels, severity=severity, incident=incident, note=note
        )

    def withdraw(self, hashes: Iterable[tuple[str, str]], *, name: str = "withdraw.jsonl") -> str:
        """Withdraw items this member shared, named by `(signal, hex)` pairs."""
        return self.drop("withdraw", name, _json_lines({"signal": s, "hash": h} for s, h in hashes))

    def feedback(self, target: str, verdict: Literal["confirm", "dispute"], reason: str | None = None) -> str:
        """Confirm or dispute an item: `target` is its id, or the `notification_id` of a
        `match.found` this member received (a dispute needs a `reason`)."""
        request = {"target": target, "verdict": verdict, **({"reason": reason} if reason is not None else {})}
        return self.drop("feedback", "feedback.json", json.dumps(request, ensure_ascii=False).encode())

    # -- reading ----------------------------------------------------------------------------

    def notifications(self, *, wait_seconds: float = 0) -> Iterator[Notification]:
        """The notifications in the inbox, parsed (`parse_notification`), each once per `Member`:
        a redelivery of a `notification_id` already yielded is deleted and skipped. Reads for
        `wait_seconds` (long polling), then until a receive comes back empty; a caller waiting
        for one reply breaks out of the loop when it has it.

        A notification is deleted from the queue when the caller asks for the next one: a process
        that dies while handling one finds it in the queue again after the visibility timeout
        (one a caller broke out on comes back too, and this `Member` skips it then). A body that
        breaks the contract raises `InvalidNotification` and stays in the queue (the queue's
        redrive policy parks it after repeated attempts)."""
        if self.inbox_url is None:
            raise ValueError(f"no inbox queue for {self.platform}: pass inbox_url")
        until = time.monotonic() + wait_seconds
        while True:
            wait = math.ceil(max(0, min(_MAX_WAIT_SECONDS, until - time.monotonic())))
            messages = self.sqs.receive_message(
                QueueUrl=self.inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            if not messages and time.monotonic() >= until:
                return
            for message in messages:
                notification = parse_notification(_body(message["Body"]))
                if notification.notification_id not in self._seen:
                    self._remember_id(notification.notification_id)
                    yield notification
                self.sqs.delete_message(QueueUrl=self.inbox_url, ReceiptHandle=message["ReceiptHandle"])

    def _remember_id(self, notification_id: str) -> None:
        self._seen[notification_id] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

    # -- clients ----------------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._boto3_session().client("s3")
        return self._s3

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = self._boto3_session().client("sqs")
        return self._sqs

    def _boto3_session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        return self._session


def _body(text: str) -> Any:
    """A notification body from an SQS message: SNS's envelope around it, or the body itself when
    the subscription delivers raw messages."""
    try:
        document = json.loads(text)
        if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
            return json.loads(document["Message"])
    except json.JSONDecodeError as error:
        raise InvalidNotification(f"not JSON: {error}") from None
    return document


def _json_lines(records: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(dict(r), ensure_ascii=False).encode() + b"\n" for r in records)


def _key_safe(name: str) -> str:
    """A file name as the last part of an object key: any script is fine in keys (UTF-8), control
    characters and slashes are not."""
    cleaned = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    return cleaned or "file"
