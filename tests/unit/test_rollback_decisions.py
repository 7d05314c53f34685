"""Rollback decisions, Given/When/Then, against in-memory fakes of ECS and the ledger (no AWS, no moto)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from autopilot.events import AlarmStateChangeEvent, EcsDeploymentEvent
from autopilot.local.ecs.shapes import EventShapes
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION
from autopilot.messages import take_outbox
from autopilot.rollback import RollbackPorts, RollbackRetryError, handle_alarm, handle_deployment_change
from tests.conftest import EVENTS
from tests.fakes import FakeAlarms, FakeLedger, FakeServices
from tests.integration.world import T0, WEB, alarm_event

# ECS's deployment events as the emulated ECS shapes them (the same code; its output is checked against the AWS
# samples in tests/integration/test_ecs_engine.py): these decisions are tested without an engine running.
SHAPES = EventShapes(EVENTS, account=LOCAL_ACCOUNT, region=LOCAL_REGION)
SERVICE_ARN = f"arn:aws:ecs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:service/{WEB.cluster}/{WEB.name}"


def deployment_event(status: str, deployment: str, at: datetime) -> dict[str, Any]:
    reasons = {"FAILED": "ECS deployment circuit breaker: task failed to start."}
    reason = reasons.get(status, f"ECS deployment {deployment} {status.lower().replace('_', ' ')}.")
    event = SHAPES.deployment(status, SERVICE_ARN, deployment, at=at, reason=reason)
    event["id"] = f"{deployment}-{status}-{at.timestamp()}"  # the same change, the same id
    return event


SHOP = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop"


class World:
    def __init__(self) -> None:
        self.ecs = FakeServices()
        self.ledger = FakeLedger()
        self.alarms = FakeAlarms()
        self.now = T0
        self.good = self.ecs.add_task_definition("web", f"{SHOP}@sha256:{'a' * 64}")
        self.bad = self.ecs.add_task_definition("web", f"{SHOP}@sha256:{'b' * 64}")
        self.ecs.add_service(WEB, self.good, {"autopilot:deploy": "tag:latest"})
        take_outbox()

    def ports(self, owner: str = "attempt-1", **settings: Any) -> RollbackPorts:
        return RollbackPorts(
            ecs=self.ecs, ledger=self.ledger, alarms=self.alarms, clock=lambda: self.now, owner=owner, **settings
        )

    def change(self, status: str, deployment: str, minutes: int, owner: str = "attempt-1") -> str:
        event = EcsDeploymentEvent.model_validate(deployment_event(status, deployment, T0 + timedelta(minutes=minutes)))
        self.now = T0 + timedelta(minutes=minutes)
        return handle_deployment_change(event, self.ports(owner)).outcome.value

    def alarm(self, minutes: int, owner: str = "attempt-1") -> str:
        event = AlarmStateChangeEvent.model_validate(alarm_event(T0 + timedelta(minutes=minutes)))
        self.now = T0 + timedelta(minutes=minutes)
        (report,) = handle_alarm(event, self.ports(owner))
        return report.outcome.value

    def good_then_bad_in_progress(self) -> str:
        """web:1 completed and is last-known-good; web:2 is being deployed (ECS's PRIMARY deployment)."""
        self.ecs.services[WEB] = self.ecs.services[WEB].__class__(
            **{**self.ecs.services[WEB].__dict__, "deployments": ({"id": "ecs-svc/1", "taskDefinition": self.good},)}
        )
        self.change("IN_PROGRESS", "ecs-svc/1", 0)
        self.change("COMPLETED", "ecs-svc/1", 3)
        self.ecs.update_service(WEB, self.bad)
        self.ecs.updates.clear()
        (deployment,) = self.ecs.services[WEB].deployments
        self.change("IN_PROGRESS", deployment["id"], 10)
        take_outbox()
        return str(deployment["id"])

    def running(self) -> str:
        return self.ecs.services[WEB].task_definition


@pytest.fixture
def world() -> World:
    return World()


def test_a_failed_deployment_rolls_back_to_last_known_good_once(world: World) -> None:
    # Given web:1 is last-known-good and web:2 is being deployed
    deployment = world.good_then_bad_in_progress()
    # When ECS reports the deployment FAILED
    outcome = world.change("FAILED", deployment, 15)
    # Then the service goes back to web:1 in one UpdateService, web:2 is bad and its digest quarantined
    assert outcome == "ROLLED_BACK"
    assert world.ecs.updates == [(WEB, world.good)]
    state = world.ledger.services.state(WEB)
    assert world.bad in state.bad_revisions and f"sha256:{'b' * 64}" in state.quarantined
    assert [m.kind for m in take_outbox()] == ["deploy.failed", "rollback.done"]
    # And the deployment's outcome is recorded with the claim, as handled for FAILED
    record = world.ledger.deployments.ecs_deployment(WEB, deployment)
    assert record is not None and (record.outcome, record.handled) == ("ROLLED_BACK", "FAILED")


def test_an_alarm_and_a_failed_event_of_one_incident_share_one_rollback(world: World) -> None:
    # Given web:2 is being deployed and its alarm fires in the bake window, rolling it back
    deployment = world.good_then_bad_in_progress()
    assert world.alarm(12) == "ROLLED_BACK"
    # When ECS then reports the same deployment FAILED
    outcome = world.change("FAILED", deployment, 15, owner="attempt-2")
    # Then nothing is rolled back again and the hourly budget counts one rollback
    assert outcome == "IGNORED"
    assert world.ecs.updates == [(WEB, world.good)]
    assert len(world.ledger.services.state(WEB).rollbacks) == 1


def test_a_throttled_rollback_is_finished_by_the_retry_without_a_second_update(world: World) -> None:
    # Given UpdateService is throttled once (after the SDK's retries)
    deployment = world.good_then_bad_in_progress()
    world.ecs.refuse_update = ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateService")
    # When the FAILED event is handled, Then it asks for a retry and releases its claim
    with pytest.raises(RollbackRetryError):
        world.change("FAILED", deployment, 15)
    # And Lambda's retry rolls back once and records the outcome
    assert world.change("FAILED", deployment, 15, owner="attempt-2") == "ROLLED_BACK"
    assert world.ecs.updates == [(WEB, world.good)]


def test_a_failed_event_for_a_deployment_nobody_recorded_is_not_blamed_on_the_current_revision(
    world: World,
) -> None:
    # Given web:1 is last-known-good and runs
    world.good_then_bad_in_progress()
    world.ecs.update_service(WEB, world.good)
    world.ecs.updates.clear()
    # When a FAILED arrives for a deployment neither ECS nor the ledger knows
    outcome = world.change("FAILED", "ecs-svc/424242", 20)
    # Then nothing is rolled back and web:1 is not marked bad
    assert outcome == "IGNORED"
    assert world.ecs.updates == []
    assert world.good not in world.ledger.services.state(WEB).bad_revisions


def test_more_rollbacks_than_the_hourly_budget_freeze_the_service_instead(world: World) -> None:
    # Given the service was already rolled back twice this hour
    deployment = world.good_then_bad_in_progress()
    for minutes in (1, 2):
        world.ledger.services.count_rollback(WEB, int((T0 + timedelta(minutes=minutes)).timestamp()))
    # When its deployment fails again
    outcome = world.change("FAILED", deployment, 15)
    # Then it is frozen, not rolled back, and people are told it needs someone
    assert outcome == "ROLLBACK_FAILED"
    assert world.ecs.updates == []
    assert world.ledger.services.state(WEB).frozen


def test_rollback_off_records_the_failure_and_leaves_the_service_alone(world: World) -> None:
    # Given a service that opted out of automatic rollback
    deployment = world.good_then_bad_in_progress()
    world.ecs.add_service(WEB, world.bad, {"autopilot:deploy": "tag:latest", "autopilot:rollback": "off"})
    world.ecs.services[WEB] = world.ecs.services[WEB].__class__(
        **{**world.ecs.services[WEB].__dict__, "deployments": ({"id": deployment, "taskDefinition": world.bad},)}
    )
    # When its deployment fails, Then the revision is marked bad but nothing is updated
    assert world.change("FAILED", deployment, 15) == "FAILED"
    assert world.ecs.updates == []
    assert world.bad in world.ledger.services.state(WEB).bad_revisions


def test_an_alarm_outside_the_bake_window_does_nothing(world: World) -> None:
    # Given web:2 was deployed 10 minutes after T0 (bake window 30 minutes by default)
    world.good_then_bad_in_progress()
    # When its alarm fires 45 minutes later, Then it is not a rollback
    assert world.alarm(55) == "IGNORED"
    assert world.ecs.updates == []


def test_observe_mode_tells_the_rollback_it_would_make_and_changes_nothing(world: World) -> None:
    # Given web:2 is being deployed and the stack is in observe mode
    deployment = world.good_then_bad_in_progress()
    event = EcsDeploymentEvent.model_validate(deployment_event("FAILED", deployment, T0 + timedelta(minutes=15)))
    # When its deployment fails
    report = handle_deployment_change(event, world.ports(observe=True))
    # Then it says it would roll back to web:1, records that, and neither updates nor marks anything bad
    assert report.outcome.value == "OBSERVED" and "would roll back web:2 to web:1" in report.reason
    assert world.ecs.updates == []
    assert world.ledger.services.state(WEB).bad_revisions == frozenset()
    assert [m.kind for m in take_outbox()] == ["deploy.failed", "rollback.observed"]
