"""IAM as deployed: each function's AWS calls are checked against its own role in template.yaml, and a call the
role does not allow fails with AccessDenied as in AWS (autopilot.local.iam)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from autopilot.aws import clients
from autopilot.local import iam
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION
from tests.faults import Faults
from tests.integration.world import EXECUTION_ROLE, World, outcomes, reasons

SERVICE_ARN = f"arn:aws:ecs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:service/prod/web"
TASK_ROLE = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/app"


def principal(function: str) -> str:
    return f"arn:aws:sts::{LOCAL_ACCOUNT}:assumed-role/ecs-autopilot-{function}Role/{function}"


@pytest.fixture
def world(aws, project, events) -> World:
    return World(project, events)


@pytest.fixture
def unrecorded() -> Iterator[None]:
    """Refusals provoked on purpose stay out of the IAM report (`make iam-report`)."""
    before = iam.usage.export()
    yield
    iam.usage.replace(before)


def used(function: str, action: str) -> dict[str, Any]:
    found: dict[str, Any] = (
        iam.usage.export()["functions"].get(function, {}).get("actions", {}).get(action, {"allowed": 0, "denied": 0})
    )
    return found


def refused(call: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_a_deploy_the_role_allows_updates_the_service_and_passes_its_task_roles_to_ecs_tasks(world: World) -> None:
    # Given a managed service whose task definition names a task role and an execution role
    world.cluster("prod")
    task_definition = world.web_task_definition(
        "web", "shop", tag="latest", executionRoleArn=EXECUTION_ROLE, taskRoleArn=TASK_ROLE
    )
    world.service("prod", "web", task_definition, {"autopilot:deploy": "tag:latest"})
    world.inventory()
    updates, passes = used("DeployFunction", "ecs:UpdateService"), used("DeployFunction", "iam:PassRole")
    # When an image is pushed
    report = world.push("shop", "latest")
    # Then the role allows every call: the new revision passes both roles to ECS tasks, the service is updated
    assert outcomes(report) == {"prod/web": "DEPLOYED"}
    assert world.running("prod", "web")["revision"] == 2
    assert used("DeployFunction", "iam:PassRole")["allowed"] == passes["allowed"] + 2
    assert used("DeployFunction", "ecs:UpdateService")["allowed"] == updates["allowed"] + 1


def test_a_service_turned_off_during_a_deploy_is_refused_by_iam_and_reported_for_that_service(
    world: World, unrecorded: None
) -> None:
    # Given a managed service, and an operator who turns it off while a push is being deployed
    world.managed("prod", "web", "tag:latest")
    operator = boto3.client("ecs")

    def turn_off(**_: Any) -> None:
        with iam.running_as(None):  # the operator's call, not the function's
            operator.tag_resource(resourceArn=SERVICE_ARN, tags=[{"key": "autopilot:deploy", "value": "off"}])

    clients.ecs().meta.events.register_first("provide-client-params.ecs.UpdateService", turn_off)
    # When the push is deployed
    report = world.push("shop", "latest")
    # Then DeployFunction's role refuses the update (its condition: autopilot:deploy present and not off), and
    # the handler reports it as the AWS error it is, for that service; the service runs what it ran
    assert outcomes(report) == {"prod/web": "ERROR"}
    assert "AccessDeniedException" in reasons(report)["prod/web"]
    assert (
        f"User: {principal('DeployFunction')} is not authorized to perform: ecs:UpdateService on resource: "
        f"{SERVICE_ARN} because no identity-based policy allows the ecs:UpdateService action"
    ) in reasons(report)["prod/web"]
    assert world.running("prod", "web")["revision"] == 1
    assert used("DeployFunction", "ecs:UpdateService")["denied"] == 1


def test_an_action_the_role_never_grants_is_refused_as_aws_refuses_it(world: World, unrecorded: None) -> None:
    world.managed("prod", "web", "tag:latest")
    ecs = clients.ecs()
    with iam.running_as("TaskWatchFunction"):
        error = refused(lambda: ecs.update_service(cluster="prod", service="web", desiredCount=3))
    assert isinstance(error, ecs.exceptions.AccessDeniedException)
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"] == (
        f"User: {principal('TaskWatchFunction')} is not authorized to perform: ecs:UpdateService on resource: "
        f"{SERVICE_ARN} because no identity-based policy allows the ecs:UpdateService action"
    )
    assert boto3.client("ecs").describe_services(cluster="prod", services=["web"])["services"][0]["desiredCount"] == 1


def test_each_service_refuses_with_its_own_error_code(aws, unrecorded: None) -> None:
    # SQS: AccessDenied (HTTP 403), the action in lower case; TaskWatchFunction may not use the drain wait queue
    with iam.running_as("TaskWatchFunction"):
        error = refused(
            lambda: clients.sqs().send_message(QueueUrl=os.environ["DRAIN_WAIT_QUEUE_URL"], MessageBody="{}")
        )
    assert (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied",
        403,
    )
    queue = f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:ecs-autopilot-DrainWaitQueue"
    assert f"perform: sqs:sendmessage on resource: {queue} because" in error.response["Error"]["Message"]
    # Secrets Manager: AccessDeniedException; NotifyFunction reads only the secrets under its prefix
    boto3.client("secretsmanager").create_secret(Name="elsewhere/token", SecretString="x")
    with iam.running_as("NotifyFunction"):
        error = refused(lambda: clients.secretsmanager().get_secret_value(SecretId="elsewhere/token"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert ":secret:elsewhere/token-" in error.response["Error"]["Message"]


def test_a_role_is_passed_only_to_the_service_its_policy_names(project) -> None:
    deploy = iam.load_policies(project.template_path)["DeployFunction"].statements

    def passes_to(service: str | None) -> bool:
        context = {"iam:passedtoservice": (service,)} if service else {}
        return iam.evaluate(deploy, iam.Request("iam:PassRole", EXECUTION_ROLE, context)).allowed

    assert passes_to("ecs-tasks.amazonaws.com")
    assert not passes_to("lambda.amazonaws.com")
    assert not passes_to("ec2.amazonaws.com")
    assert not passes_to(None)


def test_calls_made_outside_any_function_are_not_checked(world: World) -> None:
    # Given a service turned off, which no function's role may update
    world.cluster("prod")
    world.service("prod", "web", world.web_task_definition("web", "shop"), {"autopilot:deploy": "off"})
    before = iam.usage.export()
    # When test setup (a person, as far as IAM goes) updates it
    boto3.client("ecs").update_service(cluster="prod", service="web", desiredCount=2)
    # Then it is not refused, nor recorded as any function's use
    assert boto3.client("ecs").describe_services(cluster="prod", services=["web"])["services"][0]["desiredCount"] == 2
    assert iam.usage.export() == before


def test_an_operation_the_emulator_cannot_map_is_refused_naming_what_to_add(aws, unrecorded: None) -> None:
    with iam.running_as("DeployFunction"):
        error = refused(lambda: clients.ecs().describe_capacity_providers())
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert "no IAM resource mapping for ecs.DescribeCapacityProviders" in error.response["Error"]["Message"]


def test_a_refused_call_counts_as_a_call_that_reached_aws(world: World, unrecorded: None) -> None:
    world.managed("prod", "web", "tag:latest")
    faults = Faults().install()
    with faults.active(), iam.running_as("TaskWatchFunction"):
        refused(lambda: clients.ecs().update_service(cluster="prod", service="web", desiredCount=3))
    assert faults.done()["ecs.UpdateService"] == 1
