"""Faults as AWS and the platform produce them, for the fault sweep (tests/integration/test_fault_sweep.py and
`make bench`).

- `Faults` sees every AWS API call made through boto3 in this process (botocore's `before-call` event, one per
  operation, the SDK's own retries not included) and can make call k fail, or a share of calls fail at random,
  with ThrottlingException as AWS answers once the SDK has given up retrying.
- `until_done` and `drain_queue` replay what the platform does with a failure: Lambda's asynchronous retries
  and a redrive of the failed-events queue re-invoke the handler with the same event; SQS redelivers the
  records a batch reported as failed (or all of them when the invocation failed).
- `ledger_items` and `normalized` turn the ledger into something two runs can be compared by: what differs
  only by when it happened (timestamps, lease owners, TTLs) is left out.
"""

from __future__ import annotations

import importlib
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from autopilot.aws import clients
from autopilot.local.emulator import LOCAL_TABLE
from autopilot.local.pump import run_event_source

INJECTED = "Rate exceeded (injected after the SDK's retries)"
TIME_KEYS = frozenset(
    {
        "at",
        "started_at",
        "updated_at",
        "outcome_at",
        "expiration",
        "lease_until",
        "owner_id",
        "last_at",
        "window_start",
        "ts",
        "generation",
    }
)
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
# what a run generates afresh: event ids, the deployment ids the emulated ECS hands out, EC2 instance ids
GENERATED = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|ecs-svc/\d{19}|i-[0-9a-f]{17}"
    r"|ecs-pause-[0-9a-f]{32}|\b\d{19}\b"  # pause hook ids; service deployment ids in ARNs and titles
)


class NotConvergedError(AssertionError):
    pass


class Faults:
    """Counts AWS calls while armed; fails call number `fail_at` (0-based) once, or each call with `rate`."""

    def __init__(self, *, fail_at: int | None = None, rate: float = 0.0, seed: int = 0) -> None:
        self.fail_at = fail_at
        self.rate = rate
        self.random = random.Random(seed)
        self.calls: list[tuple[str, bool]] = []
        self.armed = False
        self.gate: Callable[[str], None] | None = None  # the race scheduler's turnstile, when one runs

    def install(self) -> Faults:
        """On the default boto3 session: every client created from now on (the handlers' own) is seen."""
        boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session._session.register("before-call", self._before_call)
        clients.clear_caches()
        return self

    def _before_call(self, model: Any, **_: Any) -> None:
        if not self.armed:
            return
        operation = f"{model.service_model.service_name}.{model.name}"
        if self.gate is not None:
            self.gate(operation)
        index = len(self.calls)
        fail = index == self.fail_at or (self.rate > 0 and self.random.random() < self.rate)
        self.calls.append((operation, fail))
        if fail:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": INJECTED}, "ResponseMetadata": {}}, model.name
            )

    @contextmanager
    def active(self) -> Iterator[Faults]:
        self.armed = True
        try:
            yield self
        finally:
            self.armed = False

    def done(self) -> Counter[str]:
        """Calls that reached AWS (the failed ones did not)."""
        return Counter(operation for operation, failed in self.calls if not failed)


class SimulatedClock:
    """Time as the functions see it (`datetime.now` in the modules that decide on time), moved on by the
    platform's retry delays: a lease left behind by a failed release expires before a later retry, as it does
    in AWS where Lambda retries after one and two minutes and a redrive comes later still."""

    def __init__(self, modules: tuple[str, ...] = ("autopilot.rollback", "autopilot.drain")) -> None:
        self.modules = modules
        self.offset = timedelta(0)
        self._saved: dict[str, Any] = {}

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def __enter__(self) -> SimulatedClock:
        clock = self

        class Shifted(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:  # type: ignore[override]
                return datetime.now(tz) + clock.offset

        for name in self.modules:
            module = importlib.import_module(name)
            self._saved[name] = module.datetime
            module.datetime = Shifted  # type: ignore[attr-defined]
        return self

    def __exit__(self, *_: object) -> None:
        for name, original in self._saved.items():
            importlib.import_module(name).datetime = original  # type: ignore[attr-defined]


RETRY_DELAY = timedelta(minutes=2)
_clock: SimulatedClock | None = None


def until_done(invoke: Callable[[], Any], *, attempts: int = 400) -> tuple[Any, int]:
    """Invoke until it succeeds, as Lambda's retries and a redrive of the failed-events queue would (the
    simulated clock, when one runs, moves on by a retry delay between deliveries)."""
    for attempt in range(1, attempts + 1):
        try:
            return invoke(), attempt
        except Exception:
            if _clock is not None:
                _clock.advance(RETRY_DELAY)
            continue
    raise NotConvergedError(f"still failing after {attempts} deliveries")


@contextmanager
def simulated_time() -> Iterator[SimulatedClock]:
    global _clock  # noqa: PLW0603 - one clock for the deliveries of one run
    with SimulatedClock() as clock:
        _clock = clock
        try:
            yield clock
        finally:
            _clock = None


def drain_queue(invoke: Callable[[dict[str, Any]], Any], queue_url: str, *, rounds: int = 200) -> int:
    """What Lambda's SQS event source does, until the queue is empty (failed records are redelivered).
    Its own SQS calls are not the function's: they go through a session the faults do not see."""
    run = run_event_source(
        invoke, queue_url, sqs=boto3.session.Session().client("sqs"), rounds=rounds, redeliver_failures=True
    )
    if not run.drained:
        raise NotConvergedError(f"{queue_url} still has messages after {rounds} rounds")
    return run.invocations


def ledger_items() -> list[dict[str, Any]]:
    deserializer = TypeDeserializer()
    client = boto3.client("dynamodb")
    items = []
    for page in client.get_paginator("scan").paginate(TableName=LOCAL_TABLE, ConsistentRead=True):
        for raw in page.get("Items", []):
            item = {key: deserializer.deserialize(value) for key, value in raw.items()}
            if not str(item["PK"]).startswith("IDEMPOTENCY#"):
                items.append(item)
    return items


def normalized(value: Any, key: str = "") -> Any:
    """A value with what only says *when* taken out: time keys dropped, ISO times in strings replaced,
    the loop guard's list of rollback times reduced to its length."""
    if key == "rollbacks" and isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        return {k: normalized(v, k) for k, v in sorted(value.items()) if k not in TIME_KEYS}
    if isinstance(value, (list, tuple)):
        return [normalized(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(normalized(v) for v in value)
    if isinstance(value, str):
        return GENERATED.sub("<id>", ISO_TIME.sub("<time>", value))
    return value


def ledger_state() -> list[Any]:
    return sorted((normalized(item) for item in ledger_items()), key=lambda item: (item["PK"], item["SK"]))


def queued_messages(queue_url: str) -> list[tuple[str, str]]:
    """(kind, title) of every message waiting on a queue, read without consuming them for long."""
    import json

    sqs = boto3.client("sqs")
    seen: dict[str, tuple[str, str]] = {}
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            body = json.loads(message["Body"])
            seen[message["MessageId"]] = (body["kind"], normalized(body["title"]))
    return sorted(seen.values())


class Turnstile:
    """Lets two invocations (threads) make their AWS calls in a chosen interleaving: `phases` is a list of
    (thread name, number of calls). A thread waits at each call until its phase. A phase hands over only when
    its thread comes back for one call more (so its last call has completed) or is done."""

    def __init__(self, phases: list[tuple[str, int]]) -> None:
        self.phases = [[name, count] for name, count in phases]
        self.finished: set[str] = set()
        self.condition = threading.Condition()

    def _drop_finished(self) -> None:
        while self.phases and self.phases[0][0] in self.finished:
            self.phases.pop(0)

    def __call__(self, operation: str) -> None:
        name = threading.current_thread().name
        with self.condition:
            while True:
                self._drop_finished()
                if self.phases and self.phases[0][0] == name and int(self.phases[0][1]) <= 0:
                    self.phases.pop(0)  # our phase's calls are all complete: hand over
                    self.condition.notify_all()
                    continue
                if not self.phases or self.phases[0][0] == name:
                    break
                self.condition.wait(timeout=5)
            if self.phases:
                self.phases[0][1] = int(self.phases[0][1]) - 1

    def finish(self, name: str) -> None:
        with self.condition:
            self.finished.add(name)
            self.condition.notify_all()
