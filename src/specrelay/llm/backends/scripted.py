"""Scripted models: replies read from a JSON file, for tests, the demo and dry runs.

The file holds a list; each item is the reply text, or ``{"text": "...", "delay_s": 0.5}``, or
``{"error": {"status": 429, "retry_after_s": 0.1}}`` / ``{"error": {"kind": "timeout"}}`` (the
attempt fails as a provider would). Replies are consumed in order per preset within one run; the
backend keeps the cursor, started from the ledger's count of the run's calls so a resumed task
continues where it left off. Usage is estimated by :func:`~specrelay.llm.backend.estimate_tokens`.

A reply longer than the attempt's output cap (the preset's ``max_tokens``, or the lower cap a budget
gave the call) is cut at the cap and counted as the cap's tokens, as a provider stops at ``max_tokens``
and bills what it wrote: a budget's promise holds for scripted calls exactly as for real ones. Either
way it is marked truncated (finish reason "length"); ``{"text": "...", "truncated": true}`` marks a
reply so whatever its length, as a server stops at a cap of its own that the preset does not know.

A reply may call tools, as a model in a tool loop does: ``{"tool_calls": [{"name": "read_file",
"arguments": {"path": "a.py"}}]}`` (with an optional ``"text"`` and ``"id"`` per call).

Replies chosen by what the call is about: the file may instead hold an object
``{"by_prompt": [{"when": "truncate_words", "replies": [...]}, {"when": "slugify", "replies": [...]}]}``.
Each call answers from the first list whose ``when`` text appears in its prompt (the text of the request's
messages, tool results included), so one preset can serve several tasks, each its own script (an eval
suite's cases). ``when`` is matched as written, case and all; a list of texts (``["slugify", "Review
the diff"]``) matches a prompt holding every one of them; ``""`` matches any prompt (a last, catch-all
list). Within the chosen list the cursor is the same as for a plain list: the run's count of the preset's
calls, so a resumed task continues where it left off. A prompt no ``when`` matches is a ConfigError
naming the preset and the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from specrelay import paths
from specrelay.config import Preset, Text
from specrelay.errors import ATTEMPT_KINDS, ConfigError, FailureKind, ProviderError
from specrelay.llm.backend import (
    AttemptFailed,
    Backend,
    Message,
    OnDelta,
    Reply,
    Request,
    RunContext,
    ToolCall,
    estimate_tokens,
    estimated_usage,
)
from specrelay.registry import register_backend


class ScriptedPreset(Preset):
    """A stand-in model answering from a replies file, optionally priced as a real model."""

    provider: Literal["scripted"]
    replies: Text | None = None
    #: Seconds each reply waits before it is given (a reply's own delay_s wins).
    delay_s: float = Field(default=0.0, ge=0)
    #: The real model whose prices the calls are costed at (simulated costs); unset: unknown.
    price_as: Text | None = None

    stand_in: ClassVar[bool] = True

    @property
    def replies_path(self) -> Path | None:
        """The replies file, relative to the config file that named it."""
        if self.replies is None:
            return None
        p = Path(self.replies).expanduser()
        if not p.is_absolute():
            p = self.origins.get("replies", paths.data_dir()).parent / p
        return p

    @property
    def concurrency_key(self) -> str:
        return f"scripted:{self.name}"

    def price_model(self) -> tuple[str, str | None] | None:
        return (self.price_as, None) if self.price_as else None

    def guessed_family(self) -> str:
        # A stand-in stands for no family of its own (price_as is only what its calls cost): each is one,
        # until the preset sets `family`.
        return f"scripted:{self.name}"

    def check(self) -> None:
        if not self.replies:
            raise ConfigError(f"{self.where('provider')}: [presets.{self.name}] is scripted but has no "
                              "'replies' file. Add replies = \"replies.json\" (a JSON list of replies).")

#: The kinds a scripted error may name, as the user writes them.
ERROR_KINDS = tuple(str(kind) for kind in ATTEMPT_KINDS)


@dataclass(frozen=True)
class ScriptedReply:
    text: str | None
    delay_s: float | None
    error: dict[str, Any] | None
    #: The reply stops as if at its output cap (finish reason "length"), whatever its length.
    truncated: bool = False
    #: The tools the reply calls.
    tool_calls: tuple[ToolCall, ...] = ()


#: A replies file's lists: ``(when, replies)`` each, ``when`` the texts a prompt must all hold (None for a
#: plain list).
_Lists = tuple[tuple[tuple[str, ...] | None, tuple[ScriptedReply, ...]], ...]


@dataclass(frozen=True)
class Script:
    """A replies file as read: one list of replies, or lists chosen by prompt (``by_prompt``)."""

    path: Path
    #: ``(when, replies)`` in the file's order; a plain list is one entry whose ``when`` is None.
    lists: _Lists

    @property
    def by_prompt(self) -> bool:
        return any(when is not None for when, _ in self.lists)

    @property
    def empty(self) -> bool:
        """No reply at all to give (an empty plain list)."""
        return not any(replies for _, replies in self.lists)

    def replies_for(self, preset: str, request: Request) -> tuple[ScriptedReply, ...]:
        """The list a call with ``request`` answers from: the first whose ``when`` its prompt holds."""
        if not self.by_prompt:
            return self.lists[0][1] if self.lists else ()
        prompt = request.text
        for when, replies in self.lists:
            if when is not None and all(text in prompt for text in when):
                return replies
        whens = ", ".join(" + ".join(json.dumps(t, ensure_ascii=False) for t in when or ())
                          for when, _ in self.lists[:5])
        whens += f" and {len(self.lists) - 5} more" if len(self.lists) > 5 else ""
        raise ConfigError(f"{self.path}: scripted preset {preset} has no reply for this prompt: no 'when' of its "
                          f"by_prompt lists ({whens}) appears in it. Add a list whose 'when' the prompt holds, "
                          'or a last one with "when": "" to answer any prompt.')


_cache: dict[tuple[Path, float], Script] = {}


def load_replies(preset: ScriptedPreset) -> Script:
    """Read and check a preset's replies file (cached by path and modification time)."""
    path = preset.replies_path
    where = f"[presets.{preset.name}] replies"
    if path is None:
        raise ConfigError(f"{preset.origins.get('', '?')}: {where} is not set.")
    try:
        stamp = path.stat().st_mtime
    except OSError:
        raise ConfigError(f"{preset.origins.get('replies', '?')}: {where}: file {path} not found. "
                          "Create it (a JSON list of replies) or fix the path.") from None
    if (path, stamp) in _cache:
        return _cache[(path, stamp)]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: replies file of preset {preset.name} is not valid JSON: {exc}.") from None
    if isinstance(data, list):
        script = Script(path, ((None, tuple(_reply(path, i, item) for i, item in enumerate(data))),))
    elif isinstance(data, dict) and "by_prompt" in data:
        script = Script(path, _by_prompt(path, preset.name, data))
    else:
        raise ConfigError(f"{path}: replies file of preset {preset.name} must hold a JSON list, or an object "
                          f'{{"by_prompt": [{{"when": "...", "replies": [...]}}]}}, got {_shown(data)}.')
    _cache[(path, stamp)] = script
    return script


_LIST_KEYS = ("when", "replies")


def _by_prompt(path: Path, preset: str, data: dict[str, Any]) -> _Lists:
    """The lists of a ``by_prompt`` file, each checked; an error names the file and the list's index."""
    shape = '{"when": "text the prompt holds", "replies": [...]}'
    unknown = sorted(data.keys() - {"by_prompt"})
    if unknown:
        raise ConfigError(f"{path}: replies file of preset {preset} has unknown key '{unknown[0]}' beside "
                          "'by_prompt' (the only key).")
    lists = data["by_prompt"]
    if not isinstance(lists, list) or not lists:
        raise ConfigError(f"{path}: 'by_prompt' of preset {preset} must be a non-empty list of {shape}, "
                          f"got {_shown(lists)}.")
    out = []
    for n, entry in enumerate(lists):
        where = f"by_prompt[{n}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: {where} is {_shown(entry)}; each list is {shape}.")
        unknown = sorted(entry.keys() - set(_LIST_KEYS))
        if unknown:
            raise ConfigError(f"{path}: {where} has unknown key '{unknown[0]}' (known: {', '.join(_LIST_KEYS)}).")
        when, replies = entry.get("when"), entry.get("replies")
        if isinstance(when, str):
            when = [when]
        if not isinstance(when, list) or not when or not all(isinstance(t, str) for t in when):
            raise ConfigError(f"{path}: {where} needs 'when', the text a prompt must hold to be answered from "
                              f"this list (a string, or a list of strings it must all hold; \"\" for any "
                              f"prompt), got {_shown(when)}.")
        if not isinstance(replies, list) or not replies:
            raise ConfigError(f"{path}: {where} needs 'replies', a non-empty list of replies, got {_shown(replies)}.")
        out.append((tuple(when), tuple(_reply(path, i, item, within=f"{where} ") for i, item in enumerate(replies))))
    return tuple(out)


_REPLY_KEYS = ("text", "delay_s", "error", "truncated", "tool_calls")
_CALL_KEYS = ("name", "arguments", "id")
_ERROR_KEYS = ("status", "kind", "retry_after_s", "message")
_SHAPE = 'a string, {"text": "..."} or {"error": {"status": 429}}'


def _reply(path: Path, i: int, item: Any, *, within: str = "") -> ScriptedReply:
    """Check one item of a replies file; the error names the file, the item's index (``within`` a
    by_prompt list) and what is wrong."""
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{path}: {within}reply [{i}] {what}; each reply is {_SHAPE}.")

    if isinstance(item, str):
        return ScriptedReply(item, None, None)
    if not isinstance(item, dict):
        raise bad(f"is {_shown(item)}")
    unknown = sorted(item.keys() - set(_REPLY_KEYS))
    if unknown:
        raise bad(f"has unknown key '{unknown[0]}' (known: {', '.join(_REPLY_KEYS)})")
    if "text" in item and "error" in item:
        raise bad("has both 'text' and 'error', which exclude each other")
    delay = item.get("delay_s")
    if delay is not None and not _is_number(delay, minimum=0):
        raise bad(f"delay_s must be a number of seconds ≥ 0, got {json.dumps(delay)}")
    truncated = item.get("truncated", False)
    if not isinstance(truncated, bool):
        raise bad(f"'truncated' must be true or false, got {_shown(truncated)}")
    if "error" in item:
        if "truncated" in item or "tool_calls" in item:
            other = "truncated" if "truncated" in item else "tool_calls"
            raise bad(f"has both '{other}' and 'error': a failed attempt answers nothing")
        return ScriptedReply(None, delay, _error(item["error"], bad))
    calls = _tool_calls(i, item.get("tool_calls", []), bad)
    if "text" not in item and not calls:
        raise bad("has neither 'text' nor 'error'" + (" nor 'tool_calls'" if "tool_calls" in item else ""))
    text = item.get("text", "")
    if not isinstance(text, str):
        raise bad(f"'text' must be a string, got {_shown(text)}")
    return ScriptedReply(text, delay, None, truncated, calls)


def _tool_calls(i: int, calls: Any, bad: Callable[[str], ConfigError]) -> tuple[ToolCall, ...]:
    """A reply's ``tool_calls``: a list of ``{"name": ..., "arguments": {...}}``, each checked."""
    if not isinstance(calls, list):
        raise bad(f"'tool_calls' must be a list of {{\"name\": ..., \"arguments\": {{...}}}}, got {_shown(calls)}")
    out = []
    for n, call in enumerate(calls):
        if not isinstance(call, dict):
            raise bad(f"tool_calls[{n}] is {_shown(call)}, not an object like {{\"name\": \"read_file\"}}")
        unknown = sorted(call.keys() - set(_CALL_KEYS))
        if unknown:
            raise bad(f"tool_calls[{n}] has unknown key '{unknown[0]}' (known: {', '.join(_CALL_KEYS)})")
        name, arguments, cid = call.get("name"), call.get("arguments", {}), call.get("id", f"call_{i}_{n}")
        if not isinstance(name, str) or not name.strip():
            raise bad(f"tool_calls[{n}] needs a 'name' (a string), got {_shown(name)}")
        if not isinstance(arguments, dict):
            raise bad(f"tool_calls[{n}] 'arguments' must be an object, got {_shown(arguments)}")
        if not isinstance(cid, str) or not cid:
            raise bad(f"tool_calls[{n}] 'id' must be a string, got {_shown(cid)}")
        out.append(ToolCall(cid, name, arguments))
    return tuple(out)


def _error(error: Any, bad: Callable[[str], ConfigError]) -> dict[str, Any]:
    if not isinstance(error, dict):
        raise bad(f"'error' must be an object like {{\"status\": 429}}, got {_shown(error)}")
    unknown = sorted(error.keys() - set(_ERROR_KEYS))
    if unknown:
        raise bad(f"error has unknown key '{unknown[0]}' (known: {', '.join(_ERROR_KEYS)})")
    status = error.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        raise bad(f"error status must be an HTTP status such as 429 or 500, got {json.dumps(status)}")
    retry_after = error.get("retry_after_s")
    if retry_after is not None and not _is_number(retry_after, minimum=0):
        raise bad(f"error retry_after_s must be a number of seconds ≥ 0, got {json.dumps(retry_after)}")
    if not isinstance(error.get("message", ""), str):
        raise bad("error message must be a string")
    if "kind" in error and error["kind"] not in ERROR_KINDS:
        raise bad(f"error kind {json.dumps(error['kind'])} is none of {', '.join(ERROR_KINDS)}")
    kind = error.get("kind") or (FailureKind.of_status(status) if isinstance(status, int) else None)
    if kind not in ERROR_KINDS:
        raise bad(f"error needs a status (e.g. 429, 500) or a kind ({', '.join(ERROR_KINDS)})")
    return {**error, "kind": FailureKind(kind)}


def _is_number(value: Any, *, minimum: float) -> bool:
    # JSON true/false are not numbers here, though Python counts bool as int.
    return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            and value >= minimum)


def _shown(value: Any) -> str:
    """``value`` as the user wrote it, with its JSON type: ``a number 123``, ``null``."""
    if value is None:
        return "null"
    kind = {bool: "a boolean", list: "a list", dict: "an object", str: "a string"}.get(type(value), "a number")
    text = json.dumps(value, ensure_ascii=False)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


class ScriptedBackend(Backend):
    """Answers from each preset's replies file in order, from where the run's ledger left off."""

    #: Its usage is the 4-characters-a-token estimate, not a count.
    reports_usage: ClassVar[bool] = False
    calls_tools: ClassVar[bool] = True

    def __init__(self, run: RunContext) -> None:
        super().__init__(run)
        self._cursor: dict[str, int] = {}

    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        assert isinstance(preset, ScriptedPreset)
        index = self._cursor.get(preset.name)
        if index is None:
            index = self.run.ledger.count_calls(self.run.run_id, preset.name)
        self._cursor[preset.name] = index + 1
        try:
            return await self._answer(preset, index, request, on_delta)
        except AttemptFailed:
            raise  # a scripted failure is a reply, consumed as a provider's error would be
        except BaseException:
            # Cut off (Ctrl-C, cancellation, a crash) or no reply left: the reply was not consumed.
            self._cursor[preset.name] = min(self._cursor[preset.name], index)
            raise

    @classmethod
    def preflight(cls, presets: Sequence[Preset], *, called: Collection[str] = ()) -> None:
        check_replies(presets, called=called)

    async def _answer(self, preset: ScriptedPreset, index: int, request: Request,
                      on_delta: OnDelta | None) -> Reply:
        script = load_replies(preset)
        replies = script.replies_for(preset.name, request)
        if index >= len(replies):
            which = " of the list its prompt chose" if script.by_prompt else ""
            raise ProviderError(
                f"scripted preset {preset.name} has no reply left: all {len(replies)} replies{which} in "
                f"{preset.replies_path} were used. Add replies to the file.",
                provider="scripted", kind=FailureKind.REPLIES_EXHAUSTED)
        reply = replies[index]
        delay = reply.delay_s if reply.delay_s is not None else preset.delay_s
        if delay:
            import asyncio  # here: the config loads this module, and should not pay for asyncio

            await asyncio.sleep(delay)
        model = preset.model  # the scripted stand-in, not the real model it is priced as
        if reply.error is not None:
            err = reply.error
            raise AttemptFailed(err["kind"], err.get("message") or f"scripted {err['kind']} error",
                                status=err.get("status"), retry_after=err.get("retry_after_s"), model=model)
        full = reply.text or ""
        text = _cut_to_cap(full, preset.max_tokens)
        if on_delta is not None:
            for line in text.splitlines(keepends=True):
                on_delta(line)
        said = Message("assistant", text, tool_calls=reply.tool_calls).text  # its tool calls are output too
        usage = estimated_usage(request, said)
        return Reply(text=text, usage=usage, model=model, estimated=True, truncated=reply.truncated or text != full,
                     tool_calls=reply.tool_calls)


def _cut_to_cap(text: str, cap: int | None) -> str:
    """The first ``cap`` tokens of ``text``, by the estimate's own measure (4 characters a token)."""
    if cap is None or estimate_tokens(text) <= cap:
        return text
    return text[:cap * 4]


def check_replies(presets: Iterable[Preset], *, called: Collection[str] = ()) -> None:
    """Read and check the replies file of every scripted preset among ``presets``, item by item.

    Called before a task (or a review) is created, so that a bad item is reported as a config error
    rather than as a task that fails at its first call. ``called`` names the presets certain to be
    called (the first step's, every reviewer of a review, ask's): an empty list is refused for
    them, as their first call would have no reply. (A preset that may never be reached, such as a
    fallback, may have none.)
    """
    for preset in presets:
        if isinstance(preset, ScriptedPreset) and load_replies(preset).empty and preset.name in called:
            raise ConfigError(f"{preset.replies_path}: replies file of preset {preset.name} is an empty list; "
                              f"add at least one reply ({_SHAPE}).")


register_backend(ScriptedBackend, ScriptedPreset)
