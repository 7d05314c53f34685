"""The repository → services index: rebuilt in full on a schedule, refreshed per service from CloudTrail.

A service is indexed under every repository its task definition's containers use, when it carries an
`autopilot:deploy` tag (any value: a wrong value must still reach the push, which reports it).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from autopilot.aws.ecs import EcsGateway, ServiceSnapshot
from autopilot.config.service_tags import DEPLOY
from autopilot.ledger import Ledger
from autopilot.model import Model
from autopilot.observability import logger, metrics
from autopilot.refs import ServiceRef
from autopilot.taskdef import repositories_used


class InventoryReport(Model):
    mode: str
    clusters: int = 0
    services_seen: int = 0
    services_indexed: int = 0
    services_removed: list[str] = Field(default_factory=list)
    writes: int = 0


def _repositories(ecs: EcsGateway, snapshot: ServiceSnapshot, cache: dict[str, set[str] | None]) -> set[str] | None:
    arn = snapshot.task_definition
    if arn not in cache:
        task_definition = ecs.describe_task_definition(arn)
        cache[arn] = None if task_definition is None else {r.key for r in repositories_used(task_definition.body)}
    return cache[arn]


def rebuild_index(ecs: EcsGateway, ledger: Ledger) -> InventoryReport:
    report = InventoryReport(mode="full")
    desired: dict[ServiceRef, tuple[str, str, set[str], str]] = {}
    cache: dict[str, set[str] | None] = {}
    for cluster_arn in ecs.list_cluster_arns():
        report.clusters += 1
        service_arns = ecs.list_service_arns(cluster_arn)
        report.services_seen += len(service_arns)
        for snapshot in ecs.describe_service_arns(cluster_arn, service_arns):
            if DEPLOY not in snapshot.tags:
                continue
            repos = _repositories(ecs, snapshot, cache)
            if repos:
                desired[snapshot.ref] = (snapshot.arn, snapshot.cluster_arn, repos, snapshot.task_definition)
    previous = ledger.index.indexed()
    removed = {
        ref: set(indexed.repos) - (desired[ref][2] if ref in desired else set()) for ref, indexed in previous.items()
    }
    removed = {ref: repos for ref, repos in removed.items() if repos or ref not in desired}
    report.writes = ledger.index.apply_index(desired, removed, previous)
    report.services_indexed = len(desired)
    report.services_removed = sorted(ref.key for ref in previous if ref not in desired)
    metrics.add_metric(name="ServicesIndexed", unit=MetricUnit.Count, value=report.services_indexed)
    logger.info("index rebuilt", extra=report.model_dump())
    return report


def refresh_service(ref: ServiceRef, ecs: EcsGateway, ledger: Ledger) -> InventoryReport:
    report = InventoryReport(mode="service", services_seen=1)
    snapshot = ecs.describe_services([ref]).get(ref)
    indexed = ledger.index.indexed_one(ref)
    previous = set(indexed.repos)
    repos: set[str] | None = None
    if snapshot is not None and DEPLOY in snapshot.tags:
        repos = _repositories(ecs, snapshot, {})
    if snapshot is None or not repos:
        if previous:
            report.writes = ledger.index.apply_index({}, {ref: previous}, {ref: indexed})
            report.services_removed = [ref.key]
        metrics.add_metric(name="IndexRefreshes", unit=MetricUnit.Count, value=1)
        logger.info("service not indexed", extra={"service": ref.key, "removed": bool(previous)})
        return report
    put = {ref: (snapshot.arn, snapshot.cluster_arn, repos, snapshot.task_definition)}
    removed = {ref: previous - repos} if previous - repos else {}
    report.writes = ledger.index.apply_index(put, removed, {ref: indexed})
    report.services_indexed = 1
    metrics.add_metric(name="IndexRefreshes", unit=MetricUnit.Count, value=1)
    logger.info("service indexed", extra={"service": ref.key, "repositories": sorted(repos)})
    return report
