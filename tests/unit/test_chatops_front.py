"""The Function URL's flow on fakes: verify → parse → authorise (user groups looked up only when they decide)
→ answer or queue; and what a command reads from Slack's two request shapes."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from autopilot.chatops.authorize import Refusal
from autopilot.chatops.commands import Command, parse_command
from autopilot.chatops.front import FrontPorts, take
from autopilot.chatops.slack_request import SlackRequest
from autopilot.config.document import ChatOpsConfig

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class Seen:
    def __init__(self) -> None:
        self.signatures: set[str] = set()

    def first_sighting(self, signature: str, *, now: int, keep_seconds: int) -> bool:
        fresh = signature not in self.signatures
        self.signatures.add(signature)
        return fresh


def signed(fields: dict[str, str]) -> SlackRequest:
    body = urlencode(fields).encode()
    now = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=now, body=body) or ""
    return SlackRequest({"x-slack-request-timestamp": now, "x-slack-signature": signature}, body)


def slash(text: str, user: str = "U1", channel: str = "C1") -> SlackRequest:
    return signed({"command": "/autopilot", "text": text, "user_id": user, "channel_id": channel})


class Ports:
    def __init__(self, config: dict[str, object], groups: dict[str, set[str]] | None = None) -> None:
        self.config = ChatOpsConfig.model_validate(config)
        self.groups = groups or {}
        self.lookups: list[str] = []
        self.queued: list[Command] = []
        self.seen = Seen()

    def front(self) -> FrontPorts:
        def user_groups(user: str, asked: list[str]) -> frozenset[str]:
            self.lookups.append(user)
            return frozenset(group for group in asked if user in self.groups.get(group, set()))

        return FrontPorts(
            signing_secret=lambda: SECRET,
            seen=self.seen,
            config=lambda: self.config,
            user_groups=user_groups,
            answer=lambda command: f"answer to {command.text}",
            enqueue=self.queued.append,
        )


def test_a_user_group_grant_is_looked_up_only_when_it_decides() -> None:
    ports = Ports(
        {"channels": ["C1"], "commands": {"rollback": {"users": ["U1"], "user_groups": ["S-ONCALL"]}}},
        groups={"S-ONCALL": {"U2"}},
    )
    assert take(slash("rollback prod/web", user="U1"), ports.front(), now=int(time.time()))[0].status == 200
    assert ports.lookups == []  # named directly: no Slack API call
    assert take(slash("rollback prod/web", user="U2"), ports.front(), now=int(time.time()))[0].status == 200
    refused, _ = take(slash("rollback prod/web", user="U3"), ports.front(), now=int(time.time()))
    assert refused.status == 403
    assert ports.lookups == ["U2", "U3"]
    assert [command.user for command in ports.queued] == ["U1", "U2"]


def test_read_only_commands_are_answered_and_not_queued() -> None:
    ports = Ports({"channels": ["C1"]})
    response, command = take(slash("status"), ports.front(), now=int(time.time()))
    assert (response.status, response.body["text"]) == (200, "answer to status")
    assert command is not None and command.read_only and ports.queued == []
    assert take(slash("freeze prod/web"), ports.front(), now=int(time.time()))[0].status == 403  # nobody's


def test_a_button_press_is_read_from_its_payload() -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U9"},
        "channel": {"id": "C1"},
        "response_url": "https://hooks.slack.com/actions/T/1/x",
        "actions": [{"type": "button", "value": "approve prod/web 1a2b"}],
    }
    command = parse_command(signed({"payload": json.dumps(payload)}))
    assert isinstance(command, Command)
    assert (command.name, command.args, command.user, command.channel) == ("approve", ["prod/web", "1a2b"], "U9", "C1")
    assert command.response_url == "https://hooks.slack.com/actions/T/1/x"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "deploy prod/web",
        "approve prod/web",
        "continue prod/web arn",
        "history web",
        "status a/b c",
        "rollback",
        "rollback prod/web web:3 extra",
        "continue prod/web web:3 hook",
    ],
)
def test_what_is_not_a_command_is_a_400_with_the_usage(text: str) -> None:
    refusal = parse_command(slash(text))
    assert isinstance(refusal, Refusal) and refusal.status == 400


def test_the_request_id_is_a_digest_of_the_signature_not_the_signature() -> None:
    request = slash("status")
    command = parse_command(request)
    assert isinstance(command, Command)
    assert len(command.request_id) == 32 and command.request_id not in request.headers["x-slack-signature"]
