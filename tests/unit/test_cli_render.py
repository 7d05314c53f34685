"""Every outcome of every result type renders in the terminal, whatever text the result carries (a value
with rich markup in it was a MarkupError after the rollback had already happened)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from autopilot.cli.render import print_result
from autopilot.deploy import Outcome as DeployOutcome
from autopilot.rollback import Outcome as RollbackOutcome

DRAIN_OUTCOMES = ["DRAINED", "TOLD", "NOT_IN_CLUSTER", "WAITING", "COMPLETED", "DEREGISTERED", "DUPLICATE", "IGNORED"]
TRICKY = "reason with [bold]markup[/] and a stray [/] and [red"


def rendered(function: str, result: object) -> str:
    buffer = io.StringIO()
    print_result(Console(file=buffer, width=80, force_terminal=False), function, result)
    return " ".join(buffer.getvalue().split())  # as read, whatever the wrapping


@pytest.mark.parametrize("outcome", [o.value for o in DeployOutcome])
def test_every_deploy_outcome_renders_in_the_push_table(outcome: str) -> None:
    report = {
        "repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop",
        "tag": "1.2.0",
        "results": [{"service": "prod/web", "outcome": outcome, "reason": TRICKY, "changes": []}],
    }
    text = rendered("DeployFunction", report)
    assert outcome in text and "[/]" in text


@pytest.mark.parametrize("outcome", [o.value for o in RollbackOutcome])
def test_every_rollback_outcome_renders_one_line(outcome: str) -> None:
    report = {"results": [{"trigger": "alarm x", "service": "prod/web", "outcome": outcome, "reason": TRICKY}]}
    assert rendered("RollbackFunction", report) == f"RollbackFunction: {outcome} prod/web: {TRICKY}"


@pytest.mark.parametrize("outcome", DRAIN_OUTCOMES)
def test_every_drain_outcome_renders_one_line(outcome: str) -> None:
    report = {"trigger": "Spot", "subject": "i-0abc", "outcome": outcome, "detail": TRICKY}
    assert rendered("SpotDrainFunction", report) == f"SpotDrainFunction: {outcome} i-0abc: {TRICKY}"


def test_a_stopped_task_and_a_rejected_event_render_too() -> None:
    watch = {"subject": "prod/web", "stop_class": "out-of-memory", "cause": TRICKY}
    assert "out-of-memory prod/web" in rendered("TaskWatchFunction", watch)
    assert "rejected" in rendered("DeployFunction", {"rejected": True, "problems": [TRICKY]})
