"""`autopilot doctor`: risky settings that make Spot drain, rollback or notifications fail, each with its fix."""

from __future__ import annotations

from pydantic import BaseModel

from autopilot.aws.inspector import Inspector, ServiceView
from autopilot.config.document import ConfigDocument
from autopilot.config.service_tags import NOTIFY, PREFIX, parse_service_tags
from autopilot.refs import ServiceRef, cluster_name

DEFAULT_STOP_TIMEOUT = 30
FARGATE_SPOT_WARNING_SECONDS = 120
FULL_HEALTH = 100


class Finding(BaseModel):
    subject: str
    problem: str
    fix: str


def examine(inspector: Inspector, document: ConfigDocument, cluster: str | None = None) -> list[Finding]:
    findings: list[Finding] = []
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
        Finding(subject=str(view.ref), problem=str(error), fix="fix the tag: the service is skipped until then")
        for error in config.errors
    ]
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
