"""SpotDrainFunction on the local AWS: EC2 Spot warnings and rebalance recommendations, Auto Scaling terminate
lifecycle hooks with the delay-queue wait, and Fargate Spot interruptions, each event sent by the emulated EC2,
Auto Scaling or ECS (autopilot.local.lifecycle, autopilot.local.ecs) about its own instances and tasks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from autopilot.local import capacity as local_capacity
from autopilot.local import lifecycle
from autopilot.local.bus import LocalBus
from autopilot.local.ecs import api as ecs_api
from autopilot.local.ecs.engine import Engine
from autopilot.local.pump import sqs_event
from autopilot.settings import get_settings
from tests.conftest import sample


@pytest.fixture
def hook_calls() -> list[tuple[str, str, str | None]]:
    """Auto Scaling lifecycle actions with state (autopilot.local.lifecycle): every accepted
    CompleteLifecycleAction and RecordLifecycleActionHeartbeat, and every hook timeout, in order."""
    return lifecycle.calls


def engine() -> Engine:
    found = ecs_api.current()
    assert found is not None
    return found


def sent(name: str) -> list[dict[str, Any]]:
    """The events of kind `name` (detail-type) the local AWS sent since last asked, not delivered."""
    events = engine().take_events()
    return [event for event in events if event["detail-type"] == name]


class Capacity:
    """An EC2 cluster `spot`: two container instances in the Auto Scaling group my-asg (a terminate hook, heartbeat
    300 s, default CONTINUE) and a third instance in the group but in no cluster. The service spot/web runs one
    task on the first instance; a standalone task runs there too."""

    def __init__(self, project) -> None:
        self.ec2 = boto3.client("ec2")
        self.ecs = boto3.client("ecs")
        self.autoscaling = boto3.client("autoscaling")
        self.bus = LocalBus(project, engine())
        self.instance_id, self.spare_id, self.outside_id = local_capacity.launch_instances(3)
        self.ecs.create_cluster(clusterName="spot")
        self.container_instance = self.join(self.instance_id)
        task_definition = self.ecs.register_task_definition(
            family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster="spot",
            serviceName="web",
            taskDefinition=task_definition,
            desiredCount=1,
            launchType="EC2",
            tags=[{"key": "autopilot:deploy", "value": "off"}],
        )
        self.ecs.start_task(
            cluster="spot",
            taskDefinition=task_definition,
            group="family:web",
            containerInstances=[self.container_instance],
        )
        engine().advance(60)  # the service's task runs on the first instance
        self.service_task = self.ecs.list_tasks(cluster="spot", serviceName="web")["taskArns"][0]
        self.join(self.spare_id)
        engine().take_events()
        local_capacity.terminate_hook(
            "my-asg", [self.instance_id, self.spare_id, self.outside_id], hook="my-lifecycle-hook"
        )
        local_capacity.put_terminate_hook(  # again, now with metadata: the full event's shape
            "my-asg", "my-lifecycle-hook", default_result="CONTINUE", metadata="additional-info"
        )

    def join(self, instance: str) -> str:
        return local_capacity.join_cluster("spot", instance)

    def status(self) -> str:
        described = self.ecs.describe_container_instances(cluster="spot", containerInstances=[self.container_instance])
        return str(described["containerInstances"][0]["status"])

    def terminate(self, instance: str) -> dict[str, Any]:
        """Auto Scaling terminates `instance`: the hook's event it sends."""
        self.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=instance, ShouldDecrementDesiredCapacity=True
        )
        [event] = sent("EC2 Instance-terminate Lifecycle Action")
        return event

    def lifecycle_state(self, instance: str) -> str | None:
        found = self.autoscaling.describe_auto_scaling_instances(InstanceIds=[instance])["AutoScalingInstances"]
        return str(found[0]["LifecycleState"]) if found else None

    def tasks_on(self, container_instance: str) -> list[str]:
        return list(self.ecs.list_tasks(cluster="spot", containerInstance=container_instance)["taskArns"])


@pytest.fixture
def capacity(aws, project) -> Capacity:
    return Capacity(project)


def spot(project, event: dict[str, Any]) -> dict[str, Any]:
    assert project.route(event) == ["SpotDrainFunction"]
    result: dict[str, Any] = project.invoke("SpotDrainFunction", event)
    return result


def waits_in_queue() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    url = os.environ["DRAIN_WAIT_QUEUE_URL"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def queued_kinds() -> list[str]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=os.environ["NOTIFY_QUEUE_URL"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"])["kind"] for message in messages]


def warning(instance: str) -> dict[str, Any]:
    lifecycle.inject_spot_warning(instance)
    [event] = sent("EC2 Spot Instance Interruption Warning")
    engine().take_events()  # the hook's event Auto Scaling sends at the same time: not needed here
    return event


def test_spot_warning_drains_the_container_instance_and_tells_people_twice(project, capacity: Capacity) -> None:
    result = spot(project, warning(capacity.instance_id))
    assert result["outcome"] == "DRAINED"
    assert result["services"] == ["spot/web"]
    assert capacity.status() == "DRAINING"
    assert queued_kinds() == ["spot.warning", "spot.drained"]


def test_an_instance_in_no_cluster_is_logged_and_left_alone(project, capacity: Capacity) -> None:
    result = spot(project, warning(capacity.outside_id))
    assert result["outcome"] == "NOT_IN_CLUSTER"
    assert capacity.status() == "ACTIVE"
    assert queued_kinds() == []


def test_rebalance_only_tells_unless_drain_on_rebalance(project, capacity: Capacity, monkeypatch) -> None:
    lifecycle.inject_rebalance(capacity.instance_id)
    [event] = sent("EC2 Instance Rebalance Recommendation")
    assert spot(project, event)["outcome"] == "TOLD"
    assert capacity.status() == "ACTIVE"
    monkeypatch.setenv("DRAIN_ON_REBALANCE", "true")
    get_settings.cache_clear()
    assert spot(project, event)["outcome"] == "DRAINED"
    assert capacity.status() == "DRAINING"


def test_lifecycle_hook_drains_waits_for_service_tasks_then_continues(project, capacity: Capacity, hook_calls) -> None:
    event = capacity.terminate(capacity.instance_id)
    assert capacity.lifecycle_state(capacity.instance_id) == "Terminating:Wait"
    assert spot(project, event)["outcome"] == "WAITING"
    assert capacity.status() == "DRAINING"
    waits = waits_in_queue()
    assert len(waits) == 1  # checked again a minute later, through the delay queue, not by recursion
    assert hook_calls == []
    # the service task still runs on the draining instance: wait again
    arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["DRAIN_WAIT_QUEUE_URL"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    again = project.invoke("SpotDrainFunction", sqs_event(waits, arn, "us-west-2"))
    assert again == {"batchItemFailures": []}
    waits = waits_in_queue()
    assert len(waits) == 1
    assert capacity.service_task in capacity.tasks_on(capacity.container_instance)
    # ECS starts a replacement on the spare instance, then stops the draining one (the standalone task stays)
    capacity.bus.settle(120, until=lambda: capacity.service_task not in capacity.tasks_on(capacity.container_instance))
    assert capacity.ecs.list_tasks(cluster="spot", serviceName="web")["taskArns"] != [capacity.service_task]
    project.invoke("SpotDrainFunction", sqs_event(waits, arn, "us-west-2"))
    assert hook_calls == [("complete", capacity.instance_id, "CONTINUE")]
    assert waits_in_queue() == []
    assert capacity.lifecycle_state(capacity.instance_id) is None  # terminated and gone from the group


def test_lifecycle_wait_records_a_heartbeat_before_the_hook_times_out(project, capacity: Capacity, hook_calls) -> None:
    event = capacity.terminate(capacity.instance_id)
    assert spot(project, event)["outcome"] == "WAITING"
    state = json.loads(waits_in_queue()[0]["Body"])
    from dataclasses import replace
    from datetime import UTC, datetime

    from autopilot.drain import handle_wait
    from autopilot.handlers.common import Adapters
    from autopilot.handlers.spot_drain import drain_ports

    ports = replace(
        drain_ports(Adapters.current(), "us-west-2"),
        clock=lambda: datetime.fromtimestamp(int(state["started"]) + 200, tz=UTC),
    )
    assert handle_wait(state, ports).outcome == "WAITING"
    assert hook_calls == [("heartbeat", capacity.instance_id, None)]
    assert json.loads(waits_in_queue()[0]["Body"])["last_heartbeat"] == int(state["started"]) + 200


def test_a_hook_nobody_completes_times_out_with_its_default_result(project, capacity: Capacity, hook_calls) -> None:
    capacity.terminate(capacity.outside_id)
    engine().advance(299)
    assert capacity.lifecycle_state(capacity.outside_id) == "Terminating:Wait"
    engine().advance(10)
    assert hook_calls == [("timeout", capacity.outside_id, "CONTINUE")]
    assert capacity.lifecycle_state(capacity.outside_id) is None


def test_lifecycle_calls_that_match_no_pending_action_fail_like_auto_scaling(project, capacity: Capacity) -> None:
    event = capacity.terminate(capacity.outside_id)
    detail = event["detail"]
    right = {
        "AutoScalingGroupName": "my-asg",
        "LifecycleHookName": "my-lifecycle-hook",
        "InstanceId": capacity.outside_id,
        "LifecycleActionToken": detail["LifecycleActionToken"],
    }
    for wrong in (
        {"LifecycleActionToken": "00000000-0000-0000-0000-000000000000"},
        {"LifecycleHookName": "another-hook"},
        {"InstanceId": capacity.spare_id},
    ):
        with pytest.raises(ClientError) as refused:
            capacity.autoscaling.complete_lifecycle_action(**{**right, **wrong}, LifecycleActionResult="CONTINUE")
        assert refused.value.response["Error"]["Code"] == "ValidationError"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError):
            capacity.autoscaling.record_lifecycle_action_heartbeat(**{**right, **wrong})
    capacity.autoscaling.complete_lifecycle_action(**right, LifecycleActionResult="CONTINUE")
    with pytest.raises(ClientError, match="No active Lifecycle Action"):
        capacity.autoscaling.complete_lifecycle_action(**right, LifecycleActionResult="CONTINUE")


def test_duplicate_hook_events_do_not_start_a_second_wait(project, capacity: Capacity, hook_calls) -> None:
    event = capacity.terminate(capacity.instance_id)
    assert spot(project, event)["outcome"] == "WAITING"
    assert spot(project, event)["outcome"] == "DUPLICATE"
    assert len(waits_in_queue()) == 1


def test_an_instance_outside_every_cluster_completes_the_hook_at_once(project, capacity: Capacity, hook_calls) -> None:
    capacity.autoscaling.delete_lifecycle_hook(AutoScalingGroupName="my-asg", LifecycleHookName="my-lifecycle-hook")
    local_capacity.put_terminate_hook("my-asg", "my-lifecycle-hook", default_result="ABANDON")
    event = capacity.terminate(capacity.outside_id)
    assert "NotificationMetadata" not in event["detail"]  # a hook without metadata: the minimal event
    assert spot(project, event)["outcome"] == "COMPLETED"
    assert hook_calls == [("complete", capacity.outside_id, "CONTINUE")]


@pytest.fixture
def fargate(aws, project) -> Iterator[dict[str, str]]:
    yield fargate_service()


def fargate_service() -> dict[str, str]:
    """FargateCluster/web, two tasks behind two ip target groups (ECS registers each task's address)."""
    ec2 = boto3.client("ec2")
    elbv2 = boto3.client("elbv2")
    ecs = boto3.client("ecs")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    groups = {}
    for name, port in (("web-public", 8080), ("web-internal", 9090)):
        groups[name] = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
    ecs.create_cluster(clusterName="FargateCluster")
    task_definition = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "FargateApp", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="FargateCluster",
        serviceName="web",
        taskDefinition=task_definition,
        desiredCount=2,
        launchType="FARGATE",
        loadBalancers=[
            {"targetGroupArn": groups["web-public"], "containerName": "FargateApp", "containerPort": 8080},
            {"targetGroupArn": groups["web-internal"], "containerName": "FargateApp", "containerPort": 9090},
        ],
    )
    ecs.register_task_definition(
        family="sample-fargate", containerDefinitions=[{"name": "FargateApp", "image": "nginx", "memory": 128}]
    )
    engine().advance(60)
    engine().take_events()
    return groups


def interrupted(task: str | None = None, *, stop_code: str = "SpotInterruption") -> dict[str, Any]:
    """Fargate Spot interrupts a task of FargateCluster/web (the first, unless named): the event ECS sends."""
    ecs = boto3.client("ecs")
    task = task or ecs.list_tasks(cluster="FargateCluster", serviceName="web")["taskArns"][0]
    engine().interrupt_spot(task, stop_code=stop_code)
    [event] = sent("ECS Task State Change")
    return event


def targets(arn: str) -> set[str]:
    health = boto3.client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {target["Target"]["Id"] for target in health}


def test_fargate_spot_takes_the_task_out_of_both_target_groups_at_once(project, fargate) -> None:
    before = {name: targets(arn) for name, arn in fargate.items()}
    assert all(len(addresses) == 2 for addresses in before.values())
    event = interrupted()
    address = next(
        d["value"] for d in event["detail"]["attachments"][0]["details"] if d["name"] == "privateIPv4Address"
    )
    result = spot(project, event)
    assert result["outcome"] == "DEREGISTERED"
    assert {name: targets(arn) for name, arn in fargate.items()} == {
        name: addresses - {address} for name, addresses in before.items()
    }
    assert queued_kinds() == ["spot.task", "spot.deregistered"]


def test_termination_notice_is_handled_like_a_spot_interruption(project, fargate) -> None:
    assert spot(project, interrupted(stop_code="TerminationNotice"))["outcome"] == "DEREGISTERED"


def test_a_fargate_spot_task_without_a_service_is_told_not_deregistered(project, fargate) -> None:
    ecs = boto3.client("ecs")
    [task] = ecs.run_task(cluster="FargateCluster", taskDefinition="sample-fargate", launchType="FARGATE")["tasks"]
    engine().advance(30)
    engine().take_events()
    result = spot(project, interrupted(task["taskArn"]))
    assert result["outcome"] == "TOLD"
    assert all(len(targets(arn)) == 2 for arn in fargate.values())


def test_a_malformed_spot_event_is_rejected_clearly(project, aws) -> None:
    event = sample("ec2-spot-interruption-warning.json")
    event["detail"]["instance-id"] = "not-an-instance"
    assert project.invoke("SpotDrainFunction", event)["rejected"] is True
