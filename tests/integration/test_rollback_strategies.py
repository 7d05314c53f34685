"""Rollback by deployment strategy, on the emulated ECS: strategy by in flight or over by who rolls back.

- in flight, we roll back (an alarm within the bake window while ECS is still deploying): ECS's own rollback,
  StopServiceDeployment(ROLLBACK); never UpdateService;
- over, we roll back (the circuit breaker failed the deployment, ECS's rollback off): UpdateService to the
  last-known-good revision;
- ECS rolls back (circuit breaker with rollback on): recorded, nothing called.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest

from autopilot.aws import clients
from tests.faults import queued_messages
from tests.integration.test_rollback_handler import BAD, Story, ledger
from tests.integration.world import WEB, World, alarm_event

BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
STRATEGIES: dict[str, dict[str, Any]] = {
    "ROLLING": {},
    "BLUE_GREEN": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10},
    "LINEAR": {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 10,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1},
    },
    "CANARY": {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 10,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
    },
}


class Calls:
    """ECS calls that change a deployment, counted as the functions make them."""

    def __init__(self) -> None:
        self.update_service = 0
        self.stop_service_deployment = 0
        events = clients.ecs().meta.events
        events.register("before-call.ecs.UpdateService", self._update)
        events.register("before-call.ecs.StopServiceDeployment", self._stop)

    def _update(self, **kwargs: Any) -> None:
        self.update_service += 1

    def _stop(self, **kwargs: Any) -> None:
        self.stop_service_deployment += 1

    def clear(self) -> None:
        self.update_service = self.stop_service_deployment = 0


def story_for(aws: Any, project: Any, events: Any, configuration: dict[str, Any]) -> tuple[Story, Calls]:
    story = Story(World(project, events), breaker=configuration)
    story.first_deployment_completes()
    return story, Calls()


def newest_service_deployment(story: Story) -> dict[str, Any]:
    [brief, *_] = story.world.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    [full] = story.world.ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    return dict(full)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_in_flight_an_alarm_rolls_back_with_ecs_own_rollback(aws, project, events, strategy: str) -> None:
    story, calls = story_for(aws, project, events, {**BREAKER, **STRATEGIES[strategy]})
    story.push()
    calls.clear()
    assert newest_service_deployment(story)["status"] in ("PENDING", "IN_PROGRESS")
    # the deploy was recorded on the wall clock, ECS's createdAt is on the simulated one: after both
    started = max(datetime.fromisoformat(str(ledger().deployments.ours(WEB)[0].started_at)), story.engine.now)

    result = story.rollback(alarm_event(started + timedelta(minutes=1)))

    assert result["outcome"] == "ROLLED_BACK"
    assert result["rolled_back_to"].endswith("web:1")
    assert (calls.stop_service_deployment, calls.update_service) == (1, 0)
    story.run()
    assert story.revision() == "web:1"
    stopped = story.world.ecs.list_service_deployments(cluster="prod", service="web", status=["ROLLBACK_SUCCESSFUL"])
    assert len(stopped["serviceDeployments"]) == 1
    assert calls.update_service == 0  # what ECS sent about its own rollback made nobody deploy again
    kinds = [
        kind for kind, _ in queued_messages(os.environ["NOTIFY_QUEUE_URL"]) if kind.startswith(("deploy", "rollback"))
    ]
    assert kinds.count("rollback.done") == 1  # one message for the incident: ECS's late events add none
    assert not [kind for kind in kinds if kind.endswith("failed")]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_over_a_failed_deployment_is_rolled_back_with_update_service(aws, project, events, strategy: str) -> None:
    story, calls = story_for(aws, project, events, {**BREAKER, **STRATEGIES[strategy]})
    story.push("bad", BAD)
    calls.clear()

    story.run()

    assert story.told("SERVICE_DEPLOYMENT_FAILED")["outcome"] == "ROLLED_BACK"
    assert story.revision() == "web:1"
    assert (calls.stop_service_deployment, calls.update_service) == (0, 1)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_when_ecs_rolls_back_itself_it_is_recorded_and_nothing_called(aws, project, events, strategy: str) -> None:
    ecs_rolls_back = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    story, calls = story_for(aws, project, events, {**ecs_rolls_back, **STRATEGIES[strategy]})
    story.push("bad", BAD)
    calls.clear()

    story.run()

    told = [
        result
        for delivery in story.bus.deliveries
        if delivery.name == "SERVICE_DEPLOYMENT_FAILED" and "RollbackFunction" in delivery.results
        for result in delivery.results["RollbackFunction"]["results"]
    ]
    first, *again = told
    assert first["outcome"] == "ROLLED_BACK"
    assert "rolled back by the ECS deployment circuit breaker" in first["reason"]
    assert all(result["outcome"] == "IGNORED" for result in again)  # ECS's repeats of the same change
    assert story.revision() == "web:1"
    assert (calls.stop_service_deployment, calls.update_service) == (0, 0)
