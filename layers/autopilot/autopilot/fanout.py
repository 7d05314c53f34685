"""A push to many services, as work items: one per task-definition family, on the fan-out queue, paced under
ECS's RegisterTaskDefinition rate (a burst of 20, then 1 per second, per account and Region).

The push decides which services take the image as before (the index); `QueueFanOut.hand_off` puts one work
item per family on the queue, ten at a time with the same delay: the first two tens at once (the burst), then
ten every ten seconds (the sustained rate), so that a poller of Lambda's SQS event source receives them as one
batch. DeployFunction takes a batch (`deploy_work_items`): every service of the batch's work items is deployed
as a push would deploy it (`deploy.deploy_entries`: the shared reads batched, every guard); a work item whose
services hit an error a retry may fix (throttling, 5xx) is handed back to the queue (a batch item failure)
and comes back after a back-off (30 s, doubling with each receive, 10 minutes at most); every other outcome
is counted once in the push's progress row and told in one living message per push ("shop 1.8.0: 137/300
deployed, 2 failed, 161 waiting").

A family's services share one work item: one new revision, never two concurrent registrations of a family
from one push. Delays stop at SQS's 900 seconds: past 920 families a push's tail arrives early and paces
itself by ECS's throttling (the SDK's backoff, then the queue).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, ValidationError

from autopilot.deploy import DeployPorts, Outcome, deploy_entries
from autopilot.events import EcrImageActionEvent
from autopilot.ledger import FanOutProgress, IndexEntry
from autopilot.messages import Message, Severity, emit
from autopilot.model import Model
from autopilot.observability import logger, metrics
from autopilot.refs import ServiceRef

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from autopilot.ledger.fanouts import FanOutRepository

INLINE_LIMIT = 20  # a push to at most this many services is deployed where it is taken (today's latency)
BURST = 20  # RegisterTaskDefinition: burst and sustained rate (ECS's published request throttling)
PER_SECOND = 1.0
BATCH = 10  # SQS SendMessageBatch, and Lambda's batch size for the fan-out queue
FAMILY_SERVICES = 50  # services in one work item at most: ten items stay far under SQS's 256 KiB a batch
MAX_DELAY = 900  # SQS DelaySeconds at most
FAILED_OUTCOMES = {Outcome.ERROR, Outcome.CONFIG_ERROR}
BACK_OFF_FIRST, BACK_OFF_MAX = 30, 600  # seconds a work item handed back waits: 30, 60, 120, … 600


class WorkItem(Model):
    """One task-definition family's services, to take one push."""

    push: dict[str, Any]
    family: str
    services: list[IndexEntry] = Field(min_length=1)


def work_items(push: EcrImageActionEvent, entries: Iterable[IndexEntry]) -> list[WorkItem]:
    """One work item per family (a service indexed without one is its own; a family of more than
    FAMILY_SERVICES services is split, its later parts reusing the revision the first registered), ordered by
    cluster and family: the services of one batch mostly share a cluster (one DescribeServices for ten)."""
    families: dict[str, list[IndexEntry]] = defaultdict(list)
    for entry in entries:
        families[entry.family or f"service:{entry.service.key}"].append(entry)
    raw = push.model_dump(mode="json", by_alias=True)
    ordered = sorted(families.items(), key=lambda item: (min(e.service.key for e in item[1]), item[0]))
    items = []
    for family, members in ordered:
        services = sorted(members, key=lambda e: e.service.key)
        for part, start in enumerate(range(0, len(services), FAMILY_SERVICES)):
            name = family if part == 0 else f"{family}#{part + 1}"
            items.append(WorkItem(push=raw, family=name, services=services[start : start + FAMILY_SERVICES]))
    return items


def delays(count: int, *, burst: int = BURST, per_second: float = PER_SECOND, batch: int = BATCH) -> list[int]:
    """Seconds each of `count` work items waits: whole batches, the first within the burst at once, then one
    batch as soon as the rate has refilled a batch's registrations."""
    result = []
    for index in range(count):
        first_of_next = (index // batch + 1) * batch
        result.append(min(MAX_DELAY, max(0, int(-(-(first_of_next - burst) // per_second)))))
    return result


def progress_message(progress: FanOutProgress) -> Message:
    """The push's one living message (same thread: updated in place as work items finish)."""
    name = f"{progress.repository.rsplit('/', 1)[-1]} {progress.tag}"
    counts = f"{progress.deployed}/{progress.services} deployed, {progress.failed} failed"
    if progress.skipped:
        counts += f", {progress.skipped} unchanged or skipped"
    waiting = progress.waiting
    title = f"{name}: {counts}, {waiting} waiting" if waiting else f"{name}: done, {counts}"
    severity = Severity.INFO if waiting else (Severity.WARNING if progress.failed else Severity.SUCCESS)
    return Message(
        kind="deploy.fanout",
        severity=severity,
        title=title,
        facts={
            "image": f"{progress.repository}:{progress.tag}",
            "work items": f"{progress.done}/{progress.work_items} families done",
            "failed services": "each told in its own message" if progress.failed else "-",
        },
        thread_key=f"push#{progress.event_id}",
        region=progress.region,
    )


@dataclass
class QueueFanOut:
    """DeployPorts.fan_out: work items on the fan-out queue (SQS standard queue, per-message delays)."""

    sqs: SQSClient
    queue_url: str
    progress: FanOutRepository
    clock: Callable[[], float]
    inline_limit: int = INLINE_LIMIT

    def hand_off(self, push: EcrImageActionEvent, entries: list[IndexEntry]) -> int:
        items = work_items(push, entries)
        started = FanOutProgress(
            event_id=push.id,
            repository=push.repository.key,
            tag=push.tag or "",
            region=push.region,
            services=len(entries),
            work_items=len(items),
            started_at=int(self.clock()),
        )
        self.progress.start(started)
        waits = delays(len(items))
        for start in range(0, len(items), BATCH):
            chunk = list(enumerate(items[start : start + BATCH], start))
            response = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": item.model_dump_json(), "DelaySeconds": waits[index]}
                    for index, item in chunk
                ],
            )
            if response.get("Failed"):  # the push fails and is retried: a work item sent twice is deployed once
                raise RuntimeError(f"{len(response['Failed'])} work items not queued: {response['Failed'][0]}")
        emit(progress_message(self.progress.get(push.id) or started))
        return len(items)

    def back_off(self, taken: Taken) -> None:
        """A work item handed back comes back after 30 s, doubling with each receive up to 10 minutes (not the
        queue's 12-minute visibility timeout); if this call fails, it comes back after that timeout."""
        seconds = min(BACK_OFF_MAX, BACK_OFF_FIRST * 2 ** max(0, taken.receives - 1))
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=taken.receipt_handle, VisibilityTimeout=seconds
            )
        except (ClientError, BotoCoreError) as error:
            logger.warning("work item back-off not set", extra={"record": taken.record_id, "error": str(error)})


@dataclass(frozen=True)
class Taken:
    """A work item out of an SQS record: the record's id (for a batch item failure), its receipt handle and how
    often it was received (for the back-off)."""

    record_id: str
    item: WorkItem
    receipt_handle: str = ""
    receives: int = 1


def parse_records(records: Iterable[Mapping[str, Any]]) -> list[Taken]:
    """The batch's work items; a record that is not one is logged, counted (RejectedEvents) and dropped (it
    would never parse)."""
    taken = []
    for record in records:
        try:
            item = WorkItem.model_validate(json.loads(record["body"]))
            receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
            taken.append(Taken(str(record["messageId"]), item, str(record.get("receiptHandle", "")), receives))
        except (KeyError, ValueError, ValidationError) as error:
            where = str(record.get("messageId"))
            logger.error("malformed work item dropped", extra={"record": where, "error": str(error)[:500]})
            metrics.add_metric(name="RejectedEvents", unit=MetricUnit.Count, value=1)
    return taken


def deploy_work_items(
    taken: list[Taken],
    ports: DeployPorts,
    progress: FanOutRepository,
    flush: Callable[[], int] = lambda: 0,
    back_off: Callable[[Taken], None] = lambda _: None,
) -> list[Taken]:
    """Deploy a batch of work items (those of one push together); returns those to hand back to the queue.
    The living message goes out as soon as the progress row says it (`flush`): two invocations at once send
    their counts in the order they counted them, but for the time between the two calls."""
    by_push: dict[str, list[Taken]] = defaultdict(list)
    for one in taken:
        by_push[str(one.item.push.get("id"))].append(one)
    failed: list[Taken] = []
    for group in by_push.values():
        push = EcrImageActionEvent.model_validate(group[0].item.push)
        report, retry = deploy_entries(push, ports, [entry for one in group for entry in one.item.services])
        outcomes = {ServiceRef.parse(result.service): result.outcome for result in report.results}
        finished: dict[str, dict[str, int]] = {}
        for one in group:
            refs = [entry.service for entry in one.item.services]
            if any(ref in retry for ref in refs):
                back_off(one)
                failed.append(one)
                continue
            counts = Counter(_count_as(outcomes.get(ref)) for ref in refs)
            finished[one.item.family] = dict(counts)
        for ref, error in retry.items():
            logger.warning("work item handed back to the queue", extra={"service": ref.key, "error": error})
        if finished:
            now = progress.finish(push.id, finished)
            if now is not None:
                emit(progress_message(now))
                flush()
    return failed


def _count_as(outcome: Outcome | None) -> str:
    if outcome == Outcome.DEPLOYED:
        return "deployed"
    return "failed" if outcome in FAILED_OUTCOMES else "skipped"
