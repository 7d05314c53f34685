"""Spot drain decisions, Given/When/Then, against in-memory fakes of their ports (no AWS, no moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from autopilot.drain import DrainPorts, DrainRetryError, handle_fargate_spot, handle_lifecycle, handle_wait
from autopilot.events import LifecycleTerminateEvent, TaskStateChangeEvent
from autopilot.messages import take_outbox
from autopilot.refs import ServiceRef
from tests.conftest import sample
from tests.fakes import FakeCapacity, FakeHooks, FakeLifecycles, FakeTargets, FakeWaitQueue, InjectedError

INSTANCE = "i-1234567890abcdef0"
TOKEN = "87654321-4321-4321-4321-210987654321"  # the sample's LifecycleActionToken
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.capacity = FakeCapacity()
        self.hooks = FakeHooks(waiting_instances={INSTANCE})
        self.targets = FakeTargets()
        self.queue = FakeWaitQueue()
        self.lifecycles = FakeLifecycles()
        self.now = T0
        take_outbox()

    def ports(self, owner: str = "attempt-1", *, observe: bool = False) -> DrainPorts:
        return DrainPorts(
            capacity=self.capacity,
            hooks=self.hooks,
            targets=self.targets,
            lifecycles=self.lifecycles,
            wait_queue=self.queue,
            tags_of=lambda ref: {},
            clock=lambda: self.now,
            owner=owner,
            observe=observe,
        )

    def hook_event(self) -> LifecycleTerminateEvent:
        return LifecycleTerminateEvent.model_validate(sample("asg-instance-terminate-lifecycle-action.json"))

    def told(self) -> list[str]:
        return [message.kind for message in take_outbox()]


@pytest.fixture
def world() -> World:
    return World()


def test_a_terminating_instance_with_service_tasks_is_drained_and_waited_for(world: World) -> None:
    # Given an instance running two services' tasks, whose terminate hook waits
    world.capacity.add_instance(INSTANCE, "web", "api")
    # When the lifecycle action arrives
    report = handle_lifecycle(world.hook_event(), world.ports())
    # Then it is drained once, one wait is queued, the action is DONE with that wait's generation, not completed
    assert report.outcome == "WAITING"
    assert world.capacity.drained == [INSTANCE]
    assert [wait["generation"] for wait in world.queue.waits] == ["attempt-1"]
    record = world.lifecycles.get("my-asg", INSTANCE, TOKEN)
    assert record is not None and (record.state, record.generation, record.completed) == ("DONE", "attempt-1", False)
    assert world.hooks.completed == []
    assert world.told() == ["spot.lifecycle"]


def test_the_same_lifecycle_action_delivered_again_is_a_duplicate(world: World) -> None:
    # Given a lifecycle action already handled
    world.capacity.add_instance(INSTANCE, "web")
    handle_lifecycle(world.hook_event(), world.ports())
    # When EventBridge delivers it again
    report = handle_lifecycle(world.hook_event(), world.ports("attempt-2"))
    # Then nothing is drained or queued again
    assert report.outcome == "DUPLICATE"
    assert world.capacity.drained == [INSTANCE]
    assert len(world.queue.waits) == 1


def test_a_failed_attempt_releases_its_claim_and_the_retry_finishes_the_work(world: World) -> None:
    # Given draining fails once (throttled after the SDK's retries)
    world.capacity.add_instance(INSTANCE, "web")
    world.capacity.fail_drain = True
    # When the first attempt fails
    with pytest.raises(InjectedError):
        handle_lifecycle(world.hook_event(), world.ports())
    # Then Lambda's retry is not told "duplicate": it drains and waits
    world.capacity.fail_drain = False
    report = handle_lifecycle(world.hook_event(), world.ports("attempt-2"))
    assert report.outcome == "WAITING"
    assert world.capacity.drained == [INSTANCE]
    assert [wait["generation"] for wait in world.queue.waits] == ["attempt-2"]


def test_an_attempt_holding_a_live_lease_makes_a_concurrent_one_retry_later(world: World) -> None:
    # Given another invocation holds the action's lease
    world.capacity.add_instance(INSTANCE, "web")
    world.lifecycles.acquire("my-asg", INSTANCE, TOKEN, "other", int(T0.timestamp()), 120)
    # When this one arrives, Then it fails so the platform retries it, and touches nothing
    with pytest.raises(DrainRetryError):
        handle_lifecycle(world.hook_event(), world.ports())
    assert world.capacity.drained == []


def test_an_instance_already_draining_is_not_drained_twice(world: World) -> None:
    # Given an instance a Spot warning already set to DRAINING
    world.capacity.add_instance(INSTANCE, "web", status="DRAINING")
    # When its terminate hook arrives, Then it waits without draining again
    assert handle_lifecycle(world.hook_event(), world.ports()).outcome == "WAITING"
    assert world.capacity.drained == []


def test_an_instance_in_no_cluster_completes_the_hook_at_once(world: World) -> None:
    # Given an instance that is in no ECS cluster
    # When its terminate hook arrives, Then the action continues at once, exactly once
    assert handle_lifecycle(world.hook_event(), world.ports()).outcome == "COMPLETED"
    assert [action[3] for action in world.hooks.completed] == [INSTANCE]
    record = world.lifecycles.get("my-asg", INSTANCE, TOKEN)
    assert record is not None and record.completed


def test_the_wait_completes_the_hook_once_the_service_tasks_are_gone(world: World) -> None:
    # Given a drained instance whose wait is queued
    instance = world.capacity.add_instance(INSTANCE, "web")
    handle_lifecycle(world.hook_event(), world.ports())
    (wait,) = world.queue.waits
    world.told()
    # When its tasks have moved away and the wait comes back
    world.capacity.tasks[instance.arn] = []
    world.now += timedelta(minutes=3)
    report = handle_wait(wait, world.ports("attempt-3"))
    # Then the hook is completed once and the record says so; a redelivered wait changes nothing
    assert report.outcome == "COMPLETED"
    assert len(world.hooks.completed) == 1
    assert handle_wait(wait, world.ports("attempt-4")).outcome == "IGNORED"
    assert len(world.hooks.completed) == 1
    assert world.told() == ["spot.lifecycle_completed"]


def test_a_wait_queued_by_a_failed_attempt_is_dropped(world: World) -> None:
    # Given a wait whose generation is not the one recorded (its attempt failed before recording it)
    world.capacity.add_instance(INSTANCE, "web")
    handle_lifecycle(world.hook_event(), world.ports())
    stale: dict[str, Any] = {**world.queue.waits[0], "generation": "attempt-that-failed"}
    # When it comes back, Then it is ignored: only the recorded generation waits on
    assert handle_wait(stale, world.ports()).outcome == "IGNORED"
    assert world.hooks.completed == []


def test_a_hook_that_already_ended_is_not_completed_again(world: World) -> None:
    # Given the action ended meanwhile (the heartbeat timeout passed, or someone completed it)
    instance = world.capacity.add_instance(INSTANCE, "web")
    handle_lifecycle(world.hook_event(), world.ports())
    world.capacity.tasks[instance.arn] = []
    world.hooks.waiting_instances.clear()
    # When the wait comes back, Then CompleteLifecycleAction is not called
    report = handle_wait(world.queue.waits[0], world.ports())
    assert report.outcome == "COMPLETED" and "had already ended" in report.detail
    assert world.hooks.completed == []


def test_a_long_wait_sends_a_heartbeat_before_the_hook_times_out(world: World) -> None:
    # Given a hook with a 5-minute heartbeat timeout and tasks that stay
    world.hooks.timeout = 300
    world.capacity.add_instance(INSTANCE, "web")
    handle_lifecycle(world.hook_event(), world.ports())
    # When the wait comes back 4 minutes later, Then a heartbeat keeps the instance alive
    world.now += timedelta(minutes=4)
    assert handle_wait(world.queue.waits[0], world.ports()).outcome == "WAITING"
    assert world.hooks.heartbeats == [INSTANCE]


def fargate_task() -> TaskStateChangeEvent:
    return TaskStateChangeEvent.model_validate(sample("ecs-task-fargate-spot-interruption.json"))


def test_a_retry_after_a_partial_deregistration_leaves_only_the_remaining_group(world: World) -> None:
    # Given a Fargate Spot task of FargateCluster/web behind two target groups
    task = fargate_task().detail
    ip = task.private_ip
    assert ip is not None
    groups = ["arn:tg/public", "arn:tg/internal"]
    world.capacity.balancers[ServiceRef("FargateCluster", "web")] = [
        {"targetGroupArn": group, "containerPort": port} for group, port in zip(groups, (8080, 9090), strict=True)
    ]
    world.targets.serving_targets = {(groups[0], ip, 8080), (groups[1], ip, 9090)}
    world.targets.fail_on = groups[1]
    # When the first attempt leaves the first group and fails on the second
    with pytest.raises(InjectedError):
        handle_fargate_spot(task, world.ports())
    # Then the retry reads target health and deregisters only from the second group
    assert handle_fargate_spot(task, world.ports()).outcome == "DEREGISTERED"
    assert world.targets.deregistered == [(groups[0], ip, 8080), (groups[1], ip, 9090)]


def test_observe_mode_drains_nothing_and_lets_the_termination_go_on(world: World) -> None:
    # Given the stack is in observe mode and an instance with service tasks terminates
    world.capacity.add_instance(INSTANCE, "web")
    ports = world.ports(observe=True)
    # When the hook arrives, Then nothing is drained or waited for, and the hook is completed at once
    report = handle_lifecycle(world.hook_event(), ports)
    assert report.outcome == "COMPLETED" and "would drain" in report.detail
    assert world.capacity.drained == [] and world.queue.waits == []
    assert len(world.hooks.completed) == 1
    assert world.told() == ["spot.observed"]
