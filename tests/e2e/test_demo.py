"""`make demo`'s story end to end: emulator in server mode, template rules, real handlers."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def steps() -> list[dict[str, Any]]:
    """`autopilot demo --json`, run once for this module's tests."""
    result = subprocess.run(
        [sys.executable, "-m", "autopilot.cli.main", "demo", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_demo_ends_with_each_service_on_the_digest_its_policy_selected(steps: list[dict[str, Any]]) -> None:
    pushes = {s["event_id"]: s["digest"] for s in steps if s["step"] == "push"}
    deploys = [(s["service"], s["outcome"]) for s in steps if s.get("function") == "DeployFunction" and "service" in s]
    rollbacks = [s["outcome"] for s in steps if s.get("function") == "RollbackFunction"]
    # each push reports both services; their order within one push is not part of the story
    deploys = [pair for i in range(0, len(deploys), 2) for pair in sorted(deploys[i : i + 2])]
    assert deploys[:8] == [
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "DEPLOYED"),  # latest
        ("demo/web-prod", "DEPLOYED"),  # 1.2.0
        ("demo/web-staging", "SKIPPED"),
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "SKIPPED"),  # 1.1.0, older
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "SKIPPED"),  # 2.0.0, outside 1.x
    ]
    assert deploys[8:14] == [
        ("demo/web-prod", "DEPLOYED"),  # 1.3.0, a bad build
        ("demo/web-staging", "SKIPPED"),
        ("demo/web-prod", "SKIPPED"),
        ("demo/web-staging", "SKIPPED"),  # the same 1.3.0 digest again
        ("demo/web-prod", "DEPLOYED"),  # 1.4.0
        ("demo/web-staging", "SKIPPED"),
    ]
    assert deploys[14:] == [("demo/payments", "SKIPPED")]  # held for approval: chat deploys it
    requarantined = [s for s in steps if s.get("function") == "DeployFunction" and "quarantined" in s.get("reason", "")]
    assert [s["service"] for s in requarantined] == ["demo/web-prod"]
    # what ECS did, as its events told RollbackFunction: the first deployments and 1.2.0 complete; 1.3.0's tasks
    # crash until the circuit breaker fails the deployment → rolled back; 1.4.0's alarm → rolled back
    assert rollbacks[:8] == [
        *["SUCCEEDED"] * 4,
        "ROLLED_BACK",
        "SUCCEEDED",  # ECS completes the rollback's deployment
        "ROLLED_BACK",
        "SUCCEEDED",
    ]
    assert set(rollbacks[8:]) == {"SUCCEEDED"}  # the chat chapters' deployments: payments, search
    failed = [s for s in steps if s.get("ecs_event") == "SERVICE_DEPLOYMENT_FAILED"]
    assert [s["service"] for s in failed] == ["web-prod"]
    assert "circuit breaker" in failed[0]["text"]
    # what the local chat sink received: one living Slack message per deployment, the ops webhook only warnings+
    chat = steps[-1]["chat"]
    assert chat["webhook"][:4] == ["task.stopped", "deploy.failed", "rollback.done", "rollback.done"]
    assert chat["webhook"][4:6] == ["spot.warning", "spot.task"]
    assert chat["webhook"][6:].count("task.crash_loop") == 1
    # the Spot chapter: the hook completed with CONTINUE only once no service task was left on the instance; a
    # Fargate Spot task left its target group before it stopped; a crash loop of 25+ stops is two messages
    hook, targets, _search = (s for s in steps if s["step"] == "state")
    assert (hook["hook"], hook["tasks_left"]) == ("CONTINUE", 0)
    assert targets["targets"] and targets["interrupted"] not in targets["targets"]
    crash = next(s for s in steps if s.get("function") == "TaskWatchFunction" and "stops" in s)
    assert crash["stops"] >= 25 and crash["told"] == 2
    assert any(s["step"] == "chat" and "web-staging: steady again after" in s["text"] for s in steps)
    assert any(s["step"] == "chat" and "updated in place" in s["text"] for s in steps)
    assert [s for s in steps if s.get("duplicate")], "the redelivered event is recognised as a duplicate"
    final = steps[-1]
    assert final["step"] == "done"
    digests = list(pushes.values())
    assert final["final"]["web-staging"]["images"]["web"].endswith(digests[0])  # latest
    assert final["final"]["web-prod"]["images"]["web"].endswith(digests[1])  # 1.2.0
    assert final["final"]["web-prod"]["images"]["log-router"].startswith("public.ecr.aws/")
    assert final["final"]["web-prod"]["task_definition"].endswith("web-prod:2")
    # the ledger tells the same story
    by_tag = {
        s["text"].split(":", 1)[1].split()[0]: s["digest"]
        for s in steps
        if s["step"] == "push" and s["text"].startswith("docker push")
    }
    prod = final["final"]["web-prod"]["ledger"]
    assert prod["last_known_good"].endswith("web-prod:2")
    assert [arn.rsplit("/", 1)[-1] for arn in prod["bad_revisions"]] == ["web-prod:3", "web-prod:4"]
    assert prod["quarantined"] == sorted([by_tag["1.3.0"], by_tag["1.4.0"]])
    assert prod["deployments"] == ["ROLLED_BACK", "ROLLED_BACK", "SUCCEEDED"]  # 1.4.0, 1.3.0, 1.2.0
    assert not prod["frozen"]
    assert final["final"]["web-staging"]["ledger"]["deployments"] == ["SUCCEEDED"]  # ECS completed it
    assert steps[-1]["t"] < 90


def test_the_demo_reads_as_a_story_in_its_own_names(steps: list[dict[str, Any]]) -> None:
    # issue 10: no chapter headings; each Slack step printed twice; a silent pause; "DRAINED — " with nothing
    # after it; a container named after the AWS sample ("FargateApp") instead of the demo's own
    chapters = [s["text"].split()[0] for s in steps if s["step"] == "chapter"]
    assert chapters == ["A", "Two", "A", "Spot", "A", "A", "Where"]
    texts = [s["text"] for s in steps]
    assert not [text for text in texts if "↳ in thread" in text]
    assert not [text for text in texts if "FargateApp" in text or "111122223333" in text]
    assert not [text for text in texts if text.rstrip().endswith("—")]
    # the slow parts (starting moto, launching the Spot instance) say so before they start
    assert steps[1]["text"].startswith("starting moto")
    assert any(s["text"].startswith("an EC2 Spot instance joins the cluster") for s in steps)
    # ECS's events are the emulated ECS's, not generated from samples by the demo
    assert not [text for text in texts if "generated" in text]


def test_chat_decides_an_approval_and_a_pause_hook(steps: list[dict[str, Any]]) -> None:
    clicks = [(s["user"], s["status"], s["value"].split()[0]) for s in steps if s["step"] == "click"]
    assert clicks == [
        ("U0INTERN", 403, "approve"),  # not allowed: refused, nothing deployed
        ("U0LOCAL", 200, "approve"),
        ("U0LOCAL", 200, "continue"),
        ("U0LOCAL", 200, "rollback"),
    ]
    chat = [s["text"] for s in steps if s["step"] == "chat"]
    assert any("deploy of payments:1.1.0 approved by <@U0LOCAL>" in text for text in chat)
    assert sum("paused at POST_TEST_TRAFFIC_SHIFT: continue?" in text for text in chat) >= 2
    assert any("continued by <@U0LOCAL>" in text for text in chat)
    assert any("rolled back by <@U0LOCAL>" in text for text in chat)
    assert any(s["step"] == "state" and s["text"] == "search runs search:1 again" for s in steps)
