"""Shared fixtures: the project (template.yaml, events/), AWS under moto, and a small ECS world builder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from autopilot.aws import clients
from autopilot.local import iam
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, create_stack_resources
from autopilot.local.project import Project
from autopilot.local.sample_events import EventFactory, load_event
from autopilot.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
IAM_USAGE = ".iam-usage.json"


def pytest_configure(config: pytest.Config) -> None:
    """Powertools Metrics takes its namespace from the environment when the observability module is first
    imported, which may be while test modules are collected, before any fixture runs."""
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EcsAutopilotTest")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """What each function's calls used of its IAM role, for `make iam-report` (only when the run used the
    emulator, where IAM is enforced; AUTOPILOT_IAM_USAGE names another file)."""
    if iam.enforced():
        target = Path(os.environ.get("AUTOPILOT_IAM_USAGE", ROOT / IAM_USAGE))
        iam.write_usage(target, run=" ".join(["pytest", *session.config.invocation_params.args]))


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT / "template.yaml")


def sample(name: str) -> dict:
    return load_event(EVENTS / name)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reaches a real account or a leftover endpoint (nor a `local up` settings file of this machine)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", LOCAL_REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", LOCAL_REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "EcsAutopilotTest")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")
    monkeypatch.setenv("DRAIN_CHECK_SECONDS", "0")  # the drain wait queue's minute, made instant for tests
    os.environ.pop("LEDGER_TABLE_NAME", None)
    clients.clear_caches()
    get_settings.cache_clear()


@pytest.fixture
def aws(project: Project) -> Iterator[None]:
    """moto for every AWS service, with the stack's own resources created from template.yaml."""
    with mock_aws():
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(
            project,
            config_document='{"policies": {"stable": "semver:^1.2", '
            '"mainline": "regex:^main-[0-9a-f]{7}$", "releases": "glob:release-*"}}',
        )
        yield
        clients.clear_caches()
        get_settings.cache_clear()


@pytest.fixture
def events() -> EventFactory:
    return EventFactory(EVENTS, account=LOCAL_ACCOUNT, region=LOCAL_REGION)
