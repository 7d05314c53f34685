"""autopilot:approval=required through DeployFunction on the local AWS (its IAM role enforced): a push is held
with its plan, and deployed once when a person approves it (here from the command line, as the chat buttons
will)."""

from __future__ import annotations

import os

import boto3
import pytest
from click.testing import CliRunner

from autopilot.aws import clients
from autopilot.cli.main import cli
from autopilot.ledger import Ledger
from autopilot.refs import ServiceRef
from tests.faults import queued_messages
from tests.integration.world import World, outcomes, reasons

pytestmark = pytest.mark.usefixtures("aws")
WEB = ServiceRef("prod", "web")


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


@pytest.fixture
def world(project, events) -> World:
    world = World(project, events)
    world.cluster("prod")
    task_definition = world.web_task_definition("web", "shop", tag="latest")
    world.service("prod", "web", task_definition, {"autopilot:deploy": "tag:latest", "autopilot:approval": "required"})
    world.inventory()
    return world


def decide(*args: str) -> tuple[int, str]:
    """The command as a person runs it, in this process (moto): it switches the clients to its interactive
    retry profile, which must not outlive it (the functions retry more patiently)."""
    try:
        result = CliRunner().invoke(cli, [*args, "--table", "ecs-autopilot-ledger"], catch_exceptions=False)
    finally:
        clients.use_profile("function")
    return result.exit_code, result.output


def test_a_held_push_deploys_once_when_approved(world: World) -> None:
    report = world.push("shop", "latest")
    assert outcomes(report) == {"prod/web": "SKIPPED"} and "waiting for approval" in reasons(report)["prod/web"]
    assert world.running("prod", "web")["revision"] == 1
    [pending] = ledger().approvals.pending(WEB)
    told = queued_messages(os.environ["NOTIFY_QUEUE_URL"])
    assert [title for kind, title in told if kind == "deploy.approval"] == [
        "prod/web: deploy shop:latest? (approval required)"
    ]

    status, output = decide("approve", "prod/web", pending.approval_id)
    assert status == 0, output
    assert "APPROVED" in output
    assert world.image_of("prod", "web") == f"{world.repository('shop')}@{report['digest']}"
    assert world.running("prod", "web")["revision"] == 2

    status, output = decide("approve", "prod/web", pending.approval_id)  # clicked again
    assert status == 0 and world.running("prod", "web")["revision"] == 2
    assert ledger().approvals.pending(WEB) == []


def test_a_rejected_push_is_never_deployed(world: World) -> None:
    world.push("shop", "latest")
    [pending] = ledger().approvals.pending(WEB)
    status, output = decide("reject", "prod/web", pending.approval_id)
    assert status == 0 and "REJECTED" in output
    status, output = decide("approve", "prod/web", pending.approval_id)
    assert status == 3 and "ALREADY_DECIDED" in output
    assert world.running("prod", "web")["revision"] == 1


def test_a_newer_push_supersedes_the_held_one(world: World) -> None:
    world.push("shop", "latest", label="first build")
    [first] = ledger().approvals.pending(WEB)
    world.push("shop", "latest", label="second build")
    [second] = ledger().approvals.pending(WEB)
    assert second.approval_id != first.approval_id
    assert ledger().approvals.get(WEB, first.approval_id).status == "SUPERSEDED"
    status, _ = decide("approve", "prod/web", first.approval_id)
    assert status == 3 and world.running("prod", "web")["revision"] == 1
