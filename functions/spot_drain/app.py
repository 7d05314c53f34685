"""SpotDrainFunction: Spot warnings, rebalance recommendations, terminate lifecycle hooks, Fargate Spot
interruptions, and its own delay queue → drain capacity before it disappears."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.handlers.spot_drain import handle_spot_drain
from autopilot.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_spot_drain(event, context)
