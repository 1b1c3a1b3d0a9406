"""Check: match each submitted check (hashes only) against the bank, publish the verdict."""

from typing import Any

from hashmatch.aws.entrypoint import handle_submission_batch, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_submission_batch(event, context)
