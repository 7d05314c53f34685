"""What the ledger stores and returns, as typed records (pydantic, frozen)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from autopilot.ledger.keys import deploy_sk
from autopilot.model import Model
from autopilot.refs import RepositoryRef, ServiceRef


class Record(Model):
    model_config = ConfigDict(frozen=True)


class IndexEntry(Record):
    service: ServiceRef
    service_arn: str
    cluster_arn: str
    family: str = ""  # the task-definition family the service ran when indexed ("" in entries written before)


class FanOutProgress(Record):
    """A push handed to work items, and how far it got (`ledger.fanouts`)."""

    event_id: str
    repository: str
    tag: str
    region: str | None = None
    services: int
    work_items: int
    started_at: int
    deployed: int = 0
    failed: int = 0
    skipped: int = 0
    done: int = 0  # work items (families) finished

    @property
    def waiting(self) -> int:
        return max(0, self.services - self.deployed - self.failed - self.skipped)


class DeployedImage(Record):
    """What we last decided to deploy from one repository to one service (survives digest pinning), and the
    push that decided it."""

    tag: str
    digest: str
    task_definition: str
    event_id: str = ""
    pushed_at: str = ""  # the deciding push's time (ISO, UTC); "" in decisions written before it was kept

    def as_item(self) -> dict[str, str]:
        """As stored: a decision written before `pushed_at` was kept compares equal to its item."""
        return self.model_dump(exclude={"pushed_at"} if not self.pushed_at else set())


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
    row: EcsDeploymentRow | None = None


class ClaimState(StrEnum):
    ACQUIRED = "ACQUIRED"
    DONE = "DONE"
    BUSY = "BUSY"


class Claim(Record):
    state: ClaimState
    item: dict[str, Any]


class Row(Record):
    """A row as stored: attributes this model does not name are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class StatusStep(Row):
    status: str
    at: str | None = None
    event_time: str | None = None
    reason: str | None = None


class EcsDeploymentRow(Row):
    """An ECS deployment of a service (ours or anyone's), by deployment id: its status changes in order, the
    outcome we recorded, and which status change's handling is complete (`handled`)."""

    deployment_id: str
    task_definition: str | None = None
    status: str | None = None
    order_key: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    history: list[StatusStep] = Field(default_factory=list)
    outcome: str | None = None
    outcome_detail: str | None = None
    handled: str | None = None


class DeployRow(Row):
    """A deployment we decided (one push, one service)."""

    previous_task_definition: str = ""
    new_task_definition: str = ""
    repository: str = ""
    image: str = ""
    tag: str = ""
    digest: str = ""
    event_id: str = ""
    started_at: str | None = None
    status: str = ""
    history: list[StatusStep] = Field(default_factory=list)
    failure: str | None = None


class RollbackClaimRow(Row):
    """The one rollback of an incident (bad revision): CLAIMED while an attempt runs, DONE with its outcome."""

    bad: str
    state: str = "CLAIMED"
    target: str | None = None
    trigger: str | None = None
    reason: str | None = None
    deployment_id: str | None = None
    outcome: str | None = None
    outcome_reason: str | None = None


class RollbackClaim(Record):
    state: ClaimState
    row: RollbackClaimRow


class HistoryRow(Row):
    """One line of a service's history, whatever its kind (deployment, ecs-deployment, rollback,
    manual-rollback), with its time in one format."""

    kind: str
    at: datetime | None = None
    deployment_id: str | None = None
    task_definition: str | None = None
    previous_task_definition: str | None = None
    new_task_definition: str | None = None
    tag: str | None = None
    image: str | None = None
    status: str | None = None
    steps: list[StatusStep] = Field(default_factory=list)
    outcome: str | None = None
    outcome_detail: str | None = None
    actor: str | None = None
    bad: str | None = None
    detail: str | None = None  # an observation: what would have been done
    started_at: str | None = None
    created_at: str | None = None

    @property
    def revision(self) -> str | None:
        """The task definition this row is about (the new one of a deployment we decided)."""
        return self.task_definition or self.new_task_definition


def parse_time(value: object) -> datetime | None:
    """A time as the ledger holds it (ISO-8601, or epoch seconds in older rows) as an aware datetime."""
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value), UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


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
        pushed_at=str(value.get("pushed_at", "")),
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


class Approval(Row):
    """A push held for a person's decision on one service (autopilot:approval=required). PENDING until someone
    approves or rejects it in chat, a newer push supersedes it, or it expires."""

    service: str
    approval_id: str
    status: str = "PENDING"  # PENDING, APPROVED, REJECTED, SUPERSEDED, EXPIRED
    push: str  # the ECR push event as received (JSON): approving deploys it through the same code path
    repository: str
    tag: str
    digest: str
    previous_task_definition: str
    changes: list[str] = Field(default_factory=list)  # "container: old image → new image"
    requested_at: int
    expires_at: int
    decided_by: str | None = None
    decided_at: int | None = None
    superseded_by: str | None = None


class ActionRecord(Row):
    """A person's action from chat on one service (freeze, rollback, approve, continue a pause hook, …)."""

    service: str
    key: str  # what makes it one action: the Slack request, or the pause hook it answers
    action: str  # the command
    actor: str  # slack:<user id>
    detail: str  # the command as typed or pressed
    request: str  # the Slack request it came with
    status: str  # REQUESTED, then DONE or FAILED
    at: str
    outcome_detail: str | None = None
    kind: str = "action"
