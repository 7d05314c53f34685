"""NotifyFunction: the notification queue → every route a message is for (Slack, Teams, Discord, …)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.handlers.notify import handle_notify
from autopilot.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return handle_notify(event, context)
