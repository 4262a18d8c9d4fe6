"""A scripted Anthropic Messages server on 127.0.0.1 for driving the real Claude Code CLI.

Each request is answered from what it holds, so the CLI's own side requests (it makes some without
tools) get a text answer: a builder's prompt gets one ``Write`` call of ``path`` with ``content`` in the
working directory its system prompt names, then the final text once the tool's result comes back; a
reviewer's prompt gets the review JSON; anything else, a short text. Every request is kept, with the
usage answered, so a test can compare the ledger with it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: The usage each answer reports: input (fresh), output, cache write, cache read.
USAGE = {"input_tokens": 100, "output_tokens": 20, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 7}


def agent_bin() -> Path | None:
    """The folder of the real agent binaries (``.ci/setup-agents``), or None."""
    value = os.environ.get("SPECRELAY_AGENT_BIN")
    return Path(value) if value and Path(value).is_dir() else None


@dataclass
class Script:
    path: str = "hello.txt"
    content: str = "hello from the agent\n"
    final: str = "Done: wrote the file."
    review: str = ""
    #: A shell command the builder runs (Bash) instead of writing the file (Write).
    command: str = ""
    #: Seconds each answer waits before it is given.
    delay_s: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    #: Seconds the server spent answering (its delay included).
    busy_s: float = 0.0


def _sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _message(blocks: list[dict[str, Any]], stop: str) -> bytes:
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": "fake-model", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {**USAGE, "output_tokens": 1}}}]
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            events += [{"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
                       {"type": "content_block_delta", "index": i,
                        "delta": {"type": "text_delta", "text": block["text"]}}]
        else:
            events += [{"type": "content_block_start", "index": i, "content_block": {
                           "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}},
                       {"type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}]
        events.append({"type": "content_block_stop", "index": i})
    events += [{"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": USAGE["output_tokens"]}},
               {"type": "message_stop"}]
    return _sse(events)


def _answer(script: Script, body: dict[str, Any]) -> bytes:
    messages = body.get("messages") or []
    text = json.dumps(messages)
    tools = {t.get("name") for t in body.get("tools") or []}
    # The last user turn: Claude Code under --max-budget-usd adds a note of what it has spent after it.
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = users[-1].get("content") if users else None
    answered = isinstance(last, list) and any(isinstance(c, dict) and c.get("type") == "tool_result" for c in last)
    if "You are the builder" in text and script.command and not answered:
        return _message([{"type": "tool_use", "id": "toolu_fake1", "name": "Bash",
                          "input": {"command": script.command, "description": "run it"}}], "tool_use")
    if "You are the builder" in text and "Write" in tools and not answered:
        where = re.search(r"[Ww]orking directory: (\S+)", json.dumps(body.get("system")))
        folder = where.group(1).rstrip("\\n") if where else "."
        return _message([{"type": "tool_use", "id": "toolu_fake1", "name": "Write",
                          "input": {"file_path": f"{folder}/{script.path}", "content": script.content}}], "tool_use")
    if "You are a reviewer" in text and script.review:
        return _message([{"type": "text", "text": script.review}], "end_turn")
    return _message([{"type": "text", "text": script.final}], "end_turn")


@contextmanager
def anthropic_server(script: Script) -> Iterator[str]:
    """The server running for the block; yields its URL."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _empty(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        do_HEAD = _empty
        do_GET = _empty

        def do_POST(self) -> None:
            t0 = time.perf_counter()
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if "count_tokens" in self.path:
                payload, kind = json.dumps({"input_tokens": 10}).encode(), "application/json"
            else:
                with lock:
                    script.received.append(body)
                if script.delay_s:
                    time.sleep(script.delay_s)
                payload, kind = _answer(script, body), "text/event-stream"
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            with lock:
                script.busy_s += time.perf_counter() - t0

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            """A client that went away (a CLI stopped mid-request) is no error of the server's."""
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def claude_env(url: str, home: Path) -> dict[str, str]:
    """Claude Code's offline recipe: its own HOME, the fake server, a dummy key, no other traffic."""
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "dummy",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1"}
