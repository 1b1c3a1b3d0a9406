"""Compact: on a schedule, move retained checks older than the current hour into hourly S3 shards."""

from typing import Any

from hashmatch.aws.entrypoint import handle_compaction_run, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_compaction_run(context)
