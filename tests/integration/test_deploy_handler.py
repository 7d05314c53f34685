"""DeployFunction under moto: real-shaped ECR push events through the real handler."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.exceptions import JsonRESTError
from moto.ecs.models import EC2ContainerServiceBackend

from autopilot.aws import clients
from autopilot.ledger import Ledger, service_pk
from autopilot.refs import ServiceRef
from tests.conftest import sample
from tests.integration.world import SIDECAR, World, outcomes, reasons

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def world(project, events) -> World:
    return World(project, events)


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


def task_definition_count(world: World, family: str) -> int:
    return len(world.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"])


def test_push_of_tracked_tag_deploys_the_digest_and_keeps_the_sidecar(world: World) -> None:
    # Given a service tracking `latest` with a sidecar from another repository
    world.managed("prod", "web", "tag:latest")
    # When `latest` is pushed
    report = world.push("shop", "latest")
    # Then the service runs a new revision pinned to the pushed digest, the sidecar untouched
    assert outcomes(report) == {"prod/web": "DEPLOYED"}
    digest = report["digest"]
    assert world.image_of("prod", "web") == f"{world.repository('shop')}@{digest}"
    assert world.image_of("prod", "web", "log-router") == SIDECAR
    assert world.running("prod", "web")["revision"] == 2


def test_deployment_is_recorded_in_the_ledger(world: World) -> None:
    world.cluster("prod")
    previous = world.web_task_definition("web", "shop", tag="latest")
    world.service("prod", "web", previous, {"autopilot:deploy": "tag:latest"})
    world.inventory()
    report = world.push("shop", "latest")
    rows = ledger().deployments.ours(ServiceRef("prod", "web"))
    assert len(rows) == 1
    row = rows[0]
    assert row.status == "IN_PROGRESS"
    assert row.previous_task_definition == previous
    assert row.new_task_definition == report["results"][0]["new_task_definition"]
    assert (row.tag, row.digest, row.event_id) == ("latest", report["digest"], report["event_id"])
    assert row.image == f"{world.repository('shop')}@{report['digest']}"
    assert row.started_at


def test_many_services_over_several_clusters_each_follow_their_own_policy(world: World) -> None:
    policies = {"tag:latest": "latest", "semver:1.x": "1.4.0", "prefix:release-": "release-7", "policy:stable": "1.3.0"}
    for cluster in ("a", "b", "c"):
        world.cluster(cluster)
        for index, policy in enumerate(policies):
            family = f"{cluster}-svc{index}"
            world.service(cluster, family, world.web_task_definition(family, "shop"), {"autopilot:deploy": policy})
    world.inventory()
    deployed: dict[str, set[str]] = {}
    for tag in ("latest", "1.4.0", "release-7", "2.0.0"):
        report = world.push("shop", tag)
        deployed[tag] = {name for name, outcome in outcomes(report).items() if outcome == "DEPLOYED"}
    assert deployed["latest"] == {"a/a-svc0", "b/b-svc0", "c/c-svc0"}
    # 1.4.0 satisfies both semver:1.x and the named policy semver:^1.2
    assert deployed["1.4.0"] == {f"{c}/{c}-svc{i}" for c in "abc" for i in (1, 3)}
    assert deployed["release-7"] == {"a/a-svc2", "b/b-svc2", "c/c-svc2"}
    assert deployed["2.0.0"] == set()


def test_services_sharing_a_task_definition_get_one_new_revision(world: World) -> None:
    world.cluster("prod")
    shared = world.web_task_definition("shared", "shop", tag="latest")
    for name in ("one", "two", "three"):
        world.service("prod", name, shared, {"autopilot:deploy": "tag:latest"})
    world.inventory()
    report = world.push("shop", "latest")
    assert set(outcomes(report).values()) == {"DEPLOYED"}
    assert task_definition_count(world, "shared") == 2
    assert len({world.running("prod", name)["taskDefinitionArn"] for name in ("one", "two", "three")}) == 1


def test_the_same_event_delivered_twice_changes_nothing(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    event = world.events.ecr_push("shop", world.push_image("shop", "latest"), "latest")
    first = world.deliver(event)
    second = world.deliver(event)
    assert outcomes(first) == {"prod/web": "DEPLOYED"}
    assert second["duplicate_delivery"] is True
    assert task_definition_count(world, "web") == 2
    assert len(ledger().deployments.ours(ServiceRef("prod", "web"))) == 1


def test_a_new_event_for_the_digest_the_service_runs_is_a_no_op(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    digest = world.push_image("shop", "latest")
    world.deliver(world.events.ecr_push("shop", digest, "latest"))
    again = world.deliver(world.events.ecr_push("shop", digest, "latest"))  # a new event id, same digest
    assert outcomes(again) == {"prod/web": "UNCHANGED"}
    assert task_definition_count(world, "web") == 2


def test_semver_policy_still_knows_the_running_version_after_digest_pinning(world: World) -> None:
    world.cluster("prod")
    world.service(
        "prod", "api", world.web_task_definition("api", "shop", tag="1.0.0"), {"autopilot:deploy": "semver:1.x"}
    )
    world.inventory()
    assert outcomes(world.push("shop", "1.3.0")) == {"prod/api": "DEPLOYED"}
    assert "@sha256:" in world.image_of("prod", "api")
    older = world.push("shop", "1.2.9")
    same = world.push("shop", "v1.3.0", label="rebuilt")
    newer = world.push("shop", "1.3.1")
    assert outcomes(older) == {"prod/api": "SKIPPED"}
    assert "not newer than the running 1.3.0" in reasons(older)["prod/api"]
    assert outcomes(same) == {"prod/api": "SKIPPED"}
    assert outcomes(newer) == {"prod/api": "DEPLOYED"}


def test_pin_tag_writes_the_tag_into_the_new_revision(world: World) -> None:
    world.cluster("prod")
    world.service(
        "prod",
        "api",
        world.web_task_definition("api", "shop"),
        {"autopilot:deploy": "semver:1.x", "autopilot:pin": "tag"},
    )
    world.inventory()
    world.push("shop", "1.1.0")
    assert world.image_of("prod", "api") == f"{world.repository('shop')}:1.1.0"


def test_untagged_push_never_deploys(world: World) -> None:
    world.cluster("prod")
    world.service("prod", "web", world.web_task_definition("web", "shop"), {"autopilot:deploy": "prefix:1"})
    world.inventory()
    digest = world.push_image("shop", "scratch")
    for tag in (None, ""):
        report = world.deliver(world.events.ecr_push("shop", digest, tag))
        assert report["results"] == []
    assert task_definition_count(world, "web") == 1


def test_quarantined_digest_is_skipped_with_a_reason(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    digest = world.push_image("shop", "latest", label="bad build")
    ledger().services.quarantine(ServiceRef("prod", "web"), [digest])
    report = world.deliver(world.events.ecr_push("shop", digest, "latest"))
    assert outcomes(report) == {"prod/web": "SKIPPED"}
    assert "quarantined" in reasons(report)["prod/web"]
    assert task_definition_count(world, "web") == 1


def test_frozen_service_is_skipped(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    ledger().services.set_frozen(ServiceRef("prod", "web"), True)
    assert outcomes(world.push("shop", "latest")) == {"prod/web": "SKIPPED"}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"autopilot:deploy": "semver:"}, "needs a value"),
        ({"autopilot:deploy": "semver:banana"}, "not a valid npm range"),
        ({"autopilot:deploy": "policy:nope"}, "no policy named 'nope'"),
        ({"autopilot:deploy": "latest"}, "is not a policy"),
        ({"autopilot:deploy": "tag:latest", "autopilot:pin": "sha"}, "expected one of digest, tag"),
        ({"autopilot:deploy": "tag:latest", "autopilot:containers": "api"}, "names api, not in"),
    ],
)
def test_a_bad_tag_value_skips_that_service_with_one_clear_error_and_others_still_deploy(
    world: World, tags: dict[str, str], expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    world.cluster("prod")
    world.service(
        "prod", "good", world.web_task_definition("good", "shop", tag="latest"), {"autopilot:deploy": "tag:latest"}
    )
    world.service("prod", "bad", world.web_task_definition("bad", "shop", tag="latest"), tags)
    world.inventory()
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/good": "DEPLOYED", "prod/bad": "CONFIG_ERROR"}
    reason = reasons(report)["prod/bad"]
    assert "prod/bad" in reason
    assert expected in reason


def test_a_service_deleted_after_indexing_is_skipped_and_its_index_entry_removed(world: World) -> None:
    world.cluster("prod")
    world.service(
        "prod", "gone", world.web_task_definition("gone", "shop", tag="latest"), {"autopilot:deploy": "tag:latest"}
    )
    world.service(
        "prod", "web", world.web_task_definition("web", "shop", tag="latest"), {"autopilot:deploy": "tag:latest"}
    )
    world.inventory()
    world.ecs.delete_service(cluster="prod", service="gone", force=True)
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/gone": "SKIPPED", "prod/web": "DEPLOYED"}
    repo = world.events.ecr_push("shop", "sha256:" + "0" * 64, "x")
    from autopilot.events import EcrImageActionEvent

    indexed = {
        e.service.key
        for e in ledger().index.services_for_repository(EcrImageActionEvent.model_validate(repo).repository)
    }
    assert indexed == {"prod/web"}


def test_a_task_definition_deleted_after_indexing_is_skipped_without_a_crash(world: World) -> None:
    world.cluster("prod")
    arn = world.web_task_definition("old", "shop", tag="latest")
    world.service("prod", "web", arn, {"autopilot:deploy": "tag:latest"})
    world.inventory()
    world.ecs.deregister_task_definition(taskDefinition=arn)
    world.ecs.delete_task_definitions(taskDefinitions=[arn])
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/web": "SKIPPED"}
    assert "no longer exists" in reasons(report)["prod/web"]


def test_code_deploy_and_external_controllers_are_skipped_with_a_clear_reason(world: World) -> None:
    world.cluster("prod")
    for name, controller in (("bg", "CODE_DEPLOY"), ("ext", "EXTERNAL"), ("rolling", "ECS")):
        world.service(
            "prod",
            name,
            world.web_task_definition(name, "shop", tag="latest"),
            {"autopilot:deploy": "tag:latest"},
            deploymentController={"type": controller},
        )
    world.inventory()
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/bg": "SKIPPED", "prod/ext": "SKIPPED", "prod/rolling": "DEPLOYED"}
    assert "CODE_DEPLOY" in reasons(report)["prod/bg"]
    assert "UpdateService cannot change its task definition" in reasons(report)["prod/ext"]


def test_named_policies_with_full_syntax_from_the_configuration_document(world: World) -> None:
    world.cluster("prod")
    world.service("prod", "main", world.web_task_definition("main", "shop"), {"autopilot:deploy": "policy:mainline"})
    world.service("prod", "rel", world.web_task_definition("rel", "shop"), {"autopilot:deploy": "policy:releases"})
    world.inventory()
    assert outcomes(world.push("shop", "main-1a2b3c4")) == {"prod/main": "DEPLOYED", "prod/rel": "SKIPPED"}
    assert outcomes(world.push("shop", "release-2026")) == {"prod/main": "SKIPPED", "prod/rel": "DEPLOYED"}
    assert outcomes(world.push("shop", "main-1a2b3c4-dirty")) == {"prod/main": "SKIPPED", "prod/rel": "SKIPPED"}


def test_new_revision_keeps_secrets_volumes_health_checks_logging_tags_and_platform(world: World) -> None:
    world.cluster("prod")
    shop = world.repository("shop")
    arn = world.task_definition(
        "full",
        [
            {
                "name": "web",
                "image": f"{shop}:latest",
                "essential": True,
                "cpu": 256,
                "memory": 512,
                "secrets": [
                    {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-west-2:123456789012:secret:db"}
                ],
                "environment": [{"name": "MODE", "value": "prod"}],
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}],
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost/health"], "interval": 10, "retries": 3},
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/full"}},
            },
            {"name": "log-router", "image": SIDECAR, "essential": False, "memory": 64},
        ],
        executionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        taskRoleArn="arn:aws:iam::123456789012:role/app",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        volumes=[{"name": "data"}],
        runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        tags=[{"key": "team", "value": "shop"}],
    )
    before = world.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    world.service("prod", "full", arn, {"autopilot:deploy": "tag:latest"})
    world.inventory()
    world.push("shop", "latest")
    after = world.running("prod", "full")
    old, new = before["taskDefinition"], after
    for key in (
        "executionRoleArn",
        "taskRoleArn",
        "networkMode",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "volumes",
        "runtimePlatform",
    ):
        assert new.get(key) == old.get(key), key
    assert new["tags"] == before["tags"]
    old_web, new_web = old["containerDefinitions"][0], new["containerDefinitions"][0]
    assert {k: v for k, v in new_web.items() if k != "image"} == {k: v for k, v in old_web.items() if k != "image"}
    assert new["containerDefinitions"][1] == old["containerDefinitions"][1]


class _EcsThrottling(JsonRESTError):
    code = 400


class _Throttle:
    """Makes the emulated ECS answer the first `times` UpdateService calls with ThrottlingException, as ECS
    does under load; botocore sees it as a real HTTP 400 response and applies its retry policy."""

    def __init__(self, times: int, update_service: Callable[..., object]) -> None:
        self.remaining = times
        self.calls = 0
        self._update_service = update_service

    def __call__(self, backend: object, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.remaining > 0:
            self.remaining -= 1
            raise _EcsThrottling("ThrottlingException", "Rate exceeded")
        return self._update_service(backend, *args, **kwargs)


@pytest.fixture
def throttle_update_service(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], _Throttle]:
    def install(times: int) -> _Throttle:
        throttle = _Throttle(times, EC2ContainerServiceBackend.update_service)
        # a function (not the callable instance) so that it binds to the backend like the method it replaces
        monkeypatch.setattr(
            EC2ContainerServiceBackend,
            "update_service",
            lambda backend, *a, **k: throttle(backend, *a, **k),  # noqa: PLW0108
        )
        return throttle

    return install


def test_transient_throttling_is_retried_and_the_deploy_succeeds(world: World, throttle_update_service) -> None:
    world.managed("prod", "web", "tag:latest")
    throttle = throttle_update_service(2)
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/web": "DEPLOYED"}
    assert throttle.calls == 3


def test_persistent_throttling_fails_the_event_for_a_retry_and_loses_nothing(
    world: World, throttle_update_service
) -> None:
    world.managed("prod", "web", "tag:latest")
    event = world.events.ecr_push("shop", world.push_image("shop", "latest"), "latest")
    throttle = throttle_update_service(6)  # every attempt botocore makes: the call and 5 retries
    with pytest.raises(Exception, match="ThrottlingException"):
        world.deliver(event)
    assert world.image_of("prod", "web").endswith(":latest")
    assert throttle.calls == 6
    retried = world.deliver(event)  # Lambda's retry of the same event is not taken for a duplicate
    assert outcomes(retried) == {"prod/web": "DEPLOYED"}
    assert world.image_of("prod", "web").endswith(event["detail"]["image-digest"])


def test_a_malformed_event_is_rejected_with_a_clear_error_and_not_retried(world: World) -> None:
    event = sample("ecr-push-latest.json")
    del event["detail"]["repository-name"]
    result = world.deliver(event)
    assert result["rejected"] is True
    assert any("repository-name" in problem for problem in result["problems"])


def test_unknown_fields_from_aws_are_accepted(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    event = world.events.ecr_push("shop", world.push_image("shop", "latest"), "latest")
    event["detail"]["artifact-media-type"] = "application/vnd.oci.image.config.v1+json"
    event["new-envelope-field"] = {"anything": True}
    assert outcomes(world.deliver(event)) == {"prod/web": "DEPLOYED"}


def test_dry_run_plans_without_changing_anything(world: World) -> None:
    from autopilot.handlers.deploy import handle_push

    world.managed("prod", "web", "tag:latest")
    event = world.events.ecr_push("shop", world.push_image("shop", "latest"), "latest")
    report = handle_push(event, None, dry_run=True)
    assert outcomes(report) == {"prod/web": "PLANNED"}
    change = report["results"][0]["changes"][0]
    assert change["container"] == "web"
    assert change["new_image"].endswith(event["detail"]["image-digest"])
    assert task_definition_count(world, "web") == 1
    items = boto3.client("dynamodb").scan(TableName="ecs-autopilot-ledger")["Items"]
    assert not [i for i in items if i["PK"]["S"] == service_pk(ServiceRef("prod", "web"))]


def test_register_rejected_by_ecs_is_reported_for_that_service_only(world: World) -> None:
    world.cluster("prod")
    world.service("prod", "a", world.web_task_definition("a", "shop", tag="latest"), {"autopilot:deploy": "tag:latest"})
    world.service("prod", "b", world.web_task_definition("b", "shop", tag="latest"), {"autopilot:deploy": "tag:latest"})
    world.inventory()

    def reject_family_a(params: dict, **kwargs: object) -> None:
        if params.get("family") == "a":
            raise ClientError(
                {"Error": {"Code": "ClientException", "Message": "Invalid setting for container"}},
                "RegisterTaskDefinition",
            )

    clients.ecs().meta.events.register("provide-client-params.ecs.RegisterTaskDefinition", reject_family_a)
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/a": "ERROR", "prod/b": "DEPLOYED"}
    assert "ClientException" in reasons(report)["prod/a"]
