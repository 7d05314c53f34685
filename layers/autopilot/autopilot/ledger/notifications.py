"""Notifications: the chat thread a thread key lives in per route, and which messages reached which route."""

from __future__ import annotations

import time

from autopilot.ledger.keys import delivered_pk, thread_pk
from autopilot.ledger.records import Thread
from autopilot.ledger.table import TTL_ATTRIBUTE, Repository, from_item, to_item


class NotificationRecords(Repository):
    def thread(self, route: str, thread_key: str) -> Thread | None:
        response = self._client.get_item(
            TableName=self.table, Key=to_item({"PK": thread_pk(route), "SK": thread_key}), ConsistentRead=True
        )
        return Thread.model_validate(from_item(response["Item"])) if "Item" in response else None

    def save_thread(self, route: str, thread_key: str, channel: str, ts: str) -> None:
        now = int(time.time())
        self._client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "PK": thread_pk(route),
                    "SK": thread_key,
                    "channel": channel,
                    "ts": ts,
                    "at": now,
                    TTL_ATTRIBUTE: now + 30 * 24 * 3600,
                }
            ),
        )

    def delivered(self, route: str, message_id: str) -> bool:
        response = self._client.get_item(
            TableName=self.table, Key=to_item({"PK": delivered_pk(route), "SK": message_id}), ConsistentRead=True
        )
        return "Item" in response

    def mark_delivered(self, route: str, message_id: str) -> None:
        now = int(time.time())
        self._client.put_item(
            TableName=self.table,
            Item=to_item({"PK": delivered_pk(route), "SK": message_id, "at": now, TTL_ATTRIBUTE: now + 7 * 24 * 3600}),
        )
