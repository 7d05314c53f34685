"""An ECS service scheduler over moto: deployments that run tasks on a simulated clock and tell about it.

moto stores clusters, services, task definitions and tasks; this engine does what ECS's scheduler does with
them (Amazon ECS Developer Guide, "Deploy Amazon ECS services by replacing tasks", "How the Amazon ECS
deployment circuit breaker detects failures", "Amazon ECS blue/green deployments"):

- CreateService and an UpdateService that changes the task definition (or forces a new deployment) start a
  deployment: id `ecs-svc/<19 digits>`, PRIMARY, rolloutState IN_PROGRESS; the previous PRIMARY becomes ACTIVE.
- Tasks are started and stopped within `maximumPercent` / `minimumHealthyPercent` of the desired count. Each
  task lives as its image's `Behaviour` says: healthy, or stopping with the stop code, reason and exit code ECS
  reports for that failure.
- The deployment circuit breaker (`deploymentCircuitBreaker.enable`) fails the deployment once its failed
  tasks reach the threshold (documented: half the desired count, at least 3, at most 200; or the configured
  `thresholdConfiguration`); with `rollback` it starts a deployment back to the last completed one.
- A deployment whose tasks are all running and healthy, with no older task left, COMPLETES; the service
  reports SERVICE_STEADY_STATE.
- BLUE_GREEN, LINEAR and CANARY start the whole new revision, shift production traffic (at once, in steps,
  or a canary share first), bake for `bakeTimeInMinutes`, then stop the old revision.
- The service-deployments view (ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions,
  StopServiceDeployment with ROLLBACK) is kept beside the classic `deployments` list.

Events (ECS Deployment State Change, ECS Task State Change, ECS Service Action) go to `outbox`, from where the
local event bus routes them by template.yaml's rules to the real handlers. What is not modelled is listed in
docs/local-aws.md.
"""

from __future__ import annotations

import itertools
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from autopilot.local.ecs.behaviour import HEALTHY, Behaviour, Fate
from autopilot.local.ecs.shapes import (
    RUNNING_SAMPLE,
    SCHEDULER_STOP_SAMPLE,
    SPOT_INTERRUPTION_SAMPLE,
    STOPPED_SAMPLES,
    USER_STOP_SAMPLE,
    EventShapes,
    TaskFacts,
)

TICK_SECONDS = 5
START_SECONDS = 15  # PROVISIONING → RUNNING: pull and start
HEALTHY_AFTER_SECONDS = 30  # RUNNING → counted healthy (health check grace, first checks passed)
SPOT_NOTICE_SECONDS = 120  # a Fargate Spot task is stopped two minutes after its interruption notice
DEFAULT_MAXIMUM_PERCENT = 200
DEFAULT_MINIMUM_HEALTHY_PERCENT = 100
STOP_REASONS: dict[Fate, tuple[str, str, str | None]] = {
    # stopCode, stoppedReason, container reason (ECS Developer Guide, "Amazon ECS stopped task error messages")
    Fate.EXITS: ("EssentialContainerExited", "Essential container in task exited", None),
    Fate.OUT_OF_MEMORY: (
        "EssentialContainerExited",
        "Essential container in task exited",
        "OutOfMemoryError: Container killed due to memory usage",
    ),
    Fate.HEALTH_CHECK: ("ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group {target})", None),
    Fate.PULL_ERROR: (
        "TaskFailedToStart",
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: "
        "not found",
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {image}: "
        "not found",
    ),
    Fate.SECRET_ERROR: (
        "TaskFailedToStart",
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
        "failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch "
        "secret from all regions",
        None,
    ),
}

_deployment_ids = itertools.count(5_000_000_000_000_000_001)


def new_deployment_id() -> str:
    return f"ecs-svc/{next(_deployment_ids)}"


@dataclass
class EngineTask:
    arn: str
    deployment_id: str
    behaviour: Behaviour
    created_at: datetime
    running_at: datetime
    private_ip: str
    container_instance_arn: str | None
    moto_task: Any
    status: str = "PENDING"
    started_at: datetime | None = None
    stop_at: datetime | None = None  # when its behaviour (or a Spot interruption) stops it
    stop_as: str | None = None  # "spot" for a Spot interruption
    version: int = 1
    group: str = ""  # `service:NAME`, or `family:NAME` for a standalone task

    @property
    def live(self) -> bool:
        return self.status != "STOPPED"

    def healthy(self, now: datetime) -> bool:
        return (
            self.status == "RUNNING"
            and self.started_at is not None
            and now >= self.started_at + timedelta(seconds=HEALTHY_AFTER_SECONDS)
        )


@dataclass
class EngineDeployment:
    id: str
    task_definition: str
    created_at: datetime
    strategy: str
    configuration: dict[str, Any]
    revision_arn: str
    source_revisions: list[str]
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    rollout_reason: str = ""
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    failed_tasks: int = 0
    service_status: str = "IN_PROGRESS"  # the service-deployments API's status
    status_reason: str = ""
    stage: str = "SCALE_UP"
    traffic: float = 0.0  # production traffic share of this revision (blue/green family)
    stage_until: datetime | None = None
    rollback: dict[str, Any] | None = None
    rolling_back_from: str | None = None  # the deployment this one rolls back
    hook: dict[str, Any] | None = None  # the pause hook it waits at (or waited at last): lifecycleHookDetails
    hooks_done: set[str] = field(default_factory=set)  # stages whose pause hooks were continued

    @property
    def digits(self) -> str:
        return self.id.removeprefix("ecs-svc/")


@dataclass
class ServiceRun:
    service: Any  # moto's Service
    deployments: list[EngineDeployment] = field(default_factory=list)
    tasks: list[EngineTask] = field(default_factory=list)
    steady: bool = False
    history: list[EngineDeployment] = field(default_factory=list)  # every deployment, newest last

    @property
    def primary(self) -> EngineDeployment | None:
        return self.deployments[0] if self.deployments else None

    def live(self, deployment: EngineDeployment | None = None) -> list[EngineTask]:
        return [t for t in self.tasks if t.live and (deployment is None or t.deployment_id == deployment.id)]


class Engine:
    def __init__(self, events_dir: Path, *, start: datetime | None = None) -> None:
        self.events_dir = events_dir
        self.now = start or datetime.now(UTC)
        self.services: dict[str, ServiceRun] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.outbox: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.tickers: list[Callable[[datetime], None]] = []  # the rest of the local AWS on this clock
        self._addresses = itertools.count(10)  # task addresses: 10.0.0.12, … (the same in every run)

    # -- the world's knobs ---------------------------------------------------------------------------------
    def set_behaviour(self, image: str, behaviour: Behaviour, *, running: bool = False) -> None:
        """How tasks of `image` (as written in the container definition, or its digest or tag) behave from now
        on; with `running`, the tasks already running it too (an app that starts crashing in production)."""
        with self.lock:
            self.behaviours.pop(image, None)
            self.behaviours[image] = behaviour  # set again: the most recent wins
            for run in self.services.values() if running else []:
                for task in run.live():
                    if self.behaviour_of(self._images(task)[0][1]) is behaviour and task.stop_as is None:
                        task.behaviour = behaviour
                        task.stop_at = (
                            self.now + timedelta(seconds=behaviour.after_seconds) if behaviour.fails else None
                        )

    def service_tasks_on(self, ec2_instance_id: str) -> list[str]:
        """The live service tasks on the container instance of an EC2 instance."""
        with self.lock:
            arns = {
                instance.container_instance_arn
                for run in self.services.values()
                for instance in run.service._backend.container_instances.get(run.service.cluster_name, {}).values()
                if instance.ec2_instance_id == ec2_instance_id
            }
            return [
                task.arn
                for run in self.services.values()
                if not isinstance(run.service, _Standalone)
                for task in run.live()
                if task.container_instance_arn in arns
            ]

    def behaviour_of(self, image: str) -> Behaviour:
        """The behaviour set for this image: by its full reference, `repository:tag` or `repository@digest`
        (the end of the reference), its digest, or its tag; the most recently set wins."""
        tag = image.rsplit(":", 1)[-1] if "@" not in image else None
        for key in reversed(self.behaviours):
            if image == key or image.endswith(("/" + key, "@" + key)) or key == tag:
                return self.behaviours[key]
        return HEALTHY

    def _next_address(self) -> str:
        address = next(self._addresses)
        return f"10.0.{(address // 250) % 250}.{address % 250 + 2}"

    def take_events(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.outbox = self.outbox, []
            return events

    def emit(self, event: dict[str, Any]) -> None:
        """An event of the local AWS (ECS's own, or Auto Scaling's and EC2's on this clock) for the bus."""
        with self.lock:
            self._emit(event)

    def _emit(self, event: dict[str, Any]) -> None:
        self.outbox.append(event)
        for listener in self.listeners:
            listener(event)

    # -- what the API does ---------------------------------------------------------------------------------
    def service_created(self, service: Any) -> None:
        with self.lock:
            run = ServiceRun(service=service)
            self.services[_key(service)] = run
            if service.deployment_controller.get("type", "ECS") == "ECS" and service.task_definition:
                self._start_deployment(run, str(service.task_definition), reason=None)

    def service_updated(self, service: Any, *, new_deployment: bool) -> None:
        with self.lock:
            run = self.services.get(_key(service))
            if run is None:
                return
            if new_deployment and service.deployment_controller.get("type", "ECS") == "ECS":
                self._start_deployment(run, str(service.task_definition), reason=None)
            self._sync(run)

    def service_deleted(self, service: Any) -> None:
        with self.lock:
            run = self.services.pop(_key(service), None)
            for task in run.live() if run else []:
                self._stop(run, task, "ServiceSchedulerInitiated", "Service deleted", SCHEDULER_STOP_SAMPLE)  # type: ignore[arg-type]

    def stop_task(self, task_arn: str, reason: str) -> None:
        """StopTask on a service's task: ECS stops it and the service starts a replacement."""
        with self.lock:
            for run in self.services.values():
                for task in run.live():
                    if task.arn == task_arn:
                        self._stop(run, task, "UserInitiated", reason or "Task stopped by user", USER_STOP_SAMPLE)
                        self._sync(run)

    def standalone_started(self, moto_task: Any) -> None:
        """RunTask / StartTask: a task of no service lives as its image says and is not replaced."""
        with self.lock:
            backend = moto_task._backend
            key = f"{backend.account_id}/{moto_task.region_name}/{moto_task.cluster_name}/(standalone)"
            run = self.services.setdefault(key, ServiceRun(service=_Standalone(backend, moto_task)))
            moto_task.advance = lambda: None
            moto_task.last_status = "PROVISIONING"
            ip = self._next_address()
            if not moto_task.attachments:
                moto_task.attachments = [_attachment(moto_task.id, ip)]
            image = backend.describe_task_definition(moto_task.task_definition_arn).container_definitions[0]
            behaviour = self.behaviour_of(image.get("image", ""))
            run.tasks.append(
                EngineTask(
                    arn=moto_task.task_arn,
                    deployment_id="",
                    behaviour=behaviour,
                    created_at=self.now,
                    running_at=self.now
                    + timedelta(seconds=START_SECONDS if behaviour.starts else behaviour.after_seconds),
                    private_ip=_address_of(moto_task) or ip,
                    container_instance_arn=moto_task.container_instance_arn,
                    moto_task=moto_task,
                    group=moto_task.group,
                )
            )

    def instance_terminated(self, ec2_instance_id: str) -> None:
        """EC2 took the instance away: ECS deregisters its container instance and what still ran there stops
        (service tasks are started again elsewhere by the scheduler)."""
        with self.lock:
            gone: set[str] = set()
            for run in self.services.values():
                for instance in run.service._backend.container_instances.get(run.service.cluster_name, {}).values():
                    if instance.ec2_instance_id == ec2_instance_id:
                        instance.status = "INACTIVE"
                        instance.agent_connected = False
                        gone.add(instance.container_instance_arn)
            for run in self.services.values():
                for task in run.live():
                    if task.container_instance_arn in gone:
                        self._stop(
                            run,
                            task,
                            "TerminationNotice",
                            f"Host EC2 (instance {ec2_instance_id}) terminated.",
                            SCHEDULER_STOP_SAMPLE,
                        )

    def interrupt_spot(self, task_arn: str, *, stop_code: str = "SpotInterruption") -> EngineTask:
        """A Fargate Spot interruption: the two-minute notice now, the task stopped when it runs out."""
        with self.lock:
            for run in self.services.values():
                for task in run.live():
                    if task.arn == task_arn:
                        task.stop_at, task.stop_as = self.now + timedelta(seconds=SPOT_NOTICE_SECONDS), "spot"
                        task.version += 1
                        task.moto_task.desired_status = "STOPPED"
                        self._tell(
                            run,
                            task,
                            SPOT_INTERRUPTION_SAMPLE,
                            stop_code=stop_code,
                            stopped_reason="Your Spot Task was interrupted.",
                        )
                        return task
            raise KeyError(f"no running service task {task_arn}")

    def stop_service_deployment(self, arn: str, stop_type: str) -> EngineDeployment:
        """StopServiceDeployment: ROLLBACK returns the service to the revision the deployment started from."""
        with self.lock:
            run, deployment = self.find_service_deployment(arn)
            if deployment.service_status not in ("PENDING", "IN_PROGRESS"):
                raise DeploymentNotStoppableError(
                    f"The service deployment {arn} is in {deployment.service_status} and cannot be stopped."
                )
            if stop_type == "ROLLBACK":
                deployment.service_status = "ROLLBACK_REQUESTED"
                self._roll_back(run, deployment, reason=f"StopServiceDeployment rollback of {deployment.id}")
            else:
                deployment.service_status = "STOPPED"
                deployment.status_reason = "Service deployment stopped by StopServiceDeployment."
                deployment.finished_at = self.now
                deployment.rollout_state = "FAILED"
            self._sync(run)
            return deployment

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> EngineDeployment:
        """ContinueServiceDeployment: a deployment waiting at a pause hook goes on (CONTINUE) or rolls back."""
        with self.lock:
            run, deployment = self.find_service_deployment(arn)
            hook = deployment.hook
            if hook is None or hook["hookId"] != hook_id:
                raise DeploymentNotStoppableError(f"The hook {hook_id} is not a hook of service deployment {arn}.")
            if hook["status"] != "AWAITING_ACTION" or deployment.service_status != "IN_PROGRESS":
                raise DeploymentNotStoppableError(
                    f"The hook {hook_id} is in {hook['status']} and does not await an action."
                )
            stage = str(hook["stage"])
            if action == "CONTINUE":
                hook["status"] = "SUCCEEDED"
                deployment.hooks_done.add(stage)
                self._emit(self._shapes(run).hook("HOOK_SUCCEEDED", run.service, deployment, hook, at=self.now))
            else:
                hook["status"] = "FAILED"
                self._emit(self._shapes(run).hook("HOOK_FAILED", run.service, deployment, hook, at=self.now))
                deployment.service_status = "ROLLBACK_REQUESTED"
                self._roll_back(run, deployment, reason=f"rolled back at the {stage} pause hook")
            self._sync(run)
            return deployment

    def _paused(self, run: ServiceRun, deployment: EngineDeployment, stage: str) -> bool:
        """Whether the deployment waits at a pause hook of `stage`: the hook starts (HOOK_AWAITING_ACTION) when
        the deployment reaches the stage, ends with ContinueServiceDeployment or its timeout (timeoutAction)."""
        if stage in deployment.hooks_done:
            return False
        hooks = [
            hook
            for hook in deployment.configuration.get("lifecycleHooks") or []
            if hook.get("targetType") == "PAUSE" and stage in (hook.get("lifecycleStages") or [])
        ]
        if not hooks:
            return False
        hook = deployment.hook
        if hook is not None and hook["stage"] == stage and hook["status"] in ("FAILED", "TIMED_OUT"):
            return True  # rolled back at this hook (or failing to): the deployment goes no further
        if hook is None or hook["stage"] != stage or hook["status"] == "SUCCEEDED":  # linear: a hook per step
            timeout = hooks[0].get("timeoutConfiguration") or {}
            hook = deployment.hook = {
                "hookId": "ecs-pause-" + uuid.uuid4().hex,
                "stage": stage,
                "status": "AWAITING_ACTION",
                "expiresAt": self.now + timedelta(minutes=int(timeout.get("timeoutInMinutes") or 1440)),
                "timeoutAction": str(timeout.get("action") or "ROLLBACK"),
            }
            deployment.stage = stage
            self._emit(self._shapes(run).hook("HOOK_AWAITING_ACTION", run.service, deployment, hook, at=self.now))
            return True
        if self.now < hook["expiresAt"]:
            return True
        hook["status"] = "TIMED_OUT"
        self._emit(self._shapes(run).hook("HOOK_TIMED_OUT", run.service, deployment, hook, at=self.now))
        if hook["timeoutAction"] == "ROLLBACK":
            deployment.service_status = "ROLLBACK_REQUESTED"
            self._roll_back(run, deployment, reason=f"the {stage} pause hook timed out")
            return True
        deployment.hooks_done.add(stage)
        return False

    def find_service_deployment(self, arn: str) -> tuple[ServiceRun, EngineDeployment]:
        for run in self.services.values():
            for deployment in run.history:
                if service_deployment_arn(run.service, deployment) == arn:
                    return run, deployment
        raise KeyError(arn)

    # -- the clock -----------------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass, one scheduler tick at a time."""
        end = self.now + timedelta(seconds=seconds)
        with self.lock:
            while self.now < end:
                self.now = min(end, self.now + timedelta(seconds=TICK_SECONDS))
                for ticker in list(self.tickers):
                    ticker(self.now)
                for run in list(self.services.values()):
                    self._reconcile(run)

    def advance_to(self, moment: datetime) -> None:
        if moment > self.now:
            self.advance((moment - self.now).total_seconds())

    # -- the scheduler -------------------------------------------------------------------------------------
    def _start_deployment(self, run: ServiceRun, task_definition: str, *, reason: str | None) -> EngineDeployment:
        service = run.service
        configuration = dict(getattr(service, "deployment_configuration", None) or {})
        deployment_id = new_deployment_id()
        previous = run.primary
        deployment = EngineDeployment(
            id=deployment_id,
            task_definition=task_definition,
            created_at=self.now,
            updated_at=self.now,
            strategy=str(configuration.get("strategy") or "ROLLING"),
            configuration=configuration,
            revision_arn=(
                f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-revision/"
                f"{service.cluster_name}/{service.name}/{deployment_id.removeprefix('ecs-svc/')}"
            ),
            source_revisions=[d.revision_arn for d in run.deployments],
            rollout_reason=reason or f"ECS deployment {deployment_id} in progress.",
        )
        for older in run.deployments:
            older.status = "ACTIVE"
            if older.service_status == "IN_PROGRESS":
                older.service_status = "STOPPED"
                older.status_reason = f"Service deployment superseded by {deployment_id}."
                older.finished_at = self.now
        run.deployments.insert(0, deployment)
        run.history.append(deployment)
        run.steady = False
        if previous is not None and reason is None:
            previous.updated_at = self.now
        sample = "ROLLBACK_IN_PROGRESS" if reason and "rolling back" in reason else "IN_PROGRESS"
        self._emit(
            self._shapes(run).deployment(
                sample, service.arn, deployment_id, at=self.now, reason=deployment.rollout_reason
            )
        )
        self._sync(run)
        return deployment

    def _reconcile(self, run: ServiceRun) -> None:
        self._play_tasks(run)
        primary = run.primary
        if primary is None:
            return
        if primary.strategy == "ROLLING" or primary.rollout_state != "IN_PROGRESS":
            self._rolling(run, primary)
        else:
            self._shifting(run, primary)
        self._sync(run)

    def _play_tasks(self, run: ServiceRun) -> None:
        draining = self._draining_instances(run)
        for task in run.live():
            if task.status == "PENDING" and self.now >= task.running_at:
                if task.behaviour.starts:
                    task.status, task.started_at = "RUNNING", task.running_at
                    task.moto_task.last_status = "RUNNING"
                    task.version += 1
                    self._tell(run, task, RUNNING_SAMPLE)
                    if task.behaviour.fails:
                        task.stop_at = task.started_at + timedelta(seconds=task.behaviour.after_seconds)
                else:
                    self._fail(run, task)
            elif task.status == "RUNNING" and task.stop_at is not None and self.now >= task.stop_at:
                if task.stop_as == "spot":
                    self._stop(run, task, "SpotInterruption", "Your Spot Task was interrupted.", SCHEDULER_STOP_SAMPLE)
                else:
                    self._fail(run, task)
            elif task.container_instance_arn in draining and self._replaced_elsewhere(run, task):
                self._stop(
                    run,
                    task,
                    "ServiceSchedulerInitiated",
                    f"Service scheduler stopped the task: container instance {task.container_instance_arn} is DRAINING",
                    SCHEDULER_STOP_SAMPLE,
                )

    def _replaced_elsewhere(self, run: ServiceRun, task: EngineTask) -> bool:
        """ECS stops a task on a DRAINING instance once a replacement runs (within minimumHealthyPercent)."""
        healthy = sum(t.healthy(self.now) for t in run.live())
        return healthy - int(task.healthy(self.now)) >= self._minimum_healthy(run) or not task.healthy(self.now)

    def _fail(self, run: ServiceRun, task: EngineTask) -> None:
        fate = task.behaviour.fate
        code, reason, container_reason = STOP_REASONS[fate]
        image = self._images(task)[0][1]
        target = next((lb.get("targetGroupArn", "") for lb in run.service.load_balancers or []), "")
        self._stop(
            run,
            task,
            code,
            reason.format(image=image, target=target),
            STOPPED_SAMPLES[fate],
            container_reason=container_reason.format(image=image) if container_reason else None,
            exit_code=task.behaviour.exit_code if fate in (Fate.EXITS, Fate.OUT_OF_MEMORY) else None,
        )
        deployment = next((d for d in run.deployments if d.id == task.deployment_id), None)
        if deployment is not None and deployment.rollout_state == "IN_PROGRESS":
            deployment.failed_tasks += 1
            self._maybe_trip_breaker(run, deployment)

    def _maybe_trip_breaker(self, run: ServiceRun, deployment: EngineDeployment) -> None:
        breaker = deployment.configuration.get("deploymentCircuitBreaker") or {}
        if not breaker.get("enable") or deployment.failed_tasks < self._threshold(run, breaker):
            return
        deployment.rollout_state = "FAILED"
        deployment.rollout_reason = "ECS deployment circuit breaker: task failed to start."
        deployment.updated_at = deployment.finished_at = self.now
        self._emit(
            self._shapes(run).deployment(
                "FAILED", run.service.arn, deployment.id, at=self.now, reason=deployment.rollout_reason
            )
        )
        if breaker.get("rollback"):
            deployment.service_status = "ROLLBACK_REQUESTED"
            self._roll_back(run, deployment, reason=None)
        else:
            deployment.service_status = "STOPPED"
            deployment.status_reason = "ECS deployment circuit breaker: task failed to start."

    def _roll_back(self, run: ServiceRun, deployment: EngineDeployment, *, reason: str | None) -> None:
        """Back to the newest revision that completed before `deployment` (ECS's rollback target)."""
        earlier = [d for d in run.history[: run.history.index(deployment)] if d.rollout_state == "COMPLETED"]
        target = earlier[-1] if earlier else None
        if target is None:
            deployment.service_status = "ROLLBACK_FAILED"
            deployment.status_reason = "No completed service revision to roll back to."
            return
        deployment.rollback = {"reason": reason or deployment.rollout_reason, "startedAt": self.now}
        deployment.rollback["serviceRevisionArn"] = target.revision_arn
        deployment.service_status = "ROLLBACK_IN_PROGRESS"
        if deployment.strategy != "ROLLING" and deployment.stage != "CLEAN_UP":
            self._flip_back(run, deployment, target)
            return
        run.service.task_definition = target.task_definition
        # the circuit breaker's own words (AWS's documented example); a StopServiceDeployment rollback's are not
        # documented: it must not read as the circuit breaker's
        why = "ECS deployment circuit breaker" if reason is None else f"Service deployment {deployment.id} stopped"
        back = self._start_deployment(
            run, target.task_definition, reason=f"{why}: rolling back to deploymentId {target.id}."
        )
        back.rolling_back_from = deployment.id
        deployment.status = "ACTIVE"

    def _flip_back(self, run: ServiceRun, deployment: EngineDeployment, target: EngineDeployment) -> None:
        """Blue/green (and linear, canary) before clean-up: production traffic returns to the old revision and
        the new revision's tasks are stopped; no new deployment is needed."""
        deployment.traffic = 0.0
        deployment.rollout_state = "FAILED"
        deployment.status = "INACTIVE"
        for task in run.live(deployment):
            self._scale_in(run, task, target)
        run.deployments = [d for d in run.deployments if d is not deployment]
        target.status = "PRIMARY"
        target.traffic = 1.0
        run.service.task_definition = target.task_definition
        deployment.service_status = "ROLLBACK_SUCCESSFUL"
        deployment.finished_at = deployment.updated_at = self.now
        self._emit(
            self._shapes(run).deployment(
                "FAILED",
                run.service.arn,
                deployment.id,
                at=self.now,
                reason=f"ECS deployment {deployment.id} rolled back to {target.id}.",
            )
        )

    def _rolling(self, run: ServiceRun, primary: EngineDeployment) -> None:
        desired = int(run.service.desired_count)
        if primary.rollout_state != "FAILED":
            draining = self._draining_instances(run)
            staying = [t for t in run.live(primary) if t.container_instance_arn not in draining or t.stop_as]
            room = math.floor(desired * self._maximum_percent(run) / 100) - len(run.live())
            for _ in range(max(0, min(room, desired - len(staying)))):
                if self._launch(run, primary) is None:
                    break
            # the scheduler also replaces stopped tasks of a completed deployment (steady state)
        old = [t for t in run.live() if t.deployment_id != primary.id]
        for task in sorted(old, key=lambda t: t.healthy(self.now)):
            healthy = sum(t.healthy(self.now) for t in run.live())
            if not task.healthy(self.now) or healthy - 1 >= self._minimum_healthy(run):
                self._scale_in(run, task, primary)
        self._finish_if_done(run, primary)

    def _shifting(self, run: ServiceRun, primary: EngineDeployment) -> None:
        """BLUE_GREEN, LINEAR, CANARY: scale the new revision up in full, shift traffic, bake, clean up; pause
        hooks (PAUSE lifecycle hooks) stop it at their stage until continued or timed out."""
        if primary.stage in ("SCALE_UP", "POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT") and not self._scaled_up(
            run, primary
        ):
            return
        shifting = primary.stage in ("PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT")
        if shifting and primary.stage_until and self.now >= primary.stage_until:
            if self._paused(run, primary, "PRE_PRODUCTION_TRAFFIC_SHIFT"):
                return
            primary.hooks_done.discard("PRE_PRODUCTION_TRAFFIC_SHIFT")  # linear, canary: it pauses at every step
            primary.stage = "PRODUCTION_TRAFFIC_SHIFT"
            step, wait = self._shift_step(primary)
            primary.traffic = min(1.0, primary.traffic + step)
            if primary.traffic >= 1.0:
                primary.stage = "POST_PRODUCTION_TRAFFIC_SHIFT"
            else:
                primary.stage_until = self.now + timedelta(minutes=wait)
        if primary.stage == "POST_PRODUCTION_TRAFFIC_SHIFT":
            if self._paused(run, primary, "POST_PRODUCTION_TRAFFIC_SHIFT"):
                return
            primary.stage = "BAKE_TIME"
            bake = int(primary.configuration.get("bakeTimeInMinutes") or 0)
            primary.stage_until = self.now + timedelta(minutes=bake)
        if primary.stage == "BAKE_TIME" and primary.stage_until and self.now >= primary.stage_until:
            primary.stage = "CLEAN_UP"
            for task in [t for t in run.live() if t.deployment_id != primary.id]:
                self._scale_in(run, task, primary)
        if primary.stage == "CLEAN_UP":
            self._finish_if_done(run, primary)

    def _scaled_up(self, run: ServiceRun, primary: EngineDeployment) -> bool:
        """The new revision at full size and past its post-scale-up pause hooks (test traffic moves at once
        here: its hooks come right after the scale-up's): production traffic may shift."""
        desired = int(run.service.desired_count)
        for _ in range(max(0, desired - len(run.live(primary)))):
            if self._launch(run, primary) is None:
                break
        if sum(t.healthy(self.now) for t in run.live(primary)) < desired:
            return False
        if self._paused(run, primary, "POST_SCALE_UP") or self._paused(run, primary, "POST_TEST_TRAFFIC_SHIFT"):
            return False
        primary.stage = "PRODUCTION_TRAFFIC_SHIFT"
        primary.stage_until = self.now
        return True

    @staticmethod
    def _shift_step(deployment: EngineDeployment) -> tuple[float, int]:
        """The share of production traffic moved now, and minutes until the next move."""
        configuration = deployment.configuration
        if deployment.strategy == "LINEAR":
            linear = configuration.get("linearConfiguration") or {}
            return float(linear.get("stepPercent", 10)) / 100, int(linear.get("stepBakeTimeInMinutes", 1))
        if deployment.strategy == "CANARY" and deployment.traffic == 0:
            canary = configuration.get("canaryConfiguration") or {}
            return float(canary.get("canaryPercent", 10)) / 100, int(canary.get("canaryBakeTimeInMinutes", 1))
        return 1.0, 0

    def _finish_if_done(self, run: ServiceRun, primary: EngineDeployment) -> None:
        desired = int(run.service.desired_count)
        done = (
            sum(t.healthy(self.now) for t in run.live(primary)) >= desired
            and not [t for t in run.live() if t.deployment_id != primary.id]
            and len(run.live(primary)) == desired
        )
        if not done:
            return
        if primary.rollout_state == "IN_PROGRESS":
            primary.rollout_state = "COMPLETED"
            primary.rollout_reason = f"ECS deployment {primary.id} completed."
            primary.updated_at = primary.finished_at = self.now
            primary.traffic = 1.0
            primary.service_status = "SUCCESSFUL"
            self._emit(
                self._shapes(run).deployment(
                    "COMPLETED", run.service.arn, primary.id, at=self.now, reason=primary.rollout_reason
                )
            )
            for rolled_back in (d for d in run.history if d.id == primary.rolling_back_from):
                rolled_back.service_status = "ROLLBACK_SUCCESSFUL"
                rolled_back.finished_at = self.now
            for older in run.deployments[1:]:
                older.status = "INACTIVE"
            run.deployments = [primary]
        if not run.steady and primary.rollout_state == "COMPLETED":
            run.steady = True
            self._emit(self._shapes(run).steady_state(run.service.arn, run.service.cluster_arn, at=self.now))

    def _launch(self, run: ServiceRun, deployment: EngineDeployment) -> EngineTask | None:
        """Start a task of `deployment`; None when an EC2 task has no ACTIVE container instance to go to (ECS
        reports a placement failure and tries again later)."""
        from moto.ecs.models import Task

        service = run.service
        backend = service._backend
        definition = backend.describe_task_definition(deployment.task_definition)
        instance = self._place(run)
        if instance is None and (service.launch_type or "EC2") == "EC2":
            return None
        cluster = backend._get_cluster(service.cluster_name)
        moto_task = Task(
            cluster,
            _PlainNetworking(definition),  # type: ignore[arg-type]
            instance.container_instance_arn if instance else None,
            None,
            backend,
            group=f"service:{service.name}",
            launch_type=service.launch_type or "EC2",
            started_by=deployment.id,
        )
        moto_task.last_status = "PROVISIONING"
        moto_task.advance = lambda: None  # type: ignore[method-assign] # the engine, not moto's describe-count state machine, moves it on
        ip = self._next_address()
        moto_task.attachments = [_attachment(moto_task.id, ip)]
        backend.tasks.setdefault(cluster.name, {})[moto_task.task_arn] = moto_task
        image = definition.container_definitions[0].get("image", "")
        behaviour = self.behaviour_of(image)
        delay = START_SECONDS if behaviour.starts else behaviour.after_seconds
        task = EngineTask(
            arn=moto_task.task_arn,
            deployment_id=deployment.id,
            behaviour=behaviour,
            created_at=self.now,
            running_at=self.now + timedelta(seconds=delay),
            private_ip=ip,
            container_instance_arn=instance.container_instance_arn if instance else None,
            moto_task=moto_task,
            group=f"service:{service.name}",
        )
        run.tasks.append(task)
        run.steady = False
        self._register_targets(run, task)
        return task

    def _place(self, run: ServiceRun) -> Any:
        """An ACTIVE container instance of the cluster for an EC2 task (the least loaded; spread), or None."""
        service = run.service
        if (service.launch_type or "EC2") != "EC2":
            return None
        instances = [
            i
            for i in service._backend.container_instances.get(service.cluster_name, {}).values()
            if i.status == "ACTIVE"
        ]
        if not instances:
            return None
        load = {i.container_instance_arn: 0 for i in instances}
        for other in self.services.values():
            for task in other.live():
                if task.container_instance_arn in load:
                    load[task.container_instance_arn] += 1
        return min(instances, key=lambda i: load[i.container_instance_arn])

    def _draining_instances(self, run: ServiceRun) -> set[str | None]:
        instances = run.service._backend.container_instances.get(run.service.cluster_name, {}).values()
        return {i.container_instance_arn for i in instances if i.status == "DRAINING"}

    def _stop(
        self,
        run: ServiceRun,
        task: EngineTask,
        code: str,
        reason: str,
        sample: str,
        *,
        container_reason: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        task.status = "STOPPED"
        task.version += 1
        task.moto_task.last_status = "STOPPED"
        task.moto_task.desired_status = "STOPPED"
        task.moto_task.stopped_reason = reason
        run.steady = False
        self._deregister_targets(run, task)
        self._tell(
            run,
            task,
            sample,
            stop_code=code,
            stopped_reason=reason,
            container_reason=container_reason,
            exit_code=exit_code,
        )

    def _scale_in(self, run: ServiceRun, task: EngineTask, for_deployment: EngineDeployment) -> None:
        """The scheduler stops a task of an older revision for `for_deployment` (ECS's own wording)."""
        self._stop(
            run,
            task,
            "ServiceSchedulerInitiated",
            f"Scaling activity initiated by (deployment {for_deployment.id})",
            SCHEDULER_STOP_SAMPLE,
        )

    def _tell(self, run: ServiceRun, task: EngineTask, sample: str, **values: Any) -> None:
        """A task state change about `task`, from `sample`, sent now."""
        self._emit(self._shapes(run).task(sample, self._facts(run, task), at=self.now, **values))

    def _register_targets(self, run: ServiceRun, task: EngineTask) -> None:
        for target_group, port in self._target_groups(run):
            target_group.register([{"Id": task.private_ip, "Port": port}])

    def _deregister_targets(self, run: ServiceRun, task: EngineTask) -> None:
        for target_group, _port in self._target_groups(run):
            target_group.targets.pop(task.private_ip, None)

    def _target_groups(self, run: ServiceRun) -> list[tuple[Any, int]]:
        """The ip target groups of the service's load balancers (ECS registers each task's address)."""
        from moto.elbv2.models import elbv2_backends

        service = run.service
        backend = elbv2_backends[service._account_id][service.region_name]
        found = []
        for balancer in service.load_balancers or []:
            group = backend.target_groups.get(balancer.get("targetGroupArn", ""))
            if group is not None and group.target_type == "ip":
                found.append((group, int(balancer.get("containerPort") or group.port or 80)))
        return found

    # -- figures -------------------------------------------------------------------------------------------
    def _percent(self, run: ServiceRun, name: str, default: int) -> int:
        configuration = getattr(run.service, "deployment_configuration", None) or {}
        value = configuration.get(name)
        return int(value) if value is not None else default

    def _maximum_percent(self, run: ServiceRun) -> int:
        return self._percent(run, "maximumPercent", DEFAULT_MAXIMUM_PERCENT)

    def _minimum_healthy(self, run: ServiceRun) -> int:
        percent = self._percent(run, "minimumHealthyPercent", DEFAULT_MINIMUM_HEALTHY_PERCENT)
        return math.ceil(int(run.service.desired_count) * percent / 100)

    @staticmethod
    def _threshold(run: ServiceRun, breaker: dict[str, Any]) -> int:
        configured = breaker.get("thresholdConfiguration") or {}
        desired = int(run.service.desired_count)
        if configured.get("type") == "COUNT" and configured.get("value"):
            return int(configured["value"])
        if configured.get("type") == "PERCENTAGE" and configured.get("value"):
            return max(1, math.ceil(desired * int(configured["value"]) / 100))
        return min(200, max(3, math.ceil(desired * 0.5)))

    def _images(self, task: EngineTask) -> list[tuple[str, str]]:
        definition = task.moto_task._backend.describe_task_definition(task.moto_task.task_definition_arn)
        return [(c.get("name", ""), c.get("image", "")) for c in definition.container_definitions]

    def _facts(self, run: ServiceRun, task: EngineTask) -> TaskFacts:
        return TaskFacts(
            task_arn=task.arn,
            cluster_arn=run.service.cluster_arn,
            group=task.group or f"service:{run.service.name}",
            task_definition_arn=task.moto_task.task_definition_arn,
            launch_type=task.moto_task.launch_type,
            containers=self._images(task),
            private_ip=task.private_ip,
            created_at=task.created_at,
            started_at=task.started_at,
            version=task.version,
        )

    def _shapes(self, run: ServiceRun) -> EventShapes:
        return EventShapes(self.events_dir, account=run.service._account_id, region=run.service.region_name)

    def _sync(self, run: ServiceRun) -> None:
        """What DescribeServices shows: the deployments list and the service's counts."""
        service = run.service
        rows = []
        for deployment in run.deployments:
            live = run.live(deployment)
            rows.append(
                {
                    "id": deployment.id,
                    "status": deployment.status,
                    "taskDefinition": deployment.task_definition,
                    "desiredCount": int(service.desired_count) if deployment.status == "PRIMARY" else len(live),
                    "pendingCount": sum(t.status == "PENDING" for t in live),
                    "runningCount": sum(t.status == "RUNNING" for t in live),
                    "failedTasks": deployment.failed_tasks,
                    "createdAt": deployment.created_at,
                    "updatedAt": deployment.updated_at or deployment.created_at,
                    "launchType": service.launch_type,
                    "rolloutState": deployment.rollout_state,
                    "rolloutStateReason": deployment.rollout_reason,
                }
            )
        service.deployments = rows
        live = run.live()
        service.running_count = sum(t.status == "RUNNING" for t in live)
        service.pending_count = sum(t.status == "PENDING" for t in live)
        if run.primary is not None:
            service.task_definition = run.primary.task_definition


class DeploymentNotStoppableError(Exception):
    pass


class _PlainNetworking:
    """A task definition as moto's Task reads it, without awsvpc (the engine gives tasks their own address
    instead of moto's ENI, which would need the service's subnets to exist in moto's EC2)."""

    def __init__(self, definition: Any) -> None:
        self._definition = definition
        self.network_mode = "bridge"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._definition, name)


class _Standalone:
    """The tasks of a cluster that belong to no service, held as a service without deployments."""

    def __init__(self, backend: Any, task: Any) -> None:
        self._backend = backend
        self._account_id = backend.account_id
        self.region_name = task.region_name
        self.cluster_name = task.cluster_name
        self.cluster_arn = task.cluster_arn
        self.name = "(standalone)"
        self.arn = ""
        self.load_balancers: list[dict[str, Any]] = []
        self.desired_count = 0
        self.launch_type = task.launch_type


def _attachment(task_id: str, ip: str) -> dict[str, Any]:
    return {
        "id": f"eni-attachment-{task_id[:8]}",
        "type": "ElasticNetworkInterface",
        "status": "ATTACHED",
        "details": [{"name": "privateIPv4Address", "value": ip}],
    }


def _address_of(moto_task: Any) -> str | None:
    for attachment in moto_task.attachments or []:
        for item in attachment.get("details", []):
            if item.get("name") == "privateIPv4Address":
                return str(item["value"])
    return None


def _key(service: Any) -> str:
    return f"{service._account_id}/{service.region_name}/{service.cluster_name}/{service.name}"


def service_deployment_arn(service: Any, deployment: EngineDeployment) -> str:
    return (
        f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-deployment/"
        f"{service.cluster_name}/{service.name}/{deployment.digits}"
    )
