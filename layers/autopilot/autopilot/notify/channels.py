"""Posting to chat: HTTP webhooks (httpx), Slack's Web API (slack_sdk) and SNS for email.

Every HTTP call has a timeout; 429 waits for Retry-After; 5xx, timeouts and connection errors back off and
retry; any other 4xx is permanent. Errors name the route and the status, never the URL or a token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from autopilot.observability import logger

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


@dataclass
class HttpPoster:
    client: httpx.Client
    max_attempts: int = 4
    max_wait_seconds: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def post(self, route: str, url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        last = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            wait = min(self.max_wait_seconds, 0.5 * 2 ** (attempt - 1))
            try:
                response = self.client.post(
                    url, content=body, headers={"Content-Type": "application/json", **(headers or {})}
                )
            except (httpx.InvalidURL, httpx.UnsupportedProtocol):
                raise DeliveryError(f"route {route}: its URL is not a valid https URL", permanent=True) from None
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as error:
                last = f"connection failed ({type(error).__name__})"
            else:
                if response.is_success:
                    return response
                last = f"HTTP {response.status_code}"
                if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
                    wait = min(self.max_wait_seconds, retry_after_seconds(response.headers.get("Retry-After"), wait))
                elif response.status_code < httpx.codes.INTERNAL_SERVER_ERROR:
                    raise DeliveryError(f"route {route}: {last}, not retried", permanent=True)
            logger.warning("delivery attempt failed", extra={"route": route, "attempt": attempt, "error": last})
            if attempt < self.max_attempts:
                self.sleep(wait)
        raise DeliveryError(f"route {route}: {last} after {self.max_attempts} attempts", permanent=False)

    def post_json(self, route: str, url: str, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.post(route, url, json.dumps(payload).encode(), headers)

    def post_signed(self, route: str, url: str, payload: Any, signing_secret: str) -> httpx.Response:
        """HMAC-SHA256 over `<timestamp>.<body>`, sent as `X-Autopilot-Signature: v1=<hex>` with the timestamp."""
        body = json.dumps(payload).encode()
        timestamp = str(int(time.time()))
        digest = hmac.new(signing_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return self.post(route, url, body, {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"v1={digest}"})


def signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """What a receiver computes to check `X-Autopilot-Signature`."""
    return "v1=" + hmac.new(signing_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class SlackBot:
    """chat.postMessage and chat.update through slack_sdk, with its rate-limit and connection retry handlers."""

    def __init__(self, route: str, token: str, api_url: str | None = None) -> None:
        self.route = route
        kwargs: dict[str, Any] = {"base_url": api_url} if api_url else {}
        self._client = WebClient(
            token=token,
            timeout=int(TIMEOUT_SECONDS),
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=3),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ],
            **kwargs,
        )

    def post(self, channel: str, text: str, attachments: list[dict[str, Any]], thread_ts: str | None = None) -> str:
        response = self._call(
            self._client.chat_postMessage, channel=channel, text=text, attachments=attachments, thread_ts=thread_ts
        )
        return str(response["ts"])

    def update(self, channel: str, ts: str, text: str, attachments: list[dict[str, Any]]) -> None:
        self._call(self._client.chat_update, channel=channel, ts=ts, text=text, attachments=attachments)

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**{key: value for key, value in kwargs.items() if value is not None})
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown_error")) if error.response is not None else "unknown_error"
            status = error.response.status_code if error.response is not None else 0
            permanent = code in PERMANENT_SLACK_ERRORS or (400 <= status < 500 and status != 429)
            raise DeliveryError(f"route {self.route}: Slack {code}", permanent=permanent) from None
        except (OSError, TimeoutError) as error:
            raise DeliveryError(
                f"route {self.route}: Slack unreachable ({type(error).__name__})", permanent=False
            ) from None


def publish_email(sns: SNSClient, route: str, topic_arn: str, subject: str, body: str) -> None:
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=body)
    except sns.exceptions.NotFoundException:
        raise DeliveryError(f"route {route}: SNS topic not found", permanent=True) from None
