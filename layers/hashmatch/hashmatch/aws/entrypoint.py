"""What the Lambda functions do with their events.

- `handle_ingest_batch`: the hashing function, an SQS batch of S3 events: each object hashed and
  handed on as a submission (`hashmatch.edge.ingest`);
- `handle_submission_batch`: the check and share functions, an SQS batch of submissions: each
  processed once (`hashmatch.service.service`);
- `handle_api`: the HTTP API (`hashmatch.aws.api`).

A record whose processing raises is reported back as a batch item failure, so SQS retries only
that record and, after the queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hashmatch.aws.api import handle_request
from hashmatch.aws.runtime import coalition_runtime, edge_runtime, lookup_runtime, member_runtime
from hashmatch.service.events import objects_from_message
from hashmatch.service.routing import ACTIONS, UnroutableObject

logger = Logger(service="hashmatch")


def handle_ingest_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Hash each object an SQS batch of S3 events reports; the partial batch response."""

    def record_handler(record: SQSRecord) -> None:
        for obj in objects_from_message(record.body):
            if obj.key.split("/", 1)[0] not in ACTIONS:
                raise UnroutableObject(f"{obj.key!r} is not under {', '.join(ACTIONS)}")
            outcome = edge_runtime().process(obj)
            logger.info("hashed", key=obj.key, outcome=outcome)

    return _batch(event, context, record_handler)


def handle_member_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A member's edge stack: hash each object dropped in its own bucket, hand hashes to the coalition."""

    def record_handler(record: SQSRecord) -> None:
        for obj in objects_from_message(record.body):
            outcome = member_runtime().process(obj)
            logger.info("hashed at the edge", key=obj.key, outcome=outcome)

    return _batch(event, context, record_handler)


def handle_submission_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process each submission of an SQS batch once; the partial batch response."""

    def record_handler(record: SQSRecord) -> None:
        outcome = coalition_runtime().process(record.body, context)
        logger.info("processed", outcome=outcome)

    return _batch(event, context, record_handler)


def handle_api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An HTTP API request answered."""
    return handle_request(event, lookup_runtime)


def _batch(event: dict[str, Any], context: Any, record_handler: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
