"""A local chat sink on 127.0.0.1: receives the real HTTP posts of every channel and shows each message the
way a person would read it in the channel. It also speaks the two Slack Web API methods we use
(chat.postMessage, chat.update), and can be told to answer badly (429, 500, 400, slowly) to test retries.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = {
    "/slack": "Slack",
    "/teams": "Teams",
    "/discord": "Discord",
    "/gchat": "Google Chat",
    "/pagerduty/v2/enqueue": "PagerDuty",
    "/webhook": "webhook",
    "/api/chat.postMessage": "Slack bot",
    "/api/chat.update": "Slack bot",
}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def form_or_json(self) -> dict[str, Any]:
        """slack_sdk posts JSON for chat.* methods."""
        data = self.json
        return data if isinstance(data, dict) else {}


@dataclass
class Behaviour:
    """One scripted answer: a status (with an optional Retry-After) and an optional delay before answering."""

    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class ChatSink:
    printer: Callable[[str], None] | None = None
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Behaviour]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> ChatSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                sink._handle(self, Received(self.path, {k: v for k, v in self.headers.items()}, body))

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None  # noqa: S101 - started first
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def script(self, path: str, *behaviours: Behaviour) -> None:
        self.scripts.setdefault(path, []).extend(behaviours)

    def delivered(self, path_prefix: str) -> list[Received]:
        """What was accepted (answered 2xx) on paths starting with `path_prefix`."""
        with self._lock:
            return [item for item in self.received if item.path.split("?")[0].startswith(path_prefix)]

    def _handle(self, request: BaseHTTPRequestHandler, item: Received) -> None:
        path = item.path.split("?")[0]
        with self._lock:
            behaviours = self.scripts.get(path)
            behaviour = behaviours.pop(0) if behaviours else Behaviour()
        if behaviour.delay:
            time.sleep(behaviour.delay)
        if behaviour.status >= 300:
            request.send_response(behaviour.status)
            if behaviour.retry_after is not None:
                request.send_header("Retry-After", behaviour.retry_after)
            request.send_header("Content-Type", "application/json")
            request.end_headers()
            request.wfile.write(b'{"ok": false, "error": "scripted"}')
            return
        with self._lock:
            self.received.append(item)
        answer = self._answer(path, item)
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.end_headers()
        request.wfile.write(json.dumps(answer).encode())
        if self.printer is not None:
            self.printer(render_for_people(path, item))

    def _answer(self, path: str, item: Received) -> dict[str, Any]:
        if path == "/api/chat.postMessage":
            return {"ok": True, "channel": item.form_or_json.get("channel"), "ts": f"{next(self._ts)}.000100"}
        if path == "/api/chat.update":
            data = item.form_or_json
            return {"ok": True, "channel": data.get("channel"), "ts": data.get("ts")}
        return {"ok": True}


def _title(payload: dict[str, Any]) -> str:
    for attachment in payload.get("attachments") or []:
        for block in attachment.get("blocks") or []:
            if block.get("type") == "header":
                return str(block["text"]["text"])
        content = attachment.get("content") or {}
        for element in content.get("body") or []:
            if element.get("type") == "TextBlock":
                return str(element.get("text"))
    if payload.get("embeds"):
        return str(payload["embeds"][0].get("title"))
    if payload.get("payload"):
        return str(payload["payload"].get("summary"))
    return str(payload.get("title") or payload.get("text") or payload.get("event_action") or "")


def _buttons(payload: dict[str, Any]) -> list[str]:
    """A Slack message's buttons, each as the command that presses it (`autopilot local click VALUE`)."""
    blocks = [block for attachment in payload.get("attachments") or [] for block in attachment.get("blocks") or []]
    if isinstance(payload.get("blocks"), list):
        blocks.extend(payload["blocks"])
    return [
        f"      [{element['text']['text']}] autopilot local click '{element['value']}'"
        for block in blocks
        if isinstance(block, dict) and block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button" and element.get("value")
    ]


def render_for_people(path: str, item: Received) -> str:
    """A line as a person would see it in the channel (and a line per button, with the command that presses it)."""
    line = _one_line(path, item)
    buttons = _buttons(item.form_or_json) if path.startswith("/api/") else []
    return "\n".join([line, *buttons])


def _one_line(path: str, item: Received) -> str:
    channel = PATHS.get(path, path)
    payload = item.form_or_json
    if path == "/api/chat.update":
        return f"  [{channel}] ✎ updated in place: {_title(payload)}"
    if path == "/api/chat.postMessage" and payload.get("thread_ts"):
        return f"  [{channel}]   ↳ in thread: {payload.get('text', '')}"
    if path.startswith("/pagerduty"):
        return f"  [{channel}] {payload.get('event_action')}: {_title(payload) or payload.get('dedup_key')}"
    return f"  [{channel}] {_title(payload)}"
