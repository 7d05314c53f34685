"""Events as AWS would send them, generated from the documented samples in events/ and real emulator state."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ECR_PUSH_SAMPLE = "ecr-push-latest.json"
SCHEDULED_SAMPLE = "scheduled-event.json"


def image_manifest(label: str) -> str:
    """A small, valid Docker image manifest unique to `label` (moto's ECR derives the digest from its layers)."""
    config = hashlib.sha256(f"config {label}".encode()).hexdigest()
    layer = hashlib.sha256(f"layer {label}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1470,
                "digest": f"sha256:{config}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370628,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


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

    def alarm(self, alarm_name: str, cluster: str, service: str, *, at: datetime | None = None) -> dict[str, Any]:
        """A metric alarm on the service's ECS metrics going from OK to ALARM now (or `at`)."""
        moment = at or datetime.now(UTC)
        event = self._from_sample("alarm-ecs-service-metric.json")
        event["time"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        event["resources"] = [f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{alarm_name}"]
        detail = event["detail"]
        detail["alarmName"] = alarm_name
        detail["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] = {
            "ClusterName": cluster,
            "ServiceName": service,
        }
        detail["state"]["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        return event

    def from_sample(self, name: str, **detail: Any) -> dict[str, Any]:
        """A documented sample with this account, region, a fresh id and time, and `detail` fields replaced."""
        event = self._from_sample(name)
        event["detail"].update(detail)
        return event

    def scheduled(self, rule_name: str = "InventoryFunctionRebuildSchedule") -> dict[str, Any]:
        event = self._from_sample(SCHEDULED_SAMPLE)
        event["resources"] = [f"arn:aws:events:{self.region}:{self.account}:rule/{rule_name}"]
        return event
