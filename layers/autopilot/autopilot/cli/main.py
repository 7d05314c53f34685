"""`autopilot`: route, replay, inventory, local up, demo, and the operator's commands.

Results on stdout; the handlers' logs on stderr, only with -v; errors one line on stderr (`autopilot: error:
…`), never a traceback. Exit status: 0 ok, 1 error, 2 usage, 3 findings (doctor) or a push plan refuses.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from autopilot.cli.stack import DEFAULT_STACK
from autopilot.local.project import Project, ProjectNotFoundError, find_template
from autopilot.local.sample_events import load_event

# A terminal's width, or $COLUMNS when set; else (piped, no COLUMNS) wide enough for a table row.
out = Console(highlight=False, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140)


FINDINGS = 3  # exit status of `doctor` with findings and of `plan` when the push would not deploy


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
    """Point the handlers at an endpoint (or the real account) and the ledger table; fail fast and clearly."""
    from autopilot.aws import clients
    from autopilot.cli import target

    context = click.get_current_context().find_root()
    options = context.obj or {}
    _local_session(bool(options.get("local")), endpoint_url)
    region = target.region(options.get("region"))
    if table:
        os.environ["LEDGER_TABLE_NAME"] = table
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if url:
        from autopilot.local.emulator import use_endpoint

        use_endpoint(target.endpoint(url), region=region)
    if not os.environ.get("LEDGER_TABLE_NAME"):
        _from_stack(str(options.get("stack") or DEFAULT_STACK), explicit=bool(options.get("stack")), region=region)
    target.quiet_handlers(bool(options.get("verbose")))
    clients.use_profile("interactive")
    from autopilot.settings import get_settings

    get_settings.cache_clear()


def _from_stack(name: str, *, explicit: bool, region: str) -> None:
    from autopilot.cli import stack

    try:
        stack.apply(stack.stack_settings(name))
    except stack.StackNotFoundError as error:
        if explicit:
            raise CliError(str(error)) from error
        raise CliError(
            f"no ledger table: pass --table, set LEDGER_TABLE_NAME, or --stack NAME of the deployed stack "
            f"(no stack {name} in {region})"
        ) from error
    if not os.environ.get("LEDGER_TABLE_NAME"):
        raise CliError(f"stack {name} has no LedgerTableName output: is it an ecs-autopilot stack?")


def _local_session(asked: bool, endpoint_url: str | None) -> None:
    """With --local, or an endpoint that is the running `local up`'s: take its settings (table, queues,
    region, credentials) so a command needs nothing else."""
    from autopilot.local import session

    found = session.load()
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if asked and found is None:
        raise CliError("no local emulator found: start one with `autopilot local up` (in another shell)")
    if found is not None and (asked or (url and url.rstrip("/") == str(found["endpoint_url"]))):
        session.apply(found, endpoint_url=endpoint_url)


template_option = click.option("--template", type=click.Path(dir_okay=False), help="template.yaml to read rules from")
endpoint_option = click.option("--endpoint-url", help="AWS endpoint, e.g. the one `autopilot local up` prints")
table_option = click.option("--table", help="ledger table name (default: $LEDGER_TABLE_NAME)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ecs-autopilot")
@click.option("--region", help="AWS region (default: $AWS_REGION, then $AWS_DEFAULT_REGION)")
@click.option("-v", "--verbose", is_flag=True, help="the handlers' logs, on stderr")
@click.option("--local", "use_local", is_flag=True, help="use the running `autopilot local up` (its settings file)")
@click.option("--json", "as_json", is_flag=True, help="results as JSON (one document, or a line per event)")
@click.option("--stack", help=f"the deployed stack whose outputs name the table and queues (default: {DEFAULT_STACK})")
@click.pass_context
def cli(
    context: click.Context, region: str | None, verbose: bool, use_local: bool, as_json: bool, stack: str | None
) -> None:
    """ecs-autopilot: hands-off operations for Amazon ECS."""
    context.obj = {"region": region, "verbose": verbose, "local": use_local, "json": as_json, "stack": stack}


def _json_wanted() -> bool:
    return bool((click.get_current_context().find_root().obj or {}).get("json"))


def _json(value: Any) -> bool:
    """Print `value` as JSON when --json was given; True when it was (the caller prints nothing else)."""
    if not _json_wanted():
        return False
    click.echo(json.dumps(value, default=str))
    return True


@cli.command()
@click.argument("event_file", type=click.Path(dir_okay=False))
@template_option
def route(event_file: str, template: str | None) -> None:
    """Print the functions whose template.yaml rules match EVENT_FILE, one per line."""
    project = _project(template)
    functions = project.route(_event(event_file))
    if _json({"event": event_file, "functions": functions}):
        return
    for function in functions:
        click.echo(function)


@cli.command()
@click.argument("event_files", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="EVENT_FILE...")
@endpoint_option
@table_option
@click.option("--dry-run", is_flag=True, help="plan only: print what each function would change, change nothing")
@template_option
def replay(
    event_files: tuple[str, ...], endpoint_url: str | None, table: str | None, dry_run: bool, template: str | None
) -> None:
    """Route each EVENT_FILE and run the matched handlers in-process against the endpoint or the real account."""
    project = _project(template)
    events = [(path, _event(path)) for path in event_files]
    _aws_target(endpoint_url, table)
    if (click.get_current_context().find_root().obj or {}).get("local"):
        from autopilot.local.emulator import LOCAL_ACCOUNT
        from autopilot.local.seed import local_event

        region = os.environ["AWS_REGION"]
        events = [(path, local_event(event, account=LOCAL_ACCOUNT, region=region)) for path, event in events]
    failed = [path for path, event in events if not _replay_one(project, path, event, dry_run, many=len(events) > 1)]
    if failed:
        raise CliError(f"{len(failed)} of {len(events)} event(s) failed: {', '.join(failed)}")


def _replay_one(project: Project, path: str, event: dict[str, Any], dry_run: bool, *, many: bool) -> bool:
    """Run the functions an event routes to; False when one did not finish (said on stderr)."""
    from autopilot.cli.render import print_result

    functions = project.route(event)
    prefix = f"{path}: " if many else ""
    people = not _json_wanted()
    if not functions and people:
        out.print(Text(f"{prefix}no rule matches this event; nothing to run"), soft_wrap=True)
    results: dict[str, Any] = {}
    finished = True
    for function in functions:
        if dry_run and function != "DeployFunction":
            if people:
                out.print(Text(f"{prefix}{function}: no dry run for this function; not run"))
            continue
        if prefix and people:
            out.print(Text(prefix.rstrip(": "), style="bold"), soft_wrap=True)  # a path is not folded
        try:
            results[function] = _dry_run_push(event) if dry_run else _invoke(project, function, event)
        except CliError as error:
            error.show()
            finished = False
            continue
        if people:
            print_result(out, function, results[function])
    _json({"event": path, "functions": functions, "results": results})
    return finished


def _dry_run_push(event: dict[str, Any]) -> Any:
    from autopilot.handlers.deploy import handle_push

    return handle_push(event, None, dry_run=True)


def _invoke(project: Project, function: str, event: dict[str, Any]) -> Any:
    try:
        return project.invoke(function, event)
    except Exception as error:  # what Lambda would retry: said in one line, the other events still run
        raise CliError(f"{function} did not finish (Lambda would retry it): {type(error).__name__}: {error}") from error


@cli.command()
@endpoint_option
@table_option
@template_option
def inventory(endpoint_url: str | None, table: str | None, template: str | None) -> None:
    """Rebuild the repository → services index once, in full."""
    project = _project(template)
    _aws_target(endpoint_url, table)
    with out.status("listing clusters and services…"):
        result = _invoke(project, "InventoryFunction", _rebuild_event(project))
    if _json(result):
        return
    from autopilot.cli.render import print_result

    print_result(out, "InventoryFunction", result)


@cli.command()
@endpoint_option
@table_option
@template_option
def reconcile(endpoint_url: str | None, table: str | None, template: str | None) -> None:
    """Run DeployFunction's reconciler once: deploy the pushes of the last day whose events never came, tell
    drift (the schedule does this every 15 minutes)."""
    project = _project(template)
    _aws_target(endpoint_url, table)
    with out.status("listing every indexed repository's images…"):
        result = _invoke(project, "DeployFunction", _rebuild_event(project, "DeployFunctionReconcile"))
    if _json(result):
        return
    from autopilot.cli.render import print_result

    print_result(out, "DeployFunction", result)


@cli.group()
def local() -> None:
    """The local AWS emulator."""


@local.command("up")
@click.option("--port", type=click.IntRange(1, 65535), help="port on 127.0.0.1 (default: a free one)")
@click.option("--seed", is_flag=True, help="create the services the samples in events/ name, tagged to be managed")
@click.option(
    "--speed",
    type=click.FloatRange(0.1, 600),
    default=1.0,
    show_default=True,
    help="simulated seconds of the emulated ECS per real second",
)
@template_option
def local_up(port: int | None, seed: bool, speed: float, template: str | None) -> None:
    """Start the emulator with the stack's resources and a chat sink; ECS deploys and runs tasks on its own clock
    and its events reach the functions; deliver notifications as Lambda would; run until interrupted."""
    from autopilot.local import session
    from autopilot.local.emulator import Emulator, create_stack_resources, port_is_free

    project = _project(template)
    if port is not None and not port_is_free(port):
        raise CliError(f"port {port} on 127.0.0.1 is taken: pick another with --port, or leave --port out")
    try:
        emulator = Emulator(port).start()
    except OSError as error:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {error}") from error
    from autopilot.local.chat_sink import ChatSink
    from autopilot.local.control import ControlServer, WorldClock
    from autopilot.local.demo import configure_local_routes
    from autopilot.local.pump import NotificationPump

    sink = ChatSink(printer=lambda line: out.print(Text(line))).start()  # a channel name is not markup
    pump: NotificationPump | None = None
    clock: WorldClock | None = None
    control: ControlServer | None = None
    chatops: Any = None
    try:
        os.environ.setdefault("DRAIN_CHECK_SECONDS", str(max(0, int(60 / speed))))
        resources = create_stack_resources(project)
        # the functions log to stderr with -v, else not at all: stdout shows what the channel receives
        from autopilot.cli import target

        target.quiet_handlers(bool((click.get_current_context().find_root().obj or {}).get("verbose")))
        configure_local_routes(sink)
        if seed:
            _seed(project)
        region = os.environ["AWS_REGION"]
        clock, control, chatops = _start_world(project, resources, speed)
        saved = session.save(
            emulator.endpoint_url, region, resources.environment, control_url=control.url, chatops_url=chatops.url
        )
        pump = NotificationPump(project, resources.queues["NotificationQueue"]).start()
        _print_local_up(emulator.endpoint_url, sink.base_url, resources, saved, speed, control.url, chatops.url)
        out.print("Ctrl-C stops it.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        for running in (pump, clock, control, chatops):
            if running is not None:
                running.stop()
        session.clear(emulator.endpoint_url)
        sink.stop()
        emulator.stop()


def _print_local_up(
    endpoint: str, sink: str, resources: Any, saved: Any, speed: float, control: str, chatops: str
) -> None:
    out.print(f"emulator listening on [bold]{endpoint}[/]")
    out.print(f"  chat sink         {sink} (routes 'slack' and 'ops' in the config document)")
    out.print(f"  ChatOps URL       {chatops} (ChatOpsFunction's Function URL: autopilot local click presses buttons)")
    out.print(f"  ledger table      {resources.table}")
    out.print(f"  config parameter  {resources.config_parameter}")
    for name, url in resources.queues.items():
        out.print(f"  queue {name:<27} {url}")
    out.print(f"  settings          {saved}")
    out.print(f"  emulated ECS      {speed:g} simulated second(s) per second; control on {control}")
    out.print("notifications on NotificationQueue are delivered to the chat sink and printed here.")
    out.print("in another shell (the CLI reads the settings file):")
    click.echo("  autopilot --local status")
    out.print("or, for other tools, these variables (one line):")
    click.echo("  export " + " ".join(f"{key}={value}" for key, value in _exported().items()))
    out.print("  autopilot local inject spot-warning|rebalance|fargate-spot …, local behaviour IMAGE SPEC")


def _start_world(project: Project, resources: Any, speed: float) -> tuple[Any, Any, Any]:
    """The emulated ECS's clock (its events delivered to the functions), the control port of `local inject`, and
    ChatOpsFunction's Function URL."""
    from autopilot.local.bus import LocalBus
    from autopilot.local.control import ControlServer, WorldClock
    from autopilot.local.function_url import FunctionUrlServer

    bus = LocalBus(project, resources.engine)
    clock = WorldClock(
        bus,
        resources.queues.get("DrainWaitQueue"),
        speed=speed,
        chatops_queue_url=resources.queues.get("ChatOpsQueue"),
        fanout_queue_url=resources.queues.get("FanOutQueue"),
    ).start()
    return clock, ControlServer(clock).start(), FunctionUrlServer(project, clock.lock).start()


@local.group("inject")
def local_inject() -> None:
    """Make something happen in the running `local up`, as AWS would send it."""


def _control(path: str, body: dict[str, Any]) -> None:
    from autopilot.local import session
    from autopilot.local.control import ControlError, call

    found = session.load()
    if not found or not found.get("control_url"):
        raise CliError("no `autopilot local up` is running on this machine (start one in another shell)")
    try:
        answer = call(str(found["control_url"]), path, body)
    except ControlError as error:
        raise CliError(str(error)) from error
    except OSError as error:
        raise CliError(f"the local emulator does not answer on {found['control_url']}: {error}") from error
    if not _json(answer):
        out.print(" ".join(f"{key}={value}" for key, value in answer.items()))


@local_inject.command("spot-warning")
@click.argument("instance")
def inject_spot_warning(instance: str) -> None:
    """EC2's two-minute Spot interruption warning for INSTANCE (Auto Scaling starts terminating it)."""
    _control("/inject/spot-warning", {"instance": instance})


@local_inject.command("rebalance")
@click.argument("instance")
def inject_rebalance(instance: str) -> None:
    """EC2's rebalance recommendation for INSTANCE."""
    _control("/inject/rebalance", {"instance": instance})


@local_inject.command("fargate-spot")
@click.argument("task")
def inject_fargate_spot(task: str) -> None:
    """A Fargate Spot interruption of the service task TASK (its ARN): the notice now, the stop in two minutes."""
    _control("/inject/fargate-spot", {"task": task})


@local.command("behaviour")
@click.argument("image")
@click.argument("behaviour")
@click.option("--running", is_flag=True, help="also the tasks already running IMAGE")
def local_behaviour(image: str, behaviour: str, running: bool) -> None:
    """How tasks of IMAGE (its reference, digest or tag) behave in the emulated ECS: healthy, exits:CODE@Ns,
    oom@Ns, health-check@Ns, pull-error, secret-error."""
    _control("/behaviour", {"image": image, "behaviour": behaviour, "running": running})


@local.command("click")
@click.argument("value")
@click.option("--user", default="U0LOCAL", show_default=True, help="the Slack user id who clicks")
@click.option("--channel", default="C0DEPLOYS", show_default=True, help="the Slack channel id the message is in")
@click.option("--command", "as_command", is_flag=True, help="send VALUE as the slash command /autopilot VALUE")
def local_click(value: str, user: str, channel: str, as_command: bool) -> None:
    """Press a button of a chat message (the sink prints each with its VALUE): the request Slack would send,
    signed with the local Slack app's signing secret, to the running `local up`'s ChatOps Function URL."""
    import json as json_
    import urllib.error
    import urllib.request

    import boto3

    from autopilot.local import session
    from autopilot.local.function_url import signed_headers, slack_body

    found = session.load()
    if not found or not found.get("chatops_url"):
        raise CliError("no local up with a ChatOps URL is running: start `autopilot local up` in another shell")
    session.apply(found)
    name = os.environ.get("CHATOPS_SECRET_NAME", "ecs-autopilot-chatops/slack-app")
    secret = json_.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])
    body = slack_body(value, user=user, channel=channel, button=not as_command)
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1, written by local up
        str(found["chatops_url"]), data=body, headers=signed_headers(body, secret["signing_secret"])
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    except OSError as error:
        raise CliError(f"the ChatOps URL {found['chatops_url']} does not answer: {error}") from error
    try:
        said = json_.loads(text)
        reply = said.get("text") or said.get("error") or text
    except ValueError:
        reply = text
    if _json({"status": status, "reply": reply}):
        return
    out.print(Text(f"{status}: {reply}"))
    if status >= 400:
        sys.exit(FINDINGS)


@local.command("advance")
@click.argument("seconds", type=click.FloatRange(0, 86400))
def local_advance(seconds: float) -> None:
    """Let SECONDS of simulated time pass at once in the emulated ECS (events are delivered as they happen)."""
    _control("/advance", {"seconds": seconds})


def _rebuild_event(project: Project, rule: str = "InventoryFunctionRebuildSchedule") -> dict[str, Any]:
    """A schedule's event: by default the one that makes InventoryFunction rebuild the index in full."""
    from autopilot.local.emulator import LOCAL_ACCOUNT
    from autopilot.local.sample_events import EventFactory

    factory = EventFactory(project.root / "events", account=LOCAL_ACCOUNT, region=os.environ["AWS_REGION"])
    return factory.scheduled(rule)


def _seed(project: Project) -> None:
    from autopilot.local.seed import seed_sample_world

    services = seed_sample_world()
    project.invoke("InventoryFunction", _rebuild_event(project))
    out.print(f"  seeded            {', '.join(services)} (managed; `--local replay events/…` acts on them)")


def _exported() -> dict[str, str]:
    from autopilot.local import session

    found = session.load() or {"environment": {}}
    keys = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "LEDGER_TABLE_NAME", "NOTIFY_QUEUE_URL")
    return {key: str(found["environment"].get(key, "")) for key in (*keys, *session.CREDENTIALS)}


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
    from autopilot.handlers.common import Adapters

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

    if _json([item.model_dump(mode="json") for item in items]):
        return
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
    """Roll a service back to its last-known-good revision (or --to REVISION). While a deployment is in flight,
    ECS's own rollback stops it (StopServiceDeployment), whatever its strategy."""
    from autopilot.manual import ManualActionError, manual_rollback

    ref = _service(service)
    adapters = _adapters(endpoint_url, table)
    actor = os.environ.get("USER") or "autopilot CLI"
    try:
        done = manual_rollback(ref, revision, actor, ecs=adapters.ecs, ledger=adapters.ledger, dry_run=dry_run)
    except ManualActionError as error:
        raise CliError(str(error)) from error
    answer = {"service": str(ref), "from": done.current, "to": done.target, "changed": done.changed}
    if done.stopped_deployment:
        answer["stopped_deployment"] = done.stopped_deployment
    if _json(answer):
        return
    if dry_run:
        out.print(
            f"would {'stop the deployment of' if done.stopped_deployment else 'update'} {ref}: "
            f"{done.current} → {done.target} (nothing changed)"
        )
        return
    out.print(done.describe())


@cli.command()
@click.argument("scope", required=False, metavar="[CLUSTER[/SERVICE]]")
@endpoint_option
@table_option
def status(scope: str | None, endpoint_url: str | None, table: str | None) -> None:
    """Managed services: policy, running images, last-known-good, frozen, quarantined digests."""
    adapters = _adapters(endpoint_url, table)
    from rich.table import Table

    from autopilot.cli.plan import status_of
    from autopilot.cli.render import short_image

    cluster, _, name = (scope or "").partition("/")
    refs = [
        ref
        for ref in adapters.ledger.index.indexed_services()
        if (not cluster or ref.cluster == cluster) and (not name or ref.name == name)
    ]
    items = status_of(refs, ecs=adapters.ecs, ledger=adapters.ledger) if refs else []
    if _json([item.model_dump(mode="json") for item in items]):
        return
    if not refs:
        out.print(f"no managed service{' in ' + scope if scope else ''} (run autopilot inventory after tagging)")
        return
    view = Table(title=f"{len(refs)} managed service(s)", title_justify="left")
    for column in ("service", "policy", "task definition", "images", "last-known-good", "frozen", "quarantined"):
        view.add_column(column, overflow="fold")
    for item in items:
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
    from autopilot.cli.plan import PlanError, plan_push
    from autopilot.handlers.deploy import deploy_ports, resolve_digest

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
    if _json(result.model_dump(mode="json")):
        if not result.deploys:
            sys.exit(FINDINGS)
        return
    verdict = "[green]would deploy[/]" if result.deploys else "[yellow]would not deploy[/]"
    out.print(f"{result.service} ({result.policy or 'not managed'}): {verdict}: {result.decision}")
    for change in result.changes:
        out.print(f"  {result.task_definition} container {change.container}:")
        out.print(f"    [red]- image: {change.old_image}[/]")
        out.print(f"    [green]+ image: {change.new_image}[/]")
    if not result.changes:
        out.print("  no container image changes")
    if not result.deploys:
        sys.exit(FINDINGS)


def _existing(adapters: Any, ref: Any) -> Any:
    """The service as ECS describes it; a name that is not a service is an error, not a silent no-op."""
    snapshot = adapters.ecs.describe_services([ref]).get(ref)
    if snapshot is None:
        raise CliError(f"service {ref} not found in {os.environ.get('AWS_REGION')} (write it CLUSTER/SERVICE)")
    return snapshot


def _set_frozen(service: str, endpoint_url: str | None, table: str | None, *, frozen: bool) -> None:
    from autopilot.manual import ManualActionError, set_frozen

    ref = _service(service)
    adapters = _adapters(endpoint_url, table)
    _existing(adapters, ref)
    try:
        said = set_frozen(ref, frozen, ecs=adapters.ecs, ledger=adapters.ledger)
    except ManualActionError as error:  # deleted since
        raise CliError(str(error)) from error
    if not _json({"service": str(ref), "frozen": frozen}):
        out.print(said)


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


def _decide(service: str, approval_id: str, decision: str, endpoint_url: str | None, table: str | None) -> None:
    """A person's decision on a push held for approval, from the terminal (the same as the chat buttons)."""
    import getpass

    from autopilot.approvals import Decision, decide
    from autopilot.handlers.common import flush_outbox
    from autopilot.handlers.deploy import deploy_ports

    ref = _service(service)
    adapters = _adapters(endpoint_url, table)
    report = decide(ref, approval_id, Decision(decision), f"cli:{getpass.getuser()}", deploy_ports(adapters))
    flush_outbox()  # the approval's message, updated with who decided
    if _json(report.model_dump(mode="json")):
        if report.outcome not in ("APPROVED", "REJECTED"):
            sys.exit(FINDINGS)
        return
    out.print(f"{report.service} {report.approval_id}: {report.outcome}: {report.reason}")
    if report.outcome not in ("APPROVED", "REJECTED"):
        sys.exit(FINDINGS)


@cli.command()
@service_argument
@click.argument("approval_id")
@endpoint_option
@table_option
def approve(service: str, approval_id: str, endpoint_url: str | None, table: str | None) -> None:
    """Deploy a push held for approval (autopilot:approval=required), checked again against the service now."""
    _decide(service, approval_id, "approve", endpoint_url, table)


@cli.command()
@service_argument
@click.argument("approval_id")
@endpoint_option
@table_option
def reject(service: str, approval_id: str, endpoint_url: str | None, table: str | None) -> None:
    """Refuse a push held for approval: it is never deployed to the service."""
    _decide(service, approval_id, "reject", endpoint_url, table)


@cli.command()
@click.argument("action", type=click.Choice(["list", "clear"]))
@service_argument
@click.argument("digest", required=False)
@click.option("--all", "clear_all", is_flag=True, help="with clear: every quarantined digest of the service")
@endpoint_option
@table_option
def quarantine(
    action: str, service: str, digest: str | None, clear_all: bool, endpoint_url: str | None, table: str | None
) -> None:
    """List the digests quarantined for a service, or clear one (DIGEST) or all (--all)."""
    ref = _service(service)
    if action == "clear" and not digest and not clear_all:
        raise click.UsageError("clear needs the DIGEST to clear, or --all")
    if action == "clear" and digest and clear_all:
        raise click.UsageError("give a DIGEST or --all, not both")
    adapters = _adapters(endpoint_url, table)
    _existing(adapters, ref)
    quarantined = sorted(adapters.ledger.services.state(ref).quarantined)
    if action == "list":
        if _json({"service": str(ref), "quarantined": quarantined}):
            return
        for value in quarantined:
            click.echo(value)
        if not quarantined:
            out.print(f"nothing quarantined for {ref}")
        return
    if digest and digest not in quarantined:
        known = ", ".join(quarantined) or "none"
        raise CliError(f"{digest} is not quarantined for {ref} (quarantined: {known})")
    adapters.ledger.services.clear_quarantine(ref, [digest] if digest else None)
    cleared = [digest] if digest else quarantined
    if not _json({"service": str(ref), "cleared": cleared}):
        out.print(f"cleared {'digest ' + digest if digest else f'{len(quarantined)} quarantined digest(s)'} for {ref}")


@cli.command()
@click.argument("cluster", required=False)
@endpoint_option
@table_option
def doctor(cluster: str | None, endpoint_url: str | None, table: str | None) -> None:
    """List risky settings (in CLUSTER, or everywhere), each with what to change."""
    adapters = _adapters(endpoint_url, table)
    from rich.table import Table

    from autopilot.aws import clients
    from autopilot.cli.doctor import examine
    from autopilot.cli.inspector import Inspector

    inspector = Inspector(adapters.ecs, clients.ecs(), clients.elbv2(), clients.autoscaling(), clients.cloudwatch())
    with out.status("looking at the configuration, clusters, services, target groups, hooks and alarms…"):
        findings = examine(inspector, _config_document(adapters), cluster, secret_problem=_secret_problem())
    if _json([finding.model_dump() for finding in findings]):
        if findings:
            sys.exit(FINDINGS)
        return
    if not findings:
        out.print("no risky setting found")
        return
    table_view = Table(title=f"{len(findings)} risky setting(s)", title_justify="left", show_lines=True)
    for column in ("where", "what", "change"):
        table_view.add_column(column, overflow="fold")
    for finding in findings:
        table_view.add_row(Text(finding.subject), Text(finding.problem), Text(finding.fix))
    out.print(table_view)
    sys.exit(FINDINGS)


def _config_document(adapters: Any) -> Any:
    from autopilot.config.document import ConfigDocumentError

    try:
        return adapters.config.load()
    except ConfigDocumentError as error:  # the one finding that stops every other check of the document
        raise CliError(str(error)) from error


def _secret_problem() -> Any:
    from autopilot.aws import clients
    from autopilot.aws.secrets import RouteSecrets

    return RouteSecrets(clients.secretsmanager()).problem


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
    from autopilot.handlers.notify import notify_ports
    from autopilot.messages import Message, Severity
    from autopilot.notify.deliver import RetryLaterError, deliver

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
    if not _json(report.model_dump(mode="json")):
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
