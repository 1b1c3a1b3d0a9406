"""Share: store what a platform shares (hashes of media, or hash lists) or withdraws, and alert the others."""

from typing import Any

from hashmatch.aws.entrypoint import handle_submission_batch, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_submission_batch(event, context)
