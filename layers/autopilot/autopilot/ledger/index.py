"""The repository → services index: which services use which repository (kept by the inventory function)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autopilot.ledger.keys import SERVICES_INDEX_PK, repo_pk, repo_pk_of_key
from autopilot.ledger.records import IndexEntry
from autopilot.ledger.table import Repository, from_item, to_item
from autopilot.refs import RepositoryRef, ServiceRef


@dataclass(frozen=True)
class Indexed:
    repos: frozenset[str] = frozenset()
    task_definition: str = ""
    drift_checked: str = ""


def _indexed(item: Mapping[str, Any]) -> Indexed:
    return Indexed(
        repos=frozenset(item.get("repos", set())),
        task_definition=str(item.get("task_definition", "")),
        drift_checked=str(item.get("drift_checked", "")),
    )


class IndexRepository(Repository):
    def services_for_repository(self, repository: RepositoryRef) -> list[IndexEntry]:
        paginator = self._client.get_paginator("query")
        entries = []
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": repo_pk(repository)}},
        ):
            for raw in page.get("Items", []):
                item = from_item(raw)
                entries.append(
                    IndexEntry(
                        service=ServiceRef.parse(item["SK"]),
                        service_arn=item.get("service_arn", ""),
                        cluster_arn=item.get("cluster_arn", ""),
                        family=item.get("family", ""),
                    )
                )
        return entries

    def indexed_services(self) -> dict[ServiceRef, set[str]]:
        return {ref: set(indexed.repos) for ref, indexed in self.indexed().items()}

    def indexed(self) -> dict[ServiceRef, Indexed]:
        """Every indexed service: its repositories, the task definition it ran when indexed, and the one the
        reconciler last checked for drift (one paginated query)."""
        paginator = self._client.get_paginator("query")
        found: dict[ServiceRef, Indexed] = {}
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": SERVICES_INDEX_PK}},
        ):
            for raw in page.get("Items", []):
                item = from_item(raw)
                found[ServiceRef.parse(item["SK"])] = _indexed(item)
        return found

    def indexed_repositories(self, ref: ServiceRef) -> set[str]:
        return set(self.indexed_one(ref).repos)

    def indexed_one(self, ref: ServiceRef) -> Indexed:
        response = self._client.get_item(
            TableName=self.table, Key=to_item({"PK": SERVICES_INDEX_PK, "SK": ref.key}), ConsistentRead=True
        )
        return _indexed(from_item(response["Item"])) if "Item" in response else Indexed()

    def checked_for_drift(self, ref: ServiceRef, task_definition: str) -> None:
        """The reconciler looked at the service running this task definition (drift is told once per change)."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": SERVICES_INDEX_PK, "SK": ref.key}),
                UpdateExpression="SET drift_checked = :td",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":td": {"S": task_definition}},
            )

    def apply_index(
        self,
        put: Mapping[ServiceRef, tuple[str, str, set[str], str]],
        removed: Mapping[ServiceRef, set[str]],
        previous: Mapping[ServiceRef, Indexed],
    ) -> int:
        """Write index changes: `put` maps a service to (service ARN, cluster ARN, repository keys it now
        uses, its task definition's ARN), `removed` to the repository keys it no longer uses; `previous` is
        what was indexed before. Returns the number of items written or deleted."""
        now = int(time.time())
        requests: list[dict[str, Any]] = []
        for ref, (service_arn, cluster_arn, repos, task_definition) in put.items():
            for repo in sorted(repos):
                values = {
                    "PK": repo_pk_of_key(repo),
                    "SK": ref.key,
                    "service_arn": service_arn,
                    "cluster_arn": cluster_arn,
                    "family": task_definition.rsplit("/", 1)[-1].rsplit(":", 1)[0] or None,
                    "updated_at": now,
                }
                requests.append({"PutRequest": {"Item": to_item(values)}})
            before = previous.get(ref, Indexed())
            if repos != set(before.repos) or task_definition != before.task_definition:
                reverse = {
                    "PK": SERVICES_INDEX_PK,
                    "SK": ref.key,
                    "repos": repos or None,
                    "service_arn": service_arn,
                    "task_definition": task_definition or None,
                    "drift_checked": before.drift_checked or None,
                    "updated_at": now,
                }
                requests.append({"PutRequest": {"Item": to_item(reverse)}})
        for ref, repos in removed.items():
            requests.extend(
                {"DeleteRequest": {"Key": to_item({"PK": repo_pk_of_key(repo), "SK": ref.key})}}
                for repo in sorted(repos)
            )
            if ref not in put:
                requests.append({"DeleteRequest": {"Key": to_item({"PK": SERVICES_INDEX_PK, "SK": ref.key})}})
        self.batch_write(requests)
        return len(requests)

    def remove_index_entry(self, repository: RepositoryRef, ref: ServiceRef) -> None:
        self._client.delete_item(TableName=self.table, Key=to_item({"PK": repo_pk(repository), "SK": ref.key}))
