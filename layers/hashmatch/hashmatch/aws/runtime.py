"""Wiring for the Lambda functions and the local stack: settings, clients, adapters, services.

Three runtimes, each built once per process on first use (never at import), with only what its
function is allowed:

- `edge_runtime()`, the hashing function: reads and deletes dropped objects, hashes them in the
  sandbox, asks the lookup API for uneven-crop candidates, hands submissions on. No bank, no topics.
- `coalition_runtime()`, the check and share functions: submissions in, bank and topics out,
  each submission processed once (a claim, then the kept answer, on the bank table, keyed by the
  S3 event's identity and the chunk, `hashmatch.service.answers`; the edge's `gone` and
  `failure` submissions, which share that key, claim nothing, `hashmatch.service.handoffs`).
- `lookup_runtime()`, the HTTP API: the matcher's index, read only.

A warm matcher keeps its near-match index between invocations and only reads the bank's log
tail. With a snapshot bucket, a cold matcher starts from the newest snapshot on its first use and
reads the log written since; without one (or when the snapshot cannot be read) it replays the log.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import boto3

from hashmatch.aws.answers import DynamoAnswerStore
from hashmatch.aws.audit import S3AuditLog
from hashmatch.aws.dynamodb import DynamoBank
from hashmatch.aws.handoffs import DynamoHandOffs
from hashmatch.aws.lookup import LookupApiClient
from hashmatch.aws.member_roles import IamMemberRoles
from hashmatch.aws.retained import DynamoRetainedChecks
from hashmatch.aws.retained_shards import S3RetainedShards, ShardedRetainedChecks
from hashmatch.aws.s3 import S3ObjectStore
from hashmatch.aws.segments import S3SegmentStore
from hashmatch.aws.snapshots import S3SnapshotStore
from hashmatch.aws.sns import SnsNotifier
from hashmatch.aws.submissions import S3ResultStore, SqsSubmissionSink, SubmissionReader
from hashmatch.aws.telemetry import CloudWatchTelemetry
from hashmatch.governance.callers import MemberCallers
from hashmatch.governance.policy import CoalitionRules
from hashmatch.index.bank_index import BankIndex, IndexState
from hashmatch.index.snapshot import SnapshotError
from hashmatch.matching.matcher import Matcher
from hashmatch.matching.policy import Thresholds
from hashmatch.service.retroactive import RetainedChecks
from hashmatch.service.routing import Action, Outcome
from hashmatch.service.service import HashmatchService
from hashmatch.service.settings import EdgeSettings, Settings
from hashmatch.service.telemetry import Metric, Telemetry, Unit

logger = logging.getLogger(__name__)

# A claim outlasts the attempt's remaining time by this much, for the clocks' drift.
CLAIM_MARGIN_SECONDS = 5.0


@dataclass
class CoalitionRuntime:
    """The coalition's service, one submission at a time: each processed once, through the claim
    and the kept answer of its key (`hashmatch.service.answers`)."""

    service: HashmatchService
    reader: SubmissionReader
    telemetry: Telemetry

    def fail(self, body: str, message: str) -> None:
        """Tell the platform a submission could not be processed (its record was dead-lettered)."""
        submission, where = self.reader.read(body)
        if submission is None:
            return  # its signals object was consumed: an earlier delivery processed it
        self.service.fail(submission, message)
        self.reader.discard(where)

    def process(self, body: str, lambda_context: Any = None) -> str:
        """Process the submission a queue message carries; its signals object is deleted after.
        Its claim lasts as long as this invocation may run (the Lambda context's remaining time)."""
        submission, where = self.reader.read(body)
        if submission is None:
            return Outcome.ALREADY_PROCESSED.value  # its signals object was consumed by an earlier delivery
        if lambda_context is not None:
            seconds = lambda_context.get_remaining_time_in_millis() / 1000 + CLAIM_MARGIN_SECONDS
            outcome = self.service.process(submission, claim_seconds=seconds).value
        else:
            outcome = self.service.process(submission).value
        self.reader.discard(where)
        self.telemetry.record(Metric.INDEX_ENTRIES, len(self.service.matcher.index), Unit.COUNT, {})
        return outcome


def build_edge_runtime(
    settings: EdgeSettings, session: boto3.session.Session | None = None, telemetry: Telemetry | None = None
) -> Any:
    """The hashing function's `EdgeHasher`: S3 objects in, submissions to the queues out; with
    members in their own accounts, each object's writer checked against its platform's role."""
    from hashmatch.edge.ingest import EdgeHasher
    from hashmatch.edge.principals import PrincipalCheck
    from hashmatch.edge.sandbox import Sandbox

    session = session or boto3.session.Session()
    s3 = session.client("s3")
    queues: dict[Action, str] = {
        "check": settings.check_queue_url,
        "share": settings.share_queue_url,
        "withdraw": settings.share_queue_url,
        "feedback": settings.share_queue_url,
        "incident": settings.share_queue_url,
        "operator": settings.share_queue_url,
    }
    sandbox = Sandbox()
    return EdgeHasher(
        store=S3ObjectStore(s3),
        sink=SqsSubmissionSink(queues, settings.signals_bucket, session.client("sqs"), s3),
        hasher=sandbox.hash,
        platforms=settings.platforms,
        candidates=LookupApiClient(settings.lookup_api_url, session) if settings.lookup_api_url else None,
        handoffs=DynamoHandOffs(settings.handoff_table, session.client("dynamodb")),
        telemetry=telemetry or thread_telemetry(),
        principals=PrincipalCheck(IamMemberRoles(settings.member_roles, session.client("iam")))
        if settings.member_roles
        else None,
        segments=S3SegmentStore(settings.signals_bucket, s3, settings.hash_queue_url, session.client("sqs"))
        if settings.hash_queue_url
        else None,
    )


def build_matcher(settings: Settings, session: boto3.session.Session | None = None) -> Matcher:
    session = session or boto3.session.Session()
    bank = DynamoBank(settings.table_name, session.resource("dynamodb"))
    return Matcher(bank, bank_index(settings, session))


def retained_checks(settings: Settings, session: boto3.session.Session) -> RetainedChecks:
    """Retained checks in the bank table, and in shards once compacted when there is a bucket for them."""
    table = DynamoRetainedChecks(session.resource("dynamodb").Table(settings.table_name))
    if not settings.retained_bucket:
        return table
    return ShardedRetainedChecks(table, S3RetainedShards(settings.retained_bucket, session.client("s3")))


def _retro_fan_out(settings: Settings, session: boto3.session.Session, s3_client: Any) -> Any:
    """The retroactive scan's fan-out to its worker function, where one is deployed with shards."""
    if not (settings.retro_scan_function and settings.retained_bucket):
        return None
    from hashmatch.aws.retro_fanout import build_fan_out

    return build_fan_out(settings, session, s3_client)


def build_runtime(
    settings: Settings, session: boto3.session.Session | None = None, telemetry: Telemetry | None = None
) -> CoalitionRuntime:
    """Adapters on `session` (the default one when None), the service, and its idempotency guard."""
    session = session or boto3.session.Session()
    telemetry = telemetry or thread_telemetry()
    tables = session.resource("dynamodb")  # the bank and the kept answers
    dynamodb = session.client("dynamodb")  # hand-offs (a resource's client types values)
    bank = DynamoBank(settings.table_name, tables)
    s3 = session.client("s3")
    service = HashmatchService(
        bank=bank,
        notifier=SnsNotifier(settings.topic_arn, session.client("sns")),
        matcher=Matcher(bank, bank_index(settings, session)),
        platforms=settings.platforms,
        results=S3ResultStore(settings.results_bucket, s3) if settings.results_bucket else None,
        thresholds=settings.thresholds_for,
        telemetry=telemetry,
        answers=DynamoAnswerStore(tables.Table(settings.table_name), s3, settings.results_bucket),
        retained=retained_checks(settings, session),
        retention=settings.retention,
        rules=settings.rules,
        audit=S3AuditLog(settings.audit_bucket, s3) if settings.audit_bucket else None,
        handoffs=DynamoHandOffs(settings.handoff_table, dynamodb) if settings.handoff_table else None,
        retro_fan_out=_retro_fan_out(settings, session, s3),
    )
    return CoalitionRuntime(service=service, reader=SubmissionReader(s3), telemetry=telemetry)


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


def thread_telemetry() -> CloudWatchTelemetry:
    """This thread's metrics, shared by the runtimes it builds; the entry point flushes them after
    each invocation."""
    if not hasattr(_per_thread, "telemetry"):
        _per_thread.telemetry = CloudWatchTelemetry()
    built: CloudWatchTelemetry = _per_thread.telemetry
    return built


def coalition_runtime() -> CoalitionRuntime:
    """This thread's coalition runtime, built from the environment on first call: one per Lambda
    instance, and one per poller thread in the local stack (boto3 resources are not shared across
    threads)."""
    if not hasattr(_per_thread, "coalition"):
        _per_thread.coalition = build_runtime(Settings.from_environment())
    built: CoalitionRuntime = _per_thread.coalition
    return built


def edge_runtime() -> Any:
    """This thread's `EdgeHasher`, built from the environment on first call."""
    if not hasattr(_per_thread, "edge"):
        _per_thread.edge = build_edge_runtime(EdgeSettings.from_environment())
    return _per_thread.edge


def lookup_runtime() -> Matcher:
    """This thread's read-only matcher for the HTTP API, built from the environment on first call."""
    if not hasattr(_per_thread, "lookup"):
        _per_thread.lookup = build_matcher(lookup_settings())
    built: Matcher = _per_thread.lookup
    return built


def lookup_settings() -> Settings:
    """The HTTP API's settings (member policies among them), read from the environment once."""
    if not hasattr(_per_thread, "lookup_settings"):
        _per_thread.lookup_settings = Settings.from_environment()
    settings: Settings = _per_thread.lookup_settings
    return settings


def lookup_rules() -> tuple[tuple[str, ...], CoalitionRules]:
    """The member platforms and the coalition's rules, for lookups that name a member."""
    settings = lookup_settings()
    return settings.platforms, settings.rules


def lookup_thresholds(platform: str) -> Thresholds:
    """A member's own thresholds (``PLATFORM_THRESHOLDS``), for lookups answered as that member."""
    return lookup_settings().thresholds_for(platform)


def lookup_callers() -> MemberCallers:
    """The member roles a caller of the HTTP API may be (none without members in their own accounts)."""
    return lookup_settings().member_callers


def member_runtime() -> Any:
    """This thread's member edge `EdgeHasher` (member/template.yaml), built on first call."""
    if not hasattr(_per_thread, "member"):
        from hashmatch.aws.member import build_member_runtime

        _per_thread.member = build_member_runtime()
    return _per_thread.member
