"""Snapshot: on a schedule, apply the bank's new log entries to the near-match snapshot and publish it."""

from typing import Any

from hashmatch.aws.entrypoint import logger
from hashmatch.aws.snapshot_job import rebuild


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = rebuild(time_left=lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("snapshot run", **report.as_dict())
    return report.as_dict()
