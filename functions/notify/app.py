"""NotifyFunction: the notification queue → every route a message is for (Slack, Teams, Discord, …)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.observability import logger, metrics, tracer
from autopilot.wiring import handle_notify


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return handle_notify(event, context)
