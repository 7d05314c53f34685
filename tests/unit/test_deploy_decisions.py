"""Deploy decisions, Given/When/Then, against in-memory fakes of ECS and the ledger (no AWS, no moto)."""

from __future__ import annotations

import copy
import hashlib

import pytest
from botocore.exceptions import ClientError

from autopilot.deploy import DeployPorts, deploy_pushed_image
from autopilot.events import EcrImageActionEvent
from autopilot.ledger import DeployedImage
from autopilot.messages import take_outbox
from autopilot.refs import RepositoryRef, ServiceRef
from tests.conftest import sample
from tests.fakes import FakeLedger, FakeServices

WEB = ServiceRef("prod", "web")
REGISTRY = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
SHOP = RepositoryRef(REGISTRY, "shop")


def digest_of(tag: str) -> str:
    return "sha256:" + hashlib.sha256(tag.encode()).hexdigest()


def push(tag: str, event_id: str | None = None) -> EcrImageActionEvent:
    event = copy.deepcopy(sample("ecr-push-semver.json"))
    event["id"] = event_id or f"push-{tag}"
    event["detail"].update({"repository-name": "shop", "image-tag": tag, "image-digest": digest_of(tag)})
    return EcrImageActionEvent.model_validate(event)


class World:
    def __init__(self) -> None:
        self.ecs = FakeServices()
        self.ledger = FakeLedger()
        take_outbox()

    def ports(self) -> DeployPorts:
        return DeployPorts(ecs=self.ecs, ledger=self.ledger, named_policies=dict)

    def service(self, policy: str, running: str = "1.0.0", **tags: str) -> None:
        task_definition = self.ecs.add_task_definition("web", f"{SHOP}:{running}")
        self.ecs.add_service(WEB, task_definition, {"autopilot:deploy": policy, **tags})
        self.ledger.index.add(SHOP, self.ecs.services[WEB])

    def deploy(self, tag: str, event_id: str | None = None) -> str:
        report = deploy_pushed_image(push(tag, event_id), self.ports())
        (result,) = report.results
        return result.outcome.value

    def running(self) -> str:
        return self.ecs.image_of(WEB)


@pytest.fixture
def world() -> World:
    return World()


def test_a_newer_version_is_deployed_pinned_to_its_digest(world: World) -> None:
    # Given a semver:1.x service running 1.0.0
    world.service("semver:1.x")
    # When 1.2.0 is pushed
    outcome = world.deploy("1.2.0")
    # Then a new revision pinned to the digest runs, decided in the ledger before the one UpdateService
    assert outcome == "DEPLOYED"
    assert world.running() == f"{SHOP}@{digest_of('1.2.0')}"
    assert len(world.ecs.updates) == 1 and len(world.ecs.registered) == 1
    deployed = world.ledger.services.deployed_image(WEB, SHOP)
    assert deployed is not None and (deployed.tag, deployed.event_id) == ("1.2.0", "push-1.2.0")
    assert take_outbox() == []  # people hear of it when ECS reports the deployment IN_PROGRESS


def test_an_older_version_pushed_later_never_downgrades(world: World) -> None:
    # Given 1.2.0 was deployed
    world.service("semver:1.x")
    world.deploy("1.2.0")
    # When 1.1.0 is pushed after it
    outcome = world.deploy("1.1.0")
    # Then it is skipped and the service stays on 1.2.0
    assert outcome == "SKIPPED"
    assert world.running().endswith(digest_of("1.2.0"))
    assert len(world.ecs.updates) == 1


def test_a_retried_push_finishes_without_a_second_update(world: World) -> None:
    # Given a push that was deployed
    world.service("semver:1.x")
    world.deploy("1.2.0")
    # When Lambda delivers the same event again
    outcome = world.deploy("1.2.0")
    # Then it reports DEPLOYED (this push did it) and neither registers nor updates again
    assert outcome == "DEPLOYED"
    assert (len(world.ecs.registered), len(world.ecs.updates)) == (1, 1)


def test_a_decision_that_loses_a_race_is_made_again_against_the_winner(world: World) -> None:
    # Given a service on 1.0.0, and a push of 1.2.0 that decides while this push of 1.1.0 reads
    world.service("semver:1.x")
    winner = DeployedImage(tag="1.2.0", digest=digest_of("1.2.0"), task_definition="web:9", event_id="push-1.2.0")
    real_decide = world.ledger.services.decide

    def racing_decide(record, expected):  # type: ignore[no-untyped-def]
        world.ledger.services.decide = real_decide  # type: ignore[method-assign]
        world.ledger.services.rows[WEB] = world.ledger.services.state(WEB).model_copy(
            update={"images": {SHOP.key: winner}}
        )
        return real_decide(record, expected)

    world.ledger.services.decide = racing_decide  # type: ignore[method-assign]
    # When 1.1.0's decision is conditioned on the state it read
    outcome = world.deploy("1.1.0")
    # Then it fails the condition, decides again against 1.2.0, and does not downgrade
    assert outcome == "SKIPPED"
    assert world.ecs.updates == []
    assert world.ledger.services.deployed_image(WEB, SHOP) == winner


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("frozen", "frozen"),
        ("quarantined", "quarantined"),
        ("approval", "approval"),
    ],
)
def test_a_guard_skips_the_push_without_touching_the_service(world: World, given: str, reason: str) -> None:
    # Given a service that is frozen, or had this digest rolled back, or needs approval
    world.service("semver:1.x", **({"autopilot:approval": "required"} if given == "approval" else {}))
    if given == "frozen":
        world.ledger.services.set_frozen(WEB, True)
    if given == "quarantined":
        world.ledger.services.mark_bad(WEB, "web:7", [digest_of("1.2.0")])
    # When 1.2.0 is pushed, Then it is skipped with the reason and nothing is registered or updated
    report = deploy_pushed_image(push("1.2.0"), world.ports())
    assert report.results[0].outcome.value == "SKIPPED" and reason in report.results[0].reason
    assert (world.ecs.registered, world.ecs.updates) == ([], [])


def test_a_refused_update_undoes_the_decision_so_a_later_push_is_judged_on_what_runs(world: World) -> None:
    # Given UpdateService refuses for good (the service was deleted meanwhile, say)
    world.service("semver:1.x")
    world.ecs.refuse_update = ClientError({"Error": {"Code": "ServiceNotActiveException"}}, "UpdateService")
    # When 1.2.0 is pushed
    outcome = world.deploy("1.2.0")
    # Then the outcome is an error and the ledger no longer says 1.2.0 was decided
    assert outcome == "ERROR"
    assert world.ledger.services.deployed_image(WEB, SHOP) is None


def test_a_throttled_update_fails_the_push_for_a_retry_and_the_retry_reuses_the_revision(world: World) -> None:
    # Given UpdateService is throttled once (after the SDK's retries)
    world.service("semver:1.x")
    world.ecs.refuse_update = ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateService")
    # When the push runs, Then it asks for a retry; the retry deploys with the revision the first registered
    with pytest.raises(RuntimeError):
        world.deploy("1.2.0")
    assert world.deploy("1.2.0") == "DEPLOYED"
    assert len(world.ecs.registered) == 1 and len(world.ecs.updates) == 1


@pytest.mark.parametrize("where", ["stack", "tag"])
def test_observe_mode_decides_records_and_tells_but_changes_nothing(world: World, where: str) -> None:
    # Given a service in observe mode (the stack's Mode, or its own autopilot:mode tag)
    world.service("semver:1.x", **({"autopilot:mode": "observe"} if where == "tag" else {}))
    ports = DeployPorts(ecs=world.ecs, ledger=world.ledger, named_policies=dict, observe=where == "stack")
    # When 1.2.0 is pushed
    report = deploy_pushed_image(push("1.2.0"), ports)
    # Then it says what it would do, records it, and registers and updates nothing
    (result,) = report.results
    assert result.outcome.value == "OBSERVED" and "would deploy shop:1.2.0 to prod/web" in result.reason
    assert (world.ecs.registered, world.ecs.updates) == ([], [])
    assert world.ledger.services.deployed_image(WEB, SHOP) is None  # the semver guard still sees 1.0.0
    assert next(detail for _, _, detail in world.ledger.deployments.observations).startswith("would deploy")
    assert [m.kind for m in take_outbox()] == ["deploy.observed"]
