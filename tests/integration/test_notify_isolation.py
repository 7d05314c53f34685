"""Notification isolation: one bad message or route fails alone; routes never send outside their service."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from autopilot.aws import clients
from autopilot.aws.notify_queue import NotificationQueue
from autopilot.local.chat_sink import ChatSink
from autopilot.messages import Message, Severity
from autopilot.settings import get_settings
from tests.faults import drain_queue


@pytest.fixture
def sink(aws) -> Iterator[ChatSink]:
    running = ChatSink().start()
    yield running
    running.stop()


SECRETS_PREFIX = "ecs-autopilot/"  # the template's NotificationSecretsPrefix: NotifyFunction may read only these


def configure(routes: dict[str, dict], secrets: dict[str, dict]) -> None:
    """Routes and their secrets, the secrets named under the prefix NotifyFunction's role may read."""
    for name, value in secrets.items():
        boto3.client("secretsmanager").create_secret(Name=SECRETS_PREFIX + name, SecretString=json.dumps(value))
    routes = {name: {**route, "secret": SECRETS_PREFIX + route["secret"]} for name, route in routes.items()}
    document = {"routes": routes, "defaults": {"routes": list(routes)}}
    boto3.client("ssm").put_parameter(
        Name="/ecs-autopilot/config", Value=json.dumps(document), Type="String", Overwrite=True
    )
    clients.clear_caches()


def message(number: int, routes: list[str] | None = None) -> Message:
    return Message(
        kind="deploy.completed",
        severity=Severity.SUCCESS,
        service=f"prod/svc{number}",
        title=f"prod/svc{number}: deployment completed",
        thread_key=f"prod/svc{number}#deploy",
        routes=routes or [],
    )


def dead_letters() -> list[dict]:
    sqs = boto3.client("sqs")
    found = sqs.receive_message(
        QueueUrl=os.environ["NOTIFY_DLQ_URL"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return [
        {
            "route": m["MessageAttributes"]["route"]["StringValue"],
            "reason": m["MessageAttributes"]["reason"]["StringValue"],
        }
        for m in found
    ]


def refuse_batches_over_256_kib(params: dict, **_: object) -> None:
    """What SQS answers to a batch whose bodies exceed its limit."""
    if sum(len(entry["MessageBody"].encode()) for entry in params["Entries"]) > 256 * 1024:
        raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.BatchRequestTooLong"}}, "SendMessageBatch")


def notify(project) -> int:
    return drain_queue(lambda event: project.invoke("NotifyFunction", event), os.environ["NOTIFY_QUEUE_URL"])


def test_a_poison_message_dead_letters_alone_and_its_batch_is_delivered(project, sink: ChatSink) -> None:
    configure(
        {"ops": {"type": "webhook", "secret": "ops"}},
        {"ops": {"url": sink.url("/webhook"), "signing_secret": "0123456789abcdef0123"}},
    )
    sqs = boto3.client("sqs")
    url = os.environ["NOTIFY_QUEUE_URL"]
    sqs.send_message(QueueUrl=url, MessageBody='{"kind": 1}', MessageGroupId="poison", MessageDeduplicationId="p")
    NotificationQueue(sqs, url).send([message(number) for number in range(9)])
    notify(project)
    assert sorted(item.json["title"] for item in sink.delivered("/webhook")) == sorted(
        message(number).title for number in range(9)
    )
    assert [(d["route"], d["reason"].split(":")[0]) for d in dead_letters()] == [("-", "not a notification message")]


def test_a_route_with_a_malformed_url_fails_only_its_own_messages(project, sink: ChatSink) -> None:
    configure(
        {"ops": {"type": "webhook", "secret": "ops"}, "broken": {"type": "slack_webhook", "secret": "broken"}},
        {
            "ops": {"url": sink.url("/webhook"), "signing_secret": "0123456789abcdef0123"},
            "broken": {"url": "hooks.slack.com/services/T0/B0/not-a-url"},
        },
    )
    queue = NotificationQueue(boto3.client("sqs"), os.environ["NOTIFY_QUEUE_URL"])
    queue.send([message(1, ["broken"]), *(message(number, ["ops"]) for number in range(2, 11))])
    notify(project)
    assert len(sink.delivered("/webhook")) == 9
    [dead] = dead_letters()
    assert dead["route"] == "broken" and "configuration error" in dead["reason"]


@pytest.mark.parametrize(
    ("channel", "secret", "extra"),
    [
        ("webhook", {"url": "http://169.254.169.254/latest/meta-data/", "signing_secret": "x" * 20}, {}),
        ("webhook", {"url": "https://169.254.169.254/latest/", "signing_secret": "x" * 20}, {}),
        ("webhook", {"url": "SINK", "signing_secret": "x" * 20}, {}),
        ("slack_webhook", {"url": "SINK"}, {}),
        ("pagerduty", {"routing_key": "R0UTINGKEYSECRET0123456789abcdef"}, {"endpoint": "SINK"}),
        ("slack_bot", {"token": "xoxb-1111111111-2222222222-SeCrEtToKeNvAlUe"}, {"api_url": "SINK", "channel": "C1"}),
    ],
    ids=["metadata-http", "ip-literal", "loopback-webhook", "slack-to-elsewhere", "pagerduty-key", "slack-token"],
)
def test_a_route_outside_its_service_is_refused_and_nothing_reaches_it(
    project, sink: ChatSink, monkeypatch, channel, secret, extra
) -> None:
    monkeypatch.setenv("AUTOPILOT_LOCAL_ENDPOINTS", "false")  # as deployed: no loopback exception
    get_settings.cache_clear()
    target = sink.url("/api/") if channel == "slack_bot" else sink.url("/anything")
    secret = {key: target if value == "SINK" else value for key, value in secret.items()}
    extra = {key: target if value == "SINK" else value for key, value in extra.items()}
    configure({"route": {"type": channel, "secret": "route", **extra}}, {"route": secret})
    NotificationQueue(boto3.client("sqs"), os.environ["NOTIFY_QUEUE_URL"]).send([message(1)])
    notify(project)
    assert sink.received == []  # not a single request reached the server
    [dead] = dead_letters()
    assert "configuration error: route route" in dead["reason"]


def test_messages_carrying_megabytes_of_event_text_are_queued_and_delivered(project, sink: ChatSink) -> None:
    configure(
        {"ops": {"type": "webhook", "secret": "ops"}},
        {"ops": {"url": sink.url("/webhook"), "signing_secret": "0123456789abcdef0123"}},
    )
    huge = [
        message(number).model_copy(update={"facts": {f"reason {i}": "x" * 100_000 for i in range(40)}})
        for number in range(12)
    ]
    bounded = [Message.model_validate(m.model_dump()) for m in huge]  # as emit() and the queue see them
    sqs = boto3.client("sqs")
    sqs.meta.events.register("before-parameter-build.sqs.SendMessageBatch", refuse_batches_over_256_kib)  # as SQS
    NotificationQueue(sqs, os.environ["NOTIFY_QUEUE_URL"]).send(bounded)
    notify(project)
    assert len(sink.delivered("/webhook")) == 12
    assert dead_letters() == []
