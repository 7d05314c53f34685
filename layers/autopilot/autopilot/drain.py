"""Spot drain: move work off capacity before it disappears, and tell people when it starts and when it is done.

- EC2 Spot interruption warning: set the instance's ECS container instance to DRAINING.
- EC2 rebalance recommendation: the same when `DrainOnRebalance` is true, else only tell people.
- Auto Scaling terminate lifecycle hook: drain, then wait (a message on our own delay queue, checked every
  minute, with a heartbeat before the hook's timeout) until no service task runs there, then CONTINUE.
- Fargate Spot interruption of a task (two minutes ahead, still RUNNING): take its IP out of every target group
  of its service at once, so no new request reaches it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from autopilot.aws.ecs import ContainerInstance
from autopilot.config.service_tags import parse_service_tags
from autopilot.events import LifecycleTerminateEvent, RebalanceRecommendationEvent, SpotInterruptionEvent, TaskDetail
from autopilot.ledger import ClaimState
from autopilot.messages import Message, Severity, emit
from autopilot.model import Model
from autopilot.notify.links import service_links
from autopilot.observability import logger
from autopilot.ports import Capacity, Hooks, Lifecycles, Targets, WaitQueue
from autopilot.refs import ServiceRef, cluster_name

HEARTBEAT_MARGIN_SECONDS = 120
CHECK_EVERY_SECONDS = 60


class DrainReport(Model):
    trigger: str
    subject: str
    outcome: str  # DRAINED, TOLD, NOT_IN_CLUSTER, WAITING, COMPLETED, DEREGISTERED, DUPLICATE, IGNORED
    detail: str = ""
    services: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class DrainPorts:
    capacity: Capacity
    hooks: Hooks
    targets: Targets
    lifecycles: Lifecycles
    wait_queue: WaitQueue | None
    tags_of: Callable[[ServiceRef], dict[str, str] | None]
    region: str | None = None
    drain_on_rebalance: bool = False
    max_wait_seconds: int = 3600
    check_every_seconds: int = CHECK_EVERY_SECONDS
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    flush: Callable[[], object] = lambda: None  # puts what was told on the queue before an outcome is recorded
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    observe: bool = False  # the stack's Mode=observe: told "would drain", nothing drained or deregistered


class DrainRetryError(RuntimeError):
    """Another invocation holds this lifecycle action, or its wait is not recorded yet: retried later."""


def _services(instance: ContainerInstance, ports: DrainPorts) -> list[str]:
    cluster = cluster_name(instance.cluster_arn)
    names = sorted({task.group.removeprefix("service:") for task in ports.capacity.service_tasks_on(instance)})
    return [f"{cluster}/{name}" for name in names]


def _tell(
    ports: DrainPorts,
    kind: str,
    severity: Severity,
    title: str,
    facts: dict[str, str],
    services: list[str],
    thread: str,
) -> None:
    routes: list[str] = []
    links = []
    for name in services:
        ref = ServiceRef.parse(name)
        tags = ports.tags_of(ref)
        routes += [route for route in (parse_service_tags(tags).notify_routes if tags else ()) if route not in routes]
        links += service_links(ref, ports.region)[:1]
    emit(
        Message(
            kind=kind,
            severity=severity,
            service=services[0] if len(services) == 1 else None,
            title=title,
            facts={**facts, "services": ", ".join(services) or "none"},
            links=links[:5],
            routes=routes,
            region=ports.region,
            thread_key=thread,
        )
    )


def handle_interruption(event: SpotInterruptionEvent | RebalanceRecommendationEvent, ports: DrainPorts) -> DrainReport:
    instance_id = event.detail.instance_id
    rebalance = isinstance(event, RebalanceRecommendationEvent)
    trigger = "rebalance recommendation" if rebalance else "Spot interruption warning"
    instance = ports.capacity.find_container_instance(instance_id)
    if instance is None:
        logger.info("instance is in no ECS cluster; nothing to drain", extra={"instance": instance_id})
        return DrainReport(
            trigger=trigger, subject=instance_id, outcome="NOT_IN_CLUSTER", detail="the instance is in no ECS cluster"
        )
    services = _services(instance, ports)
    cluster = cluster_name(instance.cluster_arn)
    thread = f"{cluster}#{instance_id}"
    if rebalance and not ports.drain_on_rebalance:
        _tell(
            ports,
            "spot.rebalance",
            Severity.INFO,
            f"{cluster}: EC2 recommends rebalancing Spot instance {instance_id} (not drained: DrainOnRebalance is off)",
            {"instance": instance_id},
            services,
            thread,
        )
        return DrainReport(
            trigger=trigger, subject=instance_id, outcome="TOLD", services=services, detail="DrainOnRebalance is off"
        )
    action = getattr(event.detail, "instance_action", None) or "interruption"
    _tell(
        ports,
        "spot.warning",
        Severity.WARNING,
        f"{cluster}: Spot instance {instance_id} gets a {trigger} ({action})",
        {"instance": instance_id},
        services,
        thread,
    )
    if ports.observe:
        return _observed(
            ports, trigger, instance_id, services, thread, f"{cluster}: would set {instance_id} to DRAINING"
        )
    if instance.status != "DRAINING":  # read first: a retry does not drain twice
        ports.capacity.drain(instance)
    _tell(
        ports,
        "spot.drained",
        Severity.INFO,
        f"{cluster}: {instance_id} set to DRAINING; its service tasks move",
        {"instance": instance_id, "container instance": instance.arn.rsplit("/", 1)[-1]},
        services,
        thread,
    )
    return DrainReport(trigger=trigger, subject=instance_id, outcome="DRAINED", services=services)


LEASE_SECONDS = 120


def handle_lifecycle(event: LifecycleTerminateEvent, ports: DrainPorts) -> DrainReport:
    """Drain, then wait (or complete at once). The action is claimed with a lease that a failure releases; it
    is DONE once its first wait is queued (that wait's generation is the claim's owner) or the hook completed."""
    hook = event.detail
    trigger = f"lifecycle hook {hook.lifecycle_hook_name}"
    instance_id = hook.ec2_instance_id
    action = (hook.auto_scaling_group_name, instance_id, hook.lifecycle_action_token)
    now = int(ports.clock().timestamp())
    claim = ports.lifecycles.acquire(*action, ports.owner, now, LEASE_SECONDS)
    if claim.state == ClaimState.DONE:
        return DrainReport(
            trigger=trigger, subject=instance_id, outcome="DUPLICATE", detail="this lifecycle action is handled"
        )
    if claim.state == ClaimState.BUSY:
        raise DrainRetryError(f"{instance_id}: another invocation is handling this lifecycle action")
    try:
        report = _start_lifecycle(event, ports, trigger)
        ports.flush()
        ports.lifecycles.finish(*action, ports.owner, outcome=report.outcome, completed=report.outcome == "COMPLETED")
    except BaseException:
        ports.lifecycles.release(*action, ports.owner)
        raise
    return report


def _start_lifecycle(event: LifecycleTerminateEvent, ports: DrainPorts, trigger: str) -> DrainReport:
    hook = event.detail
    instance_id = hook.ec2_instance_id
    instance = ports.capacity.find_container_instance(instance_id)
    if instance is None:
        _complete(
            ports, hook.auto_scaling_group_name, hook.lifecycle_hook_name, hook.lifecycle_action_token, instance_id
        )
        return DrainReport(
            trigger=trigger,
            subject=instance_id,
            outcome="COMPLETED",
            detail="the instance is in no ECS cluster: completed at once",
        )
    services = _services(instance, ports)
    cluster = cluster_name(instance.cluster_arn)
    thread = f"{cluster}#{instance_id}"
    if ports.observe:  # the hook must not hold the termination up for an action that is only told
        _complete(
            ports, hook.auto_scaling_group_name, hook.lifecycle_hook_name, hook.lifecycle_action_token, instance_id
        )
        report = _observed(
            ports,
            trigger,
            instance_id,
            services,
            thread,
            f"{cluster}: would drain {instance_id} and wait for its service tasks",
        )
        return report.model_copy(update={"outcome": "COMPLETED", "detail": report.detail + "; hook completed"})
    _tell(
        ports,
        "spot.lifecycle",
        Severity.INFO,
        f"{cluster}: {hook.auto_scaling_group_name} terminates {instance_id}; draining it first",
        {"instance": instance_id, "hook": hook.lifecycle_hook_name},
        services,
        thread,
    )
    if instance.status != "DRAINING":  # read first: a retry does not drain twice
        ports.capacity.drain(instance)
    now = int(ports.clock().timestamp())
    state = {
        "kind": "lifecycle-wait",
        "group": hook.auto_scaling_group_name,
        "hook": hook.lifecycle_hook_name,
        "token": hook.lifecycle_action_token,
        "instance": instance_id,
        "cluster": instance.cluster_arn,
        "container_instance": instance.arn,
        "started": now,
        "last_heartbeat": now,
        "heartbeat_timeout": ports.hooks.heartbeat_timeout(hook.auto_scaling_group_name, hook.lifecycle_hook_name),
        "services": services,
        "generation": ports.owner,
    }
    return _wait_or_complete(state, ports, trigger)


def _complete(ports: DrainPorts, group: str, hook: str, token: str, instance: str) -> bool:
    """CONTINUE, unless the action is over already (read first: one CompleteLifecycleAction per action)."""
    if not ports.hooks.waiting(instance):
        return False
    return ports.hooks.complete(group, hook, token, instance)


def handle_wait(state: dict[str, Any], ports: DrainPorts) -> DrainReport:
    """One check of a lifecycle wait (a message back from the delay queue). A wait whose generation is not the
    one recorded for the action (queued by an attempt that failed before recording it) is dropped."""
    trigger = f"lifecycle hook {state.get('hook')}"
    action = (str(state.get("group")), str(state.get("instance")), str(state.get("token")))
    recorded = ports.lifecycles.get(*action)
    generation = state.get("generation")
    if generation is not None:
        if recorded is None or recorded.state != "DONE":
            raise DrainRetryError(f"{state.get('instance')}: the wait is not recorded yet")
        if recorded.generation != generation or recorded.completed:
            return DrainReport(
                trigger=trigger, subject=str(state.get("instance")), outcome="IGNORED", detail="superseded wait"
            )
    return _wait_or_complete(state, ports, trigger, record=action if generation is not None else None)


def _wait_or_complete(
    state: dict[str, Any], ports: DrainPorts, trigger: str, record: tuple[str, str, str] | None = None
) -> DrainReport:
    instance = ContainerInstance(
        str(state["cluster"]), str(state["container_instance"]), str(state["instance"]), "DRAINING"
    )
    remaining = ports.capacity.service_tasks_on(instance)
    now = int(ports.clock().timestamp())
    waited = now - int(state["started"])
    cluster = cluster_name(instance.cluster_arn)
    thread = f"{cluster}#{instance.ec2_instance_id}"
    services = list(state.get("services", []))
    if remaining and waited < ports.max_wait_seconds and ports.wait_queue is not None:
        if now - int(state["last_heartbeat"]) >= int(state["heartbeat_timeout"]) - HEARTBEAT_MARGIN_SECONDS:
            ports.hooks.heartbeat(state["group"], state["hook"], state["token"], instance.ec2_instance_id)
            state = {**state, "last_heartbeat": now}
        ports.wait_queue.wait(state, ports.check_every_seconds)
        return DrainReport(
            trigger=trigger,
            subject=instance.ec2_instance_id,
            outcome="WAITING",
            services=services,
            detail=f"{len(remaining)} service task(s) still on the instance",
        )
    completed = _complete(ports, state["group"], state["hook"], state["token"], instance.ec2_instance_id)
    if remaining:
        detail = f"{len(remaining)} service task(s) still running after {waited // 60} min: completed anyway"
        severity = Severity.WARNING
    else:
        detail = f"no service task left after {waited // 60} min"
        severity = Severity.SUCCESS
    _tell(  # the same words whoever completed it: a retry after a lost record repeats it, the queue drops it
        ports,
        "spot.lifecycle_completed",
        severity,
        f"{cluster}: {instance.ec2_instance_id} drained, termination continues",
        {"detail": detail},
        services,
        thread,
    )
    ports.flush()
    if record is not None:
        ports.lifecycles.mark_completed(*record)
    if not completed:
        detail += " (the lifecycle action had already ended)"
    return DrainReport(
        trigger=trigger, subject=instance.ec2_instance_id, outcome="COMPLETED", services=services, detail=detail
    )


def _observed(
    ports: DrainPorts, trigger: str, subject: str, services: list[str], thread: str, what: str
) -> DrainReport:
    _tell(ports, "spot.observed", Severity.INFO, f"{what} (observe mode: nothing changed)", {}, services, thread)
    return DrainReport(trigger=trigger, subject=subject, outcome="OBSERVED", services=services, detail=what)


def handle_fargate_spot(task: TaskDetail, ports: DrainPorts) -> DrainReport:
    trigger = f"Fargate Spot {task.stop_code}"
    cluster = cluster_name(task.cluster_arn)
    if task.last_status != "RUNNING":
        return DrainReport(trigger=trigger, subject=task.task_arn, outcome="IGNORED", detail="the task already stopped")
    thread = f"{cluster}#{task.task_id}"
    if task.service_name is None:
        _tell(
            ports,
            "spot.task",
            Severity.WARNING,
            f"{cluster}: Fargate Spot task {task.task_id} ({task.group or 'standalone'}) is interrupted in 2 minutes",
            {"task": task.task_id},
            [],
            thread,
        )
        return DrainReport(
            trigger=trigger,
            subject=task.task_arn,
            outcome="TOLD",
            detail="a task without a service: nothing to take out of a load balancer",
        )
    ref = ServiceRef(cluster, task.service_name)
    _tell(
        ports,
        "spot.task",
        Severity.WARNING,
        f"{ref}: Fargate Spot task {task.task_id} is interrupted in 2 minutes",
        {"task": task.task_id},
        [str(ref)],
        thread,
    )
    ip = task.private_ip
    balancers = [lb for lb in ports.capacity.load_balancers(ref) if lb.get("targetGroupArn")]
    if ip is None or not balancers:
        detail = "no target group to leave" if ip else "the task has no private IP in the event"
        return DrainReport(trigger=trigger, subject=task.task_arn, outcome="TOLD", services=[str(ref)], detail=detail)
    if ports.observe:
        names = ", ".join(str(lb["targetGroupArn"]).split(":")[-1].split("/")[1] for lb in balancers)
        return _observed(
            ports,
            trigger,
            task.task_arn,
            [str(ref)],
            thread,
            f"{ref}: would take task {task.task_id} ({ip}) out of {names}",
        )
    for lb in balancers:  # read first: a retry after a partial failure leaves the groups already left alone
        group, port = str(lb["targetGroupArn"]), int(lb.get("containerPort", 0))
        if ports.targets.serving(group, ip, port):
            ports.targets.deregister(group, ip, port)
    names = ", ".join(str(lb["targetGroupArn"]).split(":")[-1].split("/")[1] for lb in balancers)
    _tell(
        ports,
        "spot.deregistered",
        Severity.INFO,
        f"{ref}: task {task.task_id} taken out of {len(balancers)} target group(s) before the interruption",
        {"task": task.task_id, "ip": ip, "target groups": names},
        [str(ref)],
        thread,
    )
    return DrainReport(
        trigger=trigger,
        subject=task.task_arn,
        outcome="DEREGISTERED",
        services=[str(ref)],
        detail=f"{ip} out of {names}",
    )
