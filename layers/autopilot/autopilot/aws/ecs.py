"""ECS adapter: describe services and task definitions, register revisions, update services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from autopilot.refs import ServiceRef, cluster_name

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

DESCRIBE_SERVICES_BATCH = 10


@dataclass(frozen=True)
class ServiceSnapshot:
    """What DescribeServices says about one service, reduced to what we decide on."""

    ref: ServiceRef
    arn: str
    cluster_arn: str
    task_definition: str
    tags: dict[str, str]
    deployment_controller: str = "ECS"
    status: str = "ACTIVE"
    deployments: tuple[dict[str, Any], ...] = field(default=())
    load_balancers: tuple[dict[str, Any], ...] = field(default=())
    capacity_providers: tuple[str, ...] = field(default=())
    launch_type: str | None = None
    minimum_healthy_percent: int = 100  # ECS's default for a replica service when the configuration is silent

    @property
    def task_definition_updatable(self) -> bool:
        """UpdateService can change the task definition only under the ECS controller."""
        return self.deployment_controller == "ECS"


@dataclass(frozen=True)
class TaskDefinitionSnapshot:
    arn: str
    body: dict[str, Any]
    tags: tuple[dict[str, str], ...] = ()

    @property
    def family_revision(self) -> str:
        return f"{self.body.get('family')}:{self.body.get('revision')}"


def _tags(raw: Iterable[Any] | None) -> dict[str, str]:
    return {str(tag["key"]): str(tag.get("value", "")) for tag in raw or () if "key" in tag}


def _chunks(items: list[ServiceRef], size: int) -> Iterator[list[ServiceRef]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EcsGateway:
    def __init__(self, client: ECSClient) -> None:
        self._client = client

    def describe_services(self, refs: Iterable[ServiceRef]) -> dict[ServiceRef, ServiceSnapshot | None]:
        """One DescribeServices call per cluster and 10 services; a missing or inactive service maps to None."""
        by_cluster: dict[str, list[ServiceRef]] = defaultdict(list)
        for ref in refs:
            by_cluster[ref.cluster].append(ref)
        found: dict[ServiceRef, ServiceSnapshot | None] = {}
        for cluster, members in by_cluster.items():
            for chunk in _chunks(sorted(set(members)), DESCRIBE_SERVICES_BATCH):
                found.update(dict.fromkeys(chunk))
                try:
                    response = self._client.describe_services(
                        cluster=cluster, services=[ref.name for ref in chunk], include=["TAGS"]
                    )
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") == "ClusterNotFoundException":
                        continue
                    raise
                for raw in response.get("services", []):
                    snapshot = self._snapshot(cast(dict[str, Any], raw))
                    if snapshot.status == "ACTIVE":
                        found[snapshot.ref] = snapshot
        return found

    def describe_service_arns(self, cluster_arn: str, arns: list[str]) -> list[ServiceSnapshot]:
        refs = [ServiceRef.from_arn(arn, cluster_arn) for arn in arns]
        return [snap for snap in self.describe_services(refs).values() if snap is not None]

    @staticmethod
    def _snapshot(raw: dict[str, Any]) -> ServiceSnapshot:
        cluster_arn = str(raw.get("clusterArn", ""))
        return ServiceSnapshot(
            ref=ServiceRef.from_arn(str(raw["serviceArn"]), cluster_arn or None),
            arn=str(raw["serviceArn"]),
            cluster_arn=cluster_arn,
            task_definition=str(raw.get("taskDefinition", "")),
            tags=_tags(raw.get("tags")),
            deployment_controller=str((raw.get("deploymentController") or {}).get("type", "ECS")),
            status=str(raw.get("status", "ACTIVE")),
            deployments=tuple(raw.get("deployments") or ()),
            load_balancers=tuple(dict(lb) for lb in raw.get("loadBalancers") or ()),
            capacity_providers=tuple(str(s["capacityProvider"]) for s in raw.get("capacityProviderStrategy") or ()),
            launch_type=raw.get("launchType"),
            minimum_healthy_percent=int((raw.get("deploymentConfiguration") or {}).get("minimumHealthyPercent", 100)),
        )

    def describe_task_definition(self, arn: str) -> TaskDefinitionSnapshot | None:
        """None when ECS does not know the task definition (deleted, or a typo in the service)."""
        try:
            response = self._client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {
                "ClientException",
                "InvalidParameterException",
            }:
                return None
            raise
        body = cast(dict[str, Any], response["taskDefinition"])
        if body.get("status") == "DELETE_IN_PROGRESS":
            return None
        tags = tuple({"key": t["key"], "value": t.get("value", "")} for t in response.get("tags", []) if "key" in t)
        return TaskDefinitionSnapshot(arn=str(body["taskDefinitionArn"]), body=body, tags=tags)

    def register_task_definition(self, request: dict[str, Any]) -> str:
        response = self._client.register_task_definition(**request)
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def update_service(self, ref: ServiceRef, task_definition: str) -> None:
        self._client.update_service(cluster=ref.cluster, service=ref.name, taskDefinition=task_definition)

    def deployment_in_flight(self, ref: ServiceRef) -> str | None:
        """The ARN of the service's PENDING or IN_PROGRESS service deployment, the newest (the service-deployments
        API, any strategy: ROLLING, BLUE_GREEN, LINEAR, CANARY), or None."""
        response = self._client.list_service_deployments(
            cluster=ref.cluster, service=ref.name, status=["PENDING", "IN_PROGRESS"]
        )
        found = response.get("serviceDeployments", [])
        return str(found[0]["serviceDeploymentArn"]) if found else None

    def stop_service_deployment(self, arn: str) -> None:
        """ECS's own rollback of an in-flight deployment: back to the revision it started from (blue/green and
        its kin flip traffic back; rolling starts a deployment of the source revision)."""
        self._client.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        """Answer a pause hook: CONTINUE the deployment to its next stage, or ROLLBACK."""
        self._client.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=action)  # type: ignore[arg-type]

    def hook_status(self, arn: str, hook_id: str) -> str | None:
        """A pause hook's status as ECS has it now (AWAITING_ACTION, SUCCEEDED, FAILED, TIMED_OUT), or None."""
        found = self._client.describe_service_deployments(serviceDeploymentArns=[arn]).get("serviceDeployments", [])
        for hook in found[0].get("lifecycleHookDetails", []) if found else []:
            if hook.get("hookId") == hook_id:
                return str(hook.get("status"))
        return None

    def deployment_target(self, arn: str) -> str | None:
        """The task definition a service deployment deploys (its target service revision's), when ECS has it."""
        found = self._client.describe_service_deployments(serviceDeploymentArns=[arn]).get("serviceDeployments", [])
        revision = (found[0].get("targetServiceRevision") or {}).get("arn") if found else None
        if not revision:
            return None
        described = self._client.describe_service_revisions(serviceRevisionArns=[revision])["serviceRevisions"]
        return str(described[0]["taskDefinition"]) if described else None

    def rolling_back(self, ref: ServiceRef, task_definition: str) -> bool:
        """Whether ECS is rolling back, or has rolled back, a deployment of `task_definition` (its circuit breaker,
        its alarms, a failed lifecycle hook, or anyone's StopServiceDeployment): the service-deployments API."""
        response = self._client.list_service_deployments(
            cluster=ref.cluster,
            service=ref.name,
            status=["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"],
        )
        revisions = [
            str(found["targetServiceRevisionArn"])
            for found in response.get("serviceDeployments", [])[:20]
            if found.get("targetServiceRevisionArn")
        ]
        if not revisions:
            return False
        described = self._client.describe_service_revisions(serviceRevisionArns=revisions)
        return any(revision.get("taskDefinition") == task_definition for revision in described["serviceRevisions"])

    def list_cluster_arns(self) -> list[str]:
        paginator = self._client.get_paginator("list_clusters")
        return [arn for page in paginator.paginate() for arn in page.get("clusterArns", [])]

    def list_service_arns(self, cluster_arn: str) -> list[str]:
        paginator = self._client.get_paginator("list_services")
        return [
            arn
            for page in paginator.paginate(cluster=cluster_name(cluster_arn), PaginationConfig={"PageSize": 100})
            for arn in page.get("serviceArns", [])
        ]


@dataclass(frozen=True)
class ContainerInstance:
    cluster_arn: str
    arn: str
    ec2_instance_id: str
    status: str


@dataclass(frozen=True)
class TaskSnapshot:
    arn: str
    group: str
    last_status: str
    private_ip: str | None


class CapacityGateway:
    """Container instances and tasks: what Spot drain needs of ECS."""

    def __init__(self, client: ECSClient, services: EcsGateway) -> None:
        self._client = client
        self._services = services

    def find_container_instance(self, ec2_instance_id: str) -> ContainerInstance | None:
        """The container instance of an EC2 instance, in whichever cluster holds it (None when in none)."""
        for cluster_arn in self._services.list_cluster_arns():
            arns = [
                arn
                for page in self._client.get_paginator("list_container_instances").paginate(cluster=cluster_arn)
                for arn in page.get("containerInstanceArns", [])
            ]
            for start in range(0, len(arns), 100):
                described = self._client.describe_container_instances(
                    cluster=cluster_arn, containerInstances=arns[start : start + 100]
                )
                for instance in described.get("containerInstances", []):
                    if instance.get("ec2InstanceId") == ec2_instance_id:
                        return ContainerInstance(
                            cluster_arn,
                            str(instance["containerInstanceArn"]),
                            ec2_instance_id,
                            str(instance.get("status", "")),
                        )
        return None

    def drain(self, instance: ContainerInstance) -> None:
        self._client.update_container_instances_state(
            cluster=instance.cluster_arn, containerInstances=[instance.arn], status="DRAINING"
        )

    def service_tasks_on(self, instance: ContainerInstance) -> list[TaskSnapshot]:
        """Tasks on the instance that belong to services and have not stopped yet."""
        arns = [
            arn
            for page in self._client.get_paginator("list_tasks").paginate(
                cluster=instance.cluster_arn, containerInstance=instance.arn
            )
            for arn in page.get("taskArns", [])
        ]
        tasks = []
        for start in range(0, len(arns), 100):
            for task in self._client.describe_tasks(cluster=instance.cluster_arn, tasks=arns[start : start + 100]).get(
                "tasks", []
            ):
                group = str(task.get("group", ""))
                if group.startswith("service:") and task.get("lastStatus") != "STOPPED":
                    tasks.append(TaskSnapshot(str(task["taskArn"]), group, str(task.get("lastStatus")), None))
        return tasks

    def load_balancers(self, ref: ServiceRef) -> list[dict[str, Any]]:
        snapshot = self._services.describe_services([ref]).get(ref)
        return list(snapshot.load_balancers) if snapshot else []
