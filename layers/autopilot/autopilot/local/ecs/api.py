"""The ECS API as the engine answers it: moto's handlers, told to the engine, plus the service-deployments API.

Patched once per process, so the in-process mocks of the tests and the server of `local up` behave alike. When
no engine runs (moto used on its own), every call is moto's.
"""

from __future__ import annotations

from typing import Any

from autopilot.local.ecs.engine import (
    DeploymentNotStoppableError,
    Engine,
    EngineDeployment,
    ServiceRun,
    service_deployment_arn,
)

_installed = False
_engine: Engine | None = None


def current() -> Engine | None:
    return _engine


def use(engine: Engine | None) -> None:
    global _engine  # noqa: PLW0603 - one engine per process, like moto's own state
    _engine = engine


def install() -> None:
    global _installed  # noqa: PLW0603 - one patch per process
    if _installed:
        return
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    _patch_backend(EC2ContainerServiceBackend)
    _patch_responses(EC2ContainerServiceResponse)
    _installed = True


_original: dict[str, Any] = {}


def _patch_backend(backend_class: Any) -> None:
    for name, replacement in (
        ("update_service", _update_service),
        ("delete_service", _delete_service),
        ("stop_task", _stop_task),
        ("list_tasks", _list_tasks),
        ("run_task", _run_task),
        ("start_task", _start_task),
    ):
        _original[name] = getattr(backend_class, name)
        setattr(backend_class, name, replacement)


def _update_service(self: Any, properties: dict[str, Any]) -> Any:
    """A changed task definition or forceNewDeployment starts a deployment; a desired count alone does not."""
    engine = current()
    cluster = properties.get("cluster", "default")
    before = self._get_service(cluster, properties["service"].split("/")[-1]).task_definition
    forced = bool(properties.get("force_new_deployment"))
    requested = properties.get("task_definition")
    service = _original["update_service"](self, dict(properties))
    if requested:
        service.task_definition = self.describe_task_definition(requested).arn
    if engine is not None:
        engine.service_updated(service, new_deployment=forced or service.task_definition != before)
    return service


def _delete_service(self: Any, cluster_name: str, service_name: str, force: bool) -> Any:
    service = _original["delete_service"](self, cluster_name, service_name, force)
    engine = current()
    if engine is not None:
        engine.service_deleted(service)
    return service


def _stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    task = _original["stop_task"](self, cluster_str, task_str, reason)
    engine = current()
    if engine is not None:
        engine.stop_task(task.task_arn, reason)
    return task


def _list_tasks(
    self: Any,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,
) -> list[Any]:
    """ListTasks as ECS answers it: RUNNING desired status unless asked otherwise, `serviceName` honoured, and
    tasks without a container instance (Fargate) skipped when one is asked for."""
    tasks = _original["list_tasks"](self, cluster_str, None, family, started_by, None, desiredStatus or "RUNNING")
    if container_instance:
        tasks = [t for t in tasks if t.container_instance_arn and container_instance in t.container_instance_arn]
    if service_name:
        tasks = [t for t in tasks if t.group == f"service:{service_name.split('/')[-1]}"]
    return list(tasks)


def _run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
    tasks = _original["run_task"](self, *args, **kwargs)
    engine = current()
    for task in tasks if engine is not None else []:
        engine.standalone_started(task)  # type: ignore[union-attr]
    return tasks


def _start_task(self: Any, *args: Any, **kwargs: Any) -> Any:
    tasks = _original["start_task"](self, *args, **kwargs)
    engine = current()
    for task in tasks if engine is not None else []:
        if not str(task.group).startswith("service:"):
            engine.standalone_started(task)  # type: ignore[union-attr]
    return tasks


def _patch_responses(response_class: Any) -> None:
    _original["create_service_response"] = response_class.create_service
    response_class.create_service = _create_service
    response_class.list_service_deployments = _list_service_deployments
    response_class.describe_service_deployments = _describe_service_deployments
    response_class.describe_service_revisions = _describe_service_revisions
    response_class.stop_service_deployment = _stop_service_deployment
    response_class.continue_service_deployment = _continue_service_deployment


def _create_service(self: Any) -> Any:
    """CreateService keeps the deploymentConfiguration (moto drops it) and starts the first deployment."""
    result = _original["create_service_response"](self)
    engine = current()
    service = result.result["service"]
    service.deployment_configuration = self._get_param("deploymentConfiguration") or {}
    if engine is not None:
        engine.service_created(service)
    return result


def _engine_or_fail() -> Engine:
    from moto.ecs.exceptions import EcsClientException

    engine = current()
    if engine is None:
        raise EcsClientException("The service-deployments API needs the local ECS engine (autopilot local up).")
    return engine


def _list_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    engine = _engine_or_fail()
    cluster = self._get_param("cluster", "default")
    service = self.ecs_backend._get_service(cluster, self._get_param("service").split("/")[-1])
    statuses = set(self._get_param("status") or [])
    created = self._get_param("createdAt") or {}
    run = engine.services.get(_run_key(service))
    rows = [
        _brief(service, deployment)
        for deployment in reversed(run.history if run else [])
        if (not statuses or deployment.service_status in statuses) and _within(deployment, created)
    ]
    limit = int(self._get_param("maxResults") or 20)
    start = int(self._get_param("nextToken") or 0)
    body: dict[str, Any] = {"serviceDeployments": rows[start : start + limit]}
    if start + limit < len(rows):
        body["nextToken"] = str(start + limit)
    return ActionResult(body)


def _describe_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    engine = _engine_or_fail()
    found, failures = [], []
    for arn in self._get_param("serviceDeploymentArns") or []:
        try:
            run, deployment = engine.find_service_deployment(arn)
        except KeyError:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        found.append(_full(run, deployment))
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _describe_service_revisions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    engine = _engine_or_fail()
    wanted = set(self._get_param("serviceRevisionArns") or [])
    found = []
    for run in engine.services.values():
        for deployment in run.history:
            if deployment.revision_arn in wanted:
                found.append(_revision(run, deployment))
                wanted.discard(deployment.revision_arn)
    return ActionResult({"serviceRevisions": found, "failures": [{"arn": a, "reason": "MISSING"} for a in wanted]})


def _stop_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import EcsClientException, ServiceNotFoundException

    engine = _engine_or_fail()
    arn = self._get_param("serviceDeploymentArn")
    try:
        engine.stop_service_deployment(arn, self._get_param("stopType") or "ROLLBACK")
    except KeyError as missing:
        raise ServiceNotFoundException() from missing
    except DeploymentNotStoppableError as refused:
        raise EcsClientException(str(refused)) from refused
    return ActionResult({"serviceDeploymentArn": arn})


def _continue_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import EcsClientException, ServiceNotFoundException

    engine = _engine_or_fail()
    arn = self._get_param("serviceDeploymentArn")
    try:
        engine.continue_service_deployment(arn, self._get_param("hookId") or "", self._get_param("action") or "")
    except KeyError as missing:
        raise ServiceNotFoundException() from missing
    except DeploymentNotStoppableError as refused:
        raise EcsClientException(str(refused)) from refused
    return ActionResult({"serviceDeploymentArn": arn})


def _run_key(service: Any) -> str:
    return f"{service._account_id}/{service.region_name}/{service.cluster_name}/{service.name}"


def _within(deployment: EngineDeployment, created: dict[str, Any]) -> bool:
    after, before = created.get("after"), created.get("before")
    stamp = deployment.created_at.timestamp()
    return (after is None or stamp >= float(after)) and (before is None or stamp <= float(before))


def _brief(service: Any, deployment: EngineDeployment) -> dict[str, Any]:
    row = {
        "serviceDeploymentArn": service_deployment_arn(service, deployment),
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "createdAt": deployment.created_at,
        "startedAt": deployment.created_at,
        "targetServiceRevisionArn": deployment.revision_arn,
        "status": deployment.service_status,
        "statusReason": deployment.status_reason or deployment.rollout_reason,
    }
    if deployment.finished_at is not None:
        row["finishedAt"] = deployment.finished_at
    return row


def _full(run: ServiceRun, deployment: EngineDeployment) -> dict[str, Any]:
    service = run.service
    live = run.live(deployment)
    breaker = deployment.configuration.get("deploymentCircuitBreaker") or {}
    body: dict[str, Any] = {
        **{k: v for k, v in _brief(service, deployment).items() if k != "targetServiceRevisionArn"},
        "updatedAt": deployment.updated_at or deployment.created_at,
        "sourceServiceRevisions": [{"arn": arn} for arn in deployment.source_revisions],
        "targetServiceRevision": {
            "arn": deployment.revision_arn,
            "requestedTaskCount": int(service.desired_count),
            "runningTaskCount": sum(t.status == "RUNNING" for t in live),
            "pendingTaskCount": sum(t.status == "PENDING" for t in live),
            "requestedProductionTrafficWeight": deployment.traffic * 100,
        },
        "deploymentConfiguration": {k: v for k, v in deployment.configuration.items() if v is not None},
        "lifecycleStage": deployment.stage,
        "deploymentCircuitBreaker": {
            "status": ("TRIGGERED" if deployment.rollout_state == "FAILED" else "MONITORING")
            if breaker.get("enable")
            else "DISABLED",
            "failureCount": deployment.failed_tasks,
            "threshold": Engine._threshold(run, breaker) if breaker.get("enable") else 0,
        },
    }
    if deployment.hook:
        hook = deployment.hook
        body["lifecycleHookDetails"] = [
            {
                "hookId": hook["hookId"],
                "targetType": "PAUSE",
                "status": hook["status"],
                "expiresAt": hook["expiresAt"],
                "timeoutAction": hook["timeoutAction"],
            }
        ]
    if deployment.rollback:
        body["rollback"] = deployment.rollback
    return body


def _revision(run: ServiceRun, deployment: EngineDeployment) -> dict[str, Any]:
    service = run.service
    definition = service._backend.describe_task_definition(deployment.task_definition)
    return {
        "serviceRevisionArn": deployment.revision_arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "taskDefinition": deployment.task_definition,
        "launchType": service.launch_type,
        "loadBalancers": service.load_balancers or [],
        "containerImages": [
            {"containerName": c.get("name"), "image": c.get("image")} for c in definition.container_definitions
        ],
        "createdAt": deployment.created_at,
    }
