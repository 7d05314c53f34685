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

from pydantic import BaseModel, Field

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


class Link(BaseModel):
    label: str
    url: str


class Action(BaseModel):
    """A button a person can press in chat (handled by the chatops work); `value` says what it does."""

    label: str
    value: str
    style: str | None = None


class Message(BaseModel):
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

    @property
    def message_id(self) -> str:
        """Deterministic: the same message emitted again (a retried invocation) is the same message."""
        body = self.model_dump_json(exclude={"links", "actions"})
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    @property
    def group(self) -> str:
        return (self.thread_key or self.service or "autopilot")[:128]

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
