"""Slack's Web API (chat.postMessage, chat.update) through slack_sdk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from autopilot.notify.channels import PERMANENT_SLACK_ERRORS, TIMEOUT_SECONDS, DeliveryError


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
