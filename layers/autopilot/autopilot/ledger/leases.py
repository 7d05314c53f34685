"""Leases: a claim on a piece of work that expires, is released on failure, and becomes DONE with its outcome.
Rollbacks hold one per bad revision (every trigger of one incident shares it), lifecycle actions one per
action."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from autopilot.ledger.deployments import DeploymentRepository
from autopilot.ledger.keys import (
    ROLLBACK_PREFIX,
    STATE_SK,
    lifecycle_key,
    rollback_sk,
    service_pk,
)
from autopilot.ledger.records import Claim, ClaimState, LifecycleRecord, RollbackClaim, RollbackClaimRow
from autopilot.ledger.table import TTL_ATTRIBUTE, Repository, from_item, now_iso, serialize, to_item
from autopilot.refs import ServiceRef

CLAIM_TTL_SECONDS = 30 * 24 * 3600


class Leases(Repository):
    def acquire(self, pk: str, sk: str, owner: str, now: int, lease_seconds: int, **values: Any) -> Claim:
        """Claim work for `lease_seconds`. ACQUIRED: ours now (an earlier claim that was released or whose lease
        ran out is taken over, with its values). DONE: the work is finished (the item says how). BUSY: another
        invocation holds a live lease: the caller fails so the platform retries later."""
        names = {"#st": "state"}
        assignments = ["#st = :claimed", "owner_id = :owner", "lease_until = :until", "#ttl = :ttl"]
        attribute_values: dict[str, Any] = {
            ":claimed": {"S": "CLAIMED"},
            ":owner": {"S": owner},
            ":until": {"N": str(now + lease_seconds)},
            ":now": {"N": str(now)},
            ":ttl": {"N": str(now + CLAIM_TTL_SECONDS)},
        }
        assignments += _assign(values, names, attribute_values, keep_existing=True)
        names["#ttl"] = TTL_ATTRIBUTE
        try:
            response = self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": pk, "SK": sk}),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_not_exists(#st) OR (#st = :claimed AND lease_until < :now)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            found = self.get_item(pk, sk) or {}
            return Claim(state=ClaimState.DONE if found.get("state") == "DONE" else ClaimState.BUSY, item=found)
        return Claim(state=ClaimState.ACQUIRED, item=from_item(response["Attributes"]))

    def release(self, pk: str, sk: str, owner: str) -> None:
        """Give a claim back after a failure: its values stay (the retry resumes them), its lease ends now."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):  # no longer ours
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": pk, "SK": sk}),
                UpdateExpression="SET lease_until = :zero",
                ConditionExpression="owner_id = :owner AND #st = :claimed",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":owner": {"S": owner}, ":claimed": {"S": "CLAIMED"}},
            )

    def finish(self, pk: str, sk: str, owner: str, **values: Any) -> None:
        """Mark claimed work DONE with what came of it (only by the holder of the claim)."""
        self._client.update_item(**self.finish_request(pk, sk, owner, values))

    def finish_request(self, pk: str, sk: str, owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
        names = {"#st": "state"}
        assignments = ["#st = :done"]
        attribute_values: dict[str, Any] = {":done": {"S": "DONE"}, ":owner": {"S": owner}}
        assignments += _assign(values, names, attribute_values, keep_existing=False)
        return {
            "TableName": self.table,
            "Key": to_item({"PK": pk, "SK": sk}),
            "UpdateExpression": "SET " + ", ".join(assignments) + " REMOVE lease_until",
            "ConditionExpression": "owner_id = :owner",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": attribute_values,
        }


def _assign(
    values: Mapping[str, Any], names: dict[str, str], attribute_values: dict[str, Any], *, keep_existing: bool
) -> list[str]:
    """SET clauses for a claim's own values (None left out); with `keep_existing` a value a released claim
    already holds stays, so its retry resumes the same decision."""
    clauses = []
    for index, (key, value) in enumerate(sorted(values.items())):
        if value is None:
            continue
        names[f"#v{index}"] = key
        attribute_values[f":v{index}"] = serialize(value)
        value_ref = f"if_not_exists(#v{index}, :v{index})" if keep_existing else f":v{index}"
        clauses.append(f"#v{index} = {value_ref}")
    return clauses


class RollbackClaims(Repository):
    """One claim per bad revision of a service."""

    def __init__(self, leases: Leases, deployments: DeploymentRepository) -> None:
        super().__init__(leases.ledger_table)
        self._leases = leases
        self._deployments = deployments

    def acquire(
        self, ref: ServiceRef, bad: str, owner: str, now: int, lease_seconds: int, **values: Any
    ) -> RollbackClaim:
        claim = self._leases.acquire(
            service_pk(ref), rollback_sk(bad), owner, now, lease_seconds, bad=bad, claimed_at=now_iso(), **values
        )
        return RollbackClaim(state=claim.state, row=RollbackClaimRow.model_validate({"bad": bad, **claim.item}))

    def release(self, ref: ServiceRef, bad: str, owner: str) -> None:
        self._leases.release(service_pk(ref), rollback_sk(bad), owner)

    def finish(
        self,
        ref: ServiceRef,
        bad: str,
        owner: str,
        *,
        counted_at: int | None,
        deployment: tuple[str, str, str, str | None] | None,
        **values: Any,
    ) -> None:
        """DONE, the outcome on the ECS deployment (id, outcome, detail, status handled) and, when it rolled
        back, one more rollback counted towards the hourly loop guard: in one transaction."""
        finish = self._leases.finish_request(service_pk(ref), rollback_sk(bad), owner, values)
        items: list[dict[str, Any]] = [{"Update": finish}]
        if deployment is not None:
            items.append({"Update": self._deployments.outcome_request(ref, *deployment)})
        if counted_at is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": to_item({"PK": service_pk(ref), "SK": STATE_SK}),
                        "UpdateExpression": "SET rollbacks = list_append(if_not_exists(rollbacks, :e), :now)",
                        "ExpressionAttributeValues": {":e": {"L": []}, ":now": {"L": [{"N": str(counted_at)}]}},
                    }
                }
            )
        self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]

    def unfinished(self, ref: ServiceRef) -> list[RollbackClaimRow]:
        """Rollbacks claimed but not DONE: a failed attempt whose retry must finish what it started."""
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :r)",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}, ":r": {"S": ROLLBACK_PREFIX}},
            ConsistentRead=True,
        )
        rows = [RollbackClaimRow.model_validate(from_item(item)) for item in response.get("Items", [])]
        return [row for row in rows if row.state == "CLAIMED"]


class LifecycleClaims(Repository):
    """One claim per terminate lifecycle action (group, instance, token): DONE with the generation of its
    first wait, `completed` once CompleteLifecycleAction ran."""

    def __init__(self, leases: Leases) -> None:
        super().__init__(leases.ledger_table)
        self._leases = leases

    def acquire(self, group: str, instance: str, token: str, owner: str, now: int, lease_seconds: int) -> Claim:
        return self._leases.acquire(*lifecycle_key(group, instance, token), owner, now, lease_seconds)

    def release(self, group: str, instance: str, token: str, owner: str) -> None:
        self._leases.release(*lifecycle_key(group, instance, token), owner)

    def finish(self, group: str, instance: str, token: str, owner: str, *, outcome: str, completed: bool) -> None:
        self._leases.finish(
            *lifecycle_key(group, instance, token),
            owner,
            generation=owner,
            outcome=outcome,
            completed=completed or None,
        )

    def get(self, group: str, instance: str, token: str) -> LifecycleRecord | None:
        found = self.get_item(*lifecycle_key(group, instance, token))
        return LifecycleRecord.model_validate(found) if found else None

    def mark_completed(self, group: str, instance: str, token: str) -> None:
        pk, sk = lifecycle_key(group, instance, token)
        self._client.update_item(
            TableName=self.table,
            Key=to_item({"PK": pk, "SK": sk}),
            UpdateExpression="SET completed = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )
