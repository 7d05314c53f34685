"""InventoryFunction under moto: the full rebuild, and per-service refreshes from CloudTrail events."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from autopilot.ledger import Ledger
from autopilot.refs import RepositoryRef, ServiceRef
from tests.conftest import sample
from tests.integration.world import World, outcomes

pytestmark = pytest.mark.usefixtures("aws")
REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com"


@pytest.fixture
def world(project, events) -> World:
    return World(project, events)


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


def indexed(repository: str) -> set[str]:
    return {entry.service.key for entry in ledger().index.services_for_repository(RepositoryRef(REGISTRY, repository))}


def api_call(name: str, cluster: str, service: str, **request: Any) -> dict[str, Any]:
    """A documented CloudTrail sample for `name`, pointed at our region, cluster and service."""
    files = {
        "CreateService": "create-service",
        "UpdateService": "update-service",
        "DeleteService": "delete-service",
        "TagResource": "tag-resource",
        "UntagResource": "untag-resource",
    }
    event = copy.deepcopy(sample(f"cloudtrail-ecs-{files[name]}.json"))
    arn = f"arn:aws:ecs:us-west-2:123456789012:service/{cluster}/{service}"
    event["region"] = event["detail"]["awsRegion"] = "us-west-2"
    detail = event["detail"]
    if name in {"TagResource", "UntagResource"}:
        detail["requestParameters"]["resourceArn"] = arn
    else:
        detail["requestParameters"].update(
            cluster=cluster, **({"service": service} if name != "CreateService" else {"serviceName": service})
        )
        detail["responseElements"]["service"].update(
            serviceArn=arn, serviceName=service, clusterArn=f"arn:aws:ecs:us-west-2:123456789012:cluster/{cluster}"
        )
    detail["requestParameters"].update(request)
    return event


def refresh(world: World, event: dict[str, Any]) -> dict[str, Any]:
    assert world.project.route(event) == ["InventoryFunction"]
    result: dict[str, Any] = world.project.invoke("InventoryFunction", event)
    return result


def test_full_rebuild_indexes_managed_services_under_every_repository_they_use(world: World) -> None:
    world.cluster("a")
    world.cluster("b")
    world.service("a", "web", world.web_task_definition("web", "shop"), {"autopilot:deploy": "tag:latest"})
    world.service(
        "b",
        "api",
        world.task_definition(
            "api",
            [
                {"name": "api", "image": f"{world.repository('api')}:1.0.0", "memory": 128},
                {"name": "worker", "image": f"{world.repository('worker')}:1.0.0", "memory": 128},
            ],
        ),
        {"autopilot:deploy": "semver:1.x"},
    )
    world.service("b", "unmanaged", world.web_task_definition("plain", "shop"), {"team": "shop"})
    result = world.inventory()
    assert (result["clusters"], result["services_seen"], result["services_indexed"]) == (2, 3, 2)
    assert indexed("shop") == {"a/web"}
    assert indexed("api") == indexed("worker") == {"b/api"}


def test_rebuild_removes_services_that_left_and_keeps_the_rest(world: World) -> None:
    world.cluster("a")
    for name in ("one", "two"):
        world.service("a", name, world.web_task_definition(name, "shop"), {"autopilot:deploy": "tag:latest"})
    world.inventory()
    world.ecs.delete_service(cluster="a", service="two", force=True)
    result = world.inventory()
    assert result["services_removed"] == ["a/two"]
    assert indexed("shop") == {"a/one"}


def test_a_service_tagged_a_minute_ago_is_deployed_by_the_next_push(world: World) -> None:
    world.cluster("prod")
    arn = world.service("prod", "web", world.web_task_definition("web", "shop", tag="latest"), {"team": "shop"})
    world.inventory()
    assert indexed("shop") == set()
    # When an operator tags the service, ECS's TagResource call reaches InventoryFunction through CloudTrail
    world.ecs.tag_resource(resourceArn=arn, tags=[{"key": "autopilot:deploy", "value": "tag:latest"}])
    refresh(world, api_call("TagResource", "prod", "web"))
    # Then the next push deploys it
    assert indexed("shop") == {"prod/web"}
    assert outcomes(world.push("shop", "latest")) == {"prod/web": "DEPLOYED"}


def test_untagging_a_service_takes_it_out_of_the_index(world: World) -> None:
    world.cluster("prod")
    arn = world.service("prod", "web", world.web_task_definition("web", "shop"), {"autopilot:deploy": "tag:latest"})
    world.inventory()
    world.ecs.untag_resource(resourceArn=arn, tagKeys=["autopilot:deploy"])
    result = refresh(world, api_call("UntagResource", "prod", "web"))
    assert result["services_removed"] == ["prod/web"]
    assert indexed("shop") == set()


def test_create_service_indexes_the_new_service(world: World) -> None:
    world.cluster("prod")
    world.service("prod", "new", world.web_task_definition("new", "shop"), {"autopilot:deploy": "tag:latest"})
    refresh(world, api_call("CreateService", "prod", "new"))
    assert indexed("shop") == {"prod/new"}


def test_update_service_to_another_repository_moves_the_index_entry(world: World) -> None:
    world.cluster("prod")
    world.service("prod", "web", world.web_task_definition("web", "shop"), {"autopilot:deploy": "tag:latest"})
    world.inventory()
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=world.web_task_definition("web", "store"))
    refresh(world, api_call("UpdateService", "prod", "web"))
    assert indexed("shop") == set()
    assert indexed("store") == {"prod/web"}
    assert ledger().index.indexed_repositories(ServiceRef("prod", "web")) == {
        f"{REGISTRY}/store",
        "public.ecr.aws/aws-observability/aws-for-fluent-bit",
    }


def test_delete_service_removes_it(world: World) -> None:
    world.cluster("prod")
    world.service("prod", "web", world.web_task_definition("web", "shop"), {"autopilot:deploy": "tag:latest"})
    world.inventory()
    world.ecs.delete_service(cluster="prod", service="web", force=True)
    refresh(world, api_call("DeleteService", "prod", "web"))
    assert indexed("shop") == set()


def test_calls_that_are_not_about_a_service_or_that_failed_change_nothing(world: World) -> None:
    assert world.project.invoke("InventoryFunction", sample("cloudtrail-ecs-tag-task-definition.json")) == {
        "mode": "ignored"
    }
    denied = sample("cloudtrail-ecs-update-service-denied.json")
    assert world.project.route(denied) == []  # the rule filters failed calls out …
    assert world.project.invoke("InventoryFunction", denied) == {"mode": "ignored"}  # … and so does the handler


def test_a_malformed_cloudtrail_event_is_rejected_clearly(world: World) -> None:
    event = sample("cloudtrail-ecs-tag-resource.json")
    del event["detail"]["eventName"]
    result = world.project.invoke("InventoryFunction", event)
    assert result["rejected"] is True
