"""In-memory fakes of the ports the decisions take (autopilot.ports), for Given/When/Then unit
tests without AWS. Each keeps what a test asks about: what was drained, completed, deregistered, queued."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from autopilot.aws.ecs import ContainerInstance, ServiceSnapshot, TaskDefinitionSnapshot, TaskSnapshot
from autopilot.ledger import (
    Approval,
    Claim,
    ClaimState,
    DeployedImage,
    DeploymentChange,
    DeploymentRecord,
    DeployRow,
    EcsDeploymentRow,
    HistoryRow,
    IndexEntry,
    LifecycleRecord,
    Recorded,
    RecordedAs,
    RollbackClaim,
    RollbackClaimRow,
    ServiceState,
)
from autopilot.refs import RepositoryRef, ServiceRef

CLUSTER_ARN = "arn:aws:ecs:us-east-1:123456789012:cluster/spot"


class InjectedError(RuntimeError):
    """A failure a test arranges (an AWS call that fails after the SDK's retries)."""


@dataclass
class FakeCapacity:
    instances: dict[str, ContainerInstance] = field(default_factory=dict)
    tasks: dict[str, list[TaskSnapshot]] = field(default_factory=dict)
    balancers: dict[ServiceRef, list[dict[str, Any]]] = field(default_factory=dict)
    drained: list[str] = field(default_factory=list)
    fail_drain: bool = False

    def add_instance(self, ec2_instance_id: str, *services: str, status: str = "ACTIVE") -> ContainerInstance:
        instance = ContainerInstance(CLUSTER_ARN, f"{CLUSTER_ARN}/ci-{ec2_instance_id}", ec2_instance_id, status)
        self.instances[ec2_instance_id] = instance
        self.tasks[instance.arn] = [
            TaskSnapshot(f"arn:task/{name}-{n}", f"service:{name}", "RUNNING", None) for n, name in enumerate(services)
        ]
        return instance

    def find_container_instance(self, ec2_instance_id: str) -> ContainerInstance | None:
        return self.instances.get(ec2_instance_id)

    def drain(self, instance: ContainerInstance) -> None:
        if self.fail_drain:
            raise InjectedError("UpdateContainerInstancesState throttled")
        self.drained.append(instance.ec2_instance_id)
        self.instances[instance.ec2_instance_id] = ContainerInstance(
            instance.cluster_arn, instance.arn, instance.ec2_instance_id, "DRAINING"
        )

    def service_tasks_on(self, instance: ContainerInstance) -> list[TaskSnapshot]:
        return list(self.tasks.get(instance.arn, []))

    def load_balancers(self, ref: ServiceRef) -> list[dict[str, Any]]:
        return list(self.balancers.get(ref, []))


@dataclass
class FakeHooks:
    waiting_instances: set[str] = field(default_factory=set)
    timeout: int = 3600
    completed: list[tuple[str, str, str, str]] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)

    def heartbeat_timeout(self, group: str, hook: str) -> int:
        return self.timeout

    def waiting(self, instance: str) -> bool:
        return instance in self.waiting_instances

    def heartbeat(self, group: str, hook: str, token: str, instance: str) -> None:
        self.heartbeats.append(instance)

    def complete(self, group: str, hook: str, token: str, instance: str) -> bool:
        self.completed.append((group, hook, token, instance))
        self.waiting_instances.discard(instance)
        return True


@dataclass
class FakeTargets:
    serving_targets: set[tuple[str, str, int]] = field(default_factory=set)
    deregistered: list[tuple[str, str, int]] = field(default_factory=list)
    fail_on: str | None = None  # a target group whose deregistration fails once

    def serving(self, target_group_arn: str, ip: str, port: int) -> bool:
        return (target_group_arn, ip, port) in self.serving_targets

    def deregister(self, target_group_arn: str, ip: str, port: int) -> None:
        if self.fail_on == target_group_arn:
            self.fail_on = None
            raise InjectedError("DeregisterTargets throttled")
        self.deregistered.append((target_group_arn, ip, port))
        self.serving_targets.discard((target_group_arn, ip, port))


@dataclass
class FakeWaitQueue:
    waits: list[dict[str, Any]] = field(default_factory=list)

    def wait(self, state: dict[str, Any], delay_seconds: int = 60) -> None:
        self.waits.append(state)


@dataclass
class FakeLifecycles:
    """The lease semantics of autopilot.ledger.leases, in a dict."""

    rows: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def acquire(self, group: str, instance: str, token: str, owner: str, now: int, lease_seconds: int) -> Claim:
        row = self.rows.get((group, instance, token))
        if row is not None and row["state"] == "DONE":
            return Claim(state=ClaimState.DONE, item=dict(row))
        if row is not None and row["lease_until"] >= now:
            return Claim(state=ClaimState.BUSY, item=dict(row))
        row = {**(row or {}), "state": "CLAIMED", "owner_id": owner, "lease_until": now + lease_seconds}
        self.rows[(group, instance, token)] = row
        return Claim(state=ClaimState.ACQUIRED, item=dict(row))

    def release(self, group: str, instance: str, token: str, owner: str) -> None:
        row = self.rows.get((group, instance, token))
        if row is not None and row["owner_id"] == owner and row["state"] == "CLAIMED":
            row["lease_until"] = 0

    def finish(self, group: str, instance: str, token: str, owner: str, *, outcome: str, completed: bool) -> None:
        row = self.rows[(group, instance, token)]
        assert row["owner_id"] == owner, "only the holder of the claim finishes it"
        row.update(state="DONE", generation=owner, outcome=outcome, completed=completed)
        row.pop("lease_until", None)

    def get(self, group: str, instance: str, token: str) -> LifecycleRecord | None:
        row = self.rows.get((group, instance, token))
        return LifecycleRecord.model_validate(row) if row else None

    def mark_completed(self, group: str, instance: str, token: str) -> None:
        self.rows[(group, instance, token)]["completed"] = True


# -- ECS services and task definitions ----------------------------------------------------------------------
ACCOUNT_PREFIX = "arn:aws:ecs:us-east-1:123456789012"


@dataclass
class FakeServices:
    """Services and task definitions as ECS keeps them: revisions per family, UpdateService starts a PRIMARY
    deployment. `refuse_update` makes the next UpdateService fail with that error."""

    services: dict[ServiceRef, ServiceSnapshot] = field(default_factory=dict)
    task_definitions: dict[str, TaskDefinitionSnapshot] = field(default_factory=dict)
    updates: list[tuple[ServiceRef, str]] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    refuse_update: Exception | None = None
    before_update: Callable[[], None] | None = None  # runs inside UpdateService (a racing push lands here)
    deployments_started: int = 0
    in_flight: dict[ServiceRef, str] = field(default_factory=dict)  # service → its in-flight deployment's ARN
    stopped: list[str] = field(default_factory=list)  # StopServiceDeployment(ROLLBACK) calls
    targets: dict[str, str] = field(default_factory=dict)  # service deployment ARN → the task definition it deploys

    def add_task_definition(self, family: str, image: str) -> str:
        revision = 1 + sum(1 for arn in self.task_definitions if arn.rsplit("/", 1)[-1].startswith(f"{family}:"))
        arn = f"{ACCOUNT_PREFIX}:task-definition/{family}:{revision}"
        body = {
            "family": family,
            "revision": revision,
            "taskDefinitionArn": arn,
            "containerDefinitions": [{"name": family, "image": image, "memory": 128}],
        }
        self.task_definitions[arn] = TaskDefinitionSnapshot(arn=arn, body=body)
        return arn

    def add_service(self, ref: ServiceRef, task_definition: str, tags: dict[str, str]) -> None:
        self.services[ref] = ServiceSnapshot(
            ref=ref,
            arn=f"{ACCOUNT_PREFIX}:service/{ref.cluster}/{ref.name}",
            cluster_arn=f"{ACCOUNT_PREFIX}:cluster/{ref.cluster}",
            task_definition=task_definition,
            tags=tags,
        )

    def describe_services(self, refs: Iterable[ServiceRef]) -> dict[ServiceRef, ServiceSnapshot | None]:
        return {ref: self.services.get(ref) for ref in refs}

    def describe_task_definition(self, arn: str) -> TaskDefinitionSnapshot | None:
        if ":task-definition/" not in arn:  # a family: its newest revision
            family = [td for key, td in self.task_definitions.items() if key.rsplit("/", 1)[-1].split(":")[0] == arn]
            return max(family, key=lambda td: int(td.body["revision"]), default=None)
        return self.task_definitions.get(arn)

    def register_task_definition(self, request: dict[str, Any]) -> str:
        family = request["family"]
        arn = self.add_task_definition(family, "")
        body = {**request, "revision": self.task_definitions[arn].body["revision"], "taskDefinitionArn": arn}
        self.task_definitions[arn] = TaskDefinitionSnapshot(arn=arn, body=body)
        self.registered.append(arn)
        return arn

    def update_service(self, ref: ServiceRef, task_definition: str) -> None:
        if self.before_update is not None:
            hook, self.before_update = self.before_update, None
            hook()
        if self.refuse_update is not None:
            error, self.refuse_update = self.refuse_update, None
            raise error
        self.updates.append((ref, task_definition))
        self.deployments_started += 1
        self.services[ref] = replace(
            self.services[ref],
            task_definition=task_definition,
            deployments=(
                {
                    "id": f"ecs-svc/{1000 + self.deployments_started}",
                    "status": "PRIMARY",
                    "taskDefinition": task_definition,
                },
            ),
        )

    def deployment_in_flight(self, ref: ServiceRef) -> str | None:
        return self.in_flight.get(ref)

    def stop_service_deployment(self, arn: str) -> None:
        self.stopped.append(arn)

    def rolling_back(self, ref: ServiceRef, task_definition: str) -> bool:
        return False

    def deployment_target(self, arn: str) -> str | None:
        return self.targets.get(arn)

    def image_of(self, ref: ServiceRef) -> str:
        body = self.task_definitions[self.services[ref].task_definition].body
        return str(body["containerDefinitions"][0]["image"])


@dataclass
class FakeAlarms:
    tags: dict[str, list[ServiceRef]] = field(default_factory=dict)

    def tagged_services(self, alarm_arn: str) -> list[ServiceRef]:
        return list(self.tags.get(alarm_arn, []))


# -- the ledger's repositories ------------------------------------------------------------------------------
@dataclass
class FakeIndex:
    entries: dict[str, list[IndexEntry]] = field(default_factory=dict)

    def add(self, repository: RepositoryRef, service: ServiceSnapshot) -> None:
        entry = IndexEntry(service=service.ref, service_arn=service.arn, cluster_arn=service.cluster_arn)
        self.entries.setdefault(repository.key, []).append(entry)

    def services_for_repository(self, repository: RepositoryRef) -> list[IndexEntry]:
        return list(self.entries.get(repository.key, []))

    def indexed_services(self) -> dict[ServiceRef, set[str]]:
        found: dict[ServiceRef, set[str]] = {}
        for repository, entries in self.entries.items():
            for entry in entries:
                found.setdefault(entry.service, set()).add(repository)
        return found

    def remove_index_entry(self, repository: RepositoryRef, ref: ServiceRef) -> None:
        self.entries[repository.key] = [e for e in self.entries.get(repository.key, []) if e.service != ref]


@dataclass
class FakeServiceStates:
    """Service state with the ledger's conditions: a decision lands only on the deployed image it was made
    from; last-known-good only moves forward."""

    rows: dict[ServiceRef, ServiceState] = field(default_factory=dict)
    decisions: list[DeploymentRecord] = field(default_factory=list)
    lkg_order: dict[ServiceRef, str] = field(default_factory=dict)

    def states(self, refs: Iterable[ServiceRef]) -> dict[ServiceRef, ServiceState]:
        return {ref: self.state(ref) for ref in refs}

    def state(self, ref: ServiceRef) -> ServiceState:
        return self.rows.get(ref, ServiceState())

    def _update(self, ref: ServiceRef, **changes: Any) -> None:
        self.rows[ref] = self.state(ref).model_copy(update=changes)

    def decide(self, record: DeploymentRecord, expected: DeployedImage | None) -> bool:
        if self.state(record.service).deployed(record.repository) != expected:
            return False
        deployed = DeployedImage(
            tag=record.tag,
            digest=record.digest,
            task_definition=record.new_task_definition,
            event_id=record.event_id,
            pushed_at=record.pushed_at,
        )
        self._update(record.service, images={**self.state(record.service).images, record.repository.key: deployed})
        self.decisions.append(record)
        return True

    def undo_decision(self, record: DeploymentRecord, previous: DeployedImage | None, reason: str) -> None:
        images = dict(self.state(record.service).images)
        mine = images.get(record.repository.key)
        if mine is not None and mine.event_id == record.event_id:
            if previous is None:
                images.pop(record.repository.key)
            else:
                images[record.repository.key] = previous
            self._update(record.service, images=images)

    def deployed_image(self, ref: ServiceRef, repository: RepositoryRef) -> DeployedImage | None:
        return self.state(ref).deployed(repository)

    def set_frozen(self, ref: ServiceRef, frozen: bool) -> None:
        self._update(ref, frozen=frozen)

    def set_last_known_good(self, ref: ServiceRef, task_definition: str, order_key: str) -> bool:
        if self.lkg_order.get(ref, "") > order_key:
            return False
        self.lkg_order[ref] = order_key
        self._update(ref, last_known_good=task_definition)
        return True

    def mark_bad(self, ref: ServiceRef, task_definition: str, digests: Iterable[str]) -> None:
        state = self.state(ref)
        self._update(
            ref,
            bad_revisions=state.bad_revisions | {task_definition},
            quarantined=state.quarantined | set(digests),
        )

    def count_rollback(self, ref: ServiceRef, at: int) -> None:
        self._update(ref, rollbacks=(*self.state(ref).rollbacks, at))


@dataclass
class FakeDeployments:
    """ECS deployments by id (changes recorded in order, older ones stale) and the outcomes set on them."""

    ecs: dict[tuple[ServiceRef, str], dict[str, Any]] = field(default_factory=dict)
    ours_rows: dict[ServiceRef, list[DeployRow]] = field(default_factory=dict)
    observations: list[tuple[ServiceRef, str, str]] = field(default_factory=list)

    def record_ecs_change(self, change: DeploymentChange) -> Recorded:
        key = (change.service, change.deployment_id)
        row = self.ecs.get(key)
        if row is not None and row["order_key"] >= change.order_key:
            same = row["order_key"] == change.order_key
            return Recorded(status=RecordedAs.SAME if same else RecordedAs.STALE, row=self.ecs_deployment(*key))
        row = row or {"deployment_id": change.deployment_id, "task_definition": change.task_definition, "history": []}
        row.update(status=change.status, order_key=change.order_key, updated_at=change.updated_at)
        row.setdefault("created_at", change.created_at or change.updated_at)
        row["history"] = [*row["history"], {"status": change.status, "at": change.updated_at, "reason": change.reason}]
        self.ecs[key] = row
        return Recorded(status=RecordedAs.NEW)

    def ecs_deployment(self, ref: ServiceRef, deployment_id: str) -> EcsDeploymentRow | None:
        row = self.ecs.get((ref, deployment_id))
        return EcsDeploymentRow.model_validate(row) if row else None

    def set_outcome(
        self, ref: ServiceRef, deployment_id: str, outcome: str, detail: str = "", handled: str | None = None
    ) -> None:
        row = self.ecs.setdefault((ref, deployment_id), {"deployment_id": deployment_id, "order_key": ""})
        row.update(outcome=outcome, outcome_detail=detail)
        if handled:
            row["handled"] = handled

    def set_deploy_status(self, ref: ServiceRef, task_definition: str, status: str, at: str) -> bool:
        rows = self.ours_rows.get(ref, [])
        for index, row in enumerate(rows):
            if row.new_task_definition == task_definition:
                rows[index] = row.model_copy(update={"status": status})
                return True
        return False

    def ours(self, ref: ServiceRef, limit: int = 50) -> list[DeployRow]:
        return list(reversed(self.ours_rows.get(ref, [])))[:limit]

    def record_observation(self, ref: ServiceRef, at: str, subject: str, detail: str) -> None:
        self.observations.append((ref, subject, detail))

    def history(self, ref: ServiceRef, limit: int = 100) -> list[HistoryRow]:
        rows = [
            HistoryRow.model_validate({**row, "kind": "ecs-deployment", "steps": row.get("history", [])})
            for (service, _), row in self.ecs.items()
            if service == ref
        ]
        rows += [HistoryRow.model_validate({**row.model_dump(), "kind": "deployment"}) for row in self.ours(ref)]
        return rows[:limit]


@dataclass
class FakeRollbacks:
    """One claim per (service, bad revision), with the lease semantics of the ledger."""

    states: FakeServiceStates
    deployments: FakeDeployments
    rows: dict[tuple[ServiceRef, str], dict[str, Any]] = field(default_factory=dict)

    def acquire(
        self, ref: ServiceRef, bad: str, owner: str, now: int, lease_seconds: int, **values: Any
    ) -> RollbackClaim:
        row = self.rows.get((ref, bad))
        if row is not None and row["state"] == "DONE":
            return RollbackClaim(state=ClaimState.DONE, row=RollbackClaimRow.model_validate(row))
        if row is not None and row["lease_until"] >= now:
            return RollbackClaim(state=ClaimState.BUSY, row=RollbackClaimRow.model_validate(row))
        kept = {key: value for key, value in values.items() if value is not None and key not in (row or {})}
        row = {
            "bad": bad,
            **(row or {}),
            **kept,
            "state": "CLAIMED",
            "owner": owner,
            "lease_until": now + lease_seconds,
        }
        self.rows[(ref, bad)] = row
        return RollbackClaim(state=ClaimState.ACQUIRED, row=RollbackClaimRow.model_validate(row))

    def release(self, ref: ServiceRef, bad: str, owner: str) -> None:
        row = self.rows.get((ref, bad))
        if row is not None and row["owner"] == owner and row["state"] == "CLAIMED":
            row["lease_until"] = 0

    def finish(
        self,
        ref: ServiceRef,
        bad: str,
        owner: str,
        *,
        counted_at: int | None,
        deployment: tuple[str, str, str, str | None] | None,
        **values: Any,
    ) -> None:
        row = self.rows[(ref, bad)]
        assert row["owner"] == owner, "only the holder of the claim finishes it"
        row.update(values, state="DONE")
        if deployment is not None:
            self.deployments.set_outcome(ref, *deployment)
        if counted_at is not None:
            self.states.count_rollback(ref, counted_at)

    def unfinished(self, ref: ServiceRef) -> list[RollbackClaimRow]:
        return [
            RollbackClaimRow.model_validate(row)
            for (service, _), row in self.rows.items()
            if service == ref and row["state"] == "CLAIMED"
        ]


@dataclass
class FakeApprovals:
    """Pushes held for approval, decided once (as the ledger's conditional writes do)."""

    rows: dict[tuple[ServiceRef, str], Approval] = field(default_factory=dict)

    def request(self, ref: ServiceRef, approval: Approval) -> list[Approval]:
        superseded = []
        for older in self.pending(ref):
            if older.approval_id != approval.approval_id and self.decide(
                ref, older.approval_id, "SUPERSEDED", by=None, now=approval.requested_at
            ):
                superseded.append(self.rows[(ref, older.approval_id)])
        self.rows.setdefault((ref, approval.approval_id), approval)
        return superseded

    def get(self, ref: ServiceRef, approval_id: str) -> Approval | None:
        return self.rows.get((ref, approval_id))

    def pending(self, ref: ServiceRef) -> list[Approval]:
        return [row for (key, _), row in self.rows.items() if key == ref and row.status == "PENDING"]

    def decide(self, ref: ServiceRef, approval_id: str, status: str, *, by: str | None, now: int) -> bool:
        row = self.rows.get((ref, approval_id))
        if row is None or row.status != "PENDING" or row.expires_at <= now:
            return False
        self.rows[(ref, approval_id)] = row.model_copy(update={"status": status, "decided_by": by, "decided_at": now})
        return True


class FakeLedger:
    def __init__(self) -> None:
        self.approvals = FakeApprovals()
        self.index = FakeIndex()
        self.services = FakeServiceStates()
        self.deployments = FakeDeployments()
        self.rollbacks = FakeRollbacks(self.services, self.deployments)
