"""A simulated clock for the local AWS: the SDK's retry backoff sleeps on it, SQS's message delays and
visibility timeouts pass on it, and ECS's rate limits (`ratelimits`) refill on it, so minutes of pacing run
in seconds of wall time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.endpoint
import moto.sqs.models


class SimulatedClock:
    def __init__(self, start: float | None = None) -> None:
        self.epoch = time.time() if start is None else start
        self.elapsed = 0.0

    def sleep(self, seconds: float) -> None:
        self.elapsed += max(0.0, seconds)

    def time(self) -> float:
        return self.epoch + self.elapsed


@contextmanager
def simulated(clock: SimulatedClock) -> Iterator[SimulatedClock]:
    """Within the block botocore's backoff sleeps advance `clock` (no wall time passes) and the emulated SQS
    tells time by it."""
    endpoint: Any = botocore.endpoint
    sqs: Any = moto.sqs.models
    endpoint_time = endpoint.time
    sqs_millis, sqs_seconds = sqs.unix_time_millis, sqs.unix_time

    class BackoffTime:
        sleep = staticmethod(clock.sleep)
        time = staticmethod(endpoint_time.time)

    endpoint.time = BackoffTime
    sqs.unix_time_millis = lambda *_: clock.time() * 1000.0
    sqs.unix_time = lambda *_: clock.time()
    try:
        yield clock
    finally:
        endpoint.time = endpoint_time
        sqs.unix_time_millis, sqs.unix_time = sqs_millis, sqs_seconds
