"""`make demo`: the deploy-on-push story on the local emulator, through template.yaml's rules and the real handlers."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autopilot.cli.render import short_image, short_task_definition
from autopilot.ledger import Ledger
from autopilot.local.chat_sink import ChatSink
from autopilot.local.emulator import LOCAL_ACCOUNT, Emulator, create_stack_resources
from autopilot.local.project import Project
from autopilot.local.pump import pump
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
    document = {
        **CONFIG_DOCUMENT,
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
    def __init__(self, project: Project, timeline: Timeline) -> None:
        self.project = project
        self.timeline = timeline
        self.ecr = boto3.client("ecr")
        self.ecs = boto3.client("ecs")
        region = self.ecs.meta.region_name
        self.events = EventFactory(project.root / "events", account=LOCAL_ACCOUNT, region=region)
        self.repository_uri = ""
        self.pushed: dict[str, str] = {}
        self.queue_url = os.environ["NOTIFY_QUEUE_URL"]

    def setup(self) -> None:
        self.repository_uri = self.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
        for tag in ("1.0.0", "latest"):
            self.push_image(tag, label=f"initial-{tag}")
        self.ecs.create_cluster(clusterName=CLUSTER)
        for name, tags in SERVICES.items():
            initial = "latest" if name == "web-staging" else "1.0.0"
            task_definition = self.ecs.register_task_definition(
                family=name,
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu="256",
                memory="512",
                containerDefinitions=[
                    {
                        "name": "web",
                        "image": f"{self.repository_uri}:{initial}",
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
            )["taskDefinition"]["taskDefinitionArn"]
            self.ecs.create_service(
                cluster=CLUSTER,
                serviceName=name,
                taskDefinition=task_definition,
                desiredCount=2,
                launchType="FARGATE",
                tags=[{"key": key, "value": value} for key, value in tags.items()],
            )
            policy = ", ".join(f"{k}={v}" for k, v in tags.items())
            self.timeline.step(
                "setup",
                f"service {CLUSTER}/{name} runs {REPOSITORY}:{initial}  [dim]({policy})[/]",
                service=f"{CLUSTER}/{name}",
                tags=tags,
            )

    def push_image(self, tag: str, *, label: str | None = None) -> str:
        image = self.ecr.put_image(repositoryName=REPOSITORY, imageManifest=image_manifest(label or tag), imageTag=tag)
        digest: str = image["image"]["imageId"]["imageDigest"]
        self.pushed[tag] = digest
        return digest

    def inventory(self) -> None:
        result = self.run(self.events.scheduled(), functions=["InventoryFunction"])
        indexed = result.get("InventoryFunction", {}).get("services_indexed")
        self.timeline.step("inventory", f"index rebuilt: {indexed} managed service(s) use {REPOSITORY}", result=result)

    def push(self, tag: str, note: str) -> dict[str, Any]:
        digest = self.push_image(tag)
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
        targets = functions or self.project.route(event)
        if functions is None:
            self.timeline.step(
                "route", f"EventBridge rules match: {', '.join(targets) or 'nothing'}", functions=targets
            )
        return {function: self.project.invoke(function, event) for function in targets}

    def tell_chat(self) -> None:
        """What Lambda's SQS trigger does: NotifyFunction takes the queued messages and posts them to chat."""
        pump(self.project, self.queue_url)

    def ecs_says(self, service: str, status: str, reason: str | None = None) -> dict[str, Any]:
        """What ECS reports next about the service's newest (PRIMARY) deployment."""
        described = self.ecs.describe_services(cluster=CLUSTER, services=[service])["services"][0]
        arn = described["serviceArn"]
        deployment_id = next(d["id"] for d in described["deployments"] if d["status"] == "PRIMARY")
        ecs_event = self.events.ecs_deployment(status, arn, deployment_id, reason=reason)
        self.timeline.step(
            "ecs",
            f"{service}: deployment {deployment_id} {status}  [dim](generated from the "
            "emulator's state: ECS runs no tasks here)[/]",
            event_id=ecs_event["id"],
        )
        return self.outcome(self.run(ecs_event))

    def outcome(self, results: dict[str, Any]) -> dict[str, Any]:
        for function, result in results.items():
            for item in result.get("results", []) if isinstance(result, dict) else []:
                if "outcome" in item and "trigger" in item:
                    self.timeline.step(
                        "decision",
                        f"{item.get('service')}: {item['outcome']} — {item['reason']}",
                        function=function,
                        **item,
                    )
        self.tell_chat()
        return results

    def rollback_chapter(self) -> None:
        self.ecs_says("web-prod", "IN_PROGRESS")
        self.ecs_says("web-prod", "COMPLETED")  # the 1.2.0 deployment is healthy
        self.push("1.3.0", "a bad build")
        self.ecs_says("web-prod", "IN_PROGRESS")
        self.ecs_says("web-prod", "FAILED")
        event = self.events.ecr_push(REPOSITORY, self.pushed["1.3.0"], "1.3.0")
        self.deliver(event, "the same bad 1.3.0 digest is pushed again")
        self.push("1.4.0", "a build that starts but misbehaves")
        self.ecs_says("web-prod", "IN_PROGRESS")
        alarm = self.events.alarm("web-prod-5xx", CLUSTER, "web-prod")
        self.timeline.step(
            "alarm",
            "web-prod-5xx goes OK → ALARM within the 30-minute bake window of that deployment",
            event_id=alarm["id"],
        )
        self.outcome(self.run(alarm))

    def spot_chapter(self) -> None:
        """An EC2 Spot instance in the cluster gets its two-minute warning; a Fargate Spot task of a service behind
        a load balancer is interrupted; a service's tasks crash in a loop."""
        ec2, elbv2 = boto3.client("ec2"), boto3.client("elbv2")
        self.timeline.step("setup", "an EC2 Spot instance joins the cluster and runs a web-staging task…")
        image = ec2.describe_images()["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m7g.large")["Instances"][0][
            "InstanceId"
        ]
        document = json.dumps({"instanceId": instance, "region": self.events.region})
        container_instance = self.ecs.register_container_instance(cluster=CLUSTER, instanceIdentityDocument=document)[
            "containerInstance"
        ]["containerInstanceArn"]
        on_ec2 = self.ecs.register_task_definition(
            family="web-staging-ec2",
            containerDefinitions=[{"name": "web", "image": f"{self.repository_uri}:latest", "memory": 256}],
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.start_task(
            cluster=CLUSTER,
            taskDefinition=on_ec2,
            group="service:web-staging",
            containerInstances=[container_instance],
        )
        self.timeline.step(
            "spot",
            f"EC2 Spot warning for {instance} (runs a web-staging task)  [dim](generated from "
            "the documented sample)[/]",
        )
        warning = self.events.from_sample("ec2-spot-interruption-warning.json", **{"instance-id": instance})
        self.outcome_of_drain(self.run(warning))
        status = self.ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[container_instance])[
            "containerInstances"
        ][0]["status"]
        self.timeline.step("state", f"container instance of {instance} is {status}", status=status)

        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        group = elbv2.create_target_group(Name="checkout", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        elbv2.register_targets(
            TargetGroupArn=group, Targets=[{"Id": "10.0.0.139", "Port": 8080}, {"Id": "10.0.0.140", "Port": 8080}]
        )
        self.ecs.create_service(
            cluster=CLUSTER,
            serviceName="checkout",
            taskDefinition=on_ec2,
            desiredCount=2,
            loadBalancers=[{"targetGroupArn": group, "containerName": "web", "containerPort": 8080}],
        )
        self.timeline.step(
            "spot",
            "Fargate Spot interrupts a checkout task at 10.0.0.139  [dim](generated from the documented sample)[/]",
        )
        cluster_arn = f"arn:aws:ecs:{self.events.region}:{LOCAL_ACCOUNT}:cluster/{CLUSTER}"
        interrupted = self.own_containers(
            self.events.from_sample(
                "ecs-task-fargate-spot-interruption.json",
                group="service:checkout",
                clusterArn=cluster_arn,
                taskArn=f"{cluster_arn.replace(':cluster/', ':task/')}/{uuid.uuid4().hex}",
            )
        )
        self.outcome_of_drain(self.run(interrupted))
        left = sorted(
            t["Target"]["Id"] for t in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        )
        self.timeline.step("state", f"target group checkout now routes to {', '.join(left)} only", targets=left)

        self.timeline.step(
            "crash",
            "web-staging's tasks crash 25 times in a row (exit code 1)  [dim](stopped-task "
            "events generated from the documented sample)[/]",
        )
        told = 0
        for _ in range(25):
            stop = self.own_containers(
                self.events.from_sample(
                    "ecs-task-stopped-essential-exit.json",
                    group="service:web-staging",
                    clusterArn=cluster_arn,
                    taskArn=f"{cluster_arn.replace(':cluster/', ':task/')}/{uuid.uuid4().hex}",
                )
            )
            result = self.run(stop, functions=["TaskWatchFunction"])["TaskWatchFunction"]
            told += int(bool(result.get("told")))
        self.tell_chat()
        self.timeline.step(
            "decision",
            f"TaskWatchFunction: 25 stops, {told} messages (the first, then the loop)",
            function="TaskWatchFunction",
            stops=25,
            told=told,
        )
        steady = self.events.from_sample("ecs-service-steady-state.json", clusterArn=cluster_arn)
        steady["resources"] = [f"arn:aws:ecs:{self.events.region}:{LOCAL_ACCOUNT}:service/{CLUSTER}/web-staging"]
        self.timeline.step("ecs", "web-staging is steady again  [dim](SERVICE_STEADY_STATE, generated)[/]")
        self.run(steady)
        self.tell_chat()

    @staticmethod
    def own_containers(event: dict[str, Any]) -> dict[str, Any]:
        """The sample's container (FargateApp) is the demo's `web`: the events speak of the demo's world."""
        for container in event["detail"].get("containers", []):
            container["name"] = "web"
        for override in event["detail"].get("overrides", {}).get("containerOverrides", []):
            override["name"] = "web"
        return event

    def outcome_of_drain(self, results: dict[str, Any]) -> None:
        for function, result in results.items():
            if isinstance(result, dict) and "outcome" in result:
                detail = f" — {result['detail']}" if result.get("detail") else ""
                self.timeline.step(
                    "decision",
                    f"{function}: {result['outcome']} {result.get('subject', '')}{detail}",
                    function=function,
                    outcome=result["outcome"],
                )
        self.tell_chat()

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
        story = Story(project, timeline)
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
        timeline.chapter(5, "Where each service ended")
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
