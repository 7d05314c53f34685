"""RollbackFunction: ECS Deployment State Change and CloudWatch Alarm State Change → track, roll back, quarantine."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.handlers.rollback import handle_rollback
from autopilot.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_rollback(event, context)
