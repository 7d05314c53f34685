"""An ECS world in moto: repositories, clusters, task definitions, tagged services, and pushes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from autopilot.local.bus import LocalBus
from autopilot.local.ecs import api as ecs_api
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION
from autopilot.local.project import Project
from autopilot.local.sample_events import EventFactory, image_manifest
from autopilot.refs import ServiceRef
from tests.conftest import EVENTS, sample

WEB = ServiceRef("prod", "web")
_EVENTS = EventFactory(EVENTS, account=LOCAL_ACCOUNT, region=LOCAL_REGION)
T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SIDECAR = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def ecs_tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """ECS tags (the emulator refuses a value outside ECS's TagValue pattern, as ECS does)."""
    return [{"key": key, "value": value} for key, value in tags.items()]


@dataclass
class World:
    project: Project
    events: EventFactory
    ecs: Any = field(default_factory=lambda: boto3.client("ecs"))
    ecr: Any = field(default_factory=lambda: boto3.client("ecr"))
    repositories: dict[str, str] = field(default_factory=dict)
    _bus: LocalBus | None = None

    def repository(self, name: str) -> str:
        if name not in self.repositories:
            self.repositories[name] = self.ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
        return self.repositories[name]

    def push_image(self, repository: str, tag: str, label: str | None = None) -> str:
        self.repository(repository)
        response = self.ecr.put_image(
            repositoryName=repository, imageManifest=image_manifest(label or f"{repository}:{tag}"), imageTag=tag
        )
        return str(response["image"]["imageId"]["imageDigest"])

    def cluster(self, name: str) -> None:
        self.ecs.create_cluster(clusterName=name)

    def task_definition(self, family: str, containers: list[dict[str, Any]], **extra: Any) -> str:
        response = self.ecs.register_task_definition(family=family, containerDefinitions=containers, **extra)
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def web_task_definition(self, family: str, repository: str, tag: str = "1.0.0", **extra: Any) -> str:
        return self.task_definition(
            family,
            [
                {"name": "web", "image": f"{self.repository(repository)}:{tag}", "essential": True, "memory": 256},
                {"name": "log-router", "image": SIDECAR, "essential": False, "memory": 64},
            ],
            **extra,
        )

    def service(
        self,
        cluster: str,
        name: str,
        task_definition: str,
        tags: Mapping[str, str],
        **extra: Any,
    ) -> str:
        response = self.ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=task_definition,
            tags=ecs_tags(tags),
            **{"desiredCount": 1, **extra},
        )
        return str(response["service"]["serviceArn"])

    def managed(self, cluster: str, name: str, policy: str, *, running_tag: str = "latest") -> None:
        """A cluster with one indexed service `name` on repository `shop`, deployed by `policy`."""
        if not self.ecs.describe_clusters(clusters=[cluster])["clusters"]:
            self.cluster(cluster)
        self.service(
            cluster, name, self.web_task_definition(name, "shop", tag=running_tag), {"autopilot:deploy": policy}
        )
        self.inventory()

    def running(self, cluster: str, name: str) -> dict[str, Any]:
        """The task definition the service runs now, as DescribeTaskDefinition returns it (with tags)."""
        arn = self.ecs.describe_services(cluster=cluster, services=[name])["services"][0]["taskDefinition"]
        response = self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        return {**response["taskDefinition"], "tags": response.get("tags", [])}

    def image_of(self, cluster: str, name: str, container: str = "web") -> str:
        body = self.running(cluster, name)
        return next(c["image"] for c in body["containerDefinitions"] if c["name"] == container)

    def inventory(self) -> dict[str, Any]:
        result: dict[str, Any] = self.project.invoke("InventoryFunction", self.events.scheduled())
        return result

    def push(self, repository: str, tag: str | None, label: str | None = None) -> dict[str, Any]:
        digest = (
            self.push_image(repository, tag or "untagged", label)
            if tag
            else self.push_image(repository, "scratch", label or "untagged")
        )
        return self.deliver(self.events.ecr_push(repository, digest, tag))

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.project.invoke("DeployFunction", event)
        return result

    @property
    def bus(self) -> LocalBus:
        """The local event bus over the emulated ECS of this test."""
        if self._bus is None:
            engine = ecs_api.current()
            assert engine is not None, "the emulated ECS starts with create_stack_resources"
            self._bus = LocalBus(self.project, engine)
        return self._bus

    def ecs_until(self, event_name: str, *, deliver: bool = True, seconds: float = 900) -> list[dict[str, Any]]:
        """Let ECS go on until it sends an event named `event_name` (a deployment's or service action's
        eventName, or a task's "STOPPED <stopCode>"); delivered by the template's rules unless `deliver` is
        false, when they are held and returned instead."""
        bus = self.bus
        bus.hold = not deliver
        start = len(bus.deliveries)
        held: list[dict[str, Any]] = []

        def seen() -> list[dict[str, Any]]:
            held.extend(bus.held)
            bus.held.clear()
            return held if not deliver else [d.event for d in bus.deliveries[start:]]

        bus.settle(seconds, until=lambda: any(_event_name(event) == event_name for event in seen()))
        bus.hold = False
        return seen()


def _event_name(event: dict[str, Any]) -> str:
    detail = event.get("detail", {})
    return str(detail.get("eventName") or f"{detail.get('lastStatus')} {detail.get('stopCode')}")


def outcomes(report: Mapping[str, Any]) -> dict[str, str]:
    return {result["service"]: result["outcome"] for result in report["results"]}


def reasons(report: Mapping[str, Any]) -> dict[str, str]:
    return {result["service"]: result["reason"] for result in report["results"]}


def alarm_event(fired_at: datetime, previous: str = "OK", service: ServiceRef = WEB) -> dict[str, Any]:
    event = copy.deepcopy(sample("alarm-ecs-service-metric.json"))
    event.update(
        account="123456789012",
        region="us-west-2",
        time=fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        id=f"alarm-{fired_at.timestamp()}",
        resources=["arn:aws:cloudwatch:us-west-2:123456789012:alarm:web-cpu-high"],
    )
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {
        "ClusterName": service.cluster,
        "ServiceName": service.name,
    }
    event["detail"]["previousState"]["value"] = previous
    event["detail"]["state"]["timestamp"] = fired_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return event
