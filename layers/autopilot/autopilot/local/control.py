"""`local up`'s clock and its control port: the emulated ECS runs on its own, and the world can be changed.

- `WorldClock` advances the emulated ECS (and Auto Scaling, EC2 Spot) with the wall clock, `speed` simulated
  seconds per second, delivers what they send by template.yaml's rules, and takes the drain wait queue back to
  SpotDrainFunction, ChatOpsFunction's work queue back to it and the fan-out queue's work items to
  DeployFunction, as Lambda's event source would.
- `ControlServer` (127.0.0.1 only) is how `autopilot local inject …` and `autopilot local behaviour …` in
  another shell reach the emulator process: a Spot warning, a rebalance recommendation, a Fargate Spot
  interruption, an image's behaviour, or simulated time passing at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from autopilot.local import lifecycle
from autopilot.local.bus import Delivery, LocalBus
from autopilot.local.ecs.behaviour import parse_behaviour
from autopilot.local.loopback import LoopbackServer
from autopilot.local.pump import run_event_source
from autopilot.observability import logger


class WorldClock:
    def __init__(
        self,
        bus: LocalBus,
        wait_queue_url: str | None,
        *,
        speed: float = 1.0,
        chatops_queue_url: str | None = None,
        fanout_queue_url: str | None = None,
    ) -> None:
        self.bus = bus
        self.wait_queue_url = wait_queue_url
        self.chatops_queue_url = chatops_queue_url
        self.fanout_queue_url = fanout_queue_url
        self.speed = speed
        self.lock = threading.RLock()  # one change of the world at a time: the tick, or a control action
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="world-clock", daemon=True)

    def start(self) -> WorldClock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def step(self, seconds: float) -> list[Delivery]:
        with self.lock:
            delivered = self.bus.settle(seconds)
            if self.wait_queue_url:
                project = self.bus.project
                run_event_source(
                    lambda event: project.invoke("SpotDrainFunction", event), self.wait_queue_url, rounds=2
                )
            if self.fanout_queue_url:  # a push's work items, as their delays let them out (wall-clock seconds)
                run_event_source(
                    lambda event: self.bus.project.invoke("DeployFunction", event), self.fanout_queue_url, rounds=5
                )
            if self.chatops_queue_url:  # the commands ChatOpsFunction acknowledged, carried out
                run_event_source(
                    lambda event: self.bus.project.invoke("ChatOpsFunction", event), self.chatops_queue_url, rounds=2
                )
                delivered.extend(self.bus.flush())  # what ECS sent about it (a continued deployment) goes out now
            return delivered

    def _run(self) -> None:
        while not self._stopped.wait(1.0):
            try:
                self.step(self.speed)
            except Exception:
                logger.exception("local world clock tick failed")


def _actions(clock: WorldClock) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    engine = clock.bus.engine

    def spot_warning(body: dict[str, Any]) -> dict[str, Any]:
        event = lifecycle.inject_spot_warning(str(body["instance"]))
        return {"sent": event["detail-type"], "instance": body["instance"]}

    def rebalance(body: dict[str, Any]) -> dict[str, Any]:
        event = lifecycle.inject_rebalance(str(body["instance"]))
        return {"sent": event["detail-type"], "instance": body["instance"]}

    def fargate_spot(body: dict[str, Any]) -> dict[str, Any]:
        task = engine.interrupt_spot(str(body["task"]))
        return {"sent": "ECS Task State Change", "task": task.arn, "stops_in_seconds": 120}

    def behaviour(body: dict[str, Any]) -> dict[str, Any]:
        parsed = parse_behaviour(str(body["behaviour"]))
        engine.set_behaviour(str(body["image"]), parsed, running=bool(body.get("running")))
        return {"image": body["image"], "behaviour": str(parsed)}

    def advance(body: dict[str, Any]) -> dict[str, Any]:
        delivered = clock.step(float(body["seconds"]))
        return {"simulated_now": engine.now.isoformat(), "delivered": [d.kind for d in delivered]}

    return {
        "/inject/spot-warning": spot_warning,
        "/inject/rebalance": rebalance,
        "/inject/fargate-spot": fargate_spot,
        "/behaviour": behaviour,
        "/advance": advance,
    }


class ControlServer(LoopbackServer):
    def __init__(self, clock: WorldClock) -> None:
        actions = _actions(clock)

        def answer(path: str, headers: dict[str, str], raw: bytes, client: str) -> tuple[int, bytes]:
            action = actions.get(path)
            try:
                body = json.loads(raw or b"{}")
                if action is None:
                    raise LookupError(f"no control action {path}")
                with clock.lock:
                    said, status = action(body), 200
            except (KeyError, ValueError, LookupError, RuntimeError) as error:
                said, status = {"error": str(error).strip("'\"")}, 400
            return status, json.dumps(said).encode()

        super().__init__(answer, name="local-control")


def call(control_url: str, path: str, body: dict[str, Any], *, timeout: float = 30) -> dict[str, Any]:
    """What the CLI does: POST to the running `local up`'s control port; its answer, or its error."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1, written by local up
        f"{control_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            found: dict[str, Any] = json.loads(answer.read())
            return found
    except urllib.error.HTTPError as error:
        found = json.loads(error.read() or b"{}")
        raise ControlError(str(found.get("error") or error)) from error


class ControlError(Exception):
    pass
