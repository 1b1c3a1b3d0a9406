"""Scan: one slice of a share's retroactive scan (retained checks it now matches), for the share function."""

from typing import Any

from hashmatch.aws.entrypoint import handle_retro_scan, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_retro_scan(event)
