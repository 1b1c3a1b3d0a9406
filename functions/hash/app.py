"""Hash: each object dropped under check/, share/ or withdraw/ hashed in a sandbox and handed on as hashes."""

from typing import Any

from hashmatch.aws.entrypoint import handle_ingest_batch, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_ingest_batch(event, context)
