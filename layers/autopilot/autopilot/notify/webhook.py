"""HTTP webhooks (Slack and Teams incoming webhooks, Discord, PagerDuty, signed generic webhooks) through httpx."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from autopilot.notify.channels import (
    SIGNATURE_HEADER,
    TIMEOUT_SECONDS,
    TIMESTAMP_HEADER,
    DeliveryError,
    retry_after_seconds,
    signature,
)
from autopilot.observability import logger


def http_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


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
        headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(signing_secret, timestamp, body)}
        return self.post(route, url, body, headers)
