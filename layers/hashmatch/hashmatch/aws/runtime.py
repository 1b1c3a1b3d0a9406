"""Wiring for the Lambda functions and the local stack: settings, clients, adapters, service.

Built once per process on first use (never at import), so a warm function keeps its
near-match index between invocations and only reads the bank's log tail. With a snapshot
bucket, a cold matcher starts from the newest snapshot on its first check and reads the log
written since; without one (or when the snapshot cannot be read) it replays the whole log.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.s3 import S3ObjectStore
from hashmatch.aws.snapshots import S3SnapshotStore
from hashmatch.aws.sns import SnsNotifier
from hashmatch.index.bank_index import BankIndex, IndexState
from hashmatch.index.snapshot import SnapshotError
from hashmatch.matching.matcher import Matcher
from hashmatch.media.hashing import hash_file
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.service import HashmatchService, Outcome
from hashmatch.service.settings import Settings

logger = logging.getLogger(__name__)

IDEMPOTENCY_PARTITION = "IDEMPOTENCY"
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass
class Runtime:
    """The service plus an idempotent entry point: one S3 event, processed once."""

    service: HashmatchService
    idempotency: IdempotencyConfig
    process_once: Any

    def process(self, obj: ObjectRef, lambda_context: Any = None) -> str:
        if lambda_context is not None:
            self.idempotency.register_lambda_context(lambda_context)
        result: dict[str, str] = self.process_once(event={"identity": obj.identity, "key": obj.key, **_fields(obj)})
        return result["outcome"]


def _fields(obj: ObjectRef) -> dict[str, Any]:
    return {"bucket": obj.bucket, "etag": obj.etag, "size": obj.size, "sequencer": obj.sequencer}


def build_runtime(settings: Settings, session: boto3.session.Session | None = None) -> Runtime:
    """Adapters on `session` (the default one when None), the service, and its idempotency guard."""
    session = session or boto3.session.Session()
    bank = DynamoBank(settings.table_name, session.resource("dynamodb"))
    service = HashmatchService(
        store=S3ObjectStore(session.client("s3")),
        bank=bank,
        notifier=SnsNotifier(settings.topic_arn, session.client("sns")),
        matcher=Matcher(bank, bank_index(settings, session)),
        hasher=hash_file,
        platforms=settings.platforms,
        thresholds=settings.thresholds_for,
    )
    persistence, config = idempotency(settings.table_name, session.client("dynamodb"))

    def process(event: dict[str, Any]) -> dict[str, str]:
        obj = ObjectRef(event["bucket"], event["key"], event["etag"], event["size"], event["sequencer"])
        outcome: Outcome = service.process(obj)
        return {"outcome": outcome.value}

    guarded = idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=config)(process)
    return Runtime(service=service, idempotency=config, process_once=guarded)


def idempotency(table_name: str, dynamodb_client: Any) -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    """Powertools idempotency on the bank table: records under pk IDEMPOTENCY, keyed by the event's
    `identity`, expired by the table's TTL attribute after a day."""
    persistence = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr="expires_at",
        boto3_client=dynamodb_client,
    )
    config = IdempotencyConfig(
        event_key_jmespath="identity", raise_on_no_idempotency_key=True, expires_after_seconds=IDEMPOTENCY_SECONDS
    )
    return persistence, config


def bank_index(settings: Settings, session: boto3.session.Session) -> BankIndex:
    """A `BankIndex` that loads the newest snapshot on their first refresh, when there is a bucket.

    Loading waits for the first check, so a function that never matches never downloads one.
    """
    if not settings.snapshot_bucket:
        return BankIndex()
    store = S3SnapshotStore(settings.snapshot_bucket, session.client("s3"))

    def newest_snapshot() -> IndexState | None:
        try:
            return store.latest_state()
        except SnapshotError:
            # Replaying the log is slow but gives the same indexes; the next snapshot replaces this one.
            logger.exception("the newest near-match snapshot is unreadable; replaying the whole change log")
            return None

    return BankIndex(bootstrap=newest_snapshot)


_per_thread = threading.local()


def runtime() -> Runtime:
    """This thread's runtime, built from the environment on first call: one per Lambda instance,
    and one per poller thread in the local stack (boto3 resources are not shared across threads)."""
    if not hasattr(_per_thread, "runtime"):
        _per_thread.runtime = build_runtime(Settings.from_environment())
    built: Runtime = _per_thread.runtime
    return built
