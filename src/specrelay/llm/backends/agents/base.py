"""What every external coding agent shares: its preset fields, how it is run, and how it fails.

An agent is a CLI (Codex, Claude Code, Gemini CLI, OpenCode, Aider) that specrelay runs headless in the
request's working directory (a task's worktree) with the request's messages as one prompt, in a process
group of its own with a timeout and stdin closed (:func:`specrelay.proc.run`), and an environment without
the keys of other providers. It edits files itself (``edits_worktree``) when the request is writable, and
only reads them when it is not. Each agent's module says its command line and reads its machine-readable
output into a :class:`~specrelay.llm.backend.Reply`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from abc import abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from specrelay import family, registry
from specrelay.config import Installed, Preset, Text
from specrelay.errors import CommandNotRunnable, ConfigError, FailureKind
from specrelay.llm.backend import AttemptFailed, Backend, OnDelta, Reply, Request

#: The ``model`` of an agent preset that names none: the agent runs its own default model.
DEFAULT_MODEL = "default"
#: The longest prompt passed as one argument (Linux refuses a single argument over 128 KiB).
MAX_PROMPT_BYTES = 120_000
_OBJECT_START = re.compile(r"^[ \t]*\{", re.MULTILINE)
#: How long ``--version`` may take when ``specrelay presets`` asks.
VERSION_TIMEOUT_S = 10.0


class AgentPreset(Preset):
    """A preset run by an external coding agent: which binary, which model, which extra flags."""

    #: The model the agent is asked for; ``default``: the agent's own default.
    model: Text = DEFAULT_MODEL
    #: The binary to run, a name on PATH or a path; unset: the agent's usual binary.
    command: Text | None = None
    #: Extra flags, added after specrelay's own.
    args: list[Text] = Field(default_factory=list)
    #: Environment variables passed to the agent besides its own keys (all others but keys pass anyway).
    pass_env: list[Text] = Field(default_factory=list)
    timeout_s: float = Field(default=1800.0, gt=0)
    max_concurrency: int = Field(default=1, ge=1)

    #: The binary's usual name, and how to install it (for the error when it is missing).
    binary: ClassVar[str] = ""
    install: ClassVar[str] = ""
    #: The keys this agent reads from the environment (kept; other providers' keys are dropped).
    agent_key_envs: ClassVar[tuple[str, ...]] = ()
    #: genai-prices' provider id for the agent's models (its tokens are priced when it reports no cost).
    price_provider: ClassVar[str | None] = None

    @property
    def executable(self) -> str:
        return self.command or self.binary

    @property
    def chosen_model(self) -> str | None:
        """The model to ask the agent for, or None to leave it to the agent."""
        return None if self.model == DEFAULT_MODEL else self.model

    @property
    def concurrency_key(self) -> str:
        return f"{self.provider}:{self.name}"

    def price_model(self) -> tuple[str, str | None] | None:
        return None if self.chosen_model is None else (self.model, self.price_provider)

    def guessed_family(self) -> str:
        # An agent made for one provider's models is of that family; one that runs many (OpenCode, Aider)
        # is of the family its model names, else its own.
        return self.price_provider or family.from_model(self.model) or self.provider

    def priced_as(self, model: str) -> Preset:
        if model and model != self.model and self.chosen_model is None:
            return self.model_copy(update={"model": model})
        return self

    def installed(self) -> Installed:
        path = find_binary(self)
        return Installed(self.executable, path, binary_version(path) if path else None, self.install)

    @property
    def turns_bound(self) -> int | None:
        """The preset's ``max_turns`` when the user set it (an agent's own loop is not bounded by
        specrelay's default for its tool loop)."""
        return self.max_turns if "max_turns" in self.model_fields_set else None

    def keys_kept(self) -> set[str]:
        """The key variables the agent may read: its own, and those the preset passes."""
        return {*self.agent_key_envs, *self.pass_env, *([self.api_key_env] if self.api_key_env else [])}


#: The key variables of each provider an agent that serves several (OpenCode, Aider) may reach.
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "google": ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GENERATIVE_AI_API_KEY"),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


def provider_keys(model: str) -> tuple[str, ...]:
    """The key variables of the provider a ``provider/model`` name names: the usual ones of the big
    three, else ``PROVIDER_API_KEY`` (``openrouter/...``: ``OPENROUTER_API_KEY``, as OpenCode and Aider
    read it); none for a name without a provider."""
    if "/" not in model:
        return ()
    provider = model.split("/", 1)[0].strip()
    if provider in PROVIDER_KEYS:
        return PROVIDER_KEYS[provider]
    return (re.sub(r"[^A-Za-z0-9]", "_", provider).upper() + "_API_KEY",) if provider else ()


def every_provider_key() -> tuple[str, ...]:
    """The big three's key variables: what an agent that picks its own model may read."""
    return tuple(dict.fromkeys(k for keys in PROVIDER_KEYS.values() for k in keys))


def changed_files(cwd: Path) -> dict[str, tuple[int, int, int]] | None:
    """The files with uncommitted changes in the git tree at ``cwd``, each with its size, modification
    and change time (what a read-only run must leave as it found); None outside a git tree."""
    from specrelay.errors import GitError
    from specrelay.gitrepo import is_dirty, worktree_top

    try:
        files = is_dirty(cwd)
        top = worktree_top(cwd)
    except GitError:
        return None
    found: dict[str, tuple[int, int, int]] = {}
    for name in files:
        try:
            st = (top / name).stat()
        except OSError:
            found[name] = (-1, -1, -1)
            continue
        found[name] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return found


def find_binary(preset: AgentPreset) -> str | None:
    """The path of the preset's binary, or None when it is not there."""
    command = preset.executable
    if os.sep in command:
        path = Path(command).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(command)


@functools.cache
def binary_version(path: str) -> str | None:
    """What ``PATH --version`` prints (its first line); None when it fails. Kept in specrelay's cache by
    the binary's size, inode and change time (of the file a link leads to): an agent CLI takes a second
    or more to start, so ``presets`` asks each binary once, and again only when it was reinstalled."""
    from specrelay import paths
    from specrelay.fsutil import atomic_write_text

    try:
        st = os.stat(os.path.realpath(path))
    except OSError:
        return None
    # Not the modification time: npm installs files with a fixed one, and a launcher keeps its size
    # across versions; a new install makes a new file (inode) with a new change time.
    stamp = [st.st_size, st.st_ino, st.st_ctime_ns]
    cache = paths.cache_dir() / "agent-versions.json"
    entry = _read_cache(cache).get(path)
    if isinstance(entry, dict) and entry.get("stamp") == stamp:
        return entry.get("version") if isinstance(entry.get("version"), str) else None
    version = _ask_version(path)
    if version is not None:
        with _CACHE_LOCK, contextlib.suppress(OSError):  # a cache not written only costs the next ask
            known = _read_cache(cache)
            known[path] = {"stamp": stamp, "version": version}
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache, json.dumps(known, indent=1))
    return version


_CACHE_LOCK = threading.Lock()  # ``presets`` asks the binaries from several threads


def _read_cache(cache: Path) -> dict[str, Any]:
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _ask_version(path: str) -> str | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                             stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = [line.strip() for line in (out.stdout or out.stderr).splitlines() if line.strip()]
    return lines[0] if out.returncode == 0 and lines else None


def missing_binary(preset: AgentPreset) -> str:
    """The one line saying a preset's binary is missing, and how to install it."""
    where = preset.where("command") if preset.command else preset.where("provider")
    return (f"{where}: [presets.{preset.name}] runs `{preset.executable}`, which is not installed or not on "
            f"PATH; install it ({preset.install}) or set command = \"/path/to/{preset.binary}\".")


def render_prompt(request: Request) -> str:
    """The request's messages as one prompt: the system text first, then each turn."""
    parts = []
    for message in request.messages:
        if message.role == "system":
            parts.append(message.content.strip())
        else:
            parts.append(f"## {message.role.capitalize()}\n\n{message.content.strip()}")
    return "\n\n".join(p for p in parts if p)


def one_line(text: str, limit: int = 400) -> str:
    """``text`` squeezed to one line of at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def last_words(output: str) -> str:
    """The last lines a program printed, in one line (what it said before it ended)."""
    lines = [line for line in output.splitlines() if line.strip()]
    return one_line(" ".join(lines[-3:])) if lines else "it printed nothing"


def json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``text`` that starts a line (a JSONL stream, or one object among lines of
    noise on stderr), in order."""
    decoder = json.JSONDecoder()
    pos = 0
    while (found := _OBJECT_START.search(text, pos)) is not None:
        try:
            value, pos = decoder.raw_decode(text, found.end() - 1)
        except json.JSONDecodeError:
            pos = found.end()
            continue
        if isinstance(value, dict):
            yield value


def count(value: object) -> int:
    """A token count from an agent's output (0 for anything that is not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class AgentBackend(Backend):
    """Runs one agent CLI headless per call; a subclass says its command line and reads its output."""

    edits_worktree: ClassVar[bool] = True
    capped_by_output: ClassVar[bool] = False
    #: Paths the agent leaves in the working directory for itself (a cache, which its backend removes
    #: after the run): not a change a read-only run is blamed for.
    own_files: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def argv(self, preset: AgentPreset, writable: bool) -> list[str]:
        """specrelay's flags for one headless run (the preset's ``args`` follow them, then the prompt)."""

    def limits_argv(self, preset: AgentPreset, request: Request) -> list[str]:
        """Flags that bound the run (its turns, what it may spend), for an agent that takes them; none
        by default."""
        return []

    def prompt_argv(self, prompt: str) -> list[str]:
        """How the prompt is passed: as the last argument by default."""
        return [prompt]

    @abstractmethod
    def parse(self, preset: AgentPreset, output: str) -> Reply:
        """The reply in the agent's output (stdout and stderr together); AttemptFailed when there is none."""

    def extra_env(self, preset: AgentPreset, writable: bool, cwd: Path) -> Mapping[str, str]:
        """Variables the agent needs set for a headless run in ``cwd`` (none by default)."""
        return {}

    def environment(self, preset: AgentPreset, writable: bool, cwd: Path) -> dict[str, str]:
        """The user's environment (their HOME, so that their login works) without any key but its own:
        not other providers' usual ones, nor those the user's presets name."""
        from specrelay.proc import scrubbed_env

        drop = (registry.key_envs() | self.run.secret_envs) - preset.keys_kept()
        return scrubbed_env(drop, extra=self.extra_env(preset, writable, cwd))

    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        from specrelay.proc import run

        assert isinstance(preset, AgentPreset)
        binary = find_binary(preset)
        if binary is None:
            raise AttemptFailed(FailureKind.REJECTED, missing_binary(preset), model=preset.model)
        prompt = render_prompt(request)
        if len(prompt.encode()) > MAX_PROMPT_BYTES:
            raise AttemptFailed(FailureKind.REJECTED, f"the prompt for {preset.name} is {len(prompt.encode()):,} "
                                f"bytes, more than the {MAX_PROMPT_BYTES:,} one argument may hold",
                                model=preset.model)
        cwd = request.cwd or Path.cwd()
        before = await asyncio.to_thread(changed_files, cwd) if request.guard_tree and not request.writable else None
        command = [binary, *self.argv(preset, request.writable), *self.limits_argv(preset, request), *preset.args,
                   *self.prompt_argv(prompt)]
        with tempfile.TemporaryDirectory(prefix="specrelay-agent-") as tmp:
            log = Path(tmp) / "output.log"
            try:
                done = await run(command, cwd=cwd, log=log, env=self.environment(preset, request.writable, cwd),
                                 timeout_s=preset.timeout_s)
            except CommandNotRunnable as exc:
                raise AttemptFailed(FailureKind.REJECTED, str(exc), model=preset.model) from exc
            output = log.read_text(encoding="utf-8", errors="replace")
        # A failed run is not tried again here: the agent retries its own API calls, and another run
        # would start over on a worktree the first one may have half edited, paid for again.
        if done.timed_out:
            raise AttemptFailed(FailureKind.TIMEOUT, f"{preset.executable} did not finish within "
                                f"{preset.timeout_s:g} s and was stopped (timeout_s of [presets.{preset.name}])",
                                model=preset.model, retryable=False, spent=self.ended(preset, output)[0])
        if done.exit_code != 0:
            spent, why, advice = self.ended(preset, output)
            raise AttemptFailed(FailureKind.ERROR, f"{preset.executable} exited with code {done.exit_code}: {why}",
                                model=preset.model, retryable=False, spent=spent, advice=advice)
        reply = self.parse(preset, output)
        if before is not None:
            await self.check_untouched(preset, cwd, before, reply)
        if on_delta is not None and reply.text:
            on_delta(reply.text)
        return reply

    async def check_untouched(self, preset: AgentPreset, cwd: Path, before: dict[str, tuple[int, int, int]],
                              reply: Reply) -> None:
        """A run that was to only read (a review in a task's worktree) must have left the tree as it was:
        else it fails, naming the files (left as they are, for the user to look at)."""
        after = await asyncio.to_thread(changed_files, cwd)
        if after is None:
            return
        touched = sorted(f for f in {f for f in after if before.get(f) != after[f]} | (before.keys() - after.keys())
                         if not any(f == own or f.startswith(own + "/") for own in self.own_files))
        if touched:
            shown = ", ".join(touched[:5]) + (f" and {len(touched) - 5} more" if len(touched) > 5 else "")
            raise AttemptFailed(FailureKind.REJECTED, f"{shown} changed in {cwd} while {preset.executable} ran "
                                "read-only (by it, or by another reviewer beside it); its answer is not used, "
                                "and the changes are left there",
                                model=reply.model, retryable=False, spent=reply,
                                advice=f"check the permissions [presets.{preset.name}] gives the agent "
                                "(its args); then discard the changes or keep them by hand")

    def ended(self, preset: AgentPreset, output: str) -> tuple[Reply | None, str, str | None]:
        """What the output of a run that failed says of it: what it had used by then (its tokens and its
        own cost: a failure is paid for too; None when it says nothing), why it failed, and what to do
        when the agent's account says (None: the usual advice)."""
        try:
            reply = self.parse(preset, output)
        except AttemptFailed as failed:
            if failed.spent is not None and failed.kind is FailureKind.ERROR:  # the agent's own account
                return failed.spent, str(failed), failed.advice
            return failed.spent, self.failure(output), None
        return (reply if reply.usage is not None or reply.cost_usd is not None else None), self.failure(output), None

    def failure(self, output: str) -> str:
        """The agent's own message for a failed run, in one line (its error object, else its last lines)."""
        for obj in reversed(list(json_objects(output))):
            for key in ("error", "result", "message"):
                value = obj.get(key)
                if isinstance(value, dict):  # {"message": ...}, or OpenCode's {"data": {"message": ...}}
                    data = value.get("data")
                    value = value.get("message") or (data.get("message") if isinstance(data, dict) else None)
                if isinstance(value, str) and value.strip():
                    return one_line(value)
        return last_words(output)

    def invalid(self, preset: AgentPreset, output: str, what: str) -> AttemptFailed:
        """The failure of a run whose output could not be read."""
        return AttemptFailed(FailureKind.INVALID_OUTPUT, f"{preset.executable} printed no {what}: "
                             f"{self.failure(output)}", model=preset.model)

    @classmethod
    def preflight(cls, presets: Sequence[Preset], *, called: Collection[str] = ()) -> None:
        for preset in presets:
            if isinstance(preset, AgentPreset) and find_binary(preset) is None:
                raise ConfigError(missing_binary(preset))
