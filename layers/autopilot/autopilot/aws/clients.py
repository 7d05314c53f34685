"""boto3 clients, created lazily (moto must be active first) and cached.

boto3 and botocore load with the first client, not when a handler module is imported: they are most of a
function's import cost (≈0.25 s CPU), and a handler that rejects a malformed event never needs them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

Profile = Literal["function", "interactive"]
# function: standard retry mode, exponential backoff with jitter on throttling and 5xx, 6 attempts in all.
# interactive: a person at a terminal; fail fast (one retry, a short connect timeout) and say why.
_PROFILES: dict[str, dict[str, Any]] = {
    "function": {"retries": {"mode": "standard", "total_max_attempts": 6}, "connect_timeout": 5, "read_timeout": 20},
    "interactive": {"retries": {"mode": "standard", "total_max_attempts": 2}, "connect_timeout": 2, "read_timeout": 20},
}
_profile: Profile = "function"


def use_profile(profile: Profile) -> None:
    """The retry and timeout profile of every client created from now on (the CLI uses "interactive")."""
    global _profile  # noqa: PLW0603 - one profile per process
    _profile = profile
    clear_caches()


def config() -> Config:
    from botocore.config import Config

    return Config(**_PROFILES[_profile])


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, config=config())  # type: ignore[call-overload]  # a name, not a literal


@lru_cache
def ecs() -> ECSClient:
    return cast("ECSClient", _client("ecs"))


@lru_cache
def ecr() -> ECRClient:
    return cast("ECRClient", _client("ecr"))


@lru_cache
def dynamodb() -> DynamoDBClient:
    return cast("DynamoDBClient", _client("dynamodb"))


@lru_cache
def ssm() -> SSMClient:
    return cast("SSMClient", _client("ssm"))


@lru_cache
def cloudwatch() -> CloudWatchClient:
    return cast("CloudWatchClient", _client("cloudwatch"))


@lru_cache
def sqs() -> SQSClient:
    return cast("SQSClient", _client("sqs"))


@lru_cache
def sns() -> SNSClient:
    return cast("SNSClient", _client("sns"))


@lru_cache
def secretsmanager() -> SecretsManagerClient:
    return cast("SecretsManagerClient", _client("secretsmanager"))


@lru_cache
def autoscaling() -> AutoScalingClient:
    return cast("AutoScalingClient", _client("autoscaling"))


@lru_cache
def elbv2() -> ElasticLoadBalancingv2Client:
    return cast("ElasticLoadBalancingv2Client", _client("elbv2"))


_generation = 0


def generation() -> int:
    """Changes whenever the clients are forgotten: what is built on them (the adapters) is built again."""
    return _generation


def clear_caches() -> None:
    """Forget every client (tests and the local emulator switch endpoints and mocks)."""
    global _generation  # noqa: PLW0603 - one count per process
    _generation += 1
    for factory in (ecs, ecr, dynamodb, ssm, cloudwatch, sqs, sns, secretsmanager, autoscaling, elbv2):
        factory.cache_clear()
