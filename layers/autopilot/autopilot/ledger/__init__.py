"""The ledger: one DynamoDB table, one small repository per concern. Key prefixes live in `keys` only;
callers see typed records (`records`).

    ledger.index          the repository → services index
    ledger.services       each service's state and the deploy decisions written before UpdateService
    ledger.deployments    our deployments and ECS's, their outcomes, a service's history
    ledger.rollbacks      one claim (lease) per bad revision: every trigger of an incident shares it
    ledger.lifecycles     one claim per terminate lifecycle action
    ledger.stops          stopped-task counters (crash loops)
    ledger.notifications  chat threads and deliveries
    ledger.requests       Slack requests already taken (replay cache)
    ledger.approvals      pushes held for a person's decision (autopilot:approval=required)
    ledger.fanouts        pushes handed to work items, and how far they got
    ledger.pushes         pushes DeployFunction took (the reconciler deploys one it finds missing)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autopilot.ledger.actions import ActionRepository
from autopilot.ledger.approvals import ApprovalRepository
from autopilot.ledger.deployments import DeploymentRepository
from autopilot.ledger.fanouts import FanOutRepository
from autopilot.ledger.index import IndexRepository
from autopilot.ledger.keys import service_pk
from autopilot.ledger.leases import Leases, LifecycleClaims, RollbackClaims
from autopilot.ledger.notifications import NotificationRecords
from autopilot.ledger.pushes import TakenPushes
from autopilot.ledger.records import (
    Approval,
    Claim,
    ClaimState,
    DeployedImage,
    DeploymentChange,
    DeploymentRecord,
    DeployRow,
    EcsDeploymentRow,
    FanOutProgress,
    HistoryRow,
    IndexEntry,
    LifecycleRecord,
    Recorded,
    RecordedAs,
    RollbackClaim,
    RollbackClaimRow,
    ServiceState,
    StatusStep,
    Thread,
)
from autopilot.ledger.requests import SeenRequests
from autopilot.ledger.services import ServiceStateRepository
from autopilot.ledger.stops import StopCounters
from autopilot.ledger.table import TTL_ATTRIBUTE, LedgerTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "TTL_ATTRIBUTE",
    "Approval",
    "Claim",
    "ClaimState",
    "DeployRow",
    "DeployedImage",
    "DeploymentChange",
    "DeploymentRecord",
    "EcsDeploymentRow",
    "FanOutProgress",
    "HistoryRow",
    "IndexEntry",
    "Ledger",
    "LifecycleRecord",
    "Recorded",
    "RecordedAs",
    "RollbackClaim",
    "RollbackClaimRow",
    "ServiceState",
    "StatusStep",
    "Thread",
    "service_pk",
]


class Ledger:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.table = table
        shared = LedgerTable(client, table)
        leases = Leases(shared)
        self.index = IndexRepository(shared)
        self.services = ServiceStateRepository(shared)
        self.deployments = DeploymentRepository(shared)
        self.rollbacks = RollbackClaims(leases, self.deployments)
        self.lifecycles = LifecycleClaims(leases)
        self.stops = StopCounters(shared)
        self.notifications = NotificationRecords(shared)
        self.requests = SeenRequests(shared)
        self.approvals = ApprovalRepository(shared)
        self.actions = ActionRepository(shared)
        self.fanouts = FanOutRepository(shared)
        self.pushes = TakenPushes(shared)
