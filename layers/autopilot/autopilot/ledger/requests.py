"""Slack requests already taken: a replayed request (the same signature) is refused for as long as Slack's
timestamp window would accept it."""

from __future__ import annotations

from autopilot.ledger.keys import slack_request_pk
from autopilot.ledger.table import TTL_ATTRIBUTE, Repository


class SeenRequests(Repository):
    def first_sighting(self, signature: str, *, now: int, keep_seconds: int) -> bool:
        """True the first time a signature is seen (and remembered until `now + keep_seconds`); False after."""
        try:
            self._client.put_item(
                TableName=self.table,
                Item={
                    "PK": {"S": slack_request_pk(signature)},
                    "SK": {"S": "-"},
                    "seen_at": {"N": str(now)},
                    TTL_ATTRIBUTE: {"N": str(now + keep_seconds)},
                },
                ConditionExpression="attribute_not_exists(PK) OR #ttl < :now",
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
