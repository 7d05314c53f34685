"""How a container image behaves when the emulated ECS runs it: what the local world says about each image.

ECS learns an image is bad only by running it. The engine asks `behaviour_of(image)` for every task it starts
and plays the task's life out on its simulated clock: a healthy image runs until it is replaced; a bad one
stops the way ECS reports such tasks (stop codes of the ECS API Reference `Task.stopCode`, reasons quoted by the
ECS Developer Guide's "stopped task errors" pages; the matching samples are events/ecs-task-stopped-*.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Fate(StrEnum):
    HEALTHY = "healthy"
    EXITS = "exits"  # the essential container exits with `exit_code`
    OUT_OF_MEMORY = "oom"
    HEALTH_CHECK = "health-check"  # runs, then fails its load balancer's health checks
    PULL_ERROR = "pull-error"  # never starts: the image cannot be pulled
    SECRET_ERROR = "secret-error"  # noqa: S105 - never starts: a secret in the task definition cannot be read


@dataclass(frozen=True)
class Behaviour:
    fate: Fate = Fate.HEALTHY
    after_seconds: int = 30  # how long the task runs (or tries to start) before it stops
    exit_code: int = 1

    @property
    def starts(self) -> bool:
        return self.fate not in (Fate.PULL_ERROR, Fate.SECRET_ERROR)

    @property
    def fails(self) -> bool:
        return self.fate is not Fate.HEALTHY

    def __str__(self) -> str:
        if self.fate is Fate.HEALTHY:
            return "healthy"
        if self.fate is Fate.EXITS:
            return f"exits:{self.exit_code}@{self.after_seconds}s"
        return f"{self.fate.value}@{self.after_seconds}s"


HEALTHY = Behaviour()
_SPEC = re.compile(r"^(?P<fate>[a-z-]+)(?::(?P<code>\d{1,3}))?(?:@(?P<after>\d{1,5})s?)?$")


def parse_behaviour(spec: str) -> Behaviour:
    """`healthy`, `exits:1@30s`, `oom@45s`, `health-check@60s`, `pull-error`, `secret-error` (the CLI's words)."""
    found = _SPEC.match(spec.strip().lower())
    fates = {fate.value: fate for fate in Fate}
    if found is None or found["fate"] not in fates:
        raise ValueError(
            f"unknown image behaviour {spec!r}: say healthy, exits:CODE@SECONDSs, oom@SECONDSs, "
            "health-check@SECONDSs, pull-error or secret-error"
        )
    fate = fates[found["fate"]]
    after = int(found["after"]) if found["after"] else (10 if fate in (Fate.PULL_ERROR, Fate.SECRET_ERROR) else 30)
    code = int(found["code"]) if found["code"] else (137 if fate is Fate.OUT_OF_MEMORY else 1)
    if found["code"] and fate is not Fate.EXITS:
        raise ValueError(f"{spec!r}: only `exits` takes an exit code")
    return Behaviour(fate=fate, after_seconds=after, exit_code=code)
