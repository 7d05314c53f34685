"""Which functions an event reaches: EventBridge patterns read from template.yaml, matched like EventBridge.

Supported pattern syntax: exact values, prefix, suffix, equals-ignore-case, wildcard, anything-but
(values, prefix, suffix, equals-ignore-case, wildcard), numeric, exists, and $or.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EVENT_SOURCE_TYPES = ("EventBridgeRule", "CloudWatchEvent")


class PatternError(ValueError):
    """A pattern uses syntax this matcher does not know."""


@dataclass(frozen=True)
class Rule:
    function: str
    name: str
    pattern: Mapping[str, Any]
    code_uri: str | None = None


# libyaml's parser when PyYAML has it (its wheels do): reading template.yaml is ten times faster, which is most of
# what a CLI command spends before it does anything
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Reads CloudFormation short-form intrinsics (!Ref, !GetAtt, !Sub …) as plain values."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation/SAM template")
    return document


def load_rules(template: Mapping[str, Any]) -> list[Rule]:
    """Every EventBridge rule that targets a function, in template order."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    rules = []
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource.get("Properties", {})
            for event_name, event in (properties.get("Events") or {}).items():
                if event.get("Type") in EVENT_SOURCE_TYPES:
                    pattern = event.get("Properties", {}).get("Pattern")
                    if pattern:
                        rules.append(Rule(logical_id, event_name, pattern, properties.get("CodeUri")))
        elif resource.get("Type") == "AWS::Events::Rule":
            properties = resource.get("Properties", {})
            for target in properties.get("Targets", []):
                arn = target.get("Arn", {})
                if isinstance(arn, dict) and "Fn::GetAtt" in arn and properties.get("EventPattern"):
                    function = arn["Fn::GetAtt"][0]
                    code_uri = resources.get(function, {}).get("Properties", {}).get("CodeUri")
                    rules.append(Rule(function, logical_id, properties["EventPattern"], code_uri))
    return rules


def route(event: Mapping[str, Any], rules: Sequence[Rule]) -> list[str]:
    """Logical IDs of the functions whose rules match, each once, in template order."""
    matched: list[str] = []
    for rule in rules:
        if rule.function not in matched and matches(rule.pattern, event):
            matched.append(rule.function)
    return matched


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    if not isinstance(event, Mapping):
        return False
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(option, event) for option in expected):
                return False
            continue
        present = key in event
        value = event.get(key)
        if isinstance(expected, Mapping):
            if not present:
                return False
            values = value if isinstance(value, list) else [value]
            if not any(matches(expected, item) for item in values):
                return False
        elif isinstance(expected, list):
            if not _matches_any(expected, present, value):
                return False
        else:
            raise PatternError(f"pattern value for {key!r} must be a list or an object, got {expected!r}")
    return True


def _matches_any(matchers: list[Any], present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for matcher in matchers:
        if isinstance(matcher, Mapping):
            if "exists" in matcher:
                if bool(matcher["exists"]) == (present and value is not None and value != []):
                    return True
                continue
            if present and any(_content_filter(matcher, item) for item in values):
                return True
        elif present and any(_equal(matcher, item) for item in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return math.isclose(expected, actual)
    return type(expected) is type(actual) and expected == actual


def _wildcard(pattern: str, value: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _string_filter(name: str, argument: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    subject: str = value
    if isinstance(argument, Mapping) and "equals-ignore-case" in argument:
        argument, subject = str(argument["equals-ignore-case"]).lower(), subject.lower()
    text = str(argument)
    if name == "prefix":
        return subject.startswith(text)
    if name == "suffix":
        return subject.endswith(text)
    if name == "equals-ignore-case":
        return subject.lower() == text.lower()
    return _wildcard(text, subject)


def _content_filter(matcher: Mapping[str, Any], value: Any) -> bool:
    (name, argument), *rest = matcher.items()
    if rest:
        raise PatternError(f"one filter per object expected, got {dict(matcher)!r}")
    if name in {"prefix", "suffix", "equals-ignore-case", "wildcard"}:
        return _string_filter(name, argument, value)
    if name == "anything-but":
        if isinstance(argument, Mapping):
            return isinstance(value, str) and not _content_filter(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(item, value) for item in excluded)
    if name == "numeric":
        return _numeric(argument, value)
    raise PatternError(f"unsupported pattern filter {name!r}")


_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": math.isclose,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _numeric(conditions: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    pairs = zip(conditions[::2], conditions[1::2], strict=True)
    return all(_NUMERIC_OPS[op](value, bound) for op, bound in pairs)
