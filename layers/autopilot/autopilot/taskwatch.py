"""Task watch: explain every stopped task, tell people once, then aggregate a crash loop into one message.

The classifier is pure; the aggregation keeps a counter per service (or task family) and class in the
ledger, with a TTL, and tells at thresholds: the first stop, then `THRESHOLDS`, so a burst of 100 stops
within the window is at most three messages. A SERVICE_STEADY_STATE after a crash loop is one recovery message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from autopilot.config.service_tags import parse_service_tags
from autopilot.events import ServiceActionEvent, TaskContainer, TaskDetail, TaskStateChangeEvent
from autopilot.ledger import Ledger
from autopilot.messages import Message, Severity, emit
from autopilot.model import Model
from autopilot.notify.links import service_links, task_link
from autopilot.refs import ServiceRef, cluster_name

SIGTERM_EXIT = 143
THRESHOLDS = (10, 100)
WINDOW_MINUTES = 30
START_FAILURES = (
    "CannotPullContainerError",
    "ResourceInitializationError",
    "CannotStartContainerError",
    "CannotCreateContainerError",
    "CannotInspectContainerError",
)


class StopClass(StrEnum):
    SCHEDULER = "scheduler"  # deployment or scale-in: quiet
    USER = "user"  # someone stopped it: quiet
    ESSENTIAL_EXIT = "essential-exit"
    OUT_OF_MEMORY = "out-of-memory"
    HEALTH_CHECK = "health-check"
    FAILED_TO_START = "failed-to-start"
    SPOT = "spot"
    OTHER = "other"


QUIET = frozenset({StopClass.SCHEDULER, StopClass.USER})


@dataclass(frozen=True)
class Classification:
    stop_class: StopClass
    cause: str
    container: str | None = None
    exit_code: int | None = None

    @property
    def quiet(self) -> bool:
        return self.stop_class in QUIET


def classify(task: TaskDetail) -> Classification:
    """Why a task stopped, naming the container that caused it."""
    code = task.stop_code or ""
    reason = task.stopped_reason or ""
    if code in {"SpotInterruption", "TerminationNotice"}:
        return Classification(StopClass.SPOT, reason or "Spot capacity reclaimed")
    for container in task.containers:
        if (container.reason or "").startswith("OutOfMemoryError"):
            return Classification(StopClass.OUT_OF_MEMORY, container.reason or "", container.name, container.exit_code)
    starting = [c for c in task.containers if (c.reason or "").startswith(START_FAILURES)]
    if code == "TaskFailedToStart" or starting or reason.startswith(START_FAILURES):
        culprit = starting[0] if starting else None
        return Classification(
            StopClass.FAILED_TO_START,
            (culprit.reason if culprit else None) or reason,
            culprit.name if culprit else None,
        )
    if "health checks" in reason:
        return Classification(StopClass.HEALTH_CHECK, reason)
    if code == "ServiceSchedulerInitiated":
        return Classification(StopClass.SCHEDULER, reason)
    if code == "UserInitiated":
        return Classification(StopClass.USER, reason)
    if code == "EssentialContainerExited" or reason.startswith("Essential container in task exited"):
        culprit = _exited_container(task)
        if culprit is None:
            return Classification(StopClass.ESSENTIAL_EXIT, reason)
        return Classification(StopClass.ESSENTIAL_EXIT, reason, culprit.name, culprit.exit_code)
    return Classification(StopClass.OTHER, reason or code or "stopped")


def _exited_container(task: TaskDetail) -> TaskContainer | None:
    """The container that exited first for a reason: sidecars that exit 0 or 143 (SIGTERM, stopped by ECS
    after the essential one died) are not the cause."""
    exited = [c for c in task.containers if c.exit_code is not None]
    failing = [c for c in exited if c.exit_code not in {0, SIGTERM_EXIT}]
    if failing:
        return failing[0]
    clean = [c for c in exited if c.exit_code == 0]
    return clean[0] if clean else (exited[0] if exited else None)


# -- telling -------------------------------------------------------------------------------------------
class WatchReport(Model):
    task: str | None = None
    subject: str
    stop_class: str
    cause: str
    container: str | None = None
    exit_code: int | None = None
    count: int = 0
    told: bool = False


@dataclass(frozen=True)
class WatchPorts:
    ledger: Ledger
    tags_of: Callable[[ServiceRef], dict[str, str] | None]
    region: str | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def watch_stopped_task(event: TaskStateChangeEvent, ports: WatchPorts) -> WatchReport:
    task = event.detail
    found = classify(task)
    cluster = cluster_name(task.cluster_arn)
    service = ServiceRef(cluster, task.service_name) if task.service_name else None
    subject = str(service) if service else f"{cluster}/{task.group or 'task'}"
    report = WatchReport(
        task=task.task_arn,
        subject=subject,
        stop_class=found.stop_class.value,
        cause=found.cause,
        container=found.container,
        exit_code=found.exit_code,
    )
    if found.quiet or task.last_status != "STOPPED":
        return report
    now = ports.clock()
    count, first_at = ports.ledger.stops.count(
        subject,
        found.stop_class.value,
        int(now.timestamp()),
        window_seconds=WINDOW_MINUTES * 60,
        last_exit=found.exit_code,
    )
    report.count = count
    if count != 1 and count not in THRESHOLDS:
        return report
    routes = _routes(service, ports)
    links = service_links(service, ports.region) if service else []
    if ports.region:
        links.append(task_link(cluster, task.task_id, ports.region))
    facts = {
        "cause": found.cause,
        "container": found.container or "-",
        "exit code": "-" if found.exit_code is None else str(found.exit_code),
        "task": task.task_id,
    }
    if count == 1:
        title = f"{subject}: task stopped: {_headline(found)}"
        severity = Severity.WARNING if found.stop_class == StopClass.SPOT else Severity.ERROR
    else:
        minutes = max(1, round((now.timestamp() - first_at) / 60))
        last = f", last exit code {found.exit_code}" if found.exit_code is not None else ""
        span = f"{minutes} minute{'s' if minutes != 1 else ''}"
        title = f"{subject}: crash loop: {count} stops in {span} ({_headline(found)}{last})"
        severity = Severity.CRITICAL if count >= THRESHOLDS[-1] else Severity.ERROR
    emit(
        Message(
            kind="task.stopped" if count == 1 else "task.crash_loop",
            severity=severity,
            service=subject,
            title=title,
            facts=facts,
            links=links,
            routes=routes,
            region=ports.region,
            thread_key=f"{subject}#{found.stop_class.value}",
        )
    )
    report.told = True
    return report


def _headline(found: Classification) -> str:
    if found.stop_class == StopClass.ESSENTIAL_EXIT:
        return f"{found.container or 'essential container'} exited {found.exit_code}"
    if found.stop_class == StopClass.OUT_OF_MEMORY:
        return f"{found.container} ran out of memory"
    if found.stop_class == StopClass.FAILED_TO_START:
        return f"failed to start: {found.cause.split(':', 1)[0]}"
    if found.stop_class == StopClass.HEALTH_CHECK:
        return "failed health checks"
    if found.stop_class == StopClass.SPOT:
        return "Spot interruption"
    return found.cause or found.stop_class.value


def _routes(service: ServiceRef | None, ports: WatchPorts) -> list[str]:
    tags = ports.tags_of(service) if service else None
    return list(parse_service_tags(tags).notify_routes) if tags else []


def watch_steady_state(event: ServiceActionEvent, ports: WatchPorts) -> WatchReport:
    """SERVICE_STEADY_STATE closes the service's open crash loops with one recovery message."""
    try:
        service = ServiceRef.from_arn(event.resources[0], event.detail.cluster_arn)
    except ValueError:
        return WatchReport(subject=event.resources[0], stop_class="steady", cause="unknown service ARN format")
    report = WatchReport(subject=str(service), stop_class="steady", cause=event.detail.event_name)
    if event.detail.event_name != "SERVICE_STEADY_STATE":
        return report
    closed = ports.ledger.stops.close(str(service))
    looping = [(stop_class, count) for stop_class, count in closed if count > 1]
    if not looping:
        return report
    summary = ", ".join(f"{count} stops ({stop_class})" for stop_class, count in looping)
    emit(
        Message(
            kind="task.recovered",
            severity=Severity.SUCCESS,
            service=str(service),
            title=f"{service}: steady again after {summary}",
            facts={"stops": summary},
            links=service_links(service, ports.region),
            routes=_routes(service, ports),
            region=ports.region,
            thread_key=f"{service}#{looping[0][0]}",
        )
    )
    report.told = True
    return report
