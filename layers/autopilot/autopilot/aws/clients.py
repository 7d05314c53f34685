"""boto3 clients, created lazily (moto must be active first; cold starts stay short) and cached."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
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

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, 6 attempts in all.
RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 6}, connect_timeout=5, read_timeout=20)
# A person at a terminal: fail fast (one retry, a short connect timeout) and say why.
INTERACTIVE_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=2, read_timeout=20)
_config = RETRY_CONFIG


def use_config(config: Config) -> None:
    """The configuration of every client created from now on (the CLI uses INTERACTIVE_CONFIG)."""
    global _config  # noqa: PLW0603 - one configuration per process
    _config = config
    clear_caches()


@lru_cache
def ecs() -> ECSClient:
    return boto3.client("ecs", config=_config)


@lru_cache
def ecr() -> ECRClient:
    return boto3.client("ecr", config=_config)


@lru_cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_config)


@lru_cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=_config)


@lru_cache
def cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=_config)


@lru_cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=_config)


@lru_cache
def sns() -> SNSClient:
    return boto3.client("sns", config=_config)


@lru_cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_config)


@lru_cache
def autoscaling() -> AutoScalingClient:
    return boto3.client("autoscaling", config=_config)


@lru_cache
def elbv2() -> ElasticLoadBalancingv2Client:
    return boto3.client("elbv2", config=_config)


def clear_caches() -> None:
    """Forget every client (tests and the local emulator switch endpoints and mocks)."""
    for factory in (ecs, ecr, dynamodb, ssm, cloudwatch, sqs, sns, secretsmanager, autoscaling, elbv2):
        factory.cache_clear()
