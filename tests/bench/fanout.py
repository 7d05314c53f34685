"""`make bench`: one push to m services of distinct task-definition families, under ECS's modelled API rate limits
(`autopilot.local.ratelimits`): the push hands one work item per family to the fan-out queue (paced by their
delays), and Lambda's SQS event source (one poller, `local.pump.run_event_source_on_clock`) hands them to
DeployFunction in batches of 10.

Prints `fanout services=<m> families=<m> deployed=<n> throttled_calls=<t> simulated_s=<s> api_calls=<c>`:
deployed, the services on the pushed image when the queue is empty (from ECS, not from our reports);
throttled_calls, requests ECS refused; simulated_s, from the push to the last work item done, on the simulated
clock (`local.clock`: the SDK's backoff sleeps, SQS's delays and ECS's rate limits all run on it, so the run
takes seconds of wall time); api_calls, the functions' requests (the push's and every work item's; the event
source's own ReceiveMessage / DeleteMessage are not the functions'). The lower bound for m families is
max(0, m - 20) seconds (RegisterTaskDefinition: a burst of 20, then 1 per second); `lower_bound_s` is printed
with it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3
from moto import mock_aws

from autopilot.aws import clients
from autopilot.local import strict
from autopilot.local.clock import SimulatedClock, simulated
from autopilot.local.emulator import create_stack_resources
from autopilot.local.project import Project
from autopilot.local.pump import run_event_source_on_clock
from autopilot.local.ratelimits import RateLimits
from tests.bench.push_cost import Fleet, counting, print_cases

ROOT = Path(__file__).resolve().parents[2]
CASES = (10, 100, 500)


def measure(services: int) -> dict[str, int]:
    project = Project(ROOT / "template.yaml")
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        stack = create_stack_resources(project)
        fleet = Fleet(project, services, services)  # every service uses the pushed repository; one family each
        queue_url = os.environ["FANOUT_QUEUE_URL"]
        sqs = boto3.client("sqs")  # the event source's client: its calls are not counted
        clock = SimulatedClock()
        limits = RateLimits(clock=clock.time)
        strict.limit(limits)
        try:
            with simulated(clock), counting() as calls:
                started = clock.time()
                fleet.push("measured")
                run_event_source_on_clock(
                    lambda event: project.invoke("DeployFunction", event), queue_url, clock, sqs=sqs
                )
                elapsed = clock.time() - started
        finally:
            strict.limit(None)
        del stack
        deployed = fleet.on_pushed_image()
        return {
            "services": services,
            "families": services,
            "deployed": deployed,
            "throttled_calls": sum(limits.throttled.values()),
            "simulated_s": round(elapsed),
            "api_calls": calls.total,
            "lower_bound_s": max(0, services - 20),
        }


def main() -> None:
    """`python -m tests.bench.fanout [M …]`: the given fleet sizes, else 10, 100 and 500."""
    print_cases("fanout", measure, [int(arg) for arg in sys.argv[1:]] or CASES)


if __name__ == "__main__":
    main()
