"""Delivering one message to every route it is for, once per route, however often it is handed over."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from autopilot.aws.errors import describe_error, is_retryable
from autopilot.aws.secrets import RouteSecrets, SecretUnavailableError
from autopilot.config.document import ConfigDocument, RouteConfig
from autopilot.ledger import Ledger
from autopilot.messages import Message, Severity, to_json
from autopilot.model import Model
from autopilot.notify import render
from autopilot.notify.channels import DeliveryError, publish_email
from autopilot.notify.urls import UrlPolicyError, check_url
from autopilot.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

    from autopilot.notify.slack_bot import SlackBot
    from autopilot.notify.webhook import HttpPoster

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


class RouteResult(Model):
    route: str
    status: str  # DELIVERED, SKIPPED, DUPLICATE, DEAD_LETTERED, RETRY
    reason: str = ""


class DeliveryReport(Model):
    message_id: str
    kind: str
    results: list[RouteResult] = Field(default_factory=list)


class RetryLaterError(RuntimeError):
    """Some routes failed in a way a later attempt may fix; the message goes back to the queue."""


@dataclass
class NotifyPorts:
    ledger: Ledger
    secrets: RouteSecrets
    http: Callable[[], HttpPoster]  # httpx loads with the first webhook
    sns: SNSClient
    dead_letter: Callable[[Message, str, str], None]
    slack_bots: dict[str, SlackBot] = field(default_factory=dict)
    local_endpoints: bool = False

    def url(self, route: str, channel: str, url: str) -> str:
        """The URL when this channel type may send to it (else a permanent, configuration failure)."""
        try:
            return check_url(route, channel, url, local=self.local_endpoints)
        except UrlPolicyError as error:
            raise DeliveryError(f"configuration error: {error}", permanent=True) from None


def deliver(message: Message, document: ConfigDocument, ports: NotifyPorts) -> DeliveryReport:
    report = DeliveryReport(message_id=message.message_id, kind=message.kind)
    names = message.routes or document.default_routes()
    if not names:
        logger.warning("no route for this message: define a default route", extra={"kind": message.kind})
    retry = []
    for name in names:
        result = _deliver_to(name, document.routes.get(name), message, ports)
        report.results.append(result)
        if result.status == "RETRY":
            retry.append(result.reason)
    if retry:
        raise RetryLaterError("; ".join(retry))
    return report


def _deliver_to(name: str, route: RouteConfig | None, message: Message, ports: NotifyPorts) -> RouteResult:
    if route is None:
        reason = f"route {name} is not defined in the configuration document"
        logger.error("broken route", extra={"route": name, "reason": reason})
        return RouteResult(route=name, status="SKIPPED", reason=reason)
    if message.severity.rank < Severity(route.min_severity).rank or (route.kinds and message.kind not in route.kinds):
        return RouteResult(route=name, status="SKIPPED", reason="below the route's severity or not a kind it takes")
    if ports.ledger.notifications.delivered(name, message.message_id):
        return RouteResult(route=name, status="DUPLICATE", reason="already delivered")
    try:
        _send(name, route, message, ports)
    except (DeliveryError, SecretUnavailableError) as error:
        reason = str(error)
        transient = error.transient if isinstance(error, SecretUnavailableError) else not error.permanent
        if transient:
            return RouteResult(route=name, status="RETRY", reason=reason)
        logger.error("delivery failed permanently; dead-lettered", extra={"route": name, "reason": reason})
        ports.dead_letter(message, name, reason)
        return RouteResult(route=name, status="DEAD_LETTERED", reason=reason)
    recorded(lambda: ports.ledger.notifications.mark_delivered(name, message.message_id), "delivery", name)
    return RouteResult(route=name, status="DELIVERED")


def recorded(write: Callable[[], None], what: str, route: str) -> None:
    """Write a record of something the channel already received. Failing the message now would send it
    again, so the write is tried once more after a retryable error, and a record that still cannot be
    written is logged and the message counts as delivered."""
    for attempt in (1, 2):
        try:
            write()
            return
        except (ClientError, BotoCoreError) as error:
            if attempt == 2 or not is_retryable(error):
                logger.error(
                    f"{what} not recorded; the message was delivered",
                    extra={"route": route, "error": describe_error(error)},
                )
                return


def _secret(route: RouteConfig, name: str, ports: NotifyPorts, *keys: str) -> str:
    if not route.secret:
        raise DeliveryError(f"route {name}: no secret configured", permanent=True)
    values = ports.secrets.get(route.secret)
    for key in (*keys, "value"):
        if values.get(key):
            return values[key]
    raise DeliveryError(f"route {name}: secret {route.secret} has no {' or '.join(keys)}", permanent=True)


def _send(name: str, route: RouteConfig, message: Message, ports: NotifyPorts) -> None:
    kind = route.type
    if kind == "slack_bot":
        _slack_bot(name, route, message, ports)
    elif kind == "pagerduty":
        payload = render.pagerduty(message, _secret(route, name, ports, "routing_key"))
        if payload is not None:
            ports.http().post_json(name, ports.url(name, kind, route.endpoint or PAGERDUTY_EVENTS_URL), payload)
    elif kind == "webhook":
        url = ports.url(name, kind, _secret(route, name, ports, "url"))
        signing = ports.secrets.get(route.secret or "").get("signing_secret")
        if not signing:
            raise DeliveryError(f"route {name}: secret {route.secret} has no signing_secret", permanent=True)
        ports.http().post_signed(name, url, render.webhook(message), signing)
    elif kind == "email":
        if not route.topic_arn:
            raise DeliveryError(f"route {name}: email routes need topic_arn", permanent=True)
        subject, body = render.email(message)
        publish_email(ports.sns, name, route.topic_arn, subject, body)
    else:
        renderers = {
            "slack_webhook": render.slack_webhook,
            "teams": render.teams,
            "discord": render.discord,
            "google_chat": render.google_chat,
        }
        url = ports.url(name, kind, _secret(route, name, ports, "url"))
        if kind == "google_chat" and message.thread_key:
            url += ("&" if "?" in url else "?") + "messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
        ports.http().post_json(name, url, renderers[kind](message))


def _slack_bot(name: str, route: RouteConfig, message: Message, ports: NotifyPorts) -> None:
    """One living message per thread: the first message posts it, later ones update it in place and add
    their details as a reply in its thread. The message ts is kept in the ledger under the thread key."""
    if not route.channel:
        raise DeliveryError(f"route {name}: slack_bot routes need a channel", permanent=True)
    api_url = ports.url(name, "slack_bot", route.api_url) if route.api_url else None
    token = _secret(route, name, ports, "token")
    key = f"{name}|{route.api_url}|{hashlib.sha256(token.encode()).hexdigest()}"
    bot = ports.slack_bots.get(key)
    if bot is None:
        from autopilot.notify.slack_bot import SlackBot  # slack_sdk loads with the first slack_bot route

        bot = ports.slack_bots[key] = SlackBot(name, token, api_url)
    card = render.slack_webhook(message)
    parent = ports.ledger.notifications.thread(name, message.thread_key) if message.thread_key else None
    if parent is None:
        ts = bot.post(route.channel, card["text"], card["attachments"])
        if message.thread_key:
            thread_key = message.thread_key
            threads = ports.ledger.notifications
            recorded(lambda: threads.save_thread(name, thread_key, route.channel or "", ts), "thread", name)
        return
    channel, ts = parent.channel, parent.ts
    bot.update(channel, ts, card["text"], card["attachments"])
    reply = {
        "color": card["attachments"][0]["color"],
        "blocks": render.slack_blocks(message, with_actions=False)[1:] or render.slack_blocks(message),
    }
    bot.post(channel, message.one_line(), [reply], thread_ts=ts)


def dead_letter_body(message: Message) -> str:
    return to_json(message)
