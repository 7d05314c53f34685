"""The reconciler (DeployFunction, on a schedule): no push missed, no drift unseen.

ECR's events are best effort. Each run lists every indexed repository's tagged images once (DescribeImages,
paginated) and deploys each image pushed in the last day (and not in the last ten minutes: its event may
still be on its way, or Lambda retrying it) that DeployFunction never took (`ledger.pushes`), oldest first,
as its push would have been deployed: a push event made up from what ECR says, through `deploy_pushed_image`
(every guard: the policy, never downgrade, never older than the push deployed last, quarantine, freeze,
approval; many services fan out). The first look at a repository takes what ECR has as the baseline (marked
taken, nothing deployed). Its cost grows with repositories and their image pages, not with the services that
use them.

Drift: the index holds the task definition each service ran when last indexed (the schedule's rebuild and
every UpdateService seen through CloudTrail). The first time the reconciler sees a service, where it stands is
its baseline; a service whose task definition changed since the reconciler last looked is checked against the
ledger: a revision autopilot did not put there while one of its decisions stands (a deployed revision not
rolled back; a rollback, ECS's or ours, marks it bad; a manual rollback is recorded) is drift, told once per
change; with `autopilot:drift=redeploy` the service is put back on the image the ledger recorded for it
(`deploy_pushed_image(restore=…)`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, ValidationError

from autopilot.aws.errors import describe_error
from autopilot.aws.registry import TaggedImage
from autopilot.config.policies import PolicyError
from autopilot.config.service_tags import parse_service_tags
from autopilot.deploy import DeployIncompleteError, DeployPorts, DeployReport, Outcome, deploy_pushed_image
from autopilot.events import EcrImageActionEvent
from autopilot.ledger import DeployedImage, ServiceState
from autopilot.ledger.index import Indexed
from autopilot.messages import Message, Severity, emit
from autopilot.model import Model
from autopilot.notify.links import service_links
from autopilot.observability import logger
from autopilot.refs import RepositoryRef, ServiceRef

LOOKBACK = timedelta(hours=24)
SETTLE = timedelta(minutes=10)  # longer than Lambda's retries of a failed push (about 1 and 2 minutes later)


class Images(Protocol):
    def tagged_images(self, account: str, repository: str) -> list[TaggedImage]: ...


class Taken(Protocol):
    def take(self, repository: RepositoryRef, digest: str, tag: str, event_id: str, at: int) -> None: ...
    def taken(self, repository: RepositoryRef, images: list[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def take_all(self, repository: RepositoryRef, images: list[tuple[str, str]], at: int) -> None: ...
    def baselined(self) -> set[str]: ...
    def add_baselined(self, repositories: list[str]) -> None: ...


class ManualRollbacks(Protocol):
    def manual_rollback_targets(self, ref: ServiceRef, limit: int = 10) -> set[str]: ...


class IndexOfServices(Protocol):
    def indexed(self) -> dict[ServiceRef, Indexed]: ...
    def checked_for_drift(self, ref: ServiceRef, task_definition: str) -> None: ...


@dataclass(frozen=True)
class ReconcilePorts:
    deploy: DeployPorts
    images: Images
    pushes: Taken
    index: IndexOfServices
    manual: ManualRollbacks
    region: str  # the ECR client's: a repository in another Region sends its events elsewhere
    flush: Callable[[], int] = lambda: 0  # what was told goes out before it is marked done (a retry re-tells)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class ReconcileReport(Model):
    repositories: int = 0
    images: int = 0
    missed_pushes: list[str] = Field(default_factory=list)
    deployed: int = 0
    drifted: list[str] = Field(default_factory=list)
    redeployed: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)


def remember_taken(push: EcrImageActionEvent, report: DeployReport, pushes: Taken, now: datetime) -> None:
    """A push that reached a managed service is taken: the reconciler leaves it alone."""
    if (report.results or report.handed_off) and push.tag and not report.dry_run:
        pushes.take(push.repository, push.detail.image_digest, push.tag, push.id, int(now.timestamp()))


def reconcile(ports: ReconcilePorts) -> ReconcileReport:
    report = ReconcileReport()
    now = ports.clock()
    indexed = ports.index.indexed()
    baselined = ports.pushes.baselined()
    new: list[str] = []
    for key in sorted({repo for entry in indexed.values() for repo in entry.repos}):
        report.repositories += 1
        try:
            if _missed_pushes(key, now, ports, report, first_look=key not in baselined):
                new.append(key)
        except (ClientError, BotoCoreError, RuntimeError) as error:  # the next run tries again
            report.errors.append(f"{key}: {describe_error(error)}")
            logger.warning("repository not reconciled", extra={"repository": key, "error": describe_error(error)})
    ports.pushes.add_baselined(new)
    _drift(indexed, ports, report)
    logger.info("reconciled", extra=report.model_dump())
    return report


def _missed_pushes(
    key: str, now: datetime, ports: ReconcilePorts, report: ReconcileReport, *, first_look: bool
) -> bool:
    """Deploy the repository's missed pushes; True when this was the reconciler's first look at it (then what
    ECR has is the baseline: taken, never deployed, or every build of the last day would be replayed)."""
    registry, _, name = key.partition("/")
    account, region = _ecr_registry(registry)
    if account is None or region != ports.region:
        return False  # not this Region's private ECR: its events never come here
    repository = RepositoryRef(registry, name)
    try:
        images = ports.images.tagged_images(account, name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {"AccessDeniedException", "AccessDenied"}:
            raise
        logger.info("repository of another account: not reconciled", extra={"repository": key})
        return False
    report.images += len(images)
    if first_look:
        ports.pushes.take_all(
            repository,
            [(image.digest, image.tag) for image in images if image.pushed_at >= now - LOOKBACK],
            int(now.timestamp()),
        )
        return True
    recent = [image for image in images if now - LOOKBACK <= image.pushed_at <= now - SETTLE]
    if not recent:
        return False
    taken = ports.pushes.taken(repository, [(image.digest, image.tag) for image in recent])
    for image in sorted(recent, key=lambda image: (image.pushed_at, image.tag)):
        if (image.digest, image.tag) in taken:
            continue
        push = made_up_push(account, region, name, image.digest, image.tag, image.pushed_at, "reconcile")
        report.missed_pushes.append(f"{name}:{image.tag}@{image.digest}")
        logger.warning("a push DeployFunction never took", extra={"repository": key, "tag": image.tag})
        try:
            deployed = deploy_pushed_image(push, ports.deploy)
        except (DeployIncompleteError, PolicyError) as error:
            report.errors.append(f"{name}:{image.tag}: {error}")
            continue
        report.deployed += sum(1 for result in deployed.results if result.outcome == Outcome.DEPLOYED)
        ports.flush()
        ports.pushes.take(repository, image.digest, image.tag, push.id, int(now.timestamp()))
    return False


def made_up_push(
    account: str, region: str, repository: str, digest: str, tag: str, at: datetime, why: str
) -> EcrImageActionEvent:
    """The `ECR Image Action` event a push would have sent (same fields as AWS's), with an id of its own that
    is the same on every run: a retry of it is a retry of the same push."""
    event_id = f"{why}-" + hashlib.sha256(f"{account}/{region}/{repository}@{digest}#{tag}".encode()).hexdigest()[:32]
    return EcrImageActionEvent.model_validate(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "ECR Image Action",
            "source": "aws.ecr",
            "account": account,
            "time": at.astimezone(UTC).isoformat(),
            "region": region,
            "resources": [],
            "detail": {
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest,
                "action-type": "PUSH",
                "image-tag": tag,
            },
        }
    )


def _ecr_registry(host: str) -> tuple[str | None, str | None]:
    parts = host.split(".")
    if len(parts) >= 5 and parts[1:3] == ["dkr", "ecr"] and parts[0].isdigit():
        return parts[0], parts[3]
    return None, None


def _drift(indexed: dict[ServiceRef, Indexed], ports: ReconcilePorts, report: ReconcileReport) -> None:
    seen = {ref: entry for ref, entry in indexed.items() if entry.task_definition != entry.drift_checked}
    for ref, entry in sorted(seen.items()):
        if entry.task_definition and not entry.drift_checked:  # first sight: where it stands is no change
            ports.index.checked_for_drift(ref, entry.task_definition)
    changed = {ref: entry for ref, entry in seen.items() if entry.task_definition and entry.drift_checked}
    if not changed:
        return
    try:
        states = ports.deploy.ledger.services.states(changed)
    except (ClientError, BotoCoreError, RuntimeError) as error:
        report.errors.append(f"drift: {error}")
        return  # checked next run
    for ref, entry in sorted(changed.items()):
        try:
            if _is_drift(ref, entry.task_definition, states[ref], ports):
                _drifted(ref, entry.task_definition, states[ref], ports, report)
                ports.flush()
        except (ClientError, BotoCoreError, DeployIncompleteError, PolicyError, ValidationError) as error:
            report.errors.append(f"{ref.key}: {error}")
            continue  # checked again next run
        ports.index.checked_for_drift(ref, entry.task_definition)


def _is_drift(ref: ServiceRef, running: str, state: ServiceState, ports: ReconcilePorts) -> bool:
    """Drift: the service runs a revision autopilot did not put there while a decision of ours stands (our
    deployed revisions that were not rolled back). A rollback (ours or ECS's: the revision is marked bad) or
    a manual rollback (`autopilot rollback`, chat) is not drift; nor is a service we never deployed."""
    ours = {image.task_definition for image in state.images.values()} - state.bad_revisions
    if not ours or running in ours:
        return False
    return running not in ports.manual.manual_rollback_targets(ref)


def _drifted(
    ref: ServiceRef, running: str, state: ServiceState, ports: ReconcilePorts, report: ReconcileReport
) -> None:
    snapshot = ports.deploy.ecs.describe_services([ref]).get(ref)
    if snapshot is None or snapshot.task_definition != running:
        return  # gone, or changed again since it was indexed: the index catches up first
    config = parse_service_tags(snapshot.tags, ports.deploy.named_policies)
    if not config.managed:
        return
    report.drifted.append(ref.key)
    images = {key: image for key, image in state.images.items() if image.task_definition != running}
    restore = config.redeploy_drift and not config.errors
    facts: dict[str, Any] = {
        "running": running.rsplit("/", 1)[-1],
        "recorded": ", ".join(sorted({image.task_definition.rsplit("/", 1)[-1] for image in images.values()})),
        "images": ", ".join(f"{key.rsplit('/', 1)[-1]}:{image.tag}" for key, image in sorted(images.items())),
        "next": "putting the recorded image back (autopilot:drift=redeploy)"
        if restore
        else "told once; tag the service autopilot:drift=redeploy to have it put back",
    }
    emit(
        Message(
            kind="deploy.drift",
            severity=Severity.WARNING,
            service=ref.key,
            title=f"{ref.key}: task definition changed outside autopilot ({facts['running']})",
            facts=facts,
            links=service_links(ref, None),
            thread_key=f"{ref.key}#drift",
            routes=list(config.notify_routes),
        )
    )
    ports.flush()  # told before anything is changed: a failure after this re-tells the same message
    if restore:
        for key, image in sorted(images.items()):
            _restore(ref, key, image, running, ports, report)


def _restore(
    ref: ServiceRef, key: str, image: DeployedImage, running: str, ports: ReconcilePorts, report: ReconcileReport
) -> None:
    registry, _, name = key.partition("/")
    account, region = _ecr_registry(registry)
    if account is None or region is None:
        return
    push = made_up_push(account, region, name, image.digest, image.tag, ports.clock(), f"drift-{_short(running)}")
    restored = deploy_pushed_image(push, ports.deploy, restore=ref)
    result = restored.outcome_of(ref.key)
    if result is not None and result.outcome == Outcome.DEPLOYED:
        report.redeployed.append(ref.key)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]
