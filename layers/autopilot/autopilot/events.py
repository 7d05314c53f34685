"""Typed models of the EventBridge events we consume: only the fields we use, extra fields allowed.

snake_case fields with the keys AWS sends as aliases; a missing required field fails at the edge. Every
field we read is bounded by what AWS can send (names 255-256 characters, ARNs 2048, reasons a few KB), so an
oversized or forged event is rejected before anything is done or written; nothing from an event can
overflow a ledger item (400 KB) or a queue message (256 KiB).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from autopilot.model import Model
from autopilot.refs import RepositoryRef, ServiceRef, cluster_name, ecr_registry_host

# What AWS sends at most: resource names (cluster, service, repository, group, hook, alarm) 255-256
# characters, ARNs 2048, image tags 300, lifecycle metadata 1023, composite alarm rules 10240, CloudWatch
# dimension values 1024; reasons AWS writes (stop reasons, alarm reasons) are far below 4096.
Name = Annotated[str, Field(max_length=256)]
Arn = Annotated[str, Field(max_length=2048)]
Word = Annotated[str, Field(max_length=128)]  # enums, ids, statuses, tokens
Text = Annotated[str, Field(max_length=4096)]
MAX_EVENT_BYTES = 1024 * 1024  # EventBridge's own limit for an event is below this


class AwsEvent(Model):
    """The EventBridge envelope."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    id: Word
    detail_type: Word = Field(alias="detail-type")
    source: Word
    account: str = Field(pattern=r"^\d{12}$")
    time: datetime
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
    resources: list[Arn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _not_oversized(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(json.dumps(data, default=str)) > MAX_EVENT_BYTES:
            raise ValueError(f"event larger than {MAX_EVENT_BYTES} bytes")
        return data


class EcrImageActionDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    action_type: Word = Field(alias="action-type")
    result: Word
    repository_name: Name = Field(alias="repository-name", min_length=1)
    image_digest: str = Field(alias="image-digest", pattern=r"^[a-zA-Z0-9_+.-]+:[a-fA-F0-9]+$", max_length=1000)
    image_tag: str | None = Field(default=None, alias="image-tag", max_length=300)


class EcrImageActionEvent(AwsEvent):
    """`ECR Image Action` (PUSH, DELETE, UPDATE_STORAGE_CLASS). `resources` is empty; `image-tag` may be
    missing or empty for an untagged push."""

    detail_type: Literal["ECR Image Action"] = Field(alias="detail-type")
    source: Literal["aws.ecr"]
    detail: EcrImageActionDetail

    @property
    def repository(self) -> RepositoryRef:
        return RepositoryRef(ecr_registry_host(self.account, self.region), self.detail.repository_name)

    @property
    def tag(self) -> str:
        return (self.detail.image_tag or "").strip()


class CloudTrailDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_source: Word = Field(alias="eventSource")
    event_name: Word = Field(alias="eventName")
    aws_region: Word | None = Field(default=None, alias="awsRegion")
    error_code: Word | None = Field(default=None, alias="errorCode")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")


class EcsApiCallEvent(AwsEvent):
    """`AWS API Call via CloudTrail` for ECS: CreateService, UpdateService, DeleteService, TagResource,
    UntagResource."""

    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    detail: CloudTrailDetail

    @model_validator(mode="after")
    def _service_names_fit(self) -> EcsApiCallEvent:
        service = self.service()
        if service and (len(service.cluster) > 255 or len(service.name) > 255):
            raise ValueError("cluster or service name longer than ECS allows (255)")
        return self

    def service(self) -> ServiceRef | None:
        """The service the call was about, or None when it was about something else (a cluster, a task…)."""
        request = self.detail.request_parameters or {}
        response = self.detail.response_elements or {}
        described = response.get("service")
        if isinstance(described, dict) and described.get("serviceArn"):
            return ServiceRef.from_arn(str(described["serviceArn"]), described.get("clusterArn"))
        if self.detail.event_name in {"TagResource", "UntagResource"}:
            arn = str(request.get("resourceArn", ""))
            return ServiceRef.from_arn(arn) if ":service/" in arn else None
        service = request.get("service") or request.get("serviceName")
        if not service:
            return None
        cluster = cluster_name(str(request.get("cluster") or "default"))
        if str(service).startswith("arn:"):
            return ServiceRef.from_arn(str(service), cluster)
        return ServiceRef(cluster, str(service))


class ScheduledEvent(AwsEvent):
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    source: Literal["aws.events", "aws.scheduler"]


InventoryTrigger = Annotated[EcsApiCallEvent | ScheduledEvent, Field(discriminator="detail_type")]


class EcsDeploymentDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_type: Word = Field(alias="eventType")
    event_name: Literal[
        "SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"
    ] = Field(alias="eventName")
    deployment_id: str = Field(alias="deploymentId", pattern=r"^ecs-svc/\d+$")
    updated_at: datetime = Field(alias="updatedAt")
    reason: Text = ""
    cluster_arn: Arn | None = Field(default=None, alias="clusterArn")


class EcsDeploymentEvent(AwsEvent):
    """`ECS Deployment State Change`: `resources[0]` is the service ARN (new format, or the old one without the
    cluster name); `detail.clusterArn` may be absent."""

    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    resources: list[Arn] = Field(min_length=1, max_length=50)
    detail: EcsDeploymentDetail

    @property
    def status(self) -> str:
        return self.detail.event_name.removeprefix("SERVICE_DEPLOYMENT_")

    @property
    def service_arn(self) -> str:
        return self.resources[0]

    def service(self) -> ServiceRef | None:
        """The service, or None when the ARN is in the old format and the event names no cluster."""
        try:
            return ServiceRef.from_arn(self.service_arn, self.detail.cluster_arn)
        except ValueError:
            return None

    @property
    def service_name(self) -> str:
        return self.service_arn.rsplit("/", 1)[-1]


class AlarmState(Model):
    model_config = ConfigDict(extra="allow", frozen=True)

    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: Text = ""
    timestamp: datetime | None = None


class AlarmMetric(Model):
    model_config = ConfigDict(extra="allow", frozen=True)

    namespace: Name | None = None
    name: Name | None = None
    dimensions: dict[Name, Annotated[str, Field(max_length=1024)]] = Field(default_factory=dict, max_length=30)


class AlarmMetricStat(Model):
    model_config = ConfigDict(extra="allow", frozen=True)

    metric: AlarmMetric


class AlarmMetricQuery(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    id: Name | None = None
    metric_stat: AlarmMetricStat | None = Field(default=None, alias="metricStat")
    expression: str | None = Field(default=None, max_length=10240)


class AlarmConfiguration(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    metrics: list[AlarmMetricQuery] = Field(default_factory=list, max_length=500)
    alarm_rule: str | None = Field(default=None, alias="alarmRule", max_length=10240)


class AlarmDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    alarm_name: Name = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)


class AlarmStateChangeEvent(AwsEvent):
    """`CloudWatch Alarm State Change` as EventBridge delivers it (not the direct-invoke `alarmData` shape).
    Metric alarms carry metrics (or a metric-math expression) in `configuration`; composite alarms `alarmRule`."""

    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    source: Literal["aws.cloudwatch"]
    detail: AlarmDetail

    @property
    def alarm_arn(self) -> str | None:
        return self.resources[0] if self.resources else None

    @property
    def went_into_alarm(self) -> bool:
        previous = self.detail.previous_state.value if self.detail.previous_state else None
        return self.detail.state.value == "ALARM" and previous in {"OK", "INSUFFICIENT_DATA"}

    def dimension_services(self) -> list[ServiceRef]:
        """Services named by a metric's ClusterName and ServiceName dimensions."""
        found = []
        for query in self.detail.configuration.metrics:
            dimensions = query.metric_stat.metric.dimensions if query.metric_stat else {}
            if "ClusterName" in dimensions and "ServiceName" in dimensions:
                ref = ServiceRef(dimensions["ClusterName"], dimensions["ServiceName"])
                if ref not in found:
                    found.append(ref)
        return found


RollbackTrigger = Annotated[EcsDeploymentEvent | AlarmStateChangeEvent, Field(discriminator="detail_type")]


class InstanceDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    instance_id: str = Field(alias="instance-id", pattern=r"^i-[0-9a-f]+$", max_length=19)
    instance_action: Word | None = Field(default=None, alias="instance-action")


class SpotInterruptionEvent(AwsEvent):
    """`EC2 Spot Instance Interruption Warning`: two minutes before the instance is stopped or terminated.
    Read `detail.instance-id`; the ARN in `resources` differs between regional and zonal formats."""

    detail_type: Literal["EC2 Spot Instance Interruption Warning"] = Field(alias="detail-type")
    source: Literal["aws.ec2"]
    detail: InstanceDetail


class RebalanceRecommendationEvent(AwsEvent):
    detail_type: Literal["EC2 Instance Rebalance Recommendation"] = Field(alias="detail-type")
    source: Literal["aws.ec2"]
    detail: InstanceDetail


class LifecycleActionDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    lifecycle_action_token: Word = Field(alias="LifecycleActionToken")
    auto_scaling_group_name: Name = Field(alias="AutoScalingGroupName")
    lifecycle_hook_name: Name = Field(alias="LifecycleHookName")
    ec2_instance_id: str = Field(alias="EC2InstanceId", pattern=r"^i-[0-9a-f]+$", max_length=19)
    lifecycle_transition: Word = Field(alias="LifecycleTransition")
    notification_metadata: str | None = Field(default=None, alias="NotificationMetadata", max_length=1023)
    origin: Word | None = Field(default=None, alias="Origin")
    destination: Word | None = Field(default=None, alias="Destination")


class LifecycleTerminateEvent(AwsEvent):
    """`EC2 Instance-terminate Lifecycle Action` from Auto Scaling (PascalCase detail keys)."""

    detail_type: Literal["EC2 Instance-terminate Lifecycle Action"] = Field(alias="detail-type")
    source: Literal["aws.autoscaling"]
    detail: LifecycleActionDetail


class TaskContainer(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    name: Name
    exit_code: int | None = Field(default=None, alias="exitCode")
    reason: Text | None = None
    last_status: Word | None = Field(default=None, alias="lastStatus")


class TaskAttachmentDetail(Model):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: Name
    value: Arn | None = None


class TaskAttachment(Model):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: Word | None = None
    details: list[TaskAttachmentDetail] = Field(default_factory=list, max_length=100)


class TaskDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    task_arn: Arn = Field(alias="taskArn")
    cluster_arn: Arn = Field(alias="clusterArn")
    last_status: Word = Field(alias="lastStatus")
    desired_status: Word | None = Field(default=None, alias="desiredStatus")
    group: str | None = Field(default=None, max_length=300)  # `service:` or `family:` and a name
    stop_code: Word | None = Field(default=None, alias="stopCode")
    stopped_reason: Text | None = Field(default=None, alias="stoppedReason")
    task_definition_arn: Arn | None = Field(default=None, alias="taskDefinitionArn")
    started_by: Name | None = Field(default=None, alias="startedBy")
    containers: list[TaskContainer] = Field(default_factory=list, max_length=50)
    attachments: list[TaskAttachment] = Field(default_factory=list, max_length=50)
    capacity_provider_name: Name | None = Field(default=None, alias="capacityProviderName")

    @property
    def service_name(self) -> str | None:
        """`group` is `service:NAME` for a service's tasks, `family:NAME` for standalone ones."""
        if self.group and self.group.startswith("service:"):
            return self.group.removeprefix("service:")
        return None

    @property
    def private_ip(self) -> str | None:
        for attachment in self.attachments:
            for item in attachment.details:
                if item.name == "privateIPv4Address" and item.value:
                    return item.value
        return None

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]


class TaskStateChangeEvent(AwsEvent):
    detail_type: Literal["ECS Task State Change"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    detail: TaskDetail


class ServiceActionDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_type: Word = Field(alias="eventType")
    event_name: Word = Field(alias="eventName")
    cluster_arn: Arn | None = Field(default=None, alias="clusterArn")


class ServiceActionEvent(AwsEvent):
    """`ECS Service Action` (we use SERVICE_STEADY_STATE: a crash loop is over)."""

    detail_type: Literal["ECS Service Action"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    resources: list[Arn] = Field(min_length=1, max_length=50)
    detail: ServiceActionDetail


SpotDrainTrigger = Annotated[
    SpotInterruptionEvent | RebalanceRecommendationEvent | LifecycleTerminateEvent | TaskStateChangeEvent,
    Field(discriminator="detail_type"),
]
TaskWatchTrigger = Annotated[TaskStateChangeEvent | ServiceActionEvent, Field(discriminator="detail_type")]


class HookDetail(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_name: Literal["HOOK_AWAITING_ACTION", "HOOK_SUCCEEDED", "HOOK_FAILED", "HOOK_TIMED_OUT"] = Field(
        alias="eventName"
    )
    hook_id: Word = Field(alias="hookId")
    hook_type: Literal["PAUSE"] = Field(alias="hookType")
    expires_at: datetime | None = Field(default=None, alias="expiresAt")
    lifecycle_stage: Word = Field(alias="lifecycleStage")
    cluster_arn: Arn = Field(alias="clusterArn")
    service_arn: Arn = Field(alias="serviceArn")
    service_deployment_arn: Arn = Field(alias="serviceDeploymentArn")
    updated_at: datetime = Field(alias="updatedAt")


class HookStateChangeEvent(AwsEvent):
    """`ECS Hook State Change` of a pause hook: a service deployment waits at a lifecycle stage for
    ContinueServiceDeployment (HOOK_AWAITING_ACTION), or the hook ended (succeeded, failed, timed out)."""

    detail_type: Literal["ECS Hook State Change"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    detail: HookDetail

    def service(self) -> ServiceRef:
        return ServiceRef.from_arn(self.detail.service_arn, self.detail.cluster_arn)
