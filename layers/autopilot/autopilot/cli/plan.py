"""What a push would do to one service (`autopilot plan`), and where managed services stand (`autopilot status`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import Field

from autopilot.aws.ecs import EcsGateway
from autopilot.config.service_tags import parse_service_tags
from autopilot.images import DOCKER_HUB, ImageRef, pinned_image
from autopilot.ledger import Ledger
from autopilot.model import Model
from autopilot.refs import ServiceRef
from autopilot.taskdef import ContainerSelectionError, container_images, image_changes, select_containers


class PlanError(ValueError):
    """The plan cannot be made; the message says why."""


class PlannedChange(Model):
    container: str
    old_image: str
    new_image: str


class Plan(Model):
    service: str
    image: str
    policy: str | None
    decision: str
    deploys: bool
    task_definition: str
    changes: list[PlannedChange] = Field(default_factory=list)


def _in_service_registry(image: str, pushed: ImageRef, body: Mapping[str, object]) -> ImageRef:
    """`REPO:TAG` as `status` shows it: the registry of the service's container from that repository."""
    if "/" in image.split("@", maxsplit=1)[0].split(":", maxsplit=1)[0] and pushed.registry != DOCKER_HUB:
        return pushed
    short = pushed.repository.removeprefix("library/")
    for container in container_images(dict(body)):
        ref = container.ref
        if ref is not None and ref.repository == short and ref.registry != DOCKER_HUB:
            return ImageRef(ref.registry, short, pushed.tag, pushed.digest)
    return pushed


def plan_push(
    ref: ServiceRef,
    image: str,
    *,
    ecs: EcsGateway,
    ledger: Ledger,
    resolve_digest: Callable[[ImageRef], str | None],
    named_policies: Callable[[], Mapping[str, str]],
) -> Plan:
    """The task-definition change that pushing `image` (`REGISTRY/REPO:TAG[@DIGEST]`, or `REPO:TAG` for the
    registry the service already pulls that repository from) would make to `ref`."""
    try:
        pushed = ImageRef.parse(image)
    except ValueError as error:
        raise PlanError(str(error)) from error
    if not pushed.tag:
        raise PlanError(f"{image} names no tag: an untagged push never deploys")
    service = ecs.describe_services([ref]).get(ref)
    if service is None:
        raise PlanError(f"service {ref} not found")
    task_definition = ecs.describe_task_definition(service.task_definition)
    if task_definition is None:
        raise PlanError(f"task definition {service.task_definition} not found")
    pushed = _in_service_registry(image, pushed, task_definition.body)
    tag = pushed.tag or ""
    config = parse_service_tags(service.tags, named_policies)
    if config.errors:
        raise PlanError("; ".join(str(error) for error in config.errors))
    try:
        containers = select_containers(task_definition.body, pushed.repository_ref, config.containers)
    except ContainerSelectionError as error:
        raise PlanError(str(error)) from error
    if not containers:
        raise PlanError(f"no container of {task_definition.family_revision} uses {pushed.repository_ref}")
    state = ledger.services.state(ref)
    current = {c.name: c.image for c in container_images(task_definition.body)}
    running_ref = ImageRef.parse(current[containers[0]])
    running_tag = state.running_tag(pushed.repository_ref, service.task_definition, running_ref.tag, running_ref.digest)
    if config.deploy is None:
        decision, deploys = "not managed (no autopilot:deploy tag)", False
    else:
        verdict = config.deploy.decide(tag, running_tag)
        decision, deploys = verdict.reason, verdict.deploy
    digest = pushed.digest or resolve_digest(pushed)
    if config.pin == "digest" and digest is None:
        new_image = f"{pushed.repository_ref}@<digest of {pushed.tag} at push time>"
    else:
        new_image = pinned_image(pushed.repository_ref, tag=tag, digest=digest or "", pin=config.pin)
    changes = [
        PlannedChange(container=c, old_image=o, new_image=n)
        for c, o, n in image_changes(task_definition.body, dict.fromkeys(containers, new_image))
    ]
    return Plan(
        service=str(ref),
        image=image,
        policy=config.deploy_text,
        decision=decision,
        deploys=deploys,
        task_definition=task_definition.family_revision,
        changes=changes,
    )


class ServiceStatus(Model):
    service: str
    policy: str | None
    task_definition: str
    images: dict[str, str]
    last_known_good: str | None
    frozen: bool
    quarantined: int
    problems: list[str] = Field(default_factory=list)


def status_of(refs: list[ServiceRef], *, ecs: EcsGateway, ledger: Ledger) -> list[ServiceStatus]:
    services = ecs.describe_services(refs)
    states = ledger.services.states(refs)
    found = []
    for ref in sorted(refs):
        service = services.get(ref)
        if service is None:
            continue
        config = parse_service_tags(service.tags)
        body = ecs.describe_task_definition(service.task_definition)
        state = states[ref]
        found.append(
            ServiceStatus(
                service=str(ref),
                policy=config.deploy_text,
                task_definition=service.task_definition.rsplit("/", 1)[-1],
                images={c.name: c.image for c in container_images(body.body)} if body else {},
                last_known_good=state.last_known_good.rsplit("/", 1)[-1] if state.last_known_good else None,
                frozen=state.frozen,
                quarantined=len(state.quarantined),
                problems=[str(e) for e in config.errors],
            )
        )
    return found
