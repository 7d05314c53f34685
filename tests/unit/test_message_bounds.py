"""Messages are bounded: whatever an event carried, a message fits SQS and chat, and says what it cut."""

from __future__ import annotations

import json

from autopilot.aws.notify_queue import BATCH, BATCH_BYTES, batches
from autopilot.messages import (
    MAX_ACTIONS,
    MAX_FACT_VALUE,
    MAX_FACTS,
    MAX_LINKS,
    MAX_THREAD_KEY,
    MAX_TITLE,
    Action,
    Link,
    Message,
    Severity,
    to_json,
    truncate,
)


def huge_message(number: int = 0) -> Message:
    return Message(
        kind="task.stopped",
        severity=Severity.ERROR,
        service="prod/" + "s" * 255,
        title="T" * 1_000_000,
        facts={f"fact {index}": "v" * 1_000_000 for index in range(60)},
        links=[Link(label="ok", url="https://example.com/"), Link(label="long", url="https://x/" + "a" * 5000)] * 20,
        actions=[Action(label=str(index), value=str(index)) for index in range(20)],
        thread_key=f"{number}#" + "k" * 5000,
    )


def test_a_long_text_keeps_its_start_and_says_how_much_was_cut() -> None:
    cut = truncate("x" * 10_000, 100)
    assert len(cut) == 100
    assert cut.startswith("x" * 60)
    assert cut.endswith(f"[{10_000 - cut.count('x')} more characters]")
    assert truncate("short", 100) == "short"


def test_every_field_of_a_huge_message_is_bounded() -> None:
    message = huge_message()
    assert len(message.title) == MAX_TITLE and "more characters]" in message.title
    assert len(message.facts) == MAX_FACTS
    assert message.facts["…"] == f"{60 - MAX_FACTS + 1} more facts not shown"
    assert all(len(value) <= MAX_FACT_VALUE for value in message.facts.values())
    assert len(message.links) == MAX_LINKS and all(link.label == "ok" for link in message.links)
    assert len(message.actions) == MAX_ACTIONS
    assert message.thread_key is not None and len(message.thread_key) == MAX_THREAD_KEY
    assert len(to_json(message).encode()) < 64 * 1024


def test_thread_keys_stay_distinct_when_cut_and_groups_have_a_fixed_length() -> None:
    first, second = huge_message(1), huge_message(2)
    assert first.thread_key != second.thread_key
    assert first.group != second.group
    assert {len(first.group), len(second.group)} == {64}
    assert first.group == huge_message(1).group  # a thread keeps its group (FIFO order)


def test_a_bounded_message_read_back_from_the_queue_is_the_same_message() -> None:
    message = huge_message()
    again = Message.model_validate({k: v for k, v in json.loads(to_json(message)).items() if k != "schema"})
    assert again == message
    assert again.message_id == message.message_id


def test_batches_hold_at_most_ten_messages_and_256_kib() -> None:
    messages = [huge_message(number) for number in range(25)]
    runs = batches([(message, to_json(message)) for message in messages])
    assert [message for run in runs for message, _ in run] == messages  # order kept, nothing lost
    for run in runs:
        assert len(run) <= BATCH
        assert sum(len(body.encode()) for _, body in run) <= BATCH_BYTES
    assert len(runs) > 3  # 25 messages of ~50 KB cannot go 10 at a time
