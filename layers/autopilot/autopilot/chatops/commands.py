"""What a verified Slack request asks for: a slash command (`/autopilot approve prod/web 1a2b…`) or a button
of one of our messages (its value is the same command), as one `Command` (pure: no AWS, no Slack)."""

from __future__ import annotations

import hashlib

from autopilot.chatops.authorize import Refusal
from autopilot.chatops.slack_request import SlackRequest
from autopilot.config.document import COMMANDS, READ_ONLY_COMMANDS
from autopilot.model import Model
from autopilot.refs import ServiceRef

USAGE = {
    "status": "status [CLUSTER[/SERVICE]]",
    "history": "history CLUSTER/SERVICE",
    "plan": "plan CLUSTER/SERVICE (what waits for approval)",
    "rollback": "rollback CLUSTER/SERVICE [REVISION]",
    "freeze": "freeze CLUSTER/SERVICE",
    "unfreeze": "unfreeze CLUSTER/SERVICE",
    "approve": "approve CLUSTER/SERVICE APPROVAL_ID",
    "reject": "reject CLUSTER/SERVICE APPROVAL_ID",
    "continue": "continue CLUSTER/SERVICE SERVICE_DEPLOYMENT_ARN HOOK_ID (the Continue button)",
}
_ARGUMENTS = {  # (fewest, most) words after the command
    "status": (0, 1),
    "history": (1, 1),
    "plan": (1, 1),
    "rollback": (1, 3),
    "freeze": (1, 1),
    "unfreeze": (1, 1),
    "approve": (2, 2),
    "reject": (2, 2),
    "continue": (3, 3),
}


class Command(Model):
    """One command from one person; also the work item the queue carries to the worker."""

    name: str
    args: list[str]
    user: str  # Slack user id
    channel: str  # Slack channel id
    request_id: str  # a digest of the request's signature: one request, whatever Slack does with it
    response_url: str | None = None

    @property
    def text(self) -> str:
        return " ".join([self.name, *self.args])

    @property
    def read_only(self) -> bool:
        return self.name in READ_ONLY_COMMANDS

    @property
    def service(self) -> ServiceRef | None:
        if not self.args or "/" not in self.args[0]:
            return None
        return ServiceRef.parse(self.args[0])

    def target(self) -> ServiceRef:
        """The service of a command that names one (all but `status`; parse_command checked it)."""
        ref = self.service
        if ref is None:
            raise ValueError(f"{self.name} names no CLUSTER/SERVICE")
        return ref

    @property
    def hook(self) -> tuple[str, str] | None:
        """(service deployment ARN, hook id) of a pause hook's Continue / Roll back."""
        if self.name in ("continue", "rollback") and len(self.args) == 3:
            return self.args[1], self.args[2]
        return None


def help_text() -> str:
    return "usage: /autopilot " + " | ".join(USAGE.values())


def parse_command(request: SlackRequest) -> Command | Refusal:
    """The command of a slash command (its `text`) or of a button press (its `value`); a Refusal (400) for
    anything else. Who and where come from Slack's fields, never from the text."""
    form = request.form()
    interaction = request.interaction()
    if interaction is not None:
        actions = interaction.get("actions") or []
        if interaction.get("type") != "block_actions" or not actions:
            return Refusal(400, "not a button press of an autopilot message")
        text = str(actions[0].get("value") or "")
        user = str((interaction.get("user") or {}).get("id") or "")
        channel = str((interaction.get("channel") or {}).get("id") or "")
        response_url = interaction.get("response_url")
    else:
        text, user, channel = form.get("text", ""), form.get("user_id", ""), form.get("channel_id", "")
        response_url = form.get("response_url")
    if not user or not channel:
        return Refusal(400, "the request names no user or channel")
    words = text.split()
    if not words or words[0].lower() not in COMMANDS:
        return Refusal(400, f"unknown command {words[0]!r}; {help_text()}" if words else help_text())
    name, args = words[0].lower(), words[1:]
    fewest, most = _ARGUMENTS[name]
    if not fewest <= len(args) <= most:
        return Refusal(400, f"usage: /autopilot {USAGE[name]}")
    if args and name != "status" and args[0].count("/") != 1:
        return Refusal(400, f"expected CLUSTER/SERVICE, got {args[0]!r}")
    if len(args) == 3 and ":service-deployment/" not in args[1]:  # a pause hook's Continue / Roll back
        return Refusal(400, f"expected a service deployment ARN, got {args[1]!r}")
    signature = request.headers.get("x-slack-signature", "")
    return Command(
        name=name,
        args=args,
        user=user,
        channel=channel,
        request_id=hashlib.sha256(signature.encode()).hexdigest()[:32],
        response_url=str(response_url) if response_url else None,
    )
