"""SpotDrainFunction: Spot warnings, rebalance recommendations, terminate lifecycle hooks, Fargate Spot
interruptions, and its own delay queue → drain capacity before it disappears."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from autopilot.observability import logger, metrics, tracer
from autopilot.wiring import handle_spot_drain


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_spot_drain(event, context)
