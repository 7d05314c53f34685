"""Channel-neutral messages about what autopilot did.

Until the notification queue lands, every message is one structured log record with a stable schema
(`"message": "notification"`, `"notification": {...}`), so it can be found and counted in CloudWatch Logs.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from autopilot.observability import logger


class Severity(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Message(BaseModel):
    kind: str
    severity: Severity
    service: str | None = None
    title: str
    facts: dict[str, str] = Field(default_factory=dict)
    thread_key: str | None = None

    def one_line(self) -> str:
        return f"[{self.severity}] {self.title}"


SCHEMA_VERSION = 1


def emit(message: Message) -> None:
    """Hand a message to whoever tells people; today a structured log record."""
    log = logger.error if message.severity in {Severity.ERROR, Severity.CRITICAL} else logger.info
    log("notification", extra={"notification": {"schema": SCHEMA_VERSION, **message.model_dump(mode="json")}})
