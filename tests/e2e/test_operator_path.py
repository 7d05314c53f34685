"""The operator's path, as a new user walks it in a clean shell (no AWS variables, an 80-column dumb
terminal, a fresh HOME): `local up`, its one-line hint, then the CLI against it. Each test here failed on the
main of issue 10 and names the defect it guards."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e import sandbox
from tests.e2e.sandbox import LocalUp

EVENTS = sorted((ROOT / "events").glob("*.json"))
LOG_MARKERS = ('"level":', '"_aws":', "UserWarning", "Traceback")


clean_env = sandbox.clean_env


def cli(*args: str, env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autopilot.cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[LocalUp]:
    with sandbox.local_up(tmp_path) as running:
        yield running


def test_the_hint_is_one_line_that_works_when_pasted(local_up: LocalUp) -> None:
    # defect: rich hard-wrapped the export line at 80 columns, so half the variables were not exported
    hint = local_up.hint()
    variables = dict(item.split("=", 1) for item in shlex.split(hint.removeprefix("export ")))
    assert {"AWS_ENDPOINT_URL", "AWS_REGION", "LEDGER_TABLE_NAME", "NOTIFY_QUEUE_URL"} <= set(variables)
    # defect: with AWS_REGION only (as the README showed), boto3 raised NoRegionError
    result = cli("status", env={**local_up.env, **variables})
    assert result.returncode == 0, result.stderr
    assert "3 managed service(s)" in result.stdout  # the seeded world the samples name


def test_every_sample_replays_through_the_cli_with_only_results_on_stdout(local_up: LocalUp) -> None:
    # defects: replay of the deployment and alarm samples died with a rich MarkupError after acting; stdout
    # carried JSON log records, metric blobs and a Powertools UserWarning
    result = cli("--local", "replay", *map(str, EVENTS), env=local_up.env, timeout=300)
    assert result.returncode == 0, result.stderr
    for marker in LOG_MARKERS:
        assert marker not in result.stdout, f"{marker} on stdout"
    assert result.stderr == ""
    flat = result.stdout.replace("\n", "")  # whatever the terminal width folded
    for path in EVENTS:
        assert str(path) in flat or f"{path}: no rule matches" in flat
    # rewritten into the local account and region, the samples act on the seeded world
    assert "DEPLOYED" in result.stdout and "out-of-memory FargateCluster/web" in result.stdout
    local_up.read_until("[webhook]")  # the channel name is printed, not eaten as markup


def test_messages_of_a_replay_reach_the_local_chat_sink(local_up: LocalUp, tmp_path: Path) -> None:
    # defect: nothing in `local up` consumed the notification queue, so replayed messages never arrived
    result = cli("--local", "replay", str(ROOT / "events" / "ec2-spot-interruption-warning.json"), env=local_up.env)
    assert result.returncode == 0, result.stderr
    result = cli("--local", "notify", "test", "slack", env=local_up.env)
    assert result.returncode == 0, result.stderr
    local_up.read_until("ecs-autopilot test message")


def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    # defect: `local up --port P` on a taken port printed "Address already in use" and hung
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("local", "up", "--port", str(port), env=clean_env(tmp_path), timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith(f"autopilot: error: port {port} on 127.0.0.1 is taken")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:1", "is `autopilot local up` running?"),
        ("localhost:4566", "is not a URL: write it as http://HOST:PORT"),
    ],
)
def test_a_bad_endpoint_fails_fast_in_one_line(tmp_path: Path, url: str, says: str) -> None:
    # defects: an endpoint with nothing listening took 16-28 s of retries; one without a scheme raised
    # ValueError: Invalid endpoint
    env = {**clean_env(tmp_path), "AWS_REGION": "us-west-2"}
    started = time.monotonic()
    result = cli("status", "--endpoint-url", url, "--table", "t", env=env, timeout=60)
    assert time.monotonic() - started < 15  # interpreter start included; the check itself is ~2 s at most
    assert result.returncode == 1
    assert says in result.stderr and result.stderr.count("\n") == 1


def test_state_commands_refuse_what_would_silently_do_nothing(local_up: LocalUp) -> None:
    env = local_up.env
    # defect: `freeze prod/nosuch` reported a nonexistent service frozen
    frozen = cli("--local", "freeze", "prod/nosuch", env=env)
    assert (frozen.returncode, frozen.stderr.splitlines()[0]) == (
        1,
        "autopilot: error: service prod/nosuch not found in us-west-2 (write it CLUSTER/SERVICE)",
    )
    # defect: `quarantine clear` cleared everything without asking
    assert cli("--local", "quarantine", "clear", "prod/web", env=env).returncode == 2
    # `rollback` of a service not there is an error too
    assert cli("--local", "rollback", "prod/nosuch", env=env).returncode == 1


def test_every_command_answers_in_json_for_scripts(local_up: LocalUp) -> None:
    import json

    env = local_up.env
    samples = [str(ROOT / "events" / name) for name in ("ecr-push-latest.json", "ecs-deployment-failed.json")]
    commands = {
        "route": ["route", samples[0]],
        "status": ["status"],
        "history": ["history", "prod/web"],
        "doctor": ["doctor"],
        "notify": ["notify", "test", "slack"],
        "inventory": ["inventory"],
    }
    for name, args in commands.items():
        result = cli("--local", "--json", *args, env=env)
        assert result.returncode == 0, (name, result.stderr)
        json.loads(result.stdout)  # one JSON document, nothing else on stdout
    replayed = cli("--local", "--json", "replay", *samples, env=env)
    assert replayed.returncode == 0, replayed.stderr
    lines = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [line["event"] for line in lines] == samples
    assert lines[0]["functions"] == ["DeployFunction"] and "DeployFunction" in lines[0]["results"]
