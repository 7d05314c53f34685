"""SpotDrainFunction's wiring: Spot warnings, rebalance recommendations, terminate lifecycle hooks, Fargate Spot
interruptions, and its own delay queue (lifecycle waits) → drain capacity before it disappears."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from autopilot.aws import clients
from autopilot.aws.capacity import DrainWaitQueue, LifecycleHooks, TargetGroups
from autopilot.aws.ecs import CapacityGateway
from autopilot.drain import DrainPorts, handle_fargate_spot, handle_interruption, handle_lifecycle, handle_wait
from autopilot.events import LifecycleTerminateEvent, SpotDrainTrigger, TaskStateChangeEvent
from autopilot.handlers.common import Adapters, Triggers, flush_outbox, rejected, service_tags, telling
from autopilot.observability import count
from autopilot.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


_triggers: Triggers[Any] = Triggers(SpotDrainTrigger)


def drain_ports(adapters: Adapters, region: str | None) -> DrainPorts:
    settings = get_settings()
    queue = DrainWaitQueue(clients.sqs(), settings.drain_wait_queue_url) if settings.drain_wait_queue_url else None
    return DrainPorts(
        capacity=CapacityGateway(clients.ecs(), adapters.ecs),
        hooks=LifecycleHooks(clients.autoscaling()),
        targets=TargetGroups(clients.elbv2()),
        lifecycles=adapters.ledger.lifecycles,
        wait_queue=queue,
        tags_of=service_tags(adapters),
        region=region,
        drain_on_rebalance=settings.drain_on_rebalance,
        flush=flush_outbox,
        max_wait_seconds=settings.drain_max_wait_minutes * 60,
        check_every_seconds=settings.drain_check_seconds,
        observe=settings.observe,
    )


@telling
def handle_spot_drain(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """EventBridge events, or a batch from our own delay queue (lifecycle waits)."""
    adapters = Adapters.current()
    if "Records" in event:
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        ports = drain_ports(adapters, None)

        def record_handler(record: SQSRecord) -> dict[str, Any]:
            return handle_wait(json.loads(record.body), ports).model_dump(mode="json")

        return dict(
            process_partial_response(
                event=event,
                record_handler=record_handler,
                processor=BatchProcessor(event_type=EventType.SQS),
                context=context,
            )
        )
    try:
        trigger = _triggers.parse(event)
    except ValidationError as error:
        return rejected(event, error)
    ports = drain_ports(adapters, trigger.region)
    if isinstance(trigger, LifecycleTerminateEvent):
        report = handle_lifecycle(trigger, ports)
    elif isinstance(trigger, TaskStateChangeEvent):
        report = handle_fargate_spot(trigger.detail, ports)
    else:
        report = handle_interruption(trigger, ports)
    count("Drain", report.outcome)
    return report.model_dump(mode="json")
