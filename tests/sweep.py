"""The fault sweep: each action run once clean, then once per AWS call position with one transient failure at
that call, the platform retrying as it would. Used by tests/integration/test_fault_sweep.py and `make bench`.

A run converges when the final AWS state, the ledger and the queued messages equal the clean run's, and each of
the action's side effects (UpdateService, CompleteLifecycleAction, …) reached AWS exactly as often.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.moto_api import state_manager

from autopilot.aws import clients
from autopilot.local.ecs.behaviour import parse_behaviour
from autopilot.local.emulator import LOCAL_ACCOUNT, LOCAL_REGION, create_stack_resources
from autopilot.local.project import Project
from autopilot.local.sample_events import EventFactory
from autopilot.settings import get_settings
from tests.faults import (
    Faults,
    drain_queue,
    ledger_items,
    ledger_state,
    normalized,
    queued_messages,
    simulated_time,
    until_done,
)
from tests.integration.world import World, alarm_event

ROOT = Path(__file__).resolve().parent.parent
CONFIG = '{"policies": {"stable": "semver:^1.2"}}'


@dataclass
class Run:
    state: dict[str, Any]
    done: Counter[str]
    calls: int
    deliveries: int


@dataclass
class Sweep:
    action: str
    positions: int
    converged: int
    failures: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"fault_sweep action={self.action} positions={self.positions} converged={self.converged}"


@dataclass
class Scenario:
    name: str
    setup: Callable[[World], dict[str, Any]]
    act: Callable[[World, dict[str, Any]], int]  # returns the number of deliveries it took
    observe: Callable[[World, dict[str, Any]], dict[str, Any]]
    effects: tuple[str, ...]
    mode: str = "act"  # the stack's Mode parameter (observe: decide, record and tell; change nothing)
    environment: dict[str, str] = field(default_factory=dict)  # more of the functions' environment


def run(scenario: Scenario, project: Project, *, fail_at: int | None = None, rate: float = 0.0, seed: int = 0) -> Run:
    with mock_aws():
        # moto moves a task one status on at each DescribeTasks until it stops: runs with more calls would see
        # tasks stop sooner. Here tasks keep their status; the scenario stops them when it means to.
        state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**6})
        boto3.setup_default_session()
        clients.clear_caches()
        create_stack_resources(project, config_document=CONFIG)
        os.environ["AUTOPILOT_MODE"] = scenario.mode
        os.environ.update(scenario.environment)
        get_settings.cache_clear()
        try:
            world = World(project, EventFactory(ROOT / "events", account=LOCAL_ACCOUNT, region=LOCAL_REGION))
            context = scenario.setup(world)
            faults = Faults(fail_at=fail_at, rate=rate, seed=seed).install()
            with faults.active(), simulated_time():
                deliveries = scenario.act(world, context)
            state = scenario.observe(world, context)
        finally:
            for key in scenario.environment:
                os.environ.pop(key, None)
            get_settings.cache_clear()
        clients.clear_caches()
        state_manager.unset_transition(model_name="ecs::task")
        return Run(state=state, done=faults.done(), calls=len(faults.calls), deliveries=deliveries)


def differences(clean: Run, other: Run, effects: tuple[str, ...]) -> list[str]:
    found = [f"{key} differs" for key in clean.state if clean.state[key] != other.state.get(key)]
    found += [
        f"{effect} x{other.done[effect]} (clean x{clean.done[effect]})"
        for effect in effects
        if other.done[effect] != clean.done[effect]
    ]
    return found


def sweep(scenario: Scenario, project: Project) -> Sweep:
    clean = run(scenario, project)
    result = Sweep(scenario.name, clean.calls, 0)
    for position in range(clean.calls):
        faulted = run(scenario, project, fail_at=position)
        problems = differences(clean, faulted, scenario.effects)
        if problems:
            result.failures.append(f"call {position}: {', '.join(problems)}")
        else:
            result.converged += 1
    return result


# -- rollback: a FAILED deployment, and an alarm in the bake window ---------------------------------------
def _rollback_world(world: World) -> dict[str, Any]:
    """prod/web's first deployment completes on the emulated ECS; a bad build is pushed and its tasks crash
    until the circuit breaker fails the deployment. The FAILED event is held for the act to deliver."""
    world.cluster("prod")
    world.service(
        "prod",
        "web",
        world.web_task_definition("web", "shop", tag="latest"),
        {"autopilot:deploy": "tag:latest"},
        launchType="FARGATE",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )
    world.inventory()
    world.ecs_until("SERVICE_DEPLOYMENT_COMPLETED")
    digest = world.push("shop", "latest", label="bad build")["digest"]
    world.bus.engine.set_behaviour(digest, parse_behaviour("exits:1@20s"))
    held = world.ecs_until("SERVICE_DEPLOYMENT_FAILED", deliver=False)
    failed = next(e for e in held if e["detail"].get("eventName") == "SERVICE_DEPLOYMENT_FAILED")
    for event in held:
        if event is not failed:
            world.bus.put(event)
    deployments = world.ecs.describe_services(cluster="prod", services=["web"])["services"][0]["deployments"]
    bad = next(d for d in deployments if d["id"] == failed["detail"]["deploymentId"])
    return {"deployment": bad["id"], "started": bad["createdAt"], "failed": failed}


def _deliver_rollback(world: World, event: dict[str, Any]) -> int:
    return until_done(lambda: world.project.invoke("RollbackFunction", event))[1]


def _failed(world: World, context: dict[str, Any]) -> dict[str, Any]:
    failed: dict[str, Any] = context["failed"]
    return failed


def _alarm(world: World, context: dict[str, Any]) -> dict[str, Any]:
    return alarm_event(context["started"] + timedelta(minutes=5))


def _service_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_definition": world.running("prod", "web")["taskDefinitionArn"].rsplit("/", 1)[-1],
        "ledger": ledger_state(),
        "messages": queued_messages(os.environ["NOTIFY_QUEUE_URL"]),
    }


ROLLBACK_ON_FAILED = Scenario(
    name="rollback_failed_deployment",
    setup=_rollback_world,
    act=lambda world, context: _deliver_rollback(world, _failed(world, context)),
    observe=_service_state,
    effects=("ecs.UpdateService",),
)
ROLLBACK_ON_ALARM = Scenario(
    name="rollback_alarm",
    setup=_rollback_world,
    act=lambda world, context: _deliver_rollback(world, _alarm(world, context)),
    observe=_service_state,
    effects=("ecs.UpdateService",),
)

SCENARIOS = [ROLLBACK_ON_FAILED, ROLLBACK_ON_ALARM]


# -- deploy on push: three services of one repository, one push -----------------------------------------
DEPLOY_SERVICES = ("api", "web", "worker")


def _deploy_world(world: World) -> dict[str, Any]:
    world.cluster("prod")
    for name in DEPLOY_SERVICES:
        world.service(
            "prod", name, world.web_task_definition(name, "shop", tag="1.0.0"), {"autopilot:deploy": "semver:1.x"}
        )
    world.inventory()
    digest = world.push_image("shop", "1.2.0")
    return {"event": world.events.ecr_push("shop", digest, "1.2.0")}


def _deploy_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "services": {name: world.image_of("prod", name) for name in DEPLOY_SERVICES},
        "task_definitions": {
            name: world.running("prod", name)["taskDefinitionArn"].rsplit("/", 1)[-1] for name in DEPLOY_SERVICES
        },
        "ledger": ledger_state(),
        "messages": queued_messages(os.environ["NOTIFY_QUEUE_URL"]),
    }


def _deliver_push(world: World, context: dict[str, Any]) -> int:
    return until_done(lambda: world.deliver(context["event"]))[1]


DEPLOY_ON_PUSH = Scenario(
    name="deploy_push",
    setup=_deploy_world,
    act=_deliver_push,
    observe=_deploy_state,
    effects=("ecs.UpdateService", "ecs.RegisterTaskDefinition"),
)

DEPLOY_OBSERVED = Scenario(
    name="deploy_push_observe_mode",
    setup=_deploy_world,
    act=_deliver_push,
    observe=_deploy_state,
    effects=("ecs.UpdateService", "ecs.RegisterTaskDefinition"),
    mode="observe",
)

SCENARIOS += [DEPLOY_ON_PUSH, DEPLOY_OBSERVED]


# -- Spot drain: a terminate lifecycle hook, a Spot warning, a Fargate Spot interruption ------------------
def _capacity_world(world: World) -> dict[str, Any]:
    from tests.integration.test_spot_drain import Capacity, sent

    capacity = Capacity(world.project)
    hook = capacity.terminate(capacity.instance_id)
    from autopilot.local import lifecycle

    lifecycle.inject_spot_warning(capacity.instance_id)
    [warning] = sent("EC2 Spot Instance Interruption Warning")
    return {"capacity": capacity, "hook": hook, "warning": warning}


def _lifecycle_act(world: World, context: dict[str, Any]) -> int:
    invoke = lambda event: world.project.invoke("SpotDrainFunction", event)  # noqa: E731
    deliveries = until_done(lambda: invoke(context["hook"]))[1]
    capacity = context["capacity"]
    engine = world.bus.engine
    for _ in range(24):  # ECS moves the service task to the spare instance within two minutes
        if capacity.service_task not in capacity.tasks_on(capacity.container_instance):
            break
        engine.advance(5)
    engine.take_events()
    return deliveries + drain_queue(invoke, os.environ["DRAIN_WAIT_QUEUE_URL"])


def _capacity_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    from autopilot.local import lifecycle

    return {
        "instance": context["capacity"].status(),
        "hook": normalized(list(lifecycle.calls)),
        "pending": normalized(sorted(lifecycle.pending)),
        "ledger": ledger_state(),
        "messages": queued_messages(os.environ["NOTIFY_QUEUE_URL"]),
    }


LIFECYCLE_DRAIN = Scenario(
    name="lifecycle_drain",
    setup=_capacity_world,
    act=_lifecycle_act,
    observe=_capacity_state,
    effects=("autoscaling.CompleteLifecycleAction", "ecs.UpdateContainerInstancesState"),
)
SPOT_WARNING_DRAIN = Scenario(
    name="spot_warning_drain",
    setup=_capacity_world,
    act=lambda world, context: until_done(lambda: world.project.invoke("SpotDrainFunction", context["warning"]))[1],
    observe=_capacity_state,
    effects=("ecs.UpdateContainerInstancesState",),
)
SCENARIOS += [LIFECYCLE_DRAIN, SPOT_WARNING_DRAIN]


# -- Fargate Spot: the interrupted task leaves both of its service's target groups -------------------------
def _fargate_world(world: World) -> dict[str, Any]:
    from tests.integration.test_spot_drain import fargate_service, interrupted

    groups = fargate_service()
    return {"groups": groups, "event": interrupted()}


def _fargate_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    elbv2 = boto3.client("elbv2")
    targets = {
        name: sorted(
            (item["Target"]["Id"], item["TargetHealth"]["State"])
            for item in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        )
        for name, arn in context["groups"].items()
    }
    return {"targets": targets, "messages": queued_messages(os.environ["NOTIFY_QUEUE_URL"])}


FARGATE_SPOT = Scenario(
    name="fargate_spot_deregister",
    setup=_fargate_world,
    act=lambda world, context: until_done(lambda: world.project.invoke("SpotDrainFunction", context["event"]))[1],
    observe=_fargate_state,
    effects=("elasticloadbalancing.DeregisterTargets",),
)
SCENARIOS.append(FARGATE_SPOT)


# -- notification delivery: two threads, a signed webhook and a Slack bot's living message ------------------
def _notify_world(world: World) -> dict[str, Any]:
    import json

    from autopilot.aws.notify_queue import NotificationQueue
    from autopilot.local.chat_sink import ChatSink
    from autopilot.messages import Message, Severity

    sink = ChatSink().start()
    secrets = {
        # under the template's NotificationSecretsPrefix: NotifyFunction's role may read only these
        "ecs-autopilot/hook": {"url": sink.url("/webhook"), "signing_secret": "0123456789abcdef0123"},
        "ecs-autopilot/bot": {"token": "xoxb-1111111111-2222222222-notarealtoken"},
    }
    for name, value in secrets.items():
        boto3.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))
    routes = {
        "ops": {"type": "webhook", "secret": "ecs-autopilot/hook"},
        "chat": {
            "type": "slack_bot",
            "secret": "ecs-autopilot/bot",
            "channel": "C0DEPLOYS",
            "api_url": sink.url("/api/"),
        },
    }
    document = {"policies": {"stable": "semver:^1.2"}, "routes": routes, "defaults": {"routes": list(routes)}}
    boto3.client("ssm").put_parameter(
        Name="/ecs-autopilot/config", Value=json.dumps(document), Type="String", Overwrite=True
    )
    messages = [
        Message(kind=kind, severity=Severity.INFO, service=f"prod/{service}", title=title, thread_key=f"{service}#d")
        for kind, service, title in (
            ("deploy.started", "web", "prod/web: deploying 1.2.0"),
            ("deploy.started", "api", "prod/api: deploying 1.2.0"),
            ("deploy.completed", "web", "prod/web: 1.2.0 is live"),
        )
    ]
    NotificationQueue(boto3.client("sqs"), os.environ["NOTIFY_QUEUE_URL"]).send(messages)
    clients.clear_caches()
    return {"sink": sink}


def _notify_act(world: World, context: dict[str, Any]) -> int:
    return drain_queue(lambda event: world.project.invoke("NotifyFunction", event), os.environ["NOTIFY_QUEUE_URL"])


def _notify_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    from autopilot.local.chat_sink import render_for_people

    sink = context["sink"]
    sink.stop()
    received: dict[str, list[str]] = {}  # in order within each thread and route; those are independent
    for item in sink.received:
        line = render_for_people(item.path, item)
        thread = line.split("prod/", 1)[1].split(":", 1)[0]
        received.setdefault(f"{thread} {item.path.split('/')[1]}", []).append(normalized(line))
    return {
        "received": received,
        "ledger": ledger_state(),
        "dead_letters": queued_messages(os.environ["NOTIFY_DLQ_URL"]),
    }


NOTIFY_DELIVERY = Scenario(
    name="notify_delivery",
    setup=_notify_world,
    act=_notify_act,
    observe=_notify_state,
    effects=(),
)
SCENARIOS.append(NOTIFY_DELIVERY)


# -- rollback while a blue/green deployment is in flight: ECS's own rollback (StopServiceDeployment) ---------
def _in_flight_world(world: World) -> dict[str, Any]:
    """prod/web deploys blue/green with a bake time; its first deployment completes, a second is in flight."""
    world.cluster("prod")
    world.service(
        "prod",
        "web",
        world.web_task_definition("web", "shop", tag="latest"),
        {"autopilot:deploy": "tag:latest"},
        launchType="FARGATE",
        deploymentConfiguration={
            "deploymentCircuitBreaker": {"enable": True, "rollback": False},
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 10,
        },
    )
    world.inventory()
    world.ecs_until("SERVICE_DEPLOYMENT_COMPLETED")
    world.push("shop", "latest", label="next build")
    from autopilot.ledger import Ledger
    from autopilot.refs import ServiceRef

    ours = Ledger(boto3.client("dynamodb"), get_settings().ledger_table).deployments.ours(ServiceRef("prod", "web"))
    started = max(datetime.fromisoformat(str(ours[0].started_at)), world.bus.engine.now)
    return {"started": started}


ROLLBACK_IN_FLIGHT = Scenario(
    name="rollback_alarm_in_flight",
    setup=_in_flight_world,
    act=lambda world, context: _deliver_rollback(world, alarm_event(context["started"] + timedelta(minutes=1))),
    observe=_service_state,
    effects=("ecs.StopServiceDeployment", "ecs.UpdateService"),
)
SCENARIOS.append(ROLLBACK_IN_FLIGHT)


# -- chat: an approve pressed in Slack, a pause hook continued from chat -----------------------------------
def _pressed(slack: Any, value: str) -> int:
    """Slack does not retry a button press: a person whose click failed clicks again (a new, signed request);
    then Lambda's SQS event source carries out the queued work until the queue is empty."""

    def click() -> None:
        status, answer = slack.press(value)
        if status != 200:
            raise RuntimeError(f"{status}: {answer}")

    clicks = until_done(click)[1]
    invoke = lambda event: slack.project.invoke("ChatOpsFunction", event)  # noqa: E731
    return clicks + drain_queue(invoke, os.environ["CHATOPS_QUEUE_URL"])


def _chat_ledger(*generated: str) -> list[Any]:
    """The ledger without the replay cache (a click that failed after it was written leaves its request there:
    a new click is a new request), with what each run makes afresh left out: the request ids (digests of
    signatures), `generated` values (the approval id: a digest of the push event's id), epoch times."""
    import json

    kept = []
    for item in ledger_items():
        if str(item["PK"]).startswith("SLACKREQ#"):
            continue
        if "request" in item:
            item = {**item, "SK": str(item["SK"]).replace(str(item["request"]), "<request>"), "request": "-"}  # noqa: PLW2901
        item = {k: v for k, v in item.items() if k not in ("key", "decided_at", "expires_at", "requested_at")}  # noqa: PLW2901
        text = json.dumps(normalized(item), default=str, sort_keys=True)
        for value in generated:
            text = text.replace(value, "<generated>")
        kept.append(json.loads(text))
    return sorted(kept, key=lambda item: (item["PK"], item["SK"]))


def _approval_world(world: World) -> dict[str, Any]:
    from tests.integration.test_chatops_function import Slack

    world.cluster("prod")
    world.service(
        "prod",
        "web",
        world.web_task_definition("web", "shop", tag="latest"),
        {"autopilot:deploy": "tag:latest", "autopilot:approval": "required"},
    )
    world.inventory()
    slack = Slack(world.project)
    world.push("shop", "latest")
    from autopilot.ledger import Ledger
    from autopilot.refs import ServiceRef

    [pending] = Ledger(boto3.client("dynamodb"), get_settings().ledger_table).approvals.pending(
        ServiceRef("prod", "web")
    )
    clients.clear_caches()
    return {"slack": slack, "value": f"approve prod/web {pending.approval_id}", "generated": [pending.approval_id]}


def _chat_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_definition": world.running("prod", "web")["taskDefinitionArn"].rsplit("/", 1)[-1],
        "ledger": _chat_ledger(*context["generated"]),
        "messages": queued_messages(os.environ["NOTIFY_QUEUE_URL"]),
    }


APPROVE_HELD_PUSH = Scenario(
    name="approve_held_push",
    setup=_approval_world,
    act=lambda world, context: _pressed(context["slack"], context["value"]),
    observe=_chat_state,
    effects=("ecs.UpdateService", "ecs.RegisterTaskDefinition"),
)


def _paused_world(world: World) -> dict[str, Any]:
    from tests.integration.test_chatops_function import PAUSED_BLUE_GREEN, Slack

    world.cluster("prod")
    world.service(
        "prod",
        "web",
        world.web_task_definition("web", "shop", tag="latest"),
        {"autopilot:deploy": "tag:latest"},
        launchType="FARGATE",
        deploymentConfiguration=PAUSED_BLUE_GREEN,
    )
    world.inventory()
    slack = Slack(world.project)
    [paused, *_] = [e for e in world.ecs_until("HOOK_AWAITING_ACTION") if _hook_waits(e)]
    detail = paused["detail"]
    clients.clear_caches()
    return {
        "slack": slack,
        "value": f"continue prod/web {detail['serviceDeploymentArn']} {detail['hookId']}",
        "arn": detail["serviceDeploymentArn"],
    }


def _hook_waits(event: dict[str, Any]) -> bool:
    return event.get("detail", {}).get("eventName") == "HOOK_AWAITING_ACTION"


def _hook_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    [deployment] = world.ecs.describe_service_deployments(serviceDeploymentArns=[context["arn"]])["serviceDeployments"]
    return {
        "hooks": [hook["status"] for hook in deployment.get("lifecycleHookDetails", [])],
        "ledger": _chat_ledger(),
        "messages": queued_messages(os.environ["NOTIFY_QUEUE_URL"]),
    }


CONTINUE_PAUSED_HOOK = Scenario(
    name="continue_paused_hook",
    setup=_paused_world,
    act=lambda world, context: _pressed(context["slack"], context["value"]),
    observe=_hook_state,
    effects=("ecs.ContinueServiceDeployment",),
)
SCENARIOS += [APPROVE_HELD_PUSH, CONTINUE_PAUSED_HOOK]


# -- a push to many services as work items; the reconciler ---------------------------------------------------
FANOUT_SERVICES = ("api", "web", "worker", "batch-a", "batch-b")  # batch-a and batch-b share one family


def _fanout_world(world: World) -> dict[str, Any]:
    world.cluster("prod")
    shared = world.web_task_definition("batch", "shop", tag="1.0.0")
    for name in FANOUT_SERVICES:
        task_definition = shared if name.startswith("batch") else world.web_task_definition(name, "shop", tag="1.0.0")
        world.service("prod", name, task_definition, {"autopilot:deploy": "semver:1.x"})
    world.inventory()
    digest = world.push_image("shop", "1.2.0")
    return {"event": world.events.ecr_push("shop", digest, "1.2.0")}


def _fanout_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    """As a push's, but of the push's living message only how it ends (its updates in between depend on which
    work items a failure sent back)."""
    messages = queued_messages(os.environ["NOTIFY_QUEUE_URL"])
    living = [message for message in messages if message[0] == "deploy.fanout"]
    return {
        "services": {name: world.image_of("prod", name) for name in FANOUT_SERVICES},
        "task_definitions": {
            name: world.running("prod", name)["taskDefinitionArn"].rsplit("/", 1)[-1] for name in FANOUT_SERVICES
        },
        "ledger": ledger_state(),
        "messages": [message for message in messages if message[0] != "deploy.fanout"],
        "push told as done": any(": done, 5/5 deployed" in title for _, title in living),
    }


def _fanout_act(world: World, context: dict[str, Any]) -> int:
    deliveries = until_done(lambda: world.deliver(context["event"]))[1]
    return deliveries + drain_queue(
        lambda event: world.project.invoke("DeployFunction", event), os.environ["FANOUT_QUEUE_URL"]
    )


DEPLOY_FANOUT = Scenario(
    name="deploy_push_work_items",
    setup=_fanout_world,
    act=_fanout_act,
    observe=_fanout_state,
    effects=("ecs.UpdateService", "ecs.RegisterTaskDefinition"),
    environment={"FANOUT_INLINE_LIMIT": "2"},  # 5 services: handed to 4 work items (4 families)
)


def _reconciled(world: World, *, later: timedelta = timedelta(minutes=11), runs: int = 20) -> int:
    """The schedule: DeployFunction's reconcile, retried as Lambda retries a failed invocation, and run again
    (the next schedule) while a run reports errors it leaves for the next one."""
    from tests.faults import SimulatedClock

    deliveries = 0
    with SimulatedClock(modules=("autopilot.reconcile",)) as clock:
        clock.advance(later)
        for _ in range(runs):
            report, attempts = until_done(lambda: world.project.invoke("DeployFunction", world.events.scheduled()))
            deliveries += attempts
            if not report["errors"]:
                return deliveries
    return deliveries


def _missed_world(world: World) -> dict[str, Any]:
    world.managed("prod", "web", "tag:latest")
    _reconciled(world, later=timedelta(0))  # the reconciler's first look: its baseline
    world.push_image("shop", "latest", "v2")  # its event never comes
    return {}


def _one_service_state(world: World, context: dict[str, Any]) -> dict[str, Any]:
    return {"image": world.image_of("prod", "web"), **_service_state(world, context)}


RECONCILE_MISSED_PUSH = Scenario(
    name="reconcile_missed_push",
    setup=_missed_world,
    act=lambda world, context: _reconciled(world),
    observe=_one_service_state,
    effects=("ecs.UpdateService", "ecs.RegisterTaskDefinition"),
)


def _drift_world(world: World) -> dict[str, Any]:
    world.managed("prod", "web", "tag:latest")
    arn = world.ecs.describe_services(cluster="prod", services=["web"])["services"][0]["serviceArn"]
    world.ecs.tag_resource(resourceArn=arn, tags=[{"key": "autopilot:drift", "value": "redeploy"}])
    original = world.running("prod", "web")["taskDefinitionArn"]
    _reconciled(world, later=timedelta(0))
    world.push("shop", "latest", "v2")
    world.inventory()
    _reconciled(world, later=timedelta(0))
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=original)  # out of band
    world.inventory()
    return {}


RECONCILE_DRIFT = Scenario(
    name="reconcile_drift_redeploy",
    setup=_drift_world,
    act=lambda world, context: _reconciled(world, later=timedelta(0)),
    observe=_one_service_state,
    effects=("ecs.UpdateService", "ecs.RegisterTaskDefinition"),
)

SCENARIOS += [DEPLOY_FANOUT, RECONCILE_MISSED_PUSH, RECONCILE_DRIFT]
