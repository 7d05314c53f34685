"""A small world in the local emulator that the samples in events/ act on (`autopilot local up --seed`), and
the rewrite that puts a sample into the local account and region (`autopilot --local replay`).

The samples come from AWS's documentation, with the accounts and regions of their authors; rewritten, they
name what the seed created: the repository `my-repository-name`, the services `default/servicetest`
(tracks `latest`), `FargateCluster/web` (its container is `FargateApp`, as in the task samples) and
`prod/web` (the service the alarm sample's metric names).
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from autopilot.local.sample_events import image_manifest

REPOSITORY = "my-repository-name"
SERVICES = {  # (cluster, service): (container, initial tag, autopilot:deploy)
    ("default", "servicetest"): ("app", "latest", "tag:latest"),
    ("FargateCluster", "web"): ("FargateApp", "1.0.0", "semver:1.x"),
    ("prod", "web"): ("web", "1.0.0", "semver:1.x"),
}


def seed_sample_world() -> list[str]:
    """Create the repository, clusters and tagged services; returns the services, `CLUSTER/SERVICE`."""
    ecr, ecs = boto3.client("ecr"), boto3.client("ecs")
    uri = ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
    for tag in ("1.0.0", "latest"):
        ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest(f"seed-{tag}"), imageTag=tag)
    created = []
    for (cluster, service), (container, tag, policy) in SERVICES.items():
        ecs.create_cluster(clusterName=cluster)
        family = f"{cluster}-{service}".lower()
        task_definition = ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": container, "image": f"{uri}:{tag}", "memory": 256, "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=task_definition,
            desiredCount=1,
            tags=[{"key": "autopilot:deploy", "value": policy}],
        )
        created.append(f"{cluster}/{service}")
    return created


def local_event(event: dict[str, Any], *, account: str, region: str) -> dict[str, Any]:
    """The event as the local account and region would send it: every mention of the sample's account and
    region (in ARNs, the ECR registry host, the envelope) replaced."""
    text = json.dumps(event)
    for original, local in ((str(event.get("account", "")), account), (str(event.get("region", "")), region)):
        if original and original != local:
            text = text.replace(original, local)
    rewritten: dict[str, Any] = json.loads(text)
    return rewritten
