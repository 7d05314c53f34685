"""Settings of a running function, validated once from the environment (logic never reads os.environ)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import ConfigDict, Field

from autopilot.model import Model


class Settings(Model):
    model_config = ConfigDict(frozen=True)

    ledger_table: str = Field(min_length=3)
    config_parameter: str = "/ecs-autopilot/config"
    config_max_age_seconds: int = 60
    max_auto_rollbacks_per_hour: int = Field(default=2, ge=0)
    notify_queue_url: str | None = None
    drain_on_rebalance: bool = False
    drain_wait_queue_url: str | None = None
    drain_max_wait_minutes: int = Field(default=60, ge=1)
    drain_check_seconds: int = Field(default=60, ge=0, le=900)
    notify_dead_letter_url: str | None = None
    local_endpoints: bool = False  # routes may reach the loopback chat sink (local up, demo, tests only)
    observe: bool = False  # stack parameter Mode=observe: every decision recorded and told, nothing changed
    approval_hours: int = Field(default=24, ge=1, le=336)  # stack parameter ApprovalHours
    chatops_secret_name: str = "ecs-autopilot-chatops/slack-app"  # noqa: S105 - its name (ChatOpsSecretName)
    chatops_queue_url: str | None = None  # the ChatOps function's own work queue
    fanout_queue_url: str | None = None  # DeployFunction's work items (a push to many services)
    fanout_inline_limit: int = Field(default=20, ge=1)  # a push to more services than this is handed off


@lru_cache
def get_settings() -> Settings:
    return Settings(
        ledger_table=os.environ.get("LEDGER_TABLE_NAME", ""),
        config_parameter=os.environ.get("CONFIG_PARAMETER_NAME", "/ecs-autopilot/config"),
        config_max_age_seconds=int(os.environ.get("CONFIG_MAX_AGE_SECONDS", "60")),
        max_auto_rollbacks_per_hour=int(os.environ.get("MAX_AUTO_ROLLBACKS_PER_HOUR", "2")),
        notify_queue_url=os.environ.get("NOTIFY_QUEUE_URL") or None,
        drain_on_rebalance=os.environ.get("DRAIN_ON_REBALANCE", "false").lower() == "true",
        drain_wait_queue_url=os.environ.get("DRAIN_WAIT_QUEUE_URL") or None,
        drain_max_wait_minutes=int(os.environ.get("DRAIN_MAX_WAIT_MINUTES", "60")),
        drain_check_seconds=int(os.environ.get("DRAIN_CHECK_SECONDS", "60")),
        notify_dead_letter_url=os.environ.get("NOTIFY_DLQ_URL") or None,
        local_endpoints=os.environ.get("AUTOPILOT_LOCAL_ENDPOINTS", "false").lower() == "true",
        observe=os.environ.get("AUTOPILOT_MODE", "act").lower() == "observe",
        approval_hours=int(os.environ.get("APPROVAL_HOURS", "24")),
        chatops_secret_name=os.environ.get("CHATOPS_SECRET_NAME", "ecs-autopilot-chatops/slack-app"),
        chatops_queue_url=os.environ.get("CHATOPS_QUEUE_URL") or None,
        fanout_queue_url=os.environ.get("FANOUT_QUEUE_URL") or None,
        fanout_inline_limit=int(os.environ.get("FANOUT_INLINE_LIMIT", "20")),
    )
