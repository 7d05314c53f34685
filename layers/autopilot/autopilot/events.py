"""Typed models of the EventBridge events we consume: only the fields we use, extra fields allowed.

snake_case fields with the keys AWS sends as aliases; a missing required field fails at the edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autopilot.refs import RepositoryRef, ServiceRef, cluster_name, ecr_registry_host


class AwsEvent(BaseModel):
    """The EventBridge envelope."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str] = Field(default_factory=list)


class EcrImageActionDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    action_type: str = Field(alias="action-type")
    result: str
    repository_name: str = Field(alias="repository-name", min_length=1)
    image_digest: str = Field(alias="image-digest", min_length=1)
    image_tag: str | None = Field(default=None, alias="image-tag")


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


class CloudTrailDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str | None = Field(default=None, alias="awsRegion")
    error_code: str | None = Field(default=None, alias="errorCode")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")


class EcsApiCallEvent(AwsEvent):
    """`AWS API Call via CloudTrail` for ECS: CreateService, UpdateService, DeleteService, TagResource,
    UntagResource."""

    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    detail: CloudTrailDetail

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


class EcsDeploymentDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_type: str = Field(alias="eventType")
    event_name: Literal[
        "SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"
    ] = Field(alias="eventName")
    deployment_id: str = Field(alias="deploymentId", pattern=r"^ecs-svc/\d+$")
    updated_at: datetime = Field(alias="updatedAt")
    reason: str = ""
    cluster_arn: str | None = Field(default=None, alias="clusterArn")


class EcsDeploymentEvent(AwsEvent):
    """`ECS Deployment State Change`: `resources[0]` is the service ARN (new format, or the old one without the
    cluster name); `detail.clusterArn` may be absent."""

    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    resources: list[str] = Field(min_length=1)
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


class AlarmState(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: datetime | None = None


class AlarmMetric(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class AlarmMetricStat(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    metric: AlarmMetric


class AlarmMetricQuery(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    id: str | None = None
    metric_stat: AlarmMetricStat | None = Field(default=None, alias="metricStat")
    expression: str | None = None


class AlarmConfiguration(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    metrics: list[AlarmMetricQuery] = Field(default_factory=list)
    alarm_rule: str | None = Field(default=None, alias="alarmRule")


class AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    alarm_name: str = Field(alias="alarmName")
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


class InstanceDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    instance_id: str = Field(alias="instance-id", pattern=r"^i-[0-9a-f]+$")
    instance_action: str | None = Field(default=None, alias="instance-action")


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


class LifecycleActionDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    lifecycle_action_token: str = Field(alias="LifecycleActionToken")
    auto_scaling_group_name: str = Field(alias="AutoScalingGroupName")
    lifecycle_hook_name: str = Field(alias="LifecycleHookName")
    ec2_instance_id: str = Field(alias="EC2InstanceId")
    lifecycle_transition: str = Field(alias="LifecycleTransition")
    notification_metadata: str | None = Field(default=None, alias="NotificationMetadata")
    origin: str | None = Field(default=None, alias="Origin")
    destination: str | None = Field(default=None, alias="Destination")


class LifecycleTerminateEvent(AwsEvent):
    """`EC2 Instance-terminate Lifecycle Action` from Auto Scaling (PascalCase detail keys)."""

    detail_type: Literal["EC2 Instance-terminate Lifecycle Action"] = Field(alias="detail-type")
    source: Literal["aws.autoscaling"]
    detail: LifecycleActionDetail


class TaskContainer(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    name: str
    exit_code: int | None = Field(default=None, alias="exitCode")
    reason: str | None = None
    last_status: str | None = Field(default=None, alias="lastStatus")


class TaskAttachmentDetail(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    value: str | None = None


class TaskAttachment(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str | None = None
    details: list[TaskAttachmentDetail] = Field(default_factory=list)


class TaskDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    task_arn: str = Field(alias="taskArn")
    cluster_arn: str = Field(alias="clusterArn")
    last_status: str = Field(alias="lastStatus")
    desired_status: str | None = Field(default=None, alias="desiredStatus")
    group: str | None = None
    stop_code: str | None = Field(default=None, alias="stopCode")
    stopped_reason: str | None = Field(default=None, alias="stoppedReason")
    task_definition_arn: str | None = Field(default=None, alias="taskDefinitionArn")
    started_by: str | None = Field(default=None, alias="startedBy")
    containers: list[TaskContainer] = Field(default_factory=list)
    attachments: list[TaskAttachment] = Field(default_factory=list)
    capacity_provider_name: str | None = Field(default=None, alias="capacityProviderName")

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


class ServiceActionDetail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    event_type: str = Field(alias="eventType")
    event_name: str = Field(alias="eventName")
    cluster_arn: str | None = Field(default=None, alias="clusterArn")


class ServiceActionEvent(AwsEvent):
    """`ECS Service Action` (we use SERVICE_STEADY_STATE: a crash loop is over)."""

    detail_type: Literal["ECS Service Action"] = Field(alias="detail-type")
    source: Literal["aws.ecs"]
    resources: list[str] = Field(min_length=1)
    detail: ServiceActionDetail


SpotDrainTrigger = Annotated[
    SpotInterruptionEvent | RebalanceRecommendationEvent | LifecycleTerminateEvent | TaskStateChangeEvent,
    Field(discriminator="detail_type"),
]
TaskWatchTrigger = Annotated[TaskStateChangeEvent | ServiceActionEvent, Field(discriminator="detail_type")]
