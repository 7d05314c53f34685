"""A JSON-over-HTTP server on 127.0.0.1 (a free port) in a thread of its own: what `local up`'s control port
and ChatOpsFunction's local Function URL are built on. `answer(path, headers, body, client)` gives the status
and the JSON body of each POST."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[str, dict[str, str], bytes, str], tuple[int, bytes]]


class LoopbackServer:
    def __init__(self, answer: Answer, *, name: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {key.lower(): value for key, value in self.headers.items()}
                status, payload = answer(self.path, headers, self.rfile.read(length), self.client_address[0])
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
