"""IAM as deployed, in tests and the local emulator: each function's AWS calls are checked against its own role.

- **The policies as deployed.** template.yaml is transformed with aws-sam-translator as `sam deploy` would (after
  `sam package` has put the code in S3), which gives each function its role: the inline statements of `Policies:`,
  expanded SAM policy templates, the on-failure destination policy, and the managed policies SAM attaches (read
  from `MANAGED_POLICIES`, the few the template uses). Intrinsics are resolved with the local stack's values.
- **Evaluation.** IAM's rules for identity policies: an explicit Deny wins, then any Allow, else an implicit
  deny. Actions match case-insensitively with `*` and `?` (NotAction too), resources by ARN with `*` and `?`,
  conditions with the operators in `_OPERATORS` (IfExists and ForAnyValue/ForAllValues forms included).
- **Which action and resource a call is.** `before-parameter-build` keeps the call's parameters, `before-call`
  (registered last, so a fault injected by the tests comes first and a refused call still counts as a call
  that reached AWS) maps the operation to its IAM actions and resource ARNs as the Service Authorization
  Reference defines them (`_MAPPERS`), reads resource tags from moto's in-process backends, and evaluates.
  An operation without a mapping is refused, so a new call makes someone add it here.
- **Refusal like AWS.** The service's own error (code in `_DENIED_CODES`, the client's modelled exception) with
  AWS's message.
- **Usage.** Every allowed and denied (function, action) is counted in memory; `report` formats it against what
  each role grants.

Only calls made while `Project.invoke` runs a function are checked (`running_as`): test setup and people at
the CLI act as an administrator would.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from autopilot.aws import clients
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_CONFIG_PARAMETER, LOCAL_REGION, LOCAL_STACK, LOCAL_TABLE

if TYPE_CHECKING:
    from autopilot.local.project import Project

PARTITION = "aws"
_function: ContextVar[str | None] = ContextVar("autopilot_iam_function", default=None)
_PARAMS_KEY = "autopilot_iam_params"


@contextmanager
def running_as(function: str | None) -> Iterator[None]:
    """The calls made inside are the function's own (Project.invoke wraps each handler in it); None: a person's
    or a test's, not checked."""
    token = _function.set(function)
    try:
        yield
    finally:
        _function.reset(token)


def current_function() -> str | None:
    return _function.get()


# --------------------------------------------------------------------------------------------------------------
# Policies as deployed
# --------------------------------------------------------------------------------------------------------------

# The AWS managed policies SAM attaches to the template's roles (IAM's published documents). Lambda itself uses
# them (logs, active tracing, the SQS event source), not the function's code.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": ["*"],
        }
    ],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


class PolicyError(ValueError):
    """template.yaml uses something the local IAM model does not know (an intrinsic, an operator, a policy)."""


@dataclass(frozen=True)
class Statement:
    ident: str  # policy name (or managed policy) / Sid or position: one name in the report
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)
    platform: bool = False  # granted for Lambda's own use (logs, tracing, event source, destination)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], origin: str, position: int, *, platform: bool) -> Statement:
        conditions = []
        for operator, block in (raw.get("Condition") or {}).items():
            _operator(operator)  # unknown operators fail here, when the template is read
            for key, values in block.items():
                conditions.append((operator, key, _strings(values)))
        return cls(
            ident=f"{origin}/{raw.get('Sid') or position}",
            effect=str(raw.get("Effect", "Allow")),
            actions=_strings(raw.get("Action", ())),
            not_actions=_strings(raw["NotAction"]) if "NotAction" in raw else None,
            resources=_strings(raw.get("Resource", ())),
            not_resources=_strings(raw["NotResource"]) if "NotResource" in raw else None,
            conditions=tuple(conditions),
            platform=platform,
        )


@dataclass(frozen=True)
class RolePolicy:
    function: str
    role_name: str
    statements: tuple[Statement, ...]

    @property
    def principal(self) -> str:
        return f"arn:{PARTITION}:sts::{LOCAL_ACCOUNT}:assumed-role/{self.role_name}/{self.function}"


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(str(item).lower() if isinstance(item, bool) else str(item) for item in items)


def local_queue_name(logical_id: str, properties: Mapping[str, Any]) -> str:
    """The name the local stack gives a template queue (emulator._create_queues)."""
    return f"{LOCAL_STACK}-{logical_id}" + (".fifo" if properties.get("FifoQueue") else "")


class Resolver:
    """CloudFormation intrinsics with the local stack's values: pseudo parameters, parameter defaults, and the
    resources the emulator creates (the ledger table, the queues)."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.values: dict[str, str] = {
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::StackName": LOCAL_STACK,
            "AWS::URLSuffix": "amazonaws.com",
        }
        for name, spec in template.get("Parameters", {}).items():
            self.values[name] = str(spec.get("Default", ""))
        self.values["ConfigParameterName"] = LOCAL_CONFIG_PARAMETER

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        kind = self.resources.get(name, {}).get("Type")
        if kind == "AWS::DynamoDB::Table":
            return LOCAL_TABLE
        if kind == "AWS::SQS::Queue":
            return self._queue_url(name)
        raise PolicyError(f"the local IAM model cannot resolve Ref {name}")

    def get_att(self, name: str, attribute: str) -> str:
        spec = self.resources.get(name, {})
        kind = spec.get("Type")
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:{PARTITION}:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{LOCAL_TABLE}"
        if kind == "AWS::SQS::Queue":
            queue = local_queue_name(name, spec.get("Properties", {}))
            found = {
                "Arn": f"arn:{PARTITION}:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{queue}",
                "QueueName": queue,
                "QueueUrl": self._queue_url(name),
            }
            if attribute in found:
                return found[attribute]
        raise PolicyError(f"the local IAM model cannot resolve Fn::GetAtt {name}.{attribute}")

    def _queue_url(self, name: str) -> str:
        queue = local_queue_name(name, self.resources[name].get("Properties", {}))
        return f"https://sqs.{LOCAL_REGION}.amazonaws.com/{LOCAL_ACCOUNT}/{queue}"

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per intrinsic
        if isinstance(value, list):
            resolved = [self.resolve(item) for item in value]
            return [item for item in resolved if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
            resolved_map = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved_map.items() if item is not _NO_VALUE}
        (name, argument), *_ = value.items()
        if name == "Ref":
            return _NO_VALUE if argument == "AWS::NoValue" else self.ref(str(argument))
        if name == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return self.get_att(str(parts[0]), str(parts[1]))
        if name == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            return self._sub(str(text), {key: str(self.resolve(item)) for key, item in variables.items()})
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if name == "Fn::If":
            condition, then, otherwise = argument
            return self.resolve(then if self.condition(str(condition)) else otherwise)
        if name == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self.resolve(argument[0])
        if name == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if name == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if name == "Condition":
            return self.condition(str(argument))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        raise PolicyError(f"the local IAM model cannot resolve {name}")

    def _sub(self, text: str, variables: Mapping[str, str]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return variables[name]
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


_NO_VALUE = object()


def _deployable(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam package` leaves it: code and layer content in S3 (the translator insists)."""
    packaged = copy.deepcopy(template)
    for resource in packaged.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://{LOCAL_STACK}-artifacts/{properties[key]}"
    return packaged


def _translate(template_text: str) -> dict[str, Any]:
    import boto3
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    template = _deployable(yaml_parse(template_text))
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=LOCAL_REGION))
    parameters = {"AWS::AccountId": LOCAL_ACCOUNT, "AWS::StackName": LOCAL_STACK, "AWS::Partition": PARTITION}
    translated: dict[str, Any] = translator.translate(template, parameters, get_managed_policy_map=dict)
    return translated


def policies_from_template(template_text: str) -> dict[str, RolePolicy]:
    """Each function's role as CloudFormation would create it from template.yaml, keyed by logical ID."""
    deployed = _translate(template_text)
    resolver = Resolver(deployed)
    resources: dict[str, Any] = deployed["Resources"]
    policies: dict[str, RolePolicy] = {}
    for function, spec in resources.items():
        if spec.get("Type") != "AWS::Lambda::Function":
            continue
        role_ref = spec["Properties"]["Role"]
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            raise PolicyError(f"{function}: only roles created by the template are modelled, not {role_ref}")
        role_id = str(role_ref["Fn::GetAtt"][0])
        role = resolver.resolve(resources[role_id]["Properties"])
        statements: list[Statement] = []
        for policy in role.get("Policies", []):
            name = str(policy["PolicyName"])
            own = re.fullmatch(rf"{re.escape(function)}RolePolicy\d+", name) is not None
            for position, raw in enumerate(_statement_list(policy["PolicyDocument"])):
                statements.append(Statement.parse(raw, name, position, platform=not own))
        for arn in role.get("ManagedPolicyArns", []):
            short = str(arn).split(":policy/", 1)[-1]
            if short not in MANAGED_POLICIES:
                raise PolicyError(f"{function}: managed policy {arn} is not in iam.MANAGED_POLICIES")
            for position, raw in enumerate(MANAGED_POLICIES[short]):
                statements.append(Statement.parse(raw, short.rsplit("/", 1)[-1], position, platform=True))
        policies[function] = RolePolicy(function, f"{LOCAL_STACK}-{role_id}", tuple(statements))
    return policies


def _statement_list(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = document.get("Statement", [])
    return list(raw) if isinstance(raw, list) else [raw]


@cache
def _policies_cached(path: str, mtime: float) -> dict[str, RolePolicy]:
    return policies_from_template(Path(path).read_text())


def load_policies(template_path: Path) -> dict[str, RolePolicy]:
    return _policies_cached(str(template_path), template_path.stat().st_mtime)


# --------------------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------------------

Context = Mapping[str, tuple[str, ...]]  # condition keys, lower case, to their values


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    allowed_by: tuple[Statement, ...] = ()


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` exactly one."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    return _compiled(pattern).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, action, ignore_case=True)


def resource_matches(pattern: str, arn: str) -> bool:
    """ARN patterns: the first five segments (arn, partition, service, region, account) match one by one, the
    resource part as a whole (a `*` there spans `/` and `:`); `*` alone matches anything."""
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) < 6 or len(arn_parts) < 6:
        return _glob(pattern, arn, ignore_case=False)
    return all(_glob(p, a, ignore_case=False) for p, a in zip(pattern_parts, arn_parts, strict=True))


_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    # name: (does one context value match one policy value, is the operator negated)
    "StringEquals": (lambda have, want: have == want, False),
    "StringNotEquals": (lambda have, want: have == want, True),
    "StringEqualsIgnoreCase": (lambda have, want: have.lower() == want.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda have, want: have.lower() == want.lower(), True),
    "StringLike": (lambda have, want: _glob(want, have, ignore_case=False), False),
    "StringNotLike": (lambda have, want: _glob(want, have, ignore_case=False), True),
    "ArnEquals": (lambda have, want: resource_matches(want, have), False),
    "ArnLike": (lambda have, want: resource_matches(want, have), False),
    "ArnNotEquals": (lambda have, want: resource_matches(want, have), True),
    "ArnNotLike": (lambda have, want: resource_matches(want, have), True),
    "Bool": (lambda have, want: have.lower() == want.lower(), False),
}


def _operator(name: str) -> tuple[str, str, bool]:
    """(set qualifier, base operator, IfExists) of a condition operator; an unknown one is a PolicyError."""
    qualifier, _, base = name.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if qualifier not in {"", "ForAnyValue", "ForAllValues"} or (base not in _OPERATORS and base != "Null"):
        raise PolicyError(f"the local IAM evaluator does not model the condition operator {name}")
    return qualifier, base, if_exists


def condition_holds(operator: str, key: str, wanted: Sequence[str], context: Context) -> bool:
    qualifier, base, if_exists = _operator(operator)
    have = context.get(key.lower())
    if base == "Null":
        return (have is None) == (wanted[0].lower() == "true")
    match, negated = _OPERATORS[base]
    if have is None:  # the key is not in the request
        return if_exists or negated or qualifier == "ForAllValues"
    if qualifier == "ForAllValues":
        found = all(any(match(value, w) for w in wanted) for value in have)
        return not found if negated else found
    hit = any(match(value, w) for value in have for w in wanted)
    return not hit if negated else hit


def statement_applies(statement: Statement, request: Request) -> bool:
    if statement.not_actions is not None:
        if any(action_matches(p, request.action) for p in statement.not_actions):
            return False
    elif not any(action_matches(p, request.action) for p in statement.actions):
        return False
    if statement.not_resources is not None:
        if any(resource_matches(p, request.resource) for p in statement.not_resources):
            return False
    elif not any(resource_matches(p, request.resource) for p in statement.resources):
        return False
    return all(condition_holds(op, key, values, request.context) for op, key, values in statement.conditions)


def evaluate(statements: Sequence[Statement], request: Request) -> Decision:
    """IAM's evaluation of identity policies: an explicit deny wins, then any allow, else an implicit deny."""
    applying = [s for s in statements if statement_applies(s, request)]
    if any(s.effect == "Deny" for s in applying):
        return Decision(allowed=False, explicit_deny=True)
    allowing = tuple(s for s in applying if s.effect == "Allow")
    return Decision(allowed=bool(allowing), allowed_by=allowing)


# --------------------------------------------------------------------------------------------------------------
# Which action and resource a call is
# --------------------------------------------------------------------------------------------------------------

IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing", "monitoring": "cloudwatch"}
# calls that need no permission (IAM's documentation: "no permissions are required")
PERMISSIONLESS = frozenset({"sts.GetCallerIdentity", "dynamodb.DescribeEndpoints"})


@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for a call: an action on resources, with the request's condition keys and,
    per resource, that resource's tags."""

    action: str
    resources: tuple[str, ...] = ("*",)
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # resource ARN → its tags

    def requests(self, common: Context) -> list[Request]:
        """One request per resource, with the keys every request carries (`common`), the call's own, and the
        resource's tags as aws:ResourceTag/<key>."""
        found = []
        for resource in self.resources:
            context = {**common, **self.context}
            for key, value in self.tags.get(resource, {}).items():
                context[f"aws:resourcetag/{key}".lower()] = (value,)
            found.append(Request(self.action, resource, context))
        return found


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name
    operation: str
    params: Mapping[str, Any]
    region: str

    @property
    def prefix(self) -> str:
        return IAM_PREFIX.get(self.service, self.service)

    @property
    def action(self) -> str:
        return f"{self.prefix}:{self.operation}"

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str = LOCAL_ACCOUNT) -> str:
        return f"arn:{PARTITION}:{service}:{self.region if region is None else region}:{account}:{resource}"


Mapper = Callable[[Call], list[Check]]
_MAPPERS: dict[str, Mapper] = {}


def _maps(*names: str) -> Callable[[Mapper], Mapper]:
    def register(mapper: Mapper) -> Mapper:
        for name in names:
            _MAPPERS[name] = mapper
        return mapper

    return register


def _unscoped(call: Call) -> list[Check]:
    """Actions that take no resource scope in the Service Authorization Reference: Resource "*"."""
    return [Check(call.action)]


for _name in (
    "ecs.ListClusters",
    "ecs.ListTaskDefinitions",
    "ecs.ListTaskDefinitionFamilies",
    "ecr.GetAuthorizationToken",
    "cloudwatch.DescribeAlarms",
    "cloudwatch.PutMetricData",
    "cloudwatch.GetMetricData",
    "autoscaling.DescribeLifecycleHooks",
    "autoscaling.DescribeAutoScalingInstances",
    "autoscaling.DescribeAutoScalingGroups",
    "elbv2.DescribeTargetHealth",
    "elbv2.DescribeTargetGroups",
    "elbv2.DescribeTargetGroupAttributes",
    "elbv2.DescribeLoadBalancers",
    "ec2.DescribeInstances",
    "sns.ListTopics",
    "secretsmanager.ListSecrets",
    "ssm.DescribeParameters",
    "sqs.ListQueues",
):
    _MAPPERS[_name] = _unscoped


# ECS (Service Authorization Reference, "Amazon Elastic Container Service"). Cluster-scoped list calls carry the
# cluster as the ecs:cluster condition key.
def _cluster_name(value: Any) -> str:
    text = str(value or "default")
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def _ecs_backend(call: Call) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[LOCAL_ACCOUNT][call.region]


def _ecs_tag_map(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {str(tag["key"]): str(tag.get("value", "")) for tag in tags or () if "key" in tag}


def _cluster_arn(call: Call) -> str:
    cluster = call.params.get("cluster")
    return (
        str(cluster) if str(cluster or "").startswith("arn:") else call.arn("ecs", f"cluster/{_cluster_name(cluster)}")
    )


def _ecs_child_arn(call: Call, kind: str, value: str) -> str:
    """A service, task or container instance named by ARN or by name/id within the call's cluster."""
    if value.startswith("arn:"):
        return value
    return call.arn("ecs", f"{kind}/{_cluster_name(call.params.get('cluster'))}/{value}")


def _service_tags(call: Call, arn: str) -> dict[str, str] | None:
    """The service's tags in moto (None when there is no such service: no tag is then in the request)."""
    rest = arn.split(":service/", 1)[-1]
    cluster, name = rest.split("/", 1) if "/" in rest else (_cluster_name(call.params.get("cluster")), rest)
    service = _ecs_backend(call).services.get(f"{cluster}:{name}")
    return None if service is None else _ecs_tag_map(service.tags)


def _with_service_tags(call: Call, action: str, arns: Sequence[str], context: Context | None = None) -> Check:
    tags = {arn: found for arn in arns if (found := _service_tags(call, arn)) is not None}
    keys = {"ecs:cluster": (_cluster_arn(call),)} if context is None else context
    return Check(action, tuple(arns), keys, tags)


@_maps("ecs.DescribeServices")
def _describe_services(call: Call) -> list[Check]:
    arns = [_ecs_child_arn(call, "service", str(name)) for name in call.params.get("services", [])]
    return [_with_service_tags(call, call.action, arns)]


@_maps("ecs.UpdateService", "ecs.DeleteService", "ecs.ListServiceDeployments")
def _one_service(call: Call) -> list[Check]:
    return [_with_service_tags(call, call.action, [_ecs_child_arn(call, "service", str(call.params["service"]))])]


@_maps("ecs.CreateService")
def _create_service(call: Call) -> list[Check]:
    arn = _ecs_child_arn(call, "service", str(call.params["serviceName"]))
    return [Check(call.action, (arn,), {"ecs:cluster": (_cluster_arn(call),), **_request_tags(call)})]


@_maps(
    "ecs.DescribeServiceDeployments",
    "ecs.StopServiceDeployment",
    "ecs.ContinueServiceDeployment",
    "ecs.DescribeServiceRevisions",
)
def _service_deployments(call: Call) -> list[Check]:
    """Service deployments and revisions are resources of their own, named by their ARNs."""
    arns = (
        call.params.get("serviceDeploymentArns")
        or call.params.get("serviceRevisionArns")
        or [call.params.get("serviceDeploymentArn", "")]
    )
    return [Check(call.action, tuple(str(arn) for arn in arns))]


@_maps("ecs.ListServices")
def _list_services(call: Call) -> list[Check]:
    return [Check(call.action, ("*",), {"ecs:cluster": (_cluster_arn(call),)})]


@_maps("ecs.DescribeClusters")
def _describe_clusters(call: Call) -> list[Check]:
    names = call.params.get("clusters") or ["default"]
    return [
        Check(
            call.action, tuple(str(n) if str(n).startswith("arn:") else call.arn("ecs", f"cluster/{n}") for n in names)
        )
    ]


@_maps("ecs.ListContainerInstances")
def _cluster_scoped(call: Call) -> list[Check]:
    return [Check(call.action, (_cluster_arn(call),))]


@_maps("ecs.DescribeContainerInstances", "ecs.UpdateContainerInstancesState")
def _container_instances(call: Call) -> list[Check]:
    arns = tuple(_ecs_child_arn(call, "container-instance", str(i)) for i in call.params.get("containerInstances", []))
    return [Check(call.action, arns, {"ecs:cluster": (_cluster_arn(call),)})]


@_maps("ecs.ListTasks")
def _list_tasks(call: Call) -> list[Check]:
    instance = call.params.get("containerInstance")
    resource = _ecs_child_arn(call, "container-instance", str(instance)) if instance else "*"
    return [Check(call.action, (resource,), {"ecs:cluster": (_cluster_arn(call),)})]


@_maps("ecs.DescribeTasks", "ecs.StopTask")
def _tasks(call: Call) -> list[Check]:
    names = call.params.get("tasks") or [call.params.get("task", "")]
    arns = tuple(_ecs_child_arn(call, "task", str(name)) for name in names)
    return [Check(call.action, arns, {"ecs:cluster": (_cluster_arn(call),)})]


def _task_definition_arn(call: Call, value: str) -> str:
    if value.startswith("arn:"):
        return value
    if ":" not in value:  # a family alone means its latest ACTIVE revision
        revisions = _ecs_backend(call).task_definitions.get(value, {})
        value = f"{value}:{max(revisions)}" if revisions else value
    return call.arn("ecs", f"task-definition/{value}")


@_maps("ecs.DescribeTaskDefinition", "ecs.DeregisterTaskDefinition")
def _task_definition(call: Call) -> list[Check]:
    return [Check(call.action, (_task_definition_arn(call, str(call.params["taskDefinition"])),))]


def _request_tags(call: Call) -> dict[str, tuple[str, ...]]:
    tags = _ecs_tag_map(call.params.get("tags"))
    context: dict[str, tuple[str, ...]] = {f"aws:requesttag/{k}".lower(): (v,) for k, v in tags.items()}
    if tags:
        context["aws:tagkeys"] = tuple(tags)
    return context


@_maps("ecs.RegisterTaskDefinition")
def _register_task_definition(call: Call) -> list[Check]:
    """RegisterTaskDefinition is unscoped; its tags are also an ecs:TagResource on the new revision (with
    ecs:CreateAction), and each role it names is an iam:PassRole to ECS tasks."""
    checks = [Check(call.action, ("*",), _request_tags(call))]
    if call.params.get("tags"):
        family = str(call.params["family"])
        revisions = _ecs_backend(call).task_definitions.get(family, {})
        arn = call.arn("ecs", f"task-definition/{family}:{max(revisions, default=0) + 1}")
        checks.append(Check("ecs:TagResource", (arn,), {"ecs:createaction": ("RegisterTaskDefinition",)}))
    roles = tuple(str(call.params[key]) for key in ("taskRoleArn", "executionRoleArn") if call.params.get(key))
    if roles:
        checks.append(Check("iam:PassRole", roles, {"iam:passedtoservice": ("ecs-tasks.amazonaws.com",)}))
    return checks


@_maps("ecs.TagResource", "ecs.UntagResource", "ecs.ListTagsForResource")
def _ecs_tagging(call: Call) -> list[Check]:
    arn = str(call.params["resourceArn"])
    if ":service/" in arn:
        return [_with_service_tags(call, call.action, [arn], {})]
    return [Check(call.action, (arn,))]


# DynamoDB: the table (and index) ARN; transactions are authorized item by item as the single-item actions.
def _table_arn(call: Call, table: Any, index: Any = None) -> str:
    name = str(table)
    arn = name if name.startswith("arn:") else call.arn("dynamodb", f"table/{name}")
    return f"{arn}/index/{index}" if index else arn


@_maps(
    "dynamodb.GetItem",
    "dynamodb.PutItem",
    "dynamodb.UpdateItem",
    "dynamodb.DeleteItem",
    "dynamodb.Query",
    "dynamodb.Scan",
    "dynamodb.DescribeTable",
    "dynamodb.DescribeTimeToLive",
)
def _table(call: Call) -> list[Check]:
    return [Check(call.action, (_table_arn(call, call.params["TableName"], call.params.get("IndexName")),))]


@_maps("dynamodb.BatchGetItem", "dynamodb.BatchWriteItem")
def _batch(call: Call) -> list[Check]:
    return [Check(call.action, tuple(_table_arn(call, table) for table in call.params.get("RequestItems", {})))]


_TRANSACT_ACTIONS = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem", "Update": "UpdateItem"}


@_maps("dynamodb.TransactWriteItems", "dynamodb.TransactGetItems")
def _transaction(call: Call) -> list[Check]:
    checks = []
    for item in call.params.get("TransactItems", []):
        for kind, body in item.items():
            action = _TRANSACT_ACTIONS.get(kind, f"{kind}Item")
            checks.append(Check(f"dynamodb:{action}", (_table_arn(call, body["TableName"]),)))
    return checks


# SQS: the queue ARN from its URL; the batch calls are authorized as their single-message action.
_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}
_SQS_BATCH["ChangeMessageVisibilityBatch"] = "ChangeMessageVisibility"


def _queue_arn(call: Call, url: str) -> str:
    _, account, name = urlparse(url).path.split("/", 2)
    return call.arn("sqs", name, account=account)


@_maps(
    "sqs.SendMessage",
    "sqs.SendMessageBatch",
    "sqs.ReceiveMessage",
    "sqs.DeleteMessage",
    "sqs.DeleteMessageBatch",
    "sqs.ChangeMessageVisibility",
    "sqs.ChangeMessageVisibilityBatch",
    "sqs.GetQueueAttributes",
    "sqs.PurgeQueue",
)
def _queue(call: Call) -> list[Check]:
    operation = _SQS_BATCH.get(call.operation, call.operation)
    return [Check(f"sqs:{operation}", (_queue_arn(call, str(call.params["QueueUrl"])),))]


@_maps("sqs.GetQueueUrl")
def _queue_url(call: Call) -> list[Check]:
    account = str(call.params.get("QueueOwnerAWSAccountId") or LOCAL_ACCOUNT)
    return [Check(call.action, (call.arn("sqs", str(call.params["QueueName"]), account=account),))]


# SSM Parameter Store: arn:…:parameter/NAME (a name that starts with / keeps a single slash).
def _parameter_arn(call: Call, name: str) -> str:
    return (
        name
        if name.startswith("arn:")
        else call.arn("ssm", "parameter" + (name if name.startswith("/") else f"/{name}"))
    )


@_maps("ssm.GetParameter", "ssm.PutParameter", "ssm.DeleteParameter", "ssm.GetParameterHistory")
def _parameter(call: Call) -> list[Check]:
    return [Check(call.action, (_parameter_arn(call, str(call.params["Name"])),))]


@_maps("ssm.GetParameters")
def _parameters(call: Call) -> list[Check]:
    return [Check(call.action, tuple(_parameter_arn(call, str(n)) for n in call.params.get("Names", [])))]


@_maps("ssm.GetParametersByPath")
def _parameter_path(call: Call) -> list[Check]:
    return [Check(call.action, (_parameter_arn(call, str(call.params["Path"])),))]


# Secrets Manager: the secret's full ARN, with the six random characters AWS adds to the name.
def _secret_arn(call: Call, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    found = secretsmanager_backends[LOCAL_ACCOUNT][call.region].secrets.get(secret_id)
    return str(found.arn) if found is not None else call.arn("secretsmanager", f"secret:{secret_id}-??????")


@_maps("secretsmanager.GetSecretValue", "secretsmanager.DescribeSecret", "secretsmanager.PutSecretValue")
def _secret(call: Call) -> list[Check]:
    return [Check(call.action, (_secret_arn(call, str(call.params["SecretId"])),))]


@_maps("sns.Publish")
def _publish(call: Call) -> list[Check]:
    target = call.params.get("TopicArn") or call.params.get("TargetArn")
    return [Check(call.action, (str(target),) if target else ("*",))]  # an SMS to a phone number is unscoped


@_maps("cloudwatch.ListTagsForResource")
def _cloudwatch_tags(call: Call) -> list[Check]:
    return [Check(call.action, (str(call.params["ResourceARN"]),))]


# Auto Scaling: the group's ARN (with the id AWS gives it), read from moto.
def _group_arn(call: Call, name: str) -> str:
    from moto.autoscaling.models import autoscaling_backends

    group = autoscaling_backends[LOCAL_ACCOUNT][call.region].autoscaling_groups.get(name)
    return (
        str(group.arn)
        if group is not None
        else call.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}")
    )


@_maps("autoscaling.CompleteLifecycleAction", "autoscaling.RecordLifecycleActionHeartbeat")
def _lifecycle(call: Call) -> list[Check]:
    return [Check(call.action, (_group_arn(call, str(call.params["AutoScalingGroupName"])),))]


@_maps("elbv2.DeregisterTargets", "elbv2.RegisterTargets")
def _target_group(call: Call) -> list[Check]:
    return [Check(call.action, (str(call.params["TargetGroupArn"]),))]


@_maps("ecr.DescribeImages", "ecr.BatchGetImage", "ecr.ListImages", "ecr.DescribeRepositories")
def _repository(call: Call) -> list[Check]:
    names = call.params.get("repositoryNames") or [call.params.get("repositoryName", "*")]
    account = str(call.params.get("registryId") or LOCAL_ACCOUNT)
    return [Check(call.action, tuple(call.arn("ecr", f"repository/{name}", account=account) for name in names))]


def checks_for(call: Call) -> list[Check] | None:
    """The authorizations AWS makes for a call; None when the emulator has no mapping for the operation."""
    key = f"{call.service}.{call.operation}"
    if key in PERMISSIONLESS:
        return []
    mapper = _MAPPERS.get(key)
    return None if mapper is None else mapper(call)


# --------------------------------------------------------------------------------------------------------------
# Refusal like AWS
# --------------------------------------------------------------------------------------------------------------

# The error code each service answers a refused call with (JSON services AccessDeniedException, query ones and
# SQS AccessDenied, SNS AuthorizationError) and its HTTP status.
_DENIED_CODES: dict[str, tuple[str, int]] = {
    "sqs": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "cloudwatch": ("AccessDenied", 403),
    "autoscaling": ("AccessDenied", 403),
    "elbv2": ("AccessDenied", 403),
    "elb": ("AccessDenied", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "cloudformation": ("AccessDenied", 403),
}


def _shown(service: str, action: str) -> str:
    """How the service spells the action in its message (SQS in lower case, SNS with an upper-case prefix)."""
    if service == "sqs":
        return action.lower()
    if service == "sns":
        prefix, _, name = action.partition(":")
        return f"{prefix.upper()}:{name}"
    return action


def denial_message(principal: str, service: str, request: Request, *, explicit: bool) -> str:
    action = _shown(service, request.action)
    on = "" if request.resource == "*" else f" on resource: {request.resource}"
    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal} is not authorized to perform: {action}{on} {why}"


def refusal(service: str, message: str) -> tuple[Any, dict[str, Any]]:
    """The HTTP response and parsed body of AWS's refusal. Returned from `before-call` (as botocore's Stubber
    answers), so the client raises its own modelled exception (ECS.Client.exceptions.AccessDeniedException)."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    code, status = _DENIED_CODES.get(service, ("AccessDeniedException", 400))
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return AWSResponse("", status, HTTPHeaders(), None), parsed


# --------------------------------------------------------------------------------------------------------------
# Usage
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ActionUse:
    allowed: int = 0
    denied: int = 0
    denied_on: list[str] = field(default_factory=list)  # a few resources it was refused on


class Usage:
    """Every (function, action) checked, allowed or denied, and which statements granted what was allowed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.actions: dict[str, dict[str, ActionUse]] = {}
        self.statements: dict[str, set[str]] = {}  # function → "statement ident|action pattern"

    def record(self, function: str, request: Request, decision: Decision) -> None:
        with self._lock:
            use = self.actions.setdefault(function, {}).setdefault(request.action, ActionUse())
            if decision.allowed:
                use.allowed += 1
                granted = self.statements.setdefault(function, set())
                for statement in decision.allowed_by:
                    patterns = statement.actions or ("*",)
                    granted.update(f"{statement.ident}|{p}" for p in patterns if action_matches(p, request.action))
            else:
                use.denied += 1
                if request.resource not in use.denied_on and len(use.denied_on) < 3:
                    use.denied_on.append(request.resource)

    def export(self) -> dict[str, Any]:
        with self._lock:
            return {
                "functions": {
                    function: {
                        "actions": {
                            action: {"allowed": use.allowed, "denied": use.denied, "denied_on": list(use.denied_on)}
                            for action, use in sorted(actions.items())
                        },
                        "statements": sorted(self.statements.get(function, set())),
                    }
                    for function, actions in sorted(self.actions.items())
                }
            }

    def replace(self, exported: Mapping[str, Any]) -> None:
        """Back to an exported state (a test that provokes refusals on purpose leaves no trace in the report)."""
        with self._lock:
            self.actions = {}
            self.statements = {}
            for function, body in exported.get("functions", {}).items():
                self.actions[function] = {
                    action: ActionUse(int(v["allowed"]), int(v["denied"]), list(v.get("denied_on", [])))
                    for action, v in body.get("actions", {}).items()
                }
                self.statements[function] = set(body.get("statements", []))

    def clear(self) -> None:
        self.replace({})


usage = Usage()


# --------------------------------------------------------------------------------------------------------------
# Enforcement
# --------------------------------------------------------------------------------------------------------------


class _Enforcer:
    def __init__(self) -> None:
        self.policies: dict[str, RolePolicy] = {}
        self.installed = False

    def keep_params(self, params: Any, context: Any, **_: Any) -> None:
        if _function.get() is not None and isinstance(context, dict):
            context[_PARAMS_KEY] = dict(params or {})

    def before_call(self, model: Any, context: Any, request_signer: Any = None, **_: Any) -> Any:
        """None lets the call go to AWS; a refusal is returned as the response AWS would give."""
        function = _function.get()
        if function is None or function not in self.policies:
            return None
        policy = self.policies[function]
        params = context.get(_PARAMS_KEY, {}) if isinstance(context, dict) else {}
        region = getattr(request_signer, "region_name", None) or LOCAL_REGION
        call = Call(model.service_model.service_name, model.name, params, region)
        checks = checks_for(call)
        if checks is None:
            request = Request(call.action, "*")
            usage.record(function, request, Decision(allowed=False))
            return refusal(
                call.service,
                f"User: {policy.principal} is not authorized to perform: {call.action} because the local emulator "
                f"has no IAM resource mapping for {call.service}.{call.operation} (add one to autopilot/local/iam.py)",
            )
        common = {
            "aws:requestedregion": (region,),
            "aws:principalaccount": (LOCAL_ACCOUNT,),
            "aws:principalarn": (f"arn:{PARTITION}:iam::{LOCAL_ACCOUNT}:role/{policy.role_name}",),
        }
        for check in checks:
            for request in check.requests(common):
                decision = evaluate(policy.statements, request)
                usage.record(function, request, decision)
                if not decision.allowed:
                    message = denial_message(policy.principal, call.service, request, explicit=decision.explicit_deny)
                    return refusal(call.service, message)
        return None


_enforcer = _Enforcer()
_install_lock = threading.Lock()


def enforce(project: Project) -> None:
    """Check every function's AWS calls against its role in template.yaml, from now on in this process (every
    boto3 session created from now on, and the default one; client caches are cleared so handlers see it)."""
    import boto3
    from botocore import handlers

    _enforcer.policies = load_policies(project.template_path)
    with _install_lock:
        if not _enforcer.installed:
            hooks = [
                ("before-parameter-build", _enforcer.keep_params, handlers.REGISTER_LAST),
                ("before-call", _enforcer.before_call, handlers.REGISTER_LAST),
            ]
            handlers.BUILTIN_HANDLERS.extend(hooks)
            if boto3.DEFAULT_SESSION is not None:
                for event, handler, _ in hooks:
                    boto3.DEFAULT_SESSION._session.get_component("event_emitter").register_last(event, handler)
            _enforcer.installed = True
    clients.clear_caches()


def enforced() -> bool:
    return _enforcer.installed


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def report(granted: Mapping[str, RolePolicy], used: Mapping[str, Any]) -> str:
    """Per function: what its role grants, what the tests used, what is granted but was never used (remove it or
    say in template.yaml why it stays), and what was used but denied."""
    functions: Mapping[str, Any] = used.get("functions", {})
    lines: list[str] = [f"IAM usage recorded by: {used.get('run', 'a test run')}", ""]
    for function, policy in sorted(granted.items()):
        body = functions.get(function, {})
        actions: Mapping[str, Any] = body.get("actions", {})
        through = set(body.get("statements", []))
        own = [s for s in policy.statements if not s.platform and s.effect == "Allow"]
        platform = [s for s in policy.statements if s.platform]
        lines.append(f"{function}  (role {policy.role_name})")
        lines.append("  granted:")
        lines.extend(f"    {_grant(s)}" for s in own)
        lines.append("  granted for Lambda's own use (logs, tracing, event source, on-failure destination):")
        lines.append("    " + ", ".join(sorted({a for s in platform for a in s.actions})))
        unused = [(s, p) for s in own for p in s.actions if f"{s.ident}|{p}" not in through]
        sections = {
            "used by the tests": [f"{a}  ({_calls(v['allowed'])})" for a, v in actions.items() if v["allowed"]],
            "granted but unused": [f"{p}  [{s.ident.split('/', 1)[1]}]" for s, p in unused],
            "used but denied": [
                f"{a}  ({_calls(v['denied'])})  on {', '.join(v['denied_on'])}"
                for a, v in actions.items()
                if v["denied"]
            ],
        }
        for title, entries in sections.items():
            lines.append(f"  {title}:")
            lines.extend(f"    {entry}" for entry in entries or ["-"])
        lines.append("")
    return "\n".join(lines)


def _calls(count: int) -> str:
    return f"{count} call" if count == 1 else f"{count} calls"


def _grant(statement: Statement) -> str:
    scope = ", ".join(statement.resources)
    tests = [f"{op} {key}={'|'.join(values)}" for op, key, values in statement.conditions]
    condition = f" if {' and '.join(tests)}" if tests else ""
    return f"{', '.join(statement.actions)}  on {scope}{condition}  [{statement.ident.split('/', 1)[1]}]"


def write_usage(path: Path, run: str) -> bool:
    """Write what the functions used (with the run it comes from); a run in which no function ran writes
    nothing, so running one unrelated test file does not blank the report."""
    exported = usage.export()
    if not exported["functions"]:
        return False
    path.write_text(json.dumps({"run": run, **exported}, indent=1, sort_keys=True) + "\n")
    return True
