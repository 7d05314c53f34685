"""`make demo`: the deploy-on-push story on the local emulator, through template.yaml's rules and the real handlers."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autopilot.cli.render import short_image, short_task_definition
from autopilot.ledger import Ledger
from autopilot.local import capacity, lifecycle
from autopilot.local.bus import Delivery, LocalBus
from autopilot.local.chat_sink import ChatSink
from autopilot.local.ecs.behaviour import parse_behaviour
from autopilot.local.ecs.engine import Engine
from autopilot.local.emulator import LOCAL_ACCOUNT, Emulator, create_stack_resources
from autopilot.local.function_url import (
    LOCAL_CHANNEL,
    LOCAL_USER,
    function_url_event,
    signed_headers,
    slack_body,
)
from autopilot.local.project import Project
from autopilot.local.pump import pump, run_event_source
from autopilot.local.sample_events import EventFactory, image_manifest
from autopilot.observability import logger
from autopilot.refs import ServiceRef

CLUSTER = "demo"
REPOSITORY = "shop/web"
SIDECAR = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
SERVICES = {
    "web-staging": {"autopilot:deploy": "tag:latest"},
    "web-prod": {"autopilot:deploy": "semver:1.x", "autopilot:containers": "web"},
}
CONFIG_DOCUMENT: dict[str, Any] = {"policies": {"stable": "semver:^1.2"}, "routes": {}, "defaults": {}}


def configure_local_routes(sink: ChatSink) -> dict[str, Any]:
    """Two routes to the local chat sink: a Slack bot (one living message per deployment) and a signed
    webhook; their token and URL live in the emulator's Secrets Manager, as in an account."""
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="ecs-autopilot/slack-bot", SecretString=json.dumps({"token": "xoxb-local-demo"}))
    secrets.create_secret(
        Name="ecs-autopilot/ops-webhook",
        SecretString=json.dumps({"url": sink.url("/webhook"), "signing_secret": "local-demo-signing-secret"}),
    )
    configure_local_chatops()
    document = {
        **CONFIG_DOCUMENT,
        "chatops": LOCAL_CHATOPS,
        "routes": {
            "slack": {
                "type": "slack_bot",
                "secret": "ecs-autopilot/slack-bot",
                "channel": "C0DEPLOYS",
                "api_url": sink.url("/api/"),
            },
            "ops": {"type": "webhook", "secret": "ecs-autopilot/ops-webhook", "min_severity": "warning"},
        },
        "defaults": {"routes": ["slack", "ops"]},
    }
    boto3.client("ssm").put_parameter(
        Name="/ecs-autopilot/config", Value=json.dumps(document), Type="String", Overwrite=True
    )
    return document


# the local Slack app: commands are taken in the channel the Slack bot route posts to, and the person
# `autopilot local click` is by default may run each of them (read-only ones are everyone's there)
LOCAL_CHATOPS: dict[str, Any] = {
    "channels": [LOCAL_CHANNEL],
    "commands": {
        command: {"users": [LOCAL_USER]}
        for command in ("rollback", "freeze", "unfreeze", "approve", "reject", "continue")
    },
}


def configure_local_chatops() -> str:
    """The Slack app's secret in the emulator's Secrets Manager, under the name the template gives ChatOpsFunction;
    a signing secret made up for this run (`local click` reads it from there, as Slack holds its copy)."""
    import secrets

    name = os.environ.get("CHATOPS_SECRET_NAME", "ecs-autopilot-chatops/slack-app")
    value = json.dumps({"signing_secret": secrets.token_hex(16)})
    client = boto3.client("secretsmanager")
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)
    return name


class DemoFailedError(RuntimeError):
    pass


@dataclass
class Timeline:
    console: Console
    as_json: bool
    started: float = field(default_factory=time.monotonic)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def step(self, kind: str, text: str, **data: Any) -> None:
        entry = {"t": round(time.monotonic() - self.started, 2), "step": kind, "text": text, **data}
        self.steps.append(entry)
        if self.as_json:
            self.console.print_json(json.dumps(entry, default=str), indent=None)
        else:
            self.console.print(f"[dim]+{entry['t']:5.1f}s[/] [bold]{kind:<9}[/] {text}")

    def show(self, renderable: Any) -> None:
        if not self.as_json:
            self.console.print(renderable)

    def chapter(self, number: int, title: str) -> None:
        """A heading between the parts of the story (a step of its own in --json)."""
        self.steps.append({"t": round(time.monotonic() - self.started, 2), "step": "chapter", "text": title})
        if self.as_json:
            self.console.print_json(json.dumps(self.steps[-1]), indent=None)
        else:
            self.console.rule(f"[bold]{number}. {title}[/]", align="left")


class Story:
    def __init__(self, project: Project, timeline: Timeline, engine: Engine) -> None:
        self.project = project
        self.timeline = timeline
        self.engine = engine
        self.ecr = boto3.client("ecr")
        self.ecs = boto3.client("ecs")
        region = self.ecs.meta.region_name
        self.events = EventFactory(project.root / "events", account=LOCAL_ACCOUNT, region=region)
        self.bus = LocalBus(project, engine, on_delivery=self.told)
        self.repository_uri = ""
        self.pushed: dict[str, str] = {}
        self.queue_url = os.environ["NOTIFY_QUEUE_URL"]
        self.wait_url = os.environ["DRAIN_WAIT_QUEUE_URL"]
        self.stops: Counter[str] = Counter()
        self.told_stops: Counter[str] = Counter()
        self.sink: ChatSink | None = None

    def setup(self) -> None:
        self.repository_uri = self.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
        for tag in ("1.0.0", "latest"):
            self.push_image(tag, label=f"initial-{tag}")
        self.ecs.create_cluster(clusterName=CLUSTER)
        for name, tags in SERVICES.items():
            initial = "latest" if name == "web-staging" else "1.0.0"
            self.ecs.create_service(
                cluster=CLUSTER,
                serviceName=name,
                taskDefinition=self.task_definition(name, f"{self.repository_uri}:{initial}"),
                desiredCount=2,
                launchType="FARGATE",
                deploymentConfiguration={
                    "deploymentCircuitBreaker": {"enable": True, "rollback": False},
                    "minimumHealthyPercent": 100,
                    "maximumPercent": 200,
                },
                tags=[{"key": key, "value": value} for key, value in tags.items()],
            )
            policy = ", ".join(f"{k}={v}" for k, v in tags.items())
            self.timeline.step(
                "setup",
                f"service {CLUSTER}/{name} runs {REPOSITORY}:{initial}  [dim]({policy})[/]",
                service=f"{CLUSTER}/{name}",
                tags=tags,
            )
        self.settle("ECS starts both services' tasks", until=self.all_steady)

    def task_definition(self, family: str, image: str, **extra: Any) -> str:
        definition: str = self.ecs.register_task_definition(
            family=family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": "web",
                    "image": image,
                    "essential": True,
                    "portMappings": [{"containerPort": 8080}],
                    "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health"]},
                },
                {
                    "name": "log-router",
                    "image": SIDECAR,
                    "essential": False,
                    "firelensConfiguration": {"type": "fluentbit"},
                },
            ],
            tags=[{"key": "team", "value": "shop"}],
            **extra,
        )["taskDefinition"]["taskDefinitionArn"]
        return definition

    def push_image(self, tag: str, *, label: str | None = None, behaviour: str = "healthy") -> str:
        image = self.ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest(label or tag), imageTag=tag)
        digest: str = image["image"]["imageId"]["imageDigest"]
        self.pushed[tag] = digest
        self.engine.set_behaviour(digest, parse_behaviour(behaviour))
        return digest

    def inventory(self) -> None:
        result = self.run(self.events.scheduled(), functions=["InventoryFunction"])
        indexed = result.get("InventoryFunction", {}).get("services_indexed")
        self.timeline.step("inventory", f"index rebuilt: {indexed} managed service(s) use {REPOSITORY}", result=result)

    def push(self, tag: str, note: str, *, behaviour: str = "healthy") -> dict[str, Any]:
        digest = self.push_image(tag, behaviour=behaviour)
        event = self.events.ecr_push(REPOSITORY, digest, tag)
        return self.deliver(event, f"docker push {REPOSITORY}:{tag}  [dim]({note})[/]")

    def deliver(self, event: dict[str, Any], text: str) -> dict[str, Any]:
        self.timeline.step("push", text, event_id=event["id"], digest=event["detail"]["image-digest"])
        results = self.run(event)
        for function, result in results.items():
            if isinstance(result, dict) and result.get("duplicate_delivery"):
                self.timeline.step(
                    "decision",
                    f"{function}: duplicate delivery of event {event['id'][:8]}…, already handled: nothing changes",
                    function=function,
                    duplicate=True,
                )
                continue
            if isinstance(result, dict) and result.get("results") is not None:
                for item in result["results"]:
                    self.timeline.step(
                        "decision",
                        f"{item['service']}: {item['outcome']} — {item['reason']}",
                        function=function,
                        **item,
                    )
        self.tell_chat()
        return results

    def run(self, event: dict[str, Any], functions: list[str] | None = None) -> dict[str, Any]:
        """Put an event on the local bus (or hand it to the named functions, as a schedule does)."""
        if functions is not None:
            return {function: self.project.invoke(function, event) for function in functions}
        targets = self.project.route(event)
        self.timeline.step("route", f"EventBridge rules match: {', '.join(targets) or 'nothing'}", functions=targets)
        self.bus.on_delivery = None
        try:
            return self.bus.put(event).results
        finally:
            self.bus.on_delivery = self.told

    def tell_chat(self) -> None:
        """What Lambda's SQS triggers do: NotifyFunction posts the queued messages to chat; SpotDrainFunction
        takes its own drain checks back from the wait queue."""
        run_event_source(lambda event: self.project.invoke("SpotDrainFunction", event), self.wait_url, rounds=2)
        pump(self.project, self.queue_url)

    def settle(self, text: str, *, seconds: float = 900, until: Callable[[], bool] | None = None) -> None:
        """Let the emulated ECS (and Auto Scaling, EC2) go on: what they send reaches the functions as it would."""
        started = self.engine.now
        self.timeline.step("ecs", f"{text}  [dim](simulated clock)[/]")
        waited = 0.0
        while waited < seconds and not (until is not None and until()):
            self.engine.advance(5)
            waited += 5
            self.bus.flush()
            self.tell_chat()
        self.timeline.step(
            "clock", f"{int((self.engine.now - started).total_seconds())} simulated seconds later", simulated=waited
        )

    def all_steady(self) -> bool:
        described = self.ecs.describe_services(cluster=CLUSTER, services=list(SERVICES))["services"]
        return all(
            len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] in ("COMPLETED", "FAILED")
            for s in described
        )

    def told(self, delivery: Delivery) -> None:
        """What ECS (or EC2, Auto Scaling) sent and what the functions did with it, as timeline steps."""
        event = delivery.event
        subject = event["resources"][0].rsplit("/", 1)[-1] if event.get("resources") else ""
        if delivery.kind == "ECS Deployment State Change":
            detail = event["detail"]
            state = detail["eventName"].removeprefix("SERVICE_DEPLOYMENT_")
            self.timeline.step(
                "ecs",
                f"{subject}: deployment {detail['deploymentId']} {state} — {detail['reason']}",
                ecs_event=detail["eventName"],
                service=subject,
            )
        elif delivery.kind == "ECS Service Action":
            self.timeline.step("ecs", f"{subject}: {event['detail']['eventName']}", ecs_event="SERVICE_STEADY_STATE")
        elif delivery.kind == "ECS Task State Change" and event["detail"].get("lastStatus") == "STOPPED":
            group = str(event["detail"].get("group", ""))
            self.stops[group] += 1
        elif delivery.kind == "ECS Task State Change" and event["detail"].get("stopCode"):
            self.timeline.step("ecs", f"Fargate Spot interrupts a task of {event['detail'].get('group')}")
        elif delivery.kind.startswith("EC2") and delivery.kind != "EC2 Instance-terminate Lifecycle Action":
            self.timeline.step("spot", f"{delivery.kind} for {event['detail'].get('instance-id')}")
        elif delivery.kind == "EC2 Instance-terminate Lifecycle Action":
            instance = event["detail"]["EC2InstanceId"]
            self.timeline.step("spot", f"Auto Scaling terminates {instance}: its terminate hook waits")
        for function, result in delivery.results.items():
            self.decision(function, result)

    def decision(self, function: str, result: Any) -> None:
        if not isinstance(result, dict):
            return
        if function == "TaskWatchFunction":
            self.told_stops[str(result.get("subject"))] += int(bool(result.get("told")))
            return
        if "outcome" in result and function == "SpotDrainFunction":
            detail = f" — {result['detail']}" if result.get("detail") else ""
            self.timeline.step(
                "decision",
                f"{function}: {result['outcome']} {result.get('subject', '')}{detail}",
                function=function,
                outcome=result["outcome"],
            )
        for item in result.get("results", []):
            if "outcome" in item and "trigger" in item and item["outcome"] not in ("RECORDED", "IGNORED"):
                self.timeline.step(
                    "decision",
                    f"{item.get('service')}: {item['outcome']} — {item['reason']}",
                    function=function,
                    **item,
                )

    def rollback_chapter(self) -> None:
        self.settle("ECS rolls the 1.2.0 deployment out", until=self.all_steady)
        self.push("1.3.0", "a bad build: its app exits 1 twenty seconds after it starts", behaviour="exits:1@20s")
        self.settle("ECS starts 1.3.0's tasks; they crash", until=lambda: self.rolled_back("1.3.0"))
        self.settle("ECS rolls the rollback out", until=self.all_steady)
        event = self.events.ecr_push(REPOSITORY, self.pushed["1.3.0"], "1.3.0")
        self.deliver(event, "the same bad 1.3.0 digest is pushed again")
        self.push("1.4.0", "a build that starts but misbehaves")
        self.settle("ECS starts 1.4.0's tasks", seconds=20)
        # the alarm fires now on the emulated clock (it runs ahead of the wall clock the functions read)
        alarm = self.events.alarm("web-prod-5xx", CLUSTER, "web-prod", at=max(datetime.now(UTC), self.engine.now))
        self.timeline.step(
            "alarm",
            "web-prod-5xx goes OK → ALARM within the 30-minute bake window of that deployment",
            event_id=alarm["id"],
        )
        results = self.run(alarm)
        for function, result in results.items():
            self.decision(function, result)
        self.tell_chat()
        self.settle("ECS rolls the rollback out", until=self.all_steady)

    def rolled_back(self, tag: str) -> bool:
        running = self.ecs.describe_services(cluster=CLUSTER, services=["web-prod"])["services"][0]["taskDefinition"]
        body = self.ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
        return not body["containerDefinitions"][0]["image"].endswith(self.pushed[tag]) and any(
            d.name == "SERVICE_DEPLOYMENT_FAILED" for d in self.bus.deliveries
        )

    def spot_chapter(self) -> None:
        """Two EC2 Spot instances of an Auto Scaling group with a terminate hook serve the worker service; one
        gets its two-minute warning. A Fargate Spot task of a service behind a load balancer is interrupted.
        web-staging's app starts crashing in production."""
        ec2, elbv2 = boto3.client("ec2"), boto3.client("elbv2")
        self.timeline.step("setup", "an EC2 Spot instance joins the cluster and runs the worker service's task…")
        spot, spare = capacity.launch_instances(2)
        capacity.terminate_hook("demo-spot", [spot, spare], hook="drain-first")
        container_instance = capacity.join_cluster(CLUSTER, spot)
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName="worker",
            taskDefinition=self.ecs.register_task_definition(
                family="worker",
                containerDefinitions=[{"name": "web", "image": f"{self.repository_uri}:latest", "memory": 256}],
            )["taskDefinition"]["taskDefinitionArn"],
            desiredCount=1,
            launchType="EC2",
        )
        self.settle("ECS places the worker's task on the Spot instance", until=lambda: self.steady("worker"))
        capacity.join_cluster(CLUSTER, spare)
        lifecycle.inject_spot_warning(spot)
        self.settle(
            f"EC2 warns that {spot} will be reclaimed in two minutes",
            seconds=180,
            until=lambda: spot in lifecycle.tasks_left,
        )
        status = self.ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[container_instance])[
            "containerInstances"
        ][0]["status"]
        tasks_left = lifecycle.tasks_left.get(spot)
        completed = [call for call in lifecycle.calls if call[1] == spot]
        if completed != [("complete", spot, "CONTINUE")] or tasks_left != 0:
            raise DemoFailedError(
                f"the terminate hook of {spot} ended as {completed} with {tasks_left} service task(s) left"
            )
        self.timeline.step(
            "state",
            f"the terminate hook of {spot} was completed with CONTINUE once no service task was left on it; "
            f"the instance is gone (its container instance is {status})",
            status=status,
            hook=completed[0][2],
            tasks_left=tasks_left,
        )

        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        group = elbv2.create_target_group(Name="checkout", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName="checkout",
            taskDefinition=self.task_definition("checkout", f"{self.repository_uri}:latest"),
            desiredCount=2,
            launchType="FARGATE",
            loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 8080}],
        )
        self.settle("ECS starts checkout behind its target group", until=lambda: self.steady("checkout"))
        serving = sorted(
            t["Target"]["Id"] for t in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        )
        task = self.ecs.list_tasks(cluster=CLUSTER, serviceName="checkout")["taskArns"][0]
        interrupted = self.engine.interrupt_spot(task)
        self.bus.flush()
        self.tell_chat()
        left = sorted(
            t["Target"]["Id"] for t in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        )
        self.timeline.step(
            "state",
            f"target group checkout routed to {', '.join(serving)}; now to {', '.join(left)} only "
            f"({interrupted.private_ip} left before its task stopped)",
            targets=left,
            interrupted=interrupted.private_ip,
        )

        self.timeline.step("crash", "web-staging's app starts crashing in production (exit code 1 after 10 s)")
        self.engine.set_behaviour(self.pushed["latest"], parse_behaviour("exits:1@10s"), running=True)
        self.stops.clear()
        self.told_stops.clear()
        self.settle(
            "ECS replaces the crashing tasks again and again", until=lambda: self.stops["service:web-staging"] >= 25
        )
        stops = self.stops["service:web-staging"]
        told = self.told_stops[f"{CLUSTER}/web-staging"]
        self.timeline.step(
            "decision",
            f"TaskWatchFunction: {stops} stops, {told} messages (the first, then the loop)",
            function="TaskWatchFunction",
            stops=stops,
            told=told,
        )
        self.engine.set_behaviour(self.pushed["latest"], parse_behaviour("healthy"))
        self.settle("the app is fixed: ECS's next tasks stay up", until=lambda: self.steady("web-staging"))

    # -- chat: approvals and pause hooks --------------------------------------------------------------------
    def click(self, label: str, value: str, *, user: str = LOCAL_USER, who: str = "the release manager") -> int:
        """A person presses a button of a chat message: the signed request Slack sends to ChatOpsFunction's
        Function URL; what it acknowledged is carried out from its queue, as Lambda's SQS trigger would."""
        name = os.environ.get("CHATOPS_SECRET_NAME", "ecs-autopilot-chatops/slack-app")
        secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
        body = slack_body(value, user=user, channel=LOCAL_CHANNEL, button=True)
        headers = {k.lower(): v for k, v in signed_headers(body, secret["signing_secret"]).items()}
        answer = self.project.invoke("ChatOpsFunction", function_url_event("POST", "/", headers, body, "3.90.0.1"))
        status, said = int(answer["statusCode"]), json.loads(answer["body"])
        self.timeline.step(
            "click",
            f"{who} ({user}) presses {label}: HTTP {status} — {escape(str(said.get('text')))}",
            status=status,
            user=user,
            value=value,
        )
        queue = os.environ["CHATOPS_QUEUE_URL"]
        run_event_source(lambda event: self.project.invoke("ChatOpsFunction", event), queue)
        self.tell_chat()
        return status

    def buttons(self, kind: str) -> dict[str, str]:
        """The buttons of the newest chat message of `kind` (what the person sees), by label."""
        posted = self.sink.delivered("/api/chat.postMessage") if self.sink else []
        for item in reversed(posted):
            data = item.form_or_json
            blocks = [b for a in data.get("attachments") or [] for b in a.get("blocks") or []]
            if any(kind in str(b) for b in blocks):
                return {
                    e["text"]["text"]: e["value"]
                    for b in blocks
                    if b.get("type") == "actions"
                    for e in b.get("elements", [])
                }
        raise DemoFailedError(f"no {kind} message with buttons reached the channel")

    def approval_chapter(self) -> None:
        payments = self.ecr.create_repository(repositoryName="shop/payments")["repository"]["repositoryUri"]
        for tag in ("1.0.0", "1.1.0"):
            self.engine.set_behaviour(
                self.ecr.put_image(
                    repositoryName="shop/payments", imageManifest=image_manifest(f"payments-{tag}"), imageTag=tag
                )["image"]["imageId"]["imageDigest"],
                parse_behaviour("healthy"),
            )
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName="payments",
            taskDefinition=self.task_definition("payments", f"{payments}:1.0.0"),
            desiredCount=1,
            launchType="FARGATE",
            tags=[
                {"key": "autopilot:deploy", "value": "semver:1.x"},
                {"key": "autopilot:approval", "value": "required"},
            ],
        )
        self.timeline.step(
            "setup", f"service {CLUSTER}/payments runs shop/payments:1.0.0  [dim](semver:1.x, approval=required)[/]"
        )
        self.settle("ECS starts payments", until=lambda: self.steady("payments"))
        self.inventory()
        digest = self.ecr.describe_images(repositoryName="shop/payments", imageIds=[{"imageTag": "1.1.0"}])[
            "imageDetails"
        ][0]["imageDigest"]
        self.deliver(self.events.ecr_push("shop/payments", digest, "1.1.0"), "docker push shop/payments:1.1.0")
        approve = self.buttons("deploy.approval")["Approve"]
        self.click("Approve", approve, user="U0INTERN", who="someone not allowed to")
        self.click("Approve", approve)
        self.settle("ECS rolls the approved 1.1.0 out", until=lambda: self.completed("payments", "payments:2"))
        if not self.completed("payments", "payments:2"):
            raise DemoFailedError("the approved push of shop/payments:1.1.0 was not deployed")

    def pause_chapter(self) -> None:
        hooks: list[Any] = [
            {
                "targetType": "PAUSE",
                "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
            }
        ]
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName="search",
            taskDefinition=self.task_definition("search", f"{self.repository_uri}:1.0.0"),
            desiredCount=2,
            launchType="FARGATE",
            deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5, "lifecycleHooks": hooks},
            tags=[{"key": "autopilot:deploy", "value": "tag:1.0.0"}],
        )
        self.timeline.step(
            "setup",
            f"CI creates {CLUSTER}/search: blue/green, pausing after test traffic for a person to continue",
        )
        self.settle("ECS deploys search up to its pause hook", seconds=300, until=lambda: self.paused("search"))
        self.click("Continue", self.buttons("deploy.paused")["Continue"], who="the on-call engineer")
        self.settle("ECS shifts production traffic and bakes", until=lambda: self.steady("search"))
        self.timeline.step("setup", "CI deploys a new revision of search (UpdateService): it pauses too")
        self.ecs.update_service(
            cluster=CLUSTER,
            service="search",
            taskDefinition=self.task_definition("search", f"{self.repository_uri}:1.2.0"),
        )
        self.settle("ECS deploys it up to the pause hook", seconds=300, until=lambda: self.paused("search", 2))
        self.click("Roll back", self.buttons("deploy.paused")["Roll back"], who="the on-call engineer, seeing errors")
        running = self.ecs.describe_services(cluster=CLUSTER, services=["search"])["services"][0]["taskDefinition"]
        if not running.endswith("/search:1"):
            raise DemoFailedError(f"search runs {running} after Roll back, expected search:1")
        self.timeline.step("state", f"search runs {short_task_definition(running)} again", task_definition=running)

    def completed(self, service: str, revision: str) -> bool:
        [found] = self.ecs.describe_services(cluster=CLUSTER, services=[service])["services"]
        deployments = found["deployments"]
        return (
            len(deployments) == 1
            and deployments[0]["rolloutState"] == "COMPLETED"
            and deployments[0]["taskDefinition"].endswith(f"/{revision}")
        )

    def paused(self, service: str, times: int = 1) -> bool:
        return bool(
            sum(
                d.name == "HOOK_AWAITING_ACTION" and d.event["detail"]["serviceArn"].endswith(f"/{service}")
                for d in self.bus.deliveries
            )
            >= times
        )

    def steady(self, service: str) -> bool:
        return any(
            d.name == "SERVICE_STEADY_STATE" and d.event["resources"][0].endswith(f"/{service}")
            for d in self.bus.deliveries[-20:]
        )

    def final_state(self) -> dict[str, dict[str, Any]]:
        services = self.ecs.describe_services(cluster=CLUSTER, services=list(SERVICES), include=["TAGS"])["services"]
        state = {}
        table = Table(title="where each service ended", title_justify="left")
        for column in ("service", "policy", "task definition", "web image", "sidecar"):
            table.add_column(column)
        for service in services:
            body = self.ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
            images = {c["name"]: c["image"] for c in body["containerDefinitions"]}
            tags = {t["key"]: t["value"] for t in service.get("tags", [])}
            ledger = Ledger(boto3.client("dynamodb"), os.environ["LEDGER_TABLE_NAME"])
            ref = ServiceRef(CLUSTER, service["serviceName"])
            kept = ledger.services.state(ref)
            state[service["serviceName"]] = {
                "task_definition": service["taskDefinition"],
                "images": images,
                "ledger": {
                    "last_known_good": kept.last_known_good,
                    "bad_revisions": sorted(kept.bad_revisions),
                    "quarantined": sorted(kept.quarantined),
                    "frozen": kept.frozen,
                    "deployments": [row.status for row in ledger.deployments.ours(ref)],
                },
            }
            table.add_row(
                service["serviceName"],
                tags.get("autopilot:deploy", ""),
                short_task_definition(service["taskDefinition"]),
                short_image(images["web"]),
                short_image(images["log-router"]),
            )
        self.timeline.show(table)
        return state


def run_demo(project: Project, *, as_json: bool, console: Console) -> dict[str, Any]:
    timeline = Timeline(console, as_json)

    def chat(line: str) -> None:  # one line per chat message: a thread reply repeats the message it follows
        if "↳ in thread" not in line:
            timeline.step("chat", escape(line.strip()), chat=True)

    sink = ChatSink(printer=chat).start()
    timeline.chapter(1, "A local AWS and a chat channel")
    timeline.step("emulator", "starting moto in server mode and creating the stack's resources…")
    with Emulator() as emulator:
        timeline.step("emulator", f"local AWS (moto) on {emulator.endpoint_url}", endpoint=emulator.endpoint_url)
        # the drain's wait queue checks again at once: the emulated clock, not the wall clock, is what passes
        os.environ.setdefault("DRAIN_CHECK_SECONDS", "0")
        resources = create_stack_resources(project, config_document=json.dumps(CONFIG_DOCUMENT))
        logger.setLevel("CRITICAL")  # the story is told by the timeline; the functions' logs stay quiet
        configure_local_routes(sink)
        timeline.step("chat", f"local chat sink on {sink.base_url}: a Slack bot route and a signed webhook route")
        timeline.step(
            "stack",
            f"ledger table {resources.table}, queues {', '.join(resources.queues)}, "
            f"config {resources.config_parameter}",
            table=resources.table,
        )
        story = Story(project, timeline, resources.engine)
        story.sink = sink
        timeline.chapter(2, "Two services opt in with tags; pushes deploy themselves")
        story.setup()
        story.inventory()
        story.push("latest", "tracked by web-staging")
        semver = story.push("1.2.0", "in web-prod's range 1.x")
        story.push("1.1.0", "older than what web-prod runs: never deployed")
        duplicate = semver["DeployFunction"]
        timeline.step("redeliver", "EventBridge delivers the 1.2.0 push again (at-least-once)")
        event = story.events.ecr_push(REPOSITORY, story.pushed["1.2.0"], "1.2.0")
        event["id"] = duplicate["event_id"]
        story.deliver(event, f"same event {event['id'][:8]}… again")
        story.push("2.0.0", "outside 1.x")
        timeline.chapter(3, "A failed deployment and a firing alarm roll back by themselves")
        story.rollback_chapter()
        timeline.chapter(4, "Spot capacity drains before it disappears; a crash loop is one message")
        story.spot_chapter()
        timeline.chapter(5, "A push waits for a person's approval in chat")
        story.approval_chapter()
        timeline.chapter(6, "A blue/green deployment pauses at a hook until someone decides in chat")
        story.pause_chapter()
        timeline.chapter(7, "Where each service ended")
        state = story.final_state()
        expected = {"web-staging": story.pushed["latest"], "web-prod": story.pushed["1.2.0"]}
        for service, digest in expected.items():
            image = state[service]["images"]["web"]
            if not image.endswith(f"@{digest}"):
                raise DemoFailedError(f"{service} runs {image}, expected the digest {digest}")
        timeline.step(
            "done",
            "each service runs the digest its policy selected",
            final=state,
            chat={
                "slack_posts": len(sink.delivered("/api/chat.postMessage")),
                "slack_updates": len(sink.delivered("/api/chat.update")),
                "webhook": [item.json["kind"] for item in sink.delivered("/webhook")],
            },
        )
    sink.stop()
    return {"steps": timeline.steps, "final": state}
