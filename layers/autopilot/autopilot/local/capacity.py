"""EC2 capacity in the local AWS as a Spot capacity provider's would be: instances in an Auto Scaling group with
a terminate lifecycle hook, and container instances joining an ECS cluster. One place for the demo and the
tests that build it."""

from __future__ import annotations

import json

import boto3


def launch_instances(count: int, *, instance_type: str = "m7g.large") -> list[str]:
    """`count` running EC2 instances (moto's first image)."""
    ec2 = boto3.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    found = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, InstanceType=instance_type)
    return [instance["InstanceId"] for instance in found["Instances"]]


def terminate_hook(group: str, instances: list[str], *, hook: str, default_result: str = "CONTINUE") -> None:
    """An Auto Scaling group holding `instances`, with a terminate lifecycle hook (heartbeat 300 s)."""
    autoscaling = boto3.client("autoscaling")
    image = boto3.client("ec2").describe_images()["Images"][0]["ImageId"]
    autoscaling.create_launch_configuration(LaunchConfigurationName=group, ImageId=image, InstanceType="m7g.large")
    region = autoscaling.meta.region_name
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchConfigurationName=group,
        MinSize=0,
        MaxSize=len(instances),
        AvailabilityZones=[f"{region}a"],
    )
    autoscaling.attach_instances(AutoScalingGroupName=group, InstanceIds=instances)
    put_terminate_hook(group, hook, default_result=default_result)


def put_terminate_hook(group: str, hook: str, *, default_result: str, metadata: str | None = None) -> None:
    extra = {"NotificationMetadata": metadata} if metadata else {}
    boto3.client("autoscaling").put_lifecycle_hook(
        AutoScalingGroupName=group,
        LifecycleHookName=hook,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
        DefaultResult=default_result,
        **extra,
    )


def join_cluster(cluster: str, instance: str) -> str:
    """The instance's ECS agent registers it in `cluster`: its container instance ARN."""
    ecs = boto3.client("ecs")
    document = json.dumps({"instanceId": instance, "region": ecs.meta.region_name})
    registered = ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
    arn: str = registered["containerInstance"]["containerInstanceArn"]
    return arn
