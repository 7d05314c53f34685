"""The ledger: one DynamoDB table holding the repository → services index, service state and deployments.

Keys (PK, SK):
- `INDEX#REPO#<registry>/<repo>`, `<cluster>/<service>`  one index entry: this service uses this repository
- `INDEX#SERVICES`, `<cluster>/<service>`                 the repositories a service was indexed under
- `SERVICE#<cluster>/<service>`, `STATE`                  frozen flag, quarantined digests, deployed images
                                                          (each the decision of one push: tag, digest, revision,
                                                          event id), loop-guard rollback times
- `SERVICE#<cluster>/<service>`, `DEPLOY#<push time>#<event id>`  one deployment we decided (same key on retries)
- `SERVICE#<cluster>/<service>`, `ECSDEPLOY#<deployment id>`      an ECS deployment's status changes and outcome
- `SERVICE#<cluster>/<service>`, `ROLLBACK#<bad revision>`        the one rollback of an incident: a lease
                                                          (CLAIMED, `lease_until`, `owner_id`) until DONE
- `LIFECYCLE#<group>`, `<instance>#<token>`               one terminate lifecycle action: lease, then DONE with
                                                          the generation of its wait, `completed` at the end
- `IDEMPOTENCY#<function>`, `<hash>`                      Powertools idempotency records (TTL `expiration`)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from autopilot.refs import RepositoryRef, ServiceRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SERVICES_INDEX_PK = "INDEX#SERVICES"
STATE_SK = "STATE"
TTL_ATTRIBUTE = "expiration"
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ROUNDS = 8
CLAIM_TTL_SECONDS = 30 * 24 * 3600

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def repo_pk(repository: RepositoryRef) -> str:
    return f"INDEX#REPO#{repository.key}"


def service_pk(ref: ServiceRef) -> str:
    return f"SERVICE#{ref.key}"


def image_attribute(repository: RepositoryRef) -> str:
    return f"image:{repository.key}"


@dataclass(frozen=True)
class IndexEntry:
    service: ServiceRef
    service_arn: str
    cluster_arn: str


@dataclass(frozen=True)
class DeployedImage:
    """What we last decided to deploy from one repository to one service (survives digest pinning), and the
    push that decided it."""

    tag: str
    digest: str
    task_definition: str
    event_id: str = ""

    def as_item(self) -> dict[str, str]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "task_definition": self.task_definition,
            "event_id": self.event_id,
        }


@dataclass(frozen=True)
class ServiceState:
    frozen: bool = False
    quarantined: frozenset[str] = frozenset()
    images: dict[str, DeployedImage] = field(default_factory=dict)
    last_known_good: str | None = None
    bad_revisions: frozenset[str] = frozenset()
    rollbacks: tuple[int, ...] = ()

    def rollbacks_since(self, epoch: int) -> int:
        return sum(1 for at in self.rollbacks if at >= epoch)

    def deployed(self, repository: RepositoryRef) -> DeployedImage | None:
        return self.images.get(repository.key)

    def running_tag(
        self, repository: RepositoryRef, task_definition: str, image_tag: str | None, image_digest: str | None
    ) -> str | None:
        """The version the service runs, or is being deployed to: what we last decided for it (the tag survives
        digest pinning, and a decision in flight counts: never downgrade below it), unless that revision was
        rolled back or the service runs another family; else the tag of the image in its task definition."""
        deployed = self.deployed(repository)
        if deployed is not None and deployed.tag and deployed.task_definition not in self.bad_revisions:
            same_family = _family(deployed.task_definition) == _family(task_definition)
            if deployed.task_definition == task_definition or deployed.digest == image_digest or same_family:
                return deployed.tag
        return image_tag


@dataclass(frozen=True)
class DeploymentRecord:
    service: ServiceRef
    previous_task_definition: str
    new_task_definition: str
    repository: RepositoryRef
    image: str
    tag: str
    digest: str
    event_id: str
    started_at: str
    pushed_at: str = ""  # the push event's time: with its id, the row's key is the same on every retry
    status: str = "IN_PROGRESS"

    @property
    def sort_key(self) -> str:
        return f"DEPLOY#{self.pushed_at or self.started_at}#{self.event_id}"


@dataclass(frozen=True)
class DeploymentChange:
    """One ECS deployment status change of one service."""

    service: ServiceRef
    deployment_id: str
    status: str
    task_definition: str
    updated_at: str
    event_time: str
    reason: str = ""
    created_at: str | None = None

    @property
    def order_key(self) -> str:
        rank = {"IN_PROGRESS": 0, "COMPLETED": 1, "FAILED": 1}.get(self.status, 0)
        return f"{self.updated_at}#{rank}#{self.event_time}"


class RecordedAs(StrEnum):
    NEW = "NEW"
    SAME = "SAME"
    STALE = "STALE"


@dataclass(frozen=True)
class Recorded:
    status: RecordedAs
    item: dict[str, Any]


class ClaimState(StrEnum):
    ACQUIRED = "ACQUIRED"
    DONE = "DONE"
    BUSY = "BUSY"


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    item: dict[str, Any]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ledger:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self.table = table

    # -- repository → services index -------------------------------------------------------------
    def services_for_repository(self, repository: RepositoryRef) -> list[IndexEntry]:
        paginator = self._client.get_paginator("query")
        entries = []
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": repo_pk(repository)}},
        ):
            for raw in page.get("Items", []):
                item = _plain(raw)
                entries.append(
                    IndexEntry(ServiceRef.parse(item["SK"]), item.get("service_arn", ""), item.get("cluster_arn", ""))
                )
        return entries

    def indexed_services(self) -> dict[ServiceRef, set[str]]:
        paginator = self._client.get_paginator("query")
        found: dict[ServiceRef, set[str]] = {}
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": SERVICES_INDEX_PK}},
        ):
            for raw in page.get("Items", []):
                item = _plain(raw)
                found[ServiceRef.parse(item["SK"])] = set(item.get("repos", set()))
        return found

    def indexed_repositories(self, ref: ServiceRef) -> set[str]:
        response = self._client.get_item(
            TableName=self.table, Key=_item({"PK": SERVICES_INDEX_PK, "SK": ref.key}), ConsistentRead=True
        )
        return set(_plain(response["Item"]).get("repos", set())) if "Item" in response else set()

    def apply_index(
        self,
        put: Mapping[ServiceRef, tuple[str, str, set[str]]],
        removed: Mapping[ServiceRef, set[str]],
        previous: Mapping[ServiceRef, set[str]],
    ) -> int:
        """Write index changes: `put` maps a service to (service ARN, cluster ARN, repository keys) it now
        uses, `removed` to the repository keys it no longer uses; `previous` is what was indexed before.
        Returns the number of items written or deleted."""
        now = int(time.time())
        requests: list[dict[str, Any]] = []
        for ref, (service_arn, cluster_arn, repos) in put.items():
            for repo in sorted(repos):
                values = {
                    "PK": f"INDEX#REPO#{repo}",
                    "SK": ref.key,
                    "service_arn": service_arn,
                    "cluster_arn": cluster_arn,
                    "updated_at": now,
                }
                requests.append({"PutRequest": {"Item": _item(values)}})
            if repos != previous.get(ref):
                reverse = {
                    "PK": SERVICES_INDEX_PK,
                    "SK": ref.key,
                    "repos": repos or None,
                    "service_arn": service_arn,
                    "updated_at": now,
                }
                requests.append({"PutRequest": {"Item": _item(reverse)}})
        for ref, repos in removed.items():
            requests.extend(
                {"DeleteRequest": {"Key": _item({"PK": f"INDEX#REPO#{repo}", "SK": ref.key})}} for repo in sorted(repos)
            )
            if ref not in put:
                requests.append({"DeleteRequest": {"Key": _item({"PK": SERVICES_INDEX_PK, "SK": ref.key})}})
        self._batch_write(requests)
        return len(requests)

    def remove_index_entry(self, repository: RepositoryRef, ref: ServiceRef) -> None:
        self._client.delete_item(TableName=self.table, Key=_item({"PK": repo_pk(repository), "SK": ref.key}))

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for chunk in _chunks(requests, BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table: chunk}
            for round_ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = dict(response.get("UnprocessedItems") or {})
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**round_))
            if pending:
                raise RuntimeError(f"DynamoDB left {len(pending[self.table])} index writes unprocessed")

    # -- per-service state -------------------------------------------------------------------------
    def service_states(self, refs: Iterable[ServiceRef]) -> dict[ServiceRef, ServiceState]:
        """State of many services in one BatchGetItem per 100 services; absent state is the default."""
        unique = sorted(set(refs))
        states = dict.fromkeys(unique, ServiceState())
        by_key = {service_pk(ref): ref for ref in unique}
        for chunk in _chunks(unique, BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                self.table: {
                    "Keys": [_item({"PK": service_pk(ref), "SK": STATE_SK}) for ref in chunk],
                    "ConsistentRead": True,
                }
            }
            for round_ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self.table, []):
                    item = _plain(raw)
                    states[by_key[item["PK"]]] = _state(item)
                pending = dict(response.get("UnprocessedKeys") or {})
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**round_))
            if pending:
                raise RuntimeError("DynamoDB left service state reads unprocessed")
        return states

    def service_state(self, ref: ServiceRef) -> ServiceState:
        return self.service_states([ref])[ref]

    def set_frozen(self, ref: ServiceRef, frozen: bool) -> None:
        self._client.update_item(
            TableName=self.table,
            Key=_item({"PK": service_pk(ref), "SK": STATE_SK}),
            UpdateExpression="SET frozen = :f",
            ExpressionAttributeValues={":f": {"BOOL": frozen}},
        )

    def quarantine(self, ref: ServiceRef, digests: Iterable[str]) -> None:
        values = sorted(set(digests))
        if values:
            self._client.update_item(
                TableName=self.table,
                Key=_item({"PK": service_pk(ref), "SK": STATE_SK}),
                UpdateExpression="ADD quarantined :d",
                ExpressionAttributeValues={":d": {"SS": values}},
            )

    # -- deployments -------------------------------------------------------------------------------
    def decide_deployment(self, record: DeploymentRecord, expected: DeployedImage | None) -> bool:
        """Write a deploy decision before acting on it: the deployment row and the service's deployed image, in
        one transaction conditioned on the deployed image being what the decision was made from. False when
        another push changed it first (the caller re-decides against the new state)."""
        deployed = DeployedImage(record.tag, record.digest, record.new_task_definition, record.event_id)
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
        values: dict[str, Any] = {":img": _serializer.serialize(deployed.as_item()), ":sk": {"S": record.sort_key}}
        if expected is None:
            condition = "attribute_not_exists(#img)"
        else:
            condition = "#img = :expected"
            values[":expected"] = _serializer.serialize(expected.as_item())
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _item(row),
                            "ConditionExpression": "attribute_not_exists(SK)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _item({"PK": service_pk(record.service), "SK": STATE_SK}),
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
        key = _item({"PK": service_pk(record.service), "SK": STATE_SK})
        names = {"#img": image_attribute(record.repository)}
        values: dict[str, Any] = {":mine": {"S": record.event_id}}
        if previous is None:
            expression = "REMOVE #img"
        else:
            expression = "SET #img = :previous"
            values[":previous"] = _serializer.serialize(previous.as_item())
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
            Key=_item({"PK": service_pk(record.service), "SK": record.sort_key}),
            UpdateExpression="SET #s = :s, failure = :r",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "FAILED"}, ":r": {"S": reason}},
        )

    def deployed_image(self, ref: ServiceRef, repository: RepositoryRef) -> DeployedImage | None:
        """The service's deployed image for one repository, read now (consistent)."""
        found = self._get(service_pk(ref), STATE_SK) or {}
        value = found.get(image_attribute(repository))
        return _deployed(value) if isinstance(value, dict) else None

    def clear_quarantine(self, ref: ServiceRef, digests: Iterable[str] | None = None) -> None:
        key = _item({"PK": service_pk(ref), "SK": STATE_SK})
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

    # -- ECS deployments (ours or anyone's), by deployment id ---------------------------------------
    def record_ecs_deployment(self, change: DeploymentChange) -> Recorded:
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
                Key=_item({"PK": service_pk(change.service), "SK": f"ECSDEPLOY#{change.deployment_id}"}),
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
                    ":entry": {"L": [_serializer.serialize({k: v for k, v in entry.items() if v})]},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            recorded = self.ecs_deployment(change.service, change.deployment_id) or {}
            same = recorded.get("order_key") == change.order_key
            return Recorded(RecordedAs.SAME if same else RecordedAs.STALE, recorded)
        return Recorded(RecordedAs.NEW, {})

    def ecs_deployment(self, ref: ServiceRef, deployment_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self.table,
            Key=_item({"PK": service_pk(ref), "SK": f"ECSDEPLOY#{deployment_id}"}),
            ConsistentRead=True,
        )
        return _plain(response["Item"]) if "Item" in response else None

    def set_outcome(
        self, ref: ServiceRef, deployment_id: str, outcome: str, detail: str = "", handled: str | None = None
    ) -> None:
        """The outcome of a deployment; `handled` names the status change whose handling this completes (a
        redelivery of that change is then a duplicate; a retry of an unfinished one is not)."""
        self._client.update_item(**self._outcome_request(ref, deployment_id, outcome, detail, handled))

    def _outcome_request(
        self, ref: ServiceRef, deployment_id: str, outcome: str, detail: str, handled: str | None = None
    ) -> dict[str, Any]:
        values = {":o": {"S": outcome}, ":d": {"S": detail}, ":t": {"S": _now_iso()}}
        expression = "SET outcome = :o, outcome_detail = :d, outcome_at = :t"
        if handled:
            values[":h"] = {"S": handled}
            expression += ", handled = :h"
        return {
            "TableName": self.table,
            "Key": _item({"PK": service_pk(ref), "SK": f"ECSDEPLOY#{deployment_id}"}),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }

    def set_last_known_good(self, ref: ServiceRef, task_definition: str, order_key: str) -> bool:
        """Unless a later deployment already completed: a late COMPLETED of an older one changes nothing."""
        try:
            self._client.update_item(
                TableName=self.table,
                Key=_item({"PK": service_pk(ref), "SK": STATE_SK}),
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
            Key=_item({"PK": service_pk(ref), "SK": STATE_SK}),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )

    # -- leases: a claim on a piece of work that expires, is released on failure, and becomes DONE ----------
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
        for index, (key, value) in enumerate(sorted(values.items())):
            if value is None:
                continue
            names[f"#v{index}"] = key
            attribute_values[f":v{index}"] = _serializer.serialize(value)
            assignments.append(f"#v{index} = if_not_exists(#v{index}, :v{index})")
        names["#ttl"] = TTL_ATTRIBUTE
        try:
            response = self._client.update_item(
                TableName=self.table,
                Key=_item({"PK": pk, "SK": sk}),
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_not_exists(#st) OR (#st = :claimed AND lease_until < :now)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            found = self._get(pk, sk) or {}
            return Claim(ClaimState.DONE if found.get("state") == "DONE" else ClaimState.BUSY, found)
        return Claim(ClaimState.ACQUIRED, _plain(response["Attributes"]))

    def release(self, pk: str, sk: str, owner: str) -> None:
        """Give a claim back after a failure: its values stay (the retry resumes them), its lease ends now."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):  # no longer ours
            self._client.update_item(
                TableName=self.table,
                Key=_item({"PK": pk, "SK": sk}),
                UpdateExpression="SET lease_until = :zero",
                ConditionExpression="owner_id = :owner AND #st = :claimed",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":owner": {"S": owner}, ":claimed": {"S": "CLAIMED"}},
            )

    def finish(self, pk: str, sk: str, owner: str, **values: Any) -> None:
        """Mark claimed work DONE with what came of it (only by the holder of the claim)."""
        self._client.update_item(**self._finish_request(pk, sk, owner, values))

    def _finish_request(self, pk: str, sk: str, owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
        names = {"#st": "state"}
        assignments = ["#st = :done"]
        attribute_values: dict[str, Any] = {":done": {"S": "DONE"}, ":owner": {"S": owner}}
        for index, (key, value) in enumerate(sorted(values.items())):
            if value is None:
                continue
            names[f"#v{index}"] = key
            attribute_values[f":v{index}"] = _serializer.serialize(value)
            assignments.append(f"#v{index} = :v{index}")
        return {
            "TableName": self.table,
            "Key": _item({"PK": pk, "SK": sk}),
            "UpdateExpression": "SET " + ", ".join(assignments) + " REMOVE lease_until",
            "ConditionExpression": "owner_id = :owner",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": attribute_values,
        }

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self.table, Key=_item({"PK": pk, "SK": sk}), ConsistentRead=True)
        return _plain(response["Item"]) if "Item" in response else None

    # -- rollbacks: one claim per bad revision, shared by every trigger of the same incident -------------
    def acquire_rollback(
        self, ref: ServiceRef, bad: str, owner: str, now: int, lease_seconds: int, **values: Any
    ) -> Claim:
        return self.acquire(service_pk(ref), f"ROLLBACK#{bad}", owner, now, lease_seconds, bad=bad, **values)

    def release_rollback(self, ref: ServiceRef, bad: str, owner: str) -> None:
        self.release(service_pk(ref), f"ROLLBACK#{bad}", owner)

    def finish_rollback(
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
        finish = self._finish_request(service_pk(ref), f"ROLLBACK#{bad}", owner, values)
        items: list[dict[str, Any]] = [{"Update": finish}]
        if deployment is not None:
            items.append({"Update": self._outcome_request(ref, *deployment)})
        if counted_at is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _item({"PK": service_pk(ref), "SK": STATE_SK}),
                        "UpdateExpression": "SET rollbacks = list_append(if_not_exists(rollbacks, :e), :now)",
                        "ExpressionAttributeValues": {":e": {"L": []}, ":now": {"L": [{"N": str(counted_at)}]}},
                    }
                }
            )
        self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]

    def unfinished_rollbacks(self, ref: ServiceRef) -> list[dict[str, Any]]:
        """Rollbacks claimed but not DONE: a failed attempt whose retry must finish what it started."""
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :r)",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}, ":r": {"S": "ROLLBACK#"}},
            ConsistentRead=True,
        )
        items = [_plain(item) for item in response.get("Items", [])]
        return [item for item in items if item.get("state") == "CLAIMED"]

    def record_manual_rollback(self, ref: ServiceRef, previous: str, target: str, actor: str) -> None:
        """An operator's rollback, so the history shows it beside the automatic ones."""
        at = _now_iso()
        self._client.put_item(
            TableName=self.table,
            Item=_item(
                {
                    "PK": service_pk(ref),
                    "SK": f"MANUAL#{at}",
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

    def history(self, ref: ServiceRef, limit: int = 100) -> list[dict[str, Any]]:
        """Deployments we started and ECS deployments, newest first."""
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}},
        )
        items = [_plain(item) for item in response.get("Items", []) if item["SK"]["S"] != STATE_SK]
        items.sort(
            key=lambda item: str(item.get("updated_at") or item.get("started_at") or item.get("at") or ""), reverse=True
        )
        return items[:limit]

    def set_deploy_status(self, ref: ServiceRef, task_definition: str, status: str, at: str) -> bool:
        """Carry an outcome over to the deployment we started of `task_definition`, if we started one."""
        for row in self.deployments(ref, limit=20):
            if row.get("new_task_definition") == task_definition:
                if row.get("status") == status:
                    return True  # already carried over (a retried invocation)
                with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                    self._client.update_item(
                        TableName=self.table,
                        Key=_item({"PK": service_pk(ref), "SK": row["SK"]}),
                        UpdateExpression="SET #s = :s, history = list_append(if_not_exists(history, :e), :h)",
                        ConditionExpression="#s <> :s",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={
                            ":s": {"S": status},
                            ":e": {"L": []},
                            ":h": {"L": [_serializer.serialize({"status": status, "at": at})]},
                        },
                    )
                return True
        return False

    # -- stopped tasks: counters per subject and class, with a window and a TTL ----------------------
    def count_stop(
        self, subject: str, stop_class: str, now: int, *, window_seconds: int, last_exit: int | None
    ) -> tuple[int, int]:
        """Count one stop in the current window (a new window when the last one is over).
        Returns (count in this window, when the window started)."""
        key = _item({"PK": f"STOPS#{subject}", "SK": stop_class})
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
                item = _plain(response["Attributes"])
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

    def close_stops(self, subject: str) -> list[tuple[str, int]]:
        """End every open stop window of a subject; returns (class, count) of each."""
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"STOPS#{subject}"}},
        )
        closed = []
        for raw in response.get("Items", []):
            item = _plain(raw)
            self._client.delete_item(TableName=self.table, Key=_item({"PK": item["PK"], "SK": item["SK"]}))
            closed.append((str(item["SK"]), int(item.get("count", 0))))
        return closed

    # -- Spot drain: lifecycle hooks we are waiting on ----------------------------------------------
    def lifecycle(self, pk: str, sk: str) -> dict[str, Any]:
        return self._get(pk, sk) or {}

    def mark_lifecycle_completed(self, pk: str, sk: str) -> None:
        self._client.update_item(
            TableName=self.table,
            Key=_item({"PK": pk, "SK": sk}),
            UpdateExpression="SET completed = :t",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )

    # -- notifications: threads and deliveries -------------------------------------------------------
    def thread(self, route: str, thread_key: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self.table, Key=_item({"PK": f"THREAD#{route}", "SK": thread_key}), ConsistentRead=True
        )
        return _plain(response["Item"]) if "Item" in response else None

    def save_thread(self, route: str, thread_key: str, channel: str, ts: str) -> None:
        now = int(time.time())
        self._client.put_item(
            TableName=self.table,
            Item=_item(
                {
                    "PK": f"THREAD#{route}",
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
            TableName=self.table, Key=_item({"PK": f"DELIVERED#{route}", "SK": message_id}), ConsistentRead=True
        )
        return "Item" in response

    def mark_delivered(self, route: str, message_id: str) -> None:
        now = int(time.time())
        self._client.put_item(
            TableName=self.table,
            Item=_item({"PK": f"DELIVERED#{route}", "SK": message_id, "at": now, TTL_ATTRIBUTE: now + 7 * 24 * 3600}),
        )

    def deployments(self, ref: ServiceRef, limit: int = 50) -> list[dict[str, Any]]:
        response = self._client.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :d)",
            ExpressionAttributeValues={":pk": {"S": service_pk(ref)}, ":d": {"S": "DEPLOY#"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_plain(item) for item in response.get("Items", [])]


def _family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _deployed(value: Mapping[str, Any]) -> DeployedImage:
    return DeployedImage(
        str(value.get("tag", "")),
        str(value.get("digest", "")),
        str(value.get("task_definition", "")),
        str(value.get("event_id", "")),
    )


def _state(item: Mapping[str, Any]) -> ServiceState:
    images = {
        key.removeprefix("image:"): _deployed(value)
        for key, value in item.items()
        if key.startswith("image:") and isinstance(value, dict)
    }
    return ServiceState(
        frozen=bool(item.get("frozen", False)),
        quarantined=frozenset(item.get("quarantined", set())),
        images=images,
        last_known_good=item.get("last_known_good"),
        bad_revisions=frozenset(item.get("bad_revisions", set())),
        rollbacks=tuple(int(at) for at in item.get("rollbacks", [])),
    )
