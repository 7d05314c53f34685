"""`autopilot doctor` under moto: each risky setting is found and says what to change; a clean service is quiet."""

from __future__ import annotations

import boto3
import pytest

from autopilot.aws import clients
from autopilot.aws.ecs import EcsGateway
from autopilot.cli.doctor import examine
from autopilot.cli.inspector import Inspector
from autopilot.config.document import ConfigDocument


@pytest.fixture
def account(aws) -> None:
    ec2 = boto3.client("ec2")
    ecs = boto3.client("ecs")
    elbv2 = boto3.client("elbv2")
    autoscaling = boto3.client("autoscaling")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    template = ec2.create_launch_template(LaunchTemplateName="spot", LaunchTemplateData={"ImageId": image})
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="spot-asg",
        MinSize=0,
        MaxSize=4,
        AvailabilityZones=["us-west-2a"],
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"],
                    "Version": "$Latest",
                }
            },
            "InstancesDistribution": {
                "OnDemandPercentageAboveBaseCapacity": 0,
                "SpotAllocationStrategy": "price-capacity-optimized",
            },
        },
    )
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName="spot-asg",
        LifecycleHookName="drain",
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        DefaultResult="ABANDON",
    )
    group_arn = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["spot-asg"])["AutoScalingGroups"][0][
        "AutoScalingGroupARN"
    ]
    ecs.create_capacity_provider(name="spot", autoScalingGroupProvider={"autoScalingGroupArn": group_arn})
    ecs.create_cluster(clusterName="prod", capacityProviders=["spot"])
    ecs.create_cluster(clusterName="calm")  # no Spot capacity (moto keeps no deploymentConfiguration: ECS's 100)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    slow = elbv2.create_target_group(Name="slow", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    quick = elbv2.create_target_group(Name="quick", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=quick["TargetGroupArn"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}],
    )
    task_definition = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128, "stopTimeout": 30}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="prod",
        serviceName="web",
        taskDefinition=task_definition,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": slow["TargetGroupArn"], "containerName": "web", "containerPort": 80}],
        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
        tags=[{"key": "autopilot:deploy", "value": "tag:latest"}],
    )
    ecs.create_service(
        cluster="calm",
        serviceName="api",
        taskDefinition=task_definition,
        desiredCount=1,
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
        tags=[
            {"key": "autopilot:deploy", "value": "policy:nightly"},
            {"key": "autopilot:notify", "value": "oncall nope"},
        ],
    )
    ecs.create_service(
        cluster="calm",
        serviceName="clean",
        taskDefinition=task_definition,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": quick["TargetGroupArn"], "containerName": "web", "containerPort": 80}],
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
        tags=[{"key": "autopilot:deploy", "value": "semver:1.x"}],
    )
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="ghost-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "autopilot:service", "Value": "prod/ghost calm/clean"}],
    )


def findings(cluster: str | None = None) -> list[tuple[str, str]]:
    inspector = Inspector(
        EcsGateway(clients.ecs()), clients.ecs(), clients.elbv2(), clients.autoscaling(), clients.cloudwatch()
    )
    document = ConfigDocument.model_validate({"routes": {"oncall": {"type": "pagerduty", "secret": "x"}}})
    return [(f.subject, f.problem) for f in examine(inspector, document, cluster)]


def test_every_risky_setting_is_found_with_what_to_change(account) -> None:
    found = findings()
    subjects = [subject for subject, _ in found]
    problems = " | ".join(problem for _, problem in found)
    assert "deregistration delay 300 s is not shorter than the tasks' stopTimeout 30 s" in problems
    assert "minimumHealthyPercent is 100 on Spot capacity" in problems
    assert "no policy named 'nightly'" in problems
    assert "names routes that do not exist: nope" in problems
    assert "lifecycle hook drain defaults to ABANDON" in problems
    assert "autopilot:service names prod/ghost, which does not exist" in problems
    assert "calm/clean" not in subjects
    assert len(found) == 6


def test_doctor_for_one_cluster_leaves_alarms_out(account) -> None:
    assert not any(subject.startswith("alarm ") for subject, _ in findings("prod"))


def test_the_configuration_document_containers_and_tag_spelling_are_checked(aws) -> None:
    # issue 10: doctor missed a defaults route that does not exist, an invalid named policy, and a container that
    # is not in the task definition. (A service tagged semver:^1.4 cannot exist: ECS refuses the value, and so
    # does the emulator; the tag-safe spelling is tested with the tag parser, tests/unit/test_service_tags.py.)
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName="prod")
    task_definition = ecs.register_task_definition(
        family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    for name, tags in {
        "sidecar": {"autopilot:deploy": "tag:latest", "autopilot:containers": "web app"},
    }.items():
        ecs.create_service(
            cluster="prod",
            serviceName=name,
            taskDefinition=task_definition,
            desiredCount=1,
            deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200},
            tags=[{"key": key, "value": value} for key, value in tags.items()],
        )
    boto3.client("secretsmanager").create_secret(Name="present", SecretString='{"url": "https://hooks.slack.com/x"}')
    document = ConfigDocument.model_validate(
        {
            "policies": {"nightly": "semver:^1.2", "broken": "semver:not a range ((("},
            "routes": {
                "slack": {"type": "slack_webhook", "secret": "present"},
                "pd": {"type": "pagerduty", "secret": "gone"},
            },
            "defaults": {"routes": ["slack", "ops"]},
        }
    )
    from autopilot.aws.secrets import RouteSecrets

    secret_problem = RouteSecrets(clients.secretsmanager()).problem
    inspector = Inspector(
        EcsGateway(clients.ecs()), clients.ecs(), clients.elbv2(), clients.autoscaling(), clients.cloudwatch()
    )
    found = {(f.subject, f.problem): f.fix for f in examine(inspector, document, secret_problem=secret_problem)}
    problems = " | ".join(problem for _, problem in found)
    assert "defaults.routes names a route that is not defined: ops" in problems
    assert "policy broken = 'semver:not a range (((' is invalid" in problems
    assert "nightly" not in problems
    assert "secret gone: secret gone is ResourceNotFoundException" in problems
    assert "secret present" not in problems
    assert "autopilot:containers names containers its task definition does not have: app" in problems
