"""Each channel's rendering of every message kind, against reviewed snapshots (UPDATE_SNAPSHOTS=1 rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from autopilot.messages import Action, Message, Severity
from autopilot.notify import render
from autopilot.notify.links import log_stream_link, service_links, task_link
from autopilot.refs import ServiceRef

SNAPSHOTS = Path(__file__).parent / "snapshots"
WEB = ServiceRef("prod", "web")
LINKS = service_links(WEB, "us-west-2")
KINDS: dict[str, Message] = {
    "deploy.started": Message(
        kind="deploy.started",
        severity=Severity.INFO,
        service="prod/web",
        title="prod/web: deploying shop:1.3.0",
        facts={
            "task definition": "web:3",
            "deployment": "ecs-svc/3",
            "image": "123456789012.dkr.ecr.us-west-2.amazonaws.com/shop@sha256:" + "ab" * 32,
        },
        links=LINKS,
        thread_key="prod/web#ecs-svc/3",
    ),
    "deploy.completed": Message(
        kind="deploy.completed",
        severity=Severity.SUCCESS,
        service="prod/web",
        title="prod/web: deployment web:3 completed",
        facts={"task definition": "web:3"},
        links=LINKS,
        thread_key="prod/web#ecs-svc/3",
    ),
    "deploy.failed": Message(
        kind="deploy.failed",
        severity=Severity.ERROR,
        service="prod/web",
        title="prod/web: deployment web:3 failed",
        facts={"reason": "ECS deployment circuit breaker: task failed to start."},
        links=LINKS,
        thread_key="prod/web#ecs-svc/3",
        actions=[Action(label="Unfreeze", value="unfreeze prod/web")],
    ),
    "rollback.done": Message(
        kind="rollback.done",
        severity=Severity.WARNING,
        service="prod/web",
        title="prod/web: rolled back to web:2",
        facts={"bad revision": "web:3"},
        links=LINKS,
        thread_key="prod/web#ecs-svc/3",
    ),
    "rollback.failed": Message(
        kind="rollback.failed",
        severity=Severity.CRITICAL,
        service="prod/web",
        title="prod/web: no known good revision",
        facts={"trigger": "alarm web-5xx"},
        links=LINKS,
        thread_key="prod/web#incident",
    ),
    "config.error": Message(
        kind="config.error",
        severity=Severity.ERROR,
        service="prod/api",
        title="prod/api: autopilot tag is wrong, service skipped",
        facts={"problem": "tag autopilot:deploy='semver:' needs a value"},
    ),
    "task.stopped": Message(
        kind="task.stopped",
        severity=Severity.ERROR,
        service="prod/web",
        title="prod/web: task stopped, exit code 137 (OutOfMemoryError)",
        links=[
            task_link("prod", "0123456789abcdef", "us-west-2"),
            log_stream_link("/ecs/web", "web/web/0123456789abcdef", "us-west-2"),
        ],
    ),
}
CHANNELS = {
    "slack": render.slack_webhook,
    "teams": render.teams,
    "discord": render.discord,
    "gchat": render.google_chat,
    "pagerduty": lambda message: render.pagerduty(message, "R0UTINGKEY"),
    "webhook": render.webhook,
    "email": lambda message: dict(zip(("subject", "body"), render.email(message), strict=True)),
}


def check(name: str, rendered: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(rendered, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {path.name}; write it with UPDATE_SNAPSHOTS=1 and review it"
    assert path.read_text(encoding="utf-8") == text, f"{name} changed; review it and rerun with UPDATE_SNAPSHOTS=1"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", KINDS)
def test_rendering_matches_the_snapshot(channel: str, kind: str) -> None:
    check(f"{channel}-{kind}", CHANNELS[channel](KINDS[kind]))


def test_every_snapshot_is_still_produced() -> None:
    expected = {f"{channel}-{kind}.json" for channel in CHANNELS for kind in KINDS}
    assert {path.name for path in SNAPSHOTS.glob("*.json")} == expected


def long_message() -> Message:
    return Message(
        kind="deploy.failed",
        severity=Severity.ERROR,
        service="prod/web",
        title="x" * 500,
        facts={f"fact {i}": "y" * 5000 for i in range(40)},
        links=LINKS,
    )


def test_slack_stays_within_block_kit_limits() -> None:
    blocks = render.slack_webhook(long_message())["attachments"][0]["blocks"]
    assert len(blocks[0]["text"]["text"]) <= render.SLACK_HEADER
    assert len(blocks[1]["fields"]) <= render.SLACK_FIELDS
    assert all(len(field["text"]) <= render.SLACK_FIELD for field in blocks[1]["fields"])


def test_teams_card_stays_under_28_kb() -> None:
    assert len(json.dumps(render.teams(long_message())).encode()) < render.TEAMS_MAX_BYTES


def test_discord_embed_stays_within_limits() -> None:
    embed = render.discord(long_message())["embeds"][0]
    assert len(json.dumps(embed)) <= render.DISCORD_TOTAL
    assert len(embed["title"]) <= render.DISCORD_TITLE
    assert len(embed["fields"]) <= render.DISCORD_FIELDS


def test_pagerduty_triggers_on_failure_resolves_on_recovery_and_ignores_the_rest() -> None:
    assert render.pagerduty(KINDS["deploy.failed"], "k")["event_action"] == "trigger"
    assert render.pagerduty(KINDS["rollback.failed"], "k")["payload"]["severity"] == "critical"
    resolved = render.pagerduty(KINDS["rollback.done"], "k")
    assert resolved == {"routing_key": "k", "event_action": "resolve", "dedup_key": "prod/web#ecs-svc/3"}
    assert render.pagerduty(KINDS["deploy.started"], "k") is None


def test_links_are_region_aware() -> None:
    assert service_links(WEB, "cn-north-1")[0].url.startswith("https://console.amazonaws.cn/ecs/v2/clusters/prod/")
    assert "us-west-2.console.aws.amazon.com" in LINKS[0].url
    assert service_links(WEB, None) == []
