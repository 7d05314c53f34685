"""The `autopilot` command against the emulator in server mode: replay (dry run and real), inventory, local up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from autopilot.local.emulator import LOCAL_TABLE, Emulator, create_stack_resources, free_port
from tests.conftest import ROOT
from tests.e2e.sandbox import interruptible
from tests.integration.world import World


def autopilot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI piped, as a script runs it: no COLUMNS, so tables are not wrapped to this terminal's width."""
    env = {key: value for key, value in (os.environ if env is None else env).items() if key != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-m", "autopilot.cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.fixture
def emulator(project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")  # restored (removed) after the test
    with Emulator() as running:
        create_stack_resources(project)
        yield running
    boto3.setup_default_session()


@pytest.fixture
def pushed_event(project, events, emulator: Emulator, tmp_path: Path) -> Path:
    world = World(project, events)
    world.managed("prod", "web", "tag:latest")
    event = events.ecr_push("shop", world.push_image("shop", "latest"), "latest")
    path = tmp_path / "push.json"
    path.write_text(json.dumps(event))
    return path


def web_revisions() -> int:
    return len(boto3.client("ecs").list_task_definitions(familyPrefix="web")["taskDefinitionArns"])


def test_replay_dry_run_prints_the_planned_change_and_changes_nothing(emulator: Emulator, pushed_event: Path) -> None:
    result = autopilot(
        "replay", str(pushed_event), "--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE, "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    assert "PLANNED" in result.stdout
    assert "shop:latest → shop@sha256:" in result.stdout
    assert web_revisions() == 1


def test_replay_runs_the_routed_handler_for_real(emulator: Emulator, pushed_event: Path) -> None:
    result = autopilot("replay", str(pushed_event), "--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE)
    assert result.returncode == 0, result.stderr
    assert "DEPLOYED" in result.stdout
    assert web_revisions() == 2


def test_inventory_rebuilds_the_index(emulator: Emulator, pushed_event: Path) -> None:
    result = autopilot("inventory", "--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE)
    assert result.returncode == 0, result.stderr
    assert '"services_indexed": 1' in result.stdout


def test_replay_without_a_ledger_table_or_a_stack_says_so_in_one_line(emulator: Emulator, pushed_event: Path) -> None:
    boto3.client("cloudformation").delete_stack(StackName="ecs-autopilot")  # the emulator's own, as if not deployed
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_TABLE_NAME"}
    result = autopilot("replay", str(pushed_event), "--endpoint-url", emulator.endpoint_url, env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "autopilot: error: no ledger table: pass --table, set LEDGER_TABLE_NAME, or --stack NAME of the deployed "
        "stack (no stack ecs-autopilot in us-west-2)"
    )


def test_the_cli_finds_the_table_and_queues_in_the_stack_outputs(emulator: Emulator, pushed_event: Path) -> None:
    # issue 10: a user who ran `sam deploy` needs no variables; the stack's outputs name the table and queues
    outputs = {"LedgerTableName": LOCAL_TABLE, "NotificationQueueUrl": "https://sqs.example/queue.fifo"}
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="shop-autopilot", TemplateBody=json.dumps(template))
    env = {k: v for k, v in os.environ.items() if k not in {"LEDGER_TABLE_NAME", "NOTIFY_QUEUE_URL"}}
    found = autopilot("--stack", "shop-autopilot", "status", "--endpoint-url", emulator.endpoint_url, env=env)
    assert found.returncode == 0, found.stderr
    assert "1 managed service(s)" in found.stdout  # prod/web of the pushed_event fixture, read from the table
    missing = autopilot("--stack", "nope", "status", "--endpoint-url", emulator.endpoint_url, env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("autopilot: error: stack nope not found")
    # the local emulator holds a stack named as `sam deploy` names it: found with no option at all
    local = autopilot("status", "--endpoint-url", emulator.endpoint_url, env=env)
    assert local.returncode == 0, local.stderr


def test_every_command_has_help() -> None:
    for command in (
        ["route"],
        ["replay"],
        ["inventory"],
        ["local", "up"],
        ["demo"],
        ["history"],
        ["rollback"],
        ["freeze"],
        ["unfreeze"],
        ["quarantine"],
        ["doctor"],
        ["notify", "test"],
        ["status"],
        ["plan"],
    ):
        result = autopilot(*command, "--help")
        assert result.returncode == 0
        assert "Usage:" in result.stdout


def test_local_up_serves_the_stack_resources_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "autopilot.cli.main", "local", "up", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,  # noqa: PLW1509 - Ctrl-C must reach it however the test run was started
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(2)]
        assert f"http://127.0.0.1:{port}" in banner[0]
        dynamodb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}")
        assert LOCAL_TABLE in dynamodb.list_tables()["TableNames"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0


def test_operator_commands_freeze_quarantine_history_and_rollback(project, events, emulator: Emulator) -> None:
    world = World(project, events)
    world.cluster("prod")
    definition = world.web_task_definition("web", "shop", tag="latest")
    world.service("prod", "web", definition, {"autopilot:deploy": "tag:latest"}, launchType="FARGATE")
    world.inventory()
    first = world.ecs.describe_services(cluster="prod", services=["web"])["services"][0]["deployments"][0]["id"]
    world.ecs_until("SERVICE_DEPLOYMENT_COMPLETED")  # the emulated ECS runs web:1; its events reach the functions
    digest = world.push("shop", "latest")["digest"]
    target = ["--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE]

    assert "is frozen" in autopilot("freeze", "prod/web", *target).stdout
    assert autopilot("unfreeze", "prod/web", *target).returncode == 0
    from autopilot.ledger import Ledger
    from autopilot.refs import ServiceRef

    Ledger(boto3.client("dynamodb"), LOCAL_TABLE).services.quarantine(ServiceRef("prod", "web"), [digest])
    assert autopilot("quarantine", "list", "prod/web", *target).stdout.split() == [digest]
    unknown = autopilot("quarantine", "clear", "prod/web", "sha256:" + "0" * 64, *target)  # issue 10: said "cleared"
    assert unknown.returncode == 1 and "is not quarantined for prod/web" in unknown.stderr
    assert autopilot("quarantine", "clear", "prod/web", digest, *target).returncode == 0
    assert "nothing quarantined" in autopilot("quarantine", "list", "prod/web", *target).stdout

    history = autopilot("history", "prod/web", *target)
    assert history.returncode == 0, history.stderr
    assert first in history.stdout
    assert "IN_PROGRESS → COMPLETED" in history.stdout
    # issue 10: two timestamp formats and a raw epoch; now every row's time is UTC, one format
    import re

    assert not re.search(r"\b1[6-9]\d{8}\b", history.stdout)  # no epoch seconds
    assert not re.search(r"\d{4}-\d\d-\d\dT", history.stdout)  # no ISO "T" form beside the table's own
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", history.stdout)

    in_flight = autopilot("rollback", "prod/web", "--dry-run", *target)  # web:2 is still deploying: ECS's rollback
    assert in_flight.stdout.strip() == "would stop the deployment of prod/web: web:2 → web:1 (nothing changed)"
    world.ecs_until("SERVICE_DEPLOYMENT_COMPLETED")  # web:2's deployment is over (and good): UpdateService now
    planned = autopilot("rollback", "prod/web", "--to", "web:1", "--dry-run", *target)
    assert planned.stdout.strip() == "would update prod/web: web:2 → web:1 (nothing changed)"
    assert world.running("prod", "web")["revision"] == 2
    done = autopilot("rollback", "prod/web", "--to", "web:1", *target)
    assert done.returncode == 0, done.stderr
    assert world.running("prod", "web")["revision"] == 1
    assert "manual rollback by" in autopilot("history", "prod/web", *target).stdout
    again = autopilot("rollback", "prod/web", "--to", "web:1", *target)  # issue 10: recorded a no-op rollback
    assert again.returncode == 1
    assert again.stderr.strip() == "autopilot: error: prod/web already runs web:1: nothing to roll back"

    wrong = autopilot("rollback", "prod", *target)
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "autopilot: error: expected CLUSTER/SERVICE, got 'prod'"


def test_notify_test_sends_a_sample_message_to_a_route(project, emulator: Emulator) -> None:
    from autopilot.local.chat_sink import ChatSink
    from autopilot.local.demo import configure_local_routes

    sink = ChatSink().start()
    try:
        configure_local_routes(sink)
        target = ["--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE]
        result = autopilot("notify", "test", "ops", *target)
        assert (result.returncode, result.stdout.strip()) == (0, "route ops: delivered")
        assert sink.delivered("/webhook")[0].json["kind"] == "notify.test"
        missing = autopilot("notify", "test", "nope", *target)
        assert missing.returncode == 1
        assert "no route named 'nope'" in missing.stderr
    finally:
        sink.stop()


def test_doctor_on_a_healthy_emulator_says_so(emulator: Emulator) -> None:
    result = autopilot("doctor", "--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE)
    assert result.returncode == 0, result.stderr
    assert "no risky setting found" in result.stdout


def test_status_and_plan(project, events, emulator: Emulator) -> None:
    world = World(project, events)
    world.managed("prod", "web", "tag:latest")
    world.managed("prod", "api", "semver:1.x", running_tag="1.0.0")
    world.push("shop", "latest")
    digest = world.push_image("shop", "1.4.0")
    target = ["--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE]

    status = autopilot("status", "prod", *target)
    assert status.returncode == 0, status.stderr
    assert "prod/api" in status.stdout and "prod/web" in status.stdout
    assert "semver:1.x" in status.stdout and "tag:latest" in status.stdout
    one = autopilot("status", "prod/api", *target)
    assert "prod/web" not in one.stdout

    repository = world.repository("shop")
    planned = autopilot("plan", "prod/api", f"{repository}:1.4.0", *target)
    assert planned.returncode == 0, planned.stderr
    assert "would deploy" in planned.stdout
    assert f"+ image: {repository}@{digest}" in planned.stdout  # the digest 1.4.0 points at, from ECR
    assert f"- image: {repository}:1.0.0" in planned.stdout
    short = autopilot("plan", "prod/api", "shop:1.4.0", *target)  # issue 10: status shows short names
    assert short.returncode == 0, short.stderr
    assert f"+ image: {repository}@{digest}" in short.stdout
    skipped = autopilot("plan", "prod/web", f"{repository}:1.4.0", *target)
    assert "would not deploy" in skipped.stdout
    assert skipped.returncode == 3  # a plan that refuses is a finding
    untagged = autopilot("plan", "prod/web", f"{repository}@{digest}", *target)
    assert untagged.returncode == 1
    assert "names no tag" in untagged.stderr
    assert world.running("prod", "api")["revision"] == 1  # plan changed nothing


def test_doctor_with_findings_exits_3(project, events, emulator: Emulator) -> None:
    # issue 10: doctor exited 0 with findings. (It once also tagged a service semver:^1.4 to get a tag-safe
    # spelling: ECS refuses that value, as the emulator now does; the spelling is tested with the tag parser.)
    world = World(project, events)
    world.managed("prod", "web", "tag:latest")
    arn = boto3.client("ecs").describe_services(cluster="prod", services=["web"])["services"][0]["serviceArn"]
    boto3.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": "autopilot:deploy", "value": "semver:banana"}])
    result = autopilot("doctor", "--endpoint-url", emulator.endpoint_url, "--table", LOCAL_TABLE)
    assert result.returncode == 3, result.stderr
    assert "banana" in " ".join(result.stdout.split())
