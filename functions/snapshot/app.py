"""Snapshot: on a schedule, apply the bank's new log entries to the near-match snapshot and publish it."""

from typing import Any

from hashmatch.aws.entrypoint import handle_snapshot_run, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_snapshot_run(context)
