"""ChatOpsFunction on the local AWS (its IAM role enforced), fed the requests Slack sends to its Function URL:
a signed approve deploys once, however often it comes; forged, stale, replayed, unauthorised and unconfigured
requests are refused with their HTTP status and change nothing; read-only commands answer at once; pause
hooks of the emulated ECS reach the channel with buttons that continue or roll the deployment back."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import boto3
import pytest

from autopilot.aws import clients
from autopilot.ledger import Ledger
from autopilot.local.demo import LOCAL_CHATOPS, configure_local_chatops
from autopilot.local.function_url import function_url_event, signed_headers, slack_body
from autopilot.local.pump import run_event_source
from autopilot.refs import ServiceRef
from tests.faults import queued_messages
from tests.integration.world import World

pytestmark = pytest.mark.usefixtures("aws")
WEB = ServiceRef("prod", "web")
ALLOWED, OTHER = "U0LOCAL", "U0NOBODY"
CHANNEL = "C0DEPLOYS"


def ledger() -> Ledger:
    return Ledger(boto3.client("dynamodb"), "ecs-autopilot-ledger")


class Slack:
    """What Slack sends to the Function URL, signed with the app's signing secret (or not)."""

    def __init__(self, project: Any) -> None:
        self.project = project
        name = configure_local_chatops()
        self.secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])[
            "signing_secret"
        ]
        ssm = boto3.client("ssm")
        document = json.loads(ssm.get_parameter(Name="/ecs-autopilot/config")["Parameter"]["Value"])
        document["chatops"] = LOCAL_CHATOPS
        ssm.put_parameter(Name="/ecs-autopilot/config", Value=json.dumps(document), Overwrite=True)
        self.calls: Counter[str] = Counter()
        for action in ("UpdateService", "RegisterTaskDefinition", "ContinueServiceDeployment"):
            clients.ecs().meta.events.register(f"before-call.ecs.{action}", self._count)

    def _count(self, model: Any, **kwargs: Any) -> None:
        self.calls[model.name] += 1

    def request(
        self,
        text: str,
        *,
        user: str = ALLOWED,
        channel: str = CHANNEL,
        button: bool = True,
        at: int | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        body = slack_body(text, user=user, channel=channel, button=button)
        headers = {k.lower(): v for k, v in signed_headers(body, secret or self.secret, at=at).items()}
        return body, headers

    def send(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        event = function_url_event("POST", "/", headers, body, "3.90.0.1")
        response = self.project.invoke("ChatOpsFunction", event)
        return int(response["statusCode"]), json.loads(response["body"])

    def press(self, text: str, **options: Any) -> tuple[int, dict[str, Any]]:
        return self.send(*self.request(text, **options))

    def work(self) -> int:
        """What Lambda's SQS event source does with the ChatOps queue: the handled work items."""
        url = os.environ["CHATOPS_QUEUE_URL"]
        return run_event_source(lambda event: self.project.invoke("ChatOpsFunction", event), url).handled


def waiting_work() -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["CHATOPS_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


@pytest.fixture
def held(project, events) -> tuple[World, Slack, str]:
    """prod/web needs approval; a push of shop:latest waits for it."""
    world = World(project, events)
    world.cluster("prod")
    task_definition = world.web_task_definition("web", "shop", tag="latest")
    world.service("prod", "web", task_definition, {"autopilot:deploy": "tag:latest", "autopilot:approval": "required"})
    world.inventory()
    slack = Slack(project)
    world.push("shop", "latest")
    [pending] = ledger().approvals.pending(WEB)
    return world, slack, pending.approval_id


def test_a_signed_approve_deploys_once_however_often_slack_sends_it(held) -> None:
    world, slack, approval = held
    body, headers = slack.request(f"approve prod/web {approval}")

    status, answer = slack.send(body, headers)
    assert status == 200 and "on it" in answer["text"]
    assert (waiting_work(), slack.calls["UpdateService"]) == (1, 0)  # acknowledged; the work is queued
    assert slack.work() == 1
    assert slack.calls["UpdateService"] == 1 and world.running("prod", "web")["revision"] == 2

    assert slack.send(body, headers)[0] == 409  # the same request again (a replay): refused, nothing queued
    assert waiting_work() == 0
    again = slack.press(f"approve prod/web {approval}")  # a second click: a new request, taken; deploys nothing
    assert again[0] == 200 and slack.work() == 1
    assert slack.calls["UpdateService"] == 1 and slack.calls["RegisterTaskDefinition"] == 1
    actions = [row for row in ledger().deployments.history(WEB) if row.kind == "action"]
    assert {(row.actor, row.status) for row in actions} == {(f"slack:{ALLOWED}", "DONE")}
    assert len(actions) == 2  # both clicks are in the history, with who clicked
    told = queued_messages(os.environ["NOTIFY_QUEUE_URL"])
    assert ("deploy.approval", f"prod/web: deploy of shop:latest approved by <@{ALLOWED}>") in told


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("forged signature", 401),
        ("stale timestamp", 401),
        ("unauthorised user", 403),
        ("channel not configured", 403),
        ("unsigned", 401),
    ],
)
def test_refused_requests_change_nothing(held, case: str, status: int) -> None:
    world, slack, approval = held
    text = f"approve prod/web {approval}"
    if case == "forged signature":
        request = slack.request(text, secret="not-the-apps-signing-secret")
    elif case == "stale timestamp":
        request = slack.request(text, at=int(time.time()) - 301)
    elif case == "unauthorised user":
        request = slack.request(text, user=OTHER)
    elif case == "channel not configured":
        request = slack.request(text, channel="C0ELSEWHERE")
    else:
        body, _ = slack.request(text)
        request = (body, {"content-type": "application/x-www-form-urlencoded"})

    assert slack.send(*request)[0] == status
    assert waiting_work() == 0 and slack.work() == 0
    assert slack.calls["UpdateService"] == 0 and world.running("prod", "web")["revision"] == 1
    assert [a.status for a in ledger().approvals.pending(WEB)] == ["PENDING"]
    assert not [row for row in ledger().deployments.history(WEB) if row.kind == "action"]


def test_read_only_commands_answer_at_once_for_anyone_in_the_channel(held) -> None:
    _, slack, approval = held
    status, answer = slack.press("status prod/web", user=OTHER, button=False)
    assert status == 200 and answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("prod/web: web:1 (tag:latest); last-known-good")
    status, answer = slack.press("plan prod/web", user=OTHER, button=False)
    assert status == 200 and approval in answer["text"] and f"/autopilot approve prod/web {approval}" in answer["text"]
    status, answer = slack.press("history prod/web", user=OTHER, button=False)
    assert status == 200 and answer["text"].startswith("history of prod/web")
    assert waiting_work() == 0


def test_slacks_certificate_check_is_answered_and_does_nothing(held) -> None:
    _, slack, _ = held
    body = b"ssl_check=1&token=local"
    assert slack.send(body, {"content-type": "application/x-www-form-urlencoded"}) == (200, {})
    assert waiting_work() == 0


def test_malformed_commands_are_told_how_to_write_them(held) -> None:
    _, slack, _ = held
    for text, expected in (
        ("deploy prod/web", "unknown command"),
        ("approve prod/web", "usage: /autopilot approve CLUSTER/SERVICE APPROVAL_ID"),
        ("freeze web", "expected CLUSTER/SERVICE"),
    ):
        status, answer = slack.press(text, button=False)
        assert status == 400 and expected in answer["text"], (text, answer)
    assert waiting_work() == 0


def test_freeze_and_rollback_from_chat_are_written_with_who(held) -> None:
    _world, slack, _ = held
    assert slack.press("freeze prod/web", button=False)[0] == 200
    assert slack.work() == 1
    assert ledger().services.state(WEB).frozen
    status, _answer = slack.press("rollback prod/web web:1", button=False)
    assert status == 200 and slack.work() == 1
    rows = {row.detail: row for row in ledger().deployments.history(WEB) if row.kind == "action"}
    assert rows["freeze prod/web"].actor == f"slack:{ALLOWED}" and rows["freeze prod/web"].status == "DONE"
    failed = rows["rollback prod/web web:1"]  # it runs web:1 already: told, recorded as failed, nothing called
    assert failed.status == "FAILED" and "already runs web:1" in str(failed.outcome_detail)
    assert slack.calls["UpdateService"] == 0


# -- pause hooks -------------------------------------------------------------------------------------------
PAUSED_BLUE_GREEN = {
    "strategy": "BLUE_GREEN",
    "bakeTimeInMinutes": 5,
    "lifecycleHooks": [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
            "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"},
        }
    ],
}


_TOLD: list[dict[str, Any]] = []


def told(kind: str) -> list[dict[str, Any]]:
    """The messages of `kind` put on the notification queue so far, whole (buttons included), oldest first: the
    queue is drained as NotifyFunction would (a FIFO queue hands out a group's next message after the last)."""
    sqs = boto3.client("sqs")
    url = os.environ["NOTIFY_QUEUE_URL"]
    for _ in range(100):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        for message in batch:
            _TOLD.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [body for body in _TOLD if body["kind"] == kind]


@pytest.fixture
def paused(project, events) -> tuple[Any, Slack]:
    """prod/web deploys blue/green with a pause hook after test traffic; its first deployment waits there."""
    from tests.integration.test_rollback_handler import Story

    _TOLD.clear()
    story = Story(World(project, events), breaker=PAUSED_BLUE_GREEN)
    slack = Slack(project)
    story.bus.settle(900, until=lambda: any(d.name == "HOOK_AWAITING_ACTION" for d in story.bus.deliveries))
    return story, slack


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {action["label"]: action["value"] for action in message["actions"]}


def test_a_paused_deployment_is_told_with_buttons_and_continue_finishes_it(paused) -> None:
    story, slack = paused
    [message] = told("deploy.paused")
    assert message["title"].endswith("paused at POST_TEST_TRAFFIC_SHIFT: continue?")
    assert message["facts"]["deploying"] == "web:1" and message["facts"]["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    pressed = buttons(message)
    assert set(pressed) == {"Continue", "Roll back"}
    story.bus.settle(300)
    assert story.deployments()[0]["rolloutState"] == "IN_PROGRESS"  # it waits for a person

    assert slack.press(pressed["Continue"])[0] == 200
    assert slack.work() == 1
    assert slack.calls["ContinueServiceDeployment"] == 1
    story.bus.settle(900, until=lambda: story.deployments()[0]["rolloutState"] == "COMPLETED")
    assert story.deployments()[0]["rolloutState"] == "COMPLETED"
    [decided] = [row for row in ledger().deployments.history(WEB) if row.kind == "action"]
    assert (decided.actor, decided.status) == (f"slack:{ALLOWED}", "DONE")
    updates = told("chatops.action")
    assert [m["title"] for m in updates] == [
        f"prod/web: deployment {pressed['Continue'].split('/')[-1].split()[0]} continued by <@{ALLOWED}>"
    ]
    assert updates[0]["thread_key"] == message["thread_key"]  # the paused message, updated in place
    assert len(told("deploy.paused")) == 1  # ECS's HOOK_SUCCEEDED after our click adds no message

    late = slack.press(pressed["Roll back"])  # someone else's click after the decision: told who decided
    assert late[0] == 200 and slack.work() == 1
    assert slack.calls["ContinueServiceDeployment"] == 1


def test_roll_back_at_a_pause_hook_flips_blue_green_back_without_update_service(paused) -> None:
    story, slack = paused
    assert slack.press(buttons(told("deploy.paused")[0])["Continue"])[0] == 200
    slack.work()
    story.bus.settle(900, until=lambda: story.deployments()[0]["rolloutState"] == "COMPLETED")
    story.push("next")
    story.bus.settle(900, until=lambda: len(told("deploy.paused")) == 2)
    message = told("deploy.paused")[-1]
    assert message["facts"]["deploying"] == "web:2" and message["facts"]["running"] == "web:2"
    calls_before = slack.calls["UpdateService"]

    assert slack.press(buttons(message)["Roll back"])[0] == 200
    slack.work()
    story.bus.settle(300)
    assert story.revision() == "web:1"
    assert slack.calls["UpdateService"] == calls_before  # ECS's own rollback: traffic flips back
    rolled = boto3.client("ecs").list_service_deployments(
        cluster="prod", service="web", status=["ROLLBACK_SUCCESSFUL"]
    )["serviceDeployments"]
    assert len(rolled) == 1


def test_a_hook_continued_outside_chat_is_told_once(paused) -> None:
    story, _ = paused
    [message] = told("deploy.paused")
    _, arn, hook = buttons(message)["Continue"].split()[1:]
    boto3.client("ecs").continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="CONTINUE")
    story.bus.settle(60)
    titles = [m["title"] for m in told("deploy.paused")]
    assert titles[-1].endswith("continued at POST_TEST_TRAFFIC_SHIFT outside chat (console, CLI or pipeline)")
    assert len(titles) == 2


def test_an_unanswered_hook_times_out_into_ecs_rollback_and_is_told(paused) -> None:
    story, _ = paused
    story.bus.settle(3700)  # the hook's 60 minutes pass
    titles = [m["title"] for m in told("deploy.paused")]
    assert "was not continued in time" in titles[-1]


def test_linear_pauses_before_every_traffic_step_with_a_fresh_hook(project, events) -> None:
    from tests.integration.test_rollback_handler import Story

    linear = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 1,
        "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1},
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"]}],
    }
    story = Story(World(project, events), breaker=linear)
    ecs = boto3.client("ecs")
    hooks = []
    for _ in range(2):  # 50 % then 100 %: a pause before each step
        story.bus.settle(600, until=lambda: len(_awaiting(story)) > len(hooks))
        event = _awaiting(story)[-1]
        hooks.append(event["detail"]["hookId"])
        ecs.continue_service_deployment(
            serviceDeploymentArn=event["detail"]["serviceDeploymentArn"], hookId=hooks[-1], action="CONTINUE"
        )
    story.bus.settle(900, until=lambda: story.deployments()[0]["rolloutState"] == "COMPLETED")
    assert story.deployments()[0]["rolloutState"] == "COMPLETED"
    assert len(set(hooks)) == 2


def _awaiting(story: Any) -> list[dict[str, Any]]:
    return [d.event for d in story.bus.deliveries if d.name == "HOOK_AWAITING_ACTION"]


def test_rollback_from_chat_while_blue_green_is_in_flight_is_ecs_own_rollback(paused) -> None:
    story, slack = paused
    assert slack.press(buttons(told("deploy.paused")[0])["Continue"])[0] == 200
    slack.work()
    story.bus.settle(900, until=lambda: story.deployments()[0]["rolloutState"] == "COMPLETED")
    story.push("next")
    story.bus.settle(900, until=lambda: len(told("deploy.paused")) == 2)  # web:2 in flight, paused
    calls_before = slack.calls["UpdateService"]

    assert slack.press("rollback prod/web", button=False)[0] == 200
    assert slack.work() == 1
    story.bus.settle(120)
    assert story.revision() == "web:1"
    assert slack.calls["UpdateService"] == calls_before  # StopServiceDeployment: ECS flips traffic back
    [row] = [row for row in ledger().deployments.history(WEB) if row.kind == "action"][:1]
    assert row.detail == "rollback prod/web" and row.status == "DONE"
    assert "ECS rolls back to web:1" in str(row.outcome_detail)


def test_an_approved_push_keeps_the_task_definitions_roles_and_tags(project, events) -> None:
    from tests.integration.world import EXECUTION_ROLE

    world = World(project, events)
    world.cluster("prod")
    task_definition = world.web_task_definition(
        "web",
        "shop",
        tag="latest",
        executionRoleArn=EXECUTION_ROLE,
        taskRoleArn="arn:aws:iam::123456789012:role/web-task",
        tags=[{"key": "team", "value": "shop"}],
    )
    world.service("prod", "web", task_definition, {"autopilot:deploy": "tag:latest", "autopilot:approval": "required"})
    world.inventory()
    slack = Slack(project)
    world.push("shop", "latest")
    [pending] = ledger().approvals.pending(WEB)

    assert slack.press(f"approve prod/web {pending.approval_id}")[0] == 200
    assert slack.work() == 1
    running = world.running("prod", "web")
    assert running["revision"] == 2  # registered by ChatOpsFunction's role: PassRole to ECS tasks, tags kept
    assert running["taskRoleArn"].endswith("role/web-task") and running["tags"] == [{"key": "team", "value": "shop"}]


def test_plan_tells_an_expired_approval_apart_from_a_waiting_one(held) -> None:
    from autopilot.chatops.answers import answer
    from autopilot.chatops.commands import Command
    from autopilot.handlers.common import Adapters

    _, _, approval = held
    [pending] = ledger().approvals.pending(WEB)
    command = Command(name="plan", args=["prod/web"], user=ALLOWED, channel=CHANNEL, request_id="r")
    adapters = Adapters.current()
    before = answer(command, ecs=adapters.ecs, ledger=adapters.ledger, now=pending.expires_at - 1)
    assert f"/autopilot approve prod/web {approval}" in before
    after = answer(command, ecs=adapters.ecs, ledger=adapters.ledger, now=pending.expires_at)
    assert approval not in after and after.startswith("nothing waits for approval on prod/web")
    assert "1 expired without a decision" in after
