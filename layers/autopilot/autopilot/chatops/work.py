"""The commands that change something, carried out from the ChatOps queue (the Function URL has answered Slack
already): approve / reject a held push, continue / roll back a paused deployment, roll back, freeze, unfreeze.

Each is written to the ledger with the Slack user before it is done (REQUESTED) and after (DONE or FAILED),
keyed by its request, or by the pause hook it answers: a redelivered work item finishes what its first attempt
started and does nothing twice; a second click on a hook's buttons is told who decided first. Transient AWS
errors propagate (the queue delivers the item again); permanent ones are recorded and told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

from autopilot.approvals import Decision, decide
from autopilot.aws.ecs import EcsGateway
from autopilot.aws.errors import describe_error, is_retryable
from autopilot.chatops.commands import Command
from autopilot.config.service_tags import parse_service_tags
from autopilot.deploy import DeployPorts
from autopilot.ledger import Ledger
from autopilot.manual import ManualActionError, manual_rollback, set_frozen
from autopilot.messages import Message, Severity, emit
from autopilot.model import Model
from autopilot.notify.links import service_links
from autopilot.refs import ServiceRef


@dataclass(frozen=True)
class WorkPorts:
    ecs: EcsGateway
    ledger: Ledger
    deploy: DeployPorts
    flush: Callable[[], object]  # put what was told on the notification queue (before the action is finished)
    region: str | None = None


class WorkReport(Model):
    command: str
    user: str
    status: str  # DONE, FAILED, ALREADY (done by an earlier delivery, or decided by someone else)
    outcome: str


def action_key(command: Command) -> str:
    """One row per request, or per pause hook (whoever answers a hook first decides it)."""
    hook = command.hook
    return f"hook#{hook[1]}" if hook else f"{command.name}#{command.request_id}"


def hook_thread(ref: ServiceRef, hook_id: str) -> str:
    return f"{ref}#hook#{hook_id}"


def carry_out(command: Command, ports: WorkPorts) -> WorkReport:
    """Begin (the ledger row) → do → tell → finish: a delivery that fails anywhere is delivered again and
    finds its row REQUESTED: each step is idempotent against what it changes, so it goes on from there."""
    ref = command.target()
    key, actor = action_key(command), f"slack:{command.user}"
    actions = ports.ledger.actions
    retried = False
    if (
        actions.begin(ref, key, action=command.name, actor=actor, detail=command.text, request=command.request_id)
        is None
    ):
        earlier = actions.get(ref, key)
        retried = earlier is not None and earlier.request == command.request_id and earlier.status == "REQUESTED"
        if earlier is not None and not retried:
            by = "" if earlier.actor == actor else f" by <@{earlier.actor.removeprefix('slack:')}>"
            outcome = f"{earlier.detail}: {earlier.status.lower()}{by}: {earlier.outcome_detail or 'in progress'}"
            if earlier.request != command.request_id:  # someone's second click: told why nothing happened
                _tell(command, ref, ports, f"{command.text}: not done, decided already{by}", Severity.INFO)
                ports.flush()
            return WorkReport(command=command.text, user=command.user, status="ALREADY", outcome=outcome)
    try:
        outcome, failed = _do(command, ref, ports, retried=retried)
    except ClientError as error:
        if is_retryable(error):
            raise
        outcome, failed = describe_error(error), True
    except ManualActionError as error:
        outcome, failed = str(error), True
    if command.name not in ("approve", "reject") or failed:  # an approval's own message says who decided
        _tell(command, ref, ports, outcome, Severity.WARNING if failed else Severity.INFO)
    ports.flush()  # told before the row says so: a failed flush leaves it REQUESTED, and the retry tells again
    status = "FAILED" if failed else "DONE"
    actions.finish(ref, key, status=status, outcome=outcome)
    return WorkReport(command=command.text, user=command.user, status=status, outcome=outcome)


def _do(command: Command, ref: ServiceRef, ports: WorkPorts, *, retried: bool) -> tuple[str, bool]:
    """What was done, and whether it failed (a decision that could not be taken)."""
    actor = f"slack:{command.user}"
    if command.name in ("approve", "reject"):
        report = decide(ref, command.args[1], Decision(command.name), command.user, ports.deploy)
        if report.outcome in ("APPROVED", "REJECTED"):  # the same words on a retry (the deploy's own are not)
            return f"{report.outcome.lower()} by <@{command.user}>", False
        return f"{report.outcome}: {report.reason}", True
    if command.hook is not None:
        return _answer_hook(command, ports, retried=retried), False
    if command.name == "rollback":
        revision = command.args[1] if len(command.args) > 1 else None
        done = manual_rollback(ref, revision, actor, ecs=ports.ecs, ledger=ports.ledger, retried=retried)
        return done.describe(), False
    return set_frozen(ref, command.name == "freeze", ecs=ports.ecs, ledger=ports.ledger), False


def _answer_hook(command: Command, ports: WorkPorts, *, retried: bool) -> str:
    """ContinueServiceDeployment, once: a retried delivery reads the hook first and does not call again when it
    ended the way this command asked (an earlier delivery's call); a refusal stands unless ECS shows the same."""
    arn, hook_id = command.hook or ("", "")
    action = "CONTINUE" if command.name == "continue" else "ROLLBACK"
    ended = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
    said = f"deployment {arn.rsplit('/', 1)[-1]} {'continued' if action == 'CONTINUE' else 'rolled back'}"
    if retried and ports.ecs.hook_status(arn, hook_id) == ended:
        return f"{said} by <@{command.user}>"
    try:
        ports.ecs.continue_service_deployment(arn, hook_id, action)
    except ClientError as error:
        if is_retryable(error) or ports.ecs.hook_status(arn, hook_id) != ended:
            raise
    return f"{said} by <@{command.user}>"


def _tell(command: Command, ref: ServiceRef, ports: WorkPorts, outcome: str, severity: Severity) -> None:
    """The outcome, in the service's channel: a pause hook's message is updated in place (its buttons go)."""
    snapshot = ports.ecs.describe_services([ref]).get(ref)
    config = parse_service_tags(snapshot.tags if snapshot else {}, ports.deploy.named_policies)
    hook = command.hook
    emit(
        Message(
            kind="chatops.action",
            severity=severity,
            service=str(ref),
            title=f"{ref}: {outcome}" if hook else f"{command.text} (<@{command.user}>): {outcome}",
            facts={"by": f"<@{command.user}>", "command": f"/autopilot {command.text}"},
            links=service_links(ref, ports.region),
            thread_key=hook_thread(ref, hook[1]) if hook else None,
            routes=list(config.notify_routes),
            region=ports.region,
        )
    )
