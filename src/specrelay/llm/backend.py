"""The seam between specrelay and a model: a :class:`Request` in, a :class:`Reply` out.

A backend answers one attempt (:meth:`Backend.complete`). Retries, fallbacks, concurrency limits,
budgets, pricing and the ledger are layers around it (``llm/layers/``); a backend only talks to its
model and reports a failed attempt as :class:`AttemptFailed`, classified so the layers know whether
to retry. What a backend can do is said by flags on its class, so a caller can ask before it relies
on an ability. Backends join through :func:`specrelay.registry.register_backend`.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from specrelay.config import Preset
from specrelay.errors import FailureKind, PresetError
from specrelay.llm.pricing import Usage

if TYPE_CHECKING:
    from specrelay.ledger import Ledger

OnDelta = Callable[[str], None]


@dataclass(frozen=True)
class Tool:
    """A tool the model may call: its name, what it does, and its parameters as a JSON schema."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCall:
    """A call of a tool the model asked for."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One turn of a conversation. An assistant turn may carry the ``tool_calls`` it asked for; a
    ``tool`` turn is the answer to one of them (``tool_call_id``, the tool's ``tool_name``), its text
    in ``content``."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None

    @functools.cached_property
    def text(self) -> str:
        """What the turn says, its tool calls' names and arguments included (what an estimate counts)."""
        if not self.tool_calls:
            return self.content
        import json

        calls = "".join(f"{c.name}({json.dumps(dict(c.arguments), sort_keys=True)})" for c in self.tool_calls)
        return self.content + calls


#: What changes from one run of the same command to the next: durations ("in 0.53s", "12 ms") and
#: clock times ("12:04:31", "2026-12-02T16:05:00").
_UNSTEADY = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds)\b"
                       r"|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                       r"|\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b")


def _steady(text: str) -> str:
    """A check's output (``run_check``'s answer) without what differs between two runs of the same
    command (its timings), so that a redone loop whose checks said the same is the same conversation."""
    return _UNSTEADY.sub("#", text)


#: The tokens an image is estimated at (providers count an image by its size; about 1,600 for a
#: screenshot scaled to their usual bound), and a PDF page (its text and its picture).
IMAGE_TOKENS = 1600
PDF_PAGE_TOKENS = 1600


@dataclass(frozen=True)
class Attachment:
    """A file a call shows the model besides its text (a screenshot, a diagram, a PDF): sent as binary
    content to a preset that takes images (``vision = true``)."""

    name: str
    media_type: str
    data: bytes = field(repr=False)

    @functools.cached_property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_pdf(self) -> bool:
        return self.media_type == "application/pdf"

    @functools.cached_property
    def tokens(self) -> int:
        """The input tokens it is estimated at: an image's fixed share, or a share per PDF page."""
        if not self.is_pdf:
            return IMAGE_TOKENS
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", self.data))
        return PDF_PAGE_TOKENS * max(1, pages)


@dataclass(frozen=True)
class Request:
    """What one call asks of a model. Most calls are one system and one user message: :meth:`of`."""

    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    #: The JSON schema the answer must match (None: free text).
    output_schema: Mapping[str, Any] | None = None
    #: The directory the backend works in (a task's worktree), for a backend that reads or edits files.
    cwd: Path | None = None
    #: Whether the backend may change files in ``cwd`` (an agent on an implement step); False: read-only.
    writable: bool = False
    #: A read-only call in a tree nobody else edits meanwhile (a task's worktree): a backend that works in
    #: ``cwd`` (an agent) checks it left the tree as it found it. Not for the user's live checkout (``ask``).
    guard_tree: bool = False
    #: The most the call may spend, in USD, for a backend that can be told (an agent run): its share of
    #: what is left of the budget. None: no budget.
    budget_usd: float | None = None
    #: The most turns the call may take, for a backend that runs a loop it can be told to bound (an
    #: agent): a step's ``max-turns:``. None: the preset's, when it sets one.
    max_turns: int | None = None
    #: Files shown with the first user message (images, PDFs), for a preset that takes them.
    attachments: tuple[Attachment, ...] = ()

    @classmethod
    def of(cls, system: str, user: str, **more: Any) -> Request:
        """The common request: one system message and one user message."""
        return cls(messages=(Message("system", system), Message("user", user)), **more)

    @functools.cached_property
    def text(self) -> str:
        """Every message's text, joined: what an estimate of the input counts (a request is asked it by
        several layers: worked out once)."""
        return "".join(m.text for m in self.messages)

    @property
    def attachment_tokens(self) -> int:
        """The input tokens the attachments are estimated at (counted with :attr:`text` by every estimate)."""
        return sum(a.tokens for a in self.attachments)

    @functools.cached_property
    def fingerprint(self) -> str:
        """:meth:`digest`, worked out once (the replay and record layers both ask it)."""
        return self.digest()

    def digest(self) -> str:
        """A fingerprint of the conversation and the tools offered: a recorded turn is reused only for
        the same digest (a conversation that went another way is not answered from the ledger)."""
        import hashlib
        import json

        def plain(m: Message) -> list[Any]:
            content = _steady(m.content) if m.role == "tool" and m.tool_name == "run_check" else m.content
            return [m.role, content, [[c.id, c.name, dict(c.arguments)] for c in m.tool_calls],
                    m.tool_call_id, m.tool_name]

        data = [[plain(m) for m in self.messages], [[t.name, t.description, dict(t.parameters)] for t in self.tools],
                None if self.output_schema is None else dict(self.output_schema)]
        if self.attachments:  # only then: a request without any keeps the digest it always had
            data.append([[a.name, a.media_type, a.sha256] for a in self.attachments])
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]


CostSource = Literal["priced", "agent", "agent-estimate"]


@dataclass(frozen=True)
class AgentReport:
    """What an external coding agent said of its run, besides its final message."""

    #: The agent's turns (model round trips), when it says.
    turns: int | None = None
    #: The names of the tools it called, in order.
    tools: tuple[str, ...] = ()
    #: Writes (or other actions) the agent was refused by its permissions, one line each.
    denials: tuple[str, ...] = ()
    #: The agent's own session id, when it gives one.
    session: str | None = None


@dataclass(frozen=True)
class Reply:
    """What a model answered in one attempt."""

    text: str
    #: The tokens the call used, or None when the backend cannot tell (never a made-up zero).
    usage: Usage | None
    model: str
    #: True when the usage is an estimate (scripted models, a server that reported none), not a count.
    estimated: bool = False
    #: True when the model stopped because it reached the call's output cap, not because it was done.
    truncated: bool = False
    tool_calls: tuple[ToolCall, ...] = ()
    #: A cost the backend reports itself (an agent's own figure), in USD; None: priced from the usage.
    cost_usd: float | None = None
    #: Where ``cost_usd`` comes from: ``agent`` (the agent's own figure), ``agent-estimate`` (the agent's
    #: own estimate, marked so); ``priced`` when specrelay prices the usage.
    cost_source: CostSource = "priced"
    #: An external agent's account of its run (None for a model answering once).
    agent: AgentReport | None = None


class AttemptFailed(Exception):
    """One attempt failed, classified by ``kind`` (whether it is worth retrying, what to advise)."""

    def __init__(self, kind: FailureKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, model: str = "", advice: str | None = None,
                 retryable: bool | None = None, spent: Reply | None = None) -> None:
        super().__init__(message)
        #: What the failed attempt used, when the backend knows (an agent that ran for a while and then
        #: failed reports its tokens and its own cost): recorded and counted against the budget.
        self.spent = spent
        #: The attempt's cost, as the budget layer priced ``spent`` (None: unknown).
        self.cost_usd: float | None = None
        #: Whether another attempt is worth making, when the backend knows better than the kind does.
        self._retryable = retryable
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.model = model
        #: What the user can do, when the backend knows better than the kind's usual advice.
        self.advice = advice
        self.latency_s = 0.0

    @property
    def retryable(self) -> bool:
        return self.kind.retryable if self._retryable is None else self._retryable


@dataclass(frozen=True)
class RunContext:
    """What a backend may know of the run it serves: one client's calls (a task or one command)."""

    run_id: str
    ledger: Ledger
    #: Models injected by tests, by preset name (a pydantic-ai FunctionModel, say).
    models: Mapping[str, Any] = field(default_factory=dict)
    #: Every variable an API key of the run's config may be read from (``Config.secret_envs``): what a
    #: backend that runs a program (an agent) keeps from it, but for the keys that program needs.
    secret_envs: frozenset[str] = frozenset()


class Backend(ABC):
    """Runs one preset's calls. One instance serves one run; subclasses set the capability flags."""

    #: The backend can answer with tool calls (a request's ``tools``).
    calls_tools: ClassVar[bool] = False
    #: The backend edits files in the request's ``cwd`` itself (an agent), rather than answering edits.
    edits_worktree: ClassVar[bool] = False
    #: The backend reports the tokens a call used; False: its usage is an estimate or absent.
    reports_usage: ClassVar[bool] = True
    #: A call's cost is bounded by its output cap (one answer); False: a run of many turns (an agent)
    #: whose cost is known only once it ends, which a budget can only tell what is left.
    capped_by_output: ClassVar[bool] = True

    def __init__(self, run: RunContext) -> None:
        self.run = run

    @abstractmethod
    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        """Answer once, streaming text to ``on_delta`` if given; raise AttemptFailed on failure."""

    def prepare(self, preset: Preset) -> None:
        """Get ready to call ``preset`` (import an SDK, build a client), before the call is timed: a
        call's latency is the call's, not specrelay's start-up. Called before every attempt, so it keeps
        what it builds. May raise AttemptFailed. The default does nothing."""
        return None

    @classmethod
    def preflight(cls, presets: Sequence[Preset], *, called: Collection[str] = ()) -> None:
        """Check, before a task or command starts, what would make its calls fail (a ConfigError);
        ``called`` names the presets certain to be called. The default checks nothing."""
        return None


def backend_class(preset: Preset) -> type[Backend]:
    """The registered backend that serves ``preset``."""
    from specrelay import registry

    entry = registry.lookup(preset.provider)
    if entry is None:  # the config refuses such a preset; a Preset built by hand may still have one
        raise ValueError(f"no backend is registered for provider {preset.provider!r}")
    backend: type[Backend] = entry.backend
    return backend


def cannot_call_tools(preset: Preset, why: str) -> PresetError | None:
    """The error for a call or a step that needs ``preset`` to call tools when its backend cannot (None
    when it can); ``why`` says what needs them (a step, the preset's own ``mode``)."""
    if backend_class(preset).calls_tools:
        return None
    return PresetError(f"preset '{preset.name}' ({preset.provider}) cannot call tools, which {why} needs; "
                       "give the step a preset whose backend calls tools")


def preflight(presets: Iterable[Preset], *, called: Collection[str] = ()) -> None:
    """Let each backend check, before a task or command starts, the presets it serves among
    ``presets`` (a scripted replies file, say); ``called`` names the presets certain to be called.
    A preset in agent mode must have a backend that calls tools."""
    served: dict[type[Backend], list[Preset]] = {}
    for preset in presets:
        if preset.mode == "agent":
            refused = cannot_call_tools(preset, f"mode = \"agent\" ({preset.setting('mode')})")
            if refused is not None:
                raise refused
        served.setdefault(backend_class(preset), []).append(preset)
    for backend, group in served.items():
        backend.preflight(group, called=called)


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text``: one token per 4 characters, rounded up.

    The rule used for scripted models' usage, which is then marked estimated in the ledger.
    """
    return (len(text) + 3) // 4


def estimated_usage(request: Request, reply_text: str) -> Usage:
    """The usage of a call estimated from its text: the request's messages in, the reply out."""
    return Usage(input_tokens=sum(estimate_tokens(m.text) for m in request.messages) + request.attachment_tokens,
                 output_tokens=estimate_tokens(reply_text))
