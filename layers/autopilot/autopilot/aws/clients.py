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


@lru_cache
def ecs() -> ECSClient:
    return boto3.client("ecs", config=RETRY_CONFIG)


@lru_cache
def ecr() -> ECRClient:
    return boto3.client("ecr", config=RETRY_CONFIG)


@lru_cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=RETRY_CONFIG)


@lru_cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=RETRY_CONFIG)


@lru_cache
def cloudwatch() -> CloudWatchClient:
    return boto3.client("cloudwatch", config=RETRY_CONFIG)


@lru_cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=RETRY_CONFIG)


@lru_cache
def sns() -> SNSClient:
    return boto3.client("sns", config=RETRY_CONFIG)


@lru_cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=RETRY_CONFIG)


@lru_cache
def autoscaling() -> AutoScalingClient:
    return boto3.client("autoscaling", config=RETRY_CONFIG)


@lru_cache
def elbv2() -> ElasticLoadBalancingv2Client:
    return boto3.client("elbv2", config=RETRY_CONFIG)


def clear_caches() -> None:
    """Forget every client (tests and the local emulator switch endpoints and mocks)."""
    for factory in (ecs, ecr, dynamodb, ssm, cloudwatch, sqs, sns, secretsmanager, autoscaling, elbv2):
        factory.cache_clear()
