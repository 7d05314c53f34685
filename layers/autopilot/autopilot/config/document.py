"""The configuration document: one JSON value in SSM Parameter Store (DESIGN §2)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigDocumentError(ValueError):
    """The configuration document exists but cannot be used; the message says why."""


class RouteConfig(BaseModel):
    """A notification route; delivery arrives with the notification work."""

    model_config = ConfigDict(extra="allow")

    type: str
    secret: str | None = None
    min_severity: str = "info"
    kinds: list[str] = Field(default_factory=list)


class ConfigDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    policies: dict[str, str] = Field(default_factory=dict)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str, *, source: str) -> ConfigDocument:
        try:
            return cls.model_validate_json(text)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in item['loc']) or '(document)'}: {item['msg']}" for item in error.errors()
            )
            raise ConfigDocumentError(f"configuration document {source} is invalid: {problems}") from error
