"""Each service's state: frozen, quarantined digests, the image decided per repository, last-known-good, bad
revisions and the rollback loop guard; deploy decisions are written here before UpdateService."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from autopilot.ledger.keys import STATE_SK, image_attribute, service_pk
from autopilot.ledger.records import DeployedImage, DeploymentRecord, ServiceState, deployed_image_of, state_of
from autopilot.ledger.table import (
    Repository,
    serialize,
    to_item,
)
from autopilot.refs import RepositoryRef, ServiceRef


class ServiceStateRepository(Repository):
    def states(self, refs: Iterable[ServiceRef]) -> dict[ServiceRef, ServiceState]:
        """State of many services in one BatchGetItem per 100 services; absent state is the default."""
        unique = sorted(set(refs))
        states = dict.fromkeys(unique, ServiceState())
        by_key = {service_pk(ref): ref for ref in unique}
        for item in self.batch_get([to_item({"PK": service_pk(ref), "SK": STATE_SK}) for ref in unique]):
            states[by_key[item["PK"]]] = state_of(item)
        return states

    def state(self, ref: ServiceRef) -> ServiceState:
        return self.states([ref])[ref]

    def set_frozen(self, ref: ServiceRef, frozen: bool) -> None:
        self._client.update_item(
            TableName=self.table,
            Key=to_item({"PK": service_pk(ref), "SK": STATE_SK}),
            UpdateExpression="SET frozen = :f",
            ExpressionAttributeValues={":f": {"BOOL": frozen}},
        )

    def quarantine(self, ref: ServiceRef, digests: Iterable[str]) -> None:
        values = sorted(set(digests))
        if values:
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": service_pk(ref), "SK": STATE_SK}),
                UpdateExpression="ADD quarantined :d",
                ExpressionAttributeValues={":d": {"SS": values}},
            )

    def clear_quarantine(self, ref: ServiceRef, digests: Iterable[str] | None = None) -> None:
        key = to_item({"PK": service_pk(ref), "SK": STATE_SK})
        values = sorted(set(digests or ()))
        if digests is None:
            self._client.update_item(TableName=self.table, Key=key, UpdateExpression="REMOVE quarantined")
        elif values:
            self._client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="DELETE quarantined :d",
                ExpressionAttributeValues={":d": {"SS": values}},
            )

    def decide(self, record: DeploymentRecord, expected: DeployedImage | None) -> bool:
        """Write a deploy decision before acting on it: the deployment row and the service's deployed image, in
        one transaction conditioned on the deployed image being what the decision was made from. False when
        another push changed it first (the caller re-decides against the new state)."""
        deployed = DeployedImage(
            tag=record.tag,
            digest=record.digest,
            task_definition=record.new_task_definition,
            event_id=record.event_id,
            pushed_at=record.pushed_at,
        )
        row = {
            "PK": service_pk(record.service),
            "SK": record.sort_key,
            "kind": "deployment",
            "service": record.service.key,
            "previous_task_definition": record.previous_task_definition,
            "new_task_definition": record.new_task_definition,
            "repository": record.repository.key,
            "image": record.image,
            "tag": record.tag,
            "digest": record.digest,
            "event_id": record.event_id,
            "started_at": record.started_at,
            "status": record.status,
            "history": [{"status": record.status, "at": record.started_at}],
        }
        values: dict[str, Any] = {":img": serialize(deployed.as_item()), ":sk": {"S": record.sort_key}}
        if expected is None:
            condition = "attribute_not_exists(#img)"
        else:
            condition = "#img = :expected"
            values[":expected"] = serialize(expected.as_item())
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(row),
                            "ConditionExpression": "attribute_not_exists(SK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item({"PK": service_pk(record.service), "SK": STATE_SK}),
                            "UpdateExpression": "SET #img = :img, last_deployment = :sk",
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": {"#img": image_attribute(record.repository)},
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException:
            return False
        return True

    def undo_decision(self, record: DeploymentRecord, previous: DeployedImage | None, reason: str) -> None:
        """UpdateService refused the decision for good: the row says FAILED, the deployed image is what it was
        (unless a newer decision replaced ours meanwhile)."""
        key = to_item({"PK": service_pk(record.service), "SK": STATE_SK})
        names = {"#img": image_attribute(record.repository)}
        values: dict[str, Any] = {":mine": {"S": record.event_id}}
        if previous is None:
            expression = "REMOVE #img"
        else:
            expression = "SET #img = :previous"
            values[":previous"] = serialize(previous.as_item())
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression="#img.event_id = :mine",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        self._client.update_item(
            TableName=self.table,
            Key=to_item({"PK": service_pk(record.service), "SK": record.sort_key}),
            UpdateExpression="SET #s = :s, failure = :r",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "FAILED"}, ":r": {"S": reason}},
        )

    def deployed_image(self, ref: ServiceRef, repository: RepositoryRef) -> DeployedImage | None:
        """The service's deployed image for one repository, read now (consistent)."""
        found = self.get_item(service_pk(ref), STATE_SK) or {}
        value = found.get(image_attribute(repository))
        return deployed_image_of(value) if isinstance(value, dict) else None

    def set_last_known_good(self, ref: ServiceRef, task_definition: str, order_key: str) -> bool:
        """Unless a later deployment already completed: a late COMPLETED of an older one changes nothing."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": service_pk(ref), "SK": STATE_SK}),
                UpdateExpression="SET last_known_good = :td, last_known_good_order = :order",
                ConditionExpression="attribute_not_exists(last_known_good_order) OR last_known_good_order <= :order",
                ExpressionAttributeValues={":td": {"S": task_definition}, ":order": {"S": order_key}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_bad(self, ref: ServiceRef, task_definition: str, digests: Iterable[str]) -> None:
        """Mark a revision bad and quarantine its image digests for the service, in one write."""
        values: dict[str, Any] = {":td": {"SS": [task_definition]}}
        expression = "ADD bad_revisions :td"
        if sorted(set(digests)):
            values[":d"] = {"SS": sorted(set(digests))}
            expression += ", quarantined :d"
        self._client.update_item(
            TableName=self.table,
            Key=to_item({"PK": service_pk(ref), "SK": STATE_SK}),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )
