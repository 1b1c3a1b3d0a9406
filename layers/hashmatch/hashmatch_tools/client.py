"""A member platform's side of the coalition: drop files into S3, read the platform's notifications."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from hashmatch.aws.lookup import LookupApiClient
from hashmatch.service.metadata import encode_metadata

VERDICTS = ("match.found", "check.clean", "check.rejected", "check.expired")
# What answers a check-by-hash list: a results object per chunk, or the whole list's rejection.
LIST_REPLIES = ("check.completed", "check.rejected", "check.expired")

SHARE_REPLIES = ("share.accepted", "share.rejected", "hash.withdrawn")
# Notifications a filtered read passes over stay hidden this long, so the next receive reaches the
# ones behind them instead of getting the same ten again; then other readers see them.
PASSED_OVER_SECONDS = 5
# How long `subscribe` waits for SNS to ask a queue of another account to confirm its subscription.
CONFIRM_SECONDS = 30.0


class UnknownPlatform(ValueError):
    """The platform is not a member of this deployment."""


# What a member in an AWS account of its own keeps there: its inbox queues. Everything else (the
# ingest bucket, its topic, the lookup API, the stack's outputs, its retained checks) is the
# coalition's, reached through the role the coalition made for it (`coalition_role`).
OWN_ACCOUNT_SERVICES = frozenset({"sqs"})


class Clients:
    """boto3 clients made on first use, on one endpoint: on the caller's own session, or, with
    `coalition_role` (a member in an account of its own), on a session of that role (assumed with
    `external_id`) for everything but `OWN_ACCOUNT_SERVICES`."""

    def __init__(
        self,
        endpoint: str | None = None,
        region: str | None = None,
        coalition_role: str | None = None,
        external_id: str | None = None,
        session: boto3.session.Session | None = None,
    ) -> None:
        self._session = session or boto3.session.Session(region_name=region or os.environ.get("AWS_DEFAULT_REGION"))
        self._endpoint = endpoint
        self._coalition_role = coalition_role
        self._external_id = external_id
        self._coalition: boto3.session.Session | None = None
        self._made: dict[str, Any] = {}

    @property
    def coalition_session(self) -> boto3.session.Session:
        """The session coalition resources are reached on: the role's, once assumed, else the caller's."""
        if self._coalition_role is None:
            return self._session
        if self._coalition is None:
            request = {"RoleArn": self._coalition_role, "RoleSessionName": "hashmatch-cli"}
            if self._external_id:
                request["ExternalId"] = self._external_id
            sts = self._session.client("sts", endpoint_url=self._endpoint)
            credentials = sts.assume_role(**request)["Credentials"]
            self._coalition = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self._session.region_name,
            )
        return self._coalition

    @property
    def in_own_account(self) -> bool:
        """Whether the caller's queues are in an account other than the coalition's."""
        return self._coalition_role is not None

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            session = self._session if service in OWN_ACCOUNT_SERVICES else self.coalition_session
            self._made[service] = session.client(service, endpoint_url=self._endpoint)
        return self._made[service]

    def resource(self, service: str) -> Any:
        return self.coalition_session.resource(service, endpoint_url=self._endpoint)


@dataclass
class Coalition:
    """Where members drop files (the ingest bucket) and the queues their notifications reach."""

    bucket: str
    platforms: list[str]
    clients: Clients
    inbox_urls: dict[str, str]
    lookup_url: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    stack_name: str = "hashmatch"

    @classmethod
    def deployed(cls, stack_name: str, clients: Clients, inbox_urls: dict[str, str] | None = None) -> Coalition:
        """A stack deployed with SAM, found through its CloudFormation outputs."""
        stacks = clients("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        return cls(
            outputs["IngestBucketName"],
            outputs["PlatformList"].split(","),
            clients,
            inbox_urls or {},
            outputs.get("LookupApiUrl"),
            outputs,
            stack_name,
        )

    @classmethod
    def local(cls, endpoint: str, root: Path | None = None) -> Coalition:
        """The local stack at `endpoint`, with the names its template gives."""
        from hashmatch_tools.local.stack import (
            DEFAULT_STACK_NAME,
            LOCAL_CREDENTIALS,
            LOOKUP_API_PARAMETER,
            inbox_queue_name,
            project_root,
        )
        from hashmatch_tools.local.template import Stack

        for key, value in LOCAL_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        clients = Clients(endpoint)
        stack = Stack.from_file((root or project_root()) / "template.yaml", DEFAULT_STACK_NAME, endpoint=endpoint)
        platforms = list(stack.parameters["Platforms"])
        sqs = clients("sqs")
        inboxes = {
            p: sqs.get_queue_url(QueueName=inbox_queue_name(DEFAULT_STACK_NAME, p))["QueueUrl"] for p in platforms
        }
        lookup = clients("ssm").get_parameter(Name=LOOKUP_API_PARAMETER)["Parameter"]["Value"]
        outputs = {k: str(v) for k, v in stack.outputs().items()}
        return cls(outputs["IngestBucketName"], platforms, clients, inboxes, lookup, outputs, DEFAULT_STACK_NAME)

    def _member(self, platform: str) -> None:
        if platform not in self.platforms:
            raise UnknownPlatform(f"unknown platform {platform!r}; members: {', '.join(self.platforms)}")

    def put(self, action: str, platform: str, name: str, body: bytes, metadata: dict[str, str] | None = None) -> str:
        """Drop `body` under `<action>/<platform>/`; returns the object key. Metadata values in any
        script are sent RFC 2047-encoded (`hashmatch.service.metadata`)."""
        self._member(platform)
        key = f"{action}/{platform}/{uuid.uuid4().hex[:12]}-{_key_safe(Path(name).name)}"
        self.clients("s3").put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=encode_metadata(metadata or {}))
        return key

    def put_operator(self, name: str, body: bytes) -> str:
        """Drop an operator's request under ``operator/`` (the operators' role may write there, no
        member's); returns the object key."""
        key = f"operator/{uuid.uuid4().hex[:12]}-{_key_safe(Path(name).name)}"
        self.clients("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        return key

    def parked(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters waiting for an operator (their platform was told they failed): each with
        its message id, receipt handle, source queue, attempts and body. Received, then released."""
        sqs, url = self.clients("sqs"), self.outputs["ParkedQueueUrl"]
        found: dict[str, dict[str, Any]] = {}
        while len(found) < limit:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
                found[message["MessageId"]] = {
                    "message_id": message["MessageId"],
                    "receipt_handle": message["ReceiptHandle"],
                    "source_queue_url": attributes.get("source_queue_url"),
                    "attempts": attributes.get("attempts"),
                    "answered": attributes.get("answered") == "true",
                    "body": message["Body"],
                }
        return list(found.values())

    def release(self, parked: list[dict[str, Any]]) -> None:
        """Make listed dead letters visible again at once."""
        sqs, url = self.clients("sqs"), self.outputs["ParkedQueueUrl"]
        for message in parked:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["receipt_handle"], VisibilityTimeout=0)

    def replay(self, message: dict[str, Any]) -> None:
        """Send a parked dead letter back to the queue it came from, and drop it from the parked queue."""
        sqs = self.clients("sqs")
        sqs.send_message(QueueUrl=message["source_queue_url"], MessageBody=message["body"])
        sqs.delete_message(QueueUrl=self.outputs["ParkedQueueUrl"], ReceiptHandle=message["receipt_handle"])

    def bank(self) -> Any:
        """The bank table, read with these clients' credentials (an operator's, for exports)."""
        from hashmatch.aws.dynamodb import DynamoBank

        return DynamoBank(self.outputs["BankTableName"], self.clients.resource("dynamodb"))

    def candidates(self) -> LookupApiClient | None:
        """The lookup API's client, to refine uneven crops at the edge; None when none is known."""
        if not self.lookup_url:
            return None
        return LookupApiClient(self.lookup_url, self.clients.coalition_session)

    def results(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """The verdict lines of one chunk of a check-by-hash list."""
        body = self.clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def list_verdicts(self, platform: str, key: str, timeout: float) -> Iterator[dict[str, Any]]:
        """Every entry's verdict for the check-by-hash list at `key`, as its chunks are answered;
        a rejection or expiry of the whole list is yielded as it came."""
        remaining: int | None = None
        seen: set[int] = set()
        for reply in self._read(platform, time.monotonic() + timeout, keys={key}, event_types=LIST_REPLIES):
            if reply["event_type"] != "check.completed":
                yield reply
                return
            page = reply["page"]
            if page["number"] in seen:
                continue
            seen.add(page["number"])
            remaining = page["of"] if remaining is None else remaining
            yield from self.results(reply["results"]["bucket"], reply["results"]["key"])
            if len(seen) == remaining:
                return

    def inbox_url(self, platform: str) -> str:
        """The platform's inbox queue: the one given, else the one `subscribe` made by default."""
        self._member(platform)
        if platform not in self.inbox_urls:
            try:
                found = self.clients("sqs").get_queue_url(QueueName=self.inbox_name(platform))["QueueUrl"]
            except self.clients("sqs").exceptions.QueueDoesNotExist:
                raise UnknownPlatform(
                    f"no inbox queue for {platform}: run `hashmatch subscribe --platform {platform}` "
                    "or pass --inbox-queue-url"
                ) from None
            self.inbox_urls[platform] = found
        return self.inbox_urls[platform]

    def inbox_name(self, platform: str) -> str:
        return f"{self.stack_name}-inbox-{platform}"

    def topic_arn(self, platform: str) -> str:
        self._member(platform)
        return self.outputs["TopicArnTemplate"].replace("{platform}", platform)

    def subscribe(
        self,
        platform: str,
        *,
        labels: Sequence[str] = (),
        events: Sequence[str] = (),
        queue_name: str | None = None,
        confirm_seconds: float = CONFIRM_SECONDS,
    ) -> dict[str, Any]:
        """An SQS queue (created when missing, encrypted, writable only by the platform's topic)
        subscribed to the platform's topic, filtered to `events` and `labels` when given (any of
        each). Subscribing the same queue again replaces its filter. The queue's URL and filter.
        A member in an account of its own gets the queue there, subscribed through its coalition
        role, and the subscription confirmed (``confirmed``)."""
        sqs, sns = self.clients("sqs"), self.clients("sns")
        topic = self.topic_arn(platform)
        name = queue_name or self.inbox_name(platform)
        url = sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PlatformTopicOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        filters: dict[str, list[str]] = {}
        if events:
            filters["event_type"] = sorted(set(events))
        if labels:
            filters["labels"] = sorted(set(labels))
        existing = [
            s["SubscriptionArn"]
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
            for s in page["Subscriptions"]
            if s["Endpoint"] == arn and s["Protocol"] == "sqs"
        ]
        if existing:
            subscription = existing[0]
            sns.set_subscription_attributes(
                SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=json.dumps(filters)
            )
        else:
            attributes = {"FilterPolicy": json.dumps(filters)} if filters else {}
            subscription = sns.subscribe(
                TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes, ReturnSubscriptionArn=True
            )["SubscriptionArn"]
        answer = {"platform": platform, "queue_url": url, "subscription": subscription, "filter": filters}
        if self.clients.in_own_account:
            answer["confirmed"] = self._confirm(topic, url, confirm_seconds)
        self.inbox_urls[platform] = url
        return answer

    def _confirm(self, topic: str, url: str, seconds: float) -> bool:
        """A queue of another account than the topic's is subscribed pending confirmation: SNS
        sends it a ``SubscriptionConfirmation`` with a token, confirmed here (through the
        coalition role, so only an authenticated caller may unsubscribe it). False when none came
        within `seconds` (a subscription that needed none, or one confirmed before)."""
        sqs, until = self.clients("sqs"), time.monotonic() + seconds
        while time.monotonic() < until:
            wait = max(0, min(5, int(until - time.monotonic())))
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
                "Messages", []
            ):
                envelope = json.loads(message["Body"])
                if envelope.get("Type") == "SubscriptionConfirmation" and envelope.get("TopicArn") == topic:
                    self.clients("sns").confirm_subscription(
                        TopicArn=topic, Token=envelope["Token"], AuthenticateOnUnsubscribe="true"
                    )
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    return True
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        return False

    def notifications(self, platform: str, wait_seconds: float) -> Iterator[dict[str, Any]]:
        """Every notification waiting in the platform's inbox (consumed), until it stays empty."""
        yield from self._read(platform, time.monotonic() + wait_seconds, keys=None)

    def verdicts(
        self, platform: str, keys: set[str], timeout: float, event_types: tuple[str, ...] = VERDICTS
    ) -> Iterator[dict[str, Any]]:
        """Replies about the objects `keys` (verdicts by default; `SHARE_REPLIES` for what the
        platform shared or withdrew), as they arrive; other notifications stay queued."""
        pending = set(keys)
        for body in self._read(platform, time.monotonic() + timeout, keys=pending, event_types=event_types):
            pending.discard(body["object"]["key"])
            yield body
            if not pending:
                return

    def _read(
        self, platform: str, until: float, keys: set[str] | None, event_types: tuple[str, ...] = VERDICTS
    ) -> Iterator[dict[str, Any]]:
        sqs = self.clients("sqs")
        url = self.inbox_url(platform)
        while time.monotonic() < until:
            wait = max(0, min(2, int(until - time.monotonic())))
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
                "Messages", []
            )
            if not messages and keys is None:
                return
            for message in messages:
                envelope = json.loads(message["Body"])
                body: dict[str, Any] = json.loads(envelope["Message"]) if "Message" in envelope else envelope
                wanted = keys is None or (
                    body.get("event_type") in event_types and body.get("object", {}).get("key") in keys
                )
                if wanted:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    yield body
                else:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=PASSED_OVER_SECONDS
                    )


def _key_safe(name: str) -> str:
    """A file name as the last part of an object key: any script is fine in S3 keys (UTF-8), but
    control characters and slashes are not."""
    cleaned = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    return cleaned or "file"
