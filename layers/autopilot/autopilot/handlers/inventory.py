"""InventoryFunction's wiring: the schedule rebuilds the repository → services index; an ECS API call
(CloudTrail) refreshes the one service it names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from autopilot.events import EcsApiCallEvent, InventoryTrigger
from autopilot.handlers.common import Adapters, Triggers, rejected, telling
from autopilot.inventory import rebuild_index, refresh_service
from autopilot.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


_triggers: Triggers[EcsApiCallEvent | Any] = Triggers(InventoryTrigger)


@telling
def handle_inventory(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _triggers.parse(event)
    except ValidationError as error:
        return rejected(event, error)
    adapters = Adapters.current()
    if isinstance(trigger, EcsApiCallEvent):
        if trigger.detail.error_code:
            logger.info("failed API call changes nothing", extra={"error_code": trigger.detail.error_code})
            return {"mode": "ignored"}
        try:
            ref = trigger.service()
        except ValueError as error:
            logger.warning("API call names no service we can resolve", extra={"error": str(error)})
            return {"mode": "ignored"}
        if ref is None:
            return {"mode": "ignored"}
        return refresh_service(ref, adapters.ecs, adapters.ledger).model_dump(mode="json")
    return rebuild_index(adapters.ecs, adapters.ledger).model_dump(mode="json")
