"""Hands-off rollback: deployment tracking, last-known-good, alarm-driven rollback, quarantine, loop guard.

Every ECS deployment of a managed service is recorded by deployment id. COMPLETED makes its task definition
the service's last-known-good. FAILED (unless ECS's circuit breaker is already rolling back) or a watched alarm
going to ALARM within the bake window rolls the service back to last-known-good, marks the bad revision and
quarantines its image digests. Never to a revision marked bad; at most N automatic rollbacks an hour.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from autopilot.aws.ecs import ServiceSnapshot
from autopilot.aws.errors import describe_error, is_retryable
from autopilot.config.service_tags import ServiceConfig, parse_service_tags
from autopilot.events import AlarmStateChangeEvent, EcsDeploymentEvent
from autopilot.ledger import ClaimState, DeploymentChange, RecordedAs, RollbackClaimRow, ServiceState
from autopilot.ledger.records import parse_time
from autopilot.messages import Message, Severity, emit
from autopilot.model import Model
from autopilot.notify.links import service_links
from autopilot.observability import logger
from autopilot.ports import Alarms, RollbackLedger, Services
from autopilot.refs import ServiceRef
from autopilot.taskdef import container_images

CIRCUIT_BREAKER_ROLLBACK = "ECS deployment circuit breaker: rolling back"
HOUR = timedelta(hours=1)
LEASE_SECONDS = 90  # longer than one invocation (timeout 60 s), shorter than Lambda's first retry


class Outcome(StrEnum):
    RECORDED = "RECORDED"
    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"
    ROLLBACK_FAILED = "ROLLBACK_FAILED"
    FAILED = "FAILED"
    IGNORED = "IGNORED"
    OBSERVED = "OBSERVED"  # observe mode: decided, recorded and told; nothing changed


class RollbackReport(Model):
    trigger: str
    service: str | None = None
    deployment_id: str | None = None
    outcome: Outcome
    reason: str
    task_definition: str | None = None
    rolled_back_to: str | None = None
    status: str | None = Field(default=None, exclude=True)  # the ECS status change being handled, if any


@dataclass(frozen=True)
class RollbackPorts:
    ecs: Services
    ledger: RollbackLedger
    alarms: Alarms
    max_rollbacks_per_hour: int = 2
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    region: str | None = None
    flush: Callable[[], object] = lambda: None  # puts what was told on the queue before an outcome is recorded
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    lease_seconds: int = LEASE_SECONDS
    observe: bool = False  # the stack's Mode=observe (a service's autopilot:mode=observe does the same)


class RollbackRetryError(RuntimeError):
    """UpdateService hit an error a retry may fix, or another invocation holds the incident's claim; raised so
    Lambda retries the event (or the failed-events queue keeps it for a redrive)."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- deployment state changes ------------------------------------------------------------------------
def handle_deployment_change(event: EcsDeploymentEvent, ports: RollbackPorts) -> RollbackReport:
    trigger = f"deployment {event.detail.deployment_id} {event.status}"
    ref = event.service() or _find_by_name(event.service_name, ports.ledger)
    if ref is None:
        return _ignored(trigger, None, f"cannot tell the cluster of {event.service_arn}")
    managed = _managed(trigger, ref, ports)
    if isinstance(managed, RollbackReport):
        return managed
    snapshot, config = managed
    task_definition, created_at = _deployment_task_definition(event, snapshot, ports)
    if task_definition is None:
        return _unattributed(trigger, ref, event, config, ports)
    change = DeploymentChange(
        service=ref,
        deployment_id=event.detail.deployment_id,
        status=event.status,
        task_definition=task_definition,
        updated_at=_iso(event.detail.updated_at),
        event_time=_iso(event.time),
        reason=event.detail.reason,
        created_at=created_at,
    )
    recorded = ports.ledger.deployments.record_ecs_change(change)
    if recorded.status == RecordedAs.STALE:
        return _ignored(trigger, ref, "stale event: a newer state of this deployment is already recorded")
    if recorded.status == RecordedAs.SAME and recorded.row is not None and recorded.row.handled == event.status:
        return _ignored(trigger, ref, "duplicate event: this state change is recorded and handled")
    if recorded.row is not None and recorded.row.task_definition:
        task_definition = recorded.row.task_definition
        change = change.model_copy(update={"task_definition": task_definition})
    state = ports.ledger.services.state(ref)
    report = RollbackReport(
        trigger=trigger,
        service=ref.key,
        deployment_id=change.deployment_id,
        task_definition=task_definition,
        outcome=Outcome.RECORDED,
        reason=event.detail.reason,
        status=event.status,
    )
    if event.status == "COMPLETED":
        return _completed(report, ref, change, state, config, ports)
    if event.status == "FAILED":
        return _failed(report, ref, snapshot, config, state, ports)
    _started(report, ref, change, config, ports)
    return report


def _unattributed(
    trigger: str, ref: ServiceRef, event: EcsDeploymentEvent, config: ServiceConfig, ports: RollbackPorts
) -> RollbackReport:
    """A deployment neither ECS nor the ledger can tie to a task definition: guessing "the current one" could
    mark the last-known-good revision bad, so nothing is changed and people are told."""
    reason = f"cannot tell which task definition deployment {event.detail.deployment_id} ran: not acted on"
    if event.status == "FAILED":
        _tell(
            ports,
            ref,
            config,
            "rollback.failed",
            Severity.ERROR,
            f"{ref}: deployment {event.detail.deployment_id} failed; {reason}",
            {"reason": event.detail.reason or "deployment failed"},
            event.detail.deployment_id,
        )
    return _ignored(trigger, ref, reason)


def _started(
    report: RollbackReport, ref: ServiceRef, change: DeploymentChange, config: ServiceConfig, ports: RollbackPorts
) -> None:
    if change.reason.startswith(CIRCUIT_BREAKER_ROLLBACK):
        _tell(
            ports,
            ref,
            config,
            "deploy.rolling_back",
            Severity.WARNING,
            f"{ref}: ECS circuit breaker is rolling back",
            {"reason": change.reason},
            change.deployment_id,
        )
        ports.flush()
        ports.ledger.deployments.set_outcome(ref, change.deployment_id, "STARTED", "told", change.status)
        return
    ours = next(
        (
            row
            for row in ports.ledger.deployments.ours(ref, limit=10)
            if row.new_task_definition == change.task_definition
        ),
        None,
    )
    what = f"{ours.repository.partition('/')[2]}:{ours.tag}" if ours else _revision(change.task_definition)
    facts = {"task definition": _revision(change.task_definition), "deployment": change.deployment_id}
    if ours:
        facts |= {"image": ours.image, "from": _revision(ours.previous_task_definition)}
    _tell(ports, ref, config, "deploy.started", Severity.INFO, f"{ref}: deploying {what}", facts, change.deployment_id)
    ports.flush()
    ports.ledger.deployments.set_outcome(ref, change.deployment_id, "STARTED", "told", change.status)


def _tell(
    ports: RollbackPorts,
    ref: ServiceRef,
    config: ServiceConfig,
    kind: str,
    severity: Severity,
    title: str,
    facts: dict[str, str],
    deployment_id: str | None,
) -> None:
    """One message per step; a deployment's messages share its thread, an incident without one the service's."""
    emit(
        Message(
            kind=kind,
            severity=severity,
            service=ref.key,
            title=title,
            facts=facts,
            links=service_links(ref, ports.region),
            routes=list(config.notify_routes),
            region=ports.region,
            thread_key=f"{ref}#{deployment_id}" if deployment_id else f"{ref}#incident",
        )
    )


def _find_by_name(name: str, ledger: RollbackLedger) -> ServiceRef | None:
    """An old-format service ARN names no cluster: find the one indexed service of that name."""
    matches = [ref for ref in ledger.index.indexed_services() if ref.name == name]
    return matches[0] if len(matches) == 1 else None


def _deployment_task_definition(
    event: EcsDeploymentEvent, snapshot: ServiceSnapshot, ports: RollbackPorts
) -> tuple[str | None, str | None]:
    """The deployment's own task definition: from DescribeServices' deployments, else as first recorded. Only a
    new IN_PROGRESS or COMPLETED deployment may be taken to be the service's primary one; a FAILED one never
    is (the service may already be back on last-known-good)."""
    for deployment in snapshot.deployments:
        if deployment.get("id") == event.detail.deployment_id and deployment.get("taskDefinition"):
            created = deployment.get("createdAt")
            return str(deployment["taskDefinition"]), _iso(created) if isinstance(created, datetime) else None
    recorded = ports.ledger.deployments.ecs_deployment(snapshot.ref, event.detail.deployment_id)
    if recorded and recorded.task_definition:
        return recorded.task_definition, recorded.created_at
    if event.status == "FAILED":
        return None, None
    return snapshot.task_definition, None


def _completed(
    report: RollbackReport,
    ref: ServiceRef,
    change: DeploymentChange,
    state: ServiceState,
    config: ServiceConfig,
    ports: RollbackPorts,
) -> RollbackReport:
    task_definition = change.task_definition
    if task_definition in state.bad_revisions:
        ports.ledger.deployments.set_outcome(
            ref, change.deployment_id, Outcome.RECORDED, "completed, revision marked bad", "COMPLETED"
        )
        report.outcome, report.reason = Outcome.RECORDED, "completed, but the revision is marked bad"
        return report
    ports.ledger.deployments.set_deploy_status(ref, task_definition, Outcome.SUCCEEDED, change.updated_at)
    if not ports.ledger.services.set_last_known_good(ref, task_definition, change.order_key):
        ports.ledger.deployments.set_outcome(ref, change.deployment_id, Outcome.SUCCEEDED, "completed", "COMPLETED")
        report.outcome, report.reason = Outcome.SUCCEEDED, "completed; a later deployment is already last-known-good"
        return report
    report.outcome, report.reason = Outcome.SUCCEEDED, f"completed; {_revision(task_definition)} is last-known-good"
    _tell(
        ports,
        ref,
        config,
        "deploy.completed",
        Severity.SUCCESS,
        f"{ref}: deployment {_revision(task_definition)} completed",
        {"task definition": _revision(task_definition), "deployment": change.deployment_id},
        change.deployment_id,
    )
    ports.flush()
    ports.ledger.deployments.set_outcome(ref, change.deployment_id, Outcome.SUCCEEDED, "completed", "COMPLETED")
    return report


def _failed(
    report: RollbackReport,
    ref: ServiceRef,
    snapshot: ServiceSnapshot,
    config: ServiceConfig,
    state: ServiceState,
    ports: RollbackPorts,
) -> RollbackReport:
    bad = report.task_definition or ""
    digests = _digests(bad, state, ports.ecs)
    if _rolled_back_already(ref, bad, snapshot, state, ports):
        # an alarm rolled it back while ECS was deploying it: this FAILED is how that deployment ended
        return roll_back(report, ref, snapshot, config, state, ports, bad=bad, digests=digests)
    if _ecs_is_rolling_back(ref, snapshot, ports.ledger) or _ecs_rolled_back(ref, bad, ports):
        ports.ledger.services.mark_bad(ref, bad, digests)
        detail = "rolled back by the ECS deployment circuit breaker"
        ports.ledger.deployments.set_deploy_status(ref, bad, Outcome.ROLLED_BACK, _iso(ports.clock()))
        report.outcome, report.reason = Outcome.ROLLED_BACK, f"{detail}; digests quarantined"
        _tell(
            ports,
            ref,
            config,
            "rollback.done",
            Severity.WARNING,
            f"{ref}: {_revision(bad)} failed, ECS rolled it back",
            {"quarantined": ", ".join(sorted(digests)) or "-"},
            report.deployment_id,
        )
        ports.flush()
        ports.ledger.deployments.set_outcome(ref, report.deployment_id or "", Outcome.ROLLED_BACK, detail, "FAILED")
        return report
    _tell(
        ports,
        ref,
        config,
        "deploy.failed",
        Severity.ERROR,
        f"{ref}: deployment {_revision(bad)} failed",
        {"reason": report.reason or "deployment failed", "deployment": report.deployment_id or ""},
        report.deployment_id,
    )
    return roll_back(report, ref, snapshot, config, state, ports, bad=bad, digests=digests)


def _rolled_back_already(
    ref: ServiceRef, bad: str, snapshot: ServiceSnapshot, state: ServiceState, ports: RollbackPorts
) -> bool:
    """Our rollback of `bad` is done (marked bad, the service off it, no claim left unfinished). A claim still
    open means an attempt failed midway: its retry goes the whole way again, telling included."""
    if bad not in state.bad_revisions or snapshot.task_definition == bad:
        return False
    return not any(claim.bad == bad for claim in ports.ledger.rollbacks.unfinished(ref))


def _ecs_is_rolling_back(ref: ServiceRef, snapshot: ServiceSnapshot, ledger: RollbackLedger) -> bool:
    """An IN_PROGRESS whose reason begins "ECS deployment circuit breaker: rolling back", seen in the service's
    deployments or in the ledger."""
    if any(str(d.get("rolloutStateReason", "")).startswith(CIRCUIT_BREAKER_ROLLBACK) for d in snapshot.deployments):
        return True
    return any(
        row.kind == "ecs-deployment"
        and any((step.reason or "").startswith(CIRCUIT_BREAKER_ROLLBACK) for step in row.steps)
        for row in ledger.deployments.history(ref, limit=20)
    )


def _ecs_rolled_back(ref: ServiceRef, bad: str, ports: RollbackPorts) -> bool:
    """The service-deployments API says ECS rolled `bad` back (blue/green and its kin flip traffic back without
    a circuit-breaker reason to read). When the API is refused (not allowed, not in this partition), unknown."""
    try:
        return ports.ecs.rolling_back(ref, bad)
    except ClientError as error:
        if is_retryable(error):
            raise
        logger.warning("service-deployments API refused", extra={"service": str(ref), "error": describe_error(error)})
        return False


def _digests(task_definition: str, state: ServiceState, ecs: Services) -> set[str]:
    """Image digests of a revision: pinned in its images, or remembered from our deployment of it."""
    found = {image.digest for image in state.images.values() if image.task_definition == task_definition}
    described = ecs.describe_task_definition(task_definition)
    if described is not None:
        for container in container_images(described.body):
            ref = container.ref
            if ref is not None and ref.digest:
                found.add(ref.digest)
    return found


# -- alarms --------------------------------------------------------------------------------------------
def handle_alarm(event: AlarmStateChangeEvent, ports: RollbackPorts) -> list[RollbackReport]:
    name = event.detail.alarm_name
    trigger = f"alarm {name}"
    if not event.went_into_alarm:
        previous = event.detail.previous_state.value if event.detail.previous_state else "?"
        return [_ignored(trigger, None, f"{previous} → {event.detail.state.value} is not a transition into ALARM")]
    services = list(event.dimension_services())
    if event.alarm_arn:
        services += [ref for ref in ports.alarms.tagged_services(event.alarm_arn) if ref not in services]
    if not services:
        return [_ignored(trigger, None, "the alarm names no service (tag autopilot:service or ECS dimensions)")]
    fired_at = event.detail.state.timestamp or event.time
    return [_alarm_for_service(trigger, ref, fired_at, ports) for ref in services]


def _managed(
    trigger: str, ref: ServiceRef, ports: RollbackPorts
) -> tuple[ServiceSnapshot, ServiceConfig] | RollbackReport:
    """The service and its tags, or why there is nothing to do for it."""
    snapshot = ports.ecs.describe_services([ref]).get(ref)
    if snapshot is None:
        return _ignored(trigger, ref, "service does not exist")
    config = parse_service_tags(snapshot.tags)
    if not config.managed:
        return _ignored(trigger, ref, "service is not managed (no autopilot:deploy tag)")
    return snapshot, config


def _alarm_for_service(trigger: str, ref: ServiceRef, fired_at: datetime, ports: RollbackPorts) -> RollbackReport:
    managed = _managed(trigger, ref, ports)
    if isinstance(managed, RollbackReport):
        return managed
    snapshot, config = managed
    state = ports.ledger.services.state(ref)
    current = snapshot.task_definition
    if current == state.last_known_good:
        unfinished = ports.ledger.rollbacks.unfinished(ref)
        if unfinished:  # an earlier attempt rolled back and failed before recording it: finish that
            claimed = unfinished[0]
            bad = claimed.bad
            report = RollbackReport(
                trigger=claimed.trigger or trigger,
                service=ref.key,
                deployment_id=claimed.deployment_id,
                task_definition=bad,
                outcome=Outcome.RECORDED,
                reason=claimed.reason or "alarm within the bake window",
            )
            digests = _digests(bad, state, ports.ecs)
            return roll_back(report, ref, snapshot, config, state, ports, bad=bad, digests=digests)
        return _ignored(trigger, ref, f"{_revision(current)} is the last-known-good revision")
    started, deployment_id = _deployment_started(ref, snapshot, ports.ledger)
    if started is None:
        return _ignored(trigger, ref, f"no record of when {_revision(current)} was deployed")
    if fired_at < started:
        return _ignored(trigger, ref, "the alarm was already in ALARM when the deployment started")
    bake = timedelta(minutes=config.bake_minutes)
    if fired_at - started > bake:
        return _ignored(trigger, ref, f"outside the bake window ({config.bake_minutes} min after the deployment)")
    report = RollbackReport(
        trigger=trigger,
        service=ref.key,
        deployment_id=deployment_id,
        task_definition=current,
        outcome=Outcome.RECORDED,
        reason="alarm within the bake window",
    )
    return roll_back(
        report,
        ref,
        snapshot,
        config,
        state,
        ports,
        bad=current,
        digests=_digests(current, state, ports.ecs),
    )


def _deployment_started(
    ref: ServiceRef, snapshot: ServiceSnapshot, ledger: RollbackLedger
) -> tuple[datetime | None, str | None]:
    """When the current revision was deployed, and the ECS deployment id when one was recorded."""
    current = snapshot.task_definition
    history = [row for row in ledger.deployments.history(ref, limit=50) if row.revision == current]
    starts = [parse_time(row.created_at or row.started_at) for row in history]
    deployment_id = next((row.deployment_id for row in history if row.deployment_id), None)
    for deployment in snapshot.deployments:
        if deployment.get("taskDefinition") != current:
            continue
        deployment_id = deployment_id or deployment.get("id")  # before ECS's first event of it arrived
        created = deployment.get("createdAt")
        if isinstance(created, datetime):
            starts.append(created)
    known = [moment for moment in starts if moment is not None]
    return (max(known) if known else None), deployment_id


# -- rolling back ------------------------------------------------------------------------------------
def roll_back(
    report: RollbackReport,
    ref: ServiceRef,
    snapshot: ServiceSnapshot,
    config: ServiceConfig,
    state: ServiceState,
    ports: RollbackPorts,
    *,
    bad: str,
    digests: set[str],
) -> RollbackReport:
    """One rollback per bad revision, whoever asks (a FAILED event, an alarm, their redeliveries and retries):
    a lease on `ROLLBACK#<bad revision>` is taken, released if anything fails, and marked DONE with the outcome
    only after the service is back on last-known-good and people were told."""
    if ports.observe or config.observe:
        return _observed(report, ref, config, ports, bad=bad, target=state.last_known_good)
    ports.ledger.services.mark_bad(ref, bad, digests)
    facts = {"bad revision": _revision(bad), "quarantined": ", ".join(sorted(digests)) or "-"}
    target = state.last_known_good
    if not config.rollback:
        reason = "autopilot:rollback=off: recorded, not rolled back"
        return _finish(report, ref, ports, config, Outcome.FAILED, reason, facts=facts, severity=Severity.ERROR)
    if target is None or target in state.bad_revisions or target == bad:
        reason = "no known good revision"
        return _finish(
            report, ref, ports, config, Outcome.ROLLBACK_FAILED, reason, facts=facts, severity=Severity.CRITICAL
        )
    now = int(ports.clock().timestamp())
    claim = ports.ledger.rollbacks.acquire(
        ref,
        bad,
        ports.owner,
        now,
        ports.lease_seconds,
        target=target,
        trigger=report.trigger,
        reason=report.reason,
        deployment_id=report.deployment_id,
    )
    if claim.state == ClaimState.DONE:
        return _already_handled(report, ref, claim.row, ports)
    if claim.state == ClaimState.BUSY:
        raise RollbackRetryError(f"{ref}: another invocation is rolling back {_revision(bad)}; retry later")
    target = claim.row.target or target  # a resumed claim keeps the decision it was made with
    try:
        return _roll_back_claimed(report, ref, snapshot, config, state, ports, bad=bad, target=target, facts=facts)
    except BaseException:
        ports.ledger.rollbacks.release(ref, bad, ports.owner)
        raise


def _roll_back_claimed(
    report: RollbackReport,
    ref: ServiceRef,
    snapshot: ServiceSnapshot,
    config: ServiceConfig,
    state: ServiceState,
    ports: RollbackPorts,
    *,
    bad: str,
    target: str,
    facts: dict[str, str],
) -> RollbackReport:
    now = ports.clock()
    claim = _Claim(bad)
    if state.rollbacks_since(int((now - HOUR).timestamp())) >= ports.max_rollbacks_per_hour:
        ports.ledger.services.set_frozen(ref, True)
        reason = (
            f"{ports.max_rollbacks_per_hour} automatic rollbacks within an hour already: service frozen, "
            "no rollback and no deploys until someone unfreezes it"
        )
        return _finish(
            report,
            ref,
            ports,
            config,
            Outcome.ROLLBACK_FAILED,
            reason,
            facts=facts,
            severity=Severity.CRITICAL,
            claim=claim,
        )
    how = None
    if snapshot.task_definition == target:  # read first: an earlier attempt rolled back already
        if report.status is None:  # an alarm, the one trigger that may have stopped a deployment: how, it recorded
            how = _stopped_before(ref, report.deployment_id, ports)
    else:
        try:
            how = _undo(ref, snapshot, ports, bad=bad, target=target)
        except (ClientError, BotoCoreError) as error:
            if is_retryable(error):
                raise RollbackRetryError(f"{ref}: {describe_error(error)}") from error
            return _finish(
                report,
                ref,
                ports,
                config,
                Outcome.ROLLBACK_FAILED,
                describe_error(error),
                facts=facts,
                severity=Severity.CRITICAL,
                claim=claim,
            )
    report.rolled_back_to = target
    claim.counted_at = int(now.timestamp())
    return _finish(
        report,
        ref,
        ports,
        config,
        Outcome.ROLLED_BACK,
        f"rolled back to {_revision(target)} ({report.reason})",
        facts={**facts, "rolled back to": _revision(target), **({"how": how} if how else {})},
        severity=Severity.WARNING,
        claim=claim,
    )


def _undo(ref: ServiceRef, snapshot: ServiceSnapshot, ports: RollbackPorts, *, bad: str, target: str) -> str | None:
    """Back to `target`. While ECS is deploying `bad` from `target` (anyone's deployment, any strategy), ECS's own
    rollback: StopServiceDeployment(ROLLBACK), a traffic flip for blue/green, linear and canary before clean-up,
    a deployment of the source revision for rolling. Otherwise (the deployment is over, or ECS is deploying
    something else) UpdateService to `target`, as a person would. Says how, when it was not UpdateService."""
    primary = _deploying(snapshot, bad=bad, source=target)
    if primary is not None:
        try:
            arn = ports.ecs.deployment_in_flight(ref)
            if arn is not None:
                # what it deploys, remembered first (a fact, true before the stop): a retry after a failure past
                # the stop finds the service on `target` already and comes nowhere near here again
                _remember(ref, primary, bad, ports)
                ports.ecs.stop_service_deployment(arn)
                return STOPPED
        except ClientError as error:
            if is_retryable(error):
                raise
            # refused: it finished between our read and the call, or the role may not use the API
            logger.warning(
                "StopServiceDeployment refused; rolling back with UpdateService",
                extra={"service": str(ref), "error": describe_error(error)},
            )
    ports.ecs.update_service(ref, target)
    return None


def _deploying(snapshot: ServiceSnapshot, *, bad: str, source: str) -> dict[str, Any] | None:
    """The PRIMARY deployment when DescribeServices says ECS is rolling `bad` out now (IN_PROGRESS) and `source`
    is still there (an ACTIVE deployment): what StopServiceDeployment(ROLLBACK) returns to is `source`."""
    primary = next((d for d in snapshot.deployments if d.get("status") == "PRIMARY"), None)
    if primary is None or primary.get("taskDefinition") != bad or primary.get("rolloutState") != "IN_PROGRESS":
        return None
    if not any(d.get("status") == "ACTIVE" and d.get("taskDefinition") == source for d in snapshot.deployments):
        return None
    return primary


STOPPED = "ECS rolled back its in-flight deployment (StopServiceDeployment)"
_REMEMBERED = "rolled back by StopServiceDeployment"


def _stopped_before(ref: ServiceRef, deployment_id: str | None, ports: RollbackPorts) -> str | None:
    """STOPPED when an earlier attempt of this rollback stopped the deployment (its record says so): the retry
    tells the same message."""
    row = ports.ledger.deployments.ecs_deployment(ref, deployment_id) if deployment_id else None
    return STOPPED if row is not None and any(step.reason == _REMEMBERED for step in row.history) else None


def _remember(ref: ServiceRef, primary: dict[str, Any], bad: str, ports: RollbackPorts) -> None:
    """Which revision the stopped deployment ran, in the ledger: once ECS has flipped back, DescribeServices no
    longer lists it, and its late events (an IN_PROGRESS delivered after the rollback, the FAILED that ends it)
    must not be taken for the revision the service runs now."""
    now = ports.clock()
    created = primary.get("createdAt")  # a datetime, as boto3 parses it
    stamp = _iso(created if created is not None else now)
    ports.ledger.deployments.record_ecs_change(
        DeploymentChange(
            service=ref,
            deployment_id=str(primary.get("id", "")),
            status="IN_PROGRESS",
            task_definition=bad,
            # its creation time, not its last update: a retry (ECS moved on meanwhile) records the very same change
            updated_at=stamp,
            event_time=stamp,
            reason=_REMEMBERED,
            created_at=stamp if created is not None else None,
        )
    )


def _observed(
    report: RollbackReport,
    ref: ServiceRef,
    config: ServiceConfig,
    ports: RollbackPorts,
    *,
    bad: str,
    target: str | None,
) -> RollbackReport:
    """Observe mode: what would happen is recorded and told; no revision marked bad, no service updated."""
    if target is None or target == bad:
        what = f"would fail to roll back {_revision(bad)}: no known good revision"
    elif not config.rollback:
        what = f"would leave {_revision(bad)} in place (autopilot:rollback=off)"
    else:
        what = f"would roll back {_revision(bad)} to {_revision(target)}"
    at = _iso(ports.clock())
    ports.ledger.deployments.record_observation(
        ref, at, report.deployment_id or report.trigger, f"{what} ({report.reason})"
    )
    _tell(
        ports,
        ref,
        config,
        "rollback.observed",
        Severity.WARNING,
        f"{ref}: {what} (observe mode: nothing changed)",
        {"trigger": report.trigger, "reason": report.reason or "-"},
        report.deployment_id,
    )
    ports.flush()
    if report.deployment_id:
        ports.ledger.deployments.set_outcome(ref, report.deployment_id, Outcome.OBSERVED, what, report.status)
    report.outcome, report.reason = Outcome.OBSERVED, f"{what}: observe mode, nothing changed"
    return report


def _already_handled(
    report: RollbackReport, ref: ServiceRef, done: RollbackClaimRow, ports: RollbackPorts
) -> RollbackReport:
    """The incident's rollback is DONE (its outcome was recorded with it). Another trigger of the same incident
    records on its own deployment that it was handled; nothing else changes."""
    outcome, reason, by = done.outcome or "", done.outcome_reason or "", str(done.trigger)
    if by != report.trigger and report.deployment_id:
        ports.ledger.deployments.set_outcome(
            ref, report.deployment_id, outcome, f"handled with {by}: {reason}", report.status
        )
    report.outcome, report.reason = Outcome.IGNORED, f"already handled: one rollback per bad revision ({by}: {outcome})"
    return report


@dataclass
class _Claim:
    bad: str
    counted_at: int | None = None


def _finish(
    report: RollbackReport,
    ref: ServiceRef,
    ports: RollbackPorts,
    config: ServiceConfig,
    outcome: Outcome,
    reason: str,
    *,
    facts: dict[str, str],
    severity: Severity,
    claim: _Claim | None = None,
) -> RollbackReport:
    """Say it once (flushed to the queue first), then record the outcome: on the deployment, and DONE on the
    incident's claim. A failure before the record leaves the work to the retry, which repeats no side effect."""
    if report.task_definition:
        ports.ledger.deployments.set_deploy_status(ref, report.task_definition, outcome, _iso(ports.clock()))
    report.outcome, report.reason = outcome, reason
    kind = {Outcome.ROLLED_BACK: "rollback.done", Outcome.FAILED: "rollback.off"}.get(outcome, "rollback.failed")
    _tell(
        ports,
        ref,
        config,
        kind,
        severity,
        f"{ref}: {reason}",
        {"trigger": report.trigger, **facts},
        report.deployment_id,
    )
    if severity == Severity.CRITICAL:
        logger.error("escalation", extra={"service": ref.key, "reason": reason})
    ports.flush()
    deployment = (report.deployment_id, outcome.value, reason, report.status) if report.deployment_id else None
    if claim is None:
        if deployment:
            ports.ledger.deployments.set_outcome(ref, *deployment)
        return report
    ports.ledger.rollbacks.finish(
        ref,
        claim.bad,
        ports.owner,
        counted_at=claim.counted_at,
        deployment=deployment,
        outcome=outcome.value,
        outcome_reason=reason,
        trigger=report.trigger,
    )
    return report


def _ignored(trigger: str, ref: ServiceRef | None, reason: str) -> RollbackReport:
    logger.info("nothing to do", extra={"trigger": trigger, "service": ref.key if ref else None, "reason": reason})
    return RollbackReport(trigger=trigger, service=ref.key if ref else None, outcome=Outcome.IGNORED, reason=reason)


def _revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]
