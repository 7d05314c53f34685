"""`autopilot doctor`: risky settings that make Spot drain, rollback or notifications fail, each with its fix."""

from __future__ import annotations

from collections.abc import Callable

from autopilot.cli.inspector import Inspector, ServiceView
from autopilot.config.document import ConfigDocument
from autopilot.config.policies import PolicyError, parse_policy
from autopilot.config.service_tags import CONTAINERS, DEPLOY, NOTIFY, PREFIX, parse_service_tags, tag_safe_spelling
from autopilot.model import Model
from autopilot.refs import ServiceRef, cluster_name

DEFAULT_STOP_TIMEOUT = 30
FARGATE_SPOT_WARNING_SECONDS = 120
FULL_HEALTH = 100


class Finding(Model):
    subject: str
    problem: str
    fix: str


SecretCheck = Callable[[str], str | None]  # a secret's name → why it cannot be read, or None


def examine(
    inspector: Inspector,
    document: ConfigDocument,
    cluster: str | None = None,
    *,
    secret_problem: SecretCheck | None = None,
) -> list[Finding]:
    findings: list[Finding] = _document(document, secret_problem)
    services: list[ServiceView] = []
    for cluster_arn in inspector.clusters(cluster):
        spot_groups = inspector.cluster_auto_scaling_groups(cluster_arn)
        for view in inspector.services(cluster_arn):
            services.append(view)
            findings += _deregistration(view, inspector)
            findings += _minimum_healthy(view, spot_groups)
            findings += _tags(view, document)
        findings += _hooks(cluster_name(cluster_arn), spot_groups, inspector)
    if cluster is None:
        findings += _alarms(inspector, {view.ref for view in services})
    return findings


def _stop_timeout(view: ServiceView) -> int:
    timeouts = [
        int(c.get("stopTimeout", DEFAULT_STOP_TIMEOUT))
        for c in view.task_definition.get("containerDefinitions", [])
        if c.get("essential", True)
    ]
    return max(timeouts or [DEFAULT_STOP_TIMEOUT])


def _uses_fargate_spot(view: ServiceView) -> bool:
    return "FARGATE_SPOT" in view.capacity_providers


def _deregistration(view: ServiceView, inspector: Inspector) -> list[Finding]:
    findings = []
    stop = _stop_timeout(view)
    for lb in view.load_balancers:
        arn = lb.get("targetGroupArn")
        delay = inspector.deregistration_delay(str(arn)) if arn else None
        if delay is None:
            continue
        name = str(arn).split(":")[-1]
        if delay >= stop:
            findings.append(
                Finding(
                    subject=str(view.ref),
                    problem=f"{name} deregistration delay {delay} s is not shorter than the tasks' stopTimeout "
                    f"{stop} s: tasks are killed while the load balancer still sends them requests",
                    fix=f"set deregistration_delay.timeout_seconds below {stop} on {name}, or raise stopTimeout",
                )
            )
        if _uses_fargate_spot(view) and delay > FARGATE_SPOT_WARNING_SECONDS:
            findings.append(
                Finding(
                    subject=str(view.ref),
                    problem=f"{name} deregistration delay {delay} s is longer than Fargate Spot's two-minute warning",
                    fix=f"set deregistration_delay.timeout_seconds to at most {FARGATE_SPOT_WARNING_SECONDS} on {name}",
                )
            )
    return findings


def _minimum_healthy(view: ServiceView, spot_groups: dict[str, bool]) -> list[Finding]:
    spot = _uses_fargate_spot(view) or (any(spot_groups.values()) and view.launch_type != "FARGATE")
    if spot and view.minimum_healthy_percent == FULL_HEALTH:
        return [
            Finding(
                subject=str(view.ref),
                problem="minimumHealthyPercent is 100 on Spot capacity: a drained instance's tasks cannot "
                "stop before their replacements are healthy, so a two-minute warning is not enough",
                fix="lower minimumHealthyPercent (e.g. 50) or keep a base of On-Demand capacity",
            )
        ]
    return []


def _tags(view: ServiceView, document: ConfigDocument) -> list[Finding]:
    if not any(key.startswith(PREFIX) for key in view.tags):
        return []
    config = parse_service_tags(view.tags, lambda: document.policies)
    findings = [
        Finding(subject=str(view.ref), problem=str(error), fix=_tag_fix(error.tag, error.value))
        for error in config.errors
    ]
    names = {str(c.get("name")) for c in view.task_definition.get("containerDefinitions", [])}
    unknown = [name for name in config.containers or () if name not in names]
    if unknown:
        findings.append(
            Finding(
                subject=str(view.ref),
                problem=f"tag {CONTAINERS} names containers its task definition does not have: {', '.join(unknown)}",
                fix=f"use the container names of the task definition: {', '.join(sorted(names))}",
            )
        )
    missing = [route for route in config.notify_routes if route not in document.routes]
    if missing:
        findings.append(
            Finding(
                subject=str(view.ref),
                problem=f"tag {NOTIFY} names routes that do not exist: {', '.join(missing)}",
                fix="define them under routes in the configuration document, or fix the tag",
            )
        )
    return findings


def _hooks(cluster: str, spot_groups: dict[str, bool], inspector: Inspector) -> list[Finding]:
    findings = []
    for group in spot_groups:
        for hook in inspector.terminate_hooks(group):
            if hook.get("DefaultResult") == "ABANDON":
                findings.append(
                    Finding(
                        subject=f"{cluster} / {group}",
                        problem=f"lifecycle hook {hook.get('LifecycleHookName')} defaults to ABANDON: if the drain "
                        "cannot complete it in time, Auto Scaling abandons the termination",
                        fix="set the hook's DefaultResult to CONTINUE",
                    )
                )
    return findings


def _alarms(inspector: Inspector, known: set[ServiceRef]) -> list[Finding]:
    findings = []
    for alarm, words in inspector.tagged_alarms():
        for word in words:
            try:
                ref = ServiceRef.parse(word)
            except ValueError:
                findings.append(
                    Finding(
                        subject=f"alarm {alarm}",
                        problem=f"autopilot:service {word!r} is not CLUSTER/SERVICE",
                        fix="tag the alarm with CLUSTER/SERVICE",
                    )
                )
                continue
            if ref not in known and not inspector.service_exists(ref):
                findings.append(
                    Finding(
                        subject=f"alarm {alarm}",
                        problem=f"autopilot:service names {ref}, which does not exist",
                        fix="fix or remove the alarm's autopilot:service tag",
                    )
                )
    return findings


def _tag_fix(key: str, value: str) -> str:
    spelled = tag_safe_spelling(value) if key == DEPLOY else None
    if spelled:
        return f"tag {key}={spelled} means the same and is a valid ECS tag value; the service is skipped until then"
    return "fix the tag: the service is skipped until then"


def _document(document: ConfigDocument, secret_problem: SecretCheck | None) -> list[Finding]:
    """The configuration document: routes that defaults name exist, named policies parse, route secrets exist
    and can be read."""
    subject = "configuration document"
    findings = [
        Finding(
            subject=subject,
            problem=f"defaults.routes names a route that is not defined: {name}",
            fix=f"define routes.{name}, or remove it from defaults.routes",
        )
        for name in document.default_routes()
        if name not in document.routes
    ]
    for name, text in document.policies.items():
        try:
            parse_policy(text, full_syntax=True)
        except PolicyError as error:
            findings.append(
                Finding(
                    subject=subject,
                    problem=f"policy {name} = {text!r} is invalid: {error}",
                    fix=f"fix policies.{name}: services with autopilot:deploy=policy:{name} are skipped until then",
                )
            )
    for name, route in document.routes.items():
        problem = secret_problem(route.secret) if route.secret and secret_problem else None
        if problem:
            findings.append(
                Finding(
                    subject=f"route {name}",
                    problem=f"secret {route.secret}: {problem}",
                    fix="create the secret (JSON with the route's url or token) and let NotifyFunction read it",
                )
            )
    return findings
