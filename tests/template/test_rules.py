"""The EventBridge rules of template.yaml match the events they are for, and no others."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import EVENTS, ROOT, sample

DEPLOY_EVENTS = ["ecr-push-latest.json", "ecr-push-semver.json", "ecr-push-untagged.json", "ecr-push-empty-tag.json"]
NOT_DEPLOY = [
    "ecr-delete.json",
    "ecr-image-scan.json",
    "ecr-scan-resource-change.json",
    "ecr-pull-through-cache.json",
    "ecr-archive.json",
    "ecr-restore.json",
    "ecr-referrer-restore.json",
    "ecr-replication.json",
    "ecr-replication-failed.json",
    "ecr-push-failed.json",
]
INVENTORY_EVENTS = [
    "cloudtrail-ecs-create-service.json",
    "cloudtrail-ecs-update-service.json",
    "cloudtrail-ecs-delete-service.json",
    "cloudtrail-ecs-tag-resource.json",
    "cloudtrail-ecs-untag-resource.json",
    "cloudtrail-ecs-tag-task-definition.json",
]
NOT_INVENTORY = [
    "cloudtrail-ecs-create-cluster.json",
    "cloudtrail-ecs-update-service-denied.json",
    "scheduled-event.json",
]
ROLLBACK_EVENTS = [
    "ecs-deployment-in-progress.json",
    "ecs-deployment-rollback-in-progress.json",
    "ecs-deployment-completed.json",
    "ecs-deployment-failed.json",
    "ecs-deployment-failed-old-arn.json",
    "alarm-single-metric.json",
    "alarm-metric-math.json",
    "alarm-anomaly-detection.json",
    "alarm-ecs-service-metric.json",
    "alarm-composite.json",
]
NOT_ROLLBACK = ["alarm-recovered.json"]
SPOT_EVENTS = [
    "ec2-spot-interruption-warning.json",
    "ec2-rebalance-recommendation.json",
    "asg-instance-terminate-lifecycle-action.json",
    "asg-instance-terminate-lifecycle-action-minimal.json",
    "ecs-task-fargate-spot-interruption.json",
    "ecs-task-termination-notice.json",
]
TASK_WATCH_EVENTS = [
    "ecs-task-stopped-essential-exit.json",
    "ecs-task-stopped-oom.json",
    "ecs-task-stopped-elb-health-check.json",
    "ecs-task-stopped-missing-secret.json",
    "ecs-task-stopped-image-pull.json",
    "ecs-task-stopped-deployment.json",
    "ecs-task-stopped-user.json",
    "ecs-task-stopped-standalone.json",
    "ecs-service-steady-state.json",
]
HOOK_EVENTS = [
    "ecs-hook-awaiting-action.json",
    "ecs-hook-succeeded.json",
    "ecs-hook-failed.json",
    "ecs-hook-timed-out.json",
]
NOWHERE = ["ecs-task-running.json"]


def test_every_sample_event_is_classified_here() -> None:
    listed = set(
        DEPLOY_EVENTS
        + NOT_DEPLOY
        + INVENTORY_EVENTS
        + NOT_INVENTORY
        + ROLLBACK_EVENTS
        + NOT_ROLLBACK
        + SPOT_EVENTS
        + TASK_WATCH_EVENTS
        + HOOK_EVENTS
        + NOWHERE
    )
    assert {path.name for path in EVENTS.glob("*.json")} == listed


@pytest.mark.parametrize("name", DEPLOY_EVENTS)
def test_ecr_pushes_route_to_deploy_function_alone(project, name: str) -> None:
    assert project.route(sample(name)) == ["DeployFunction"]


@pytest.mark.parametrize("name", NOT_DEPLOY)
def test_other_ecr_events_route_nowhere(project, name: str) -> None:
    assert project.route(sample(name)) == []


@pytest.mark.parametrize("name", INVENTORY_EVENTS)
def test_ecs_service_api_calls_route_to_inventory_function_alone(project, name: str) -> None:
    assert project.route(sample(name)) == ["InventoryFunction"]


@pytest.mark.parametrize("name", NOT_INVENTORY)
def test_other_api_calls_and_failed_calls_route_nowhere(project, name: str) -> None:
    assert project.route(sample(name)) == []


@pytest.mark.parametrize("name", ROLLBACK_EVENTS)
def test_deployment_and_alarm_events_route_to_rollback_function_alone_and_parse(project, name: str) -> None:
    from pydantic import TypeAdapter

    from autopilot.events import RollbackTrigger

    event = sample(name)
    assert project.route(event) == ["RollbackFunction"]
    TypeAdapter(RollbackTrigger).validate_python(event)


@pytest.mark.parametrize("name", SPOT_EVENTS)
def test_spot_events_route_to_spot_drain_function_alone_and_parse(project, name: str) -> None:
    from pydantic import TypeAdapter

    from autopilot.events import SpotDrainTrigger

    event = sample(name)
    assert project.route(event) == ["SpotDrainFunction"]
    TypeAdapter(SpotDrainTrigger).validate_python(event)


@pytest.mark.parametrize("name", TASK_WATCH_EVENTS)
def test_stopped_tasks_and_steady_states_route_to_task_watch_alone_and_parse(project, name: str) -> None:
    from pydantic import TypeAdapter

    from autopilot.events import TaskWatchTrigger

    event = sample(name)
    assert project.route(event) == ["TaskWatchFunction"]
    TypeAdapter(TaskWatchTrigger).validate_python(event)


@pytest.mark.parametrize("name", HOOK_EVENTS)
def test_pause_hook_events_route_to_chatops_function_alone_and_parse(project, name: str) -> None:
    from autopilot.events import HookStateChangeEvent

    event = sample(name)
    assert project.route(event) == ["ChatOpsFunction"]
    HookStateChangeEvent.model_validate(event)


def test_a_lambda_hook_or_another_detail_type_does_not_reach_chatops(project) -> None:
    lambda_hook = sample("ecs-hook-awaiting-action.json")
    lambda_hook["detail"]["hookType"] = "AWS_LAMBDA"  # ECS calls a Lambda hook itself: nothing for chat to do
    assert project.route(lambda_hook) == []
    other = sample("ecs-hook-awaiting-action.json")
    other["detail-type"] = "ECS Deployment State Change"
    assert "ChatOpsFunction" not in project.route(other)


def test_a_running_task_routes_nowhere(project) -> None:
    assert project.route(sample("ecs-task-running.json")) == []


@pytest.mark.parametrize("name", NOT_ROLLBACK)
def test_alarms_leaving_alarm_route_nowhere(project, name: str) -> None:
    assert project.route(sample(name)) == []


def test_a_push_from_another_source_with_the_same_detail_is_not_taken(project) -> None:
    event = sample("ecr-push-latest.json")
    event["source"] = "my.app"
    assert project.route(event) == []


def autopilot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autopilot.cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", ["ecr-push-latest.json", "ecr-push-semver.json"])
def test_autopilot_route_prints_deploy_function_for_a_tagged_push(name: str) -> None:
    result = autopilot("route", f"events/{name}")
    assert (result.returncode, result.stdout, result.stderr) == (0, "DeployFunction\n", "")


@pytest.mark.parametrize("name", NOT_DEPLOY)
def test_autopilot_route_prints_nothing_for_non_push_ecr_events(name: str) -> None:
    result = autopilot("route", f"events/{name}")
    assert (result.returncode, result.stdout) == (0, "")


def test_autopilot_route_errors_are_one_line_without_a_traceback(tmp_path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for args in (("route", "events/no-such-file.json"), ("route", str(broken))):
        result = autopilot(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("autopilot: error:")
