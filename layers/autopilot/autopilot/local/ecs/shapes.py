"""The events the emulated ECS sends, shaped exactly like the AWS samples in events/.

Each event starts as a deep copy of the documented sample of its kind and only the values of fields the sample
has are replaced: an emitted event never carries a key its sample lacks (tests/integration/test_ecs_engine.py
compares every emitted event with its sample, recursively).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from autopilot.local.ecs.behaviour import Fate

DEPLOYMENT_SAMPLES = {
    "IN_PROGRESS": "ecs-deployment-in-progress.json",
    "ROLLBACK_IN_PROGRESS": "ecs-deployment-rollback-in-progress.json",
    "COMPLETED": "ecs-deployment-completed.json",
    "FAILED": "ecs-deployment-failed.json",
}
STOPPED_SAMPLES = {
    Fate.EXITS: "ecs-task-stopped-essential-exit.json",
    Fate.OUT_OF_MEMORY: "ecs-task-stopped-oom.json",
    Fate.HEALTH_CHECK: "ecs-task-stopped-elb-health-check.json",
    Fate.PULL_ERROR: "ecs-task-stopped-image-pull.json",
    Fate.SECRET_ERROR: "ecs-task-stopped-missing-secret.json",
}
SCHEDULER_STOP_SAMPLE = "ecs-task-stopped-deployment.json"
USER_STOP_SAMPLE = "ecs-task-stopped-user.json"
RUNNING_SAMPLE = "ecs-task-running.json"
SPOT_INTERRUPTION_SAMPLE = "ecs-task-fargate-spot-interruption.json"
STEADY_STATE_SAMPLE = "ecs-service-steady-state.json"
HOOK_SAMPLES = {
    "HOOK_AWAITING_ACTION": "ecs-hook-awaiting-action.json",
    "HOOK_SUCCEEDED": "ecs-hook-succeeded.json",
    "HOOK_FAILED": "ecs-hook-failed.json",
    "HOOK_TIMED_OUT": "ecs-hook-timed-out.json",
}
ALL_SAMPLES = (
    *DEPLOYMENT_SAMPLES.values(),
    *STOPPED_SAMPLES.values(),
    SCHEDULER_STOP_SAMPLE,
    USER_STOP_SAMPLE,
    RUNNING_SAMPLE,
    SPOT_INTERRUPTION_SAMPLE,
    STEADY_STATE_SAMPLE,
    *HOOK_SAMPLES.values(),
)


def event_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def detail_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@cache
def _sample(events_dir: Path, name: str) -> str:
    return (events_dir / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class TaskFacts:
    """What the engine knows of a task when it tells about it."""

    task_arn: str
    cluster_arn: str
    group: str
    task_definition_arn: str
    launch_type: str
    containers: list[tuple[str, str]]  # (name, image), essential one first
    private_ip: str
    created_at: datetime
    started_at: datetime | None
    version: int


class EventShapes:
    def __init__(self, events_dir: Path, *, account: str, region: str) -> None:
        self.events_dir = events_dir
        self.account = account
        self.region = region

    def sample(self, name: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(_sample(self.events_dir, name))
        return event

    def _envelope(self, name: str, at: datetime, resources: list[str]) -> dict[str, Any]:
        event = self.sample(name)
        event.update(
            id=str(uuid.uuid4()), account=self.account, region=self.region, time=event_time(at), resources=resources
        )
        return event

    def deployment(
        self, status: str, service_arn: str, deployment_id: str, *, at: datetime, reason: str
    ) -> dict[str, Any]:
        event = self._envelope(DEPLOYMENT_SAMPLES[status], at, [service_arn])
        event["detail"].update(deploymentId=deployment_id, updatedAt=event_time(at), reason=reason)
        return event

    def hook(self, name: str, service: Any, deployment: Any, hook: dict[str, Any], *, at: datetime) -> dict[str, Any]:
        """A pause hook's state change (ECS Hook State Change) of a service deployment."""
        arn = (
            f"arn:aws:ecs:{self.region}:{self.account}:service-deployment/"
            f"{service.cluster_name}/{service.name}/{deployment.digits}"
        )
        event = self._envelope(HOOK_SAMPLES[name], at, [arn])
        event["detail"].update(
            hookId=hook["hookId"],
            expiresAt=event_time(hook["expiresAt"]),
            lifecycleStage=hook["stage"],
            clusterArn=service.cluster_arn,
            serviceArn=service.arn,
            serviceDeploymentArn=arn,
            updatedAt=detail_time(at),
        )
        return event

    def steady_state(self, service_arn: str, cluster_arn: str, *, at: datetime) -> dict[str, Any]:
        event = self._envelope(STEADY_STATE_SAMPLE, at, [service_arn])
        event["detail"].update(clusterArn=cluster_arn, createdAt=detail_time(at))
        return event

    def task(
        self,
        sample_name: str,
        facts: TaskFacts,
        *,
        at: datetime,
        stop_code: str | None = None,
        stopped_reason: str | None = None,
        container_reason: str | None = None,
        exit_code: int | None = None,
    ) -> dict[str, Any]:
        """A task state change from the sample `sample_name`, about the task `facts` describes."""
        event = self._envelope(sample_name, at, [facts.task_arn])
        detail = event["detail"]
        containers = _containers(detail, facts, exit_code=exit_code, container_reason=container_reason)
        if "containers" in detail:
            detail["containers"] = containers
        for attachment in detail.get("attachments", []):
            for item in attachment.get("details", []):
                if item.get("name") == "privateIPv4Address":
                    item["value"] = facts.private_ip
        for override in detail.get("overrides", {}).get("containerOverrides", []):
            override["name"] = facts.containers[0][0]
        values: dict[str, Any] = {
            "taskArn": facts.task_arn,
            "clusterArn": facts.cluster_arn,
            "group": facts.group,
            "taskDefinitionArn": facts.task_definition_arn,
            "launchType": facts.launch_type,
            "createdAt": detail_time(facts.created_at),
            "updatedAt": detail_time(at),
            "version": facts.version,
            "stopCode": stop_code,
            "stoppedReason": stopped_reason,
        }
        started = facts.started_at or facts.created_at
        for key in ("startedAt", "connectivityAt", "pullStartedAt", "pullStoppedAt"):
            values[key] = detail_time(started)
        for key in ("stoppingAt", "stoppedAt", "executionStoppedAt"):
            values[key] = detail_time(at)
        for key, value in values.items():
            if key in detail and value is not None:
                detail[key] = value
        return event


def _containers(
    detail: dict[str, Any], facts: TaskFacts, *, exit_code: int | None, container_reason: str | None
) -> list[dict[str, Any]]:
    """One entry per container of the task, each a copy of the sample's app container with this task's values;
    the essential (first) container carries the exit code and reason, the others were stopped with it (143)."""
    stopping = detail.get("lastStatus") == "STOPPED"
    template = next((c for c in detail.get("containers", []) if c.get("name") == "FargateApp"), None)
    containers = []
    for index, (name, image) in enumerate(facts.containers):
        container = copy.deepcopy(template or {})
        container.update(name=name, image=image, taskArn=facts.task_arn)
        container["containerArn"] = f"{facts.task_arn.replace(':task/', ':container/')}/{name}"
        for interface in container.get("networkInterfaces", []):
            interface["privateIpv4Address"] = facts.private_ip
        if "exitCode" in container:
            container["exitCode"] = exit_code if index == 0 and exit_code is not None else 143
        if "reason" in container:
            if index == 0 and container_reason:
                container["reason"] = container_reason
            else:
                del container["reason"]
        if "lastStatus" in container and stopping:
            container["lastStatus"] = "STOPPED"
        containers.append(container)
    return containers
