"""Pushes held for approval (autopilot:approval=required) and the decisions people make on them in chat,
Given/When/Then against in-memory fakes of ECS and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autopilot.approvals import Decision, decide
from autopilot.deploy import DeployPorts, deploy_pushed_image
from autopilot.messages import take_outbox
from tests.unit.test_deploy_decisions import SHOP, WEB, World, digest_of, push


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world() -> World:
    world = World()
    world.service("semver:1.x", **{"autopilot:approval": "required"})
    return world


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ports(world: World, clock: Clock) -> DeployPorts:
    return DeployPorts(ecs=world.ecs, ledger=world.ledger, named_policies=dict, clock=clock)


def held(world: World, clock: Clock, tag: str) -> str:
    report = deploy_pushed_image(push(tag), ports(world, clock))
    (result,) = report.results
    assert result.outcome.value == "SKIPPED" and "waiting for approval" in result.reason
    [pending] = [row for row in world.ledger.approvals.pending(WEB) if row.tag == tag]
    return pending.approval_id


def test_a_push_is_held_with_its_plan_and_buttons_and_nothing_changes(world: World, clock: Clock) -> None:
    held(world, clock, "1.2.0")
    assert (world.ecs.registered, world.ecs.updates) == ([], [])
    [message] = take_outbox()
    assert message.kind == "deploy.approval"
    assert [action.label for action in message.actions] == ["Approve", "Reject"]
    assert f"{SHOP}:1.0.0 → {SHOP}@{digest_of('1.2.0')}" in message.facts["changes"]
    assert message.facts["expires"].startswith("2026-11-29T12:00")  # 24 h by default


def test_approve_deploys_once_however_often_it_is_clicked(world: World, clock: Clock) -> None:
    approval = held(world, clock, "1.2.0")
    take_outbox()
    first = decide(WEB, approval, Decision.APPROVE, "U-LEAD", ports(world, clock))
    again = decide(WEB, approval, Decision.APPROVE, "U-LEAD", ports(world, clock))  # Slack's retry, a double click
    other = decide(WEB, approval, Decision.APPROVE, "U-OTHER", ports(world, clock))
    assert first.outcome == "APPROVED" and first.deploy is not None
    assert first.deploy.results[0].outcome.value == "DEPLOYED"
    assert world.running() == f"{SHOP}@{digest_of('1.2.0')}"
    assert len(world.ecs.updates) == 1 and len(world.ecs.registered) == 1
    assert again.outcome == other.outcome == "APPROVED"  # finishing what the first started, deploying nothing new
    told = take_outbox()  # the approval's message, updated with who decided; told again by each retry (a failed
    # attempt may have stopped before telling), as the very same message: the FIFO queue keeps one
    assert len({m.message_id for m in told}) == 1
    message = told[0]
    assert message.thread_key == f"{WEB}#approval#{approval}" and "approved by <@U-LEAD>" in message.title
    assert message.actions == []


def test_reject_records_who_and_changes_nothing(world: World, clock: Clock) -> None:
    approval = held(world, clock, "1.2.0")
    report = decide(WEB, approval, Decision.REJECT, "U-LEAD", ports(world, clock))
    assert report.outcome == "REJECTED" and "U-LEAD" in report.reason
    assert (world.ecs.registered, world.ecs.updates) == ([], [])
    late = decide(WEB, approval, Decision.APPROVE, "U-OTHER", ports(world, clock))
    assert late.outcome == "ALREADY_DECIDED" and "REJECTED by U-LEAD" in late.reason
    assert world.ecs.updates == []


def test_an_expired_approval_deploys_nothing(world: World, clock: Clock) -> None:
    approval = held(world, clock, "1.2.0")
    clock.now += timedelta(hours=24, seconds=1)
    report = decide(WEB, approval, Decision.APPROVE, "U-LEAD", ports(world, clock))
    assert report.outcome == "EXPIRED"
    assert world.ecs.updates == []


def test_a_newer_push_supersedes_the_pending_one_and_says_so(world: World, clock: Clock) -> None:
    older = held(world, clock, "1.2.0")
    take_outbox()
    newer = held(world, clock, "1.3.0")
    messages = take_outbox()
    assert [m.thread_key for m in messages] == [f"{WEB}#approval#{older}", f"{WEB}#approval#{newer}"]
    assert "superseded by the push of 1.3.0" in messages[0].title
    assert decide(WEB, older, Decision.APPROVE, "U-LEAD", ports(world, clock)).outcome == "ALREADY_DECIDED"
    assert world.ecs.updates == []


def test_approve_is_checked_again_against_the_service_now(world: World, clock: Clock) -> None:
    approval = held(world, clock, "1.2.0")
    world.ledger.services.set_frozen(WEB, True)  # frozen after the push was held
    report = decide(WEB, approval, Decision.APPROVE, "U-LEAD", ports(world, clock))
    assert report.outcome == "APPROVED" and "frozen" in report.reason
    assert world.ecs.updates == []


def test_an_unknown_approval_is_said_so(world: World, clock: Clock) -> None:
    report = decide(WEB, "0123456789abcdef", Decision.APPROVE, "U-LEAD", ports(world, clock))
    assert report.outcome == "NOT_FOUND"
