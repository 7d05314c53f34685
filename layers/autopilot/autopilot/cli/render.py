"""How results look in a terminal."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from autopilot.ledger import HistoryRow

OUTCOME_STYLE = {
    "DEPLOYED": "bold green",
    "PLANNED": "cyan",
    "OBSERVED": "cyan",
    "UNCHANGED": "dim",
    "SKIPPED": "yellow",
    "CONFIG_ERROR": "bold red",
    "ERROR": "bold red",
    "ROLLED_BACK": "bold yellow",
    "ROLLBACK_FAILED": "bold red",
    "FAILED": "red",
    "SUCCEEDED": "green",
    "DRAINED": "yellow",
    "DEREGISTERED": "yellow",
    "COMPLETED": "green",
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


def outcome_text(outcome: str) -> Text:
    """An outcome, styled when it has a style: never markup, so no value can break the output."""
    return Text(outcome, style=OUTCOME_STYLE.get(outcome, ""))


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
        table.add_row(
            Text(str(result["service"])),
            outcome_text(str(result["outcome"])),
            Text(revision),
            Text(images),
            Text(str(result["reason"])),
        )
    if report.get("more_results"):
        counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.get("counts", {}).items()))
        table.caption = f"{report['more_results']} more services not shown (all: {counts}); the log has each one"
    return table


def result_lines(function: str, result: Any) -> list[Text]:
    """One line per report (rollback, drain, task watch, inventory…): function, outcome, what, why."""
    reports = result if isinstance(result, list) else [result]
    lines = []
    for report in reports:
        if isinstance(report, dict) and ("outcome" in report or "stop_class" in report):
            line = Text(f"{function}: ")
            line.append_text(outcome_text(str(report.get("outcome") or report["stop_class"])))
            subject = report.get("service") or report.get("subject") or report.get("trigger") or ""
            why = report.get("reason") or report.get("detail") or report.get("cause") or ""
            line.append(f" {subject}" + (f": {why}" if why else ""))
            lines.append(line)
        else:
            lines.append(Text(f"{function}: {json.dumps(report, default=str)}"))
    return lines


def print_result(console: Console, function: str, result: Any) -> None:
    """A push as a table (service, outcome, revision, image, why); any other report one line each."""
    if isinstance(result, dict) and "results" in result and "repository" in result:
        if result.get("handed_off"):
            console.print(
                Text(
                    f"{function}: {result['handed_off']} services handed to {result['work_items']} work items "
                    "(one per task-definition family, paced under ECS's rate limits); progress is told in chat"
                )
            )
            return
        if not result["results"]:
            console.print(Text(f"{function}: no service took this push"))
            return
        console.print(deploy_table(result))
        return
    if isinstance(result, dict) and isinstance(result.get("results"), list):
        result = result["results"] or [{"outcome": "IGNORED", "reason": "nothing to do"}]
    for line in result_lines(function, result):
        console.print(line)


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
        elif row.kind == "observation":
            table.add_row(when, row.detail or "", "", "OBSERVED", "observe mode: nothing changed")
        elif row.kind == "action":
            table.add_row(when, f"{row.detail} by {row.actor}", "", row.status or "", row.outcome_detail or "")
        elif row.kind == "rollback":
            outcome = row.outcome or "in progress"
            table.add_row(when, "rollback", short_task_definition(row.bad), "bad revision", outcome)
    return table
