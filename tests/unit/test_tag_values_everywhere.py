"""Every tag value we show or use fits ECS's TagValue pattern (moto does not enforce it; AWS does).

Tests that create services go through tests/integration/world.py, which checks each value it sets.
"""

from __future__ import annotations

import json
import re

import pytest

from autopilot.config.service_tags import is_valid_ecs_tag_value
from autopilot.local.demo import SERVICES
from tests.conftest import EVENTS, ROOT

README_TAG = re.compile(r"`(autopilot:[a-z]+)=([^`]*)`")
README_CLI_TAG = re.compile(r"key=(autopilot:[a-z]+),value=(\S+)")
TAG_TABLE_ROW = re.compile(r"^\| `(autopilot:[a-z]+)`[^|]*\| (.*?) \|", re.MULTILINE)


def readme_values() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = README_TAG.findall(text) + README_CLI_TAG.findall(text)
    for key, cell in TAG_TABLE_ROW.findall(text):
        found.extend((key, value) for value in re.findall(r"`([^`]+)`", cell))
    return found


def test_readme_shows_tag_values() -> None:
    assert len(readme_values()) >= 10


@pytest.mark.parametrize(("key", "value"), readme_values())
def test_readme_tag_values_are_valid_ecs_tag_values(key: str, value: str) -> None:
    assert is_valid_ecs_tag_value(value), f"README shows {key}={value!r}, which ECS rejects"


@pytest.mark.parametrize(("service", "tags"), SERVICES.items())
def test_demo_tag_values_are_valid_ecs_tag_values(service: str, tags: dict[str, str]) -> None:
    assert all(is_valid_ecs_tag_value(value) for value in tags.values())


def test_sample_event_tag_values_are_valid_ecs_tag_values() -> None:
    for path in EVENTS.glob("*.json"):
        tags = json.loads(path.read_text())["detail"].get("requestParameters", {}) or {}
        for tag in tags.get("tags", []) if isinstance(tags.get("tags"), list) else []:
            assert is_valid_ecs_tag_value(tag["value"]), f"{path.name}: {tag}"
