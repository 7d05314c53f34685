"""template.yaml: runtime, the ledger table, least-privilege IAM and reliable rule targets."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.local.project import Project


def functions(project: Project) -> dict[str, dict[str, Any]]:
    return project.resources_of_type("AWS::Serverless::Function")


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in function["Properties"]["Policies"] for s in policy["Statement"]]


def test_functions_run_python_313_on_arm64_with_the_shared_layer(project: Project) -> None:
    globals_ = project.template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    # the shared layer, and the OpenTelemetry layer only when the opt-in parameter names one (off by default)
    assert globals_["Layers"] == [
        {"Ref": "AutopilotLayer"},
        {"Fn::If": ["HasOpenTelemetry", {"Ref": "OpenTelemetryLayerArn"}, {"Ref": "AWS::NoValue"}]},
    ]
    assert project.template["Parameters"]["OpenTelemetryLayerArn"]["Default"] == ""
    layer = project.resource("AutopilotLayer")
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert set(functions(project)) == {
        "DeployFunction",
        "InventoryFunction",
        "RollbackFunction",
        "NotifyFunction",
        "SpotDrainFunction",
        "TaskWatchFunction",
        "ChatOpsFunction",
    }


def test_ledger_is_on_demand_encrypted_recoverable_and_expires_items(project: Project) -> None:
    table = project.resource("Ledger")
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    "function",
    [
        "DeployFunction",
        "InventoryFunction",
        "RollbackFunction",
        "SpotDrainFunction",
        "TaskWatchFunction",
        "ChatOpsFunction",
    ],
)
def test_every_rule_target_has_a_retry_policy_and_a_dead_letter_queue(project: Project, function: str) -> None:
    for event in functions(project)[function]["Properties"]["Events"].values():
        if event["Type"] not in {"EventBridgeRule", "Schedule"}:
            continue
        properties = event["Properties"]
        assert properties["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert properties["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}


def test_no_statement_allows_every_action(project: Project) -> None:
    for function in functions(project).values():
        for statement in statements(function):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(action != "*" and not action.endswith(":*") for action in actions)


def test_pass_role_is_limited_to_ecs_tasks(project: Project) -> None:
    passes = [s for s in statements(functions(project)["DeployFunction"]) if s["Action"] == "iam:PassRole"]
    assert len(passes) == 1
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_only_the_deploy_function_may_change_services(project: Project) -> None:
    def allowed(name: str) -> set[str]:
        found = set()
        for statement in statements(functions(project)[name]):
            found.update(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        return found

    assert "ecs:UpdateService" in allowed("DeployFunction")
    assert not {"ecs:UpdateService", "ecs:RegisterTaskDefinition", "iam:PassRole"} & allowed("InventoryFunction")
    assert not {"ecs:ListServices", "ecs:ListClusters"} & allowed("DeployFunction")  # a push never scans


READ_ONLY_VERBS = ("Describe", "List", "Get", "Query", "BatchGet", "ConditionCheck")

# Mutating actions AWS authorizes on "*" only (no resource type, no tag condition key for existing resources).
UNSCOPABLE = {
    "ecs:RegisterTaskDefinition": "no resource-level permission; a new revision does nothing until UpdateService, "
    "which is tag-scoped",
}


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def mutating(action: str) -> bool:
    return not action.split(":", 1)[1].startswith(READ_ONLY_VERBS)


def test_every_mutating_statement_is_scoped_to_resources_or_conditioned(project: Project) -> None:
    for name, function in functions(project).items():
        for statement in statements(function):
            changes = [action for action in actions_of(statement) if mutating(action)]
            if not changes or statement.get("Condition") or statement["Resource"] != "*":
                continue
            unexplained = [action for action in changes if action not in UNSCOPABLE]
            assert not unexplained, f"{name} {statement['Sid']}: {unexplained} on every resource, no condition"


@pytest.mark.parametrize(
    ("function", "opt_out"),
    [
        ("DeployFunction", "aws:ResourceTag/autopilot:deploy"),
        ("RollbackFunction", "aws:ResourceTag/autopilot:rollback"),
    ],
)
def test_update_service_is_allowed_only_on_services_carrying_autopilot_tags(
    project: Project, function: str, opt_out: str
) -> None:
    updates = [s for s in statements(functions(project)[function]) if "ecs:UpdateService" in actions_of(s)]
    assert len(updates) == 1
    (update,) = updates
    assert actions_of(update) == ["ecs:UpdateService"]  # no unconditioned action shares the statement
    assert update["Condition"] == {
        "Null": {"aws:ResourceTag/autopilot:deploy": "false"},
        "StringNotEquals": {opt_out: "off"},
    }


def test_only_the_spot_drain_function_changes_container_instances_and_only_those(project: Project) -> None:
    for name, function in functions(project).items():
        drains = [s for s in statements(function) if "ecs:UpdateContainerInstancesState" in actions_of(s)]
        if name != "SpotDrainFunction":
            assert drains == []
            continue
        (drain,) = drains
        assert actions_of(drain) == ["ecs:UpdateContainerInstancesState"]
        assert drain["Resource"]["Fn::Sub"].endswith(":container-instance/*/*")


def test_notifications_go_through_a_fifo_queue_with_a_dead_letter_queue_and_an_alarm(project: Project) -> None:
    queue = project.resource("NotificationQueue")["Properties"]
    assert queue["FifoQueue"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["NotificationDeadLetterQueue", "Arn"]}
    alarm = project.resource("NotificationDeadLetterAlarm")["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["NotificationDeadLetterQueue", "QueueName"]}
    notify = functions(project)["NotifyFunction"]["Properties"]
    assert notify["Events"]["Messages"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_only_the_notify_function_reads_route_secrets_and_only_under_the_prefix(project: Project) -> None:
    for name, function in functions(project).items():
        secret_statements = [s for s in statements(function) if "secretsmanager:GetSecretValue" in str(s["Action"])]
        if name == "NotifyFunction":
            assert len(secret_statements) == 1
            assert "${NotificationSecretsPrefix}*" in secret_statements[0]["Resource"]["Fn::Sub"]
        elif name == "ChatOpsFunction":  # the Slack app's own secret, by its name (Secrets Manager adds -??????)
            assert len(secret_statements) == 1
            assert secret_statements[0]["Resource"]["Fn::Sub"].endswith(":secret:${ChatOpsSecretName}-??????")
        else:
            assert secret_statements == []


def test_every_template_parameter_is_explained_in_the_readme(project: Project) -> None:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in project.template["Parameters"]:
        assert f"| `{name}` |" in readme, f"README does not explain the parameter {name}"


def test_queues_that_feed_functions_hide_messages_long_enough(project: Project) -> None:
    default_timeout = project.template["Globals"]["Function"]["Timeout"]
    for function in functions(project).values():
        timeout = function["Properties"].get("Timeout", default_timeout)
        for event in function["Properties"]["Events"].values():
            if event["Type"] == "SQS":
                queue = project.resource(event["Properties"]["Queue"]["Fn::GetAtt"][0])["Properties"]
                assert queue["VisibilityTimeout"] >= 6 * timeout


def test_rejected_events_of_every_event_driven_function_raise_one_alarm(project: Project) -> None:
    alarm = project.resource("RejectedEventsAlarm")["Properties"]
    watched = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        for query in alarm["Metrics"]
        if "MetricStat" in query and query["MetricStat"]["Metric"]["MetricName"] == "RejectedEvents"
    }
    event_driven = {
        function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for function in functions(project).values()
        if any(event["Type"] == "EventBridgeRule" for event in function["Properties"]["Events"].values())
    }
    assert watched == event_driven
    assert alarm["Threshold"] == 1
    assert (
        project.template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        == (alarm["Metrics"][1]["MetricStat"]["Metric"]["Namespace"])
    )


def test_the_dashboard_graphs_only_metrics_the_functions_emit(project: Project) -> None:
    import json
    import re

    from autopilot.deploy import Outcome as DeployOutcome
    from autopilot.rollback import Outcome as RollbackOutcome
    from autopilot.taskwatch import StopClass

    def name(prefix: str, outcome: str) -> str:
        return prefix + "".join(word.title() for word in outcome.replace("-", "_").split("_"))

    emitted = (
        {name("Services", o.value) for o in DeployOutcome}
        | {name("Rollbacks", o.value) for o in RollbackOutcome}
        | {name("Drain", o) for o in ("DRAINED", "TOLD", "NOT_IN_CLUSTER", "WAITING", "COMPLETED", "DEREGISTERED")}
        | {name("TaskStops", c.value) for c in StopClass}
        | {name("Notifications", s) for s in ("DELIVERED", "SKIPPED", "DUPLICATE", "DEAD_LETTERED", "RETRY")}
        | {"RejectedEvents", "ServicesIndexed", "IndexRefreshes"}
    )
    body = project.resource("Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    ours = [m[1] for w in widgets for m in w["properties"]["metrics"] if m[0] == "EcsAutopilot"]
    assert ours and set(ours) <= emitted, set(ours) - emitted
    titles = " ".join(w["properties"]["title"] for w in widgets)
    for topic in ("Deploys", "Rollbacks", "Spot drains", "Stopped tasks", "Notifications", "errors", "duration"):
        assert topic in titles


def test_every_alarm_notifies_the_alarm_topic_when_one_is_given(project: Project) -> None:
    alarms = project.resources_of_type("AWS::CloudWatch::Alarm")
    assert set(alarms) >= {
        "FailedEventsAlarm",
        "NotificationDeadLetterAlarm",
        "RejectedEventsAlarm",
        "FunctionErrorsAlarm",
    }
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
        }


def test_the_deployment_guide_explains_every_parameter_and_output(project: Project) -> None:
    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for name in project.template["Parameters"]:
        assert f"| `{name}` [" in guide, f"docs/deployment.md does not explain the parameter {name}"
    for name in project.template["Outputs"]:
        assert f"`{name}`" in guide, f"docs/deployment.md does not name the output {name}"


def test_the_outputs_the_cli_reads_exist_in_the_template_and_in_the_emulator(project: Project, aws) -> None:
    import boto3

    from autopilot.cli.stack import OUTPUTS
    from autopilot.local.emulator import LOCAL_STACK

    assert set(OUTPUTS) <= set(project.template["Outputs"])
    stack = boto3.client("cloudformation").describe_stacks(StackName=LOCAL_STACK)["Stacks"][0]
    assert set(OUTPUTS) <= {item["OutputKey"] for item in stack["Outputs"]}
