"""The notification queue (SQS FIFO): functions put messages on it, the notify function dead-letters them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot.messages import Message, to_json

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10
BATCH_BYTES = 256 * 1024  # SQS's limit for a batch's bodies together (and for one message)


class NotificationQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self._client = client
        self.url = url

    def send(self, messages: list[Message]) -> None:
        """In order, in batches of at most 10 messages and 256 KiB; a thread's messages share a message group,
        so they stay in order."""
        for chunk in batches([(message, to_json(message)) for message in messages]):
            response = self._client.send_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": body,
                        "MessageGroupId": message.group,
                        "MessageDeduplicationId": message.message_id,
                    }
                    for index, (message, body) in enumerate(chunk)
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


def batches(bodies: list[tuple[Message, str]]) -> list[list[tuple[Message, str]]]:
    """Consecutive runs of at most BATCH messages whose bodies together fit BATCH_BYTES."""
    runs: list[list[tuple[Message, str]]] = []
    size = 0
    for entry in bodies:
        length = len(entry[1].encode())
        if not runs or len(runs[-1]) == BATCH or size + length > BATCH_BYTES:
            runs.append([])
            size = 0
        runs[-1].append(entry)
        size += length
    return runs
