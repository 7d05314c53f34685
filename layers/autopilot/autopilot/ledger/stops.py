"""Stopped-task counters: per subject and stop class, in a window, with a TTL (crash-loop detection)."""

from __future__ import annotations

from autopilot.ledger.keys import stops_pk
from autopilot.ledger.table import TTL_ATTRIBUTE, Repository, from_item, to_item


class StopCounters(Repository):
    def count(
        self, subject: str, stop_class: str, now: int, *, window_seconds: int, last_exit: int | None
    ) -> tuple[int, int]:
        """Count one stop in the current window (a new window when the last one is over).
        Returns (count in this window, when the window started)."""
        key = to_item({"PK": stops_pk(subject), "SK": stop_class})
        values = {
            ":one": {"N": "1"},
            ":now": {"N": str(now)},
            ":cutoff": {"N": str(now - window_seconds)},
            ":ttl": {"N": str(now + 2 * window_seconds)},
            ":exit": {"N": str(last_exit)} if last_exit is not None else {"NULL": True},
        }
        for _ in range(3):
            try:
                response = self._client.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="ADD #c :one SET last_at = :now, last_exit = :exit, #ttl = :ttl",
                    ConditionExpression="window_start > :cutoff",
                    ExpressionAttributeNames={"#c": "count", "#ttl": TTL_ATTRIBUTE},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
                item = from_item(response["Attributes"])
                return int(item["count"]), int(item["window_start"])
            except self._client.exceptions.ConditionalCheckFailedException:
                pass
            try:
                self._client.put_item(
                    TableName=self.table,
                    Item={
                        **key,
                        "count": {"N": "1"},
                        "window_start": {"N": str(now)},
                        "last_at": {"N": str(now)},
                        "last_exit": values[":exit"],
                        TTL_ATTRIBUTE: values[":ttl"],
                    },
                    ConditionExpression="attribute_not_exists(window_start) OR window_start <= :cutoff",
                    ExpressionAttributeValues={":cutoff": values[":cutoff"]},
                )
                return 1, now
            except self._client.exceptions.ConditionalCheckFailedException:
                continue  # another invocation opened the window first: count in it
        raise RuntimeError(f"could not count a stop of {subject}")

    def close(self, subject: str) -> list[tuple[str, int]]:
        """End every open stop window of a subject; returns (class, count) of each."""
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": stops_pk(subject)}},
        )
        closed = []
        for raw in response.get("Items", []):
            item = from_item(raw)
            self._client.delete_item(TableName=self.table, Key=to_item({"PK": item["PK"], "SK": item["SK"]}))
            closed.append((str(item["SK"]), int(item.get("count", 0))))
        return closed
