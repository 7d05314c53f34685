"""Auto Scaling lifecycle actions, over moto: terminate hooks with real state.

moto implements neither CompleteLifecycleAction nor RecordLifecycleActionHeartbeat. This extension keeps a
pending action per instance (`begin_termination` puts the instance in `Terminating:Wait`, as Auto Scaling does
when a terminate hook fires) and answers both calls as Auto Scaling documents: the group, hook, instance and
token must match a pending action, else a 400 ValidationError ("No active Lifecycle Action found"); completing
moves the instance to `Terminating:Proceed`. Every accepted call is recorded in `calls` for tests to count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_installed = False


@dataclass
class PendingAction:
    group: str
    hook: str
    instance: str
    token: str


pending: dict[tuple[str, str], PendingAction] = {}
calls: list[tuple[str, str, str | None]] = []


def _instance_state(group: str, instance: str) -> Any:
    from moto.autoscaling.models import autoscaling_backends

    for regions in autoscaling_backends.values():
        for backend in regions.values():
            found = backend.autoscaling_groups.get(group)
            if found is not None:
                for state in found.instance_states:
                    if state.instance.id == instance:
                        return state
    return None


def begin_termination(group: str, hook: str, instance: str, token: str) -> None:
    """What Auto Scaling does before it sends the terminate lifecycle event: the instance waits on the hook."""
    pending[(group, instance)] = PendingAction(group, hook, instance, token)
    state = _instance_state(group, instance)
    if state is not None:
        state.lifecycle_state = "Terminating:Wait"


def reset() -> None:
    pending.clear()
    calls.clear()


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
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    def complete_lifecycle_action(self: Any) -> Any:
        action = _action(self)
        result = self._get_param("LifecycleActionResult")
        del pending[(action.group, action.instance)]
        state = _instance_state(action.group, action.instance)
        if state is not None:
            state.lifecycle_state = "Terminating:Proceed"
        calls.append(("complete", action.instance, result))
        return EmptyResult()

    def record_lifecycle_action_heartbeat(self: Any) -> Any:
        action = _action(self)
        calls.append(("heartbeat", action.instance, None))
        return EmptyResult()

    AutoScalingResponse.complete_lifecycle_action = complete_lifecycle_action  # type: ignore[attr-defined]
    AutoScalingResponse.record_lifecycle_action_heartbeat = record_lifecycle_action_heartbeat  # type: ignore[attr-defined]
    _installed = True
