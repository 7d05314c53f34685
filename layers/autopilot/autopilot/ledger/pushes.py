"""The pushes DeployFunction took (deployed or handed to work items): ECR's events are best effort, and the
reconciler deploys a recent push it finds in ECR but not here."""

from __future__ import annotations

from collections.abc import Iterable

from autopilot.ledger.keys import RECONCILER_PK, RECONCILER_SK, taken_pk, taken_sk
from autopilot.ledger.table import BATCH_GET_LIMIT, Repository, chunks, from_item, to_item
from autopilot.refs import RepositoryRef

TAKEN_DAYS = 7  # longer than the reconciler looks back


class TakenPushes(Repository):
    def take(self, repository: RepositoryRef, digest: str, tag: str, event_id: str, at: int) -> None:
        values = {"PK": taken_pk(repository), "SK": taken_sk(digest, tag), "event_id": event_id, "at": at}
        self._client.put_item(TableName=self.table, Item=to_item({**values, "expiration": at + TAKEN_DAYS * 86400}))

    def taken(self, repository: RepositoryRef, images: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (digest, tag) were taken: one BatchGetItem per 100 (none for none)."""
        wanted = sorted(set(images))
        found: set[tuple[str, str]] = set()
        for chunk in chunks(wanted, BATCH_GET_LIMIT):
            pending: dict[str, object] = {
                self.table: {
                    "Keys": [to_item({"PK": taken_pk(repository), "SK": taken_sk(d, t)}) for d, t in chunk],
                    "ProjectionExpression": "SK",
                }
            }
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)  # type: ignore[arg-type]
                for raw in response.get("Responses", {}).get(self.table, []):
                    digest, _, tag = str(from_item(raw)["SK"]).partition("#")
                    found.add((digest, tag))
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def take_all(self, repository: RepositoryRef, images: Iterable[tuple[str, str]], at: int) -> None:
        """Mark these (digest, tag) taken at once (a repository's baseline): BatchWriteItem, 25 a call."""
        self.batch_write(
            [
                {
                    "PutRequest": {
                        "Item": to_item(
                            {
                                "PK": taken_pk(repository),
                                "SK": taken_sk(digest, tag),
                                "event_id": "baseline",
                                "at": at,
                                "expiration": at + TAKEN_DAYS * 86400,
                            }
                        )
                    }
                }
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
