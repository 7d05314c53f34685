"""DeployFunction: ECR Image Action (PUSH, SUCCESS) → deploy the pushed image to the services that take it; the
fan-out queue's work items (a push to many services); the reconcile schedule (missed pushes, drift)."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.handlers.deploy import handle_push
from autopilot.observability import logger, metrics


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_push(event, context)
