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
