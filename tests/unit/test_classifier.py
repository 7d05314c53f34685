"""Why a task stopped: the classifier over the stopped-task samples in events/."""

from __future__ import annotations

import pytest

from autopilot.events import TaskStateChangeEvent
from autopilot.taskwatch import StopClass, classify
from tests.conftest import sample


@pytest.mark.parametrize(
    ("name", "stop_class", "container", "exit_code"),
    [
        ("ecs-task-stopped-essential-exit.json", StopClass.ESSENTIAL_EXIT, "FargateApp", 1),
        ("ecs-task-stopped-oom.json", StopClass.OUT_OF_MEMORY, "FargateApp", 1),
        ("ecs-task-stopped-elb-health-check.json", StopClass.HEALTH_CHECK, None, None),
        ("ecs-task-stopped-missing-secret.json", StopClass.FAILED_TO_START, None, None),
        ("ecs-task-stopped-image-pull.json", StopClass.FAILED_TO_START, "FargateApp", None),
        ("ecs-task-stopped-deployment.json", StopClass.SCHEDULER, None, None),
        ("ecs-task-stopped-user.json", StopClass.USER, None, None),
        ("ecs-task-stopped-standalone.json", StopClass.ESSENTIAL_EXIT, "FargateApp", 2),
        ("ecs-task-fargate-spot-interruption.json", StopClass.SPOT, None, None),
        ("ecs-task-termination-notice.json", StopClass.SPOT, None, None),
    ],
)
def test_each_sample_is_classified_with_its_cause(name, stop_class, container, exit_code) -> None:
    found = classify(TaskStateChangeEvent.model_validate(sample(name)).detail)
    assert (found.stop_class, found.container, found.exit_code) == (stop_class, container, exit_code)


def test_sidecars_exiting_143_and_0_after_the_app_are_not_the_cause() -> None:
    found = classify(TaskStateChangeEvent.model_validate(sample("ecs-task-stopped-essential-exit.json")).detail)
    assert found.container == "FargateApp"
    assert found.exit_code == 1


def test_out_of_memory_is_found_from_the_container_reason_whatever_the_exit_code() -> None:
    found = classify(TaskStateChangeEvent.model_validate(sample("ecs-task-stopped-oom.json")).detail)
    assert found.cause.startswith("OutOfMemoryError")


def test_a_missing_secret_is_a_start_failure_naming_the_error() -> None:
    found = classify(TaskStateChangeEvent.model_validate(sample("ecs-task-stopped-missing-secret.json")).detail)
    assert found.cause.startswith("ResourceInitializationError: unable to pull secrets")


def test_deployments_scale_in_and_user_stops_are_quiet() -> None:
    for name in ("ecs-task-stopped-deployment.json", "ecs-task-stopped-user.json"):
        assert classify(TaskStateChangeEvent.model_validate(sample(name)).detail).quiet
    assert not classify(TaskStateChangeEvent.model_validate(sample("ecs-task-stopped-oom.json")).detail).quiet
