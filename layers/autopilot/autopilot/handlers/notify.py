"""NotifyFunction's wiring: the notification queue (SQS FIFO batches) → every route a message is for."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from autopilot.aws import clients
from autopilot.aws.notify_queue import NotificationQueue
from autopilot.aws.secrets import RouteSecrets
from autopilot.handlers.common import Adapters
from autopilot.messages import Message, to_json
from autopilot.notify.deliver import NotifyPorts, RetryLaterError, deliver
from autopilot.observability import count, logger
from autopilot.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from autopilot.notify.slack_bot import SlackBot
    from autopilot.notify.webhook import HttpPoster


def notify_ports(adapters: Adapters) -> NotifyPorts:
    settings = get_settings()
    dead_letters = NotificationQueue(clients.sqs(), settings.notify_dead_letter_url or "")

    def dead_letter(message: Message, route: str, reason: str) -> None:
        if settings.notify_dead_letter_url:
            dead_letters.dead_letter(to_json(message), message.group, message.message_id, route, reason)

    return NotifyPorts(
        ledger=adapters.ledger,
        secrets=_route_secrets(clients.secretsmanager()),
        http=_http_poster,
        sns=clients.sns(),
        dead_letter=dead_letter,
        slack_bots=_slack_bots,
        local_endpoints=settings.local_endpoints,
    )


_slack_bots: dict[str, SlackBot] = {}


@lru_cache(maxsize=2)
def _route_secrets(client: SecretsManagerClient) -> RouteSecrets:
    return RouteSecrets(client)


@cache
def _http_poster() -> HttpPoster:
    """One HTTP client (its connection pool) per container, created with the first webhook."""
    from autopilot.notify.webhook import HttpPoster, http_client

    return HttpPoster(http_client())


def handle_notify(event: dict[str, Any], context: LambdaContext | None) -> PartialItemFailureResponse:
    """SQS FIFO batch: each record one message. A record that fails is that record's failure only: it and the
    later records of its own thread (message group) come back, every other thread's messages are delivered. A
    body that is not a message goes to the dead-letter queue with the reason, at once."""
    from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response

    adapters = Adapters.current()
    ports = notify_ports(adapters)
    settings = get_settings()

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        try:
            message = Message.model_validate_json(record.body)
        except ValidationError as error:
            reason = f"not a notification message: {len(error.errors())} problem(s), first: {error.errors()[0]['msg']}"
            if settings.notify_dead_letter_url:
                group = str(record.attributes.message_group_id or "malformed")
                NotificationQueue(clients.sqs(), settings.notify_dead_letter_url).dead_letter(
                    record.body, group, record.message_id, "-", reason
                )
            logger.error(
                "malformed notification sent to the dead-letter queue",
                extra={"message_id": record.message_id, "reason": reason},
            )
            count("Notifications", "DEAD_LETTERED")
            return {"rejected": True, "reason": reason}
        try:
            report = deliver(message, adapters.config.load(), ports)
        except RetryLaterError:
            count("Notifications", "RETRY")
            raise
        for result in report.results:
            count("Notifications", result.status)
        return report.model_dump(mode="json")

    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
