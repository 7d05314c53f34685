"""Read-only views of the account for `autopilot doctor`: services, task definitions, target groups, capacity
providers, Auto Scaling lifecycle hooks and alarms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from autopilot.aws.alarms import SERVICE_TAG
from autopilot.aws.ecs import EcsGateway
from autopilot.refs import ServiceRef

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client


@dataclass(frozen=True)
class ServiceView:
    ref: ServiceRef
    tags: dict[str, str]
    task_definition: dict[str, Any]
    load_balancers: list[dict[str, Any]]
    capacity_providers: list[str]
    launch_type: str | None
    minimum_healthy_percent: int | None


@dataclass
class Inspector:
    services_gateway: EcsGateway
    ecs: ECSClient
    elbv2: ElasticLoadBalancingv2Client
    autoscaling: AutoScalingClient
    cloudwatch: CloudWatchClient
    _task_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def clusters(self, only: str | None) -> list[str]:
        return [only] if only else self.services_gateway.list_cluster_arns()

    def services(self, cluster: str) -> list[ServiceView]:
        gateway = self.services_gateway
        views = []
        for snapshot in gateway.describe_service_arns(cluster, gateway.list_service_arns(cluster)):
            arn = snapshot.task_definition
            if arn not in self._task_definitions:
                described = gateway.describe_task_definition(arn)
                self._task_definitions[arn] = described.body if described else {}
            views.append(
                ServiceView(
                    ref=snapshot.ref,
                    tags=snapshot.tags,
                    task_definition=self._task_definitions[arn],
                    load_balancers=list(snapshot.load_balancers),
                    capacity_providers=list(snapshot.capacity_providers),
                    launch_type=snapshot.launch_type,
                    minimum_healthy_percent=snapshot.minimum_healthy_percent,
                )
            )
        return views

    def deregistration_delay(self, target_group_arn: str) -> int | None:
        try:
            attributes = self.elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)["Attributes"]
        except ClientError:
            return None
        for attribute in attributes:
            if attribute.get("Key") == "deregistration_delay.timeout_seconds":
                return int(attribute.get("Value", "300"))
        return 300

    def cluster_auto_scaling_groups(self, cluster: str) -> dict[str, bool]:
        """Auto Scaling group name → whether it runs Spot, for the cluster's capacity providers."""
        described = self.ecs.describe_clusters(clusters=[cluster])["clusters"]
        names = described[0].get("capacityProviders", []) if described else []
        groups: dict[str, bool] = {}
        providers = [name for name in names if name not in {"FARGATE", "FARGATE_SPOT"}]
        if not providers:
            return groups
        for provider in self.ecs.describe_capacity_providers(capacityProviders=providers)["capacityProviders"]:
            group_provider: dict[str, Any] = dict(provider.get("autoScalingGroupProvider") or {})
            arn = str(group_provider.get("autoScalingGroupArn", ""))
            name = arn.rsplit("autoScalingGroupName/", 1)[-1] if arn else ""
            if name:
                groups[name] = self._runs_spot(name)
        return groups

    def _runs_spot(self, group: str) -> bool:
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        if not found:
            return False
        distribution = (found[0].get("MixedInstancesPolicy") or {}).get("InstancesDistribution") or {}
        return int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100)) < 100

    def terminate_hooks(self, group: str) -> list[dict[str, Any]]:
        hooks = self.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
        return [dict(h) for h in hooks if h.get("LifecycleTransition") == "autoscaling:EC2_INSTANCE_TERMINATING"]

    def tagged_alarms(self) -> list[tuple[str, list[str]]]:
        """(alarm name, `autopilot:service` words) of every alarm carrying the tag."""
        found = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                arn = str(alarm["AlarmArn"])
                tags = self.cloudwatch.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
                words = [w for t in tags if t.get("Key") == SERVICE_TAG for w in str(t.get("Value", "")).split()]
                if words:
                    found.append((str(alarm["AlarmName"]), words))
        return found

    def service_exists(self, ref: ServiceRef) -> bool:
        return self.services_gateway.describe_services([ref]).get(ref) is not None
