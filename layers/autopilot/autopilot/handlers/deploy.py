"""DeployFunction's wiring: an ECR push → the services that take the image (once per event); a batch of the
fan-out queue's work items (a push to many services) → deployed, the failed ones handed back."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from autopilot.aws import clients
from autopilot.aws.idempotency import once_per_event
from autopilot.aws.registry import Registry
from autopilot.config.document import ConfigDocumentError
from autopilot.config.policies import PolicyError
from autopilot.deploy import DeployPorts, deploy_pushed_image
from autopilot.events import EcrImageActionEvent, ScheduledEvent
from autopilot.fanout import QueueFanOut, deploy_work_items, parse_records
from autopilot.handlers.common import Adapters, flush_outbox, rejected, telling
from autopilot.images import ImageRef
from autopilot.reconcile import ReconcilePorts, reconcile, remember_taken
from autopilot.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_ecr import ECRClient


def deploy_ports(adapters: Adapters) -> DeployPorts:
    @cache
    def named_policies() -> Mapping[str, str]:
        try:
            return adapters.config.load().policies
        except ConfigDocumentError as error:
            raise PolicyError(str(error)) from error

    settings = get_settings()
    return DeployPorts(
        ecs=adapters.ecs,
        ledger=adapters.ledger,
        named_policies=named_policies,
        observe=settings.observe,
        approval_hours=settings.approval_hours,
        fan_out=fan_out(adapters),
    )


def fan_out(adapters: Adapters) -> QueueFanOut | None:
    settings = get_settings()
    if not settings.fanout_queue_url:
        return None
    return QueueFanOut(
        clients.sqs(), settings.fanout_queue_url, adapters.ledger.fanouts, time.time, settings.fanout_inline_limit
    )


@telling
def handle_push(event: dict[str, Any], context: LambdaContext | None, *, dry_run: bool = False) -> dict[str, Any]:
    if "Records" in event:
        return handle_work_items(event)
    if event.get("detail-type") == "Scheduled Event":
        return handle_reconcile(event)
    try:
        push = EcrImageActionEvent.model_validate(event)
    except ValidationError as error:
        return rejected(event, error)
    settings = get_settings()
    adapters = Adapters.current()

    if dry_run:
        return deploy_pushed_image(push, deploy_ports(adapters), dry_run=True).model_dump(mode="json")

    def work() -> dict[str, Any]:
        report = deploy_pushed_image(push, deploy_ports(adapters))
        remember_taken(push, report, adapters.ledger.pushes, datetime.now(UTC))
        summary = report.summary()
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


def handle_reconcile(event: dict[str, Any]) -> dict[str, Any]:
    """The schedule: deploy the pushes ECR has and DeployFunction never took; tell drift (`autopilot.reconcile`)."""
    try:
        ScheduledEvent.model_validate(event)
    except ValidationError as error:
        return rejected(event, error)
    adapters = Adapters.current()
    ecr = clients.ecr()
    ports = ReconcilePorts(
        deploy=deploy_ports(adapters),
        images=Registry(ecr),
        pushes=adapters.ledger.pushes,
        index=adapters.ledger.index,
        manual=adapters.ledger.deployments,
        region=ecr.meta.region_name,
        flush=flush_outbox,
    )
    return reconcile(ports).model_dump(mode="json")


def handle_work_items(event: dict[str, Any]) -> dict[str, Any]:
    """A batch of the fan-out queue (Lambda's SQS event source, ReportBatchItemFailures)."""
    adapters = Adapters.current()
    queue = fan_out(adapters)
    failed = deploy_work_items(
        parse_records(event.get("Records", [])),
        deploy_ports(adapters),
        adapters.ledger.fanouts,
        flush_outbox,
        back_off=queue.back_off if queue else lambda _: None,
    )
    return {"batchItemFailures": [{"itemIdentifier": one.record_id} for one in failed]}


def resolve_digest(ecr: ECRClient, image: ImageRef) -> str | None:
    """The digest a tag points at in this account's ECR, when the image is there."""
    try:
        found = ecr.describe_images(repositoryName=image.repository, imageIds=[{"imageTag": image.tag or ""}])
    except (ClientError, BotoCoreError):
        return None
    details = found.get("imageDetails", [])
    return str(details[0]["imageDigest"]) if details else None
