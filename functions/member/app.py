"""Member edge: hash what the member drops in its own bucket; only hashes go to the coalition."""

from typing import Any

from hashmatch.aws.entrypoint import handle_member_batch, logger, tracer


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_member_batch(event, context)
