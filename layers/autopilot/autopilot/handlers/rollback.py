"""RollbackFunction's wiring: ECS deployment state changes and CloudWatch alarms → track, roll back, quarantine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from autopilot.events import AlarmStateChangeEvent, EcsDeploymentEvent, RollbackTrigger
from autopilot.handlers.common import Adapters, Triggers, flush_outbox, rejected, telling
from autopilot.observability import count
from autopilot.rollback import RollbackPorts, handle_alarm, handle_deployment_change
from autopilot.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


_triggers: Triggers[EcsDeploymentEvent | AlarmStateChangeEvent] = Triggers(RollbackTrigger)


def rollback_ports(adapters: Adapters, region: str | None) -> RollbackPorts:
    return RollbackPorts(
        ecs=adapters.ecs,
        ledger=adapters.ledger,
        alarms=adapters.alarms,
        max_rollbacks_per_hour=get_settings().max_auto_rollbacks_per_hour,
        region=region,
        flush=flush_outbox,
        observe=get_settings().observe,
    )


@telling
def handle_rollback(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _triggers.parse(event)
    except ValidationError as error:
        return rejected(event, error)
    ports = rollback_ports(Adapters.current(), trigger.region)
    if isinstance(trigger, EcsDeploymentEvent):
        reports = [handle_deployment_change(trigger, ports)]
    else:
        reports = handle_alarm(trigger, ports)
    for report in reports:
        count("Rollbacks", report.outcome.value)
    return {"results": [report.model_dump(mode="json") for report in reports]}
