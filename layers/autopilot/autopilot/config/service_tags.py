"""The `autopilot:` tags an operator puts on an ECS service (DESIGN §2)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from autopilot.config.policies import Policy, PolicyError, parse_policy

PREFIX = "autopilot:"
DEPLOY = "autopilot:deploy"
CONTAINERS = "autopilot:containers"
PIN = "autopilot:pin"
ROLLBACK = "autopilot:rollback"
BAKE = "autopilot:bake"
APPROVAL = "autopilot:approval"
NOTIFY = "autopilot:notify"
MODE = "autopilot:mode"
DRIFT = "autopilot:drift"
KNOWN_KEYS = (DEPLOY, CONTAINERS, PIN, ROLLBACK, BAKE, APPROVAL, NOTIFY, MODE, DRIFT)
ECS_TAG_VALUE_EXTRA = set("_.:/=+-@")
DEFAULT_BAKE_MINUTES = 30


def invalid_tag_value_characters(value: str) -> list[str]:
    """Characters of `value` that ECS's TagValue pattern `^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$` rejects."""
    bad = []
    for char in value:
        category = unicodedata.category(char)
        if category[0] in "LNZ" or char in ECS_TAG_VALUE_EXTRA:
            continue
        bad.append(char)
    return bad


def is_valid_ecs_tag_value(value: str) -> bool:
    return len(value) <= 256 and not invalid_tag_value_characters(value)


@dataclass(frozen=True)
class TagError:
    """One tag on one service that does not parse."""

    tag: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"tag {self.tag}={self.value!r}: {self.reason}"


@dataclass(frozen=True)
class ServiceConfig:
    """What the tags of one service say; `deploy` is None when the service is not managed."""

    deploy: Policy | None = None
    deploy_text: str | None = None
    containers: tuple[str, ...] | None = None
    pin: str = "digest"
    rollback: bool = True
    bake_minutes: int = DEFAULT_BAKE_MINUTES
    approval_required: bool = False
    notify_routes: tuple[str, ...] = ()
    observe: bool = False  # autopilot:mode=observe: decide, record and tell; change nothing
    redeploy_drift: bool = False  # autopilot:drift=redeploy: a task definition changed out of band is put back
    errors: tuple[TagError, ...] = field(default=())

    @property
    def managed(self) -> bool:
        return self.deploy_text is not None


NamedPolicies = Callable[[], Mapping[str, str]]


def _no_named_policies() -> Mapping[str, str]:
    return {}


def parse_service_tags(tags: Mapping[str, str], named_policies: NamedPolicies = _no_named_policies) -> ServiceConfig:
    """Parse the `autopilot:` tags of a service.

    `named_policies` is called only when a `policy:NAME` value needs it (so a push to a service with an
    inline policy never reads the configuration document). Every problem is collected as a TagError.
    """
    errors: list[TagError] = []
    values = {key: value for key, value in tags.items() if key.startswith(PREFIX)}
    for key, value in values.items():
        bad = invalid_tag_value_characters(value)
        if bad:
            shown = "".join(sorted(set(bad)))
            errors.append(TagError(key, value, f"ECS tag values cannot contain {shown!r}"))
        elif key not in KNOWN_KEYS:
            errors.append(TagError(key, value, f"unknown autopilot tag; known: {', '.join(KNOWN_KEYS)}"))
    if errors:
        return ServiceConfig(deploy_text=values.get(DEPLOY), errors=tuple(errors))

    deploy_text = values.get(DEPLOY)
    policy = _deploy_policy(deploy_text, named_policies, errors) if deploy_text is not None else None
    return ServiceConfig(
        deploy=policy,
        deploy_text=deploy_text,
        containers=_containers(values.get(CONTAINERS), errors),
        pin=_choice(values, PIN, ("digest", "tag"), "digest", errors),
        rollback=_choice(values, ROLLBACK, ("on", "off"), "on", errors) == "on",
        bake_minutes=_bake(values.get(BAKE), errors),
        approval_required=_choice(values, APPROVAL, ("required", "none"), "none", errors) == "required",
        notify_routes=tuple(values.get(NOTIFY, "").split()),
        observe=_choice(values, MODE, ("act", "observe"), "act", errors) == "observe",
        redeploy_drift=_choice(values, DRIFT, ("report", "redeploy"), "report", errors) == "redeploy",
        errors=tuple(errors),
    )


def _deploy_policy(text: str, named_policies: NamedPolicies, errors: list[TagError]) -> Policy | None:
    value = text.strip()
    try:
        if value.startswith("policy:"):
            name = value.removeprefix("policy:").strip()
            if not name:
                raise PolicyError("policy: needs the name of a policy in the configuration document")
            policies = named_policies()
            if name not in policies:
                known = ", ".join(sorted(policies)) or "none defined"
                raise PolicyError(f"no policy named {name!r} in the configuration document (known: {known})")
            try:
                return parse_policy(policies[name], full_syntax=True)
            except PolicyError as error:
                raise PolicyError(f"named policy {name!r} = {policies[name]!r}: {error}") from error
        return parse_policy(value, full_syntax=False)
    except PolicyError as error:
        errors.append(TagError(DEPLOY, text, str(error)))
        return None


def _containers(text: str | None, errors: list[TagError]) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(text.split())
    if not names:
        errors.append(TagError(CONTAINERS, text, "names no container; remove the tag to update every matching one"))
        return None
    return names


def _choice(values: Mapping[str, str], key: str, allowed: tuple[str, ...], default: str, errors: list[TagError]) -> str:
    value = values.get(key)
    if value is None:
        return default
    if value.strip() in allowed:
        return value.strip()
    errors.append(TagError(key, value, f"expected one of {', '.join(allowed)}"))
    return default


def _bake(text: str | None, errors: list[TagError]) -> int:
    if text is None:
        return DEFAULT_BAKE_MINUTES
    try:
        minutes = int(text.strip())
    except ValueError:
        errors.append(TagError(BAKE, text, "expected a whole number of minutes"))
        return DEFAULT_BAKE_MINUTES
    if not 0 <= minutes <= 24 * 60:
        errors.append(TagError(BAKE, text, "expected minutes between 0 and 1440"))
        return DEFAULT_BAKE_MINUTES
    return minutes


_CARET = re.compile(r"^semver:\s*\^\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$")
_TILDE = re.compile(r"^semver:\s*~\s*(\d+)\.(\d+)(?:\.(\d+))?\s*$")


def tag_safe_spelling(value: str) -> str | None:
    """The same range written with characters an ECS tag value may hold (a hyphen range's upper bound
    `1` means below 2.0.0, `1.4` below 1.5.0): `semver:^1.4` → `semver:1.4 - 1`, `semver:^0.3.1` →
    `semver:0.3.1 - 0.3`, `semver:~1.4.2` → `semver:1.4.2 - 1.4`; None when there is no such rewrite."""
    for pattern, caret in ((_CARET, True), (_TILDE, False)):
        found = pattern.match(value)
        if found is None:
            continue
        major, minor, patch = found.groups()
        if patch is None:
            return f"semver:{major}.{minor} - {major}" if caret and major != "0" else f"semver:{major}.{minor}.x"
        upper = major if caret and major != "0" else f"{major}.{minor}"
        return f"semver:{major}.{minor}.{patch} - {upper}"
    return None
