"""Work items of a push to many services: grouping by family, pacing under ECS's rate, the living message."""

from __future__ import annotations

from autopilot.events import EcrImageActionEvent
from autopilot.fanout import BURST, delays, progress_message, work_items
from autopilot.ledger import FanOutProgress, IndexEntry
from autopilot.local.ratelimits import Bucket
from autopilot.refs import ServiceRef
from tests.conftest import sample


def entry(key: str, family: str = "") -> IndexEntry:
    return IndexEntry(service=ServiceRef.parse(key), service_arn="", cluster_arn="", family=family)


def test_services_of_one_family_share_one_work_item_and_unknown_families_are_their_own() -> None:
    push = EcrImageActionEvent.model_validate(sample("ecr-push-latest.json"))
    items = work_items(push, [entry("b/api", "api"), entry("a/api", "api"), entry("a/web", "web"), entry("a/old")])
    assert [(item.family, [e.service.key for e in item.services]) for item in items] == [
        ("api", ["a/api", "b/api"]),
        ("service:a/old", ["a/old"]),
        ("web", ["a/web"]),
    ]
    assert all(item.push["id"] == push.id for item in items)


def test_delays_release_the_burst_at_once_then_ten_every_ten_seconds() -> None:
    waits = delays(55)
    assert waits[:20] == [0] * 20
    assert waits[20:30] == [10] * 10 and waits[30:40] == [20] * 10 and waits[50:] == [40] * 5
    assert delays(500)[-1] == 480  # the lower bound: (500 - 20) registrations at 1 per second
    assert max(delays(2000)) == 900  # SQS's longest delay


def test_registrations_at_those_delays_are_never_throttled_by_ecs_bucket() -> None:
    bucket = Bucket(capacity=BURST, refill=1.0, tokens=BURST, at=0.0)
    assert all(bucket.take(float(at)) for at in delays(300))


def test_a_registration_earlier_than_the_delays_would_be_throttled() -> None:
    bucket = Bucket(capacity=BURST, refill=1.0, tokens=BURST, at=0.0)
    assert not all(bucket.take(float(max(0, at - 1))) for at in delays(300))


def test_the_living_message_counts_and_ends_with_done() -> None:
    progress = FanOutProgress(
        event_id="e1",
        repository="123456789012.dkr.ecr.us-west-2.amazonaws.com/web-base",
        tag="1.8.0",
        services=300,
        work_items=300,
        started_at=0,
        deployed=137,
        failed=2,
        done=139,
    )
    message = progress_message(progress)
    assert message.title == "web-base 1.8.0: 137/300 deployed, 2 failed, 161 waiting"
    assert message.thread_key == "push#e1"
    done = progress_message(progress.model_copy(update={"deployed": 290, "skipped": 8, "done": 300}))
    assert done.title == "web-base 1.8.0: done, 290/300 deployed, 2 failed, 8 unchanged or skipped"
    assert done.severity == "warning"


def test_a_family_of_many_services_is_split_so_a_batch_of_items_fits_sqs() -> None:
    push = EcrImageActionEvent.model_validate(sample("ecr-push-latest.json"))
    items = work_items(push, [entry(f"c/s{index:03d}", "shared") for index in range(120)])
    assert [(item.family, len(item.services)) for item in items] == [("shared", 50), ("shared#2", 50), ("shared#3", 20)]
    assert sum(len(item.model_dump_json()) for item in items[:10]) < 256 * 1024
