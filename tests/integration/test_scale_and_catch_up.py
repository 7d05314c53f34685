"""A push to many services goes out as work items within ECS's rate limits; a push whose event never came is
deployed by the reconciler; a task definition changed out of band is told once as drift.

Under moto with the stack's resources (IAM enforced), ECS's rate limits on (`local.ratelimits`) and one
simulated clock (`local.clock`) for the SDK's backoff, SQS's delays and the limits' refill.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from autopilot.aws import clients
from autopilot.ledger import Ledger
from autopilot.local import strict
from autopilot.local.clock import SimulatedClock, simulated
from autopilot.local.pump import run_event_source_on_clock
from autopilot.local.ratelimits import RateLimits
from autopilot.refs import ServiceRef
from tests.faults import SimulatedClock as FunctionsClock
from tests.integration.world import World

pytestmark = pytest.mark.usefixtures("aws")

SERVICES = 30  # more than the 20 a push deploys where it is taken


@pytest.fixture
def world(project, events) -> World:
    return World(project, events)


@contextmanager
def limited() -> Iterator[tuple[SimulatedClock, RateLimits]]:
    """ECS's rate limits on, on a simulated clock (from here: building the world is not rate-limited)."""
    clock = SimulatedClock()
    limits = RateLimits(clock=clock.time)
    strict.limit(limits)
    try:
        with simulated(clock):
            yield clock, limits
    finally:
        strict.limit(None)


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


def fleet(world: World, services: int, *, clusters: int = 3) -> list[tuple[str, str]]:
    names = []
    for cluster in range(clusters):
        world.cluster(f"c{cluster}")
    for index in range(services):
        cluster, name = f"c{index % clusters}", f"svc{index:02d}"
        world.service(
            cluster, name, world.web_task_definition(name, "shop", tag="latest"), {"autopilot:deploy": "tag:latest"}
        )
        names.append((cluster, name))
    world.inventory()
    return names


def work_items(world: World, clock: SimulatedClock) -> Any:
    sqs = boto3.session.Session().client("sqs")  # the event source's own client
    return run_event_source_on_clock(
        lambda event: world.project.invoke("DeployFunction", event), os.environ["FANOUT_QUEUE_URL"], clock, sqs=sqs
    )


def told() -> list[dict[str, Any]]:
    """Every message on the notification queue, in order (each read once)."""
    sqs = boto3.client("sqs")
    url = os.environ["NOTIFY_QUEUE_URL"]
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=3600).get("Messages", [])
        if not batch:
            return found
        found.extend(json.loads(message["Body"]) for message in batch)


def on_digest(world: World, names: list[tuple[str, str]], digest: str) -> int:
    return sum(world.image_of(cluster, name).endswith(f"@{digest}") for cluster, name in names)


def test_a_push_to_many_services_is_deployed_through_work_items_within_ecs_limits(world: World) -> None:
    names = fleet(world, SERVICES)
    told()
    digest = world.push_image("shop", "latest", "v2")
    with limited() as (clock, limits):
        started = clock.time()
        # When `latest` is pushed to a repository 30 services use (30 families)
        report = world.deliver(world.events.ecr_push("shop", digest, "latest"))
        # Then the push hands them to 30 work items and deploys nothing itself
        assert (report["handed_off"], report["work_items"], report["counts"]) == (SERVICES, SERVICES, {})
        run = work_items(world, clock)
        elapsed = clock.time() - started
    # And the work items deploy every service, ECS never refusing a request, in the rate's lower bound
    assert run.drained and run.handled == SERVICES
    assert on_digest(world, names, digest) == SERVICES
    assert sum(limits.throttled.values()) == 0
    assert elapsed == pytest.approx(SERVICES - 20, abs=2)
    progress = ledger().fanouts.get(report["event_id"])
    assert progress is not None
    assert (progress.deployed, progress.failed, progress.skipped, progress.done) == (SERVICES, 0, 0, SERVICES)
    # And the push is told as one living message (one thread), updated as batches finish, ending with "done"
    living = [message for message in told() if message["kind"] == "deploy.fanout"]
    assert {message["thread_key"] for message in living} == {f"push#{report['event_id']}"}
    assert living[0]["title"] == f"shop latest: 0/{SERVICES} deployed, 0 failed, {SERVICES} waiting"
    assert living[-1]["title"] == f"shop latest: done, {SERVICES}/{SERVICES} deployed, 0 failed"
    assert len(living) == 1 + SERVICES // 10


def test_a_throttled_work_item_goes_back_to_the_queue_and_every_service_is_counted_once(world: World) -> None:
    names = fleet(world, SERVICES)
    digest = world.push_image("shop", "latest", "v2")
    report = world.deliver(world.events.ecr_push("shop", digest, "latest"))
    clock = SimulatedClock()
    # When ECS throttles one RegisterTaskDefinition past the SDK's retries
    calls: list[str] = []

    def throttle_the_fifth_registration(model: Any, **_: Any) -> None:
        if model.name == "RegisterTaskDefinition":
            calls.append(model.name)
            if len(calls) == 5:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, model.name)

    session = boto3.DEFAULT_SESSION
    assert session is not None
    session._session.register("before-call", throttle_the_fifth_registration)
    clients.clear_caches()
    started = clock.time()
    with simulated(clock):
        run = work_items(world, clock)
    # Then that work item comes back after its back-off (30 s, not the queue's 12-minute visibility timeout)
    # and is deployed; none is lost
    assert run.drained and run.handled == SERVICES and run.invocations == 1 + SERVICES // 10
    assert 30 <= clock.time() - started < 60
    assert on_digest(world, names, digest) == SERVICES
    progress = ledger().fanouts.get(report["event_id"])
    assert progress is not None and (progress.deployed, progress.done, progress.waiting) == (SERVICES, SERVICES, 0)
    # And a work item delivered again (SQS delivers at least once) changes nothing and counts nothing
    again = ledger().fanouts.get(report["event_id"])
    item = {"push": world.events.ecr_push("shop", digest, "latest") | {"id": report["event_id"]}}
    first = {"service": "c0/svc00", "service_arn": "", "cluster_arn": "", "family": "svc00"}
    body = json.dumps({**item, "family": "svc00", "services": [first]})
    boto3.client("sqs").send_message(QueueUrl=os.environ["FANOUT_QUEUE_URL"], MessageBody=body)
    registered = len(calls)
    with simulated(clock):
        assert work_items(world, clock).handled == 1
    assert len(calls) == registered
    assert ledger().fanouts.get(report["event_id"]) == again


def test_a_push_whose_event_never_came_is_deployed_by_the_next_reconcile(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    reconcile(world)  # nothing missed yet
    # Given a push whose event is lost (ECR's events are best effort)
    digest = world.push_image("shop", "latest", "v2")
    # When the reconciler runs (its schedule, past the ten minutes it leaves an event to arrive)
    report = reconcile(world, later=timedelta(minutes=11))
    # Then the push is deployed as its event would have deployed it
    assert report["missed_pushes"] == [f"shop:latest@{digest}"]
    assert report["deployed"] == 1
    assert world.image_of("prod", "web").endswith(f"@{digest}")
    # And the next run finds nothing missed
    assert reconcile(world, later=timedelta(minutes=26))["missed_pushes"] == []


def test_a_push_that_was_delivered_is_not_deployed_again_by_the_reconciler(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    reconcile(world)
    world.push("shop", "latest", "v2")
    revision = world.running("prod", "web")["taskDefinitionArn"]
    report = reconcile(world, later=timedelta(minutes=11))
    assert report["missed_pushes"] == []
    assert world.running("prod", "web")["taskDefinitionArn"] == revision


def test_the_first_look_at_a_repository_is_its_baseline_not_a_replay_of_the_last_day(world: World) -> None:
    world.managed("prod", "web", "prefix:main-")
    revision = world.running("prod", "web")["taskDefinitionArn"]
    world.push_image("shop", "main-1", "b1")  # pushed before the reconciler (or this service) was there
    report = reconcile(world, later=timedelta(minutes=11))
    assert (report["missed_pushes"], report["deployed"]) == ([], 0)
    assert world.running("prod", "web")["taskDefinitionArn"] == revision


def test_a_missed_push_older_than_the_one_deployed_never_replaces_it(world: World) -> None:
    world.managed("prod", "web", "prefix:main-")
    reconcile(world)
    world.push_image("shop", "main-1", "b1")  # its event is lost
    newer = world.push_image("shop", "main-2", "b2")
    event = world.events.ecr_push("shop", newer, "main-2")
    event["time"] = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.deliver(event)
    report = reconcile(world, later=timedelta(minutes=11))
    # main-1 is found missed, and skipped: main-2, pushed after it, was deployed already
    assert len(report["missed_pushes"]) == 1 and report["missed_pushes"][0].startswith("shop:main-1@")
    assert report["deployed"] == 0
    assert world.image_of("prod", "web").endswith(f"@{newer}")


def test_under_semver_the_version_decides_not_the_push_time(world: World) -> None:
    world.managed("prod", "web", "semver:1.x", running_tag="1.0.0")
    higher = world.push_image("shop", "1.2.0", "b2")
    lower = world.push_image("shop", "1.1.0", "b1")
    later = world.events.ecr_push("shop", lower, "1.1.0")
    later["time"] = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    world.deliver(later)  # 1.1.0, pushed last, arrives first
    world.deliver(world.events.ecr_push("shop", higher, "1.2.0"))
    assert world.image_of("prod", "web").endswith(f"@{higher}")


def test_a_manual_rollback_is_not_drift(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    original = world.running("prod", "web")["taskDefinitionArn"]
    reconcile(world)
    world.push("shop", "latest", "v2")
    world.inventory()
    reconcile(world)
    ledger().deployments.record_manual_rollback(
        ServiceRef("prod", "web"), world.running("prod", "web")["taskDefinitionArn"], original, actor="U0LOCAL"
    )
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=original)  # what the rollback does
    world.inventory()
    assert reconcile(world)["drifted"] == []


def test_a_task_definition_reverted_out_of_band_is_told_once_as_drift(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    original = world.running("prod", "web")["taskDefinitionArn"]
    reconcile(world)
    world.push("shop", "latest", "v2")
    world.inventory()  # CloudTrail's UpdateService refreshes the index (the schedule's rebuild does too)
    told()
    assert reconcile(world)["drifted"] == []  # our own deploy is not drift
    # When an infrastructure-as-code apply puts the old task definition back
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=original)
    world.inventory()
    # Then the next reconcile tells it as drift, once
    assert reconcile(world)["drifted"] == ["prod/web"]
    assert reconcile(world)["drifted"] == []
    drift = [message for message in told() if message["kind"] == "deploy.drift"]
    assert len(drift) == 1
    assert drift[0]["title"] == "prod/web: task definition changed outside autopilot (web:1)"
    assert world.running("prod", "web")["taskDefinitionArn"] == original  # told, not changed


def test_with_drift_redeploy_the_recorded_image_is_put_back(world: World) -> None:
    world.managed("prod", "web", "tag:latest")
    world.ecs.tag_resource(
        resourceArn=world.ecs.describe_services(cluster="prod", services=["web"])["services"][0]["serviceArn"],
        tags=[{"key": "autopilot:drift", "value": "redeploy"}],
    )
    original = world.running("prod", "web")["taskDefinitionArn"]
    reconcile(world)
    digest = world.push_image("shop", "latest", "v2")
    world.deliver(world.events.ecr_push("shop", digest, "latest"))
    world.inventory()
    reconcile(world)
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=original)
    world.inventory()
    report = reconcile(world)
    assert (report["drifted"], report["redeployed"]) == (["prod/web"], ["prod/web"])
    assert world.image_of("prod", "web").endswith(f"@{digest}")
    world.inventory()
    assert reconcile(world)["drifted"] == []  # back on what the ledger recorded


def reconcile(world: World, *, later: timedelta = timedelta(0)) -> dict[str, Any]:
    with FunctionsClock(modules=("autopilot.reconcile",)) as clock:
        clock.advance(later)
        result: dict[str, Any] = world.project.invoke("DeployFunction", world.events.scheduled())
    return result
