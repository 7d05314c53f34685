"""ECS's API rate limits on the local AWS (opt-in): a burst past a category's bucket is throttled as ECS throttles
it, the bucket refills at the sustained rate on the emulated ECS's simulated clock, and actions share their
category's bucket."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from autopilot.local import strict
from autopilot.local.ecs import api as ecs_api
from autopilot.local.ratelimits import RateLimits

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def limits() -> Iterator[RateLimits]:
    engine = ecs_api.current()
    assert engine is not None
    limits = RateLimits(clock=lambda: engine.now.timestamp())  # noqa: PLW0108 - engine.now moves on
    strict.limit(limits)
    yield limits
    strict.limit(None)


def ecs() -> object:
    return boto3.client("ecs", config=Config(retries={"total_max_attempts": 1}))  # see each throttle, no SDK retry


def register(client: object, family: str) -> None:
    client.register_task_definition(  # type: ignore[attr-defined]
        family=family, containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64}]
    )


def test_register_task_definition_bursts_20_then_refills_1_per_second(limits: RateLimits) -> None:
    client = ecs()
    for index in range(20):
        register(client, f"family-{index}")
    with pytest.raises(ClientError) as throttled:
        register(client, "family-20")
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    engine = ecs_api.current()
    assert engine is not None
    engine.advance(1)  # one second of the emulated clock: one token back
    register(client, "family-20")
    with pytest.raises(ClientError):
        register(client, "family-21")
    assert (limits.calls["RegisterTaskDefinition"], limits.throttled["RegisterTaskDefinition"]) == (21, 2)


def test_actions_of_a_category_share_its_bucket_and_others_are_not_charged(limits: RateLimits) -> None:
    client = ecs()
    for index in range(19):
        register(client, f"family-{index}")
    arn = client.register_task_definition(  # type: ignore[attr-defined]
        family="last", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 64}]
    )["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError):  # DeregisterTaskDefinition draws from the same (now empty) bucket
        client.deregister_task_definition(taskDefinition=arn)  # type: ignore[attr-defined]
    client.describe_task_definition(taskDefinition=arn)  # type: ignore[attr-defined]  # a read: its own bucket
    client.list_clusters()  # type: ignore[attr-defined]
    assert limits.throttled == {"DeregisterTaskDefinition": 1}


def test_without_limits_nothing_is_throttled() -> None:
    client = ecs()
    for index in range(30):
        register(client, f"family-{index}")
