"""Events as AWS would send them, generated from the documented samples in events/ and real emulator state."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ECR_PUSH_SAMPLE = "ecr-push-latest.json"
SCHEDULED_SAMPLE = "scheduled-event.json"


def load_event(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        event = json.load(handle)
    if not isinstance(event, dict):
        raise ValueError(f"{path} does not hold one JSON object")
    return event


class EventFactory:
    def __init__(self, events_dir: Path, *, account: str, region: str) -> None:
        self.events_dir = events_dir
        self.account = account
        self.region = region

    def _from_sample(self, name: str) -> dict[str, Any]:
        event = copy.deepcopy(load_event(self.events_dir / name))
        event.update(
            id=str(uuid.uuid4()),
            account=self.account,
            region=self.region,
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        return event

    def ecr_push(self, repository: str, digest: str, tag: str | None) -> dict[str, Any]:
        event = self._from_sample(ECR_PUSH_SAMPLE)
        event["detail"].update({"repository-name": repository, "image-digest": digest})
        if tag is None:
            event["detail"].pop("image-tag", None)
        else:
            event["detail"]["image-tag"] = tag
        return event

    def scheduled(self, rule_name: str = "InventoryFunctionRebuildSchedule") -> dict[str, Any]:
        event = self._from_sample(SCHEDULED_SAMPLE)
        event["resources"] = [f"arn:aws:events:{self.region}:{self.account}:rule/{rule_name}"]
        return event
