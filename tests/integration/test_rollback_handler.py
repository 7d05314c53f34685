"""RollbackFunction on the emulated ECS: a push deploys, ECS runs the new tasks (healthy or failing as the
image's behaviour says), and the deployment events it sends reach RollbackFunction by template.yaml's rules.

Tests that need another order or a duplicate hold ECS's events on the bus and deliver them as they choose:
what is delivered is always what ECS sent.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from autopilot.aws import clients
from autopilot.ledger import Ledger
from autopilot.local.bus import LocalBus
from autopilot.local.ecs import api as ecs_api
from autopilot.local.ecs.behaviour import parse_behaviour
from autopilot.local.emulator import create_stack_resources
from autopilot.refs import ServiceRef
from tests.integration.world import World, alarm_event, outcomes

WEB = ServiceRef("prod", "web")
BAD = "exits:1@20s"
BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


class Story:
    """prod/web tracks `latest` on the emulated ECS (circuit breaker on, ECS's own rollback off): its first
    deployment runs web:1; each push deploys web:N."""

    def __init__(self, world: World, tags: dict[str, str] | None = None, *, breaker: dict | None = None) -> None:
        self.world = world
        engine = ecs_api.current()
        assert engine is not None
        self.engine = engine
        self.bus = LocalBus(world.project, engine)
        world.cluster("prod")
        world.service(
            "prod",
            "web",
            world.web_task_definition("web", "shop", tag="latest"),
            {"autopilot:deploy": "tag:latest", **(tags or {})},
            launchType="FARGATE",
            deploymentConfiguration=breaker or BREAKER,
        )
        world.inventory()
        self.calls: Counter[str] = Counter()
        clients.ecs().meta.events.register("before-call.ecs.UpdateService", self._count)

    def _count(self, **kwargs: Any) -> None:
        self.calls["UpdateService"] += 1

    def deployments(self) -> list[dict[str, Any]]:
        return list(self.world.ecs.describe_services(cluster="prod", services=["web"])["services"][0]["deployments"])

    def primary_id(self) -> str:
        return str(self.deployments()[0]["id"])

    def run(self, seconds: float = 900) -> None:
        """ECS goes on for `seconds`; what it sends is delivered as it happens."""
        self.bus.hold = False
        self.bus.settle(seconds)

    def collect(self, seconds: float = 900) -> list[dict[str, Any]]:
        """ECS goes on for `seconds`; what it sends is held, not delivered, and returned."""
        self.bus.hold = True
        self.bus.settle(seconds)
        held, self.bus.held = self.bus.held, []
        self.bus.hold = False
        return held

    def rollback(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.world.project.route(event) == ["RollbackFunction"]
        result: dict[str, Any] = self.world.project.invoke("RollbackFunction", event)
        return result["results"][0] if len(result["results"]) == 1 else result

    def told(self, event_name: str) -> dict[str, Any]:
        """What RollbackFunction answered to the last delivered deployment event named `event_name`."""
        for delivery in reversed(self.bus.deliveries):
            if delivery.name == event_name and "RollbackFunction" in delivery.results:
                result: dict[str, Any] = delivery.results["RollbackFunction"]
                return result["results"][0] if len(result["results"]) == 1 else result
        raise AssertionError(f"no {event_name} was delivered to RollbackFunction")

    def first_deployment_completes(self) -> None:
        self.bus.settle(900, until=lambda: any(d.name == "SERVICE_DEPLOYMENT_COMPLETED" for d in self.bus.deliveries))
        assert self.told("SERVICE_DEPLOYMENT_COMPLETED")["outcome"] == "SUCCEEDED"

    def push(self, label: str = "build", behaviour: str = "healthy") -> dict[str, Any]:
        report = self.world.push("shop", "latest", label=label)
        self.engine.set_behaviour(report["digest"], parse_behaviour(behaviour))
        self.calls.clear()
        return report

    def revision(self) -> str:
        return self.world.running("prod", "web")["taskDefinitionArn"].rsplit("/", 1)[-1]


def deployment_events(events: list[dict[str, Any]], name: str, deployment: str | None = None) -> list[dict]:
    return [
        e
        for e in events
        if e["detail-type"] == "ECS Deployment State Change"
        and e["detail"]["eventName"] == f"SERVICE_DEPLOYMENT_{name}"
        and (deployment is None or e["detail"]["deploymentId"] == deployment)
    ]


@pytest.fixture
def story(aws, project, events) -> Story:
    return Story(World(project, events))


def test_completed_deployment_becomes_last_known_good(story: Story) -> None:
    first = story.primary_id()
    story.first_deployment_completes()
    state = ledger().services.state(WEB)
    assert state.last_known_good.endswith("web:1")
    record = ledger().deployments.ecs_deployment(WEB, first)
    assert [entry.status for entry in record.history] == ["IN_PROGRESS", "COMPLETED"]
    assert record.outcome == "SUCCEEDED"


def test_failed_deployment_rolls_back_to_last_known_good_and_quarantines_the_digest(story: Story) -> None:
    story.first_deployment_completes()
    digest = story.push("bad", BAD)["digest"]
    bad = story.primary_id()
    assert story.revision() == "web:2"
    story.run()
    assert story.told("SERVICE_DEPLOYMENT_FAILED")["outcome"] == "ROLLED_BACK"
    assert story.revision() == "web:1"
    assert story.calls["UpdateService"] == 1
    assert story.deployments()[0]["rolloutState"] == "COMPLETED"  # ECS finished the rollback's deployment
    state = ledger().services.state(WEB)
    assert digest in state.quarantined
    assert any(arn.endswith("web:2") for arn in state.bad_revisions)
    assert ledger().deployments.ecs_deployment(WEB, bad).outcome == "ROLLED_BACK"
    # the same bad digest pushed again is skipped as quarantined
    again = story.world.deliver(story.world.events.ecr_push("shop", digest, "latest"))
    assert outcomes(again) == {"prod/web": "SKIPPED"}
    assert "quarantined" in again["results"][0]["reason"]


def test_failed_delivered_three_times_rolls_back_once(story: Story) -> None:
    story.first_deployment_completes()
    story.push("bad", BAD)
    [failed] = deployment_events(story.collect(), "FAILED")
    results = [story.rollback(failed) for _ in range(3)]
    assert [r["outcome"] for r in results] == ["ROLLED_BACK", "IGNORED", "IGNORED"]
    told_again = {**failed, "id": str(uuid.uuid4())}  # the same change in an event of its own
    assert story.rollback(told_again)["outcome"] == "IGNORED"
    assert story.calls["UpdateService"] == 1


def test_late_completed_of_an_older_deployment_does_not_overwrite_newer_state(story: Story) -> None:
    first = story.collect()
    story.rollback(deployment_events(first, "IN_PROGRESS")[0])
    story.push()
    second = story.collect()
    story.rollback(deployment_events(second, "IN_PROGRESS")[0])
    story.rollback(deployment_events(second, "COMPLETED")[0])
    story.rollback(deployment_events(first, "COMPLETED")[0])  # arrives last
    assert ledger().services.state(WEB).last_known_good.endswith("web:2")
    stale = story.rollback(deployment_events(second, "IN_PROGRESS")[0])
    assert stale["outcome"] == "IGNORED"
    newest = deployment_events(second, "COMPLETED")[0]["detail"]["deploymentId"]
    assert ledger().deployments.ecs_deployment(WEB, newest).status == "COMPLETED"


def test_late_completed_of_an_older_deployment_after_a_newer_in_progress(story: Story) -> None:
    first = story.collect()
    story.rollback(deployment_events(first, "IN_PROGRESS")[0])
    story.push()
    second = story.collect()
    story.rollback(deployment_events(second, "IN_PROGRESS")[0])
    late = story.rollback(deployment_events(first, "COMPLETED")[0])
    assert late["outcome"] == "SUCCEEDED"  # the first deployment did complete: web:1 is known good
    assert ledger().services.state(WEB).last_known_good.endswith("web:1")
    newest = deployment_events(second, "IN_PROGRESS")[0]["detail"]["deploymentId"]
    assert ledger().deployments.ecs_deployment(WEB, newest).status == "IN_PROGRESS"  # untouched
    assert story.calls["UpdateService"] == 0


def test_outcomes_reach_the_deployment_we_started(story: Story) -> None:
    story.first_deployment_completes()
    story.push("bad", BAD)
    story.run()
    ours = ledger().deployments.ours(WEB)[0]
    assert ours.status == "ROLLED_BACK"
    assert [entry.status for entry in ours.history] == ["IN_PROGRESS", "ROLLED_BACK"]


def test_alarm_within_the_bake_window_rolls_back(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    started = datetime.fromisoformat(str(ledger().deployments.ours(WEB)[0].started_at))
    result = story.rollback(alarm_event(started + timedelta(minutes=5)))
    assert result["outcome"] == "ROLLED_BACK"
    assert story.revision() == "web:1"


def test_alarm_already_in_alarm_before_the_deployment_is_no_reason_to_roll_back(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    started = datetime.fromisoformat(str(ledger().deployments.ours(WEB)[0].started_at))
    result = story.rollback(alarm_event(started - timedelta(minutes=2)))
    assert result["outcome"] == "IGNORED"
    assert "already in ALARM" in result["reason"]
    assert story.revision() == "web:2"


def test_alarm_after_the_bake_window_is_ignored(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    started = datetime.fromisoformat(str(ledger().deployments.ours(WEB)[0].started_at))
    result = story.rollback(alarm_event(started + timedelta(minutes=31)))
    assert result["outcome"] == "IGNORED"
    assert "bake window" in result["reason"]
    assert story.calls["UpdateService"] == 0


def test_alarm_named_by_its_autopilot_service_tag(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="shop-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "autopilot:service", "Value": "prod/web other/missing"}],
    )
    arn = cloudwatch.describe_alarms(AlarmNames=["shop-5xx"])["MetricAlarms"][0]["AlarmArn"]
    started = datetime.fromisoformat(str(ledger().deployments.ours(WEB)[0].started_at))
    event = alarm_event(started + timedelta(minutes=1))
    event["resources"] = [arn]
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {"LoadBalancer": "x"}
    result = story.world.project.invoke("RollbackFunction", event)
    by_service = {r["service"]: r["outcome"] for r in result["results"]}
    assert by_service == {"prod/web": "ROLLED_BACK", "other/missing": "IGNORED"}


def test_third_failure_within_an_hour_freezes_the_service(story: Story) -> None:
    story.first_deployment_completes()
    outcomes_seen = []
    for number in (2, 3, 4):
        story.push(f"build {number}", BAD)
        story.run()
        outcomes_seen.append(story.told("SERVICE_DEPLOYMENT_FAILED")["outcome"])
    assert outcomes_seen == ["ROLLED_BACK", "ROLLED_BACK", "ROLLBACK_FAILED"]
    assert ledger().services.state(WEB).frozen
    assert outcomes(story.world.push("shop", "latest", label="build 5")) == {"prod/web": "SKIPPED"}


def test_circuit_breaker_rollback_by_ecs_needs_no_action_of_ours(aws, project, events) -> None:
    story = Story(World(project, events), breaker={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    story.first_deployment_completes()
    digest = story.push("bad", BAD)["digest"]
    story.run()
    result = story.told("SERVICE_DEPLOYMENT_FAILED")
    assert result["outcome"] == "ROLLED_BACK"
    assert "circuit breaker" in result["reason"]
    assert story.calls["UpdateService"] == 0
    assert story.revision() == "web:1"  # ECS rolled back by itself
    assert digest in ledger().services.state(WEB).quarantined


def test_rollback_off_records_and_does_not_roll_back(aws, project, events) -> None:
    story = Story(World(project, events), tags={"autopilot:rollback": "off"})
    story.first_deployment_completes()
    story.push("bad", BAD)
    story.run()
    assert story.told("SERVICE_DEPLOYMENT_FAILED")["outcome"] == "FAILED"
    assert story.revision() == "web:2"
    assert story.calls["UpdateService"] == 0


def test_without_a_known_good_revision_nothing_is_guessed(story: Story) -> None:
    story.collect()  # ECS's first deployment is never told: nothing is known good
    story.push("bad", BAD)
    story.run()
    result = story.told("SERVICE_DEPLOYMENT_FAILED")
    assert result["outcome"] == "ROLLBACK_FAILED"
    assert result["reason"] == "no known good revision"
    assert story.revision() == "web:2"


def test_old_format_service_arn_is_resolved_through_the_index(aws, project, events) -> None:
    """A service created before the long ARN format: ECS's events name it arn:…:service/web."""
    boto3.client("ecs").put_account_setting(name="serviceLongArnFormat", value="disabled")
    story = Story(World(project, events))
    story.first_deployment_completes()
    story.push("bad", BAD)
    [failed] = deployment_events(story.collect(), "FAILED")
    assert failed["resources"] == ["arn:aws:ecs:us-west-2:123456789012:service/web"]
    assert story.rollback(failed)["outcome"] == "ROLLED_BACK"


def test_events_of_unmanaged_services_are_ignored(story: Story) -> None:
    story.world.service("prod", "nobody", story.world.web_task_definition("nobody", "shop"), {})
    nobody = [e for e in story.collect() if e["resources"][0].endswith("/nobody")]
    assert nobody
    for event in deployment_events(nobody, "IN_PROGRESS") + deployment_events(nobody, "COMPLETED"):
        assert story.rollback(event)["outcome"] == "IGNORED"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations([0, 1]), duplicates=st.lists(st.sampled_from([0, 1]), max_size=3))
def test_any_order_and_duplication_of_one_deployments_events_ends_the_same(project, events, order, duplicates):
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(project)
        story = Story(World(project, events))
        story.first_deployment_completes()
        story.push("bad", BAD)
        bad = story.primary_id()
        held = story.collect()
        sequence = [deployment_events(held, "IN_PROGRESS", bad)[0], deployment_events(held, "FAILED", bad)[0]]
        for index in list(order) + duplicates:
            story.rollback(sequence[index])
        record = ledger().deployments.ecs_deployment(WEB, bad)
        assert (record.status, record.outcome) == ("FAILED", "ROLLED_BACK")
        assert story.calls["UpdateService"] == 1
        assert story.revision() == "web:1"
        clients.clear_caches()
