"""`autopilot`: route, replay, inventory, local up, demo. Errors are one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from autopilot.local.project import Project, ProjectNotFoundError, find_template
from autopilot.local.sample_events import load_event

out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


class CliError(click.ClickException):
    """An error the user can fix: printed as one line, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"autopilot: error: {self.message}", err=True)


def _project(template: str | None) -> Project:
    try:
        return Project(Path(template) if template else find_template())
    except (ProjectNotFoundError, ValueError, OSError) as error:
        raise CliError(str(error)) from error


def _event(path: str) -> dict[str, Any]:
    try:
        return load_event(Path(path))
    except json.JSONDecodeError as error:
        raise CliError(f"{path} is not valid JSON: {error}") from error
    except (OSError, ValueError) as error:
        raise CliError(str(error)) from error


def _aws_target(endpoint_url: str | None, table: str | None) -> None:
    """Point the handlers at an endpoint (or the real account) and the ledger table."""
    if endpoint_url:
        from autopilot.local.emulator import use_endpoint

        use_endpoint(
            endpoint_url,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-west-2",
        )
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        raise CliError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION)")
    if table:
        os.environ["LEDGER_TABLE_NAME"] = table
    if not os.environ.get("LEDGER_TABLE_NAME"):
        raise CliError("no ledger table: pass --table or set LEDGER_TABLE_NAME (the stack output LedgerTableName)")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "EcsAutopilot")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from autopilot.settings import get_settings

    get_settings.cache_clear()


template_option = click.option("--template", type=click.Path(dir_okay=False), help="template.yaml to read rules from")
endpoint_option = click.option("--endpoint-url", help="AWS endpoint, e.g. the one `autopilot local up` prints")
table_option = click.option("--table", help="ledger table name (default: $LEDGER_TABLE_NAME)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ecs-autopilot")
def cli() -> None:
    """ecs-autopilot: hands-off operations for Amazon ECS."""


@cli.command()
@click.argument("event_file", type=click.Path(dir_okay=False))
@template_option
def route(event_file: str, template: str | None) -> None:
    """Print the functions whose template.yaml rules match EVENT_FILE, one per line."""
    project = _project(template)
    for function in project.route(_event(event_file)):
        click.echo(function)


@cli.command()
@click.argument("event_file", type=click.Path(dir_okay=False))
@endpoint_option
@table_option
@click.option("--dry-run", is_flag=True, help="plan only: print what each function would change, change nothing")
@template_option
def replay(event_file: str, endpoint_url: str | None, table: str | None, dry_run: bool, template: str | None) -> None:
    """Route EVENT_FILE and run the matched handlers in-process against the endpoint or the real account."""
    project = _project(template)
    event = _event(event_file)
    functions = project.route(event)
    if not functions:
        out.print("no rule matches this event; nothing to run")
        return
    _aws_target(endpoint_url, table)
    from autopilot.cli.render import print_result

    for function in functions:
        if dry_run:
            if function != "DeployFunction":
                out.print(f"{function}: no dry run for this function; not run")
                continue
            from autopilot.wiring import handle_push

            result = handle_push(event, None, dry_run=True)
        else:
            result = _invoke(project, function, event)
        print_result(out, function, result)


def _invoke(project: Project, function: str, event: dict[str, Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return project.invoke(function, event)
    except (ClientError, BotoCoreError) as error:
        raise CliError(f"{function} failed: {error}") from error


@cli.command()
@endpoint_option
@table_option
@template_option
def inventory(endpoint_url: str | None, table: str | None, template: str | None) -> None:
    """Rebuild the repository → services index once, in full."""
    project = _project(template)
    _aws_target(endpoint_url, table)
    from autopilot.local.sample_events import EventFactory

    factory = EventFactory(
        project.root / "events", account="123456789012", region=os.environ.get("AWS_REGION", "us-east-1")
    )
    with out.status("listing clusters and services…"):
        result = _invoke(project, "InventoryFunction", factory.scheduled())
    from autopilot.cli.render import print_result

    print_result(out, "InventoryFunction", result)


@cli.group()
def local() -> None:
    """The local AWS emulator."""


@local.command("up")
@click.option("--port", type=click.IntRange(1, 65535), help="port on 127.0.0.1 (default: a free one)")
@template_option
def local_up(port: int | None, template: str | None) -> None:
    """Start the emulator with the stack's resources; run until interrupted."""
    from autopilot.local.emulator import Emulator, create_stack_resources

    project = _project(template)
    try:
        emulator = Emulator(port).start()
    except OSError as error:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {error}") from error
    from autopilot.local.chat_sink import ChatSink
    from autopilot.local.demo import configure_local_routes

    sink = ChatSink(printer=out.print).start()
    try:
        resources = create_stack_resources(project)
        configure_local_routes(sink)
        out.print(f"emulator listening on [bold]{emulator.endpoint_url}[/]")
        out.print(f"  chat sink         {sink.base_url} (routes 'slack' and 'ops' in the config document)")
        out.print(f"  ledger table      {resources.table}")
        out.print(f"  config parameter  {resources.config_parameter}")
        for name, url in resources.queues.items():
            out.print(f"  queue {name:<12} {url}")
        out.print("use it with:")
        out.print(
            f"  export AWS_ENDPOINT_URL={emulator.endpoint_url} AWS_REGION={os.environ['AWS_REGION']} "
            f"LEDGER_TABLE_NAME={resources.table} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        )
        out.print("Ctrl-C stops it.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        sink.stop()
        emulator.stop()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="print the timeline as JSON lines")
@template_option
def demo(as_json: bool, template: str | None) -> None:
    """Play the story on the local emulator: pushes deploy themselves."""
    from autopilot.local.demo import run_demo

    project = _project(template)
    run_demo(project, as_json=as_json, console=out)


service_argument = click.argument("service", metavar="CLUSTER/SERVICE")


def _service(text: str) -> Any:
    from autopilot.refs import ServiceRef

    try:
        return ServiceRef.parse(text)
    except ValueError as error:
        raise CliError(str(error)) from error


def _adapters(endpoint_url: str | None, table: str | None) -> Any:
    _aws_target(endpoint_url, table)
    from autopilot.wiring import Adapters

    return Adapters.current()


@cli.command()
@service_argument
@endpoint_option
@table_option
def history(service: str, endpoint_url: str | None, table: str | None) -> None:
    """The ledger timeline of a service: deployments, status changes, outcomes."""
    ref = _service(service)
    items = _adapters(endpoint_url, table).ledger.deployments.history(ref)
    from autopilot.cli.render import history_table

    if not items:
        out.print(f"no history for {ref}")
        return
    out.print(history_table(ref, items))


@cli.command()
@service_argument
@click.option("--to", "revision", help="task definition (family:revision or ARN); default: last-known-good")
@click.option("--dry-run", is_flag=True, help="print what would happen, change nothing")
@endpoint_option
@table_option
def rollback(service: str, revision: str | None, dry_run: bool, endpoint_url: str | None, table: str | None) -> None:
    """Roll a service back to its last-known-good revision (or --to REVISION)."""
    ref = _service(service)
    adapters = _adapters(endpoint_url, table)
    state = adapters.ledger.services.state(ref)
    snapshot = adapters.ecs.describe_services([ref]).get(ref)
    if snapshot is None:
        raise CliError(f"service {ref} not found")
    target = revision or state.last_known_good
    if not target:
        raise CliError(f"{ref} has no known good revision; pass --to REVISION")
    described = adapters.ecs.describe_task_definition(target)
    if described is None:
        raise CliError(f"task definition {target} not found")
    if described.arn in state.bad_revisions:
        raise CliError(f"{described.family_revision} is marked bad for {ref}; refusing to roll back to it")
    current = snapshot.task_definition.rsplit("/", 1)[-1]
    if dry_run:
        out.print(f"would update {ref}: {current} → {described.family_revision} (nothing changed)")
        return
    adapters.ecs.update_service(ref, described.arn)
    adapters.ledger.deployments.record_manual_rollback(
        ref, snapshot.task_definition, described.arn, actor=os.environ.get("USER") or "autopilot CLI"
    )
    out.print(f"{ref}: {current} → {described.family_revision}")


@cli.command()
@click.argument("scope", required=False, metavar="[CLUSTER[/SERVICE]]")
@endpoint_option
@table_option
def status(scope: str | None, endpoint_url: str | None, table: str | None) -> None:
    """Managed services: policy, running images, last-known-good, frozen, quarantined digests."""
    adapters = _adapters(endpoint_url, table)
    from rich.table import Table

    from autopilot.cli.render import short_image
    from autopilot.plan import status_of

    cluster, _, name = (scope or "").partition("/")
    refs = [
        ref
        for ref in adapters.ledger.index.indexed_services()
        if (not cluster or ref.cluster == cluster) and (not name or ref.name == name)
    ]
    if not refs:
        out.print(f"no managed service{' in ' + scope if scope else ''} (run autopilot inventory after tagging)")
        return
    view = Table(title=f"{len(refs)} managed service(s)", title_justify="left")
    for column in ("service", "policy", "task definition", "images", "last-known-good", "frozen", "quarantined"):
        view.add_column(column, overflow="fold")
    for item in status_of(refs, ecs=adapters.ecs, ledger=adapters.ledger):
        images = "\n".join(f"{container}: {short_image(image)}" for container, image in item.images.items())
        policy = item.policy or "-"
        if item.problems:
            policy += " [red](tag error)[/]"
        view.add_row(
            item.service,
            policy,
            item.task_definition,
            images,
            item.last_known_good or "-",
            "yes" if item.frozen else "no",
            str(item.quarantined),
        )
    out.print(view)


@cli.command()
@service_argument
@click.argument("image")
@endpoint_option
@table_option
def plan(service: str, image: str, endpoint_url: str | None, table: str | None) -> None:
    """The task-definition change a push of IMAGE (REGISTRY/REPO:TAG[@DIGEST]) would cause; changes nothing."""
    ref = _service(service)
    adapters = _adapters(endpoint_url, table)
    from autopilot.aws import clients
    from autopilot.plan import PlanError, plan_push
    from autopilot.wiring import deploy_ports, resolve_digest

    try:
        result = plan_push(
            ref,
            image,
            ecs=adapters.ecs,
            ledger=adapters.ledger,
            resolve_digest=lambda pushed: resolve_digest(clients.ecr(), pushed),
            named_policies=deploy_ports(adapters).named_policies,
        )
    except PlanError as error:
        raise CliError(str(error)) from error
    verdict = "[green]would deploy[/]" if result.deploys else "[yellow]would not deploy[/]"
    out.print(f"{result.service} ({result.policy or 'not managed'}): {verdict}: {result.decision}")
    for change in result.changes:
        out.print(f"  {result.task_definition} container {change.container}:")
        out.print(f"    [red]- image: {change.old_image}[/]")
        out.print(f"    [green]+ image: {change.new_image}[/]")
    if not result.changes:
        out.print("  no container image changes")


def _set_frozen(service: str, endpoint_url: str | None, table: str | None, *, frozen: bool) -> None:
    ref = _service(service)
    _adapters(endpoint_url, table).ledger.services.set_frozen(ref, frozen)
    out.print(f"{ref} is frozen: pushes do not deploy to it" if frozen else f"{ref} is unfrozen")


@cli.command()
@service_argument
@endpoint_option
@table_option
def freeze(service: str, endpoint_url: str | None, table: str | None) -> None:
    """Stop deploys to a service until it is unfrozen."""
    _set_frozen(service, endpoint_url, table, frozen=True)


@cli.command()
@service_argument
@endpoint_option
@table_option
def unfreeze(service: str, endpoint_url: str | None, table: str | None) -> None:
    """Let pushes deploy to a frozen service again."""
    _set_frozen(service, endpoint_url, table, frozen=False)


@cli.command()
@click.argument("action", type=click.Choice(["list", "clear"]))
@service_argument
@click.argument("digest", required=False)
@endpoint_option
@table_option
def quarantine(action: str, service: str, digest: str | None, endpoint_url: str | None, table: str | None) -> None:
    """List the digests quarantined for a service, or clear one (or all)."""
    ref = _service(service)
    ledger = _adapters(endpoint_url, table).ledger
    if action == "list":
        digests = sorted(ledger.services.state(ref).quarantined)
        for value in digests:
            click.echo(value)
        if not digests:
            out.print(f"nothing quarantined for {ref}")
        return
    ledger.services.clear_quarantine(ref, [digest] if digest else None)
    out.print(f"cleared {'digest ' + digest if digest else 'every quarantined digest'} for {ref}")


@cli.command()
@click.argument("cluster", required=False)
@endpoint_option
@table_option
def doctor(cluster: str | None, endpoint_url: str | None, table: str | None) -> None:
    """List risky settings (in CLUSTER, or everywhere), each with what to change."""
    adapters = _adapters(endpoint_url, table)
    from rich.table import Table

    from autopilot.aws import clients
    from autopilot.aws.inspector import Inspector
    from autopilot.doctor import examine

    inspector = Inspector(adapters.ecs, clients.ecs(), clients.elbv2(), clients.autoscaling(), clients.cloudwatch())
    with out.status("looking at clusters, services, target groups, hooks and alarms…"):
        findings = examine(inspector, adapters.config.load(), cluster)
    if not findings:
        out.print("no risky setting found")
        return
    table_view = Table(title=f"{len(findings)} risky setting(s)", title_justify="left", show_lines=True)
    for column in ("where", "what", "change"):
        table_view.add_column(column, overflow="fold")
    for finding in findings:
        table_view.add_row(finding.subject, finding.problem, finding.fix)
    out.print(table_view)


@cli.group()
def notify() -> None:
    """Notification routes."""


@notify.command("test")
@click.argument("route")
@endpoint_option
@table_option
def notify_test(route: str, endpoint_url: str | None, table: str | None) -> None:
    """Send a sample message to ROUTE (a route of the configuration document) and say what happened."""
    adapters = _adapters(endpoint_url, table)
    from autopilot.messages import Message, Severity
    from autopilot.notify.deliver import RetryLaterError, deliver
    from autopilot.wiring import notify_ports

    document = adapters.config.load()
    if route not in document.routes:
        known = ", ".join(sorted(document.routes)) or "none"
        raise CliError(f"no route named {route!r} in {adapters.config.parameter_name} (routes: {known})")
    message = Message(
        kind="notify.test",
        severity=Severity.CRITICAL,
        service="autopilot/test",
        title="ecs-autopilot test message: this route works",
        routes=[route],
        facts={"route": route, "type": document.routes[route].type},
        thread_key="autopilot#test",
    )
    try:
        report = deliver(message, document, notify_ports(adapters))
    except RetryLaterError as error:
        raise CliError(f"delivery failed, a retry may help: {error}") from error
    result = report.results[0]
    if result.status != "DELIVERED":
        raise CliError(f"route {route}: {result.status.lower()}: {result.reason}")
    out.print(f"route {route}: delivered")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("autopilot: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        click.echo(f"autopilot: error: {type(error).__name__}: {error}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
