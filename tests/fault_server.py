"""A real OpenAI-compatible HTTP server on loopback that injects faults, for the judge tests.

    with FaultServer(faults=["timeout", "429", "500", "malformed", "drop"]) as server:
        judge = HTTPJudge(base_url=server.url, model="judge", ...)

Every POST to /v1/chat/completions first consumes the next scripted fault (if any) — `timeout`
(answers only after `slow_seconds`), `429` (with Retry-After: 0), `500`, `503`, `400`, `malformed`
(a 200 whose body is not JSON), `drop` (the connection is closed without a response) — and
otherwise answers with `reply(messages)` (default: a judgment ending in [[7]], or [[B]] for a
pairwise prompt). The server records every request: its JSON body and its Authorization header.
`GET /v1/models` answers `{"data": models}` (default: none) and is recorded in `gets`, apart from
the chat requests, consuming no fault.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def default_reply(messages: list[dict[str, str]]) -> str:
    text = messages[-1]["content"]
    return "Both are fine, B is better. [[B]]" if "[[A]]" in text else "Clear and correct. Rating: [[7]]"


class FaultServer:
    def __init__(self, faults: Sequence[str] = (), reply: Callable[[list[dict[str, str]]], str] = default_reply,
                 slow_seconds: float = 2.0, models: Sequence[dict[str, Any]] = ()):
        self.faults = list(faults)
        self.reply, self.slow_seconds = reply, slow_seconds
        self.models = list(models)
        self.requests: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                with server.lock:
                    server.gets.append(self.path)
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": server.models}).encode(), {})
                else:
                    self._send(404, b'{"error": {"message": "not found"}}', {})

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append({"body": body, "authorization": self.headers.get("Authorization")})
                    fault = server.faults.pop(0) if server.faults else None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "timeout":
                    time.sleep(server.slow_seconds)
                if fault in ("429", "500", "503", "400"):
                    self._send(int(fault), b'{"error": {"message": "injected"}}', {"Retry-After": "0"})
                    return
                if fault == "malformed":
                    self._send(200, b"<html>not json", {})
                    return
                content = server.reply(body["messages"])
                payload = {"id": "x", "object": "chat.completion", "model": body.get("model"),
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                        "finish_reason": "stop"}]}
                self._send(200, json.dumps(payload).encode(), {})

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
