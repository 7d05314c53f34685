"""Event-level idempotency on the ledger table (Powertools idempotency, DynamoDB persistence)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from autopilot.ledger import TTL_ATTRIBUTE
from autopilot.ledger.keys import idempotency_pk

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
ONE_DAY = 24 * 60 * 60


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """A duplicate delivery returns the first result, marked so nobody mistakes it for new work."""
    if isinstance(response, dict):
        return {**response, "duplicate_delivery": True}
    return response


def once_per_event(
    work: Callable[[], dict[str, Any]],
    *,
    event_id: str,
    scope: str,
    client: DynamoDBClient,
    table: str,
    context: LambdaContext | None = None,
) -> dict[str, Any]:
    """Run `work` once per EventBridge event id; a duplicate delivery returns the first result.

    A failure deletes the in-progress record, so Lambda's retry runs the work again. When the record itself
    cannot be written (saving the result, or deleting it after a failure, was throttled), it is deleted once
    more, so the retry is not told "already in progress" until the record expires: the work is idempotent
    against AWS's state and runs again.
    """
    # Powertools idempotency (and with it boto3) loads with the first event, not at import (cold start)
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError

    persistence = DynamoDBPersistenceLayer(
        table_name=table,
        key_attr="PK",
        sort_key_attr="SK",
        static_pk_value=idempotency_pk(scope),
        expiry_attr=TTL_ATTRIBUTE,
        boto3_client=client,
    )
    config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=ONE_DAY, response_hook=_mark_duplicate)
    if context is not None:
        config.register_lambda_context(context)

    def run(event: dict[str, str]) -> dict[str, Any]:
        return work()

    guarded = idempotent_function(data_keyword_argument="event", persistence_store=persistence, config=config)(run)
    try:
        result: dict[str, Any] = guarded(event={"id": event_id})
    except IdempotencyPersistenceLayerError as error:
        persistence.delete_record(data={"id": event_id}, exception=error)
        raise
    return result
