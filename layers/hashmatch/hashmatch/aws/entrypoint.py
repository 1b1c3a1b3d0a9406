"""What the Lambda functions do with their events.

- `handle_ingest_batch`: the hashing function, an SQS batch of S3 events: each object hashed and
  handed on as a submission, the batch's checked pictures asking the coalition for uneven-crop
  candidates in one request (`hashmatch.edge.ingest`);
- `handle_submission_batch`: the check and share functions, an SQS batch of submissions: each
  processed once (`hashmatch.service.service`);
- `handle_api`: the HTTP API (`hashmatch.aws.api`);
- `handle_snapshot_run`: the scheduled snapshot builder (`hashmatch.aws.snapshot_job`).
- `handle_compaction_run`: the scheduled compaction of retained checks (`hashmatch.aws.retained_shards`).

A record whose processing raises is reported back as a batch item failure, so SQS retries only
that record and, after the queue's maxReceiveCount, moves it to the dead-letter queue. Each
function also reads its own dead-letter queue (`DEAD_LETTER_QUEUE_ARN`): a record arriving there
is answered, not retried: the platform is told `check.failed` / `share.failed` (the hashing
function hands on a `failure` submission for the coalition to tell), and the record is parked in
the parked queue (`PARKED_QUEUE_URL`) with the queue it came from (`DEAD_LETTERS`: each
dead-letter queue's ARN and the URL of the queue it serves), for operators to inspect and replay
(`hashmatch dlq`).

Every function logs JSON through Powertools (the package's own loggers too, so nothing is plain
text), with the record's S3 key, platform and message id as correlation keys; traces through the
Powertools Tracer (X-Ray, on in Lambda, off elsewhere); and writes its metrics
(`hashmatch.service.telemetry`) once per invocation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hashmatch.aws.api import handle_request
from hashmatch.aws.runtime import (
    coalition_runtime,
    edge_runtime,
    lookup_callers,
    lookup_rules,
    lookup_runtime,
    lookup_thresholds,
    member_runtime,
    thread_telemetry,
)
from hashmatch.edge.segments import segment_task_from_message
from hashmatch.service.events import MalformedEvent, objects_from_message
from hashmatch.service.notifications import ObjectRef
from hashmatch.service.routing import ACTIONS, Outcome, UnroutableObject
from hashmatch.service.telemetry import Metric, Unit

# Powertools names its logger after the service: the package's own loggers (hashmatch.*) are its
# children, so their records reach its JSON handler with the correlation keys set below.
logger = Logger(service="hashmatch")
tracer = Tracer(service="hashmatch")


DEAD_LETTERS = "DEAD_LETTERS"
PARKED_QUEUE_URL = "PARKED_QUEUE_URL"
FAILED_AFTER_RETRIES = "processing failed on every try the queue allows"


def handle_ingest_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Hash the objects an SQS batch of S3 events reports, with one uneven-crop question to the
    coalition for the whole batch (`EdgeHasher.process_many`); the partial batch response."""

    def answer(record: SQSRecord) -> None:
        task = segment_task_from_message(record.body)
        for obj in [task.obj] if task is not None else objects_from_message(record.body):
            edge_runtime().fail(obj, f"hashing: {FAILED_AFTER_RETRIES}")
            logger.warning("dead letter answered", key=obj.key)

    def uploads(record: SQSRecord) -> list[ObjectRef] | None:
        if _dead_letter(record) or segment_task_from_message(record.body) is not None:
            return None
        objs = objects_from_message(record.body)
        for obj in objs:
            if obj.key.split("/", 1)[0] not in ACTIONS:
                raise UnroutableObject(f"{obj.key!r} is not under {', '.join(ACTIONS)}")
        return objs

    hashed = _hashed_together(event, uploads, edge_runtime)

    def record_handler(record: SQSRecord) -> None:
        _correlate(record)
        if _dead_letter(record):
            _answer_and_park(record, answer)
            return
        task = segment_task_from_message(record.body)
        if task is not None:
            logger.append_keys(key=task.obj.key)
            outcome = edge_runtime().process_segment(task)
            logger.info("hashed a segment", key=task.obj.key, segment=task.index, of=task.count, outcome=outcome)
            return
        _settled(hashed[record.message_id], "hashed")

    return _batch(event, context, record_handler)


def handle_member_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A member's edge stack: hash the objects dropped in its own bucket (one uneven-crop question
    for the batch), hand hashes to the coalition."""
    hashed = _hashed_together(event, lambda record: objects_from_message(record.body), member_runtime)

    def record_handler(record: SQSRecord) -> None:
        _correlate(record)
        _settled(hashed[record.message_id], "hashed at the edge")

    return _batch(event, context, record_handler)


# A record's objects and what became of each, or why the record could not be read at all.
_Hashed = list[tuple[ObjectRef, Outcome | Exception]] | Exception


def _hashed_together(
    event: dict[str, Any], uploads: Callable[[SQSRecord], list[ObjectRef] | None], edge: Callable[[], Any]
) -> dict[str, _Hashed]:
    """Every upload the batch's records report (`uploads`: None for a record handled on its own),
    processed together by the edge; by record message id, what became of each of its objects.
    Lines logged while the batch is hashed name their object's key, not a record."""
    logger.remove_keys(["key"])
    logger.set_correlation_id(None)
    records = [SQSRecord(raw) for raw in event.get("Records", [])]
    found: dict[str, list[ObjectRef] | Exception] = {}
    for record in records:
        try:
            objs = uploads(record)
        except Exception as error:  # the record fails on its own, as its handler re-raises
            found[record.message_id] = error
            continue
        if objs is not None:
            found[record.message_id] = objs
    flat = [obj for objs in found.values() if isinstance(objs, list) for obj in objs]
    outcomes = iter(edge().process_many(flat) if flat else [])
    return {
        message_id: objs if isinstance(objs, Exception) else [(obj, next(outcomes)) for obj in objs]
        for message_id, objs in found.items()
    }


def _settled(hashed: _Hashed, done: str) -> None:
    """Log what became of a record's objects; raise the first failure, so SQS retries the record."""
    if isinstance(hashed, Exception):
        raise hashed
    failed = None
    for obj, outcome in hashed:
        logger.append_keys(key=obj.key)
        if isinstance(outcome, Exception):
            logger.warning("not hashed", key=obj.key, error=str(outcome)[:500])
            failed = failed or outcome
        else:
            logger.info(done, key=obj.key, outcome=outcome)
    if failed is not None:
        raise failed


def handle_submission_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process each submission of an SQS batch once; the partial batch response."""

    def answer(record: SQSRecord) -> None:
        coalition_runtime().fail(record.body, FAILED_AFTER_RETRIES)
        logger.warning("dead letter answered")

    def record_handler(record: SQSRecord) -> None:
        _correlate(record)
        if _dead_letter(record):
            _answer_and_park(record, answer)
            return
        outcome = coalition_runtime().process(record.body, context)
        logger.info("processed", outcome=outcome)

    return _batch(event, context, record_handler)


def handle_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An HTTP API request answered."""
    logger.set_correlation_id(str(event.get("requestContext", {}).get("requestId", "")) or None)
    try:
        return handle_request(event, lookup_runtime, lookup_rules, lookup_callers, lookup_thresholds)
    finally:
        thread_telemetry().flush()


def handle_snapshot_run(context: Any) -> dict[str, Any]:
    """One scheduled snapshot run; its report, and the metrics the snapshot-age alarm watches."""
    from hashmatch.aws.snapshot_job import rebuild

    report = rebuild(time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("snapshot run", **report.as_dict())
    telemetry = thread_telemetry()
    telemetry.record(Metric.SNAPSHOT_RUNS, 1, Unit.COUNT, {})
    telemetry.record(Metric.INDEX_ENTRIES, report.entries, Unit.COUNT, {})
    telemetry.flush()
    return report.as_dict()


def handle_compaction_run(context: Any) -> dict[str, Any]:
    """One scheduled compaction of retained checks into shards; its report."""
    from hashmatch.aws.retained_shards import compactor

    report = compactor().compact(time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("compaction run", **report.as_dict())
    return report.as_dict()


def handle_retro_scan(event: dict[str, Any]) -> dict[str, Any]:
    """One slice of a share's retroactive scan (`hashmatch.aws.retro_fanout`); what it matched."""
    from hashmatch.aws.retro_fanout import scan_worker

    answer = scan_worker().handle(event)
    logger.info(
        "retroactive scan slice", kind=event.get("slice", {}).get("kind"), matched=len(answer.get("matched", ()))
    )
    return answer


def _correlate(record: SQSRecord) -> None:
    """Log lines of this record carry its message id (and the key once known)."""
    logger.remove_keys(["key"])
    logger.set_correlation_id(record.message_id)


def _dead_letters() -> dict[str, str]:
    raw = os.environ.get(DEAD_LETTERS, "").strip()
    sources: dict[str, str] = json.loads(raw) if raw else {}
    return sources


def _dead_letter(record: SQSRecord) -> bool:
    return record.event_source_arn in _dead_letters()


def _answer_and_park(record: SQSRecord, answer: Any) -> None:
    """Tell the platform, then park the record. A record that names no platform (it is not an S3
    event or a submission at all) cannot be answered: it is parked as unanswered, loudly. Anything
    else that fails is raised: the dead letter is tried again later."""
    try:
        answer(record)
    except (MalformedEvent, UnroutableObject, ValueError, KeyError) as error:
        logger.error("dead letter names no platform; parked unanswered", error=str(error)[:500])
        _park(record, answered=False)
        return
    _park(record, answered=True)


def _park(record: SQSRecord, *, answered: bool) -> None:
    """Keep the dead letter for operators, with the queue it came from."""
    parked = os.environ.get(PARKED_QUEUE_URL)
    if not parked:
        return
    source = _dead_letters().get(record.event_source_arn, "")
    boto3.client("sqs").send_message(
        QueueUrl=parked,
        MessageBody=record.body,
        MessageAttributes={
            "source_queue_url": {"DataType": "String", "StringValue": source or "unknown"},
            "attempts": {"DataType": "String", "StringValue": json.dumps(record.attributes.approximate_receive_count)},
            "answered": {"DataType": "String", "StringValue": "true" if answered else "false"},
        },
    )


def _batch(event: dict[str, Any], context: Any, record_handler: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    try:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        thread_telemetry().flush()
    return dict(response)
