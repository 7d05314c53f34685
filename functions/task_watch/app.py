"""TaskWatchFunction: ECS Task State Change (STOPPED) and service steady state → explain stops, aggregate loops."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.handlers.task_watch import handle_task_watch
from autopilot.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_task_watch(event, context)
