"""SpotDrainFunction under moto: Spot warnings, rebalance, terminate lifecycle hooks with the delay-queue wait,
and Fargate Spot interruptions, fed with the documented sample events."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from autopilot.local import lifecycle
from autopilot.local.pump import sqs_event
from autopilot.settings import get_settings
from tests.conftest import sample


@pytest.fixture
def hook_calls() -> list[tuple[str, str, str | None]]:
    """Auto Scaling lifecycle actions with state (autopilot.local.lifecycle): every accepted
    CompleteLifecycleAction and RecordLifecycleActionHeartbeat, in order."""
    return lifecycle.calls


def terminating(event: dict[str, Any]) -> dict[str, Any]:
    """What Auto Scaling does before it sends a terminate lifecycle event: the instance waits on the hook."""
    detail = event["detail"]
    lifecycle.begin_termination(
        detail["AutoScalingGroupName"],
        detail["LifecycleHookName"],
        detail["EC2InstanceId"],
        detail["LifecycleActionToken"],
    )
    return event


class Capacity:
    """An EC2-backed cluster with one container instance running one service task and one standalone task."""

    def __init__(self) -> None:
        self.ec2 = boto3.client("ec2")
        self.ecs = boto3.client("ecs")
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        self.instance_id, self.outside_id = (
            i["InstanceId"] for i in self.ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]
        )
        self.ecs.create_cluster(clusterName="spot")
        document = json.dumps({"instanceId": self.instance_id, "region": "us-west-2"})
        self.container_instance = self.ecs.register_container_instance(
            cluster="spot", instanceIdentityDocument=document
        )["containerInstance"]["containerInstanceArn"]
        task_definition = self.ecs.register_task_definition(
            family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster="spot",
            serviceName="web",
            taskDefinition=task_definition,
            desiredCount=1,
            tags=[{"key": "autopilot:deploy", "value": "off"}],
        )
        self.service_task = self.ecs.start_task(
            cluster="spot",
            taskDefinition=task_definition,
            group="service:web",
            containerInstances=[self.container_instance],
        )["tasks"][0]["taskArn"]
        self.ecs.start_task(
            cluster="spot",
            taskDefinition=task_definition,
            group="family:web",
            containerInstances=[self.container_instance],
        )
        autoscaling = boto3.client("autoscaling")
        autoscaling.create_launch_configuration(LaunchConfigurationName="spot", ImageId=image, InstanceType="m7g.large")
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName="my-asg",
            LaunchConfigurationName="spot",
            MinSize=0,
            MaxSize=2,
            AvailabilityZones=["us-west-2a"],
        )
        autoscaling.attach_instances(AutoScalingGroupName="my-asg", InstanceIds=[self.instance_id, self.outside_id])
        autoscaling.put_lifecycle_hook(
            AutoScalingGroupName="my-asg",
            LifecycleHookName="my-lifecycle-hook",
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
            HeartbeatTimeout=300,
            DefaultResult="CONTINUE",
        )

    def status(self) -> str:
        described = self.ecs.describe_container_instances(cluster="spot", containerInstances=[self.container_instance])
        return str(described["containerInstances"][0]["status"])


@pytest.fixture
def capacity(aws) -> Capacity:
    return Capacity()


def event_for(name: str, **detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(sample(name))
    event.update(account="123456789012", region="us-west-2")
    event["detail"].update(detail)
    return event


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


def test_spot_warning_drains_the_container_instance_and_tells_people_twice(project, capacity: Capacity) -> None:
    result = spot(project, event_for("ec2-spot-interruption-warning.json", **{"instance-id": capacity.instance_id}))
    assert result["outcome"] == "DRAINED"
    assert result["services"] == ["spot/web"]
    assert capacity.status() == "DRAINING"
    assert queued_kinds() == ["spot.warning", "spot.drained"]


def test_an_instance_in_no_cluster_is_logged_and_left_alone(project, capacity: Capacity) -> None:
    result = spot(project, event_for("ec2-spot-interruption-warning.json", **{"instance-id": capacity.outside_id}))
    assert result["outcome"] == "NOT_IN_CLUSTER"
    assert capacity.status() == "ACTIVE"
    assert queued_kinds() == []


def test_rebalance_only_tells_unless_drain_on_rebalance(project, capacity: Capacity, monkeypatch) -> None:
    event = event_for("ec2-rebalance-recommendation.json", **{"instance-id": capacity.instance_id})
    assert spot(project, event)["outcome"] == "TOLD"
    assert capacity.status() == "ACTIVE"
    monkeypatch.setenv("DRAIN_ON_REBALANCE", "true")
    get_settings.cache_clear()
    assert spot(project, event)["outcome"] == "DRAINED"
    assert capacity.status() == "DRAINING"


def test_lifecycle_hook_drains_waits_for_service_tasks_then_continues(project, capacity: Capacity, hook_calls) -> None:
    event = terminating(event_for("asg-instance-terminate-lifecycle-action.json", EC2InstanceId=capacity.instance_id))
    assert spot(project, event)["outcome"] == "WAITING"
    assert capacity.status() == "DRAINING"
    waits = waits_in_queue()
    assert len(waits) == 1  # checked again a minute later, through the delay queue, not by recursion
    assert hook_calls == []
    # a minute later the service task still runs: wait again
    arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["DRAIN_WAIT_QUEUE_URL"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    again = project.invoke("SpotDrainFunction", sqs_event(waits, arn, "us-west-2"))
    assert again == {"batchItemFailures": []}
    waits = waits_in_queue()
    assert len(waits) == 1
    # the service task leaves (the standalone one may stay): CONTINUE
    capacity.ecs.stop_task(cluster="spot", task=capacity.service_task)
    project.invoke("SpotDrainFunction", sqs_event(waits, arn, "us-west-2"))
    assert hook_calls == [("complete", capacity.instance_id, "CONTINUE")]
    assert waits_in_queue() == []


def test_lifecycle_wait_records_a_heartbeat_before_the_hook_times_out(project, capacity: Capacity, hook_calls) -> None:
    from autopilot.drain import handle_wait
    from autopilot.wiring import Adapters, drain_ports

    state = {
        "kind": "lifecycle-wait",
        "group": "my-asg",
        "hook": "my-lifecycle-hook",
        "token": "87654321-4321-4321-4321-210987654321",
        "instance": capacity.instance_id,
        "cluster": "arn:aws:ecs:us-west-2:123456789012:cluster/spot",
        "container_instance": capacity.container_instance,
        "started": 0,
        "last_heartbeat": 0,
        "heartbeat_timeout": 300,
        "services": ["spot/web"],
    }
    lifecycle.begin_termination("my-asg", "my-lifecycle-hook", capacity.instance_id, state["token"])
    ports = drain_ports(Adapters.current(), "us-west-2")
    from dataclasses import replace
    from datetime import UTC, datetime

    ports = replace(ports, clock=lambda: datetime.fromtimestamp(200, tz=UTC))
    assert handle_wait(state, ports).outcome == "WAITING"
    assert hook_calls == [("heartbeat", capacity.instance_id, None)]
    assert json.loads(waits_in_queue()[0]["Body"])["last_heartbeat"] == 200


def test_duplicate_hook_events_do_not_start_a_second_wait(project, capacity: Capacity, hook_calls) -> None:
    event = terminating(event_for("asg-instance-terminate-lifecycle-action.json", EC2InstanceId=capacity.instance_id))
    assert spot(project, event)["outcome"] == "WAITING"
    assert spot(project, event)["outcome"] == "DUPLICATE"
    assert len(waits_in_queue()) == 1


def test_an_instance_outside_every_cluster_completes_the_hook_at_once(project, capacity: Capacity, hook_calls) -> None:
    event = terminating(
        event_for("asg-instance-terminate-lifecycle-action-minimal.json", EC2InstanceId=capacity.outside_id)
    )
    assert spot(project, event)["outcome"] == "COMPLETED"
    assert hook_calls == [("complete", capacity.outside_id, "CONTINUE")]


@pytest.fixture
def fargate(aws) -> Iterator[dict[str, str]]:
    yield fargate_service()


def fargate_service() -> dict[str, str]:
    """FargateCluster/web behind two target groups, each with the sample task (10.0.0.139) and another."""
    ec2 = boto3.client("ec2")
    elbv2 = boto3.client("elbv2")
    ecs = boto3.client("ecs")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    groups = {}
    for name, port in (("web-public", 8080), ("web-internal", 9090)):
        arn = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        elbv2.register_targets(
            TargetGroupArn=arn, Targets=[{"Id": "10.0.0.139", "Port": port}, {"Id": "10.0.0.200", "Port": port}]
        )
        groups[name] = arn
    ecs.create_cluster(clusterName="FargateCluster")
    task_definition = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "FargateApp", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="FargateCluster",
        serviceName="web",
        taskDefinition=task_definition,
        desiredCount=2,
        loadBalancers=[
            {"targetGroupArn": groups["web-public"], "containerName": "FargateApp", "containerPort": 8080},
            {"targetGroupArn": groups["web-internal"], "containerName": "FargateApp", "containerPort": 9090},
        ],
    )
    return groups


def targets(arn: str) -> set[str]:
    health = boto3.client("elbv2").describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
    return {target["Target"]["Id"] for target in health}


def test_fargate_spot_takes_the_task_out_of_both_target_groups_at_once(project, fargate) -> None:
    result = spot(project, event_for("ecs-task-fargate-spot-interruption.json"))
    assert result["outcome"] == "DEREGISTERED"
    assert {name: targets(arn) for name, arn in fargate.items()} == {
        "web-public": {"10.0.0.200"},
        "web-internal": {"10.0.0.200"},
    }
    assert queued_kinds() == ["spot.task", "spot.deregistered"]


def test_termination_notice_is_handled_like_a_spot_interruption(project, fargate) -> None:
    assert spot(project, event_for("ecs-task-termination-notice.json"))["outcome"] == "DEREGISTERED"


def test_a_fargate_spot_task_without_a_service_is_told_not_deregistered(project, fargate) -> None:
    result = spot(project, event_for("ecs-task-fargate-spot-interruption.json", group="family:sample-fargate"))
    assert result["outcome"] == "TOLD"
    assert targets(fargate["web-public"]) == {"10.0.0.139", "10.0.0.200"}


def test_a_malformed_spot_event_is_rejected_clearly(project, aws) -> None:
    event = sample("ec2-spot-interruption-warning.json")
    event["detail"]["instance-id"] = "not-an-instance"
    assert project.invoke("SpotDrainFunction", event)["rejected"] is True
