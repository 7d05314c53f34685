"""Deploy → fail → rollback, told through the real handlers, the notification queue, NotifyFunction and a
local chat sink that speaks Slack's Web API and takes webhooks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import boto3
import pytest

from autopilot.aws import clients
from autopilot.local.chat_sink import Behaviour, ChatSink
from autopilot.local.pump import pump
from autopilot.notify.channels import signature
from tests.integration.test_rollback_handler import BAD, Story, deployment_events
from tests.integration.world import World

BOT_TOKEN = "xoxb-1111111111-2222222222-SeCrEtToKeNvAlUe"
SIGNING_SECRET = "whsec-very-secret-signing-key-0123456789"
PAGERDUTY_KEY = "R0UTINGKEYSECRET0123456789abcdef"


@pytest.fixture
def sink() -> Iterator[ChatSink]:
    running = ChatSink().start()
    yield running
    running.stop()


def configure_routes(sink: ChatSink, **extra_routes: dict) -> None:
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="ecs-autopilot/slack-bot", SecretString=json.dumps({"token": BOT_TOKEN}))
    secrets.create_secret(
        Name="ecs-autopilot/ops-webhook",
        SecretString=json.dumps({"url": sink.url("/webhook"), "signing_secret": SIGNING_SECRET}),
    )
    routes = {
        "slack": {
            "type": "slack_bot",
            "secret": "ecs-autopilot/slack-bot",
            "channel": "C0DEPLOYS",
            "api_url": sink.url("/api/"),
        },
        "ops": {"type": "webhook", "secret": "ecs-autopilot/ops-webhook"},
        **extra_routes,
    }
    document = {"policies": {}, "routes": routes, "defaults": {"routes": list(routes)}}
    boto3.client("ssm").put_parameter(
        Name="/ecs-autopilot/config", Value=json.dumps(document), Type="String", Overwrite=True
    )
    clients.clear_caches()  # the functions read the document again (in Lambda: within CONFIG_MAX_AGE_SECONDS)


def deploy_fail_rollback(story: Story) -> None:
    story.first_deployment_completes()
    pump(story.world.project, os.environ["NOTIFY_QUEUE_URL"])  # told to no route: none configured yet


def run_failure(story: Story) -> None:
    """A bad build fails on the emulated ECS; its deployment's events (not its tasks') reach RollbackFunction."""
    story.push("bad", BAD)
    bad = story.primary_id()
    held = story.collect()
    for name in ("IN_PROGRESS", "FAILED"):
        story.rollback(deployment_events(held, name, bad)[0])
    pump(story.world.project, os.environ["NOTIFY_QUEUE_URL"])


@pytest.fixture
def story(aws, project, events) -> Story:
    return Story(World(project, events))


def test_a_slack_bot_route_gets_one_living_message_and_a_webhook_route_three_messages_in_order(
    story: Story, sink: ChatSink
) -> None:
    deploy_fail_rollback(story)
    configure_routes(sink)
    run_failure(story)

    posts = [item.form_or_json for item in sink.delivered("/api/chat.postMessage")]
    updates = [item.form_or_json for item in sink.delivered("/api/chat.update")]
    parents = [post for post in posts if not post.get("thread_ts")]
    replies = [post for post in posts if post.get("thread_ts")]
    assert len(parents) == 1
    assert parents[0]["channel"] == "C0DEPLOYS"
    assert "deploying" in parents[0]["text"]
    assert len(updates) == 2
    assert {update["ts"] for update in updates} == {reply["thread_ts"] for reply in replies} == {"1.000100"}
    assert "rolled back to web:1" in updates[-1]["text"]
    assert len(replies) == 2

    hooks = sink.delivered("/webhook")
    assert [item.json["kind"] for item in hooks] == ["deploy.started", "deploy.failed", "rollback.done"]
    for item in hooks:
        headers = {key.lower(): value for key, value in item.headers.items()}
        assert headers["x-autopilot-signature"] == signature(
            SIGNING_SECRET, headers["x-autopilot-timestamp"], item.body
        )


def test_an_endpoint_failing_its_first_two_calls_still_gets_every_message_once(story: Story, sink: ChatSink) -> None:
    deploy_fail_rollback(story)
    configure_routes(sink)
    sink.script("/webhook", Behaviour(status=500), Behaviour(status=429, retry_after="0"))
    run_failure(story)
    assert [item.json["kind"] for item in sink.delivered("/webhook")] == [
        "deploy.started",
        "deploy.failed",
        "rollback.done",
    ]


def test_a_broken_route_is_one_clear_error_and_the_others_still_deliver(story: Story, sink: ChatSink) -> None:
    deploy_fail_rollback(story)
    configure_routes(sink, pager={"type": "pagerduty", "secret": "ecs-autopilot/does-not-exist"})
    run_failure(story)
    assert len(sink.delivered("/webhook")) == 3
    dead = (
        boto3.client("sqs")
        .receive_message(QueueUrl=os.environ["NOTIFY_DLQ_URL"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )
    reasons = {m["MessageAttributes"]["reason"]["StringValue"] for m in dead}
    assert reasons == {"secret ecs-autopilot/does-not-exist is ResourceNotFoundException"}


def test_a_permanent_400_goes_to_the_dead_letter_queue_with_its_reason(story: Story, sink: ChatSink) -> None:
    deploy_fail_rollback(story)
    configure_routes(sink)
    sink.script("/webhook", Behaviour(status=400))
    run_failure(story)
    dead = (
        boto3.client("sqs")
        .receive_message(QueueUrl=os.environ["NOTIFY_DLQ_URL"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )
    assert [
        (m["MessageAttributes"]["route"]["StringValue"], m["MessageAttributes"]["reason"]["StringValue"]) for m in dead
    ] == [("ops", "route ops: HTTP 400, not retried")]
    assert json.loads(dead[0]["Body"])["kind"] == "deploy.started"
    assert [item.json["kind"] for item in sink.delivered("/webhook")] == ["deploy.failed", "rollback.done"]


def test_no_secret_value_appears_in_any_log_line(story: Story, sink: ChatSink, capsys, caplog) -> None:
    caplog.set_level("DEBUG")
    deploy_fail_rollback(story)
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="ecs-autopilot/pager", SecretString=PAGERDUTY_KEY)
    configure_routes(
        sink,
        pager={"type": "pagerduty", "secret": "ecs-autopilot/pager", "endpoint": sink.url("/pagerduty/v2/enqueue")},
    )
    sink.script("/webhook", Behaviour(status=503), Behaviour(status=400))  # a retry, then a dead letter
    sink.script("/pagerduty/v2/enqueue", Behaviour(status=429, retry_after="0"))
    run_failure(story)
    assert sink.delivered("/pagerduty")  # the PagerDuty route did deliver (trigger, then resolve)
    captured = capsys.readouterr()
    everything = (
        captured.out + captured.err + "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    )
    assert "notification" in everything  # the logs were captured
    for secret in (BOT_TOKEN, SIGNING_SECRET, PAGERDUTY_KEY, sink.url("/webhook")):
        assert secret not in everything


def test_every_channel_type_delivers_through_its_route(aws, sink: ChatSink) -> None:
    from autopilot.config.document import ConfigDocument
    from autopilot.handlers.common import Adapters
    from autopilot.handlers.notify import notify_ports
    from autopilot.messages import Message, Severity
    from autopilot.notify.deliver import deliver

    secrets = boto3.client("secretsmanager")
    for name, path in (("slack-hook", "/slack"), ("teams", "/teams"), ("discord", "/discord"), ("gchat", "/gchat")):
        secrets.create_secret(Name=f"ecs-autopilot/{name}", SecretString=json.dumps({"url": sink.url(path)}))
    secrets.create_secret(Name="ecs-autopilot/pager", SecretString=json.dumps({"routing_key": PAGERDUTY_KEY}))
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="ecs-autopilot-email")["TopicArn"]
    sqs = boto3.client("sqs")
    inbox = sqs.create_queue(QueueName="email-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    document = ConfigDocument.model_validate(
        {
            "routes": {
                "slack": {"type": "slack_webhook", "secret": "ecs-autopilot/slack-hook"},
                "teams": {"type": "teams", "secret": "ecs-autopilot/teams"},
                "discord": {"type": "discord", "secret": "ecs-autopilot/discord"},
                "gchat": {"type": "google_chat", "secret": "ecs-autopilot/gchat"},
                "pager": {
                    "type": "pagerduty",
                    "secret": "ecs-autopilot/pager",
                    "endpoint": sink.url("/pagerduty/v2/enqueue"),
                },
                "mail": {"type": "email", "topic_arn": topic},
                "quiet": {"type": "discord", "secret": "ecs-autopilot/discord", "min_severity": "critical"},
            }
        }
    )
    message = Message(
        kind="deploy.failed",
        severity=Severity.ERROR,
        service="prod/web",
        title="prod/web: failed",
        facts={"reason": "boom"},
        thread_key="prod/web#ecs-svc/9",
        routes=list(document.routes),
    )
    report = deliver(message, document, notify_ports(Adapters.current()))
    assert {r.route: r.status for r in report.results} == {
        "slack": "DELIVERED",
        "teams": "DELIVERED",
        "discord": "DELIVERED",
        "gchat": "DELIVERED",
        "pager": "DELIVERED",
        "mail": "DELIVERED",
        "quiet": "SKIPPED",
    }
    assert (
        sink.delivered("/teams")[0].json["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    )
    assert sink.delivered("/gchat")[0].path.endswith("messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
    assert sink.delivered("/pagerduty")[0].json["dedup_key"] == "prod/web#ecs-svc/9"
    assert len(sink.delivered("/discord")) == 1  # the quiet route (critical only) took nothing
    mail = json.loads(sqs.receive_message(QueueUrl=inbox)["Messages"][0]["Body"])
    assert mail["Subject"] == "[error] prod/web: failed"
    # delivered once per route: handing the same message over again posts nothing more
    again = deliver(message, document, notify_ports(Adapters.current()))
    assert {r.status for r in again.results} == {"DUPLICATE", "SKIPPED"}
    assert len(sink.delivered("/slack")) == 1
