"""Pushes held for approval, one row per (service, push): decided once, by a conditional write."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from autopilot.ledger.keys import approval_prefix, approval_sk, service_pk
from autopilot.ledger.records import Approval
from autopilot.ledger.table import TTL_ATTRIBUTE, Repository, from_item, to_item
from autopilot.refs import ServiceRef

KEEP_SECONDS = 90 * 24 * 3600  # decided approvals stay in a service's history this long


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


class ApprovalRepository(Repository):
    def request(self, ref: ServiceRef, approval: Approval) -> list[Approval]:
        """Hold a push for approval (again: a retried push keeps the row it wrote). The service's older pending
        approvals are superseded by it; they are returned, so their messages can say so."""
        superseded = []
        for older in self.pending(ref):
            if older.approval_id != approval.approval_id and self._decide(
                ref, older.approval_id, "SUPERSEDED", by=None, now=approval.requested_at, note=approval.approval_id
            ):
                superseded.append(older.model_copy(update={"status": "SUPERSEDED"}))
        item = {
            "PK": service_pk(ref),
            "SK": approval_sk(approval.approval_id),
            **approval.model_dump(exclude_none=True),
            "kind": "approval",
            "at": _iso(approval.requested_at),  # when, for the service's history
            TTL_ATTRIBUTE: approval.expires_at + KEEP_SECONDS,
        }
        # a row written by an earlier attempt of this push stays as it is
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(SK)"
            )
        return superseded

    def get(self, ref: ServiceRef, approval_id: str) -> Approval | None:
        response = self._client.get_item(
            TableName=self.table,
            Key=to_item({"PK": service_pk(ref), "SK": approval_sk(approval_id)}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Approval.model_validate(from_item(item)) if item else None

    def pending(self, ref: ServiceRef) -> list[Approval]:
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            FilterExpression="#status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {":pk": service_pk(ref), ":prefix": approval_prefix(), ":pending": "PENDING"}
            ),
            ConsistentRead=True,
        )
        return [Approval.model_validate(from_item(item)) for item in response.get("Items", [])]

    def decide(self, ref: ServiceRef, approval_id: str, status: str, *, by: str | None, now: int) -> bool:
        """PENDING → `status`, once: True for the one call that made the change (a double click, Slack's retry
        or a second approver gets False); never after the approval expired."""
        return self._decide(ref, approval_id, status, by=by, now=now, note=None)

    def _decide(
        self, ref: ServiceRef, approval_id: str, status: str, *, by: str | None, now: int, note: str | None
    ) -> bool:
        values = {
            ":pending": "PENDING",
            ":status": status,
            ":now": now,
            ":at": _iso(now),
            ":by": by or "-",
            ":note": note or "-",
        }
        try:
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": service_pk(ref), "SK": approval_sk(approval_id)}),
                UpdateExpression=(
                    "SET #status = :status, decided_by = :by, decided_at = :now, superseded_by = :note, #at = :at"
                ),
                ConditionExpression="#status = :pending AND expires_at > :now",
                ExpressionAttributeNames={"#status": "status", "#at": "at"},
                ExpressionAttributeValues=to_item(values),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
