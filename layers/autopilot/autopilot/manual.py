"""What an operator asks for by hand, from the terminal (`autopilot rollback`, `freeze`) or from chat: one code
path for both, so a rollback from Slack is the rollback the CLI does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from autopilot.ports import Services, ServiceStates
from autopilot.refs import ServiceRef


class ManualActionError(ValueError):
    """Why the action cannot be done (one line, said to the person who asked)."""


class _ManualLedger(Protocol):
    @property
    def services(self) -> ServiceStates: ...

    @property
    def deployments(self) -> _ManualRollbacks: ...


class _ManualRollbacks(Protocol):
    def record_manual_rollback(self, ref: ServiceRef, previous: str, target: str, actor: str) -> None: ...


@dataclass(frozen=True)
class ManualRollback:
    service: str
    current: str  # family:revision the service runs
    target: str  # family:revision it goes back to ("the revision the deployment started from" when stopped)
    changed: bool
    stopped_deployment: str | None = None  # the in-flight service deployment ECS was told to roll back

    def describe(self) -> str:
        if self.stopped_deployment:
            return f"{self.service}: deployment of {self.current} stopped; ECS rolls back to {self.target}"
        return f"{self.service}: {self.current} → {self.target}"


def manual_rollback(
    ref: ServiceRef,
    revision: str | None,
    actor: str,
    *,
    ecs: Services,
    ledger: _ManualLedger,
    dry_run: bool = False,
    retried: bool = False,
) -> ManualRollback:
    """Roll `ref` back to `revision` (default: its last-known-good). While a deployment is in flight and no
    revision is named, ECS's own rollback stops it (StopServiceDeployment ROLLBACK: any strategy, blue/green
    flips traffic back); otherwise UpdateService to the target. Refuses a revision marked bad. `retried`: a
    second attempt of the same request, which finds its own rollback done (the service on the target, or ECS
    rolling back to the last-known-good) and says so instead of refusing."""
    state = ledger.services.state(ref)
    snapshot = ecs.describe_services([ref]).get(ref)
    if snapshot is None:
        raise ManualActionError(f"service {ref} not found")
    current = snapshot.task_definition.rsplit("/", 1)[-1]
    in_flight = _stoppable(ref, ecs, state.last_known_good) if revision is None else None
    if in_flight is not None:
        target = (state.last_known_good or "the revision it started from").rsplit("/", 1)[-1]
        if not dry_run:
            ecs.stop_service_deployment(in_flight)
            ledger.deployments.record_manual_rollback(
                ref, snapshot.task_definition, state.last_known_good or "", actor=actor
            )
        return ManualRollback(str(ref), current, target, changed=not dry_run, stopped_deployment=in_flight)
    target_revision = revision or state.last_known_good
    if not target_revision:
        raise ManualActionError(f"{ref} has no known good revision; name the revision to roll back to")
    described = ecs.describe_task_definition(target_revision)
    if described is None:
        raise ManualActionError(f"task definition {target_revision} not found")
    if described.arn in state.bad_revisions:
        raise ManualActionError(f"{described.family_revision} is marked bad for {ref}; refusing to roll back to it")
    if described.arn == snapshot.task_definition and retried:
        return ManualRollback(str(ref), current, described.family_revision, changed=False)
    if described.arn == snapshot.task_definition:
        raise ManualActionError(f"{ref} already runs {described.family_revision}: nothing to roll back")
    if not dry_run:
        ecs.update_service(ref, described.arn)
        ledger.deployments.record_manual_rollback(ref, snapshot.task_definition, described.arn, actor=actor)
    return ManualRollback(str(ref), current, described.family_revision, changed=not dry_run)


def _stoppable(ref: ServiceRef, ecs: Services, last_known_good: str | None) -> str | None:
    """The deployment in flight to stop, unless it deploys the known good revision (ECS's own rollback, or one
    of ours, perhaps an earlier attempt of this very request)."""
    in_flight = ecs.deployment_in_flight(ref)
    if in_flight is not None and ecs.deployment_target(in_flight) == last_known_good:
        return None
    return in_flight


def set_frozen(ref: ServiceRef, frozen: bool, *, ecs: Services, ledger: _ManualLedger) -> str:
    """Freeze (no deploys until unfrozen) or unfreeze a service that exists; what was done, in one line."""
    if ecs.describe_services([ref]).get(ref) is None:
        raise ManualActionError(f"service {ref} not found (write it CLUSTER/SERVICE)")
    ledger.services.set_frozen(ref, frozen)
    return f"{ref} is frozen: pushes do not deploy to it" if frozen else f"{ref} is unfrozen"
