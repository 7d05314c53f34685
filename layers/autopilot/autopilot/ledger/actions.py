"""What people did from chat, one row per action: who, what, when, and how it ended (a service's history
shows it). The row is written before the action is carried out and finished after, so a retry finds it and an
event about the action's effect (a pause hook continued) knows who caused it."""

from __future__ import annotations

from autopilot.ledger.keys import action_sk, service_pk
from autopilot.ledger.records import ActionRecord
from autopilot.ledger.table import Repository, from_item, now_iso, to_item
from autopilot.refs import ServiceRef


class ActionRepository(Repository):
    def begin(
        self, ref: ServiceRef, key: str, *, action: str, actor: str, detail: str, request: str
    ) -> ActionRecord | None:
        """Write the action as REQUESTED; None when a row with this key is there already (returned instead by
        `get`: a retried request, or the second click on a button only one may press)."""
        record = ActionRecord(
            service=ref.key,
            key=key,
            action=action,
            actor=actor,
            detail=detail,
            request=request,
            status="REQUESTED",
            at=now_iso(),
        )
        try:
            self._client.put_item(
                TableName=self.table,
                Item=to_item({"PK": service_pk(ref), "SK": action_sk(key), **record.model_dump(exclude_none=True)}),
                ConditionExpression="attribute_not_exists(SK)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return record

    def finish(self, ref: ServiceRef, key: str, *, status: str, outcome: str) -> None:
        self._client.update_item(
            TableName=self.table,
            Key=to_item({"PK": service_pk(ref), "SK": action_sk(key)}),
            UpdateExpression="SET #status = :status, outcome_detail = :outcome, updated_at = :at",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":status": status, ":outcome": outcome, ":at": now_iso()}),
        )

    def get(self, ref: ServiceRef, key: str) -> ActionRecord | None:
        response = self._client.get_item(
            TableName=self.table,
            Key=to_item({"PK": service_pk(ref), "SK": action_sk(key)}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return ActionRecord.model_validate(from_item(item)) if item else None
