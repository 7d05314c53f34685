"""The pushes DeployFunction took (deployed or handed to work items): ECR's events are best effort, and the
reconciler deploys a recent push it finds in ECR but not here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autopilot.ledger.keys import RECONCILER_PK, RECONCILER_SK, taken_pk, taken_sk
from autopilot.ledger.table import Repository, to_item
from autopilot.refs import RepositoryRef

TAKEN_DAYS = 7  # longer than the reconciler looks back


class TakenPushes(Repository):
    def take(self, repository: RepositoryRef, digest: str, tag: str, event_id: str, at: int) -> None:
        self._client.put_item(TableName=self.table, Item=_taken(repository, digest, tag, event_id, at))

    def taken(self, repository: RepositoryRef, images: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (digest, tag) were taken: one BatchGetItem per 100 (none for none)."""
        keys = [to_item({"PK": taken_pk(repository), "SK": taken_sk(d, t)}) for d, t in sorted(set(images))]
        found = set()
        for item in self.batch_get(keys, projection="SK"):
            digest, _, tag = str(item["SK"]).partition("#")
            found.add((digest, tag))
        return found

    def take_all(self, repository: RepositoryRef, images: Iterable[tuple[str, str]], at: int) -> None:
        """Mark these (digest, tag) taken at once (a repository's baseline): BatchWriteItem, 25 a call."""
        self.batch_write(
            [
                {"PutRequest": {"Item": _taken(repository, digest, tag, "baseline", at)}}
                for digest, tag in sorted(set(images))
            ]
        )

    def baselined(self) -> set[str]:
        """The repositories the reconciler has looked at before (one GetItem)."""
        item = self.get_item(RECONCILER_PK, RECONCILER_SK) or {}
        return {str(key) for key in item.get("repositories", set())}

    def add_baselined(self, repositories: Iterable[str]) -> None:
        keys = sorted(set(repositories))
        if keys:
            self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": RECONCILER_PK, "SK": RECONCILER_SK}),
                UpdateExpression="ADD repositories :keys",
                ExpressionAttributeValues={":keys": {"SS": keys}},
            )


def _taken(repository: RepositoryRef, digest: str, tag: str, event_id: str, at: int) -> dict[str, Any]:
    values = {"PK": taken_pk(repository), "SK": taken_sk(digest, tag), "event_id": event_id, "at": at}
    return to_item({**values, "expiration": at + TAKEN_DAYS * 86400})
