"""ECS's deployments list, over moto: an UpdateService that changes the task definition starts a deployment.

moto keeps the one deployment CreateService made and never starts another, so a deployment id seen in an ECS
event could not be found in DescribeServices as it can in AWS. This extension does what ECS does to the list
(Amazon ECS API Reference, `Deployment`): the new deployment is PRIMARY with rolloutState IN_PROGRESS and an id
`ecs-svc/<19 digits>`, the previous PRIMARY becomes ACTIVE. It runs no tasks and finishes no deployment: the
tests and the demo still say what ECS would report next.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

_installed = False
_ids = itertools.count(5_000_000_000_000_000_001)


def new_deployment_id() -> str:
    return f"ecs-svc/{next(_ids)}"


def _start_deployment(service: Any, task_definition: str) -> None:
    now = datetime.now(UTC)
    previous = [dict(d, status="ACTIVE") for d in (service.deployments or []) if d.get("status") == "PRIMARY"][:1]
    deployment_id = new_deployment_id()
    primary = {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }
    service.deployments = [primary, *previous]


def install() -> None:
    """Patch moto's ECS backend once per process (in-process mocks and the server mode alike)."""
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        service = original(self, dict(service_properties))
        requested = service_properties.get("task_definition")
        primary = next((d for d in service.deployments or [] if d.get("status") == "PRIMARY"), None)
        starts = primary is None or primary.get("taskDefinition") != service.task_definition
        if requested and starts and service.deployment_controller.get("type", "ECS") == "ECS":
            _start_deployment(service, str(service.task_definition))
        return service

    EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]
    _installed = True


def primary_deployment(ecs: Any, cluster: str, service: str) -> dict[str, Any]:
    """The PRIMARY deployment of a service, as DescribeServices shows it."""
    described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    return next(d for d in described["deployments"] if d["status"] == "PRIMARY")
