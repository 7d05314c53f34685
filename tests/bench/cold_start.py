"""`make bench`: each function's cold start against a bare Powertools-Logger handler, and the layer's size.

Prints, per function, `cold_start function=<name> cpu_s=<median> bare_cpu_s=<median> ratio=<median ratio>`:
CPU seconds (user + system, from the child's rusage) of a fresh interpreter importing the function's
`app.py`, against a fresh interpreter importing a handler that only creates a Powertools Logger, run
alternately (RUNS pairs; the ratio is the median of each pair's ratio). Both interpreters see only the
layer (built by layers/autopilot/Makefile for this machine's platform, as `sam build` builds it for arm64)
and the function's own folder: `python -S`, no site-packages, no dev venv, an environment like Lambda's.

First `cold_start_floor`: the same measure for a handler that imports only Logger, Metrics and pydantic and
defines one model, the least any handler validating its events with pydantic at import can cost.

Then, per function, `cold_invoke function=<name> cpu_s=<median> peak_rss_mb=<max>`: the same layer-only
interpreter imports the handler and handles one sample event against the local AWS (moto's server, the
stack's table, queues and configuration document) over HTTP: the whole cold start, the SDKs each function
loads on first use included, and the peak memory its MemorySize in template.yaml is set from. NotifyFunction
also loads httpx and slack_sdk, which its routes use (the sample message has no route to deliver to).

Then `layer_size_mb=<size>`: the unzipped size of the layer `sam build` built (.aws-sam/build/AutopilotLayer),
the one that is deployed.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "autopilot"
BENCH_DIR = ROOT / ".bench"
RUNS = 9

BARE_HANDLER = """\
from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event, context):
    return {}
"""


# The least a handler that validates its events with pydantic at import can cost: Logger, Metrics, pydantic
# and one model. Printed as `cold_start_floor`, so the per-function ratios can be read against it.
FLOOR_HANDLER = """\
from aws_lambda_powertools import Logger, Metrics
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

logger = Logger()
metrics = Metrics()


class Event(BaseModel):
    id: str


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event, context):
    return Event.model_validate(event).model_dump()
"""


def build_layer() -> Path:
    """The layer for this machine: dependencies installed once per requirements.txt, the package every run."""
    requirements = (LAYER_SOURCE / "requirements.txt").read_bytes()
    layer = BENCH_DIR / f"layer-{hashlib.sha256(requirements).hexdigest()[:12]}"
    make = ["make", "--no-print-directory", "-s", "-C", str(LAYER_SOURCE), f"ARTIFACTS_DIR={layer}", "LAYER_PLATFORM="]
    if not (layer / ".dependencies-installed").exists():
        subprocess.run([*make, f"PYTHON={sys.executable}", "layer-dependencies"], check=True)
        (layer / ".dependencies-installed").touch()
    subprocess.run(["rm", "-rf", str(layer / "python" / "autopilot")], check=True)
    subprocess.run([*make, "layer-package"], check=True)
    return layer / "python"


def lambda_environment(service: str) -> dict[str, str]:
    """What Lambda sets for our functions (template.yaml's Globals), and nothing from this shell."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"ecs-autopilot-{service}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "EcsAutopilot",
        "LEDGER_TABLE_NAME": "ecs-autopilot-ledger",
        "AWS_RETRY_MODE": "standard",
        "PYTHONDONTWRITEBYTECODE": "",
    }


def cpu_seconds(layer: Path, code: Path, service: str) -> tuple[float, int]:
    """CPU seconds and peak RSS (KiB) of a fresh interpreter importing `app` from `code` with the layer."""
    environment = lambda_environment(service) | {"PYTHONPATH": f"{code}{os.pathsep}{layer}"}
    process = subprocess.Popen([sys.executable, "-S", "-c", "import app"], env=environment, cwd=code)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"importing {code / 'app.py'} failed")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


INVOKE = """
import json, sys, time
import app

class Context:
    function_name = "ecs-autopilot-{name}"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ecs-autopilot-{name}"
    aws_request_id = "c0ld-1nv0ke"

    def get_remaining_time_in_millis(self):
        return 120_000

app.lambda_handler(json.loads(sys.stdin.read()), Context())
for module in {extra!r}:
    __import__(module)
# this process's own high-water mark (ru_maxrss would count the forked parent's pages before exec)
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"peak_kib": peak_kib}}))
"""


def sample_events(root: Path) -> dict[str, dict[str, object]]:
    """One event each function is for, as AWS sends it (events/), or as Lambda hands over an SQS batch."""
    from autopilot.local.pump import sqs_event
    from autopilot.local.sample_events import load_event
    from autopilot.messages import Message, Severity, to_json

    events = {
        name: load_event(root / "events" / file)
        for name, file in {
            "deploy": "ecr-push-semver.json",
            "inventory": "scheduled-event.json",
            "rollback": "ecs-deployment-failed.json",
            "spot_drain": "ec2-spot-interruption-warning.json",
            "task_watch": "ecs-task-stopped-oom.json",
        }.items()
    }
    message = Message(kind="deploy.succeeded", severity=Severity.SUCCESS, title="web 1.8.0 deployed")
    body = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": to_json(message),
        "Attributes": {"MessageGroupId": "web"},
    }
    events["notify"] = sqs_event([body], "arn:aws:sqs:us-east-1:123456789012:ecs-autopilot-notify.fifo", "us-east-1")
    return events


def slash_command(text: str) -> dict[str, object]:
    """`/autopilot TEXT` as Slack sends it to the Function URL, signed with the local app's signing secret (the
    time Slack waits for: verify, authorise, answer)."""
    import boto3

    from autopilot.local.demo import configure_local_chatops
    from autopilot.local.function_url import LOCAL_CHANNEL, LOCAL_USER, function_url_event, signed_headers, slack_body

    name = configure_local_chatops()
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    body = slack_body(text, user=LOCAL_USER, channel=LOCAL_CHANNEL, button=False)
    headers = {key.lower(): value for key, value in signed_headers(body, secret["signing_secret"]).items()}
    return function_url_event("POST", "/", headers, body, "3.90.0.1")


def cold_invokes(layer: Path) -> None:
    from autopilot.local.emulator import LOCAL_REGION, Emulator, create_stack_resources
    from autopilot.local.project import Project

    project = Project(ROOT / "template.yaml")
    with Emulator() as emulator:
        from autopilot.local.demo import LOCAL_CHATOPS

        resources = create_stack_resources(project, config_document=json.dumps({"chatops": LOCAL_CHATOPS}))
        events = sample_events(ROOT)
        for code in functions():
            runs = []
            for _ in range(5):
                environment = (
                    lambda_environment(code.name)
                    | resources.environment
                    | {
                        "PYTHONPATH": f"{code}{os.pathsep}{layer}",
                        "AWS_ENDPOINT_URL": emulator.endpoint_url,
                        "AWS_REGION": LOCAL_REGION,
                        "AWS_DEFAULT_REGION": LOCAL_REGION,
                        "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing",
                        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
                    }
                )
                extra = ("httpx", "slack_sdk") if code.name == "notify" else ()
                script = INVOKE.format(name=code.name, extra=extra)
                process = subprocess.Popen(
                    [sys.executable, "-S", "-c", script],
                    env=environment,
                    cwd=code,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                assert process.stdin is not None and process.stdout is not None
                # a request Slack signed now each time (the same one again would be refused as a replay)
                event = slash_command("status") if code.name == "chatops" else events[code.name]
                process.stdin.write(json.dumps(event).encode())
                process.stdin.close()
                output = process.stdout.read()  # then reap it ourselves, for its rusage
                _, status, usage = os.wait4(process.pid, 0)
                if os.waitstatus_to_exitcode(status) != 0:
                    raise SystemExit(f"{code.name}: the cold invocation failed (run it with stderr to see why)")
                peak_kib = json.loads(output.decode().strip().splitlines()[-1])["peak_kib"]
                runs.append((usage.ru_utime + usage.ru_stime, peak_kib / 1024))
            cpu = statistics.median(cpu for cpu, _ in runs)
            peak = max(rss for _, rss in runs)
            print(f"cold_invoke function={code.name} cpu_s={cpu:.3f} peak_rss_mb={peak:.0f}")


def functions() -> list[Path]:
    return sorted(path.parent for path in (ROOT / "functions").glob("*/app.py"))


def against_bare(layer: Path, code: Path, bare: Path) -> tuple[float, float, float]:
    """Medians of RUNS alternating pairs: the handler's CPU, the bare handler's, and the pairs' ratio."""
    cpu_seconds(layer, code, code.name)
    pairs = [(cpu_seconds(layer, code, code.name)[0], cpu_seconds(layer, bare, "bare")[0]) for _ in range(RUNS)]
    return (
        statistics.median(handler for handler, _ in pairs),
        statistics.median(bare for _, bare in pairs),
        statistics.median(handler / bare for handler, bare in pairs),
    )


def main() -> None:
    layer = build_layer()
    with tempfile.TemporaryDirectory() as folder:
        bare, floor = Path(folder) / "bare", Path(folder) / "floor"
        for path, text in ((bare, BARE_HANDLER), (floor, FLOOR_HANDLER)):
            path.mkdir()
            (path / "app.py").write_text(text)
        for _ in range(2):  # the page cache warm for both before measuring
            cpu_seconds(layer, bare, "bare")
        cpu, bare_cpu, ratio = against_bare(layer, floor, bare)
        floor_line = f"handler=logger+metrics+pydantic cpu_s={cpu:.3f} bare_cpu_s={bare_cpu:.3f} ratio={ratio:.2f}"
        print(f"cold_start_floor {floor_line}")
        for code in functions():
            cpu, bare_cpu, ratio = against_bare(layer, code, bare)
            print(f"cold_start function={code.name} cpu_s={cpu:.3f} bare_cpu_s={bare_cpu:.3f} ratio={ratio:.2f}")
    cold_invokes(layer)
    built = ROOT / ".aws-sam" / "build" / "AutopilotLayer"
    if built.is_dir():
        size = sum(path.stat().st_size for path in built.rglob("*") if path.is_file())
        print(f"layer_size_mb={size / 1_000_000:.1f}")
    else:
        print("layer_size_mb=unknown (run `sam build` first: make build)")


if __name__ == "__main__":
    main()
