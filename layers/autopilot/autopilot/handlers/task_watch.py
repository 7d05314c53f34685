"""TaskWatchFunction's wiring: stopped tasks and steady state → explain stops, aggregate crash loops."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from autopilot.events import TaskStateChangeEvent, TaskWatchTrigger
from autopilot.handlers.common import Adapters, rejected, service_tags, telling
from autopilot.observability import count
from autopilot.taskwatch import WatchPorts, watch_steady_state, watch_stopped_task

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@cache
def _trigger() -> TypeAdapter[Any]:
    """Built with the first event (pydantic builds a validator in milliseconds, at import it is cold start)."""
    return TypeAdapter(TaskWatchTrigger)


@telling
def handle_task_watch(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _trigger().validate_python(event)
    except ValidationError as error:
        return rejected(event, error)
    adapters = Adapters.current()
    ports = WatchPorts(ledger=adapters.ledger, tags_of=service_tags(adapters), region=trigger.region)
    if isinstance(trigger, TaskStateChangeEvent):
        stopped = watch_stopped_task(trigger, ports)
        count("TaskStops", stopped.stop_class)
        return stopped.model_dump(mode="json")
    return watch_steady_state(trigger, ports).model_dump(mode="json")
