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


def test_the_running_emulator_deploys_and_takes_injected_events(local_up: LocalUp) -> None:
    """`local up` runs the emulated ECS on its clock: a service created against it deploys by itself, a bad
    image fails its deployment, a Spot warning is injected from another shell, and wrong input is one line."""
    env = local_up.env
    script = """
import boto3, json, sys
ecs, ec2 = boto3.client("ecs"), boto3.client("ec2")
ecs.create_cluster(clusterName="inject")
td = ecs.register_task_definition(family="bad", containerDefinitions=[
    {"name": "app", "image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/bad:1", "memory": 128}])
ecs.create_service(cluster="inject", serviceName="bad", desiredCount=1, launchType="FARGATE",
    taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
    deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
image = ec2.describe_images()["Images"][0]["ImageId"]
instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
document = json.dumps({"instanceId": instance, "region": "us-west-2"})
ecs.register_container_instance(cluster="inject", instanceIdentityDocument=document)
print(instance)
"""
    session = {**env, **dict(pair.split("=", 1) for pair in shlex.split(local_up.hint())[1:])}
    assert cli("local", "behaviour", "bad:1", "pull-error", env=env).returncode == 0
    made = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=session, check=False)
    assert made.returncode == 0, made.stderr
    instance = made.stdout.strip()
    advanced = cli("--json", "local", "advance", "300", env=env)
    assert advanced.returncode == 0, advanced.stderr
    described = subprocess.run(
        [
            sys.executable,
            "-c",
            "import boto3; s = boto3.client('ecs').describe_services(cluster='inject', "
            "services=['bad'])['services'][0]; print(s['deployments'][0]['rolloutState'])",
        ],
        capture_output=True,
        text=True,
        env=session,
        check=False,
    )
    assert described.stdout.strip() == "FAILED", described.stderr  # the circuit breaker, on the emulated clock
    injected = cli("local", "inject", "spot-warning", instance, env=env)
    assert injected.returncode == 0, injected.stderr
    assert "EC2 Spot Instance Interruption Warning" in injected.stdout
    local_up.read_until(f"{instance} gets a Spot")  # SpotDrainFunction told the channel
    assert not [line for line in local_up.lines if any(marker in line for marker in LOG_MARKERS)]
    unknown = cli("local", "inject", "spot-warning", "i-0000000000000000f", env=env)
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1 and "no EC2 instance i-0000000000000000f" in unknown.stderr
    wrong = cli("local", "behaviour", "bad:1", "crashes", env=env)
    assert wrong.returncode == 1 and "unknown image behaviour" in wrong.stderr


def test_chat_buttons_are_pressed_from_another_shell_with_local_click(local_up: LocalUp) -> None:
    """`local up` serves ChatOpsFunction's Function URL: `local click` sends what Slack would (signed), a read-only
    command is answered, a change is carried out and told in the channel, an unauthorised click is refused."""
    env = local_up.env
    status = cli("local", "click", "--command", "status prod/web", env=env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("200: prod/web:")
    frozen = cli("local", "click", "freeze prod/web", env=env)
    assert frozen.returncode == 0 and "on it" in frozen.stdout, frozen.stderr
    local_up.read_until("prod/web is frozen")  # carried out from the ChatOps queue, told in the channel
    refused = cli("local", "click", "--user", "U0SOMEONE", "unfreeze prod/web", env=env)
    assert refused.returncode == 3 and refused.stdout.startswith("403: user U0SOMEONE may not run unfreeze")
    history = cli("--local", "--json", "history", "prod/web", env=env)
    import json

    actions = [row for row in json.loads(history.stdout) if row["kind"] == "action"]
    assert [(row["detail"], row["actor"], row["status"]) for row in actions] == [
        ("freeze prod/web", "slack:U0LOCAL", "DONE")
    ]
