"""What both Lambda functions do with an SQS batch of S3 events: each object processed once.

A record whose processing raises is reported back as a batch item failure, so SQS retries
only that record and, after the queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from hashmatch.aws.runtime import runtime
from hashmatch.service.events import objects_from_message
from hashmatch.service.service import Action, UnroutableObject

logger = Logger(service="hashmatch")


def handle_ingest_batch(event: dict[str, Any], context: Any, actions: tuple[Action, ...]) -> dict[str, Any]:
    """Process an SQS batch of S3 events for keys under `actions`; the partial batch response."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        for obj in objects_from_message(record.body):
            if obj.key.split("/", 1)[0] not in actions:
                raise UnroutableObject(f"{obj.key!r} is not for this function ({', '.join(actions)})")
            outcome = runtime().process(obj, context)
            logger.info("processed", key=obj.key, outcome=outcome)

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
