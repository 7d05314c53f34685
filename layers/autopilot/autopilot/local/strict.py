"""Requests AWS would refuse, refused here too: moto checked against botocore's model before it acts.

moto accepts almost anything: a tag value with `^`, a 256-character family, `launchType="FARGATEX"`. AWS refuses
them with a 400, so code that passes every test could still fail in an account. `install()` patches the two methods
of `BaseResponse` every moto service runs, under `mock_aws` (the botocore stubber) and in the server
(`ThreadedMotoServer`: `autopilot local up`, the demo) alike, once service, action, headers, body and querystring
are known: `parse_parameters`, where most services parse their input inside `setup_class` (and crash on a value of
the wrong type), and `call_action`, before the service acts. The input is checked against botocore's input shape
for the operation and refused with HTTP 400, the service's own error code (`VALIDATION_CODES`) and AWS's message
("1 validation error detected: Value 'x' at 'tags.1.member.value' failed to satisfy constraint: ..."), serialized
by moto for the service's protocol, so botocore raises a ClientError with that code.

Checked, recursively through structures, lists and maps: required members, types, enums, string length, `pattern`
(whole value, `regex` for Java's `\\p{L}` classes), numeric ranges, list and map sizes; plus `DOCUMENTED_RULES`,
limits ECS documents that its model does not carry (a family of 256 characters). Unknown members are ignored.

Parsed: the `json` protocol (X-Amz-Target and a JSON body: ECS, ECR, DynamoDB, SSM, Secrets Manager, EventBridge,
SQS, CloudWatch, Logs) and `query` (form parameters unflattened by walking the shape: Auto Scaling, ELBv2,
CloudFormation, SNS, STS, IAM). Not checked: `ec2` (EC2's own query dialect), `rest-json`, `rest-xml` and CBOR
(Lambda, S3, API Gateway ...), blob contents, and any request the validator cannot parse or a pattern `regex` cannot
compile. The validator never fails a request by itself: if it cannot tell, the request goes to moto untouched.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import botocore.session
import regex  # type: ignore[import-untyped]  # the `regex` package ships no type information
from botocore.exceptions import BotoCoreError
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StringShape, StructureShape
from botocore.utils import parse_timestamp

_originals: dict[str, Any] = {}  # moto's own methods while the patch is in place
_log = logging.getLogger(__name__)

ECHO_LIMIT = 200  # characters of a refused value quoted back, at most

# The code each service answers a request that breaks its model's constraints, with where that is seen:
VALIDATION_CODES: dict[str, str] = {
    # ECS: "InvalidParameterException: Propagate tags should be one of [SERVICE,TASK_DEFINITION]" (kayac/ecspresso#270)
    "ecs": "InvalidParameterException",
    # ECR: "(InvalidParameterException) ... Invalid parameter at 'repositoryName' failed to satisfy" (boto/boto3#3191)
    "ecr": "InvalidParameterException",
    # DynamoDB: "(ValidationException) ... 1 validation error detected: Value ... at 'tableName'" (aws/aws-cli#790)
    "dynamodb": "ValidationException",
    # SSM: "ValidationException: 1 validation error detected: Value at 'value'" (moj modernisation-platform#8116)
    "ssm": "ValidationException",
    # Secrets Manager: "com.amazon.AWSMimirService#ValidationException" on GetSecretValue (aws/aws-sdk-js-v3#1215)
    "secretsmanager": "ValidationException",
    # EventBridge: model @length/@range/@enum breaches "return ValidationException" (faiscadev/fakecloud#1431, probed)
    "events": "ValidationException",
    # Logs: "InvalidParameterException: 1 validation error detected: Value '[]' at 'logEvents'" (winston-cloudwatch)
    "logs": "InvalidParameterException",
    # SQS: query code InvalidParameterValue, sent in JSON's query-compatible header (localstack/localstack#9981)
    "sqs": "InvalidParameterValue",
    # Auto Scaling (query): "(ValidationError) when calling the CreateOrUpdateTags operation" (cloud-custodian#380)
    "autoscaling": "ValidationError",
    # ELBv2: "ValidationError: 1 validation error detected: Value '0' at 'port'" (aws-load-balancer-controller#4014)
    "elbv2": "ValidationError",
    # CloudWatch: "MetricName must not be null (... Error Code: ValidationError" (aws-cloudformation/cfn-lint#771)
    "cloudwatch": "ValidationError",
    # SNS: "(InvalidParameter) when calling the Subscribe operation" (aws-samples/aws-sagemaker-build#4)
    "sns": "InvalidParameter",
    # STS: "ValidationError: 1 validation error detected: Value '...' at 'name'" (tenesys/awsconsole#2)
    "sts": "ValidationError",
    # IAM: "ValidationError ... at 'tags.6.member.value' ... regular expression pattern" (SWO-GS/auto-tag#90)
    "iam": "ValidationError",
}
# Any other service: what AWS's request framework answers for each protocol (the codes above, most of them).
DEFAULT_CODES = {"json": "ValidationException", "query": "ValidationError"}
# A JSON value of the wrong type never reaches validation: "non-string values in string or enum fields return
# SerializationException" (faiscadev/fakecloud#1431, probed against AWS).
JSON_TYPE_CODE = "SerializationException"

NAME_CHARACTERS = "[a-zA-Z0-9_-]+"  # "letters (uppercase and lowercase), numbers, underscores, and hyphens"


@dataclass(frozen=True)
class DocumentedRule:
    """A limit a service documents and enforces that its botocore model does not carry (at this botocore)."""

    operation: str
    path: tuple[str, ...]  # member names from the input; "*" stands for every element of a list
    max_length: int
    pattern: str
    code: str


DOCUMENTED_RULES: dict[str, tuple[DocumentedRule, ...]] = {
    "ecs": (
        # RegisterTaskDefinition `family`: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and
        # hyphens are allowed" (API reference); refused as "ClientException: Family contains invalid characters."
        # (aws/amazon-ecs-cli#37)
        DocumentedRule("RegisterTaskDefinition", ("family",), 255, NAME_CHARACTERS, "ClientException"),
        # ContainerDefinition `name`: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens
        # are allowed" (API reference); refused as "ClientException: Container.name contains invalid characters."
        # (hashicorp/terraform-provider-aws#5950)
        DocumentedRule(
            "RegisterTaskDefinition", ("containerDefinitions", "*", "name"), 255, NAME_CHARACTERS, "ClientException"
        ),
        # CreateService `serviceName`: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens
        # are allowed" (API reference); no public record of the code, so ECS's code for a bad parameter
        DocumentedRule("CreateService", ("serviceName",), 255, NAME_CHARACTERS, "InvalidParameterException"),
        # CreateCluster `clusterName`: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens
        # are allowed" (API reference); "InvalidParameterException ... Cluster must match ^[a-zA-Z0-9\-_]{1,255}$"
        # (awslabs/amazon-ecs-nodejs-microservices#18)
        DocumentedRule("CreateCluster", ("clusterName",), 255, NAME_CHARACTERS, "InvalidParameterException"),
        # Tag keys (1-128) and values (0-256) and their characters: in the model (TagKey, TagValue), checked there.
    ),
}


@dataclass(frozen=True)
class Refusal:
    """What AWS answers instead of acting: an error code and its message."""

    code: str
    message: str


@dataclass(frozen=True)
class Violation:
    path: str
    value: object
    constraint: str

    def sentence(self) -> str:
        return f"Value {_echo(self.value)} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def install() -> None:
    """Validate every request moto receives from now on, in this process (mocks and server alike)."""
    if _originals:
        return
    from moto.core.responses import BaseResponse

    original_parse = BaseResponse.parse_parameters
    original_call = BaseResponse.call_action

    def parse_parameters(self: Any, request: Any) -> None:
        # Most services parse their input here, inside setup_class, and crash on a value of the wrong type: a
        # request AWS refuses is not parsed, its refusal is answered by call_action, which runs next.
        if screened(self) is not None:
            self.params = {}
            return
        original_parse(self, request)

    def call_action(self: Any) -> Any:
        refusal = screened(self)
        if refusal is None:
            return original_call(self)
        return _refuse(self, refusal)

    _originals.update(parse_parameters=original_parse, call_action=original_call)
    BaseResponse.parse_parameters = parse_parameters  # type: ignore[method-assign]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def uninstall() -> None:
    """moto as it was: for a test that installs the check not to change the tests that run after it."""
    from moto.core.responses import BaseResponse

    for name, method in _originals.items():
        setattr(BaseResponse, name, method)
    _originals.clear()


_limits: Any = None  # autopilot.local.ratelimits.RateLimits, when a test or benchmark turns ECS's limits on


def limit(limits: Any) -> None:
    """ECS's API rate limits from now on (a RateLimits), or none (None): a request past them is refused with
    ThrottlingException, after it passed validation."""
    global _limits  # noqa: PLW0603 - one set of limits per process, like moto's own state
    _limits = limits


def screened(response: Any) -> Refusal | None:
    """`screen`, once per request: the answer is kept on moto's handler, with the request it is for."""
    request = response.normalized_request
    kept = response.__dict__.get("_strict_screened")
    if kept is not None and kept[0] is request:
        refusal: Refusal | None = kept[1]
        return refusal
    refusal = screen(response)
    if refusal is None and _limits is not None and not _limits.admit(response.boto3_service_name, _action(response)):
        refusal = Refusal("ThrottlingException", "Rate exceeded")
    response.__dict__["_strict_screened"] = (request, refusal)
    return refusal


def _action(response: Any) -> str:
    """The operation of a JSON-protocol request (X-Amz-Target: Service.Operation), as ECS names it."""
    target = str(response.headers.get("X-Amz-Target") or "")
    return target.rsplit(".", 1)[-1]


def screen(response: Any) -> Refusal | None:
    """The refusal AWS would answer to the request moto is about to handle, or None to let it through.

    A failure of the validator itself lets the request through: the point is to catch our requests, never to
    break the emulator on one we did not foresee."""
    try:
        return _screen(response)
    except Exception:  # deliberately broad: the validator is never the cause of a failed request
        _log.debug("strict: could not check a request, let through", exc_info=True)
        return None


def _screen(response: Any) -> Refusal | None:
    service = response.boto3_service_name
    model = _service_model(service)
    if model is None:
        return None
    headers = response.headers
    querystring: Mapping[str, list[str]] = response.querystring
    protocol = _wire_protocol(model, headers, querystring)
    if protocol is None:
        return None
    operation = _operation(model, _operation_name(protocol, headers, querystring))
    if operation is None:
        return None
    document = _json_input(response.raw_body) if protocol == "json" else _query_input(operation, querystring)
    if document is None:
        return None
    return check(service, protocol, operation, document)


def check(service: str, protocol: str, operation: OperationModel, document: dict[str, Any]) -> Refusal | None:
    """Validate one operation's input (already parsed from the wire) as the service would."""
    if operation.input_shape is None:
        return None
    walker = _Walker(textual=protocol == "query", json_keys=protocol == "json")
    walker.structure(operation.input_shape, document, "")
    if walker.malformed:
        code = JSON_TYPE_CODE if protocol == "json" else _validation_code(service, protocol)
        return Refusal(code, _summary(walker.malformed))
    if walker.violations:
        return Refusal(_validation_code(service, protocol), _summary(walker.violations))
    for rule in DOCUMENTED_RULES.get(service, ()):
        if rule.operation == operation.name:
            broken = [found for path, value in _values_at(document, rule.path) for found in _broken(rule, path, value)]
            if broken:
                return Refusal(rule.code, _summary(broken))
    return None


def _validation_code(service: str, protocol: str) -> str:
    return VALIDATION_CODES.get(service, DEFAULT_CODES[protocol])


def _summary(violations: list[Violation]) -> str:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(violation.sentence() for violation in violations)


def _echo(value: object) -> str:
    if value is None:
        return "null"
    return f"'{_java_text(value)[:ECHO_LIMIT]}'"


def _java_text(value: object) -> str:
    """How AWS's (Java) framework prints a value in its messages: lists as [a, b], maps as {k=v}."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_java_text(item)}" for key, item in value.items()) + "}"
    return str(value)


# --- the model -------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.Session()


@lru_cache(maxsize=128)
def _service_model(service: str) -> ServiceModel | None:
    if not service:
        return None
    try:
        return _session().get_service_model(service)
    except BotoCoreError:
        return None


def _operation(model: ServiceModel, name: str | None) -> OperationModel | None:
    if not name or name not in model.operation_names:
        return None
    return model.operation_model(name)


# --- the wire ----------------------------------------------------------------------------------------------------


def _wire_protocol(model: ServiceModel, headers: Any, querystring: Mapping[str, list[str]]) -> str | None:
    """`json` or `query` when the request came in one of them (a service may speak several); None otherwise."""
    supported = model.metadata.get("protocols") or [model.protocol]
    if "ec2" in supported:
        return None  # EC2's query dialect: not parsed
    content_type = str(headers.get("Content-Type") or "")
    if "json" in supported and headers.get("X-Amz-Target") and "json" in content_type:
        return "json"
    if "query" in supported and "Action" in querystring:
        return "query"
    return None


def _operation_name(protocol: str, headers: Any, querystring: Mapping[str, list[str]]) -> str | None:
    if protocol == "json":
        return str(headers.get("X-Amz-Target")).split(".")[-1]
    values = querystring.get("Action") or []
    return values[0] if values else None


def _json_input(body: bytes | str | None) -> dict[str, Any] | None:
    if not body:
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _query_input(operation: OperationModel, querystring: Mapping[str, list[str]]) -> dict[str, Any] | None:
    """Form parameters (`Tags.member.1.Key=...`) back into the structure botocore flattened them from."""
    root = _Node()
    for key, values in querystring.items():
        if key in {"Action", "Version"} or not values:
            continue
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        node.text = values[0]
    if operation.input_shape is None:
        return None
    document = _unflatten(operation.input_shape, root)
    return document if isinstance(document, dict) else None


@dataclass
class _Node:
    """One dotted segment of the query parameters: `Tags` -> `member` -> `1` -> `Key` = text."""

    text: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _query_key(name: str, shape: Shape) -> str:
    """The parameter name botocore's query serializer writes a structure member under."""
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        member_name = shape.member.serialization.get("name")
        if member_name:
            return str(member_name)
    return str(shape.serialization.get("name", name))


def _unflatten(shape: Shape, node: _Node) -> Any:
    if isinstance(shape, StructureShape):
        return {
            name: _unflatten(member, node.children[key])
            for name, member in shape.members.items()
            if (key := _query_key(name, member)) in node.children
        }
    if isinstance(shape, ListShape):
        list_name = shape.member.serialization.get("name", "member")
        holder = node if shape.serialization.get("flattened") else node.children.get(list_name)
        return [_unflatten(shape.member, child) for child in _numbered(holder)]
    if isinstance(shape, MapShape):
        holder = node if shape.serialization.get("flattened") else node.children.get("entry")
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        return {
            entry.children[key_name].text: _unflatten(shape.value, entry.children[value_name])
            for entry in _numbered(holder)
            if key_name in entry.children and value_name in entry.children
        }
    return node.text


def _numbered(holder: _Node | None) -> list[_Node]:
    if holder is None:
        return []
    indices = sorted(int(key) for key in holder.children if key.isdigit())
    return [holder.children[str(index)] for index in indices]


# --- the constraints ---------------------------------------------------------------------------------------------

_MALFORMED = object()  # a scalar that is not of its shape's type


@dataclass
class _Walker:
    """Walks a shape and a value together, noting what AWS would refuse, with the path AWS names it by."""

    textual: bool  # query: every scalar arrives as text
    json_keys: bool  # json: members are keyed by their serialized name
    violations: list[Violation] = field(default_factory=list)
    malformed: list[Violation] = field(default_factory=list)

    def check(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(shape, StructureShape):
            self.structure(shape, value, path)
        elif isinstance(shape, ListShape):
            self.sequence(shape, value, path)
        elif isinstance(shape, MapShape):
            self.mapping(shape, value, path)
        else:
            typed = self.scalar(shape, value, path)
            if typed is not _MALFORMED:
                self.violations.extend(Violation(path, value, problem) for problem in _scalar_problems(shape, typed))

    def structure(self, shape: StructureShape, value: Any, path: str) -> None:
        if shape.is_document_type:
            return
        if not isinstance(value, dict):
            self.malformed.append(Violation(path, value, "Member must be a structure"))
            return
        required = set(shape.required_members)
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue  # sent in a header or the URI, not in the input document
            key = str(member.serialization.get("name", name)) if self.json_keys else name
            member_path = f"{path}.{_path_name(name)}" if path else _path_name(name)
            item = value.get(key)
            if item is not None:
                self.check(member, item, member_path)
            elif name in required:
                self.violations.append(Violation(member_path, None, "Member must not be null"))

    def sequence(self, shape: ListShape, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.malformed.append(Violation(path, value, "Member must be a list"))
            return
        self.violations.extend(Violation(path, value, problem) for problem in _size_problems(shape, len(value)))
        for index, item in enumerate(value, start=1):
            if item is not None:
                self.check(shape.member, item, f"{path}.{index}.member")

    def mapping(self, shape: MapShape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.malformed.append(Violation(path, value, "Member must be a map"))
            return
        self.violations.extend(Violation(path, value, problem) for problem in _size_problems(shape, len(value)))
        for key, item in value.items():
            self._map_constraint(path, value, "Map key", _scalar_problems(shape.key, key))
            if item is None:
                continue
            if isinstance(shape.value, StructureShape | ListShape | MapShape):
                self.check(shape.value, item, f"{path}.{key}")
                continue
            typed = self.scalar(shape.value, item, f"{path}.{key}")
            if typed is not _MALFORMED:
                self._map_constraint(path, value, "Map value", _scalar_problems(shape.value, typed))

    def _map_constraint(self, path: str, value: Any, part: str, problems: list[str]) -> None:
        """AWS names a broken map entry by the map: "Map value must satisfy constraint: [...]"."""
        if problems:
            self.violations.append(Violation(path, value, f"{part} must satisfy constraint: [{', '.join(problems)}]"))

    def scalar(self, shape: Shape, value: Any, path: str) -> Any:
        """The value as its type, or _MALFORMED (noted) when it is not one."""
        typed = _read_text(shape.type_name, value) if self.textual else _read_json(shape.type_name, value)
        if typed is _MALFORMED:
            self.malformed.append(Violation(path, value, f"Member must be of type {shape.type_name}"))
        return typed


def _path_name(name: str) -> str:
    """AWS names a member in its messages with a lower-case first letter: TableName -> tableName."""
    return name[:1].lower() + name[1:]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_text(value: Any) -> Any:
    return value if isinstance(value, str) else _MALFORMED


def _json_boolean(value: Any) -> Any:
    return value if isinstance(value, bool) else _MALFORMED


def _json_integer(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else _MALFORMED


def _json_number(value: Any) -> Any:
    return value if _is_number(value) else _MALFORMED


def _timestamp(value: Any) -> Any:
    """Epoch seconds (JSON) or any text botocore itself reads as a time."""
    if _is_number(value):
        return value
    if not isinstance(value, str):
        return _MALFORMED
    try:
        parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return _MALFORMED
    return value


_JSON_READERS: dict[str, Callable[[Any], Any]] = {
    "string": _json_text,
    "blob": _json_text,  # base64 text
    "boolean": _json_boolean,
    "integer": _json_integer,
    "long": _json_integer,
    "float": _json_number,
    "double": _json_number,
    "timestamp": _timestamp,
}


def _read_json(type_name: str, value: Any) -> Any:
    reader = _JSON_READERS.get(type_name)
    return value if reader is None else reader(value)


def _read_text(type_name: str, value: Any) -> Any:
    """A query parameter as its shape's type (the query protocol sends every scalar as text)."""
    if not isinstance(value, str):
        return value
    if type_name in {"integer", "long"}:
        return int(value) if _INTEGER_TEXT.fullmatch(value) else _MALFORMED
    if type_name in {"float", "double"}:
        try:
            return float(value)
        except ValueError:
            return _MALFORMED
    if type_name == "boolean":
        return {"true": True, "false": False}.get(value.lower(), _MALFORMED)
    if type_name == "timestamp":
        return _timestamp(value)
    return value


_INTEGER_TEXT = regex.compile(r"[-+]?[0-9]+")


def _scalar_problems(shape: Shape, value: Any) -> list[str]:
    """What AWS's framework says of a scalar that breaks its shape's constraints (empty when none)."""
    metadata = shape.metadata
    problems: list[str] = []
    if isinstance(shape, StringShape) and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            problems.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        problems.extend(_size_problems(shape, len(value)))
        pattern = metadata.get("pattern")
        if pattern and not _matches(pattern, value):
            problems.append(f"Member must satisfy regular expression pattern: {pattern}")
    elif _is_number(value) and shape.type_name in {"integer", "long", "float", "double"}:
        if "min" in metadata and value < metadata["min"]:
            problems.append(f"Member must have value greater than or equal to {metadata['min']}")
        if "max" in metadata and value > metadata["max"]:
            problems.append(f"Member must have value less than or equal to {metadata['max']}")
    return problems


def _size_problems(shape: Shape, size: int) -> list[str]:
    """Length of a string, or number of items of a list or map: AWS words both the same."""
    metadata = shape.metadata
    problems = []
    if "max" in metadata and size > metadata["max"]:
        problems.append(f"Member must have length less than or equal to {metadata['max']}")
    if "min" in metadata and size < metadata["min"]:
        problems.append(f"Member must have length greater than or equal to {metadata['min']}")
    return problems


# Java writes a character beyond the BMP as a surrogate pair; Python's classes take the code points themselves.
_JAVA_SURROGATE_RANGE = r"\uD800\uDC00-\uDBFF\uDFFF"
_ASTRAL_RANGE = r"\U00010000-\U0010FFFF"


@lru_cache(maxsize=2048)
def _compiled(pattern: str) -> Any:
    """The model's (Java) pattern compiled by `regex`, or None when it cannot be: then it is not checked."""
    try:
        return regex.compile(pattern.replace(_JAVA_SURROGATE_RANGE, _ASTRAL_RANGE))
    except (regex.error, ValueError, OverflowError):
        return None


def _matches(pattern: str, value: str) -> bool:
    """AWS patterns must match the whole value. An uncompilable or runaway pattern counts as a match."""
    compiled = _compiled(pattern)
    if compiled is None:
        return True
    try:
        return compiled.fullmatch(value, timeout=0.1) is not None
    except TimeoutError:
        return True


# --- limits the model does not carry -----------------------------------------------------------------------------


def _values_at(document: Any, path: tuple[str, ...], where: str = "") -> Iterator[tuple[str, Any]]:
    """Each value at a rule's path, with the path AWS names it by (`containerDefinitions.1.member.name`)."""
    if not path:
        yield where, document
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(document, list):
            for index, item in enumerate(document, start=1):
                yield from _values_at(item, rest, f"{where}.{index}.member")
        return
    if isinstance(document, dict) and document.get(head) is not None:
        yield from _values_at(document[head], rest, f"{where}.{head}" if where else head)


def _broken(rule: DocumentedRule, path: str, value: Any) -> list[Violation]:
    if not isinstance(value, str):
        return []
    found = []
    if len(value) > rule.max_length:
        found.append(Violation(path, value, f"Member must have length less than or equal to {rule.max_length}"))
    if not _matches(rule.pattern, value):
        found.append(Violation(path, value, f"Member must satisfy regular expression pattern: {rule.pattern}"))
    return found


# --- the answer --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _refused_class() -> type[Exception]:
    """moto's ServiceException, which moto serializes in the service's own protocol: a JSON `__type`, a query
    `<Code>`, the query-compatible header of SQS; with the status of the service's error shape, else 400."""
    from moto.core.exceptions import ServiceException

    class RequestRefused(ServiceException):
        pass

    return RequestRefused


def _refuse(response: Any, refusal: Refusal) -> Any:
    from moto.core.responses import ActionResult

    with warnings.catch_warnings():
        # moto warns when a code is not one of the model's error shapes; AWS's framework codes seldom are
        warnings.simplefilter("ignore")
        status, headers, body = response.serialized(ActionResult(_refused_class()(refusal.code, refusal.message)))
    headers, body = response._enrich_response(headers, body)
    return status, headers, body
