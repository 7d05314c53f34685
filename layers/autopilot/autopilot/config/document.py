"""The configuration document: one JSON value in SSM Parameter Store (DESIGN §2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from autopilot.model import Model


class ConfigDocumentError(ValueError):
    """The configuration document exists but cannot be used; the message says why."""


class ConfigUnavailableError(RuntimeError):
    """The configuration document could not be read just now (throttled, a network error): a retry may."""


ROUTE_TYPES = ("slack_webhook", "slack_bot", "teams", "discord", "google_chat", "pagerduty", "webhook", "email")


class RouteConfig(Model):
    """Where messages go: a channel type, the Secrets Manager secret with its webhook URL or token (never the
    value itself), the least severity it takes and the message kinds it takes (all when empty)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["slack_webhook", "slack_bot", "teams", "discord", "google_chat", "pagerduty", "webhook", "email"]
    secret: str | None = None
    min_severity: Literal["info", "success", "warning", "error", "critical"] = "info"
    kinds: list[str] = Field(default_factory=list)
    channel: str | None = None  # slack_bot: the channel id
    api_url: str | None = None  # slack_bot: another Slack Web API base URL (the local chat sink)
    endpoint: str | None = None  # pagerduty: the Events API URL (EU accounts, the local chat sink)
    topic_arn: str | None = None  # email: the SNS topic


READ_ONLY_COMMANDS = ("status", "history", "plan")
COMMANDS = (*READ_ONLY_COMMANDS, "rollback", "freeze", "unfreeze", "approve", "reject", "continue")


class Grant(Model):
    """Who may run one command: any of these Slack user ids, user group ids (S…) or channel ids."""

    model_config = ConfigDict(extra="forbid")

    users: list[str] = Field(default_factory=list)
    user_groups: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)


class ChatOpsConfig(Model):
    """Slack commands and buttons: taken only in `channels`; `commands` says who may run each. A command
    without an entry: the read-only ones (status, history, plan) for everyone in those channels, any other
    for nobody."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] = Field(default_factory=list)
    commands: dict[Literal[COMMANDS], Grant] = Field(default_factory=dict)  # type: ignore[valid-type]


class ConfigDocument(Model):
    model_config = ConfigDict(extra="allow")

    policies: dict[str, str] = Field(default_factory=dict)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    chatops: ChatOpsConfig = Field(default_factory=ChatOpsConfig)

    def default_routes(self) -> list[str]:
        """`defaults.routes` (a list or a space-separated string), else the route named `default` if any."""
        configured = self.defaults.get("routes")
        if isinstance(configured, str):
            return configured.split()
        if isinstance(configured, list):
            return [str(name) for name in configured]
        return ["default"] if "default" in self.routes else []

    @classmethod
    def from_json(cls, text: str, *, source: str) -> ConfigDocument:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or '(document)'}: {item['msg']}" for item in error.errors()
            )
            raise ConfigDocumentError(f"configuration document {source} is invalid: {problems}") from error
