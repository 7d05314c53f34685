"""Auto Scaling lifecycle hooks, ELBv2 targets and the drain wait queue: the rest of what Spot drain touches."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_sqs import SQSClient

DEFAULT_HEARTBEAT_SECONDS = 3600


class LifecycleHooks:
    def __init__(self, client: AutoScalingClient) -> None:
        self._client = client

    def heartbeat_timeout(self, group: str, hook: str) -> int:
        hooks = self._client.describe_lifecycle_hooks(AutoScalingGroupName=group, LifecycleHookNames=[hook])
        found = hooks.get("LifecycleHooks", [])
        return int(found[0].get("HeartbeatTimeout", DEFAULT_HEARTBEAT_SECONDS)) if found else DEFAULT_HEARTBEAT_SECONDS

    def waiting(self, instance: str) -> bool:
        """Is the instance still waiting on a terminate lifecycle hook (`Terminating:Wait`)? False once the
        action was completed (by us before a failure, by someone else, or by its default result)."""
        found = self._client.describe_auto_scaling_instances(InstanceIds=[instance]).get("AutoScalingInstances", [])
        return bool(found) and str(found[0].get("LifecycleState", "")).endswith(":Wait")

    def heartbeat(self, group: str, hook: str, token: str, instance: str) -> None:
        self._client.record_lifecycle_action_heartbeat(
            AutoScalingGroupName=group, LifecycleHookName=hook, LifecycleActionToken=token, InstanceId=instance
        )

    def complete(self, group: str, hook: str, token: str, instance: str) -> bool:
        """CONTINUE; False when the action is already over (completed, or timed out)."""
        try:
            self._client.complete_lifecycle_action(
                AutoScalingGroupName=group,
                LifecycleHookName=hook,
                LifecycleActionToken=token,
                InstanceId=instance,
                LifecycleActionResult="CONTINUE",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                return False
            raise
        return True


class TargetGroups:
    def __init__(self, client: ElasticLoadBalancingv2Client) -> None:
        self._client = client

    def serving(self, target_group_arn: str, ip: str, port: int) -> bool:
        """Whether the target still takes traffic: registered and not already draining (a retry after an
        earlier attempt deregistered it sees `draining`, or `unused` once the deregistration delay is over)."""
        health = self._client.describe_target_health(
            TargetGroupArn=target_group_arn, Targets=[{"Id": ip, "Port": port}]
        )["TargetHealthDescriptions"]
        return any(item.get("TargetHealth", {}).get("State") not in {"draining", "unused"} for item in health)

    def deregister(self, target_group_arn: str, ip: str, port: int) -> None:
        """Take the target out; one that is already gone (a concurrent drain) is not an error."""
        try:
            self._client.deregister_targets(TargetGroupArn=target_group_arn, Targets=[{"Id": ip, "Port": port}])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "InvalidTarget":
                raise


class DrainWaitQueue:
    """Our own delay queue: a wait is a message that comes back a minute later (no recursion loop)."""

    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self.url = url

    def wait(self, state: dict[str, Any], delay_seconds: int = 60) -> None:
        self._client.send_message(QueueUrl=self.url, MessageBody=json.dumps(state), DelaySeconds=delay_seconds)
