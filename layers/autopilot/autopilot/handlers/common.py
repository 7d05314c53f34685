"""What every function's wiring shares: adapters built on first use, the outbox, rejected events.

Nothing here imports a function's logic, an HTTP client or a chat SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property, lru_cache, wraps
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import TypeAdapter, ValidationError

from autopilot.aws import clients
from autopilot.aws.alarms import AlarmGateway
from autopilot.aws.config_store import ConfigStore
from autopilot.aws.ecs import EcsGateway
from autopilot.aws.notify_queue import NotificationQueue
from autopilot.ledger import Ledger
from autopilot.messages import take_outbox
from autopilot.observability import logger, metrics
from autopilot.refs import ServiceRef
from autopilot.settings import Settings, get_settings

T = TypeVar("T")


class Triggers(Generic[T]):
    """The events a function takes (a union of event models), validated at the edge. The validator is built
    with the first event: building it at import is cold start spent before anything is known."""

    def __init__(self, kind: Any) -> None:
        self._kind = kind

    @cached_property
    def _adapter(self) -> TypeAdapter[T]:
        return TypeAdapter(self._kind)

    def parse(self, event: Mapping[str, Any]) -> T:
        return self._adapter.validate_python(event)


class Adapters:
    """The adapters of this Lambda container, each built (with its boto3 client) when first used: kept across
    warm invocations (the configuration document's cache lives in them), built again when the settings or
    the clients change (tests, the CLI)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def current(cls) -> Adapters:
        return _adapters(get_settings(), clients.generation())

    @cached_property
    def ecs(self) -> EcsGateway:
        return EcsGateway(clients.ecs())

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(clients.dynamodb(), self.settings.ledger_table)

    @cached_property
    def config(self) -> ConfigStore:
        return ConfigStore(clients.ssm(), self.settings.config_parameter, self.settings.config_max_age_seconds)

    @cached_property
    def alarms(self) -> AlarmGateway:
        return AlarmGateway(clients.cloudwatch())


@lru_cache(maxsize=4)
def _adapters(settings: Settings, generation: int) -> Adapters:
    return Adapters(settings)


def flush_outbox() -> int:
    """Put what this invocation emitted on the notification queue (a no-op when nothing was emitted)."""
    messages = take_outbox()
    url = get_settings().notify_queue_url
    if messages and url:
        NotificationQueue(clients.sqs(), url).send(messages)
    return len(messages)


Handler = Callable[..., dict[str, Any]]


def telling(handler: Handler) -> Handler:
    """Flush the outbox when the handler ends, also when it fails (what it said before failing was true; a
    retried invocation emits the same messages, which the FIFO queue deduplicates by content)."""

    @wraps(handler)
    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        take_outbox()
        try:
            return handler(*args, **kwargs)
        finally:
            flush_outbox()

    return run


def rejected(event: Mapping[str, Any], error: ValidationError) -> dict[str, Any]:
    """A malformed or oversized event: one clear error in the log (never the offending value, which may be
    a megabyte), the RejectedEvents metric (RejectedEventsAlarm), no retry (it would never parse)."""
    problems = [f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"[:300] for item in error.errors()][:20]
    logger.error(
        "malformed event rejected",
        extra={
            "event_id": str(event.get("id"))[:128],
            "detail_type": str(event.get("detail-type"))[:128],
            "problems": problems,
        },
    )
    metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    return {"rejected": True, "problems": problems}


def service_tags(adapters: Adapters) -> Callable[[ServiceRef], dict[str, str] | None]:
    """A service's tags as ECS has them now (None when the service is gone)."""

    def tags_of(ref: ServiceRef) -> dict[str, str] | None:
        snapshot = adapters.ecs.describe_services([ref]).get(ref)
        return snapshot.tags if snapshot else None

    return tags_of
