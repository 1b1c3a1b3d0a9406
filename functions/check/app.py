"""Check: hash each object dropped under check/<platform>/, match it, publish the verdict."""

from typing import Any

from hashmatch.aws.entrypoint import handle_ingest_batch, logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_ingest_batch(event, context, actions=("check",))
