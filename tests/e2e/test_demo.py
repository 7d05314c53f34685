"""`make demo`'s story end to end: emulator in server mode, template rules, real handlers."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_ends_with_each_service_on_the_digest_its_policy_selected() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autopilot.cli.main", "demo", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines()]
    pushes = {s["event_id"]: s["digest"] for s in steps if s["step"] == "push"}
    decisions = [(s["service"], s["outcome"]) for s in steps if s["step"] == "decision" and "service" in s]
    assert decisions == [
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "DEPLOYED"),  # latest
        ("demo/web-staging", "SKIPPED"),
        ("demo/web-prod", "DEPLOYED"),  # 1.2.0
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "SKIPPED"),  # 1.1.0, older
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "SKIPPED"),  # 2.0.0, outside 1.x
    ]
    assert [s for s in steps if s.get("duplicate")], "the redelivered event is recognised as a duplicate"
    final = steps[-1]
    assert final["step"] == "done"
    digests = list(pushes.values())
    assert final["final"]["web-staging"]["images"]["web"].endswith(digests[0])  # latest
    assert final["final"]["web-prod"]["images"]["web"].endswith(digests[1])  # 1.2.0
    assert final["final"]["web-prod"]["images"]["log-router"].startswith("public.ecr.aws/")
    assert final["final"]["web-prod"]["task_definition"].endswith("web-prod:2")
    assert steps[-1]["t"] < 60
