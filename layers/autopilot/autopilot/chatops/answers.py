"""The read-only commands, answered at once in the channel (only to the person who asked): status, history,
plan. A few reads of ECS and the ledger each, well within Slack's 3 seconds."""

from __future__ import annotations

from autopilot.chatops.commands import Command
from autopilot.ports import DeployLedger, Services
from autopilot.refs import ServiceRef

MAX_SERVICES = 20  # a status of a whole fleet is the CLI's job; chat shows the first ones and says so
MAX_HISTORY = 10


def _short(task_definition: str | None) -> str:
    return task_definition.rsplit("/", 1)[-1] if task_definition else "-"


def answer(command: Command, *, ecs: Services, ledger: DeployLedger, now: int) -> str:
    """The answer to a read-only command; `now` (epoch seconds) tells a pending approval from an expired one."""
    if command.name == "status":
        return _status(command.args[0] if command.args else "", ecs=ecs, ledger=ledger)
    ref = command.target()
    if command.name == "history":
        return _history(ref, ledger)
    return _plan(ref, ledger, now)


def _status(scope: str, *, ecs: Services, ledger: DeployLedger) -> str:
    cluster, _, name = scope.partition("/")
    refs = sorted(
        (
            ref
            for ref in ledger.index.indexed_services()
            if (not cluster or ref.cluster == cluster) and (not name or ref.name == name)
        ),
        key=str,
    )
    if not refs:
        return f"no managed service{' in ' + scope if scope else ''}"
    shown = refs[:MAX_SERVICES]
    snapshots = ecs.describe_services(shown)
    states = {ref: ledger.services.state(ref) for ref in shown}
    lines = []
    for ref in shown:
        snapshot, state = snapshots.get(ref), states[ref]
        running = _short(snapshot.task_definition) if snapshot else "gone"
        policy = snapshot.tags.get("autopilot:deploy", "-") if snapshot else "-"
        notes = [f"last-known-good {_short(state.last_known_good)}"]
        if state.frozen:
            notes.append("frozen")
        if state.quarantined:
            notes.append(f"{len(state.quarantined)} quarantined digest(s)")
        lines.append(f"{ref}: {running} ({policy}); " + ", ".join(notes))
    if len(refs) > len(shown):
        lines.append(f"… and {len(refs) - len(shown)} more: autopilot status {scope}".rstrip())
    return "\n".join(lines)


def _history(ref: ServiceRef, ledger: DeployLedger) -> str:
    rows = ledger.deployments.history(ref, limit=MAX_HISTORY)
    if not rows:
        return f"no history for {ref}"
    lines = [f"history of {ref} (newest first):"]
    for row in rows:
        when = row.at.strftime("%Y-%m-%d %H:%M") if row.at else "-"
        if row.kind == "deployment":
            what = f"deploy {row.tag}: {_short(row.previous_task_definition)} → {_short(row.new_task_definition)}"
        elif row.kind == "ecs-deployment":
            what = f"ECS deployment {row.deployment_id} of {_short(row.task_definition)}: {row.status}"
        elif row.kind in ("manual-rollback", "action"):
            what = f"{row.detail or 'rollback to ' + _short(row.new_task_definition)} by {row.actor}"
        elif row.kind == "rollback":
            what = f"rollback of {_short(row.bad)}: {row.outcome or 'in progress'}"
        else:
            what = f"{row.kind} {row.status or ''}".strip()
        lines.append(f"{when} {what}")
    return "\n".join(lines)


def _plan(ref: ServiceRef, ledger: DeployLedger, now: int) -> str:
    pending = ledger.approvals.pending(ref)
    waiting = [approval for approval in pending if approval.expires_at > now]
    expired = len(pending) - len(waiting)  # past its expiry, still PENDING in the ledger: it can no longer deploy
    lines = [] if waiting else [f"nothing waits for approval on {ref}"]
    for approval in waiting:
        running = _short(approval.previous_task_definition)
        lines.append(f"{approval.approval_id}: {approval.repository}:{approval.tag} on {running}")
        lines.extend(f"  {change}" for change in approval.changes)
        lines.append(f"  /autopilot approve {ref} {approval.approval_id}")
    if expired:
        lines.append(f"({expired} expired without a decision: push the image again to ask anew)")
    return "\n".join(lines)
