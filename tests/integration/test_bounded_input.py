"""Bounded input: an event carrying more than AWS ever sends is rejected before any AWS call, logged without
its payload, counted in RejectedEvents, and the function answers instead of crashing or retrying."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION
from autopilot.local.seed import local_event
from tests.conftest import sample
from tests.faults import Faults

pytestmark = pytest.mark.usefixtures("aws")

MEGABYTE = "x" * (1024 * 1024 + 1)


def setting(path: str, value: Any) -> Callable[[dict], None]:
    def apply(event: dict) -> None:
        *parents, last = path.split(".")
        target: Any = event
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value

    return apply


CASES = [
    ("DeployFunction", "ecr-push-latest.json", setting("detail.repository-name", "r" * 257)),
    ("DeployFunction", "ecr-push-latest.json", setting("detail.image-tag", "t" * 301)),
    ("DeployFunction", "ecr-push-latest.json", setting("detail.image-digest", "sha256:not-hex")),
    ("DeployFunction", "ecr-push-latest.json", setting("detail.unknown-field", MEGABYTE)),  # extra fields too
    ("DeployFunction", "ecr-push-latest.json", setting("account", "1234")),
    ("RollbackFunction", "ecs-deployment-failed.json", setting("detail.reason", "r" * 5000)),
    ("RollbackFunction", "ecs-deployment-failed.json", setting("resources.0", "arn:" + "a" * 2048)),
    ("RollbackFunction", "alarm-ecs-service-metric.json", setting("detail.alarmName", "a" * 257)),
    ("RollbackFunction", "alarm-ecs-service-metric.json", setting("detail.state.reason", MEGABYTE)),
    ("TaskWatchFunction", "ecs-task-stopped-oom.json", setting("detail.stoppedReason", "s" * 5000)),
    ("TaskWatchFunction", "ecs-task-stopped-oom.json", setting("detail.containers", [{"name": "c"}] * 51)),
    (
        "SpotDrainFunction",
        "asg-instance-terminate-lifecycle-action.json",
        setting("detail.NotificationMetadata", "m" * 1024),
    ),
    ("SpotDrainFunction", "ec2-spot-interruption-warning.json", setting("detail.instance-id", "i-" + "0" * 30)),
    (
        "InventoryFunction",
        "cloudtrail-ecs-update-service.json",
        setting(
            "detail.responseElements.service.serviceArn",
            "arn:aws:ecs:us-east-1:123456789012:service/default/" + "s" * 300,
        ),
    ),
]


@pytest.mark.parametrize(("function", "name", "change"), CASES, ids=[f"{c[1]}:{i}" for i, c in enumerate(CASES)])
def test_an_oversized_field_is_rejected_before_any_aws_call(
    project,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    name: str,
    change: Callable[[dict], None],
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the local emulator turns metrics off
    event = copy.deepcopy(sample(name))
    change(event)
    faults = Faults().install()
    with faults.active():
        result = project.invoke(function, event)
    assert result["rejected"] is True
    assert faults.calls == []  # nothing read, nothing written
    printed = capsys.readouterr().out
    assert len(printed) < 20_000  # the log says what was wrong, not the megabyte
    metric_lines = [json.loads(line) for line in printed.splitlines() if '"_aws"' in line]
    assert any(line.get("RejectedEvents") == [1.0] for line in metric_lines)


@pytest.mark.parametrize(
    ("function", "name"),
    [
        ("DeployFunction", "ecr-push-latest.json"),
        ("RollbackFunction", "ecs-deployment-failed.json"),
        ("RollbackFunction", "alarm-ecs-service-metric.json"),
        ("TaskWatchFunction", "ecs-task-stopped-oom.json"),
        ("SpotDrainFunction", "asg-instance-terminate-lifecycle-action.json"),
        ("InventoryFunction", "cloudtrail-ecs-update-service.json"),
    ],
)
def test_the_aws_samples_themselves_are_within_the_bounds(project, function: str, name: str) -> None:
    # in the stack's account and region, as EventBridge delivers them (a role reads only its own region's alarms)
    event = local_event(sample(name), account=LOCAL_ACCOUNT, region=LOCAL_REGION)
    result = project.invoke(function, event)
    assert not (isinstance(result, dict) and result.get("rejected")), result
