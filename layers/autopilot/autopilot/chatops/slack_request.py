"""A request from Slack to the ChatOps Function URL: its signature (slack_sdk's SignatureVerifier with the app's
signing secret), Slack's 5-minute timestamp window and the replay cache; then what it asks for."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from autopilot.chatops.authorize import Refusal

MAX_AGE_SECONDS = 300  # Slack's own window: older requests are refused, as its SDKs refuse them


class SeenRequests(Protocol):
    def first_sighting(self, signature: str, *, now: int, keep_seconds: int) -> bool: ...


@dataclass(frozen=True)
class SlackRequest:
    headers: Mapping[str, str]  # names in lower case, as Lambda Function URLs pass them
    body: bytes

    @classmethod
    def from_function_url(cls, event: Mapping[str, Any]) -> SlackRequest:
        """A Lambda Function URL event (payload format 2.0)."""
        body = str(event.get("body") or "")
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        return cls(headers=headers, body=raw)

    def form(self) -> dict[str, str]:
        """The form fields Slack posts (a slash command's, or `payload` for a button)."""
        return {name: values[0] for name, values in parse_qs(self.body.decode("utf-8", "replace")).items()}

    def interaction(self) -> dict[str, Any] | None:
        """A button press (block_actions), decoded from its `payload` field; None for a slash command."""
        payload = self.form().get("payload")
        if payload is None:
            return None
        decoded = json.loads(payload)
        return decoded if isinstance(decoded, dict) else None


class _At:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify(request: SlackRequest, signing_secret: str, *, now: int, seen: SeenRequests) -> Refusal | None:
    """None for a request Slack signed within the last 5 minutes and that was not taken before; else why not.
    The replay cache is written last, so a forged or stale request leaves nothing behind."""
    from slack_sdk.signature import SignatureVerifier  # with the first request, not at import

    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return Refusal(401, "not a signed Slack request")
    try:
        sent = int(timestamp)
    except ValueError:
        return Refusal(401, "not a signed Slack request: its timestamp is not a number")
    if abs(now - sent) > MAX_AGE_SECONDS:
        return Refusal(401, "the request's timestamp is outside Slack's 5-minute window")
    verifier = SignatureVerifier(signing_secret, clock=_At(now))  # type: ignore[arg-type]
    if not verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature):
        return Refusal(401, "the request's signature does not match the signing secret")
    if not seen.first_sighting(signature, now=now, keep_seconds=2 * MAX_AGE_SECONDS):
        return Refusal(409, "this request was taken already (a replay)")
    return None
