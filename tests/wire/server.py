"""A scripted HTTP server on 127.0.0.1 (port 0, one thread per request) for the wire tests.

The test queues the answers (:class:`Answer`: a JSON body, server-sent events, or both, the one the
request asked for; an error status with headers); the server gives them in order, the last one again
once the queue runs dry, and keeps every request it got (:class:`Received`) for the test to check what
specrelay sent. Or it sets a ``responder``, which answers each request from what the request holds (a
scripted agent model: tests/agent_clis/model.py). ``HEAD`` and ``GET`` get an empty answer (a client's probe
that the server is up): 200, or the status the responder gives.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]
    #: When it arrived (``time.monotonic()``).
    at: float = 0.0


@dataclass(frozen=True)
class Answer:
    """One scripted response: ``body`` as JSON, or ``events`` as a server-sent event stream (each a
    ``(event name or None, data)`` pair; data a dict sent as JSON, or a str sent as it is). Given both,
    the stream answers a request that asked to stream (``"stream": true``, Gemini's
    ``streamGenerateContent``), the body any other: an SDK may stream where its caller did not ask."""

    status: int = 200
    body: Any = None
    events: list[tuple[str | None, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Separator between events (Gemini's SSE uses CRLF).
    newline: str = "\n"
    #: Seconds the server waits, the request read, before it answers (a slow model); it gives no answer
    #: if it is stopped meanwhile.
    delay_s: float = 0.0
    #: Send only this many of the ``events``, then drop the connection (a server that died mid-stream).
    cut_after: int | None = None


def json_answer(body: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status=status, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})


def sse_answer(events: list[tuple[str | None, Any]], newline: str = "\n") -> Answer:
    return Answer(events=events, newline=newline)


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        url = urlparse(self.path)
        self.server.received.append(Received(
            "POST", url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()},
            json.loads(raw) if raw else {}, time.monotonic()))
        asked = self.server.received[-1]
        responder = self.server.responder
        answer = responder(asked) if responder is not None else self.server.next_answer()
        if answer.delay_s and self.server.stopping.wait(answer.delay_s):
            return  # the test is over: no answer, and no late write into another test's output
        streams = asked.body.get("stream") is True or "streamGenerateContent" in url.path
        if answer.events is not None and (streams or answer.body is None):
            self._events(answer)
        else:
            payload = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            self.send_header("content-type", "application/json")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    def do_HEAD(self) -> None:
        self._empty("HEAD")

    def do_GET(self) -> None:
        self._empty("GET")

    def _empty(self, method: str) -> None:
        url = urlparse(self.path)
        got = Received(method, url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()}, {},
                       time.monotonic())
        self.server.received.append(got)
        responder = self.server.responder
        self.send_response(responder(got).status if responder is not None else 200)
        self.send_header("content-length", "0")
        self.end_headers()

    def _events(self, answer: Answer) -> None:
        nl = answer.newline
        chunks = []
        for name, data in answer.events or []:
            text = data if isinstance(data, str) else json.dumps(data)
            chunks.append((f"event: {name}{nl}" if name else "") + f"data: {text}{nl}{nl}")
        payload = "".join(chunks).encode()
        self.send_response(answer.status)
        self.send_header("content-type", "text/event-stream")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if answer.cut_after is None:
            self.wfile.write(payload)
            return
        self.wfile.write("".join(chunks[:answer.cut_after]).encode())
        self.wfile.flush()
        self.close_connection = True  # the rest never comes: the server went away mid-stream


class FakeServer(ThreadingHTTPServer):
    """The server: ``answers`` to give, ``received`` requests; ``url`` is its root."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[Answer] = []
        self.received: list[Received] = []
        #: Answers each POST in place of the queue, when set.
        self.responder: Callable[[Received], Answer] | None = None
        self.lock = threading.Lock()
        #: Set when the test's block ends: a delayed answer is then not given.
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a call the test cancelled) is no error of the server's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def queue(self, *answers: Answer) -> FakeServer:
        with self.lock:
            self.answers.extend(answers)
        return self

    def next_answer(self) -> Answer:
        with self.lock:
            if not self.answers:
                return Answer(status=500, body={"error": {"message": "the test queued no answer"}})
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    @property
    def last(self) -> Received:
        return self.received[-1]


@contextmanager
def serving() -> Iterator[FakeServer]:
    """A FakeServer running in a thread for the length of the block."""
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
