"""ChatOpsFunction's wiring. Three triggers, one function (everything chat-driven in one place):

- its Function URL: Slack's slash command and button presses → verified, authorised, answered or queued;
- its work queue (SQS): the queued commands → carried out, written to the ledger, told;
- ECS Hook State Change (pause hooks of managed services) → a message with Continue / Roll back buttons.

A request from Slack loads only what answers it (verification, authorisation, the read-only answers): the deploy
path loads with the first work item or hook event, Slack's 3 seconds include the cold start.
"""

from __future__ import annotations

import time
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from autopilot.aws import clients
from autopilot.aws.secrets import RouteSecrets, SecretUnavailableError
from autopilot.chatops.answers import answer
from autopilot.chatops.commands import Command
from autopilot.chatops.front import FrontPorts, HttpResponse, take
from autopilot.chatops.slack_request import SlackRequest
from autopilot.config.document import ChatOpsConfig, ConfigDocumentError, ConfigUnavailableError
from autopilot.events import HookStateChangeEvent
from autopilot.handlers.common import Adapters, flush_outbox, rejected, telling
from autopilot.observability import count, logger
from autopilot.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_secretsmanager import SecretsManagerClient


@lru_cache(maxsize=2)
def _secrets(client: SecretsManagerClient) -> RouteSecrets:
    return RouteSecrets(client)  # cached reads (5 minutes), values redacted from every log


def _app_secret() -> dict[str, str]:
    """The Slack app's secret: {"signing_secret": …, "bot_token": … (optional, for user groups)}."""
    return _secrets(clients.secretsmanager()).get(get_settings().chatops_secret_name)


def _signing_secret() -> str:
    secret = _app_secret().get("signing_secret")
    if not secret:
        raise SecretUnavailableError(f"secret {get_settings().chatops_secret_name} has no signing_secret")
    return secret


def _user_groups(user: str, groups: list[str]) -> frozenset[str]:
    """The groups among `groups` that `user` is in (Slack's usergroups.users.list, with the app's bot token and
    its usergroups:read scope); none without a bot token."""
    token = _app_secret().get("bot_token")
    if not token:
        logger.warning("chatops user_groups need the app's bot_token in its secret; none are matched")
        return frozenset()
    return frozenset(group for group in groups if user in _slack(token).usergroups_users_list(usergroup=group)["users"])


@cache
def _slack(token: str) -> Any:
    from slack_sdk import WebClient  # with the first user-group check, not at import

    return WebClient(token=token, timeout=2)


def _front_ports(adapters: Adapters) -> FrontPorts:
    def config() -> ChatOpsConfig:
        return adapters.config.load().chatops

    def enqueue(command: Command) -> None:
        clients.sqs().send_message(
            QueueUrl=get_settings().chatops_queue_url or "", MessageBody=command.model_dump_json()
        )

    return FrontPorts(
        signing_secret=_signing_secret,
        seen=adapters.ledger.requests,
        config=config,
        user_groups=_user_groups,
        answer=lambda command: answer(command, ecs=adapters.ecs, ledger=adapters.ledger, now=int(time.time())),
        enqueue=enqueue,
    )


def handle_chatops(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    if isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]:
        return handle_request(event)
    if "Records" in event:
        return dict(handle_work(event, context))
    return handle_hook(event)


def handle_request(event: dict[str, Any]) -> dict[str, Any]:
    """A request to the Function URL; the answer Slack sees (refusals with their HTTP status)."""
    try:
        response, command = take(
            SlackRequest.from_function_url(event), _front_ports(Adapters.current()), now=int(time.time())
        )
    except SecretUnavailableError as error:
        logger.error("chatops: the Slack app's secret cannot be read", extra={"reason": str(error)})
        response, command = HttpResponse(503, {"error": "the Slack app's secret cannot be read"}), None
    except (ConfigDocumentError, ConfigUnavailableError) as error:
        logger.error("chatops: no configuration document", extra={"reason": str(error)[:500]})
        response, command = HttpResponse(503, {"error": "the configuration document cannot be read"}), None
    logger.info(
        "chatops request",
        extra={
            "status": response.status,
            "command": command.text if command else None,
            "user": command.user if command else None,
        },
    )
    count("ChatOpsRequests", str(response.status))
    return response.function_url()


def handle_work(event: dict[str, Any], context: LambdaContext | None) -> PartialItemFailureResponse:
    """The queued commands: a transient AWS error returns the item to the queue (retried, then dead-lettered);
    a body that is not a command is logged and dropped (it would never parse)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from autopilot.chatops.work import WorkPorts, carry_out  # the deploy path: with the first work item
    from autopilot.handlers.deploy import deploy_ports

    adapters = Adapters.current()

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        try:
            command = Command.model_validate_json(record.body)
        except ValidationError as error:
            logger.error(
                "chatops: not a work item, dropped",
                extra={"message_id": record.message_id, "problems": len(error.errors())},
            )
            return {"rejected": True}
        ports = WorkPorts(
            ecs=adapters.ecs,
            ledger=adapters.ledger,
            deploy=deploy_ports(adapters),
            flush=flush_outbox,
            region=record.aws_region,
        )
        try:
            report = carry_out(command, ports)
        finally:
            flush_outbox()
        count("ChatOpsActions", report.status)
        return report.model_dump(mode="json")

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@telling
def handle_hook(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    try:
        hook = HookStateChangeEvent.model_validate(event)
    except ValidationError as error:
        return rejected(event, error)
    from autopilot.chatops.hooks import HookPorts, on_hook
    from autopilot.handlers.deploy import deploy_ports

    adapters = Adapters.current()
    ports = HookPorts(ecs=adapters.ecs, ledger=adapters.ledger, named_policies=deploy_ports(adapters).named_policies)
    report = on_hook(hook, ports)  # an AWS error fails the invocation: EventBridge retries the event
    count("PauseHooks", report.outcome)
    return report.model_dump(mode="json")
