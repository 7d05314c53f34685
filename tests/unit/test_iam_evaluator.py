"""The local IAM evaluator: IAM's rules for identity policies, on statements written here (no moto, no template)."""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.local.iam import (
    PolicyError,
    Request,
    Resolver,
    RolePolicy,
    Statement,
    Usage,
    denial_message,
    evaluate,
    report,
)

SERVICE = "arn:aws:ecs:us-west-2:123456789012:service/prod/web"
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/ecs-autopilot-DeployFunctionRole/DeployFunction"


def statement(**raw: Any) -> Statement:
    return Statement.parse({"Effect": "Allow", **raw}, "Policy", 0, platform=False)


def allowed(
    statements: list[Statement], action: str, resource: str = "*", context: dict[str, str] | None = None
) -> bool:
    keys = {key.lower(): (value,) for key, value in (context or {}).items()}
    return evaluate(statements, Request(action, resource, keys)).allowed


def tagged(**tags: str) -> dict[str, tuple[str, ...]]:
    return {f"aws:resourcetag/{key}".lower(): (value,) for key, value in tags.items()}


# the DeployFunction statement of template.yaml: managed services only, never one turned off
UPDATE_MANAGED_ONLY = statement(
    Action="ecs:UpdateService",
    Resource="arn:aws:ecs:us-west-2:123456789012:service/*/*",
    Condition={
        "Null": {"aws:ResourceTag/autopilot:deploy": "false"},
        "StringNotEquals": {"aws:ResourceTag/autopilot:deploy": "off"},
    },
)


def test_action_wildcards_match_whatever_the_case() -> None:
    statements = [statement(Action=["ECS:Describe*", "ecs:?pdateService"], Resource="*")]
    assert allowed(statements, "ecs:DescribeServices")
    assert allowed(statements, "ecs:describetaskdefinition")
    assert allowed(statements, "ecs:UpdateService")
    assert not allowed(statements, "ecs:RegisterTaskDefinition")
    assert not allowed(statements, "dynamodb:DescribeTable")


def test_resource_wildcards_span_the_resource_part_but_not_the_other_arn_segments() -> None:
    statements = [statement(Action="ecs:*", Resource="arn:aws:ecs:us-west-2:123456789012:service/*/*")]
    assert allowed(statements, "ecs:UpdateService", SERVICE)
    assert not allowed(statements, "ecs:UpdateService", "arn:aws:ecs:us-west-2:123456789012:task-definition/web:3")
    assert not allowed(statements, "ecs:UpdateService", "arn:aws:ecs:us-east-1:123456789012:service/prod/web")
    anywhere = [statement(Action="sqs:SendMessage", Resource="arn:aws:sqs:*:123456789012:ecs-autopilot-*")]
    assert allowed(anywhere, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:ecs-autopilot-Queue.fifo")
    assert not allowed(anywhere, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:210987654321:ecs-autopilot-Queue")


def test_question_mark_matches_exactly_one_character() -> None:
    statements = [
        statement(Action="secretsmanager:GetSecretValue", Resource="arn:aws:secretsmanager:*:*:secret:ops-??????")
    ]
    assert allowed(statements, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:r:1:secret:ops-AbC123")
    assert not allowed(statements, "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:r:1:secret:ops-AbC12")


def test_a_managed_service_may_be_updated() -> None:
    request = Request("ecs:UpdateService", SERVICE, tagged(**{"autopilot:deploy": "tag:latest"}))
    assert evaluate([UPDATE_MANAGED_ONLY], request).allowed


def test_null_false_refuses_a_service_without_the_tag() -> None:
    request = Request("ecs:UpdateService", SERVICE, tagged(team="payments"))
    assert not evaluate([UPDATE_MANAGED_ONLY], request).allowed


def test_string_not_equals_refuses_a_service_turned_off() -> None:
    request = Request("ecs:UpdateService", SERVICE, tagged(**{"autopilot:deploy": "off"}))
    decision = evaluate([UPDATE_MANAGED_ONLY], request)
    assert not decision.allowed
    assert not decision.explicit_deny  # nothing allows it: an implicit deny


def test_string_not_equals_holds_when_the_key_is_absent() -> None:
    rollback_unless_off = statement(
        Action="ecs:UpdateService",
        Resource="*",
        Condition={"StringNotEquals": {"aws:ResourceTag/autopilot:rollback": "off"}},
    )
    assert allowed([rollback_unless_off], "ecs:UpdateService", SERVICE)
    assert evaluate(
        [rollback_unless_off], Request("ecs:UpdateService", SERVICE, tagged(**{"autopilot:rollback": "on"}))
    ).allowed
    assert not evaluate(
        [rollback_unless_off], Request("ecs:UpdateService", SERVICE, tagged(**{"autopilot:rollback": "off"}))
    ).allowed


def test_condition_keys_match_whatever_their_case() -> None:
    only_ecs_tasks = statement(
        Action="iam:PassRole",
        Resource="*",
        Condition={"StringEquals": {"IAM:PassedToService": "ecs-tasks.amazonaws.com"}},
    )
    role = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    assert evaluate(
        [only_ecs_tasks], Request("iam:PassRole", role, {"iam:passedtoservice": ("ecs-tasks.amazonaws.com",)})
    ).allowed
    assert not evaluate(
        [only_ecs_tasks], Request("iam:PassRole", role, {"iam:passedtoservice": ("lambda.amazonaws.com",)})
    ).allowed
    assert not evaluate([only_ecs_tasks], Request("iam:PassRole", role)).allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    statements = [
        statement(Action="ecs:*", Resource="*"),
        Statement.parse(
            {"Effect": "Deny", "Action": "ecs:UpdateService", "Resource": SERVICE}, "Guard", 0, platform=False
        ),
    ]
    decision = evaluate(statements, Request("ecs:UpdateService", SERVICE))
    assert (decision.allowed, decision.explicit_deny) == (False, True)
    assert evaluate(statements, Request("ecs:DescribeServices", SERVICE)).allowed


def test_no_statement_at_all_is_an_implicit_deny() -> None:
    decision = evaluate([], Request("sqs:SendMessage", "arn:aws:sqs:us-west-2:123456789012:q"))
    assert (decision.allowed, decision.explicit_deny) == (False, False)


def test_not_action_allows_everything_but_the_actions_it_names() -> None:
    statements = [statement(NotAction=["iam:*", "ecs:Delete*"], Resource="*")]
    assert allowed(statements, "ecs:UpdateService")
    assert not allowed(statements, "ecs:DeleteService")
    assert not allowed(statements, "iam:PassRole")


def test_if_exists_and_for_all_values_hold_without_the_key_for_any_value_does_not() -> None:
    def holds(operator: str) -> bool:
        guarded = statement(Action="ecs:TagResource", Resource="*", Condition={operator: {"aws:TagKeys": "team"}})
        return evaluate([guarded], Request("ecs:TagResource", "*")).allowed

    assert holds("StringEqualsIfExists")
    assert holds("ForAllValues:StringEquals")
    assert not holds("ForAnyValue:StringEquals")
    assert not holds("StringEquals")


def test_for_any_value_and_for_all_values_compare_each_value_of_the_request() -> None:
    def holds(operator: str, keys: tuple[str, ...]) -> bool:
        only = statement(Action="ecs:TagResource", Resource="*", Condition={operator: {"aws:TagKeys": ["team", "env"]}})
        return evaluate([only], Request("ecs:TagResource", "*", {"aws:tagkeys": keys})).allowed

    assert holds("ForAllValues:StringEquals", ("team", "env"))
    assert not holds("ForAllValues:StringEquals", ("team", "owner"))
    assert holds("ForAnyValue:StringEquals", ("team", "owner"))
    assert not holds("ForAnyValue:StringEquals", ("owner",))


def test_string_like_and_arn_like_take_wildcards_in_the_policy_value() -> None:
    statements = [
        statement(
            Action="ecs:ListTasks",
            Resource="*",
            Condition={"ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/spot-*"}},
        ),
        statement(Action="sns:Publish", Resource="*", Condition={"StringLike": {"aws:RequestedRegion": "us-*"}}),
    ]
    assert allowed(statements, "ecs:ListTasks", context={"ecs:cluster": "arn:aws:ecs:us-west-2:1:cluster/spot-a"})
    assert not allowed(statements, "ecs:ListTasks", context={"ecs:cluster": "arn:aws:ecs:us-west-2:1:cluster/prod"})
    assert allowed(statements, "sns:Publish", context={"aws:RequestedRegion": "us-west-2"})
    assert not allowed(statements, "sns:Publish", context={"aws:RequestedRegion": "eu-west-1"})


def test_an_unknown_condition_operator_is_refused_when_the_template_is_read() -> None:
    with pytest.raises(PolicyError, match="DateGreaterThan"):
        statement(Action="ecs:*", Resource="*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}})


def test_the_denial_message_is_awss() -> None:
    request = Request("ecs:UpdateService", SERVICE)
    assert denial_message(PRINCIPAL, "ecs", request, explicit=False) == (
        f"User: {PRINCIPAL} is not authorized to perform: ecs:UpdateService on resource: {SERVICE} "
        "because no identity-based policy allows the ecs:UpdateService action"
    )
    assert denial_message(PRINCIPAL, "ecs", request, explicit=True).endswith(
        f"on resource: {SERVICE} with an explicit deny in an identity-based policy"
    )


def test_an_unscoped_action_is_refused_without_a_resource_and_each_service_spells_it_its_way() -> None:
    unscoped = denial_message(
        PRINCIPAL, "autoscaling", Request("autoscaling:DescribeLifecycleHooks", "*"), explicit=False
    )
    assert "perform: autoscaling:DescribeLifecycleHooks because no identity-based policy allows" in unscoped
    queue = Request("sqs:SendMessage", "arn:aws:sqs:us-west-2:123456789012:q")
    assert "perform: sqs:sendmessage on resource" in denial_message(PRINCIPAL, "sqs", queue, explicit=False)
    topic = Request("sns:Publish", "arn:aws:sns:us-west-2:123456789012:t")
    assert "allows the SNS:Publish action" in denial_message(PRINCIPAL, "sns", topic, explicit=False)


def test_intrinsics_resolve_to_the_local_stack() -> None:
    resolver = Resolver(
        {
            "Parameters": {"Prefix": {"Type": "String", "Default": "ecs-autopilot/"}, "Topic": {"Default": ""}},
            "Conditions": {"HasTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Topic"}, ""]}]}},
            "Resources": {
                "Ledger": {"Type": "AWS::DynamoDB::Table"},
                "Notifications": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}},
            },
        }
    )
    assert resolver.resolve(
        {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Prefix}*"}
    ) == ("arn:aws:secretsmanager:us-west-2:123456789012:secret:ecs-autopilot/*")
    assert resolver.resolve(
        {"Fn::Sub": ["${Queue}/x/${!Literal}", {"Queue": {"Fn::GetAtt": ["Notifications", "Arn"]}}]}
    ) == ("arn:aws:sqs:us-west-2:123456789012:ecs-autopilot-Notifications.fifo/x/${Literal}")
    assert (
        resolver.resolve({"Fn::GetAtt": "Ledger.Arn"})
        == "arn:aws:dynamodb:us-west-2:123456789012:table/ecs-autopilot-ledger"
    )
    assert resolver.resolve({"Fn::Join": [":", ["a", {"Ref": "AWS::StackName"}]]}) == "a:ecs-autopilot"
    assert resolver.resolve([{"Fn::If": ["HasTopic", "topic", {"Ref": "AWS::NoValue"}]}, "kept"]) == ["kept"]
    with pytest.raises(PolicyError, match="Fn::ImportValue"):
        resolver.resolve({"Fn::ImportValue": "elsewhere"})


def test_the_report_names_what_is_granted_but_unused_and_what_was_used_but_denied() -> None:
    # Given a role with two statements, and a run that used one of them and was refused something else
    read = Statement.parse(
        {"Sid": "Read", "Effect": "Allow", "Action": "ecs:DescribeServices", "Resource": "*"}, "P", 0, platform=False
    )
    write = Statement.parse(
        {"Sid": "Write", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"}, "P", 1, platform=False
    )
    logs = Statement.parse(
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}, "Basic", 0, platform=True
    )
    role = RolePolicy("DeployFunction", "ecs-autopilot-DeployFunctionRole", (read, write, logs))
    usage = Usage()
    for request in (Request("ecs:DescribeServices", SERVICE), Request("ecs:DeleteService", SERVICE)):
        usage.record("DeployFunction", request, evaluate(role.statements, request))
    # When the report is made
    text = report({"DeployFunction": role}, {"run": "pytest tests/integration", **usage.export()})
    # Then
    sections = text.split("  used by the tests:")[1]
    used, unused_and_denied = sections.split("  granted but unused:")
    unused, denied = unused_and_denied.split("  used but denied:")
    assert "ecs:DescribeServices  (1 call)" in used
    assert unused.split() == ["ecs:UpdateService", "[Write]"]  # Lambda's own logs grant is not listed as unused
    assert f"ecs:DeleteService  (1 call)  on {SERVICE}" in denied
