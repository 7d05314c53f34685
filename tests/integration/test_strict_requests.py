"""The emulator refuses what AWS refuses: requests checked against the service model, answered in AWS's words.

Plain boto3 clients, as any code under test would use them; a client with `parameter_validation=False` shows the
refusal is the emulator's (the server side), not the SDK's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from autopilot.local import lifecycle, strict
from autopilot.local.emulator import Emulator

REGION = "us-west-2"
UNCHECKED = Config(parameter_validation=False)  # the SDK sends whatever it is given
CONTAINERS = [{"name": "web", "image": "nginx:1.27", "memory": 128, "essential": True}]


@pytest.fixture
def strict_aws() -> Iterator[None]:
    strict.install()  # on in every test (create_stack_resources installs it too): never taken off
    with mock_aws():
        yield


def client(service: str, config: Config | None = None) -> Any:
    """A plain boto3 client (typed loosely: one helper for every service)."""
    return boto3.client(service, region_name=REGION, config=config)  # type: ignore[call-overload]


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def cluster_with_task_definition(ecs: Any) -> None:
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(family="web", containerDefinitions=CONTAINERS)


@pytest.mark.usefixtures("strict_aws")
def test_ecs_refuses_a_service_tag_value_with_a_caret_and_creates_nothing() -> None:
    # Given a cluster and a task definition
    ecs = client("ecs")
    cluster_with_task_definition(ecs)

    # When a service is created with a tag value ECS's TagValue pattern does not allow
    with pytest.raises(ClientError) as error:
        ecs.create_service(
            cluster="prod",
            serviceName="web",
            taskDefinition="web",
            tags=[{"key": "autopilot:deploy", "value": "semver:^1.2"}],
        )

    # Then ECS's answer comes back, and there is no service
    status, code, message = refusal(error)
    assert (status, code) == (400, "InvalidParameterException")
    assert message.startswith("1 validation error detected: Value 'semver:^1.2' at 'tags.1.member.value'")
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in message
    assert ecs.describe_services(cluster="prod", services=["web"])["failures"][0]["reason"] == "MISSING"


@pytest.mark.usefixtures("strict_aws")
def test_ecs_tag_resource_refuses_a_caret_even_when_the_sdk_does_not_check() -> None:
    # Given a service with a valid tag
    ecs = client("ecs")
    cluster_with_task_definition(ecs)
    arn = ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web")["service"]["serviceArn"]

    # When a tag value with `^` is sent by a client that validates nothing itself
    with pytest.raises(ClientError) as error:
        client("ecs", UNCHECKED).tag_resource(resourceArn=arn, tags=[{"key": "autopilot:deploy", "value": "^1.2"}])

    # Then the emulator refuses it, and the service keeps no such tag
    assert refusal(error)[:2] == (400, "InvalidParameterException")
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == []


@pytest.mark.usefixtures("strict_aws")
def test_ecs_refuses_a_task_definition_family_of_256_characters() -> None:
    ecs = client("ecs")

    with pytest.raises(ClientError) as error:
        ecs.register_task_definition(family="f" * 256, containerDefinitions=CONTAINERS)

    status, code, message = refusal(error)
    assert (status, code) == (400, "ClientException")
    assert "at 'family' failed to satisfy constraint: Member must have length less than or equal to 255" in message
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []


@pytest.mark.usefixtures("strict_aws")
def test_ecs_accepts_a_task_definition_family_of_255_characters() -> None:
    ecs = client("ecs")

    arn = ecs.register_task_definition(family="f" * 255, containerDefinitions=CONTAINERS)["taskDefinition"]

    assert arn["family"] == "f" * 255


@pytest.mark.usefixtures("strict_aws")
def test_a_refusal_quotes_at_most_200_characters_of_the_value() -> None:
    with pytest.raises(ClientError) as error:
        client("ecs").register_task_definition(family="f" * 1000, containerDefinitions=CONTAINERS)

    message = refusal(error)[2]
    assert f"Value '{'f' * 200}' at 'family'" in message
    assert "f" * 201 not in message


@pytest.mark.usefixtures("strict_aws")
@pytest.mark.parametrize("config", [None, UNCHECKED], ids=["sdk-checked", "sdk-unchecked"])
def test_ecs_refuses_an_unknown_launch_type(config: Config | None) -> None:
    # Given a cluster and a task definition
    cluster_with_task_definition(client("ecs"))

    # When a service asks for a launch type ECS does not have
    with pytest.raises(ClientError) as error:
        client("ecs", config).create_service(
            cluster="prod", serviceName="web", taskDefinition="web", launchType="FARGATEX"
        )

    # Then ECS's own code and the enum it checks against (moto alone says ClientException, "should be one of")
    status, code, message = refusal(error)
    assert (status, code) == (400, "InvalidParameterException")
    assert (
        "Value 'FARGATEX' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: ["
        in message
    )


@pytest.mark.usefixtures("strict_aws")
def test_a_value_of_the_wrong_type_is_refused_not_a_crash() -> None:
    cluster_with_task_definition(client("ecs"))

    with pytest.raises(ClientError) as error:
        client("ecs", UNCHECKED).create_service(
            cluster="prod", serviceName="web", taskDefinition="web", desiredCount="x"
        )

    assert refusal(error)[:2] == (400, "SerializationException")


@pytest.mark.usefixtures("strict_aws")
def test_elbv2_refuses_an_unknown_protocol_over_the_query_protocol() -> None:
    vpc = client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]

    with pytest.raises(ClientError) as error:
        client("elbv2", UNCHECKED).create_target_group(Name="web", Protocol="HTTPX", Port=80, VpcId=vpc)

    status, code, message = refusal(error)
    assert (status, code) == (400, "ValidationError")
    assert "Value 'HTTPX' at 'protocol' failed to satisfy constraint: Member must satisfy enum value set" in message
    assert client("elbv2").describe_target_groups()["TargetGroups"] == []


@pytest.mark.usefixtures("strict_aws")
def test_auto_scaling_refuses_a_lifecycle_hook_name_outside_its_pattern() -> None:
    # Given the emulator's lifecycle actions (which would answer "No active Lifecycle Action found")
    lifecycle.install()

    with pytest.raises(ClientError) as error:
        client("autoscaling").complete_lifecycle_action(
            LifecycleHookName="drain hook!",
            AutoScalingGroupName="spot",
            LifecycleActionResult="CONTINUE",
            InstanceId="i-0123456789abcdef0",
        )

    # Then Auto Scaling's framework answers first, naming the member the way AWS does
    status, code, message = refusal(error)
    assert (status, code) == (400, "ValidationError")
    assert "Value 'drain hook!' at 'lifecycleHookName' failed to satisfy constraint" in message


@pytest.mark.usefixtures("strict_aws")
def test_valid_ecs_requests_pass() -> None:
    ecs = client("ecs")
    cluster_with_task_definition(ecs)

    service = ecs.create_service(
        cluster="prod",
        serviceName="web",
        taskDefinition="web",
        desiredCount=2,
        launchType="FARGATE",
        tags=[
            {"key": "autopilot:deploy", "value": "semver:1.4 - 1"},
            {"key": "autopilot:containers", "value": "web worker"},
            {"key": "owner", "value": "team@example.com"},
        ],
    )["service"]
    ecs.update_service(cluster="prod", service="web", desiredCount=3)

    described = ecs.describe_services(cluster="prod", services=["web"], include=["TAGS"])["services"][0]
    assert described["desiredCount"] == 3
    assert {tag["value"] for tag in described["tags"]} >= {"semver:1.4 - 1", "web worker"}
    assert service["launchType"] == "FARGATE"


@pytest.mark.usefixtures("strict_aws")
def test_valid_requests_of_other_services_pass() -> None:
    # DynamoDB (json 1.0, nested attribute values)
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    item = {"pk": {"S": "DEPLOY#prod/web"}, "n": {"N": "1"}, "m": {"M": {"ok": {"BOOL": True}}}}
    dynamodb.put_item(TableName="ledger", Item=item)
    # SQS (json, query-compatible)
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName="notify.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="{}", MessageGroupId="prod", MessageDeduplicationId="1")
    # Auto Scaling (query, lists of structures)
    autoscaling = client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="spot",
        LaunchConfigurationName="lc",
        MinSize=0,
        MaxSize=2,
        AvailabilityZones=[f"{REGION}a"],
        Tags=[{"Key": "team", "Value": "platform", "PropagateAtLaunch": True}],
    )
    # SSM and EventBridge (json 1.1)
    client("ssm").put_parameter(Name="/ecs-autopilot/config", Value="{}", Type="String", Overwrite=True)
    client("events").put_events(Entries=[{"Source": "autopilot", "DetailType": "Deploy", "Detail": "{}"}])

    assert dynamodb.get_item(TableName="ledger", Key={"pk": {"S": "DEPLOY#prod/web"}})["Item"] == item
    assert len(sqs.receive_message(QueueUrl=queue)["Messages"]) == 1
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["spot"])["AutoScalingGroups"]
    assert [group["Tags"][0]["Value"] for group in groups] == ["platform"]


@pytest.fixture
def strict_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")  # restored (removed) after the test
    strict.install()
    with Emulator() as running:
        yield running
    boto3.setup_default_session()


def test_the_emulator_server_refuses_too(strict_emulator: Emulator) -> None:
    # Given the emulator in server mode, reached over HTTP
    ecs = boto3.client("ecs", endpoint_url=strict_emulator.endpoint_url, region_name=REGION)
    cluster_with_task_definition(ecs)

    # When a request AWS refuses is sent, and one it accepts
    with pytest.raises(ClientError) as error:
        ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", tags=[{"key": "a", "value": "x^y"}])
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition="web", tags=[{"key": "a", "value": "x y"}])

    # Then the server answers the first as ECS does and serves the second
    status, code, message = refusal(error)
    assert (status, code) == (400, "InvalidParameterException")
    assert "at 'tags.1.member.value'" in message
    assert ecs.describe_services(cluster="prod", services=["web"])["services"][0]["serviceName"] == "web"
