"""`make bench`: one line per action of the fault sweep (tests/sweep.py)."""

from __future__ import annotations

import os

from autopilot.local.emulator import LOCAL_REGION


def main() -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilotBench",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "DRAIN_CHECK_SECONDS": "0",
    }.items():
        os.environ.setdefault(key, value)
    from autopilot.local.project import Project
    from tests.sweep import ROOT, SCENARIOS, sweep

    project = Project(ROOT / "template.yaml")
    for scenario in SCENARIOS:
        result = sweep(scenario, project)
        print(result.line(), flush=True)
        for failure in result.failures:
            print(f"  not converged: {failure}", flush=True)


if __name__ == "__main__":
    main()
