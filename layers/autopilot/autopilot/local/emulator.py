"""The local AWS emulator: moto in server mode on 127.0.0.1, with the stack's own resources."""

from __future__ import annotations

import json
import logging
import os
import socket
import urllib.request
import warnings
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import boto3

from autopilot.aws import clients
from autopilot.local.project import Project

if TYPE_CHECKING:
    from autopilot.local.ecs.engine import Engine

LOCAL_REGION = "us-west-2"
LOCAL_ACCOUNT = "123456789012"
LOCAL_TABLE = "ecs-autopilot-ledger"
LOCAL_CONFIG_PARAMETER = "/ecs-autopilot/config"
LOCAL_STACK = "ecs-autopilot"  # as `sam deploy` names it by default: the CLI's --stack default


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:PORT can be listened on (moto's server would otherwise hang on a taken port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def use_endpoint(endpoint_url: str, region: str = LOCAL_REGION) -> None:
    """Point boto3 (and so every handler) at an endpoint, with throwaway credentials."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_REGION"] = os.environ.get("AWS_REGION", region)
    os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"]
    boto3.setup_default_session()
    clients.clear_caches()


class Emulator:
    """moto's ThreadedMotoServer on 127.0.0.1 and a free port (or the one given)."""

    def __init__(self, port: int | None = None) -> None:
        from moto.server import ThreadedMotoServer

        self.port = port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        # moto keeps its state per process: a new emulator starts empty even if another ran before it
        reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310 - ours
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - http://127.0.0.1 only
        use_endpoint(self.endpoint_url)
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class StackResources:
    table: str
    config_parameter: str
    queues: dict[str, str]
    environment: dict[str, str]  # the functions' environment, as set in this process
    engine: Engine  # the emulated ECS scheduler (autopilot.local.ecs)


def create_stack_resources(project: Project, *, config_document: str = "{}") -> StackResources:
    """Create what template.yaml creates that the handlers use: the ledger (its key schema and TTL read from
    the template), the queues, and the configuration document; and set the functions' environment."""
    from autopilot.local import lifecycle, strict
    from autopilot.local.ecs import api as ecs_api
    from autopilot.local.ecs.engine import Engine  # the CLI's --local commands need only use_endpoint

    strict.install()
    ecs_api.install()
    engine = Engine(project.root / "events")
    ecs_api.use(engine)
    lifecycle.install()
    lifecycle.attach(engine)
    ledger = project.resource("Ledger")["Properties"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=LOCAL_TABLE,
        KeySchema=ledger["KeySchema"],
        AttributeDefinitions=ledger["AttributeDefinitions"],
        BillingMode=ledger["BillingMode"],
    )
    ttl = ledger.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=LOCAL_TABLE, TimeToLiveSpecification=ttl)
    queues = _create_queues(project)
    boto3.client("ssm").put_parameter(Name=LOCAL_CONFIG_PARAMETER, Value=config_document, Type="String", Overwrite=True)
    environment = apply_function_environment(
        project, table=LOCAL_TABLE, config_parameter=LOCAL_CONFIG_PARAMETER, queues=queues
    )
    _register_stack(queues)
    from autopilot.local import iam

    iam.enforce(project)  # from here on, each function's calls are checked against its role in template.yaml
    return StackResources(
        table=LOCAL_TABLE,
        config_parameter=LOCAL_CONFIG_PARAMETER,
        queues=queues,
        environment=environment,
        engine=engine,
    )


def _register_stack(queues: dict[str, str]) -> None:
    """A CloudFormation stack named like the deployed one, with the outputs the CLI reads (`--stack`), so the
    CLI finds the local resources the way it finds an account's."""
    outputs = {
        "LedgerTableName": LOCAL_TABLE,
        "ConfigurationParameterName": LOCAL_CONFIG_PARAMETER,
        **{f"{name}Url": url for name, url in queues.items()},
    }
    template = {
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    with warnings.catch_warnings():  # moto parses but does not model the no-op marker resource
        warnings.simplefilter("ignore")
        boto3.client("cloudformation").create_stack(StackName=LOCAL_STACK, TemplateBody=json.dumps(template))


def _create_queues(project: Project) -> dict[str, str]:
    """The template's queues (FIFO ones as FIFO, dead-letter queues first so redrive policies can name them)."""
    sqs = boto3.client("sqs")
    specs = project.resources_of_type("AWS::SQS::Queue")
    ordered = sorted(specs, key=lambda name: "RedrivePolicy" in specs[name].get("Properties", {}))
    urls: dict[str, str] = {}
    arns: dict[str, str] = {}
    for name in ordered:
        properties = specs[name].get("Properties", {})
        attributes: dict[str, str] = {}
        queue_name = f"ecs-autopilot-{name}"
        if properties.get("FifoQueue"):
            queue_name += ".fifo"
            attributes["FifoQueue"] = "true"
        redrive = properties.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[target], "maxReceiveCount": redrive["maxReceiveCount"]}
            )
        urls[name] = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        arns[name] = sqs.get_queue_attributes(QueueUrl=urls[name], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    return urls


def apply_function_environment(
    project: Project, *, table: str, config_parameter: str, queues: dict[str, str] | None = None
) -> dict[str, str]:
    """The functions' environment from template.yaml (Globals, then each function's own but its service name),
    with references resolved to the local resources: here the handlers run in one process."""
    variables: dict[str, Any] = dict(
        project.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for function in project.resources_of_type("AWS::Serverless::Function").values():
        own = function.get("Properties", {}).get("Environment", {}).get("Variables", {})
        variables.update({key: value for key, value in own.items() if key != "POWERTOOLS_SERVICE_NAME"})
    defaults = {name: str(spec.get("Default", "")) for name, spec in project.template.get("Parameters", {}).items()}
    resolved = {
        **defaults,
        **(queues or {}),
        "Ledger": table,
        "ConfigParameterName": config_parameter,
        "LogLevel": "ERROR",
    }
    for key, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            os.environ[key] = resolved.get(value["Ref"], "")
        elif isinstance(value, dict):
            continue  # a conditional extra (Fn::If on an opt-in parameter): off with the parameters' defaults
        else:
            os.environ.setdefault(key, str(value))
    os.environ.setdefault("AUTOPILOT_LOCAL_ENDPOINTS", "true")  # routes may reach the local chat sink
    applied = {key: os.environ[key] for key in [*variables, "AUTOPILOT_LOCAL_ENDPOINTS"] if key in os.environ}
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from autopilot.observability import logger
    from autopilot.settings import get_settings

    logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR"))
    get_settings.cache_clear()
    return applied
