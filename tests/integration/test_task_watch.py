"""TaskWatchFunction on the emulated ECS: each stop told once, crash loops aggregated, recovery told once.

The stops are ECS's own: tasks of an image whose behaviour is to crash, replaced by the service scheduler,
their task state changes routed to TaskWatchFunction by template.yaml's rules.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from autopilot.local.ecs.behaviour import parse_behaviour
from tests.integration.world import World

pytestmark = pytest.mark.usefixtures("aws")
IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/shop"


def told() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=os.environ["NOTIFY_QUEUE_URL"], MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=os.environ["NOTIFY_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])


class Watch:
    """prod/web on the emulated ECS, its tasks running the image `shop:<tag>` with the behaviour given."""

    def __init__(self, world: World) -> None:
        self.world = world
        world.cluster("prod")

    def service(self, tag: str, behaviour: str, *, desired: int = 1, name: str = "web") -> None:
        self.world.bus.engine.set_behaviour(tag, parse_behaviour(behaviour))
        definition = self.world.task_definition(
            name, [{"name": "app", "image": f"{IMAGE}:{tag}", "memory": 256, "essential": True}]
        )
        self.world.service("prod", name, definition, {}, desiredCount=desired, launchType="FARGATE")

    def update(self, tag: str, behaviour: str, name: str = "web") -> None:
        self.world.bus.engine.set_behaviour(tag, parse_behaviour(behaviour))
        definition = self.world.task_definition(
            name, [{"name": "app", "image": f"{IMAGE}:{tag}", "memory": 256, "essential": True}]
        )
        self.world.ecs.update_service(cluster="prod", service=name, taskDefinition=definition)

    def stops(self, count: int, *, seconds: float = 3600) -> list[dict[str, Any]]:
        """ECS goes on until `count` more tasks stopped; TaskWatchFunction's answers to them."""
        bus = self.world.bus
        start = len(bus.deliveries)

        def answers() -> list[dict[str, Any]]:
            return [
                d.results["TaskWatchFunction"]
                for d in bus.deliveries[start:]
                if "TaskWatchFunction" in d.results and d.event["detail"].get("lastStatus") == "STOPPED"
            ]

        bus.settle(seconds, until=lambda: len(answers()) >= count)
        return answers()[:count]

    def steady(self) -> None:
        bus = self.world.bus
        start = len(bus.deliveries)
        bus.settle(900, until=lambda: any(d.name == "SERVICE_STEADY_STATE" for d in bus.deliveries[start:]))

    def watch(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.world.project.route(event) == ["TaskWatchFunction"]
        result: dict[str, Any] = self.world.project.invoke("TaskWatchFunction", event)
        return result


@pytest.fixture
def ecs(project, events) -> Watch:
    return Watch(World(project, events))


def test_the_first_stop_is_told_naming_the_container_and_exit_code(ecs: Watch) -> None:
    ecs.service("1.0.0", "exits:1@20s")
    [result] = ecs.stops(1)
    assert (result["stop_class"], result["container"], result["exit_code"], result["told"]) == (
        "essential-exit",
        "app",
        1,
        True,
    )
    [message] = told()
    assert message["title"] == "prod/web: task stopped: app exited 1"
    assert message["facts"]["exit code"] == "1"


def test_a_burst_of_100_stops_within_10_minutes_is_at_most_3_messages(ecs: Watch) -> None:
    ecs.service("1.0.0", "exits:1@10s", desired=20)
    results = ecs.stops(100, seconds=600)
    assert len(results) == 100
    messages = told()
    assert len(messages) <= 3
    assert [m["kind"] for m in messages] == ["task.stopped", "task.crash_loop", "task.crash_loop"]
    assert messages[-1]["title"].startswith("prod/web: crash loop: 100 stops in")
    assert "last exit code 1" in messages[-1]["title"]


def test_recovery_is_one_message_when_the_service_is_steady_again(ecs: Watch) -> None:
    ecs.service("1.0.0", "exits:1@20s")
    ecs.stops(3)
    told()
    ecs.update("1.0.1", "healthy")
    bus = ecs.world.bus
    bus.settle(900, until=lambda: any(d.name == "SERVICE_STEADY_STATE" for d in bus.deliveries))
    steady = next(d for d in bus.deliveries if d.name == "SERVICE_STEADY_STATE")
    assert steady.results["TaskWatchFunction"]["told"] is True
    assert ecs.watch(steady.event)["told"] is False  # steady again, nothing more to say
    assert [m["kind"] for m in told()] == ["task.recovered"]
    ecs.update("1.0.2", "oom@20s")
    ecs.stops(1)
    assert told()[0]["kind"] == "task.stopped"  # a new window starts with a fresh first message


def test_scheduler_and_user_stops_are_quiet(ecs: Watch) -> None:
    ecs.service("1.0.0", "healthy", desired=2)
    ecs.steady()
    ecs.update("1.0.1", "healthy")  # the scheduler stops the old tasks
    quiet = ecs.stops(2)
    assert [r["told"] for r in quiet] == [False, False]
    [task, _] = ecs.world.ecs.list_tasks(cluster="prod", serviceName="web")["taskArns"]
    ecs.world.ecs.stop_task(cluster="prod", task=task, reason="Task stopped by user")
    [user] = ecs.stops(1)
    assert (user["stop_class"], user["told"]) == ("user", False)
    assert told() == []


def test_standalone_tasks_are_classified_and_told_by_family(ecs: Watch) -> None:
    ecs.world.bus.engine.set_behaviour("batch", parse_behaviour("exits:2@30s"))
    definition = ecs.world.task_definition(
        "nightly", [{"name": "app", "image": f"{IMAGE}:batch", "memory": 256, "essential": True}]
    )
    ecs.world.ecs.run_task(cluster="prod", taskDefinition=definition, launchType="FARGATE")
    [result] = ecs.stops(1)
    assert (result["subject"], result["exit_code"], result["told"]) == ("prod/family:nightly", 2, True)


def test_each_class_of_a_service_is_counted_on_its_own(ecs: Watch) -> None:
    ecs.service("1.0.0", "exits:1@20s")
    ecs.stops(1)
    ecs.update("1.0.1", "oom@20s")
    while ecs.stops(1)[0]["stop_class"] != "out-of-memory":
        pass
    messages = told()
    assert [m["kind"] for m in messages] == ["task.stopped", "task.stopped"]
    assert "OutOfMemoryError" in messages[1]["title"] + json.dumps(messages[1]["facts"])


def test_a_malformed_task_event_is_rejected_clearly(ecs: Watch) -> None:
    ecs.service("1.0.0", "exits:1@20s")
    ecs.stops(1)
    event = next(d.event for d in ecs.world.bus.deliveries if d.event["detail"].get("lastStatus") == "STOPPED")
    del event["detail"]["taskArn"]
    assert ecs.world.project.invoke("TaskWatchFunction", event)["rejected"] is True
