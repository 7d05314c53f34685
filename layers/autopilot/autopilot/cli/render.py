"""How results look in a terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

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


def history_table(service: Any, items: list[dict[str, Any]]) -> Table:
    table = Table(title=f"history of {service}", title_justify="left")
    for column in ("when", "what", "task definition", "status", "outcome / detail"):
        table.add_column(column, overflow="fold")
    for item in items:
        kind = item.get("kind")
        if kind == "ecs-deployment":
            steps = " → ".join(str(entry.get("status")) for entry in item.get("history", []))
            table.add_row(
                str(item.get("updated_at", "")),
                f"ECS deployment {item.get('deployment_id')}",
                short_task_definition(item.get("task_definition")),
                steps,
                f"{item.get('outcome', '')} {item.get('outcome_detail', '')}".strip(),
            )
        elif kind == "deployment":
            table.add_row(
                str(item.get("started_at", "")),
                f"deploy {item.get('tag')} ({short_image(item.get('image', ''))})",
                f"{short_task_definition(item.get('previous_task_definition'))} → "
                f"{short_task_definition(item.get('new_task_definition'))}",
                str(item.get("status", "")),
                "",
            )
        elif kind == "manual-rollback":
            table.add_row(
                str(item.get("at", "")),
                f"manual rollback by {item.get('actor')}",
                f"{short_task_definition(item.get('previous_task_definition'))} → "
                f"{short_task_definition(item.get('new_task_definition'))}",
                "ROLLED_BACK",
                "",
            )
        elif kind == "rollback":
            table.add_row(str(item.get("at", "")), f"rollback claimed for {item.get('bad', '')}", "", "", "")
    return table
