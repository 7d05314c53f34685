"""Type-checked by `make typecheck` (mypy --strict): each in-memory fake satisfies the Protocol it stands in
for, so a port that changes breaks the fakes at once instead of letting unit tests drift from the adapters."""

from autopilot.ports import (
    Alarms,
    Capacity,
    DeployLedger,
    Hooks,
    Lifecycles,
    RollbackLedger,
    Services,
    Targets,
    WaitQueue,
)
from tests.fakes import (
    FakeAlarms,
    FakeCapacity,
    FakeHooks,
    FakeLedger,
    FakeLifecycles,
    FakeServices,
    FakeTargets,
    FakeWaitQueue,
)

services: Services = FakeServices()
deploy_ledger: DeployLedger = FakeLedger()
rollback_ledger: RollbackLedger = FakeLedger()
alarms: Alarms = FakeAlarms()
capacity: Capacity = FakeCapacity()
hooks: Hooks = FakeHooks()
targets: Targets = FakeTargets()
wait_queue: WaitQueue = FakeWaitQueue()
lifecycles: Lifecycles = FakeLifecycles()
