"""Pause hooks in chat: ECS paused a deployment of a managed service at a lifecycle stage (HOOK_AWAITING_ACTION)
→ one message with the deployment's state and Continue / Roll back buttons; the hook ended without a click of
ours (the console, the CLI, a pipeline, or its timeout) → the same message, updated. Deployments of anyone are
covered: the event is ECS's, whoever started the deployment."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from autopilot.aws.ecs import EcsGateway
from autopilot.chatops.work import hook_thread
from autopilot.config.service_tags import NamedPolicies, parse_service_tags
from autopilot.events import HookStateChangeEvent
from autopilot.ledger import Ledger
from autopilot.messages import Action, Message, Severity, emit
from autopilot.model import Model
from autopilot.notify.links import service_links
from autopilot.observability import logger


@dataclass(frozen=True)
class HookPorts:
    ecs: EcsGateway
    ledger: Ledger
    named_policies: NamedPolicies


class HookReport(Model):
    service: str
    hook_id: str
    event: str
    outcome: str  # TOLD, IGNORED (not managed, gone), ANSWERED (our click: its worker told it)


def on_hook(event: HookStateChangeEvent, ports: HookPorts) -> HookReport:
    detail = event.detail
    ref = event.service()
    report = HookReport(service=str(ref), hook_id=detail.hook_id, event=detail.event_name, outcome="IGNORED")
    snapshot = ports.ecs.describe_services([ref]).get(ref)
    config = parse_service_tags(snapshot.tags if snapshot else {}, ports.named_policies)
    if snapshot is None or not config.managed:
        return report  # a service without autopilot:deploy is not ours to speak for
    deployment = detail.service_deployment_arn.rsplit("/", 1)[-1]
    facts = {"stage": detail.lifecycle_stage, "deployment": deployment}
    title = f"{ref}: deployment {deployment} "
    actions: list[Action] = []
    severity = Severity.INFO
    if detail.event_name == "HOOK_AWAITING_ACTION":
        target = _target(ports.ecs, detail.service_deployment_arn)
        facts["deploying"] = target.rsplit("/", 1)[-1] if target else "-"
        facts["running"] = snapshot.task_definition.rsplit("/", 1)[-1]
        if detail.expires_at is not None:
            facts["waits until"] = detail.expires_at.isoformat(timespec="minutes")
        facts["decide"] = (
            f"aws ecs continue-service-deployment --service-deployment-arn {detail.service_deployment_arn} "
            f"--hook-id {detail.hook_id} --action CONTINUE (or ROLLBACK)"
        )
        title += f"paused at {detail.lifecycle_stage}: continue?"
        severity = Severity.WARNING
        value = f"{ref} {detail.service_deployment_arn} {detail.hook_id}"
        actions = [
            Action(label="Continue", value=f"continue {value}", style="primary"),
            Action(label="Roll back", value=f"rollback {value}", style="danger"),
        ]
    elif ports.ledger.actions.get(ref, f"hook#{detail.hook_id}") is not None:
        report.outcome = "ANSWERED"  # a click of ours: its work item tells who, with the outcome
        return report
    elif detail.event_name == "HOOK_TIMED_OUT":
        title += f"was not continued in time at {detail.lifecycle_stage}: ECS took the hook's timeout action"
        severity = Severity.WARNING
    else:
        done = "continued" if detail.event_name == "HOOK_SUCCEEDED" else "rolled back"
        title += f"{done} at {detail.lifecycle_stage} outside chat (console, CLI or pipeline)"
    emit(
        Message(
            kind="deploy.paused",
            severity=severity,
            service=str(ref),
            title=title,
            facts=facts,
            links=service_links(ref, event.region),
            actions=actions,
            thread_key=hook_thread(ref, detail.hook_id),
            routes=list(config.notify_routes),
            region=event.region,
        )
    )
    report.outcome = "TOLD"
    return report


def _target(ecs: EcsGateway, arn: str) -> str | None:
    """The revision the paused deployment deploys; the message goes out without it when ECS cannot say."""
    try:
        return ecs.deployment_target(arn)
    except (ClientError, BotoCoreError) as error:
        logger.warning("service deployment not described", extra={"arn": arn, "error": str(error)[:300]})
        return None
