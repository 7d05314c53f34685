"""TaskWatchFunction under moto: each stop told once, crash loops aggregated, recovery told once."""

from __future__ import annotations

import copy
import json
import os
import uuid
from typing import Any

import boto3
import pytest

from tests.conftest import sample


def stopped(name: str = "ecs-task-stopped-essential-exit.json", **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(sample(name))
    task_id = uuid.uuid4().hex
    event.update(id=str(uuid.uuid4()), account="123456789012", region="us-west-2")
    event["detail"].update(taskArn=f"arn:aws:ecs:us-west-2:123456789012:task/FargateCluster/{task_id}", **detail)
    return event


def watch(project, event: dict[str, Any]) -> dict[str, Any]:
    assert project.route(event) == ["TaskWatchFunction"]
    result: dict[str, Any] = project.invoke("TaskWatchFunction", event)
    return result


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


pytestmark = pytest.mark.usefixtures("aws")


def test_the_first_stop_is_told_naming_the_container_and_exit_code(project) -> None:
    result = watch(project, stopped())
    assert (result["stop_class"], result["container"], result["exit_code"], result["told"]) == (
        "essential-exit",
        "FargateApp",
        1,
        True,
    )
    [message] = told()
    assert message["title"] == "FargateCluster/web: task stopped: FargateApp exited 1"
    assert message["facts"]["exit code"] == "1"


def test_a_burst_of_100_stops_within_10_minutes_is_at_most_3_messages(project) -> None:
    for _ in range(100):
        watch(project, stopped())
    messages = told()
    assert len(messages) <= 3
    assert [m["kind"] for m in messages] == ["task.stopped", "task.crash_loop", "task.crash_loop"]
    assert messages[-1]["title"].startswith("FargateCluster/web: crash loop: 100 stops in")
    assert "last exit code 1" in messages[-1]["title"]


def test_recovery_is_one_message_when_the_service_is_steady_again(project) -> None:
    for _ in range(3):
        watch(project, stopped())
    told()
    steady = copy.deepcopy(sample("ecs-service-steady-state.json"))
    steady.update(
        account="123456789012",
        region="us-west-2",
        resources=["arn:aws:ecs:us-west-2:123456789012:service/FargateCluster/web"],
    )
    steady["detail"]["clusterArn"] = "arn:aws:ecs:us-west-2:123456789012:cluster/FargateCluster"
    assert watch(project, steady)["told"] is True
    assert watch(project, steady)["told"] is False  # steady again, nothing more to say
    [message] = told()
    assert message["kind"] == "task.recovered"
    watch(project, stopped())
    assert told()[0]["kind"] == "task.stopped"  # a new window starts with a fresh first message


@pytest.mark.parametrize("name", ["ecs-task-stopped-deployment.json", "ecs-task-stopped-user.json"])
def test_scheduler_and_user_stops_are_quiet(project, name: str) -> None:
    assert watch(project, stopped(name))["told"] is False
    assert told() == []


def test_standalone_tasks_are_classified_and_told_by_family(project) -> None:
    result = watch(project, stopped("ecs-task-stopped-standalone.json"))
    assert (result["subject"], result["exit_code"], result["told"]) == ("FargateCluster/family:sample-fargate", 2, True)


def test_each_class_of_a_service_is_counted_on_its_own(project) -> None:
    watch(project, stopped())
    watch(project, stopped("ecs-task-stopped-oom.json"))
    assert [m["kind"] for m in told()] == ["task.stopped", "task.stopped"]


def test_a_malformed_task_event_is_rejected_clearly(project) -> None:
    event = stopped()
    del event["detail"]["taskArn"]
    assert project.invoke("TaskWatchFunction", event)["rejected"] is True
