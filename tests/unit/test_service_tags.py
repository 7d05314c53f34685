"""`autopilot:` service tags and ECS's tag value character set."""

from __future__ import annotations

import pytest

from autopilot.config.service_tags import (
    invalid_tag_value_characters,
    is_valid_ecs_tag_value,
    parse_service_tags,
)


def test_a_service_without_the_deploy_tag_is_not_managed() -> None:
    config = parse_service_tags({"team": "shop"})
    assert not config.managed
    assert config.errors == ()


def test_defaults_when_only_deploy_is_set() -> None:
    config = parse_service_tags({"autopilot:deploy": "tag:latest"})
    assert config.managed
    assert (config.pin, config.rollback, config.bake_minutes, config.approval_required) == ("digest", True, 30, False)
    assert config.containers is None
    assert config.notify_routes == ()


def test_every_tag_is_read() -> None:
    config = parse_service_tags(
        {
            "autopilot:deploy": "semver:1.4 - 1",
            "autopilot:containers": "web  worker",
            "autopilot:pin": "tag",
            "autopilot:rollback": "off",
            "autopilot:bake": "45",
            "autopilot:approval": "required",
            "autopilot:notify": "oncall team-shop",
        }
    )
    assert config.errors == ()
    assert config.deploy is not None and config.deploy.text == "semver:1.4 - 1"
    assert config.containers == ("web", "worker")
    assert (config.pin, config.rollback, config.bake_minutes, config.approval_required) == ("tag", False, 45, True)
    assert config.notify_routes == ("oncall", "team-shop")


def test_named_policy_is_read_from_the_document_only_when_needed() -> None:
    calls = []

    def named() -> dict[str, str]:
        calls.append(1)
        return {"stable": "semver:^1.2"}

    parse_service_tags({"autopilot:deploy": "tag:latest"}, named)
    assert calls == []
    config = parse_service_tags({"autopilot:deploy": "policy:stable"}, named)
    assert calls == [1]
    assert config.deploy is not None and config.deploy.text == "semver:^1.2"


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"autopilot:deploy": "policy:unknown"}, "no policy named 'unknown'"),
        ({"autopilot:deploy": "policy:"}, "needs the name of a policy"),
        ({"autopilot:deploy": "policy:broken"}, "named policy 'broken'"),
        ({"autopilot:deploy": "semver:^1.2"}, "cannot contain '^'"),
        ({"autopilot:deploy": "tag:latest", "autopilot:bake": "soon"}, "whole number of minutes"),
        ({"autopilot:deploy": "tag:latest", "autopilot:bake": "-5"}, "between 0 and 1440"),
        ({"autopilot:deploy": "tag:latest", "autopilot:rollback": "maybe"}, "expected one of on, off"),
        ({"autopilot:deploy": "tag:latest", "autopilot:approval": "yes"}, "expected one of required, none"),
        ({"autopilot:deploy": "tag:latest", "autopilot:containers": " "}, "names no container"),
        ({"autopilot:deploy": "tag:latest", "autopilot:deplyo": "x"}, "unknown autopilot tag"),
    ],
)
def test_each_wrong_tag_names_the_tag_and_the_reason(tags: dict[str, str], message: str) -> None:
    config = parse_service_tags(tags, lambda: {"broken": "regex:("})
    assert len(config.errors) == 1
    assert message in str(config.errors[0])
    assert str(config.errors[0]).startswith("tag autopilot:")


@pytest.mark.parametrize(
    "value",
    [
        "tag:latest",
        "semver:1.x",
        "semver:1.4.x",
        "semver:1.4 - 1",
        "semver:1.2.3",
        "prefix:release-",
        "policy:stable",
        "off",
        "web worker",
        "digest",
        "30",
        "oncall team-shop",
        "prod/web",
        "a=b+c@d",
        "Ünïcode 名前",
    ],
)
def test_values_ecs_accepts(value: str) -> None:
    assert is_valid_ecs_tag_value(value)


@pytest.mark.parametrize("char", list("^~<>*?[],|$!#%&;'\"\\"))
def test_characters_ecs_rejects(char: str) -> None:
    assert not is_valid_ecs_tag_value(f"semver:1{char}2")
    assert invalid_tag_value_characters(f"a{char}b") == [char]


@pytest.mark.parametrize(
    ("rejected", "spelled", "takes", "refuses"),
    [
        ("semver:^1.4", "semver:1.4 - 1", ["1.4.0", "1.9.3"], ["1.3.9", "2.0.0"]),
        ("semver:^1.4.2", "semver:1.4.2 - 1", ["1.4.2", "1.10.0"], ["1.4.1", "2.0.0"]),
        ("semver:^0.3", "semver:0.3.x", ["0.3.0", "0.3.7"], ["0.4.0"]),
        ("semver:^0.3.1", "semver:0.3.1 - 0.3", ["0.3.1", "0.3.9"], ["0.3.0", "0.4.0"]),
        ("semver:~1.4.2", "semver:1.4.2 - 1.4", ["1.4.2", "1.4.9"], ["1.4.1", "1.5.0"]),
        ("semver:~1.4", "semver:1.4.x", ["1.4.0", "1.4.9"], ["1.5.0"]),
    ],
)
def test_a_range_ecs_refuses_has_a_tag_safe_spelling_that_means_the_same(
    rejected: str, spelled: str, takes: list[str], refuses: list[str]
) -> None:
    from autopilot.config.service_tags import tag_safe_spelling

    assert parse_service_tags({"autopilot:deploy": rejected}).errors  # ECS tag values cannot hold ^ or ~
    assert tag_safe_spelling(rejected) == spelled
    config = parse_service_tags({"autopilot:deploy": spelled})
    assert config.errors == () and config.deploy is not None
    assert [config.deploy.decide(tag, None).deploy for tag in takes] == [True] * len(takes)
    assert [config.deploy.decide(tag, None).deploy for tag in refuses] == [False] * len(refuses)
