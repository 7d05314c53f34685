"""The ChatOps Function URL: a request from Slack → verified (signature, 5-minute window, replay cache) →
parsed → authorised by the configuration document → answered at once (read-only commands) or queued for the
worker and acknowledged (Slack waits 3 seconds). Nothing is done for a request refused on the way."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autopilot.chatops.authorize import Caller, Refusal, authorize
from autopilot.chatops.commands import Command, parse_command
from autopilot.chatops.slack_request import SeenRequests, SlackRequest, verify
from autopilot.config.document import ChatOpsConfig


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: dict[str, Any]

    def function_url(self) -> dict[str, Any]:
        """The response a Function URL returns (payload format 2.0)."""
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(self.body),
        }


@dataclass(frozen=True)
class FrontPorts:
    signing_secret: Callable[[], str]
    seen: SeenRequests
    config: Callable[[], ChatOpsConfig]
    user_groups: Callable[[str, list[str]], frozenset[str]]  # (user, groups asked about) → the ones they are in
    answer: Callable[[Command], str]
    enqueue: Callable[[Command], None]


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def take(request: SlackRequest, ports: FrontPorts, *, now: int) -> tuple[HttpResponse, Command | None]:
    """The HTTP answer, and the command when one was taken (answered or queued)."""
    form = request.form()
    if form.get("ssl_check") == "1" and "command" not in form and "payload" not in form:
        return HttpResponse(200, {}), None  # Slack checking the URL's certificate: nothing is asked, nothing done
    refusal = verify(request, ports.signing_secret(), now=now, seen=ports.seen)
    if refusal is not None:
        return HttpResponse(refusal.status, {"error": refusal.reason}), None
    command = parse_command(request)
    if isinstance(command, Refusal):
        return HttpResponse(command.status, _ephemeral(command.reason)), None
    config = ports.config()
    grant = config.commands.get(command.name)
    groups: frozenset[str] = frozenset()
    if grant and grant.user_groups and command.user not in grant.users and command.channel not in grant.channels:
        groups = ports.user_groups(command.user, list(grant.user_groups))  # a Slack API call: only when it decides
    refusal = authorize(command.name, Caller(command.user, command.channel, groups), config)
    if refusal is not None:
        return HttpResponse(refusal.status, _ephemeral(refusal.reason)), None
    if command.read_only:
        return HttpResponse(200, _ephemeral(ports.answer(command))), command
    ports.enqueue(command)
    return HttpResponse(200, _ephemeral(f"/autopilot {command.text}: on it (<@{command.user}>)")), command
