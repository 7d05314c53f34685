"""The emulated ECS (autopilot.local.ecs): deployments that run tasks, fail, roll back and tell about it.

Every event the engine emits is compared with the AWS sample of its kind: same keys, same value types,
recursively (the engine never invents a field).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from autopilot.local.bus import LocalBus
from autopilot.local.ecs import api as ecs_api
from autopilot.local.ecs.behaviour import Behaviour, Fate, parse_behaviour
from autopilot.local.ecs.engine import Engine
from autopilot.local.ecs.shapes import ALL_SAMPLES, DEPLOYMENT_SAMPLES, STOPPED_SAMPLES
from tests.conftest import sample

pytestmark = pytest.mark.usefixtures("aws")
BREAKER = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}


def engine() -> Engine:
    found = ecs_api.current()
    assert found is not None
    return found


def same_shape(emitted: Any, expected: Any, path: str = "$", *, exact: bool = True) -> list[str]:
    """Where `emitted` differs from `expected` in keys or value types. A list's first item has the keys of the
    sample's first item; later items (a task's sidecars) may leave out keys, never add one."""
    if isinstance(expected, dict):
        if not isinstance(emitted, dict):
            return [f"{path}: {type(emitted).__name__}, sample has an object"]
        extra, missing = set(emitted) - set(expected), set(expected) - set(emitted)
        problems = (
            [f"{path}: keys {sorted(extra | missing if exact else extra)} differ"]
            if extra or (exact and missing)
            else []
        )
        for key in set(emitted) & set(expected):
            problems += same_shape(emitted[key], expected[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(emitted, list):
            return [f"{path}: {type(emitted).__name__}, sample has a list"]
        if not expected:
            return []
        return [
            problem
            for index, item in enumerate(emitted)
            for problem in same_shape(item, expected[0], f"{path}[{index}]", exact=index == 0)
        ]
    if type(emitted) is not type(expected):
        return [f"{path}: {type(emitted).__name__}, sample has {type(expected).__name__}"]
    return []


def sample_of(event: dict[str, Any]) -> str:
    """The sample an emitted event must look like."""
    detail = event["detail"]
    if event["detail-type"] == "ECS Deployment State Change":
        name = detail["eventName"].removeprefix("SERVICE_DEPLOYMENT_")
        if name == "IN_PROGRESS" and "rolling back" in detail["reason"]:
            name = "ROLLBACK_IN_PROGRESS"
        return DEPLOYMENT_SAMPLES[name]
    if event["detail-type"] == "ECS Service Action":
        return "ecs-service-steady-state.json"
    if detail["lastStatus"] == "RUNNING":
        return "ecs-task-fargate-spot-interruption.json" if detail.get("stopCode") else "ecs-task-running.json"
    by_reason = {
        "UserInitiated": "ecs-task-stopped-user.json",
        "ServiceSchedulerInitiated": "ecs-task-stopped-deployment.json",
        "SpotInterruption": "ecs-task-stopped-deployment.json",
    }
    if "ELB health checks" in detail["stoppedReason"]:
        return STOPPED_SAMPLES[Fate.HEALTH_CHECK]
    if detail["stopCode"] in by_reason:
        return by_reason[detail["stopCode"]]
    if detail["stopCode"] == "TaskFailedToStart":
        return STOPPED_SAMPLES[Fate.PULL_ERROR if "CannotPull" in detail["stoppedReason"] else Fate.SECRET_ERROR]
    oom = any("OutOfMemory" in str(c.get("reason")) for c in detail["containers"])
    return STOPPED_SAMPLES[Fate.OUT_OF_MEMORY if oom else Fate.EXITS]


class Fleet:
    def __init__(self, project) -> None:
        self.ecs = boto3.client("ecs")
        self.ecr = boto3.client("ecr")
        self.bus = LocalBus(project, engine(), hold=True)
        self.ecs.create_cluster(clusterName="prod")
        self.revisions = [self.revision("1.0.0")]

    def revision(self, tag: str) -> str:
        definition = self.ecs.register_task_definition(
            family="web",
            containerDefinitions=[
                {"name": "web", "image": f"123456789012.dkr.ecr.us-west-2.amazonaws.com/shop:{tag}", "memory": 256},
                {"name": "log-router", "image": "fluent-bit:stable", "memory": 64, "essential": False},
            ],
        )
        return str(definition["taskDefinition"]["taskDefinitionArn"])

    def service(self, desired: int = 2, **configuration: Any) -> None:
        self.ecs.create_service(
            cluster="prod",
            serviceName="web",
            taskDefinition=self.revisions[0],
            desiredCount=desired,
            launchType="FARGATE",
            deploymentConfiguration=configuration or BREAKER,
        )

    def deploy(self, tag: str, behaviour: str = "healthy") -> str:
        engine().set_behaviour(tag, parse_behaviour(behaviour))
        self.revisions.append(self.revision(tag))
        self.ecs.update_service(cluster="prod", service="web", taskDefinition=self.revisions[-1])
        return self.revisions[-1]

    def described(self) -> dict[str, Any]:
        return dict(self.ecs.describe_services(cluster="prod", services=["web"])["services"][0])

    def settle(self, seconds: float = 900) -> list[dict[str, Any]]:
        self.bus.settle(seconds)
        events, self.bus.held = self.bus.held, []
        for event in events:
            assert same_shape(event, sample(sample_of(event))) == [], sample_of(event)
        return events


def names(events: list[dict[str, Any]], kind: str = "ECS Deployment State Change") -> list[str]:
    return [e["detail"]["eventName"] for e in events if e["detail-type"] == kind]


def test_create_service_runs_its_tasks_and_completes_its_first_deployment(project) -> None:
    fleet = Fleet(project)
    fleet.service(desired=2)
    [primary] = fleet.described()["deployments"]
    assert primary["id"].startswith("ecs-svc/") and len(primary["id"]) == len("ecs-svc/") + 19
    assert (primary["status"], primary["rolloutState"]) == ("PRIMARY", "IN_PROGRESS")
    events = fleet.settle()
    assert names(events) == ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED"]
    assert names(events, "ECS Service Action") == ["SERVICE_STEADY_STATE"]
    service = fleet.described()
    assert (service["runningCount"], service["deployments"][0]["rolloutState"]) == (2, "COMPLETED")
    tasks = fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
    assert len(tasks) == 2
    assert {t["lastStatus"] for t in fleet.ecs.describe_tasks(cluster="prod", tasks=tasks)["tasks"]} == {"RUNNING"}


def test_a_healthy_update_replaces_tasks_within_the_percentages(project) -> None:
    fleet = Fleet(project)
    fleet.service(4, minimumHealthyPercent=50, maximumPercent=100, **BREAKER)
    fleet.settle()
    fleet.deploy("1.1.0")
    deployments = fleet.described()["deployments"]
    assert [d["status"] for d in deployments] == ["PRIMARY", "ACTIVE"]
    highest = 0
    for _ in range(60):
        fleet.bus.settle(5)
        live = fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
        highest = max(highest, len(live))
    assert highest <= 4  # maximumPercent 100: never more than 4 tasks
    events = fleet.settle()
    service = fleet.described()
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert service["taskDefinition"] == fleet.revisions[-1]
    assert names(events)[-1] == "SERVICE_DEPLOYMENT_COMPLETED"


@pytest.mark.parametrize(
    ("behaviour", "stop_code", "exit_code", "reason"),
    [
        ("exits:3@20s", "EssentialContainerExited", 3, "Essential container in task exited"),
        ("oom@20s", "EssentialContainerExited", 137, "Essential container in task exited"),
        ("pull-error", "TaskFailedToStart", None, "CannotPullContainerError"),
        ("secret-error", "TaskFailedToStart", None, "ResourceInitializationError"),
    ],
)
def test_a_bad_image_fails_its_tasks_until_the_circuit_breaker_fails_the_deployment(
    project, behaviour: str, stop_code: str, exit_code: int | None, reason: str
) -> None:
    fleet = Fleet(project)
    fleet.service(desired=2)
    fleet.settle()
    fleet.deploy("1.1.0", behaviour)
    events = fleet.settle()
    stops = [e["detail"] for e in events if e["detail"].get("lastStatus") == "STOPPED"]
    assert len(stops) >= 3  # threshold: half of 2, at least 3
    assert {s["stopCode"] for s in stops} == {stop_code}
    assert all(s["stoppedReason"].startswith(reason) for s in stops)
    if exit_code is not None:
        assert {s["containers"][0]["exitCode"] for s in stops} == {exit_code}
    assert names(events) == ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_FAILED"]
    primary = fleet.described()["deployments"][0]
    assert (primary["rolloutState"], primary["failedTasks"]) == ("FAILED", 3)
    # the old revision kept serving: minimumHealthyPercent 100
    running = fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
    definitions = {t["taskDefinitionArn"] for t in fleet.ecs.describe_tasks(cluster="prod", tasks=running)["tasks"]}
    assert definitions == {fleet.revisions[0]}


def test_the_circuit_breaker_rolls_back_itself_when_enabled(project) -> None:
    fleet = Fleet(project)
    fleet.service(2, deploymentCircuitBreaker={"enable": True, "rollback": True})
    fleet.settle()
    fleet.deploy("1.1.0", "exits:1@10s")
    events = fleet.settle()
    deployment_events = [e["detail"] for e in events if e["detail-type"] == "ECS Deployment State Change"]
    assert [d["eventName"] for d in deployment_events] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert "rolling back to deploymentId" in deployment_events[2]["reason"]
    assert fleet.described()["taskDefinition"] == fleet.revisions[0]
    listed = fleet.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    assert [d["status"] for d in listed] == ["SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]


def test_without_a_circuit_breaker_a_bad_deployment_never_ends(project) -> None:
    fleet = Fleet(project)
    fleet.service(2, minimumHealthyPercent=100)
    fleet.settle()
    fleet.deploy("1.1.0", "exits:1@10s")
    events = fleet.settle(1800)
    assert names(events) == ["SERVICE_DEPLOYMENT_IN_PROGRESS"]
    assert fleet.described()["deployments"][0]["failedTasks"] > 20


def test_service_deployments_api_and_a_native_rollback_of_a_deployment_in_flight(project) -> None:
    fleet = Fleet(project)
    fleet.service(2)
    fleet.settle()
    fleet.deploy("1.1.0")
    fleet.bus.settle(10)  # in flight
    [newest, first] = fleet.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    assert (newest["status"], first["status"]) == ("IN_PROGRESS", "SUCCESSFUL")
    [described] = fleet.ecs.describe_service_deployments(serviceDeploymentArns=[newest["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert described["sourceServiceRevisions"][0]["arn"] == first["targetServiceRevisionArn"]
    [revision] = fleet.ecs.describe_service_revisions(serviceRevisionArns=[newest["targetServiceRevisionArn"]])[
        "serviceRevisions"
    ]
    assert revision["taskDefinition"] == fleet.revisions[-1]
    fleet.ecs.stop_service_deployment(serviceDeploymentArn=newest["serviceDeploymentArn"], stopType="ROLLBACK")
    fleet.settle()
    assert fleet.described()["taskDefinition"] == fleet.revisions[0]
    [after] = fleet.ecs.describe_service_deployments(serviceDeploymentArns=[newest["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert after["status"] == "ROLLBACK_SUCCESSFUL"
    with pytest.raises(ClientError) as refused:
        fleet.ecs.stop_service_deployment(serviceDeploymentArn=newest["serviceDeploymentArn"], stopType="ROLLBACK")
    assert refused.value.response["Error"]["Code"] == "ClientException"


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [
        ("BLUE_GREEN", {}),
        ("LINEAR", {"linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}}),
        ("CANARY", {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2}}),
    ],
)
def test_blue_green_family_shifts_traffic_bakes_then_cleans_up(project, strategy: str, extra: dict) -> None:
    fleet = Fleet(project)
    fleet.service(2, strategy=strategy, bakeTimeInMinutes=5, **extra, **BREAKER)
    fleet.settle()
    fleet.deploy("1.1.0")
    fleet.bus.settle(120)
    [newest, _] = fleet.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    [during] = fleet.ecs.describe_service_deployments(serviceDeploymentArns=[newest["serviceDeploymentArn"]])[
        "serviceDeployments"
    ]
    assert during["lifecycleStage"] in ("PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME")
    assert len(fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]) == 4  # blue and green
    events = fleet.settle(1800)
    assert names(events)[-1] == "SERVICE_DEPLOYMENT_COMPLETED"
    assert len(fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]) == 2


def test_a_blue_green_rollback_during_bake_flips_back_without_a_new_deployment(project) -> None:
    fleet = Fleet(project)
    fleet.service(2, strategy="BLUE_GREEN", bakeTimeInMinutes=10, **BREAKER)
    fleet.settle()
    fleet.deploy("1.1.0")
    fleet.bus.settle(120)
    [newest, _] = fleet.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    fleet.ecs.stop_service_deployment(serviceDeploymentArn=newest["serviceDeploymentArn"], stopType="ROLLBACK")
    fleet.settle()
    assert fleet.described()["taskDefinition"] == fleet.revisions[0]
    assert len(fleet.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]) == 2


def test_a_stopped_task_and_a_fargate_spot_interruption_are_replaced(project) -> None:
    fleet = Fleet(project)
    fleet.service(2)
    fleet.settle()
    first, second = fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
    fleet.ecs.stop_task(cluster="prod", task=first, reason="Task stopped by user")
    engine().interrupt_spot(second)
    events = fleet.settle()
    stop_codes = [e["detail"].get("stopCode") for e in events if e["detail-type"] == "ECS Task State Change"]
    assert stop_codes.count("UserInitiated") == 1 and stop_codes.count("SpotInterruption") == 2  # notice, stop
    assert len(fleet.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]) == 2


def test_every_sample_the_engine_uses_is_in_events() -> None:
    for name in ALL_SAMPLES:
        assert sample(name)["source"] == "aws.ecs"


def test_image_behaviours_are_spelled_as_the_cli_takes_them() -> None:
    assert parse_behaviour("exits:3@20s") == Behaviour(Fate.EXITS, 20, 3)
    assert parse_behaviour("oom").exit_code == 137
    with pytest.raises(ValueError, match="unknown image behaviour"):
        parse_behaviour("crashes")
