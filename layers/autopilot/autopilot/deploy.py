"""Deploy on push: an ECR push becomes a new task definition revision on every service whose policy takes it.

Cost of one push (AWS API calls): one index query, one state read for all matched services, then per
service at most one DescribeServices (batched by cluster, 10 at a time), DescribeTaskDefinition and
RegisterTaskDefinition (once per shared task definition), UpdateService and one ledger transaction, and one
more state read for all deployed services (did a newer decision land meanwhile?).

A push to more services than `FanOut.inline_limit` is handed to work items (`autopilot.fanout`): one per
task-definition family, paced under ECS's RegisterTaskDefinition rate, each deployed by `deploy_entries`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field

from autopilot.aws.ecs import ServiceSnapshot, TaskDefinitionSnapshot
from autopilot.aws.errors import describe_error, is_retryable
from autopilot.config.document import ConfigUnavailableError
from autopilot.config.policies import Decision
from autopilot.config.service_tags import ServiceConfig, parse_service_tags
from autopilot.events import EcrImageActionEvent
from autopilot.images import ImageRef, pinned_image
from autopilot.ledger import Approval, DeployedImage, DeploymentRecord, IndexEntry, ServiceState
from autopilot.messages import Action, Message, Severity, emit, truncate
from autopilot.model import Model
from autopilot.notify.links import service_links
from autopilot.observability import logger, metrics
from autopilot.ports import DeployLedger, Services
from autopilot.refs import RepositoryRef, ServiceRef
from autopilot.taskdef import ContainerSelectionError, image_changes, registration_request, select_containers

UPDATABLE_CONTROLLERS = frozenset({"ECS"})


class Outcome(StrEnum):
    DEPLOYED = "DEPLOYED"
    PLANNED = "PLANNED"
    OBSERVED = "OBSERVED"  # observe mode: decided, recorded and told; nothing changed
    UNCHANGED = "UNCHANGED"
    SKIPPED = "SKIPPED"
    CONFIG_ERROR = "CONFIG_ERROR"
    ERROR = "ERROR"


class ContainerChange(Model):
    container: str
    old_image: str
    new_image: str


class ServiceResult(Model):
    service: str
    outcome: Outcome
    reason: str
    policy: str | None = None
    previous_task_definition: str | None = None
    new_task_definition: str | None = None
    changes: list[ContainerChange] = Field(default_factory=list)


SUMMARY_SERVICES = 50


class DeployReport(Model):
    event_id: str
    repository: str
    tag: str
    digest: str
    dry_run: bool = False
    results: list[ServiceResult] = Field(default_factory=list)
    handed_off: int = 0  # services handed to work items (a push to many services, `autopilot.fanout`)
    work_items: int = 0

    def outcome_of(self, service: str) -> ServiceResult | None:
        return next((result for result in self.results if result.service == service), None)

    def summary(self, limit: int = SUMMARY_SERVICES) -> dict[str, Any]:
        """What the idempotency record keeps (a duplicate delivery answers with it): every outcome counted,
        the first `limit` services shown with reasons cut short. The full report of a push to 750 services
        would not fit a DynamoDB item (400 KB); it is in the log, one line per service."""
        shown = [
            result.model_copy(update={"reason": truncate(result.reason, 500)}).model_dump(mode="json")
            for result in self.results[:limit]
        ]
        return {
            **self.model_dump(mode="json", exclude={"results"}),
            "counts": dict(Counter(result.outcome.value for result in self.results)),
            "results": shown,
            "more_results": len(self.results) - len(shown),
        }


class DeployIncompleteError(RuntimeError):
    """Some services hit errors a retry may fix (throttling, 5xx); raised after every other service ran."""


class DecisionRaceError(RuntimeError):
    """The service's deployed image changed under every decision this push made for it."""


def approval_id(event_id: str, ref: ServiceRef) -> str:
    """One approval per (push, service): the same id on every attempt of the push."""
    return hashlib.sha256(f"{event_id}#{ref}".encode()).hexdigest()[:16]


def tell_approval(approval: Approval, ended: str | None, region: str | None, config: ServiceConfig) -> None:
    """The approval's one message: the plan with Approve / Reject while it is pending, updated in place (same
    thread) when it ends (`ended` says how: approved by …, rejected by …, superseded, expired)."""
    ref = ServiceRef.parse(approval.service)
    what = f"{approval.repository.rsplit('/', 1)[-1]}:{approval.tag}"
    facts = {
        "image": f"{approval.repository}:{approval.tag} ({approval.digest})",
        "running": approval.previous_task_definition.rsplit("/", 1)[-1],
        "changes": "; ".join(approval.changes) or "-",
        "expires": datetime.fromtimestamp(approval.expires_at, UTC).isoformat(timespec="minutes"),
    }
    if ended is None:  # the buttons need the ChatOps app; the command works wherever the CLI does
        facts["decide"] = f"autopilot approve {approval.service} {approval.approval_id} (or reject)"
    actions = []
    if ended is None:
        title, severity = f"{approval.service}: deploy {what}? (approval required)", Severity.WARNING
        actions = [
            Action(label="Approve", value=f"approve {approval.service} {approval.approval_id}", style="primary"),
            Action(label="Reject", value=f"reject {approval.service} {approval.approval_id}", style="danger"),
        ]
    else:
        title, severity = f"{approval.service}: deploy of {what} {ended}", Severity.INFO
    emit(
        Message(
            kind="deploy.approval",
            severity=severity,
            service=approval.service,
            title=title,
            facts=facts,
            links=service_links(ref, region),
            actions=actions,
            thread_key=f"{approval.service}#approval#{approval.approval_id}",
            routes=list(config.notify_routes),
            region=region,
        )
    )


def _family(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


class FanOut(Protocol):
    """Where a push to many services goes: work items, deployed apart from the push (`autopilot.fanout`)."""

    @property
    def inline_limit(self) -> int: ...

    def hand_off(self, push: EcrImageActionEvent, entries: list[IndexEntry]) -> int: ...


@dataclass(frozen=True)
class DeployPorts:
    ecs: Services
    ledger: DeployLedger
    named_policies: Callable[[], Mapping[str, str]]
    observe: bool = False  # the stack's Mode=observe (a service's autopilot:mode=observe does the same)
    approval_hours: int = 24  # how long a push held for approval waits (ApprovalHours)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    fan_out: FanOut | None = None  # None: every push is deployed in the invocation that takes it


@dataclass
class _Candidate:
    entry: IndexEntry
    service: ServiceSnapshot
    config: ServiceConfig
    state: ServiceState
    images: dict[str, str] | None = None
    task_definition: TaskDefinitionSnapshot | None = None
    latest: TaskDefinitionSnapshot | None = None  # the family's newest revision, when it is not the service's


@dataclass
class _Landed:
    candidate: _Candidate
    new_arn: str
    changes: list[ContainerChange]


MAX_DECISION_ROUNDS = 3


def deploy_pushed_image(
    push: EcrImageActionEvent,
    ports: DeployPorts,
    *,
    dry_run: bool = False,
    approved: ServiceRef | None = None,
    restore: ServiceRef | None = None,
) -> DeployReport:
    """Deploy a push to the services that take it. `approved`: a person approved this push for that service
    (autopilot:approval=required); only that service is deployed, through every other guard as at push time.
    `restore`: only that service, brought back to this push's image whatever its policy says of the tag (the
    image the ledger recorded for it, after its task definition was changed out of band)."""
    report = _report(push, dry_run)
    if push.detail.action_type != "PUSH" or push.detail.result != "SUCCESS":
        logger.info("not a successful push; nothing to deploy", extra={"action": push.detail.action_type})
        return report
    if not push.tag:
        logger.info("untagged push never deploys", extra={"repository": report.repository})
        return report
    entries = ports.ledger.index.services_for_repository(push.repository)
    chosen = approved or restore
    if chosen is not None:
        entries = [entry for entry in entries if entry.service == chosen]
    if not entries:
        logger.info("no managed service uses this repository", extra={"repository": report.repository})
        return report
    if ports.fan_out is not None and chosen is None and not dry_run and len(entries) > ports.fan_out.inline_limit:
        report.handed_off, report.work_items = len(entries), ports.fan_out.hand_off(push, entries)
        logger.info("push handed to work items", extra={"services": len(entries), "work_items": report.work_items})
        return report
    report, retry = deploy_entries(push, ports, entries, dry_run=dry_run, approved=approved, restore=restore)
    if retry:
        raise DeployIncompleteError("; ".join(retry.values()))
    return report


def deploy_entries(
    push: EcrImageActionEvent,
    ports: DeployPorts,
    entries: list[IndexEntry],
    *,
    dry_run: bool = False,
    approved: ServiceRef | None = None,
    restore: ServiceRef | None = None,
) -> tuple[DeployReport, dict[ServiceRef, str]]:
    """Deploy a push to these index entries (all of a push, or a work item's: a work item sent twice may come in
    one batch with itself); every service is tried, each once. Returns
    the report and the services a retry may fix (throttling, 5xx), each with its error."""
    report = _report(push, dry_run)
    run = _DeployRun(push, ports, report, dry_run, approved, restore)
    run.execute(list({entry.service: entry for entry in entries}.values()))  # each service once
    _count(report)
    return report, run.retry


def _report(push: EcrImageActionEvent, dry_run: bool) -> DeployReport:
    return DeployReport(
        event_id=push.id, repository=push.repository.key, tag=push.tag, digest=push.detail.image_digest, dry_run=dry_run
    )


class _DeployRun:
    def __init__(
        self,
        push: EcrImageActionEvent,
        ports: DeployPorts,
        report: DeployReport,
        dry_run: bool,
        approved: ServiceRef | None = None,
        restore: ServiceRef | None = None,
    ) -> None:
        self.push = push
        self.approved = approved
        self.restore = restore
        self.ports = ports
        self.report = report
        self.dry_run = dry_run
        self.repository: RepositoryRef = push.repository
        self.retry: dict[ServiceRef, str] = {}
        self.landed: list[_Landed] = []  # UpdateService made; confirmed against newer decisions at the end

    def execute(self, entries: list[IndexEntry]) -> None:
        """Shared reads first (state, services); then each service on its own: an error of one service is
        that service's outcome, the others go on, and the push is retried for the ones a retry may fix."""
        states = self.ports.ledger.services.states(entry.service for entry in entries)
        services = self.ports.ecs.describe_services(entry.service for entry in entries)
        loaded: dict[str, tuple[TaskDefinitionSnapshot | None, TaskDefinitionSnapshot | None]] = {}
        new_revisions: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        for entry in sorted(entries, key=lambda e: e.service):
            snapshot = services.get(entry.service)
            if snapshot is None:
                self._repair_index(entry, "service no longer exists")
                continue
            candidate: _Candidate | None = None
            try:
                candidate = self._screen(entry, snapshot, states[entry.service])
                if candidate is None or not self._load_task_definition(candidate, loaded):
                    continue
                for _ in range(MAX_DECISION_ROUNDS):
                    if not self._plan(candidate) or self._deploy(candidate, new_revisions):
                        break
                    candidate.state = self.ports.ledger.services.states([entry.service])[entry.service]
                else:
                    raise DecisionRaceError(f"{entry.service}: the service's deployed image kept changing")
            except (ClientError, BotoCoreError, ConfigUnavailableError, DecisionRaceError) as error:
                self._failed(entry, candidate.config if candidate else None, error)
        self._confirm()

    def _confirm(self) -> None:
        """One state read for every service this run updated: a newer decision that landed while we deployed
        stands (ours may have reached ECS last: theirs is put back)."""
        if not self.landed:
            return
        try:
            states = self.ports.ledger.services.states(landed.candidate.entry.service for landed in self.landed)
        except (ClientError, BotoCoreError, RuntimeError) as error:
            for landed in self.landed:
                self._failed(landed.candidate.entry, landed.candidate.config, error)
            return
        for landed in self.landed:
            candidate, ref = landed.candidate, landed.candidate.entry.service
            now = states[ref].deployed(self.repository)
            try:
                if now is not None and now.event_id != self.push.id:
                    if now.task_definition and now.task_definition != landed.new_arn:
                        self.ports.ecs.update_service(ref, now.task_definition)
                    self._result(
                        ref.key, Outcome.SKIPPED, f"superseded by the push of {now.tag}", config=candidate.config
                    )
                    continue
            except (ClientError, BotoCoreError) as error:
                self._failed(candidate.entry, candidate.config, error)
                continue
            assert candidate.task_definition is not None  # noqa: S101 - loaded before deploying
            self._result(
                ref.key,
                Outcome.DEPLOYED,
                f"{candidate.task_definition.family_revision} → {_revision(landed.new_arn)}",
                config=candidate.config,
                previous=candidate.task_definition.arn,
                new=landed.new_arn,
                changes=landed.changes,
            )

    # -- screening: tags, controller, freeze, quarantine ---------------------------------------------
    def _screen(self, entry: IndexEntry, service: ServiceSnapshot, state: ServiceState) -> _Candidate | None:
        config = parse_service_tags(service.tags, self.ports.named_policies)
        name = entry.service.key
        if config.errors:
            self._config_error(entry, "; ".join(str(error) for error in config.errors), config)
            return None
        if not config.managed:
            self._repair_index(entry, "service no longer has an autopilot:deploy tag")
            return None
        if config.deploy is None or config.deploy_text == "off":
            self._result(name, Outcome.SKIPPED, "autopilot:deploy is off", config=config)
            return None
        if service.deployment_controller not in UPDATABLE_CONTROLLERS:
            reason = (
                f"deployment controller is {service.deployment_controller}: UpdateService cannot change its "
                "task definition, deploy it through that controller"
            )
            self._result(name, Outcome.SKIPPED, reason, config=config)
            self._tell(
                entry,
                "deploy.unsupported",
                Severity.WARNING,
                f"{name}: not deployed, {service.deployment_controller} controller",
                {"reason": reason, "tag": self.push.tag},
                config,
            )
            return None
        if state.frozen:
            self._result(name, Outcome.SKIPPED, "service is frozen; unfreeze it to deploy again", config=config)
            return None
        if self.push.detail.image_digest in state.quarantined:
            reason = f"digest {self.push.detail.image_digest} was rolled back on this service and is quarantined"
            logger.warning(
                "quarantined digest skipped", extra={"service": name, "digest": self.push.detail.image_digest}
            )
            self._result(name, Outcome.SKIPPED, reason, config=config)
            return None
        return _Candidate(entry=entry, service=service, config=config, state=state)

    def _load_task_definition(
        self,
        candidate: _Candidate,
        loaded: dict[str, tuple[TaskDefinitionSnapshot | None, TaskDefinitionSnapshot | None]],
    ) -> bool:
        """The service's task definition, read through its family's newest revision (one call when they are the
        same, as usual); a newer revision is kept to be reused if it is exactly the one this push would make."""
        arn = candidate.service.task_definition
        if arn not in loaded:
            latest = self.ports.ecs.describe_task_definition(_family(arn))
            if latest is not None and latest.arn == arn:
                loaded[arn] = (latest, None)
            else:
                loaded[arn] = (self.ports.ecs.describe_task_definition(arn), latest)
        candidate.task_definition, candidate.latest = loaded[arn]
        if candidate.task_definition is None:
            self._repair_index(candidate.entry, f"task definition {arn} no longer exists")
            return False
        return True

    # -- planning: containers, policy, no-op --------------------------------------------------------
    def _plan(self, candidate: _Candidate) -> bool:
        assert candidate.task_definition is not None  # noqa: S101 - filtered by the caller
        name, config = candidate.entry.service.key, candidate.config
        body = candidate.task_definition.body
        try:
            containers = select_containers(body, self.repository, config.containers)
        except ContainerSelectionError as error:
            self._config_error(candidate.entry, str(error), config)
            return False
        if not containers:
            self._result(name, Outcome.SKIPPED, f"no selected container uses {self.repository}", config=config)
            return False
        current = {c["name"]: str(c.get("image", "")) for c in body.get("containerDefinitions", [])}
        digest = self.push.detail.image_digest
        if self._already_running(candidate, [current[c] for c in containers]):
            deployed = candidate.state.deployed(self.repository)
            if deployed is not None and deployed.event_id == self.push.id:  # this push deployed it (a retry)
                self._result(name, Outcome.DEPLOYED, f"deployed {digest}", config=config, new=deployed.task_definition)
            else:
                self._result(
                    name,
                    Outcome.UNCHANGED,
                    f"already runs {digest}",
                    config=config,
                    previous=candidate.service.task_definition,
                )
            return False
        assert config.deploy is not None  # noqa: S101 - screened
        deployed = candidate.state.deployed(self.repository)
        if deployed is not None and deployed.event_id == self.push.id:  # decided by an earlier attempt: finish it
            candidate.images = dict.fromkeys(
                containers, pinned_image(self.repository, tag=self.push.tag, digest=digest, pin=config.pin)
            )
            return True
        ordered = config.deploy.orders_tags  # semver: versions decide (never downgrade), not push times
        if not ordered and self._older_than_deployed(deployed) and candidate.entry.service != self.restore:
            assert deployed is not None  # noqa: S101 - checked by _older_than_deployed
            reason = f"the newer push of {deployed.tag} ({deployed.pushed_at}) was deployed already"
            self._result(name, Outcome.SKIPPED, reason, config=config)
            return False
        decision = config.deploy.decide(self.push.tag, self._running_tag(candidate, current[containers[0]]))
        if candidate.entry.service == self.restore:  # the recorded image, whatever the policy says of its tag
            decision = Decision(True, f"restore {self.push.tag}")
        if not decision.deploy:
            self._result(name, Outcome.SKIPPED, decision.reason, config=config)
            return False
        image = pinned_image(self.repository, tag=self.push.tag, digest=digest, pin=config.pin)
        candidate.images = dict.fromkeys(containers, image)
        return True

    def _older_than_deployed(self, deployed: DeployedImage | None) -> bool:
        """A push older than the one this service's image was last decided from never replaces it (a work item
        or a retry that comes back after a newer push, a missed push the reconciler finds late), under a policy
        that does not order tags (tag:, prefix:, glob:, regex:); under semver the versions decide."""
        if deployed is None or not deployed.pushed_at or deployed.event_id == self.push.id:
            return False
        try:
            decided = datetime.fromisoformat(deployed.pushed_at)
        except ValueError:
            return False
        return self.push.time.astimezone(UTC) < decided.astimezone(UTC)

    def _already_running(self, candidate: _Candidate, images: list[str]) -> bool:
        digest = self.push.detail.image_digest
        refs = [_parse(image) for image in images]
        if all(ref is not None and ref.digest == digest for ref in refs):
            return True
        deployed = candidate.state.deployed(self.repository)
        return (
            deployed is not None
            and deployed.digest == digest
            and deployed.task_definition == candidate.service.task_definition
        )

    def _running_tag(self, candidate: _Candidate, image: str) -> str | None:
        """The tag the service runs now, or is being deployed to; survives digest pinning through the ledger."""
        ref = _parse(image)
        return candidate.state.running_tag(
            self.repository,
            candidate.service.task_definition,
            ref.tag if ref is not None else None,
            ref.digest if ref is not None else None,
        )

    # -- deploying ----------------------------------------------------------------------------------
    def _deploy(self, candidate: _Candidate, new_revisions: dict[tuple[str, tuple[tuple[str, str], ...]], str]) -> bool:
        """Register (or reuse) the revision, write the decision conditioned on the state it was made from, then
        UpdateService, then check that no newer decision replaced ours meanwhile. False: another push changed
        the service's deployed image first, decide again."""
        assert candidate.task_definition is not None and candidate.images is not None  # noqa: S101
        ref, name = candidate.entry.service, candidate.entry.service.key
        current = candidate.task_definition
        changes = [
            ContainerChange(container=c, old_image=o, new_image=n)
            for c, o, n in image_changes(current.body, candidate.images)
        ]
        policy = candidate.config.deploy_text
        if candidate.config.approval_required and ref != self.approved:
            self._hold_for_approval(candidate, changes)
            return True
        if self.dry_run:
            self._result(
                name,
                Outcome.PLANNED,
                f"would register a new revision of {current.family_revision}",
                policy=policy,
                previous=current.arn,
                changes=changes,
            )
            return True
        if self.ports.observe or candidate.config.observe:
            self._observed(candidate, changes)
            return True
        new_arn = self._revision(candidate, new_revisions)
        record = self._record(candidate, new_arn, changes)
        before = candidate.state.deployed(self.repository)
        decided_before = before is not None and before.event_id == self.push.id and before.task_definition == new_arn
        if not decided_before and not self.ports.ledger.services.decide(record, before):
            logger.info("another push changed the service first; deciding again", extra={"service": name})
            return False
        if candidate.service.task_definition != new_arn:
            try:
                self.ports.ecs.update_service(ref, new_arn)
            except (ClientError, BotoCoreError) as error:
                if not is_retryable(error):
                    self.ports.ledger.services.undo_decision(
                        record, None if decided_before else before, describe_error(error)
                    )
                raise
        self.landed.append(_Landed(candidate, new_arn, changes))  # a newer decision may land: `_confirm`
        # "deploy started" is told when ECS reports the deployment IN_PROGRESS (RollbackFunction): a push
        # stays at its API-call budget, and one message covers deployments made by anyone.
        return True

    def _hold_for_approval(self, candidate: _Candidate, changes: list[ContainerChange]) -> None:
        """autopilot:approval=required: the push is held for a person (ledger, with an expiry) and the plan is
        told with Approve / Reject buttons; the service's older pending approval is superseded (and told so).
        Nothing is registered or updated until someone approves (autopilot.approvals)."""
        assert candidate.task_definition is not None  # noqa: S101 - loaded by the caller
        ref, name = candidate.entry.service, candidate.entry.service.key
        held = "autopilot:approval=required: waiting for approval in chat"
        if self.dry_run:
            self._result(name, Outcome.SKIPPED, held, config=candidate.config)
            return
        now = int(self.ports.clock().timestamp())
        approval = Approval(
            service=name,
            approval_id=approval_id(self.push.id, ref),
            push=self.push.model_dump_json(by_alias=True),
            repository=self.repository.key,
            tag=self.push.tag or "",
            digest=self.push.detail.image_digest,
            previous_task_definition=candidate.task_definition.arn,
            changes=[f"{c.container}: {c.old_image} → {c.new_image}" for c in changes],
            requested_at=now,
            expires_at=now + self.ports.approval_hours * 3600,
        )
        for older in self.ports.ledger.approvals.request(ref, approval):
            tell_approval(older, f"superseded by the push of {approval.tag}", self.push.region, candidate.config)
        tell_approval(approval, None, self.push.region, candidate.config)
        self._result(name, Outcome.SKIPPED, f"{held} ({approval.approval_id})", config=candidate.config)

    def _observed(self, candidate: _Candidate, changes: list[ContainerChange]) -> None:
        """Observe mode: the decision is recorded and told, no revision registered, no service updated."""
        assert candidate.task_definition is not None  # noqa: S101 - loaded by the caller
        ref, name = candidate.entry.service, candidate.entry.service.key
        images = ", ".join(f"{c.container}: {c.old_image} → {c.new_image}" for c in changes)
        what = f"would deploy {self.repository.name}:{self.push.tag} to {name}"
        detail = f"{what} ({candidate.task_definition.family_revision} → a new revision; {images})"
        at = self.push.time.astimezone(UTC).isoformat(timespec="milliseconds")
        self.ports.ledger.deployments.record_observation(ref, at, self.push.id, detail)
        self._result(
            name,
            Outcome.OBSERVED,
            f"{what}: observe mode, nothing changed",
            policy=candidate.config.deploy_text,
            previous=candidate.task_definition.arn,
            changes=changes,
        )
        self._tell(
            candidate.entry,
            "deploy.observed",
            Severity.INFO,
            f"{name}: {what} (observe mode: nothing changed)",
            {"from": candidate.task_definition.family_revision, "images": images or "-"},
            candidate.config,
        )

    def _revision(
        self, candidate: _Candidate, new_revisions: dict[tuple[str, tuple[tuple[str, str], ...]], str]
    ) -> str:
        """One new revision per (task definition, images) in a push; the family's newest revision when it is
        exactly that one already (registered by an earlier attempt of this push)."""
        assert candidate.task_definition is not None and candidate.images is not None  # noqa: S101
        current = candidate.task_definition
        key = (current.arn, tuple(sorted(candidate.images.items())))
        if key not in new_revisions:
            request = registration_request(current.body, current.tags, candidate.images)
            latest = candidate.latest
            if latest is not None and registration_request(latest.body, latest.tags, {}) == request:
                new_revisions[key] = latest.arn
            else:
                new_revisions[key] = self.ports.ecs.register_task_definition(request)
        return new_revisions[key]

    def _record(self, candidate: _Candidate, new_arn: str, changes: list[ContainerChange]) -> DeploymentRecord:
        return DeploymentRecord(
            service=candidate.entry.service,
            previous_task_definition=candidate.service.task_definition,
            new_task_definition=new_arn,
            repository=self.repository,
            image=changes[0].new_image if changes else "",
            tag=self.push.tag,
            digest=self.push.detail.image_digest,
            event_id=self.push.id,
            started_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            pushed_at=self.push.time.astimezone(UTC).isoformat(timespec="milliseconds"),
        )

    def _failed(self, entry: IndexEntry, config: ServiceConfig | None, error: BaseException) -> None:
        name = entry.service.key
        policy = config.deploy_text if config else None
        text = describe_error(error)
        if is_retryable(error) or isinstance(error, (ConfigUnavailableError, DecisionRaceError, RuntimeError)):
            self.retry[entry.service] = f"{name}: {text}"
            self._result(name, Outcome.ERROR, f"will retry: {text}", policy=policy)
            logger.warning("deploy hit a retryable error", extra={"service": name, "error": text})
            return
        self._result(name, Outcome.ERROR, text, policy=policy)
        logger.error("deploy failed", extra={"service": name, "error": text})
        if config is not None:
            self._tell(
                entry,
                "deploy.error",
                Severity.ERROR,
                f"{name}: deploy of {self.repository.name}:{self.push.tag} failed",
                {"error": text},
                config,
            )

    def _config_error(self, entry: IndexEntry, problem: str, config: ServiceConfig) -> None:
        """One clear error naming the service, the tag and what is wrong; the service is skipped."""
        name = entry.service.key
        self._result(name, Outcome.CONFIG_ERROR, f"service {name} skipped: {problem}", config=config)
        self._tell(
            entry,
            "config.error",
            Severity.ERROR,
            f"{name}: autopilot tag is wrong, service skipped",
            {"problem": problem, "repository": self.report.repository, "tag": self.push.tag},
            config,
        )

    def _tell(
        self, entry: IndexEntry, kind: str, severity: Severity, title: str, facts: dict[str, str], config: ServiceConfig
    ) -> None:
        emit(
            Message(
                kind=kind,
                severity=severity,
                service=entry.service.key,
                title=title,
                facts=facts,
                links=service_links(entry.service, self.push.region),
                thread_key=f"{entry.service}#{kind}",
                routes=list(config.notify_routes),
                region=self.push.region,
            )
        )

    # -- bookkeeping --------------------------------------------------------------------------------
    def _repair_index(self, entry: IndexEntry, reason: str) -> None:
        name = entry.service.key
        logger.warning(
            "stale index entry",
            extra={"service": name, "repository": self.report.repository, "reason": reason},
        )
        if not self.dry_run:
            self.ports.ledger.index.remove_index_entry(self.repository, entry.service)
        self._result(name, Outcome.SKIPPED, f"{reason}; index entry removed")

    def _result(
        self,
        service: str,
        outcome: Outcome,
        reason: str,
        *,
        config: ServiceConfig | None = None,
        policy: str | None = None,
        previous: str | None = None,
        new: str | None = None,
        changes: list[ContainerChange] | None = None,
    ) -> None:
        result = ServiceResult(
            service=service,
            outcome=outcome,
            reason=reason,
            policy=policy or (config.deploy_text if config else None),
            previous_task_definition=previous,
            new_task_definition=new,
            changes=changes or [],
        )
        self.report.results.append(result)
        log = logger.error if outcome in {Outcome.CONFIG_ERROR, Outcome.ERROR} else logger.info
        log("service decision", extra={"service": service, "outcome": outcome.value, "reason": reason})


def _parse(image: str) -> ImageRef | None:
    try:
        return ImageRef.parse(image)
    except ValueError:
        return None


def _revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _count(report: DeployReport) -> None:
    for outcome in Outcome:
        count = sum(1 for result in report.results if result.outcome == outcome)
        if count:
            metrics.add_metric(
                name=f"Services{outcome.value.title().replace('_', '')}", unit=MetricUnit.Count, value=count
            )
