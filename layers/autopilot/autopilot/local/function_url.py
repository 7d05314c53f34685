"""ChatOpsFunction's Function URL, locally: an HTTP server on 127.0.0.1 that turns each request into the event a
Lambda Function URL sends (payload format 2.0) and answers with what the handler returns; and what Slack does
when a person presses a button or types the slash command (`signed_request`, for `autopilot local click`)."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from autopilot.local.loopback import LoopbackServer
from autopilot.local.project import Project

FUNCTION = "ChatOpsFunction"
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
LOCAL_USER = "U0LOCAL"  # who `local click` is, unless told otherwise; the local config grants it every command
LOCAL_CHANNEL = "C0DEPLOYS"  # the channel the local Slack bot route posts to


def function_url_event(method: str, path: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """The event a Function URL invokes its function with (Lambda Developer Guide, "Invoking Lambda function
    URLs", request payload format 2.0): headers in lower case; a body that is not text, base64-encoded."""
    content_type = headers.get("content-type", "")
    text = content_type.startswith(TEXT_TYPES)
    now = datetime.now(UTC)
    url_id = "local0chatops0function0url0"
    raw_path, _, query = path.partition("?")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.us-west-2.on.aws",
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body.decode() if text else base64.b64encode(body).decode(),
        "isBase64Encoded": not text,
    }


class FunctionUrlServer(LoopbackServer):
    def __init__(self, project: Project, lock: threading.RLock, *, function: str = FUNCTION) -> None:
        def answer(path: str, headers: dict[str, str], body: bytes, client: str) -> tuple[int, bytes]:
            event = function_url_event("POST", path, headers, body, client)
            try:
                with lock:  # one change of the world at a time, as with the clock's ticks
                    result = project.invoke(function, event) or {}
                return int(result.get("statusCode", 200)), str(result.get("body", "")).encode()
            except Exception as error:  # what Lambda answers for a function error
                return 502, json.dumps({"Message": f"function error: {type(error).__name__}"}).encode()

        super().__init__(answer, name="chatops-url")

    @property
    def url(self) -> str:
        return super().url + "/"


def slack_body(text: str, *, user: str, channel: str, button: bool) -> bytes:
    """What Slack posts: a button press of one of our messages (its value), or the slash command `/autopilot`."""
    if button:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0LOCAL"},
            "team": {"id": "T0LOCAL", "domain": "local"},
            "channel": {"id": channel, "name": "deploys"},
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"{int(time.time())}.local",
            "response_url": "https://hooks.slack.com/actions/T0LOCAL/0/local",
            "actions": [
                {
                    "type": "button",
                    "action_id": f"autopilot:{text}"[:255],
                    "block_id": "actions",
                    "value": text,
                    "text": {"type": "plain_text", "text": text.split(maxsplit=1)[0].title()},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)}).encode()
    return urlencode(
        {
            "token": "local",
            "team_id": "T0LOCAL",
            "channel_id": channel,
            "channel_name": "deploys",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/autopilot",
            "text": text,
            "response_url": "https://hooks.slack.com/commands/T0LOCAL/0/local",
            "trigger_id": f"{int(time.time())}.local",
        }
    ).encode()


def signed_headers(body: bytes, signing_secret: str, *, at: int | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature as Slack computes them (slack_sdk's own generator)."""
    from slack_sdk.signature import SignatureVerifier

    timestamp = str(at if at is not None else int(time.time()))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=timestamp, body=body) or ""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
