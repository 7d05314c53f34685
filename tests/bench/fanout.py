"""`make bench`: one push to m services of distinct task-definition families, under ECS's modelled API rate limits
(`autopilot.local.ratelimits`), as DeployFunction handles it today: inside one invocation, the SDK's retries
(standard mode, 6 attempts) the only pacing.

Prints `fanout services=<m> families=<m> deployed=<n> throttled_calls=<t> simulated_s=<s> api_calls=<c>`:
deployed, the services the first invocation moved to the pushed image; throttled_calls, requests ECS refused;
simulated_s, the time the SDK's backoff sleeps would take (slept on a simulated clock, which the rate limits
refill on: the run takes seconds of wall time); api_calls, requests made (retries included). The lower bound
for m families is max(0, m - 20) seconds (RegisterTaskDefinition: a burst of 20, then 1 per second). The
function's timeout is not modelled: a simulated_s past DeployFunction's 120 s is an invocation Lambda would
have stopped, its remaining services left to EventBridge's retries of the whole push.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import botocore.endpoint
from moto import mock_aws

from autopilot.aws import clients
from autopilot.local import strict
from autopilot.local.emulator import LOCAL_REGION, create_stack_resources, use_endpoint
from autopilot.local.project import Project
from autopilot.local.ratelimits import RateLimits
from autopilot.settings import get_settings
from tests.bench.push_cost import Fleet, counting

ROOT = Path(__file__).resolve().parents[2]
CASES = (10, 100, 500)


class SimulatedTime:
    """The clock the SDK's backoff sleeps on (botocore.endpoint's `time.sleep`) and the rate limits refill on."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def time(self) -> float:
        return self.now


@contextmanager
def simulated(clock: SimulatedTime) -> Iterator[None]:
    real = botocore.endpoint.time

    class Shim:
        sleep = staticmethod(clock.sleep)
        time = staticmethod(real.time)

    botocore.endpoint.time = Shim  # type: ignore[assignment]
    try:
        yield
    finally:
        botocore.endpoint.time = real


def measure(services: int) -> str:
    project = Project(ROOT / "template.yaml")
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(project)
        fleet = Fleet(project, services, services)  # every service uses the pushed repository; one family each
        clock = SimulatedTime()
        limits = RateLimits(clock=clock.time)
        strict.limit(limits)
        try:
            with simulated(clock), counting() as calls:
                report = fleet.push("measured")
        finally:
            strict.limit(None)
        deployed = int(report.get("counts", {}).get("DEPLOYED", 0))  # every service (`results` shows 50)
        return (
            f"fanout services={services} families={services} deployed={deployed} "
            f"throttled_calls={sum(limits.throttled.values())} simulated_s={clock.now:.0f} api_calls={calls.total}"
        )


def main() -> None:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    use_endpoint("", region=LOCAL_REGION)  # throwaway credentials and region; moto intercepts every call
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for services in CASES:
        get_settings.cache_clear()
        print(measure(services), flush=True)


if __name__ == "__main__":
    main()
