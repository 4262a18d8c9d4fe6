"""A tiny OpenAI-compatible server on 127.0.0.1, for tests over a real socket.

Each path prefix picks a behaviour: ``/ok/v1``, ``/flaky/v1`` (429 with Retry-After, then ok),
``/down/v1`` (500 forever), ``/length/v1`` (an answer cut off at its cap: finish reason "length").
Streaming requests get server-sent events with usage at the end.
``GET <prefix>/v1/models`` lists ``tiny`` and ``coder:latest`` under ``/ok``, answers 500 under ``/down``,
HTML under ``/html`` and nothing under ``/slow`` until the server is stopped (at most 60 s).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        mode = self.path.strip("/").split("/")[0]
        self.server.hits.append((mode, self.headers.get("authorization", "")))
        if mode == "slow":
            self.server.stopping.wait(60)
        status, kind, payload = {
            "down": (500, "application/json", {"error": {"message": "fake 500"}}),
            "html": (200, "text/html", "<html>a web page</html>"),
        }.get(mode, (200, "application/json", {"object": "list", "data": [{"id": "tiny", "object": "model"},
                                                                {"id": "coder:latest", "object": "model"}]}))
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (the slow mode)
            pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        mode = self.path.strip("/").split("/")[0]
        self.server.hits.append((mode, self.headers.get("authorization", "")))
        self.server.bodies.append(body)
        if mode == "down" or (mode == "flaky" and sum(1 for m, _ in self.server.hits if m == "flaky") == 1):
            status = 500 if mode == "down" else 429
            payload = json.dumps({"error": {"message": f"fake {status}", "type": "server_error"}}).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            if status == 429:
                self.send_header("retry-after", "0")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        text = f"answer from {mode}"
        finish = "length" if mode == "length" else "stop"
        if body.get("stream"):
            self._stream(body, text, finish)
        else:
            self._json(body, text, finish)

    def _json(self, body: dict[str, Any], text: str, finish: str) -> None:
        payload = json.dumps({
            "id": "c1", "object": "chat.completion", "created": 0, "model": body.get("model", "m"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, body: dict[str, Any], text: str, finish: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", "m")}
        for word in text.split(" "):
            chunk = {**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}],
               "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}}
        self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[tuple[str, str]]
    bodies: list[dict[str, Any]]
    stopping: threading.Event


@contextmanager
def fake_openai() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.hits = []
    server.bodies = []
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()


def base_url(server: _Server, mode: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{mode}/v1"
