"""Share: store what a platform shares (media or hash lists) or withdraws, and alert the others."""

from typing import Any

from hashmatch.aws.entrypoint import handle_ingest_batch, logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_ingest_batch(event, context, actions=("share", "withdraw"))
