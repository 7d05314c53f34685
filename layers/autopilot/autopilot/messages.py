"""Channel-neutral messages about what autopilot did, and the one call every function emits them through.

`emit()` puts a message in this invocation's outbox; the handler wiring flushes the outbox to the
notification queue (SQS FIFO, one message group per thread, so a thread's messages stay in order) when the
invocation ends. Without a queue configured, messages are structured log records (`"message":
"notification"`), as they were before the queue existed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from enum import StrEnum

from pydantic import Field, field_validator

from autopilot.model import Model
from autopilot.observability import logger


class Severity(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "success": 0, "warning": 1, "error": 2, "critical": 3}[self.value]


# What one message may carry: chat services cut far shorter (a Slack section holds 3000 characters), and
# SQS takes at most 256 KiB a message and a batch, so a field that came from an event cannot overflow them.
MAX_TITLE = 300
MAX_FACTS = 30
MAX_FACT_NAME = 80
MAX_FACT_VALUE = 1500
MAX_LINKS = 10
MAX_URL = 2048
MAX_ACTIONS = 5
MAX_THREAD_KEY = 200
TRUNCATED = "… [{} more characters]"


def truncate(text: str, limit: int) -> str:
    """`text` if it fits, else its start and a marker saying how much was cut, `limit` characters at most."""
    if len(text) <= limit:
        return text
    for keep in range(limit, -1, -1):  # the marker's length depends on the number it shows
        marker = TRUNCATED.format(len(text) - keep)
        if keep + len(marker) <= limit:
            return text[:keep] + marker
    return text[:limit]


def bounded_key(key: str, limit: int = MAX_THREAD_KEY) -> str:
    """A key that fits `limit` and stays unique: a long key keeps its start and ends in a hash of all of it."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: limit - 33]}#{digest}"


class Link(Model):
    label: str
    url: str


class Action(Model):
    """A button a person can press in chat (handled by the chatops work); `value` says what it does."""

    label: str
    value: str
    style: str | None = None


class Message(Model):
    kind: str
    severity: Severity
    service: str | None = None
    title: str
    facts: dict[str, str] = Field(default_factory=dict)
    links: list[Link] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    thread_key: str | None = None
    routes: list[str] = Field(default_factory=list)
    region: str | None = None

    @field_validator("title")
    @classmethod
    def _short_title(cls, title: str) -> str:
        return truncate(title, MAX_TITLE)

    @field_validator("facts")
    @classmethod
    def _bounded_facts(cls, facts: dict[str, str]) -> dict[str, str]:
        kept = {truncate(name, MAX_FACT_NAME): truncate(value, MAX_FACT_VALUE) for name, value in facts.items()}
        if len(kept) <= MAX_FACTS:
            return kept
        items = list(kept.items())
        return dict(items[: MAX_FACTS - 1]) | {"…": f"{len(items) - MAX_FACTS + 1} more facts not shown"}

    @field_validator("links")
    @classmethod
    def _bounded_links(cls, links: list[Link]) -> list[Link]:  # a cut URL would lead somewhere else: drop it
        return [link for link in links if len(link.url) <= MAX_URL][:MAX_LINKS]

    @field_validator("actions")
    @classmethod
    def _bounded_actions(cls, actions: list[Action]) -> list[Action]:
        return actions[:MAX_ACTIONS]

    @field_validator("thread_key")
    @classmethod
    def _bounded_thread_key(cls, key: str | None) -> str | None:
        return None if key is None else bounded_key(key)

    @property
    def message_id(self) -> str:
        """Deterministic: the same message emitted again (a retried invocation) is the same message."""
        body = self.model_dump_json(exclude={"links", "actions"})
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    @property
    def group(self) -> str:
        """The FIFO message group: a hash of the thread, so any thread key fits SQS's 128 characters."""
        return hashlib.sha256((self.thread_key or self.service or "autopilot").encode()).hexdigest()[:64]

    def one_line(self) -> str:
        return f"[{self.severity}] {self.title}"


SCHEMA_VERSION = 1
_local = threading.local()  # one outbox per invocation (Lambda runs one per process; the CLI and tests may not)


def _outbox() -> list[Message]:
    if not hasattr(_local, "outbox"):
        _local.outbox = []
    outbox: list[Message] = _local.outbox
    return outbox


def emit(message: Message) -> None:
    """Hand a message to whoever tells people: queued for the notification function at the end of this
    invocation, and logged with a stable schema either way."""
    _outbox().append(message)
    log = logger.error if message.severity in {Severity.ERROR, Severity.CRITICAL} else logger.info
    log(
        "notification",
        extra={
            "notification": {
                "schema": SCHEMA_VERSION,
                "id": message.message_id,
                **message.model_dump(mode="json", exclude={"links", "actions"}),
            }
        },
    )


def take_outbox() -> list[Message]:
    """The messages emitted since the last call, oldest first."""
    outbox = _outbox()
    messages = list(outbox)
    outbox.clear()
    return messages


def to_json(message: Message) -> str:
    return json.dumps({"schema": SCHEMA_VERSION, **message.model_dump(mode="json")})
