"""`make bench`: what one reconcile run costs, for N managed services over R repositories.

Prints `reconcile services=<N> repositories=<R> api_calls=<c> first_run_api_calls=<f> missed_pushes=<m>`:
api_calls, a run when nothing changed since the last one (the schedule's usual run: the services index, the
repositories looked at before, each repository's tagged images, the check of its recent pushes);
first_run_api_calls, the first run after install, the baseline: each repository's images of the last day
marked taken (one batch write per 25) and each service's task definition noted for the drift check (one write
each). Each repository had
three pushes in the last day, all delivered (so nothing is missed: missed_pushes=0). Calls are counted as in
push_cost (botocore's `before-call`, one per operation).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from autopilot.aws import clients
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, create_stack_resources
from autopilot.local.project import Project
from autopilot.local.sample_events import EventFactory, image_manifest
from tests.bench.push_cost import counting, print_cases
from tests.faults import SimulatedClock

ROOT = Path(__file__).resolve().parents[2]
REPOSITORIES = 10
CASES = (100, 1000)


def measure(services: int, repositories: int = REPOSITORIES) -> dict[str, int]:
    project = Project(ROOT / "template.yaml")
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(project)
        ecs, ecr = boto3.client("ecs"), boto3.client("ecr")
        events = EventFactory(ROOT / "events", account=LOCAL_ACCOUNT, region=LOCAL_REGION)
        registry = f"{LOCAL_ACCOUNT}.dkr.ecr.{LOCAL_REGION}.amazonaws.com"
        ecs.create_cluster(clusterName="c0")
        for repository in range(repositories):
            ecr.create_repository(repositoryName=f"r{repository}")
        for index in range(services):
            arn = ecs.register_task_definition(
                family=f"svc{index}",
                containerDefinitions=[
                    {"name": "app", "image": f"{registry}/r{index % repositories}:1.0.0", "memory": 128}
                ],
            )["taskDefinition"]["taskDefinitionArn"]
            ecs.create_service(
                cluster="c0",
                serviceName=f"svc{index}",
                taskDefinition=arn,
                desiredCount=1,
                tags=[{"key": "autopilot:deploy", "value": "semver:1.x"}],
            )
        project.invoke("InventoryFunction", events.scheduled())
        for repository in range(repositories):  # three pushes of today, each delivered
            for tag in ("0.9.0", "1.0.0", "1.1.0"):
                manifest = image_manifest(f"r{repository}:{tag}")
                image = ecr.put_image(repositoryName=f"r{repository}", imageManifest=manifest, imageTag=tag)
                digest = image["image"]["imageId"]["imageDigest"]
                project.invoke("DeployFunction", events.ecr_push(f"r{repository}", digest, tag))
        project.invoke("InventoryFunction", events.scheduled())  # the index sees the deployed revisions
        with SimulatedClock(modules=("autopilot.reconcile",)) as later:
            later.advance(timedelta(minutes=11))
            with counting() as first:
                project.invoke("DeployFunction", events.scheduled())
            with counting() as steady:
                report: dict[str, Any] = project.invoke("DeployFunction", events.scheduled())
        return {
            "services": services,
            "repositories": repositories,
            "api_calls": steady.total,
            "first_run_api_calls": first.total,
            "missed_pushes": len(report["missed_pushes"]),
        }


def main() -> None:
    print_cases("reconcile", measure, CASES)


if __name__ == "__main__":
    main()
