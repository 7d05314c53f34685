"""Wiring shared by the handlers and the CLI: adapters from settings, typed parsing at the edge, and
each function's entry point (parse → idempotency → logic → JSON-able result)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache, wraps
from typing import TYPE_CHECKING, Any

import httpx
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parser import parse
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from autopilot.aws import clients
from autopilot.aws.alarms import AlarmGateway
from autopilot.aws.capacity import DrainWaitQueue, LifecycleHooks, TargetGroups
from autopilot.aws.config_store import ConfigStore
from autopilot.aws.ecs import CapacityGateway, EcsGateway
from autopilot.aws.idempotency import once_per_event
from autopilot.aws.notify_queue import NotificationQueue
from autopilot.aws.secrets import RouteSecrets
from autopilot.config.document import ConfigDocumentError
from autopilot.config.policies import PolicyError
from autopilot.deploy import DeployPorts, deploy_pushed_image
from autopilot.drain import DrainPorts, handle_fargate_spot, handle_interruption, handle_lifecycle, handle_wait
from autopilot.events import (
    AlarmStateChangeEvent,
    EcrImageActionEvent,
    EcsApiCallEvent,
    EcsDeploymentEvent,
    InventoryTrigger,
    LifecycleTerminateEvent,
    RollbackTrigger,
    SpotDrainTrigger,
    TaskStateChangeEvent,
    TaskWatchTrigger,
)
from autopilot.images import ImageRef
from autopilot.inventory import rebuild_index, refresh_service
from autopilot.ledger import Ledger
from autopilot.messages import Message, take_outbox, to_json
from autopilot.notify.channels import TIMEOUT_SECONDS, HttpPoster, SlackBot
from autopilot.notify.deliver import NotifyPorts, RetryLaterError, deliver
from autopilot.observability import count, logger, metrics
from autopilot.refs import ServiceRef
from autopilot.rollback import RollbackPorts, handle_alarm, handle_deployment_change
from autopilot.settings import Settings, get_settings
from autopilot.taskwatch import WatchPorts, watch_steady_state, watch_stopped_task

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient


@dataclass(frozen=True)
class Adapters:
    ecs: EcsGateway
    ledger: Ledger
    config: ConfigStore
    alarms: AlarmGateway

    @classmethod
    def current(cls) -> Adapters:
        """The adapters of this Lambda container: kept across warm invocations (the configuration document's
        cache lives in them), rebuilt when the settings or the clients change (tests, the CLI)."""
        return _adapters(get_settings(), clients.ecs(), clients.dynamodb(), clients.ssm(), clients.cloudwatch())


@lru_cache(maxsize=4)
def _adapters(
    settings: Settings, ecs: ECSClient, dynamodb: DynamoDBClient, ssm: SSMClient, cloudwatch: CloudWatchClient
) -> Adapters:
    return Adapters(
        ecs=EcsGateway(ecs),
        ledger=Ledger(dynamodb, settings.ledger_table),
        config=ConfigStore(ssm, settings.config_parameter, settings.config_max_age_seconds),
        alarms=AlarmGateway(cloudwatch),
    )


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


def deploy_ports(adapters: Adapters) -> DeployPorts:
    @cache
    def named_policies() -> Mapping[str, str]:
        try:
            return adapters.config.load().policies
        except ConfigDocumentError as error:
            raise PolicyError(str(error)) from error

    return DeployPorts(
        ecs=adapters.ecs, ledger=adapters.ledger, named_policies=named_policies, observe=get_settings().observe
    )


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


@telling
def handle_push(event: dict[str, Any], context: LambdaContext | None, *, dry_run: bool = False) -> dict[str, Any]:
    try:
        push = parse(event=event, model=EcrImageActionEvent)
    except ValidationError as error:
        return rejected(event, error)
    settings = get_settings()
    adapters = Adapters.current()

    if dry_run:
        return deploy_pushed_image(push, deploy_ports(adapters), dry_run=True).model_dump(mode="json")

    def work() -> dict[str, Any]:
        summary = deploy_pushed_image(push, deploy_ports(adapters)).summary()
        # what the push said goes on the queue before its idempotency record says "done": a failed flush fails
        # the work, the record is deleted, and Lambda's retry says it again (else the retry is a duplicate and
        # the messages are lost)
        flush_outbox()
        return summary

    return once_per_event(
        work,
        event_id=push.id,
        scope="deploy",
        client=clients.dynamodb(),
        table=settings.ledger_table,
        context=context,
    )


_inventory_trigger: TypeAdapter[EcsApiCallEvent | Any] = TypeAdapter(InventoryTrigger)


@telling
def handle_inventory(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _inventory_trigger.validate_python(event)
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


_rollback_trigger: TypeAdapter[EcsDeploymentEvent | AlarmStateChangeEvent] = TypeAdapter(RollbackTrigger)


@telling
def handle_rollback(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _rollback_trigger.validate_python(event)
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


def notify_ports(adapters: Adapters) -> NotifyPorts:
    settings = get_settings()
    dead_letters = NotificationQueue(clients.sqs(), settings.notify_dead_letter_url or "")

    def dead_letter(message: Message, route: str, reason: str) -> None:
        if settings.notify_dead_letter_url:
            dead_letters.dead_letter(to_json(message), message.group, message.message_id, route, reason)

    return NotifyPorts(
        ledger=adapters.ledger,
        secrets=_route_secrets(clients.secretsmanager()),
        http=HttpPoster(_http_client()),
        sns=clients.sns(),
        dead_letter=dead_letter,
        slack_bots=_slack_bots,
        local_endpoints=settings.local_endpoints,
    )


_slack_bots: dict[str, SlackBot] = {}


@lru_cache(maxsize=2)
def _route_secrets(client: SecretsManagerClient) -> RouteSecrets:
    return RouteSecrets(client)


@lru_cache(maxsize=1)
def _http_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


def handle_notify(event: dict[str, Any], context: LambdaContext | None) -> PartialItemFailureResponse:
    """SQS FIFO batch: each record one message. A record that fails is that record's failure only: it and the
    later records of its own thread (message group) come back, every other thread's messages are delivered. A
    body that is not a message goes to the dead-letter queue with the reason, at once."""
    adapters = Adapters.current()
    ports = notify_ports(adapters)
    settings = get_settings()

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        try:
            message = Message.model_validate_json(record.body)
        except ValidationError as error:
            reason = f"not a notification message: {len(error.errors())} problem(s), first: {error.errors()[0]['msg']}"
            if settings.notify_dead_letter_url:
                group = str(record.attributes.message_group_id or "malformed")
                NotificationQueue(clients.sqs(), settings.notify_dead_letter_url).dead_letter(
                    record.body, group, record.message_id, "-", reason
                )
            logger.error(
                "malformed notification sent to the dead-letter queue",
                extra={"message_id": record.message_id, "reason": reason},
            )
            count("Notifications", "DEAD_LETTERED")
            return {"rejected": True, "reason": reason}
        try:
            report = deliver(message, adapters.config.load(), ports)
        except RetryLaterError:
            count("Notifications", "RETRY")
            raise
        for result in report.results:
            count("Notifications", result.status)
        return report.model_dump(mode="json")

    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def _service_tags(adapters: Adapters) -> Callable[[ServiceRef], dict[str, str] | None]:
    def tags_of(ref: ServiceRef) -> dict[str, str] | None:
        snapshot = adapters.ecs.describe_services([ref]).get(ref)
        return snapshot.tags if snapshot else None

    return tags_of


def drain_ports(adapters: Adapters, region: str | None) -> DrainPorts:
    settings = get_settings()
    queue = DrainWaitQueue(clients.sqs(), settings.drain_wait_queue_url) if settings.drain_wait_queue_url else None
    return DrainPorts(
        capacity=CapacityGateway(clients.ecs(), adapters.ecs),
        hooks=LifecycleHooks(clients.autoscaling()),
        targets=TargetGroups(clients.elbv2()),
        lifecycles=adapters.ledger.lifecycles,
        wait_queue=queue,
        tags_of=_service_tags(adapters),
        region=region,
        drain_on_rebalance=settings.drain_on_rebalance,
        flush=flush_outbox,
        max_wait_seconds=settings.drain_max_wait_minutes * 60,
        check_every_seconds=settings.drain_check_seconds,
        observe=settings.observe,
    )


_spot_trigger: TypeAdapter[Any] = TypeAdapter(SpotDrainTrigger)


@telling
def handle_spot_drain(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """EventBridge events, or a batch from our own delay queue (lifecycle waits)."""
    adapters = Adapters.current()
    if "Records" in event:
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
        trigger = _spot_trigger.validate_python(event)
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


_watch_trigger: TypeAdapter[Any] = TypeAdapter(TaskWatchTrigger)


@telling
def handle_task_watch(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    try:
        trigger = _watch_trigger.validate_python(event)
    except ValidationError as error:
        return rejected(event, error)
    adapters = Adapters.current()
    ports = WatchPorts(ledger=adapters.ledger, tags_of=_service_tags(adapters), region=trigger.region)
    if isinstance(trigger, TaskStateChangeEvent):
        stopped = watch_stopped_task(trigger, ports)
        count("TaskStops", stopped.stop_class)
        return stopped.model_dump(mode="json")
    return watch_steady_state(trigger, ports).model_dump(mode="json")


def resolve_digest(ecr: ECRClient, image: ImageRef) -> str | None:
    """The digest a tag points at in this account's ECR, when the image is there."""
    try:
        found = ecr.describe_images(repositoryName=image.repository, imageIds=[{"imageTag": image.tag or ""}])
    except (ClientError, BotoCoreError):
        return None
    details = found.get("imageDetails", [])
    return str(details[0]["imageDigest"]) if details else None
