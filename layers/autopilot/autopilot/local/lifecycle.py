"""Auto Scaling terminate lifecycle hooks and EC2 Spot, over moto, on the emulated ECS's clock.

moto terminates an instance at once and implements neither CompleteLifecycleAction nor
RecordLifecycleActionHeartbeat. Here Auto Scaling does what its User Guide ("Amazon EC2 Auto Scaling lifecycle
hooks") says:

- TerminateInstanceInAutoScalingGroup on a group with a terminate hook puts the instance in `Terminating:Wait`,
  gives the action a token and sends the `EC2 Instance-terminate Lifecycle Action` event (shaped as the sample
  in events/, without NotificationMetadata when the hook has none).
- CompleteLifecycleAction and RecordLifecycleActionHeartbeat must name the group, hook and instance of a pending
  action, and its token when one is given; else a 400 ValidationError ("No active Lifecycle Action found with
  instance ID …"), never a 500. Completing moves the instance to `Terminating:Proceed` and terminates it.
- A heartbeat pushes the timeout back by the hook's HeartbeatTimeout; at the timeout the hook's DefaultResult
  applies (for a terminate hook both results terminate), at most 48 hours or 100 times the heartbeat timeout.
- A Spot interruption warning (`inject_spot_warning`) is the two-minute notice: Auto Scaling starts terminating
  the instance (its hook fires) and EC2 reclaims it two minutes later whatever the hook says.
- When an instance goes, ECS loses its container instance: the emulated ECS stops what still ran there.

Every accepted call is recorded in `calls` for tests to count.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autopilot.local.ecs.engine import Engine

SPOT_NOTICE_SECONDS = 120
GLOBAL_TIMEOUT_SECONDS = 48 * 3600
_installed = False


@dataclass
class PendingAction:
    group: str
    hook: str
    instance: str
    token: str
    timeout_at: datetime
    give_up_at: datetime
    heartbeat_seconds: int
    default_result: str


pending: dict[tuple[str, str], PendingAction] = {}
reclaim_at: dict[str, datetime] = {}  # Spot instances EC2 takes back at that moment
calls: list[tuple[str, str, str | None]] = []
tasks_left: dict[str, int] = {}  # service tasks still on an instance when its hook ended (0: drained in time)
_engine: Engine | None = None


def attach(engine: Engine) -> None:
    """Auto Scaling and EC2 Spot on this engine's clock and event bus (a new emulator starts empty)."""
    global _engine  # noqa: PLW0603 - one local AWS per process
    pending.clear()
    reclaim_at.clear()
    calls.clear()
    tasks_left.clear()
    _engine = engine
    engine.tickers.append(_tick)


def _backends() -> list[Any]:
    from moto.autoscaling.models import autoscaling_backends

    return [backend for regions in autoscaling_backends.values() for backend in regions.values()]


def _group_of(instance: str) -> tuple[Any, Any] | None:
    for backend in _backends():
        for group in backend.autoscaling_groups.values():
            for state in group.instance_states:
                if state.instance.id == instance:
                    return backend, state
    return None


def _terminate_hooks(backend: Any, group: str) -> list[Any]:
    return [
        hook
        for hook in backend.lifecycle_hooks.values()
        if hook.auto_scaling_group_name == group and hook.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING"
    ]


def begin_termination(instance: str) -> bool:
    """Auto Scaling starts terminating `instance`: with a terminate hook it waits on it (True), else it is gone."""
    found = _group_of(instance)
    if found is None or _engine is None:
        return False
    backend, state = found
    group = state.instance.autoscaling_group
    if (group.name, instance) in pending:  # already terminating: one action, one token
        return True
    hooks = _terminate_hooks(backend, group.name)
    if not hooks:
        _terminate(backend, instance)
        return False
    hook = hooks[0]
    now = _engine.now
    heartbeat = int(hook.heartbeat_timeout)
    action = PendingAction(
        group=group.name,
        hook=hook.name,
        instance=instance,
        token=str(uuid.uuid4()),
        timeout_at=now + timedelta(seconds=heartbeat),
        give_up_at=now + timedelta(seconds=min(GLOBAL_TIMEOUT_SECONDS, 100 * heartbeat)),
        heartbeat_seconds=heartbeat,
        default_result=str(hook.default_result),
    )
    pending[(group.name, instance)] = action
    state.lifecycle_state = "Terminating:Wait"
    metadata = getattr(hook, "notification_metadata", None)
    sample = (
        "asg-instance-terminate-lifecycle-action.json"
        if metadata
        else ("asg-instance-terminate-lifecycle-action-minimal.json")
    )
    event = _event(sample, [group.arn], backend)
    event["detail"].update(
        LifecycleActionToken=action.token,
        AutoScalingGroupName=group.name,
        LifecycleHookName=hook.name,
        EC2InstanceId=instance,
    )
    if metadata:
        event["detail"]["NotificationMetadata"] = metadata
    _engine.emit(event)
    return True


def inject_spot_warning(instance: str) -> dict[str, Any]:
    """EC2's two-minute Spot interruption warning for `instance`: Auto Scaling starts terminating it."""
    engine = _require_engine()
    event = _instance_event("ec2-spot-interruption-warning.json", instance, **{"instance-action": "terminate"})
    reclaim_at[instance] = engine.now + timedelta(seconds=SPOT_NOTICE_SECONDS)
    begin_termination(instance)
    return event


def inject_rebalance(instance: str) -> dict[str, Any]:
    """EC2's rebalance recommendation for `instance` (nothing is terminated)."""
    return _instance_event("ec2-rebalance-recommendation.json", instance)


def _instance_event(sample: str, instance: str, **detail: str) -> dict[str, Any]:
    """An EC2 event about `instance`, sent on the bus now."""
    engine = _require_engine()
    backend = _ec2_backend_of(instance)
    arn = f"arn:aws:ec2:{backend.region_name}:{backend.account_id}:instance/{instance}"
    event = _event(sample, [arn], backend)
    event["detail"].update({"instance-id": instance, **detail})
    engine.emit(event)
    return event


def _require_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("the local AWS is not running (create_stack_resources starts it)")
    return _engine


def _ec2_backend_of(instance: str) -> Any:
    from moto.ec2.models import ec2_backends

    for regions in ec2_backends.values():
        for backend in regions.values():
            if any(instance == i.id for reservation in backend.reservations.values() for i in reservation.instances):
                return backend
    raise KeyError(f"no EC2 instance {instance} in the local AWS")


def _event(sample: str, resources: list[str], backend: Any) -> dict[str, Any]:
    engine = _require_engine()
    event: dict[str, Any] = json.loads((engine.events_dir / sample).read_text(encoding="utf-8"))
    event.update(
        id=str(uuid.uuid4()),
        account=backend.account_id,
        region=backend.region_name,
        time=engine.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        resources=resources,
    )
    return event


def _tick(now: datetime) -> None:
    for key, action in list(pending.items()):
        if now >= action.timeout_at or now >= action.give_up_at:
            _finish(action, action.default_result, record="timeout")
            pending.pop(key, None)
    for instance, moment in list(reclaim_at.items()):
        if now >= moment:
            del reclaim_at[instance]
            for key, action in list(pending.items()):
                if action.instance == instance:
                    pending.pop(key)
            found = _group_of(instance)
            if found is not None:
                _terminate(found[0], instance)
            else:
                _ec2_backend_of(instance).terminate_instances([instance])
                _instance_gone(instance)


def _finish(action: PendingAction, result: str, *, record: str | None = None) -> None:
    """The hook is done (completed, or timed out with its default result): the instance terminates."""
    found = _group_of(action.instance)
    if record is not None:
        calls.append((record, action.instance, result))
    if _engine is not None:
        tasks_left[action.instance] = len(_engine.service_tasks_on(action.instance))
    if found is None:
        return
    backend, state = found
    state.lifecycle_state = "Terminating:Proceed"
    _terminate(backend, action.instance)


def _terminate(backend: Any, instance: str) -> None:
    found = _group_of(instance)
    if found is not None:
        group = found[1].instance.autoscaling_group
        backend.detach_instances(group.name, [instance], False)
    backend.ec2_backend.terminate_instances([instance])
    _instance_gone(instance)


def _instance_gone(instance: str) -> None:
    if _engine is not None:
        _engine.instance_terminated(instance)


def _action(response: Any) -> PendingAction:
    from moto.autoscaling.exceptions import ValidationError

    group = response._get_param("AutoScalingGroupName")
    instance = response._get_param("InstanceId")
    hook = response._get_param("LifecycleHookName")
    token = response._get_param("LifecycleActionToken")
    action = pending.get((group, instance))
    if action is None or action.hook != hook or (token and token != action.token):
        raise ValidationError(f"No active Lifecycle Action found with instance ID {instance}")
    return action


def install() -> None:
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.autoscaling.models import AutoScalingBackend
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    original_put_hook = AutoScalingResponse.put_lifecycle_hook
    original_terminate = AutoScalingBackend.terminate_instance

    def put_lifecycle_hook(self: Any) -> Any:
        result = original_put_hook(self)
        name, group = self._get_param("LifecycleHookName"), self._get_param("AutoScalingGroupName")
        hook = self.autoscaling_backend.lifecycle_hooks.get(f"{group}_{name}")
        if hook is not None:
            hook.notification_metadata = self._get_param("NotificationMetadata")
        return result

    def terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        found = _group_of(instance_id)
        if (
            found is not None
            and _engine is not None
            and _terminate_hooks(self, found[1].instance.autoscaling_group.name)
        ):
            from moto.autoscaling.models import TerminateInstanceActivity

            group = found[1].instance.autoscaling_group
            size = group.desired_capacity
            if should_decrement:
                group.desired_capacity = max(0, size - 1)
            begin_termination(instance_id)
            return TerminateInstanceActivity(found[1].instance, size)
        return original_terminate(self, instance_id, should_decrement)

    def complete_lifecycle_action(self: Any) -> Any:
        action = _action(self)
        result = self._get_param("LifecycleActionResult")
        del pending[(action.group, action.instance)]
        calls.append(("complete", action.instance, result))
        _finish(action, result)
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: Any) -> Any:
        action = _action(self)
        if _engine is not None:
            action.timeout_at = _engine.now + timedelta(seconds=action.heartbeat_seconds)
        calls.append(("heartbeat", action.instance, None))
        return EmptyResult()

    AutoScalingResponse.put_lifecycle_hook = put_lifecycle_hook  # type: ignore[method-assign]
    AutoScalingBackend.terminate_instance = terminate_instance  # type: ignore[method-assign]
    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action  # type: ignore[attr-defined]
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat  # type: ignore[attr-defined]
    _installed = True
