"""ECS's API rate limits, locally: token buckets per action category, refilled on a clock the caller gives (the
emulated ECS's simulated clock, so a long fan-out runs in seconds of wall time), a request past its bucket
refused with ThrottlingException as ECS refuses it. Off unless `strict.limit(RateLimits(clock))` turns it on.

The numbers are ECS's published throttling quotas (Amazon ECS Developer Guide, "Request throttling for the
Amazon ECS API": bucket maximum capacity = burst, refill rate = sustained per second), per account and Region;
every action of a category draws from one bucket. Actions the table does not list are not limited here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# category: (burst, sustained per second, actions)
ECS_QUOTAS: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "task-definition-modify": (20, 1, ("RegisterTaskDefinition", "DeregisterTaskDefinition")),
    "service-modify": (50, 5, ("CreateService", "UpdateService", "DeleteService")),
    "service-read": (100, 20, ("DescribeServices", "ListServices")),
    "task-definition-read": (50, 20, ("DescribeTaskDefinition", "ListTaskDefinitions", "ListTaskDefinitionFamilies")),
    "service-deployment": (50, 20, ("ListServiceDeployments", "DescribeServiceDeployments")),
    "tag-modify": (20, 10, ("TagResource", "UntagResource")),
    "cluster-read": (50, 20, ("DescribeClusters", "ListClusters")),
}
_CATEGORY = {action: category for category, (_, _, actions) in ECS_QUOTAS.items() for action in actions}


@dataclass
class Bucket:
    capacity: float
    refill: float  # tokens per second
    tokens: float
    at: float  # when `tokens` was last brought up to date

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.at) * self.refill)
        self.at = max(self.at, now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class RateLimits:
    clock: Callable[[], float]  # seconds; the emulated ECS's clock in tests and benchmarks
    buckets: dict[str, Bucket] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # per action: requests that got through
    throttled: Counter[str] = field(default_factory=Counter)  # per action: requests refused

    def admit(self, service: str, action: str) -> bool:
        """Whether ECS takes this request now (one token of its category's bucket), else it is throttled."""
        category = _CATEGORY.get(action) if service == "ecs" else None
        if category is None:
            return True
        now = self.clock()
        bucket = self.buckets.get(category)
        if bucket is None:
            burst, sustained, _ = ECS_QUOTAS[category]
            bucket = self.buckets[category] = Bucket(burst, sustained, burst, now)
        if bucket.take(now):
            self.calls[action] += 1
            return True
        self.throttled[action] += 1
        return False
