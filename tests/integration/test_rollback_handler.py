"""RollbackFunction under moto: sequences of ECS deployment and alarm events, as AWS documents them.

moto runs no tasks. UpdateService starts a deployment in DescribeServices (autopilot.local.ecs_deployments), and
the events ECS would send are built here from the documented samples and the emulator's real state: a test
names a deployment `ecs-svc/N` for "the deployment of revision web:N", which the story turns into the id ECS
gave that deployment.
"""

from __future__ import annotations

import copy
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
from autopilot.local.emulator import create_stack_resources
from autopilot.refs import ServiceRef
from tests.integration.world import T0, World, alarm_event, deployment_event, outcomes

WEB = ServiceRef("prod", "web")


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


class Story:
    """prod/web tracks `latest`; deployment ecs-svc/1 of web:1 completes, then a push deploys web:2."""

    def __init__(self, world: World, tags: dict[str, str] | None = None) -> None:
        self.world = world
        world.cluster("prod")
        world.service(
            "prod",
            "web",
            world.web_task_definition("web", "shop", tag="latest"),
            {"autopilot:deploy": "tag:latest", **(tags or {})},
        )
        world.inventory()
        self.calls: Counter[str] = Counter()
        self.ids: dict[str, str] = {}
        clients.ecs().meta.events.register("before-call.ecs.UpdateService", self._count)

    def _count(self, **kwargs: Any) -> None:
        self.calls["UpdateService"] += 1

    def id(self, named: str) -> str:
        """`ecs-svc/N` (N > 1) → the id ECS gave the deployment of web:N (`ecs-svc/1` stays: CreateService's)."""
        if named not in self.ids:
            deployments = self.world.ecs.describe_services(cluster="prod", services=["web"])["services"][0][
                "deployments"
            ]
            revision = f"/web:{named.removeprefix('ecs-svc/')}"
            found = [d["id"] for d in deployments if d["taskDefinition"].endswith(revision)]
            if named == "ecs-svc/1" or not found:
                return named
            self.ids[named] = found[0]
        return self.ids[named]

    def real_id(self, event: dict[str, Any]) -> dict[str, Any]:
        event = copy.deepcopy(event)
        if "deploymentId" in event["detail"]:
            event["detail"]["deploymentId"] = self.id(event["detail"]["deploymentId"])
        return event

    def rollback(self, event: dict[str, Any]) -> dict[str, Any]:
        event = self.real_id(event)
        assert self.world.project.route(event) == ["RollbackFunction"]
        result: dict[str, Any] = self.world.project.invoke("RollbackFunction", event)
        return result["results"][0] if len(result["results"]) == 1 else result

    def first_deployment_completes(self) -> None:
        self.rollback(deployment_event("IN_PROGRESS", "ecs-svc/1", T0))
        assert self.rollback(deployment_event("COMPLETED", "ecs-svc/1", T0 + timedelta(minutes=3)))["outcome"] == (
            "SUCCEEDED"
        )

    def push(self, label: str = "build") -> dict[str, Any]:
        report = self.world.push("shop", "latest", label=label)
        self.calls.clear()
        return report

    def revision(self) -> str:
        return self.world.running("prod", "web")["taskDefinitionArn"].rsplit("/", 1)[-1]


@pytest.fixture
def story(aws, project, events) -> Story:
    return Story(World(project, events))


def test_completed_deployment_becomes_last_known_good(story: Story) -> None:
    story.first_deployment_completes()
    state = ledger().services.state(WEB)
    assert state.last_known_good.endswith("web:1")
    record = ledger().deployments.ecs_deployment(WEB, "ecs-svc/1")
    assert [entry.status for entry in record.history] == ["IN_PROGRESS", "COMPLETED"]
    assert record.outcome == "SUCCEEDED"


def test_failed_deployment_rolls_back_to_last_known_good_and_quarantines_the_digest(story: Story) -> None:
    story.first_deployment_completes()
    digest = story.push("bad")["digest"]
    assert story.revision() == "web:2"
    story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/2", T0 + timedelta(minutes=10)))
    result = story.rollback(deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15)))
    assert result["outcome"] == "ROLLED_BACK"
    assert story.revision() == "web:1"
    assert story.calls["UpdateService"] == 1
    state = ledger().services.state(WEB)
    assert digest in state.quarantined
    assert any(arn.endswith("web:2") for arn in state.bad_revisions)
    assert ledger().deployments.ecs_deployment(WEB, story.id("ecs-svc/2")).outcome == "ROLLED_BACK"
    # the same bad digest pushed again is skipped as quarantined
    again = story.world.deliver(story.world.events.ecr_push("shop", digest, "latest"))
    assert outcomes(again) == {"prod/web": "SKIPPED"}
    assert "quarantined" in again["results"][0]["reason"]


def test_failed_delivered_three_times_rolls_back_once(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    failed = deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15))
    results = [story.rollback(failed) for _ in range(3)]
    assert [r["outcome"] for r in results] == ["ROLLED_BACK", "IGNORED", "IGNORED"]
    redelivered_later = deployment_event(
        "FAILED", "ecs-svc/2", T0 + timedelta(minutes=15), event_time=T0 + timedelta(minutes=16)
    )
    assert story.rollback(redelivered_later)["outcome"] == "IGNORED"
    assert story.calls["UpdateService"] == 1


def test_late_completed_of_an_older_deployment_does_not_overwrite_newer_state(story: Story) -> None:
    story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/1", T0))
    story.push()
    story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/2", T0 + timedelta(minutes=10)))
    story.rollback(deployment_event("COMPLETED", "ecs-svc/2", T0 + timedelta(minutes=12)))
    story.rollback(deployment_event("COMPLETED", "ecs-svc/1", T0 + timedelta(minutes=3)))  # arrives last
    assert ledger().services.state(WEB).last_known_good.endswith("web:2")
    stale = story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/2", T0 + timedelta(minutes=10)))
    assert stale["outcome"] == "IGNORED"
    assert ledger().deployments.ecs_deployment(WEB, story.id("ecs-svc/2")).status == "COMPLETED"


def test_late_completed_of_an_older_deployment_after_a_newer_in_progress(story: Story) -> None:
    story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/1", T0))
    story.push()
    story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/2", T0 + timedelta(minutes=10)))
    late = story.rollback(deployment_event("COMPLETED", "ecs-svc/1", T0 + timedelta(minutes=3)))
    assert late["outcome"] == "SUCCEEDED"  # ecs-svc/1 did complete: web:1 is known good
    assert ledger().services.state(WEB).last_known_good.endswith("web:1")
    assert ledger().deployments.ecs_deployment(WEB, story.id("ecs-svc/2")).status == "IN_PROGRESS"  # untouched
    assert story.calls["UpdateService"] == 0


def test_outcomes_reach_the_deployment_we_started(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    story.rollback(deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15)))
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
        story.push(f"build {number}")
        outcomes_seen.append(
            story.rollback(deployment_event("FAILED", f"ecs-svc/{number}", T0 + timedelta(minutes=10 * number)))[
                "outcome"
            ]
        )
    assert outcomes_seen == ["ROLLED_BACK", "ROLLED_BACK", "ROLLBACK_FAILED"]
    assert ledger().services.state(WEB).frozen
    assert outcomes(story.world.push("shop", "latest", label="build 5")) == {"prod/web": "SKIPPED"}


def test_circuit_breaker_rollback_by_ecs_needs_no_action_of_ours(story: Story) -> None:
    story.first_deployment_completes()
    digest = story.push("bad")["digest"]
    story.rollback(deployment_event("IN_PROGRESS", "ecs-svc/2", T0 + timedelta(minutes=10)))
    story.rollback(
        deployment_event(
            "IN_PROGRESS",
            "ecs-svc/3",
            T0 + timedelta(minutes=14),
            reason="ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
        )
    )
    result = story.rollback(deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15)))
    assert result["outcome"] == "ROLLED_BACK"
    assert "circuit breaker" in result["reason"]
    assert story.calls["UpdateService"] == 0
    assert digest in ledger().services.state(WEB).quarantined


def test_rollback_off_records_and_does_not_roll_back(aws, project, events) -> None:
    story = Story(World(project, events), tags={"autopilot:rollback": "off"})
    story.first_deployment_completes()
    story.push()
    result = story.rollback(deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15)))
    assert result["outcome"] == "FAILED"
    assert story.revision() == "web:2"
    assert story.calls["UpdateService"] == 0


def test_without_a_known_good_revision_nothing_is_guessed(story: Story) -> None:
    story.push()
    result = story.rollback(deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15)))
    assert result["outcome"] == "ROLLBACK_FAILED"
    assert result["reason"] == "no known good revision"
    assert story.revision() == "web:2"


def test_old_format_service_arn_is_resolved_through_the_index(story: Story) -> None:
    story.first_deployment_completes()
    story.push()
    event = deployment_event("FAILED", "ecs-svc/2", T0 + timedelta(minutes=15))
    event["resources"] = ["arn:aws:ecs:us-west-2:123456789012:service/web"]
    assert story.rollback(event)["outcome"] == "ROLLED_BACK"


def test_events_of_unmanaged_services_are_ignored(story: Story) -> None:
    result = story.rollback(deployment_event("FAILED", "ecs-svc/9", T0, service=ServiceRef("prod", "nobody")))
    assert result["outcome"] == "IGNORED"


SEQUENCE = [("IN_PROGRESS", 10), ("FAILED", 15)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations([0, 1]), duplicates=st.lists(st.sampled_from([0, 1]), max_size=3))
def test_any_order_and_duplication_of_one_deployments_events_ends_the_same(project, events, order, duplicates):
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(project)
        story = Story(World(project, events))
        story.first_deployment_completes()
        story.push()
        deliveries = [SEQUENCE[i] for i in list(order) + duplicates]
        for status, minute in deliveries:
            story.rollback(deployment_event(status, "ecs-svc/2", T0 + timedelta(minutes=minute)))
        record = ledger().deployments.ecs_deployment(WEB, story.id("ecs-svc/2"))
        assert (record.status, record.outcome) == ("FAILED", "ROLLED_BACK")
        assert story.calls["UpdateService"] == 1
        assert story.revision() == "web:1"
        clients.clear_caches()
