"""The ledger's one DynamoDB table: item (de)serialisation, consistent reads and batched writes every
repository shares."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from mypy_boto3_dynamodb import DynamoDBClient

TTL_ATTRIBUTE = "expiration"
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ROUNDS = 8


@cache
def _converters() -> tuple[TypeSerializer, TypeDeserializer]:
    # boto3 loads with the first ledger call, not when a handler module is imported (cold start)
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def serialize(value: Any) -> dict[str, Any]:
    """One value as a DynamoDB attribute value ({"S": …}, {"M": …}, …)."""
    return cast("dict[str, Any]", _converters()[0].serialize(value))


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: serialize(value) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    deserializer = _converters()[1]
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def now_iso() -> str:
    """The one format of times the ledger records (UTC, milliseconds); TTLs and leases are epoch seconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class LedgerTable:
    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name


class Repository:
    """Base of every repository: the table, a consistent GetItem, and BatchWriteItem that retries what
    DynamoDB leaves unprocessed."""

    def __init__(self, table: LedgerTable) -> None:
        self.ledger_table = table
        self._client = table.client
        self.table = table.name

    def get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self.table, Key=to_item({"PK": pk, "SK": sk}), ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def batch_get(self, keys: list[dict[str, Any]], *, projection: str | None = None) -> list[dict[str, Any]]:
        """Consistent BatchGetItem, 100 keys a call, retrying what DynamoDB leaves unprocessed; the items found
        (as plain values), in no particular order."""
        found: list[dict[str, Any]] = []
        for chunk in chunks(keys, BATCH_GET_LIMIT):
            request: dict[str, Any] = {"Keys": chunk, "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
            pending: dict[str, Any] = {self.table: request}
            for round_ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_get_item(RequestItems=pending)
                found.extend(from_item(raw) for raw in response.get("Responses", {}).get(self.table, []))
                pending = dict(response.get("UnprocessedKeys") or {})
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**round_))
            if pending:
                raise RuntimeError("DynamoDB left reads unprocessed")
        return found

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        for chunk in chunks(requests, BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.table: chunk}
            for round_ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = dict(response.get("UnprocessedItems") or {})
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**round_))
            if pending:
                raise RuntimeError(f"DynamoDB left {len(pending[self.table])} index writes unprocessed")
