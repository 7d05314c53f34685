"""`make bench`: AWS API calls one ECR push costs, against a naive scan of every service.

Prints one line per case: `push_api_calls N=<services> m=<matching> autopilot=<calls> naive=<calls>`.
Calls are counted with botocore's `before-call` event (one per API operation, retries not included),
in moto, for N managed services across 10 clusters of which m use the pushed repository.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from autopilot.aws import clients
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, create_stack_resources, use_endpoint
from autopilot.local.project import Project
from autopilot.local.sample_events import EventFactory, image_manifest
from autopilot.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
CLUSTERS = 10
CASES = [(10, 1), (10, 10), (100, 1), (100, 10), (1000, 1), (1000, 10)]


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **kwargs: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextmanager
def counting() -> Iterator[CallCounter]:
    """Count every API call of clients created inside the block (our cached clients are recreated)."""
    counter = CallCounter()
    session = boto3.DEFAULT_SESSION._session if boto3.DEFAULT_SESSION else boto3.Session()._session
    session.register("before-call", counter)
    clients.clear_caches()
    try:
        yield counter
    finally:
        session.unregister("before-call", counter)
        clients.clear_caches()


class Fleet:
    """N managed services over 10 clusters; m of them (spread over the clusters) use repository `shop`."""

    def __init__(self, project: Project, services: int, matching: int) -> None:
        self.project = project
        self.ecs = boto3.client("ecs")
        self.ecr = boto3.client("ecr")
        registry = f"{LOCAL_ACCOUNT}.dkr.ecr.{LOCAL_REGION}.amazonaws.com"
        self.ecr.create_repository(repositoryName="shop")
        for cluster in range(CLUSTERS):
            self.ecs.create_cluster(clusterName=f"c{cluster}")
        for index in range(services):
            repository = "shop" if index < matching else f"other-{index}"
            arn = self.ecs.register_task_definition(
                family=f"svc{index}",
                containerDefinitions=[{"name": "app", "image": f"{registry}/{repository}:latest", "memory": 128}],
            )["taskDefinition"]["taskDefinitionArn"]
            self.ecs.create_service(
                cluster=f"c{index % CLUSTERS}",
                serviceName=f"svc{index}",
                taskDefinition=arn,
                desiredCount=1,
                tags=[{"key": "autopilot:deploy", "value": "tag:latest"}],
            )
        self.events = EventFactory(ROOT / "events", account=LOCAL_ACCOUNT, region=LOCAL_REGION)
        project.invoke("InventoryFunction", self.events.scheduled())

    def push(self, label: str) -> dict[str, Any]:
        digest = self.ecr.put_image(repositoryName="shop", imageManifest=image_manifest(label), imageTag="latest")[
            "image"
        ]["imageId"]["imageDigest"]
        self.digest = digest
        result: dict[str, Any] = self.project.invoke("DeployFunction", self.events.ecr_push("shop", digest, "latest"))
        return result

    def on_pushed_image(self) -> int:
        """Services whose task definition (as ECS has it now) runs the last pushed digest."""
        found = 0
        for cluster in range(CLUSTERS):
            arns = [
                arn
                for page in self.ecs.get_paginator("list_services").paginate(cluster=f"c{cluster}")
                for arn in page["serviceArns"]
            ]
            for start in range(0, len(arns), 10):
                described = self.ecs.describe_services(cluster=f"c{cluster}", services=arns[start : start + 10])
                for service in described["services"]:
                    body = self.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
                    images = [c["image"] for c in body["taskDefinition"]["containerDefinitions"]]
                    found += any(image.endswith(f"@{self.digest}") for image in images)
        return found


def print_cases(label: str, measure: Callable[[int], dict[str, int]], cases: Iterable[int]) -> None:
    """`make bench`'s `<label> key=value …` lines, one per case, measured under moto (throwaway credentials)."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    use_endpoint("", region=LOCAL_REGION)  # throwaway credentials and region; moto intercepts every call
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for case in cases:
        get_settings.cache_clear()
        print(label + " " + " ".join(f"{key}={value}" for key, value in measure(case).items()), flush=True)


def naive_scan(repository_uri: str) -> int:
    """What a push would cost without the index: list every cluster and service, describe every task definition."""
    ecs = clients.ecs()
    found = 0
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = [
            a
            for page in ecs.get_paginator("list_services").paginate(cluster=cluster, PaginationConfig={"PageSize": 100})
            for a in page["serviceArns"]
        ]
        for start in range(0, len(arns), 10):
            for service in ecs.describe_services(cluster=cluster, services=arns[start : start + 10])["services"]:
                body = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
                found += any(c["image"].startswith(repository_uri) for c in body["containerDefinitions"])
    return found


def measure(services: int, matching: int) -> tuple[int, int, dict[str, int]]:
    """(autopilot calls, naive calls, autopilot calls by operation) for one push."""
    project = Project(ROOT / "template.yaml")
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(project)
        fleet = Fleet(project, services, matching)
        fleet.push("warm-up")  # first push: cold caches of the Lambda container
        with counting() as ours:
            report = fleet.push("measured")
        deployed = sum(1 for r in report["results"] if r["outcome"] == "DEPLOYED")
        if deployed != matching:
            raise RuntimeError(f"expected {matching} deployments, got {deployed}: {report['results']}")
        with counting() as naive:
            naive_scan(f"{LOCAL_ACCOUNT}.dkr.ecr.{LOCAL_REGION}.amazonaws.com/shop")
        return ours.total, naive.total, dict(ours.calls)


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    use_endpoint("", region=LOCAL_REGION)  # throwaway credentials and region; moto intercepts every call
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for services, matching in CASES:
        get_settings.cache_clear()
        ours, naive, _ = measure(services, matching)
        print(f"push_api_calls N={services} m={matching} autopilot={ours} naive={naive}", flush=True)


if __name__ == "__main__":
    main()
