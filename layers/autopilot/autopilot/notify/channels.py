"""Posting to chat: what every channel shares (errors, Retry-After, signatures) and SNS for email.

HTTP webhooks (httpx) are in `notify.webhook`, Slack's Web API (slack_sdk) in `notify.slack_bot`: each loads
when a route first needs it. Every HTTP call has a timeout; 429 waits for Retry-After; 5xx, timeouts and
connection errors back off and retry; any other 4xx is permanent. Errors name the route and the status,
never the URL or a token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

TIMEOUT_SECONDS = 5.0
SIGNATURE_HEADER = "X-Autopilot-Signature"
TIMESTAMP_HEADER = "X-Autopilot-Timestamp"
PERMANENT_SLACK_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "no_permission",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "missing_scope",
        "message_not_found",
        "cant_update_message",
    }
)


class DeliveryError(Exception):
    """A delivery that failed; `permanent` when retrying cannot help. The text holds no secret."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def retry_after_seconds(value: str | None, default: float) -> float:
    """Retry-After as seconds or as an HTTP date."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return default


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """What a receiver computes to check `X-Autopilot-Signature`."""
    return "v1=" + hmac.new(signing_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def publish_email(sns: SNSClient, route: str, topic_arn: str, subject: str, body: str) -> None:
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=body)
    except sns.exceptions.NotFoundException:
        raise DeliveryError(f"route {route}: SNS topic not found", permanent=True) from None
