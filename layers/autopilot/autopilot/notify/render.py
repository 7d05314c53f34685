"""One channel-neutral message, rendered for each channel within that channel's documented limits."""

from __future__ import annotations

import json
from typing import Any

from autopilot.messages import Message, Severity

COLOURS = {
    Severity.INFO: "#439FE0",
    Severity.SUCCESS: "#2EB67D",
    Severity.WARNING: "#ECB22E",
    Severity.ERROR: "#E01E5A",
    Severity.CRITICAL: "#8B0000",
}
EMOJI = {
    Severity.INFO: ":arrows_counterclockwise:",
    Severity.SUCCESS: ":white_check_mark:",
    Severity.WARNING: ":warning:",
    Severity.ERROR: ":x:",
    Severity.CRITICAL: ":rotating_light:",
}
TEAMS_STYLE = {
    Severity.INFO: "accent",
    Severity.SUCCESS: "good",
    Severity.WARNING: "warning",
    Severity.ERROR: "attention",
    Severity.CRITICAL: "attention",
}
PAGERDUTY_SEVERITY = {
    Severity.INFO: "info",
    Severity.SUCCESS: "info",
    Severity.WARNING: "warning",
    Severity.ERROR: "error",
    Severity.CRITICAL: "critical",
}
RECOVERY_KINDS = frozenset({"deploy.completed", "rollback.done", "task.recovered"})

# Slack: https://api.slack.com/reference/block-kit/blocks (header 150, section text 3000, 10 fields of 2000)
SLACK_HEADER = 150
SLACK_TEXT = 3000
SLACK_FIELD = 2000
SLACK_FIELDS = 10
# Discord: embed title 256, description 4096, 25 fields (name 256, value 1024), 6000 in all
DISCORD_TITLE = 256
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_TOTAL = 6000
# Teams: a Workflows webhook message must stay under 28 KB
TEAMS_MAX_BYTES = 28 * 1024
# PagerDuty Events API v2: summary 1024
PAGERDUTY_SUMMARY = 1024


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _facts(message: Message, limit: int | None = None) -> list[tuple[str, str]]:
    items = [(key, value) for key, value in message.facts.items() if value]
    return items[:limit] if limit else items


# -- Slack (incoming webhook and chat.postMessage share Block Kit) -------------------------------------
def slack_blocks(message: Message, *, with_actions: bool = True) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(message.title, SLACK_HEADER), "emoji": True}}
    ]
    fields = [
        {"type": "mrkdwn", "text": clip(f"*{key}*\n{value}", SLACK_FIELD)}
        for key, value in _facts(message, SLACK_FIELDS)
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    context = [f"{EMOJI[message.severity]} {message.kind}"]
    if message.service:
        context.append(f"`{message.service}`")
    context.extend(f"<{link.url}|{link.label}>" for link in message.links)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(" · ".join(context), SLACK_TEXT)}]})
    if with_actions and message.actions:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": clip(action.label, 75)},
                        "value": action.value,
                        "action_id": f"autopilot:{action.value}"[:255],
                        **({"style": action.style} if action.style else {}),
                    }
                    for action in message.actions[:5]
                ],
            }
        )
    return blocks


def slack_webhook(message: Message) -> dict[str, Any]:
    return {
        "text": clip(message.one_line(), SLACK_TEXT),
        "attachments": [{"color": COLOURS[message.severity], "blocks": slack_blocks(message)}],
    }


# -- Microsoft Teams (Workflows webhook: an Adaptive Card in the message/attachments envelope) -----------
def teams(message: Message) -> dict[str, Any]:
    facts = _facts(message)
    while True:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {
                    "type": "TextBlock",
                    "text": message.title,
                    "weight": "Bolder",
                    "size": "Medium",
                    "wrap": True,
                    "color": TEAMS_STYLE[message.severity],
                },
                {
                    "type": "TextBlock",
                    "text": f"{message.kind} · {message.service or 'ecs-autopilot'}",
                    "isSubtle": True,
                    "spacing": "None",
                    "wrap": True,
                },
                {"type": "FactSet", "facts": [{"title": key, "value": value} for key, value in facts]},
            ],
            "actions": [{"type": "Action.OpenUrl", "title": link.label, "url": link.url} for link in message.links],
        }
        envelope = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }
        if len(json.dumps(envelope).encode()) < TEAMS_MAX_BYTES or not facts:
            return envelope
        facts = [(key, clip(value, max(20, len(value) // 2))) for key, value in facts]
        if all(len(value) <= 20 for _, value in facts):
            facts = facts[:-1]


# -- Discord (webhook with embeds) ---------------------------------------------------------------------
def discord(message: Message) -> dict[str, Any]:
    fields = [
        {"name": clip(key, DISCORD_FIELD_NAME), "value": clip(value, DISCORD_FIELD_VALUE), "inline": True}
        for key, value in _facts(message, DISCORD_FIELDS)
    ]
    links = " · ".join(f"[{link.label}]({link.url})" for link in message.links)
    embed: dict[str, Any] = {
        "title": clip(message.title, DISCORD_TITLE),
        "description": clip(f"{message.kind} · {message.service or ''}\n{links}".strip(), 4096),
        "color": int(COLOURS[message.severity].lstrip("#"), 16),
        "fields": fields,
    }
    while len(json.dumps(embed)) > DISCORD_TOTAL and embed["fields"]:
        embed["fields"] = embed["fields"][:-1]
    return {"username": "ecs-autopilot", "embeds": [embed], "allowed_mentions": {"parse": []}}


# -- Google Chat (webhook with a cardsV2 card; threads by thread key) ------------------------------------
def google_chat(message: Message) -> dict[str, Any]:
    widgets: list[dict[str, Any]] = [
        {"decoratedText": {"topLabel": key, "text": value, "wrapText": True}} for key, value in _facts(message)
    ]
    if message.links:
        widgets.append(
            {
                "buttonList": {
                    "buttons": [
                        {"text": link.label, "onClick": {"openLink": {"url": link.url}}} for link in message.links
                    ]
                }
            }
        )
    payload: dict[str, Any] = {
        "text": message.one_line(),
        "cardsV2": [
            {
                "cardId": message.message_id,
                "card": {
                    "header": {
                        "title": clip(message.title, 200),
                        "subtitle": f"{message.kind} · {message.service or ''}",
                    },
                    "sections": [{"widgets": widgets}] if widgets else [],
                },
            }
        ],
    }
    if message.thread_key:
        payload["thread"] = {"threadKey": message.thread_key}
    return payload


# -- PagerDuty Events API v2 ---------------------------------------------------------------------------
def pagerduty(message: Message, routing_key: str) -> dict[str, Any] | None:
    """trigger on failure or escalation, resolve on recovery; other messages are not for PagerDuty."""
    dedup_key = (message.thread_key or message.service or message.message_id)[:255]
    if message.kind in RECOVERY_KINDS:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    if message.severity.rank < Severity.ERROR.rank:
        return None
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": clip(message.title, PAGERDUTY_SUMMARY),
            "source": message.service or "ecs-autopilot",
            "severity": PAGERDUTY_SEVERITY[message.severity],
            "component": message.kind,
            "custom_details": dict(message.facts),
        },
        "links": [{"href": link.url, "text": link.label} for link in message.links],
    }


# -- generic JSON webhook and email --------------------------------------------------------------------
def webhook(message: Message) -> dict[str, Any]:
    return {"id": message.message_id, **message.model_dump(mode="json", exclude={"routes"})}


def email(message: Message) -> tuple[str, str]:
    """(subject, body) for SNS email; the subject is at most 100 characters, ASCII-safe."""
    subject = clip(f"[{message.severity.value}] {message.title}", 100).encode("ascii", "replace").decode()
    lines = [message.title, "", *(f"{key}: {value}" for key, value in _facts(message)), ""]
    lines += [f"{link.label}: {link.url}" for link in message.links]
    lines += ["", f"{message.kind} · {message.service or ''} · thread {message.thread_key or '-'}"]
    return subject, "\n".join(lines)
