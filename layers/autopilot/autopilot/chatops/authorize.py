"""Who may run which command, by the configuration document's `chatops` section (pure: no AWS, no Slack)."""

from __future__ import annotations

from dataclasses import dataclass, field

from autopilot.config.document import READ_ONLY_COMMANDS, ChatOpsConfig


@dataclass(frozen=True)
class Caller:
    """Who sent a command, from where: Slack's user and channel ids, and the user groups the user is in."""

    user: str
    channel: str
    user_groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Refusal:
    status: int  # the HTTP status the Function URL answers with
    reason: str


def authorize(command: str, caller: Caller, config: ChatOpsConfig) -> Refusal | None:
    """None when `caller` may run `command`; else why not. Commands are taken only in the configured channels;
    there, a command with an entry in `commands` is for whoever it names (users, user groups, channels), one
    without is for everyone when it only reads (status, history, plan) and for nobody otherwise."""
    if caller.channel not in config.channels:
        return Refusal(403, f"commands are not taken in channel {caller.channel}: add it to chatops.channels")
    grant = config.commands.get(command)
    if grant is None:
        if command in READ_ONLY_COMMANDS:
            return None
        return Refusal(403, f"nobody may run {command}: no chatops.commands.{command} entry names who may")
    if caller.user in grant.users or caller.channel in grant.channels or caller.user_groups & set(grant.user_groups):
        return None
    return Refusal(403, f"user {caller.user} may not run {command}")
