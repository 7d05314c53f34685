"""What Lambda's SQS event source does, locally: receive from the notification queue, invoke NotifyFunction
with the SQS event shape, delete what it did not report as failed."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from autopilot.local.project import Project
from autopilot.observability import logger


def sqs_event(messages: list[Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The SQS event Lambda sends (Lambda Developer Guide, "Using Lambda with Amazon SQS")."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


@dataclass
class SourceRun:
    invocations: int = 0
    handled: int = 0
    drained: bool = False


def run_event_source(
    invoke: Callable[[dict[str, Any]], Any],
    queue_url: str,
    *,
    sqs: Any = None,
    rounds: int = 20,
    redeliver_failures: bool = False,
) -> SourceRun:
    """Receive up to 10 messages, invoke with the SQS event, delete what the batch did not report as failed.
    When the invocation fails, every message comes back. With `redeliver_failures` the failed ones are
    received again in the next round, as SQS does after their visibility timeout; else the run stops there."""
    sqs = sqs or boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    run = SourceRun()
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=IN_FLIGHT_SECONDS,
        ).get("Messages", [])
        if not messages:
            run.drained = True
            return run
        run.invocations += 1
        try:
            result = invoke(sqs_event(messages, arn, sqs.meta.region_name))
        except Exception:
            _time_out(sqs, queue_url, messages)
            if redeliver_failures:
                continue
            return run
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                run.handled += 1
        _time_out(sqs, queue_url, [message for message in messages if message["MessageId"] in failed])
        if failed and not redeliver_failures:
            return run
    return run


IN_FLIGHT_SECONDS = 30


def _time_out(sqs: Any, queue_url: str, messages: list[Any]) -> None:
    """Their visibility timeout passes at once: they are received again, in order. (Received in flight and
    made visible again, as SQS does; moto hands a FIFO group's messages back out of order when they were
    received with a visibility timeout of 0.)"""
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


class NotificationPump:
    """Lambda's SQS event source for the notification queue, in a background thread of `local up`: every
    second, what is on the queue goes to NotifyFunction (and so to the chat sink)."""

    def __init__(self, project: Project, queue_url: str, *, every_seconds: float = 1.0) -> None:
        self._project = project
        self._queue_url = queue_url
        self._every = every_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notification-pump", daemon=True)

    def start(self) -> NotificationPump:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                pump(self._project, self._queue_url)
            except Exception:
                logger.exception("notification pump round failed")


def pump(project: Project, queue_url: str, *, function: str = "NotifyFunction", rounds: int = 20) -> int:
    """Deliver everything waiting on the queue; returns the number of messages handled."""
    return run_event_source(lambda event: project.invoke(function, event), queue_url, rounds=rounds).handled


def run_event_source_on_clock(
    invoke: Callable[[dict[str, Any]], Any],
    queue_url: str,
    clock: Any,
    *,
    sqs: Any = None,
    visibility_timeout: int = 720,
    poll_seconds: float = 1.0,
    max_seconds: float = 24 * 3600,
) -> SourceRun:
    """Lambda's SQS event source for a queue whose messages wait (delays, visibility timeouts) on a simulated
    clock (`local.clock`): receive up to 10, invoke, delete what the batch did not report as failed (those come
    back after the visibility timeout); when nothing is visible but messages wait, the clock moves on. One
    poller: batches run one after another (Lambda's MaximumConcurrency would run two at once)."""
    sqs = sqs or boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    run = SourceRun()
    started = clock.time()
    while clock.time() - started < max_seconds:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=visibility_timeout
        ).get("Messages", [])
        if not messages:
            counts = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if not any(int(value) for value in counts.values()):
                run.drained = True
                return run
            clock.sleep(poll_seconds)
            continue
        run.invocations += 1
        try:
            result = invoke(sqs_event(messages, arn, sqs.meta.region_name))
        except Exception:
            logger.exception("event source invocation failed; the batch comes back after its visibility timeout")
            continue
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                run.handled += 1
    return run
