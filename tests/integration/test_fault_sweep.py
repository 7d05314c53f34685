"""Nothing lost under faults: every action, with one transient failure at each of its AWS calls and the
platform's retries, ends exactly as the clean run; racing pushes never downgrade; one incident, one rollback."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

import pytest

from autopilot.local.project import Project
from tests.faults import Faults, Turnstile, until_done
from tests.integration.world import World, alarm_event
from tests.sweep import SCENARIOS, Scenario, run, sweep


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_one_transient_failure_at_any_call_ends_as_the_clean_run(project: Project, scenario: Scenario) -> None:
    result = sweep(scenario, project)
    assert result.failures == []
    assert result.converged == result.positions > 0


@pytest.mark.parametrize("seed", range(20))
def test_thirty_percent_throttling_still_rolls_back_exactly_once(project: Project, seed: int) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "rollback_failed_deployment")
    clean = run(scenario, project)
    throttled = run(scenario, project, rate=0.3, seed=seed)
    assert throttled.state == clean.state
    assert throttled.done["ecs.UpdateService"] == 1


# -- two pushes racing for one semver:1.x service ------------------------------------------------------------
def _race(world: World, phases: list[tuple[str, int]]) -> str:
    faults = Faults().install()
    turnstile = Turnstile(phases)
    faults.gate = turnstile
    world.cluster("prod")
    world.service(
        "prod", "web", world.web_task_definition("web", "shop", tag="1.0.0"), {"autopilot:deploy": "semver:1.x"}
    )
    world.inventory()
    pushes = {tag: world.events.ecr_push("shop", world.push_image("shop", tag), tag) for tag in ("1.2.0", "1.1.0")}

    def deliver(name: str, event: dict[str, Any]) -> None:
        try:
            until_done(lambda: world.deliver(event), attempts=5)
        finally:
            turnstile.finish(name)

    threads = [
        threading.Thread(target=deliver, args=(n, pushes[t]), name=n) for n, t in (("A", "1.2.0"), ("B", "1.1.0"))
    ]
    with faults.active():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    running = world.image_of("prod", "web")
    return next(tag for tag, event in pushes.items() if running.endswith(event["detail"]["image-digest"]))


def _race_schedules() -> list[list[tuple[str, int]]]:
    """A runs i calls, B runs j calls, then A to its end, then B (and the same with B first): every point at
    which one push can be overtaken by the other, including 1.1.0's UpdateService landing last."""
    schedules = []
    for first, second in (("A", "B"), ("B", "A")):
        for i, j in itertools.product((0, 4, 7, 8, 12), (0, 3, 6, 7, 8, 9, 12)):
            schedules.append([(first, i), (second, j), (first, 10_000), (second, 10_000)])
    return schedules


@pytest.mark.parametrize("phases", _race_schedules(), ids=lambda p: f"{p[0][0]}{p[0][1]}-{p[1][0]}{p[1][1]}")
def test_racing_pushes_never_end_on_the_lower_version(aws, project, events, phases) -> None:
    assert _race(World(project, events), phases) == "1.2.0"


# -- one incident, one rollback -----------------------------------------------------------------------------
ORDERS = sorted(set(itertools.permutations(["alarm", "failed", "alarm", "failed"])))


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
def test_an_alarm_and_a_failed_deployment_of_one_revision_roll_back_once(aws, project, events, order) -> None:
    from tests.sweep import _rollback_world

    world = World(project, events)
    context = _rollback_world(world)
    faults = Faults().install()
    deliveries = {
        "alarm": alarm_event(context["started"] + timedelta(minutes=5)),
        "failed": context["failed"],
    }
    with faults.active():
        for name in order:
            project.invoke("RollbackFunction", deliveries[name])
    assert faults.done()["ecs.UpdateService"] == 1
    assert world.running("prod", "web")["taskDefinitionArn"].endswith("web:1")
