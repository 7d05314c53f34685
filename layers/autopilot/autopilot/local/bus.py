"""EventBridge's default bus, locally: what the emulated ECS emits goes to the functions whose rules match.

`settle` lets simulated time pass in scheduler ticks; after each tick the events ECS sent are delivered by
template.yaml's rules (autopilot.local.routing) to the real handlers, which may call ECS again (a rollback starts a
deployment, whose events come in the next tick).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autopilot.local.ecs.engine import TICK_SECONDS, Engine
from autopilot.local.project import Project


@dataclass(frozen=True)
class Delivery:
    event: dict[str, Any]
    functions: list[str]
    results: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.event.get("detail-type", ""))

    @property
    def name(self) -> str:
        """The deployment's or service action's eventName, or the task's lastStatus and stopCode."""
        detail = self.event.get("detail", {})
        if "eventName" in detail:
            return str(detail["eventName"])
        return " ".join(str(detail.get(key)) for key in ("lastStatus", "stopCode") if detail.get(key))


@dataclass
class LocalBus:
    project: Project
    engine: Engine
    deliveries: list[Delivery] = field(default_factory=list)
    on_delivery: Callable[[Delivery], None] | None = None
    hold: bool = False  # when set, events are kept in `held` instead of delivered (tests reorder them)
    held: list[dict[str, Any]] = field(default_factory=list)

    def put(self, event: dict[str, Any]) -> Delivery:
        functions = self.project.route(event)
        results = {function: self.project.invoke(function, event) for function in functions}
        delivery = Delivery(event=event, functions=functions, results=results)
        self.deliveries.append(delivery)
        if self.on_delivery is not None:
            self.on_delivery(delivery)
        return delivery

    def flush(self) -> list[Delivery]:
        """Deliver what ECS has sent so far (and what the handlers' calls made it send, until quiet)."""
        delivered: list[Delivery] = []
        while events := self.engine.take_events():
            if self.hold:
                self.held.extend(events)
                continue
            delivered.extend(self.put(event) for event in events)
        return delivered

    def settle(
        self, seconds: float = 600, *, until: Callable[[], bool] | None = None, tick: float = TICK_SECONDS
    ) -> list[Delivery]:
        """Let up to `seconds` pass (or until `until()` holds), delivering after each tick."""
        delivered = self.flush()
        waited = 0.0
        while waited < seconds and not (until is not None and until()):
            self.engine.advance(tick)
            waited += tick
            delivered.extend(self.flush())
        return delivered
