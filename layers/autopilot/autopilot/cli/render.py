"""How results look in a terminal."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from rich.console import Console
from rich.table import Table

from autopilot.ledger import HistoryRow

OUTCOME_STYLE = {
    "DEPLOYED": "bold green",
    "PLANNED": "cyan",
    "UNCHANGED": "dim",
    "SKIPPED": "yellow",
    "CONFIG_ERROR": "bold red",
    "ERROR": "bold red",
}


def short_image(image: str) -> str:
    """`123456789012.dkr.ecr.us-west-2.amazonaws.com/shop@sha256:abcdef…` → `shop@sha256:abcdef12`."""
    path = image.split("/", 1)[1] if "/" in image and "." in image.split("/", 1)[0] else image
    if "@sha256:" in path:
        name, digest = path.split("@sha256:", 1)
        return f"{name}@sha256:{digest[:12]}"
    return path


def short_task_definition(arn: str | None) -> str:
    return arn.rsplit("/", 1)[-1] if arn else "-"


def deploy_table(report: dict[str, Any]) -> Table:
    title = f"push {report.get('repository', '').split('/', 1)[-1]}:{report.get('tag') or '<untagged>'}"
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("service", "outcome", "task definition", "image", "why"):
        table.add_column(column, overflow="fold")
    for result in report.get("results", []):
        changes = result.get("changes") or []
        images = "\n".join(
            f"{c['container']}: {short_image(c['old_image'])} → {short_image(c['new_image'])}" for c in changes
        )
        revision = short_task_definition(result.get("previous_task_definition"))
        if result.get("new_task_definition"):
            revision += f" → {short_task_definition(result['new_task_definition'])}"
        style = OUTCOME_STYLE.get(result["outcome"], "")
        table.add_row(result["service"], f"[{style}]{result['outcome']}[/]", revision, images, result["reason"])
    if report.get("more_results"):
        counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.get("counts", {}).items()))
        table.caption = f"{report['more_results']} more services not shown (all: {counts}); the log has each one"
    return table


def print_result(console: Console, function: str, result: Any) -> None:
    if isinstance(result, dict) and "results" in result:
        if not result["results"]:
            console.print(f"{function}: no service took this push")
            return
        console.print(deploy_table(result))
        return
    console.print(f"{function}: {json.dumps(result, default=str)}")


def history_table(service: Any, rows: list[HistoryRow]) -> Table:
    table = Table(title=f"history of {service}", title_justify="left")
    for column in ("when (UTC)", "what", "task definition", "status", "outcome / detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        when = row.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if row.at else "-"
        change = (
            f"{short_task_definition(row.previous_task_definition)} → {short_task_definition(row.new_task_definition)}"
        )
        if row.kind == "ecs-deployment":
            steps = " → ".join(step.status for step in row.steps)
            outcome = f"{row.outcome or ''} {row.outcome_detail or ''}".strip()
            table.add_row(
                when, f"ECS deployment {row.deployment_id}", short_task_definition(row.task_definition), steps, outcome
            )
        elif row.kind == "deployment":
            table.add_row(when, f"deploy {row.tag} ({short_image(row.image or '')})", change, row.status or "", "")
        elif row.kind == "manual-rollback":
            table.add_row(when, f"manual rollback by {row.actor}", change, "ROLLED_BACK", "")
        elif row.kind == "rollback":
            outcome = row.outcome or "in progress"
            table.add_row(when, "rollback", short_task_definition(row.bad), "bad revision", outcome)
    return table
