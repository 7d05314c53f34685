"""Deployments: the ones we decided (`DEPLOY#` rows, one per push and service) and ECS's own, by deployment
id, with their status changes and outcome; a service's history; operators' manual rollbacks."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from autopilot.ledger.keys import (
    MANUAL_PREFIX,
    STATE_SK,
    deploy_prefix,
    ecs_deployment_sk,
    manual_sk,
    observed_sk,
    record_kind,
    service_pk,
)
from autopilot.ledger.records import (
    DeploymentChange,
    DeployRow,
    EcsDeploymentRow,
    HistoryRow,
    Recorded,
    RecordedAs,
    parse_time,
)
from autopilot.ledger.table import Repository, from_item, now_iso, serialize, to_item
from autopilot.refs import ServiceRef


def _history_row(item: dict[str, Any]) -> HistoryRow:
    when = item.get("updated_at") or item.get("started_at") or item.get("claimed_at") or item.get("at")
    return HistoryRow.model_validate(
        {**item, "kind": record_kind(str(item["SK"])), "at": parse_time(when), "steps": item.get("history", [])}
    )


class DeploymentRepository(Repository):
    def record_ecs_change(self, change: DeploymentChange) -> Recorded:
        """Record one status change unless it or a newer one is already recorded (events arrive duplicated and
        out of order: the order key is the deployment's updatedAt, then the status rank, then the event time).
        NEW: recorded now. SAME: this very change was recorded before (a redelivery or a retry, which goes on
        with whatever is not done yet). STALE: a newer change is recorded; this one changes nothing."""
        entry = {
            "status": change.status,
            "at": change.updated_at,
            "event_time": change.event_time,
            "reason": change.reason,
        }
        try:
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": service_pk(change.service), "SK": ecs_deployment_sk(change.deployment_id)}),
                UpdateExpression=(
                    "SET #status = :status, order_key = :order, task_definition = if_not_exists(task_definition, :td), "
                    "deployment_id = :id, service = :service, updated_at = :updated, kind = :kind, "
                    "created_at = if_not_exists(created_at, :created), "
                    "history = list_append(if_not_exists(history, :empty), :entry)"
                ),
                ConditionExpression="attribute_not_exists(order_key) OR order_key < :order",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": change.status},
                    ":order": {"S": change.order_key},
                    ":td": {"S": change.task_definition},
                    ":id": {"S": change.deployment_id},
                    ":service": {"S": change.service.key},
                    ":updated": {"S": change.updated_at},
                    ":kind": {"S": "ecs-deployment"},
                    ":created": {"S": change.created_at or change.updated_at},
                    ":empty": {"L": []},
                    ":entry": {"L": [serialize({k: v for k, v in entry.items() if v})]},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            recorded = self.ecs_deployment(change.service, change.deployment_id)
            same = recorded is not None and recorded.order_key == change.order_key
            return Recorded(status=RecordedAs.SAME if same else RecordedAs.STALE, row=recorded)
        return Recorded(status=RecordedAs.NEW)

    def ecs_deployment(self, ref: ServiceRef, deployment_id: str) -> EcsDeploymentRow | None:
        found = self.get_item(service_pk(ref), ecs_deployment_sk(deployment_id))
        return EcsDeploymentRow.model_validate(found) if found else None

    def set_outcome(
        self, ref: ServiceRef, deployment_id: str, outcome: str, detail: str = "", handled: str | None = None
    ) -> None:
        """The outcome of a deployment; `handled` names the status change whose handling this completes (a
        redelivery of that change is then a duplicate; a retry of an unfinished one is not)."""
        self._client.update_item(**self.outcome_request(ref, deployment_id, outcome, detail, handled))

    def outcome_request(
        self, ref: ServiceRef, deployment_id: str, outcome: str, detail: str, handled: str | None = None
    ) -> dict[str, Any]:
        values = {":o": {"S": outcome}, ":d": {"S": detail}, ":t": {"S": now_iso()}}
        expression = "SET outcome = :o, outcome_detail = :d, outcome_at = :t"
        if handled:
            values[":h"] = {"S": handled}
            expression += ", handled = :h"
        return {
            "TableName": self.table,
            "Key": to_item({"PK": service_pk(ref), "SK": ecs_deployment_sk(deployment_id)}),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }

    def set_deploy_status(self, ref: ServiceRef, task_definition: str, status: str, at: str) -> bool:
        """Carry an outcome over to the deployment we started of `task_definition`, if we started one."""
        for row in self._our_items(ref, limit=20):
            if row.get("new_task_definition") == task_definition:
                if row.get("status") == status:
                    return True  # already carried over (a retried invocation)
                with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                    self._client.update_item(
                        TableName=self.table,
                        Key=to_item({"PK": service_pk(ref), "SK": row["SK"]}),
                        UpdateExpression="SET #s = :s, history = list_append(if_not_exists(history, :e), :h)",
                        ConditionExpression="#s <> :s",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={
                            ":s": {"S": status},
                            ":e": {"L": []},
                            ":h": {"L": [serialize({"status": status, "at": at})]},
                        },
                    )
                return True
        return False

    def ours(self, ref: ServiceRef, limit: int = 50) -> list[DeployRow]:
        """The deployments we decided for a service, newest push first."""
        return [DeployRow.model_validate(item) for item in self._our_items(ref, limit)]

    def _our_items(self, ref: ServiceRef, limit: int) -> list[dict[str, Any]]:
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :d)",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}, ":d": {"S": deploy_prefix()}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [from_item(item) for item in response.get("Items", [])]

    def history(self, ref: ServiceRef, limit: int = 100) -> list[HistoryRow]:
        """Deployments we started, ECS deployments, rollbacks and manual rollbacks, newest first; `kind` says
        which (deployment, ecs-deployment, rollback, manual-rollback), `at` when, in one format."""
        paginator = self._client.get_paginator("query")
        rows = []
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}},
        ):
            for raw in page.get("Items", []):
                if raw["SK"]["S"] != STATE_SK:
                    rows.append(_history_row(from_item(raw)))
        epoch = datetime.min.replace(tzinfo=UTC)
        rows.sort(key=lambda row: row.at or epoch, reverse=True)
        return rows[:limit]

    def record_observation(self, ref: ServiceRef, at: str, subject: str, detail: str) -> None:
        """What observe mode would have done (`subject` keeps a retried event's row the same row)."""
        self._client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "PK": service_pk(ref),
                    "SK": observed_sk(at, subject),
                    "kind": "observation",
                    "service": ref.key,
                    "at": at,
                    "detail": detail,
                    "status": "OBSERVED",
                }
            ),
        )

    def manual_rollback_targets(self, ref: ServiceRef, limit: int = 10) -> set[str]:
        """The revisions the service's last manual rollbacks went to (one query, newest first)."""
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :manual)",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}, ":manual": {"S": MANUAL_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return {str(from_item(raw).get("new_task_definition", "")) for raw in response.get("Items", [])} - {""}

    def record_manual_rollback(self, ref: ServiceRef, previous: str, target: str, actor: str) -> None:
        """An operator's rollback, so the history shows it beside the automatic ones."""
        at = now_iso()
        self._client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "PK": service_pk(ref),
                    "SK": manual_sk(at),
                    "kind": "manual-rollback",
                    "service": ref.key,
                    "previous_task_definition": previous,
                    "new_task_definition": target,
                    "actor": actor,
                    "at": at,
                    "started_at": at,
                    "status": "ROLLED_BACK",
                }
            ),
        )
