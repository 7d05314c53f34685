"""ChatOpsFunction: Slack requests to its Function URL, its own work queue, and ECS pause hooks."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.handlers.chatops import handle_chatops
from autopilot.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_chatops(event, context)
