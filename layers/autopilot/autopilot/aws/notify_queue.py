"""The notification queue (SQS FIFO): functions put messages on it, the notify function dead-letters them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot.messages import Message, to_json

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10


class NotificationQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self.url = url

    def send(self, messages: list[Message]) -> None:
        """In order, 10 a call; a thread's messages share a message group, so they stay in order."""
        for start in range(0, len(messages), BATCH):
            chunk = messages[start : start + BATCH]
            response = self._client.send_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": to_json(message),
                        "MessageGroupId": message.group,
                        "MessageDeduplicationId": message.message_id,
                    }
                    for index, message in enumerate(chunk)
                ],
            )
            failed = response.get("Failed", [])
            if failed:
                raise RuntimeError(f"{len(failed)} notifications not queued: {failed[0].get('Code')}")

    def dead_letter(self, body: str, group: str, dedup: str, route: str, reason: str) -> None:
        self._client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=f"{dedup}-{route}"[:128],
            MessageAttributes={
                "route": {"DataType": "String", "StringValue": route},
                "reason": {"DataType": "String", "StringValue": reason[:1000]},
            },
        )
