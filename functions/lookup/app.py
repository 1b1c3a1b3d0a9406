"""Lookup: the coalition's HTTP API (IAM auth): hashes in, answers out."""

from typing import Any

from hashmatch.aws.entrypoint import handle_api, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_api(event, context)
