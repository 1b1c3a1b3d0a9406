"""A member's edge stack (member/template.yaml): its own bucket, the same hashing, hashes to the coalition.

The member drops media into a bucket in its own AWS account. The same `EdgeHasher` hashes it
there; `CoalitionDropSink` then delivers what it made as hash lists into the coalition's ingest
bucket, under the member's own prefixes, with credentials of the member's role in the coalition
account (assumed with the external id the coalition gave it):

- a check becomes a one-line check list (`hashmatch hash --for-check` form) under
  ``check/<platform>/``, answered on the platform's topic like any check;
- a file the edge could not hash becomes a check-list line with its rejection, so the platform is
  told on its topic too;
- a share becomes a one-line share list with the file's whole hashes (framings, frames) under
  ``share/<platform>/``, the labels and the rest in the object's metadata; a withdrawal, a
  withdrawal list under ``withdraw/<platform>/``;
- a share or withdrawal the edge rejects is published on the member stack's own topic.

Nothing but hashes leaves the member's account.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from hashmatch.edge.ingest import check_line
from hashmatch.media.codec import hashes_to_json
from hashmatch.service.metadata import encode_metadata
from hashmatch.service.submission import Kind, Submission

__all__ = ["AssumedRole", "CoalitionDropSink"]

logger = logging.getLogger(__name__)

# Object metadata passed from the member's upload to the coalition's share list.
_SHARE_METADATA = ("labels", "severity", "confidence", "incident", "note", "content-id")


class AssumedRole:
    """S3 clients with the member's role in the coalition account (assumed with its external id),
    renewed a few minutes before the credentials expire."""

    RENEW_SECONDS = 300

    def __init__(self, role_arn: str, external_id: str, sts_client: Any = None, region: str | None = None) -> None:
        self._role_arn = role_arn
        self._external_id = external_id
        self._sts = sts_client or boto3.client("sts")
        self._region = region
        self._session: boto3.session.Session | None = None
        self._client: Any = None
        self._expires = 0.0

    def session(self) -> boto3.session.Session:
        if self._session is None or time.time() > self._expires - self.RENEW_SECONDS:
            answer = self._sts.assume_role(
                RoleArn=self._role_arn, RoleSessionName="hashmatch-edge", ExternalId=self._external_id
            )["Credentials"]
            self._session = boto3.session.Session(
                aws_access_key_id=answer["AccessKeyId"],
                aws_secret_access_key=answer["SecretAccessKey"],
                aws_session_token=answer["SessionToken"],
                region_name=self._region,
            )
            self._client = self._session.client("s3")
            self._expires = answer["Expiration"].timestamp()
        return self._session

    def s3(self) -> Any:
        self.session()
        return self._client


class CoalitionDropSink:
    """`SubmissionSink` that drops hash lists into the coalition's ingest bucket (see the module)."""

    def __init__(
        self, bucket: str, s3: Callable[[], Any], notify_rejection: Callable[[Submission], None] | None = None
    ) -> None:
        self._bucket = bucket
        self._s3 = s3
        self._notify_rejection = notify_rejection

    def send(self, submission: Submission) -> None:
        name = Path(submission.obj.key).name or "object"
        platform = submission.platform
        content_id = submission.content_id or name
        if submission.kind is Kind.GONE:
            logger.info("object gone before hashing", extra={"key": submission.obj.key})
            return
        if submission.action == "check":
            line = self._check_line(submission, content_id)
            self._put(f"check/{platform}/{uuid.uuid4().hex[:12]}-{name}.jsonl", [line], {"content-id": content_id})
        elif submission.kind is Kind.REJECTION:
            if self._notify_rejection is None:
                raise RuntimeError(f"no way to tell {platform} that {submission.obj.key} was rejected")
            self._notify_rejection(submission)
        elif submission.action == "share" and submission.hashes is not None:
            metadata = {k: v for k, v in submission.metadata.items() if k in _SHARE_METADATA}
            line = json.dumps(hashes_to_json(submission.hashes), separators=(",", ":"))
            self._put(f"share/{platform}/{uuid.uuid4().hex[:12]}-{name}.jsonl", [line], metadata)
        else:
            lines = [json.dumps(_entry_line(entry), separators=(",", ":")) for entry in submission.entries]
            metadata = {k: v for k, v in submission.metadata.items() if k in _SHARE_METADATA}
            self._put(f"{submission.action}/{platform}/{uuid.uuid4().hex[:12]}-{name}.jsonl", lines, metadata)

    @staticmethod
    def _check_line(submission: Submission, content_id: str) -> str:
        if submission.kind is Kind.HASHES and submission.hashes is not None:
            line, left_out = check_line(submission.hashes, {"content_id": content_id})
            if left_out:
                logger.warning("check line made to fit", extra={"key": submission.obj.key, "left_out": left_out})
            return json.dumps(line, separators=(",", ":"))
        rejection = submission.rejection
        reason, message = (rejection.reason.value, rejection.message) if rejection else ("corrupt", "not hashed")
        return json.dumps({"content_id": content_id, "rejection": {"reason": reason, "message": message}})

    def _put(self, key: str, lines: list[str], metadata: dict[str, str]) -> None:
        body = ("\n".join(lines) + "\n").encode()
        self._s3().put_object(Bucket=self._bucket, Key=key, Body=body, Metadata=encode_metadata(metadata))


def _entry_line(entry: Any) -> dict[str, Any]:
    line: dict[str, Any] = hashes_to_json(entry.hashes) if entry.hashes is not None else {"signals": entry.signals}
    if entry.labels is not None:
        line["labels"] = list(entry.labels)
    line.update(entry.overrides)
    return line


class _RoleSession:
    """A `LookupApiClient` session that follows the assumed role's renewals."""

    def __init__(self, role: AssumedRole) -> None:
        self._role = role

    def get_credentials(self) -> Any:
        return self._role.session().get_credentials()

    @property
    def region_name(self) -> str | None:
        return self._role.session().region_name


def build_member_runtime(environ: Any = None) -> Any:
    """The member's `EdgeHasher`, from the environment member/template.yaml sets."""
    import os

    from hashmatch.aws.lookup import LookupApiClient
    from hashmatch.aws.runtime import thread_telemetry
    from hashmatch.aws.s3 import S3ObjectStore
    from hashmatch.edge.ingest import EdgeHasher
    from hashmatch.edge.sandbox import Sandbox
    from hashmatch.service.settings import SettingsError

    env = os.environ if environ is None else environ
    missing = [name for name in _MEMBER_VARIABLES if not env.get(name, "").strip()]
    if missing:
        raise SettingsError(f"environment variable {missing[0]} is required")
    role = AssumedRole(env["COALITION_ROLE_ARN"], env["COALITION_EXTERNAL_ID"], region=env.get("AWS_REGION"))
    sns = boto3.client("sns")
    topic = env["REJECTIONS_TOPIC_ARN"]

    def tell(submission: Submission) -> None:
        rejection = submission.rejection
        body = {
            "event_type": f"{submission.action}.rejected",
            "object": {"bucket": submission.obj.bucket, "key": submission.obj.key},
            "content_id": submission.content_id,
            "rejection": {"reason": rejection.reason.value, "message": rejection.message} if rejection else None,
        }
        sns.publish(TopicArn=topic, Message=json.dumps(body))

    return EdgeHasher(
        store=S3ObjectStore(boto3.client("s3")),
        sink=CoalitionDropSink(env["COALITION_BUCKET"], role.s3, tell),
        hasher=Sandbox().hash,
        platforms=(env["PLATFORM"],),
        candidates=LookupApiClient(env["COALITION_LOOKUP_API_URL"], _RoleSession(role)),
        telemetry=thread_telemetry(),
    )


_MEMBER_VARIABLES = (
    "PLATFORM",
    "COALITION_BUCKET",
    "COALITION_ROLE_ARN",
    "COALITION_EXTERNAL_ID",
    "COALITION_LOOKUP_API_URL",
    "REJECTIONS_TOPIC_ARN",
)
