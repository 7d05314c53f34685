"""What Lambda's SQS event source does, locally: receive from the notification queue, invoke NotifyFunction
with the SQS event shape, delete what it did not report as failed."""

from __future__ import annotations

import hashlib
from typing import Any

import boto3

from autopilot.local.project import Project


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


def pump(project: Project, queue_url: str, *, function: str = "NotifyFunction", rounds: int = 20) -> int:
    """Deliver everything waiting on the queue; returns the number of messages handled."""
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handled = 0
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        ).get("Messages", [])
        if not messages:
            break
        try:
            result = project.invoke(function, sqs_event(messages, arn, sqs.meta.region_name))
        except Exception:
            break
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                handled += 1
        if failed:
            break
    return handled
