"""A scripted model for the coding-agent CLIs, on 127.0.0.1: one server that speaks every wire they use,
streaming included, and answers each request from what the request holds.

Wires (each through the wire/ fakes of its provider):

- OpenAI Responses, ``POST /v1/responses`` (Codex),
- Anthropic Messages, ``POST /v1/messages`` and ``/v1/messages/count_tokens``, ``HEAD /`` (Claude Code),
- Gemini, ``POST /v1beta/models/M:streamGenerateContent?alt=sse`` / ``:generateContent`` / ``:countTokens``
  (Gemini CLI),
- OpenAI chat completions, ``POST /v1/chat/completions``, with tool calls and ``stream_options.include_usage``
  (OpenCode), or plain text with a whole-file listing (Aider's ``--edit-format whole``).

What it answers (a :class:`Script`): a request that offers tools is a call of the agent's own loop. It is
answered with one call of the CLI's file-writing tool (Codex ``exec_command``/``shell``, Claude ``Write``,
Gemini ``write_file``, OpenCode ``write``) that writes ``script.path`` (relative to ``script.root``) with
``script.content`` (or, given ``script.tool``, one call of that tool, e.g. an MCP server's, with
``script.arguments``); once the tool's result is in the request, or with ``write=False`` (a review), with
``script.final``. A chat request without tools that carries Aider's whole-file instructions is answered
with the file listing, then ``final``. Any other request (a title, a quota probe, a next-speaker check) is
a side call, answered with a short text (JSON when the request asks for JSON).

Every answer reports a usage: ``script.usage[i]`` for the i-th answer of the agent's loop (the last one
again when the list runs out), ``script.side_usage`` for a side call. :attr:`AgentModel.exchanges` logs
every request (method, path, body, headers with the secrets taken out) with what it was answered and the
usage reported, so a test can compare what a CLI (or specrelay's ledger) recorded with what the server
said::

    with agent_model(Script(root=repo, path="hello.txt", content="hi\\n")) as model:
        ...run the CLI with base URL model.url...
    assert model.reported() == Usage(...)
"""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wire import anthropic_messages, gemini, openai_chat, openai_responses
from wire.server import Answer, Received, json_answer, serving

SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie"})
#: Aider's whole-file edit format asks for this in its system prompt.
AIDER_WHOLE_MARK = "file listing"


@dataclass(frozen=True)
class Usage:
    """The tokens one answer reports, in one vocabulary for every wire: ``input`` is the plain input
    (neither read from nor written to a cache); each wire adds the cached parts back where it counts them
    in its input (OpenAI, Gemini)."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input + other.input, self.output + other.output, self.cache_read + other.cache_read,
                     self.cache_write + other.cache_write, self.reasoning + other.reasoning)


ZERO = Usage(0, 0)


@dataclass
class Script:
    """What the model does: write ``path`` (relative to ``root``, the repository the agent works in) with
    ``content`` through the agent's own tool, then say ``final`` (e.g. a review JSON); ``write=False``:
    say ``final`` at once."""

    root: Path
    path: str = "hello.txt"
    content: str = "Hello from the agent.\n"
    final: str = "I wrote the file."
    #: Usage reported by the i-th answer of the agent's loop; the last one repeats.
    usage: Sequence[Usage] = (Usage(1200, 40, cache_read=300), Usage(1500, 20, cache_read=1000))
    #: Usage reported by a side call (a title, a probe).
    side_usage: Usage = Usage(50, 5)
    write: bool = True
    #: The model name the answers carry.
    model: str = "fake-model"
    #: Call this tool instead of the file write (an MCP server's, found by its name or the name the CLI
    #: gives it: ``mcp__specrelay__task_status``), with these arguments.
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> Path:
        return self.root / self.path


@dataclass(frozen=True)
class Exchange:
    """One request and how it was answered. ``kind``: ``write`` (the tool call), ``final``, ``side``,
    ``count`` (a token count), ``probe`` (HEAD/GET)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]
    kind: str
    usage: Usage | None
    #: The tool called (``write``), e.g. ``Write``.
    tool: str | None = None
    #: When the request arrived (``time.monotonic()``), and how long the server took to make its answer.
    at: float = 0.0
    answer_s: float = 0.0


@dataclass
class AgentModel:
    """The running server: ``url`` (its root, no ``/v1``), ``exchanges`` (every request, in order)."""

    url: str
    script: Script
    exchanges: list[Exchange] = field(default_factory=list)

    def reported(self, *kinds: str) -> Usage:
        """The sum of the usage the server reported, over the answers of these kinds (default: all)."""
        total = ZERO
        for ex in self.exchanges:
            if ex.usage is not None and (not kinds or ex.kind in kinds):
                total = total + ex.usage
        return total

    def kinds(self, *, probes: bool = False) -> list[str]:
        """What each request was answered with, in order; the HEAD/GET probes (Claude Code sends ``HEAD /``
        now and then, not every run) only when asked for."""
        return [ex.kind for ex in self.exchanges if probes or ex.kind != "probe"]

    def loop_calls(self) -> list[Exchange]:
        """The calls of the agent's own loop (the tool call and the final answer)."""
        return [ex for ex in self.exchanges if ex.kind in ("write", "final")]


class _Responder:
    def __init__(self, script: Script, model: AgentModel) -> None:
        self.script = script
        self.model = model
        self.lock = threading.Lock()
        self.loop_answers = 0

    def __call__(self, got: Received) -> Answer:
        started = time.monotonic()
        try:
            kind, answer, use, tool = self._answer(got)
        except Exception as exc:  # a request this fake does not understand: said, not a hang
            failed = json_answer({"error": {"message": f"fake model: {exc!r}"}}, 500)
            kind, answer, use, tool = "error", failed, None, None
        self.model.exchanges.append(Exchange(
            got.method, got.path, {k: v for k, v in got.query.items() if k != "key"},
            {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in got.headers.items()},
            got.body, kind, use, tool, got.at, time.monotonic() - started))
        return answer

    def _usage(self, kind: str) -> Usage:
        if kind == "side":
            return self.script.side_usage
        with self.lock:
            i = self.loop_answers
            self.loop_answers += 1
        use = self.script.usage
        return use[min(i, len(use) - 1)]

    def _answer(self, got: Received) -> tuple[str, Answer, Usage | None, str | None]:
        path = got.path
        if got.method != "POST":
            return "probe", json_answer(None), None, None
        if path.startswith("/v1/messages/count_tokens"):
            return "count", json_answer({"input_tokens": 100}), None, None
        if path.startswith("/v1/messages"):
            return self._anthropic(got.body)
        if path.startswith("/v1/responses"):
            return self._responses(got.body)
        if path.endswith(":countTokens"):
            return "count", json_answer({"totalTokens": 100}), None, None
        if ":generateContent" in path or ":streamGenerateContent" in path:
            return self._gemini(got.body)
        if path.startswith("/v1/chat/completions"):
            return self._chat(got.body)
        raise ValueError(f"no wire at {path}")

    # --- what each CLI's write tool takes

    def _arguments(self, tool: str) -> dict[str, Any]:
        if self.script.tool is not None:
            return self.script.arguments
        target, content = str(self.script.target), self.script.content
        command = f"printf '%s' {shlex.quote(content)} > {shlex.quote(target)}"
        arguments: dict[str, dict[str, Any]] = {
            "Write": {"file_path": target, "content": content},            # Claude Code
            "write_file": {"file_path": target, "content": content},       # Gemini CLI
            "write": {"filePath": target, "content": content},             # OpenCode
            "exec_command": {"cmd": command},                               # Codex
            "shell_command": {"command": command},
            "shell": {"command": ["bash", "-lc", command]},
        }
        return arguments[tool]

    def _pick(self, names: list[str], *choices: str) -> str | None:
        if not self.script.write:
            return None
        wanted = self.script.tool
        if wanted is not None:  # a CLI names an MCP server's tool after the server: mcp__SERVER__TOOL, SERVER_TOOL
            return next((n for n in names if n == wanted or n.endswith(f"_{wanted}")), None)
        return next((c for c in choices if c in names), None)

    # --- Anthropic Messages (Claude Code)

    def _anthropic(self, body: dict[str, Any]) -> tuple[str, Answer, Usage | None, str | None]:
        model = self.script.model
        tools = [t.get("name", "") for t in body.get("tools") or []]
        if not tools:
            use = self._usage("side")
            return "side", anthropic_messages.reply("Scripted task", model, use=_anthropic_usage(use)), use, None
        # The last user turn: Claude Code under --max-budget-usd adds a note of what it has spent after it.
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        last = messages[-1] if messages else {}
        content = last.get("content")
        answered = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
        tool = None if answered else self._pick(tools, "Write")
        if tool is None:
            use = self._usage("final")
            return "final", anthropic_messages.reply(self.script.final, model, use=_anthropic_usage(use)), use, None
        use = self._usage("write")
        return ("write", anthropic_messages.tool_use(tool, self._arguments(tool), model, use=_anthropic_usage(use)),
                use, tool)

    # --- OpenAI Responses (Codex)

    def _responses(self, body: dict[str, Any]) -> tuple[str, Answer, Usage | None, str | None]:
        model = self.script.model
        # Codex offers an MCP server's tools in one namespace tool: NAMESPACE__TOOL here, called as TOOL in it.
        tools = [f"{t.get('name')}__{inner.get('name')}" if t.get("type") == "namespace" else t.get("name", "")
                 for t in body.get("tools") or [] if isinstance(t, dict)
                 for inner in (t.get("tools") or [{}] if t.get("type") == "namespace" else [{}])]
        items = body.get("input") or []
        last_user = max((i for i, it in enumerate(items) if it.get("type", "message") == "message"
                         and it.get("role") == "user"), default=-1)
        answered = any(it.get("type") in ("function_call_output", "custom_tool_call_output")
                       for it in items[last_user + 1:])
        if not tools:
            use = self._usage("side")
            return "side", openai_responses.reply("Scripted task", model, use=_responses_usage(use)), use, None
        tool = None if answered else self._pick(tools, "exec_command", "shell_command", "shell")
        if tool is None:
            use = self._usage("final")
            return "final", openai_responses.reply(self.script.final, model, use=_responses_usage(use)), use, None
        use = self._usage("write")
        namespace, _, name = tool.rpartition("__") if tool.startswith("mcp__") else ("", "", tool)
        return ("write", openai_responses.function_call(name, self._arguments(tool), model, use=_responses_usage(use),
                                                        namespace=namespace or None), use, tool)

    # --- Gemini (Gemini CLI)

    def _gemini(self, body: dict[str, Any]) -> tuple[str, Answer, Usage | None, str | None]:
        model = self.script.model
        tools = [d.get("name", "") for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        if not tools:
            config = body.get("generationConfig") or {}
            wants_json = config.get("responseMimeType") == "application/json"
            text = json.dumps({"reasoning": "The task is done.", "next_speaker": "user"}) if wants_json \
                else "Scripted task"
            use = self._usage("side")
            return "side", gemini.reply(text, model, use=_gemini_usage(use)), use, None
        contents = body.get("contents") or []
        last = contents[-1] if contents else {}
        answered = any("functionResponse" in p for p in last.get("parts") or [])
        tool = None if answered else self._pick(tools, "write_file")
        if tool is None:
            use = self._usage("final")
            return "final", gemini.reply(self.script.final, model, use=_gemini_usage(use)), use, None
        use = self._usage("write")
        return ("write", gemini.function_call(tool, self._arguments(tool), model, use=_gemini_usage(use)), use, tool)

    # --- OpenAI chat completions (OpenCode with tools, Aider without)

    def _chat(self, body: dict[str, Any]) -> tuple[str, Answer, Usage | None, str | None]:
        model = self.script.model
        messages = body.get("messages") or []
        tools = [t.get("function", {}).get("name", "") for t in body.get("tools") or []]
        if not tools:
            system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
            if AIDER_WHOLE_MARK not in system:
                use = self._usage("side")
                return "side", openai_chat.reply("Scripted task", model, use=_chat_usage(use)), use, None
            listing = f"{self.script.path}\n```\n{self.script.content}```\n"
            # Aider's prompt holds example exchanges of its own: only the listing given here counts as done.
            replied = any(m.get("role") == "assistant" and listing in _text(m.get("content")) for m in messages)
            if replied or not self.script.write:
                use = self._usage("final")
                return "final", openai_chat.reply(self.script.final, model, use=_chat_usage(use)), use, None
            use = self._usage("write")
            return "write", openai_chat.reply(listing, model, use=_chat_usage(use)), use, None
        answered = bool(messages) and messages[-1].get("role") == "tool"
        tool = None if answered else self._pick(tools, "write")
        if tool is None:
            use = self._usage("final")
            return "final", openai_chat.reply(self.script.final, model, use=_chat_usage(use)), use, None
        use = self._usage("write")
        return ("write", openai_chat.tool_call(tool, self._arguments(tool), model, use=_chat_usage(use)), use, tool)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _anthropic_usage(u: Usage) -> dict[str, Any]:
    return anthropic_messages.usage(u.input, u.output, cache_write=u.cache_write, cache_read=u.cache_read)


def _chat_usage(u: Usage) -> dict[str, Any]:
    return openai_chat.usage(u.input + u.cache_read, u.output, cached=u.cache_read, reasoning=u.reasoning)


def _gemini_usage(u: Usage) -> dict[str, Any]:
    return gemini.usage(u.input + u.cache_read, u.output, cached=u.cache_read or None, thoughts=u.reasoning or None)


def _responses_usage(u: Usage) -> dict[str, Any]:
    return openai_responses.usage(u.input + u.cache_read, u.output, cached=u.cache_read, reasoning=u.reasoning)


@contextmanager
def agent_model(script: Script) -> Iterator[AgentModel]:
    """The scripted model serving on 127.0.0.1 for the length of the block."""
    with serving() as server:
        model = AgentModel(server.url, script)
        server.responder = _Responder(script, model)
        yield model
