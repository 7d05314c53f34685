"""What the ledger stores and returns, as typed records (pydantic, frozen)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from autopilot.ledger.keys import deploy_sk
from autopilot.refs import RepositoryRef, ServiceRef


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class IndexEntry(Record):
    service: ServiceRef
    service_arn: str
    cluster_arn: str


class DeployedImage(Record):
    """What we last decided to deploy from one repository to one service (survives digest pinning), and the
    push that decided it."""

    tag: str
    digest: str
    task_definition: str
    event_id: str = ""

    def as_item(self) -> dict[str, str]:
        return self.model_dump()


class ServiceState(Record):
    frozen: bool = False
    quarantined: frozenset[str] = frozenset()
    images: dict[str, DeployedImage] = Field(default_factory=dict)
    last_known_good: str | None = None
    bad_revisions: frozenset[str] = frozenset()
    rollbacks: tuple[int, ...] = ()

    def rollbacks_since(self, epoch: int) -> int:
        return sum(1 for at in self.rollbacks if at >= epoch)

    def deployed(self, repository: RepositoryRef) -> DeployedImage | None:
        return self.images.get(repository.key)

    def running_tag(
        self, repository: RepositoryRef, task_definition: str, image_tag: str | None, image_digest: str | None
    ) -> str | None:
        """The version the service runs, or is being deployed to: what we last decided for it (the tag survives
        digest pinning, and a decision in flight counts: never downgrade below it), unless that revision was
        rolled back or the service runs another family; else the tag of the image in its task definition."""
        deployed = self.deployed(repository)
        if deployed is not None and deployed.tag and deployed.task_definition not in self.bad_revisions:
            same_family = family(deployed.task_definition) == family(task_definition)
            if deployed.task_definition == task_definition or deployed.digest == image_digest or same_family:
                return deployed.tag
        return image_tag


class DeploymentRecord(Record):
    service: ServiceRef
    previous_task_definition: str
    new_task_definition: str
    repository: RepositoryRef
    image: str
    tag: str
    digest: str
    event_id: str
    started_at: str
    pushed_at: str = ""  # the push event's time: with its id, the row's key is the same on every retry
    status: str = "IN_PROGRESS"

    @property
    def sort_key(self) -> str:
        return deploy_sk(self.pushed_at or self.started_at, self.event_id)


class DeploymentChange(Record):
    """One ECS deployment status change of one service."""

    service: ServiceRef
    deployment_id: str
    status: str
    task_definition: str
    updated_at: str
    event_time: str
    reason: str = ""
    created_at: str | None = None

    @property
    def order_key(self) -> str:
        rank = {"IN_PROGRESS": 0, "COMPLETED": 1, "FAILED": 1}.get(self.status, 0)
        return f"{self.updated_at}#{rank}#{self.event_time}"


class RecordedAs(StrEnum):
    NEW = "NEW"
    SAME = "SAME"
    STALE = "STALE"


class Recorded(Record):
    status: RecordedAs
    item: dict[str, Any]


class ClaimState(StrEnum):
    ACQUIRED = "ACQUIRED"
    DONE = "DONE"
    BUSY = "BUSY"


class Claim(Record):
    state: ClaimState
    item: dict[str, Any]


class LifecycleRecord(Record):
    """A terminate lifecycle action we handle: CLAIMED while an attempt runs, DONE with the generation of the
    wait it queued (a wait of another generation is stale), `completed` once CompleteLifecycleAction ran."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    state: str
    generation: str | None = None
    outcome: str | None = None
    completed: bool = False


class Thread(Record):
    """The chat message a thread lives in, per route (Slack: channel and message ts)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel: str
    ts: str


def family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def deployed_image_of(value: Mapping[str, Any]) -> DeployedImage:
    return DeployedImage(
        tag=str(value.get("tag", "")),
        digest=str(value.get("digest", "")),
        task_definition=str(value.get("task_definition", "")),
        event_id=str(value.get("event_id", "")),
    )


def state_of(item: Mapping[str, Any]) -> ServiceState:
    images = {
        key.removeprefix("image:"): deployed_image_of(value)
        for key, value in item.items()
        if key.startswith("image:") and isinstance(value, dict)
    }
    return ServiceState(
        frozen=bool(item.get("frozen", False)),
        quarantined=frozenset(item.get("quarantined", set())),
        images=images,
        last_known_good=item.get("last_known_good"),
        bad_revisions=frozenset(item.get("bad_revisions", set())),
        rollbacks=tuple(int(at) for at in item.get("rollbacks", [])),
    )
