"""Task definition rewriting: only the image of the selected containers changes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from autopilot.refs import RepositoryRef
from autopilot.taskdef import (
    ContainerSelectionError,
    image_changes,
    registration_request,
    repositories_used,
    select_containers,
)

REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
SHOP = RepositoryRef(REGISTRY, "shop")
OLD_DIGEST = "sha256:" + "11" * 32
NEW = f"{REGISTRY}/shop@sha256:" + "22" * 32


def described() -> dict[str, Any]:
    """DescribeTaskDefinition's taskDefinition, including the fields RegisterTaskDefinition does not take."""
    return {
        "taskDefinitionArn": "arn:aws:ecs:us-west-2:123456789012:task-definition/shop:7",
        "family": "shop",
        "revision": 7,
        "status": "ACTIVE",
        "taskRoleArn": "arn:aws:iam::123456789012:role/shop",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.ecr-auth"}],
        "registeredAt": "2026-11-01T10:00:00Z",
        "registeredBy": "arn:aws:sts::123456789012:assumed-role/deploy",
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 30},
        "volumes": [{"name": "cache", "efsVolumeConfiguration": {"fileSystemId": "fs-12345678"}}],
        "placementConstraints": [],
        "containerDefinitions": [
            {
                "name": "web",
                "image": f"{REGISTRY}/shop:1.0.0",
                "essential": True,
                "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:us-west-2:123456789012:parameter/db"}],
                "mountPoints": [{"sourceVolume": "cache", "containerPath": "/cache"}],
                "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30},
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/shop"}},
            },
            {"name": "worker", "image": f"{REGISTRY}/shop@{OLD_DIGEST}", "essential": True},
            {"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29", "essential": False},
            {"name": "other", "image": f"{REGISTRY}/shop-tools:2", "essential": False},
        ],
    }


def test_every_container_of_the_pushed_repository_is_selected_and_sidecars_are_not() -> None:
    assert select_containers(described(), SHOP, None) == ["web", "worker"]


def test_named_containers_restrict_the_selection_to_those_of_the_repository() -> None:
    assert select_containers(described(), SHOP, ("worker",)) == ["worker"]
    assert select_containers(described(), SHOP, ("worker", "envoy")) == ["worker"]


def test_naming_a_container_the_task_definition_does_not_have_is_an_error() -> None:
    with pytest.raises(ContainerSelectionError, match="names api, not in shop:7"):
        select_containers(described(), SHOP, ("web", "api"))


def test_registration_keeps_every_field_but_the_image_and_drops_describe_only_fields() -> None:
    body = described()
    original = copy.deepcopy(body)
    tags = ({"key": "team", "value": "shop"},)
    request = registration_request(body, tags, {"web": NEW, "worker": NEW})
    assert body == original  # input untouched
    for dropped in (
        "taskDefinitionArn",
        "revision",
        "status",
        "compatibilities",
        "requiresAttributes",
        "registeredAt",
        "registeredBy",
        "placementConstraints",
    ):
        assert dropped not in request
    for kept in (
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "runtimePlatform",
        "ephemeralStorage",
        "volumes",
    ):
        assert request[kept] == body[kept]
    assert request["tags"] == [{"key": "team", "value": "shop"}]
    web, worker, envoy, other = request["containerDefinitions"]
    assert web == {**original["containerDefinitions"][0], "image": NEW}
    assert worker["image"] == NEW
    assert envoy == original["containerDefinitions"][2]
    assert other == original["containerDefinitions"][3]


def test_no_tags_means_no_tags_field() -> None:
    assert "tags" not in registration_request(described(), (), {"web": NEW})


def test_image_changes_lists_only_what_changes() -> None:
    body = described()
    assert image_changes(body, {"web": NEW, "envoy": body["containerDefinitions"][2]["image"]}) == [
        ("web", f"{REGISTRY}/shop:1.0.0", NEW)
    ]


def test_repositories_used_by_a_task_definition() -> None:
    assert {r.key for r in repositories_used(described())} == {
        f"{REGISTRY}/shop",
        f"{REGISTRY}/shop-tools",
        "public.ecr.aws/appmesh/aws-appmesh-envoy",
    }
