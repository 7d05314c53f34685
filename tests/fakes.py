"""In-memory fakes of the ports the decisions take (autopilot.drain's Protocols), for Given/When/Then unit
tests without AWS. Each keeps what a test asks about: what was drained, completed, deregistered, queued."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autopilot.aws.ecs import ContainerInstance, TaskSnapshot
from autopilot.ledger import Claim, ClaimState, LifecycleRecord
from autopilot.refs import ServiceRef

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
