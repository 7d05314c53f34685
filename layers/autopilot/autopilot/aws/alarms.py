"""CloudWatch adapter: which services an alarm names through its `autopilot:service` tag."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from autopilot.observability import logger
from autopilot.refs import ServiceRef

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

SERVICE_TAG = "autopilot:service"


class AlarmGateway:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def tagged_services(self, alarm_arn: str) -> list[ServiceRef]:
        """`autopilot:service` = `CLUSTER/SERVICE` (several, space separated); a bad entry is logged and skipped."""
        try:
            tags = self._client.list_tags_for_resource(ResourceARN=alarm_arn).get("Tags", [])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise
        found: list[ServiceRef] = []
        for tag in tags:
            if tag.get("Key") != SERVICE_TAG:
                continue
            for word in str(tag.get("Value", "")).split():
                try:
                    ref = ServiceRef.parse(word)
                except ValueError as error:
                    logger.error("alarm tag names no service", extra={"alarm": alarm_arn, "error": str(error)})
                    continue
                if ref not in found:
                    found.append(ref)
        return found
