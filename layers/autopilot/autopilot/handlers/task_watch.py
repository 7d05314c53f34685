"""TaskWatchFunction's wiring: stopped tasks and steady state → explain stops, aggregate crash loops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from autopilot.events import TaskStateChangeEvent, TaskWatchTrigger
from autopilot.handlers.common import Adapters, Triggers, rejected, service_tags, telling
from autopilot.observability import count
from autopilot.taskwatch import WatchPorts, watch_steady_state, watch_stopped_task

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


_triggers: Triggers[Any] = Triggers(TaskWatchTrigger)


@telling
def handle_task_watch(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _triggers.parse(event)
    except ValidationError as error:
        return rejected(event, error)
    adapters = Adapters.current()
    ports = WatchPorts(ledger=adapters.ledger, tags_of=service_tags(adapters), region=trigger.region)
    if isinstance(trigger, TaskStateChangeEvent):
        stopped = watch_stopped_task(trigger, ports)
        count("TaskStops", stopped.stop_class)
        return stopped.model_dump(mode="json")
    return watch_steady_state(trigger, ports).model_dump(mode="json")
