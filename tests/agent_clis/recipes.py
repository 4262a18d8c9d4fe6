"""How each coding-agent CLI runs headless and offline against the scripted model (model.py): the
binary, the config files and environment it needs, its command line, and where its machine-readable
output carries the usage.

The binaries come from ``.ci/setup-agents`` (``eval "$(.ci/setup-agents)"``), which sets:

- ``SPECRELAY_AGENT_BIN``: a directory holding ``codex``, ``claude``, ``gemini``, ``opencode``, ``aider``;
- ``SPECRELAY_AIDER_PRICES``: litellm's price file, which Aider would otherwise fetch at start;
- ``SPECRELAY_OPENCODE_CONFIG_DIR``: an OpenCode config dir with the plugin packages it would otherwise
  install from the npm registry on its first run.

API (``CLI`` is one of :data:`CLIS`: ``codex``, ``claude-code``, ``gemini-cli``, ``opencode``, ``aider``):

- ``binary(cli) -> Path``: the binary; when it is missing the test is skipped saying how to install it,
  or fails when ``SPECRELAY_REQUIRE_AGENTS=1`` (CI).
- ``environment(cli, home, base_url, model="fake-model") -> dict``: writes the CLI's config files under
  ``home`` (a fresh temp dir: its HOME, XDG dirs, CODEX_HOME, ...) pointing it at ``base_url`` (the
  scripted model's root, no ``/v1``), and returns the whole environment to run it with: PATH (the agent
  bin dir first), HOME and the rest, a dummy key, the switches that keep it off the network. Nothing of
  the caller's environment is in it.
- ``command(cli, prompt, *, write=True, model="fake-model", files=(), history=None) -> list[str]``: the
  headless command line (``argv[0]`` the binary name, found on the environment's PATH): machine-readable
  output, permissions that let it write in its working directory, for Aider the ``files`` it may edit and
  its history files under ``history``. ``write=False`` is read-only: Codex ``-s read-only`` (the command
  fails in the sandbox), Claude Code ``--permission-mode plan`` (the write is refused and listed in
  ``permission_denials``, exit 0), Gemini CLI's default approval mode (no write tool offered), OpenCode
  ``--agent plan`` (the write tool is offered, its call refused), Aider ``--dry-run``.
- ``run(cli, repo, home, base_url, prompt, *, write=True, timeout=180, files=(), extra=()) -> CompletedProcess``:
  both of the above (with ``extra`` arguments at the end), run in ``repo`` with stdin closed, in its own
  process group (killed whole at the timeout).
- ``reported_usage(cli, stdout) -> Usage``: the usage the CLI's output says it used (summed over its
  turns), in model.py's :class:`Usage`; for Aider, its own estimate from the text.
- ``output_json(stdout) -> dict``: the one JSON object Claude Code and Gemini CLI print;
  ``jsonl(stdout) -> list[dict]``: the JSONL events of Codex and OpenCode.
- ``reported_cost(cli, stdout) -> float | None``: the cost the CLI reports itself (Claude Code,
  OpenCode), else None.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent_clis.model import Usage

CLIS = ("codex", "claude-code", "gemini-cli", "opencode", "aider")
BINARY = {"codex": "codex", "claude-code": "claude", "gemini-cli": "gemini", "opencode": "opencode",
          "aider": "aider"}
KEY = "sk-agent-dummy"
#: USD per million tokens that OpenCode's config gives the fake model, so that OpenCode reports a cost.
OPENCODE_PRICES = {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}


def binary(cli: str) -> Path:
    """The CLI's binary from SPECRELAY_AGENT_BIN: skipped without it, failed under SPECRELAY_REQUIRE_AGENTS=1."""
    folder = os.environ.get("SPECRELAY_AGENT_BIN")
    path = Path(folder) / BINARY[cli] if folder else None
    if path is not None and path.exists():
        return path
    reason = (f"no {BINARY[cli]} binary ({'SPECRELAY_AGENT_BIN is not set' if not folder else f'not in {folder}'}):"
              ' run eval "$(.ci/setup-agents)"')
    if os.environ.get("SPECRELAY_REQUIRE_AGENTS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _need(variable: str) -> Path:
    value = os.environ.get(variable)
    if not value or not Path(value).exists():
        reason = f"{variable} is not set or names nothing: run eval \"$(.ci/setup-agents)\""
        if os.environ.get("SPECRELAY_REQUIRE_AGENTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(value)


def environment(cli: str, home: Path, base_url: str, model: str = "fake-model") -> dict[str, str]:
    """Writes the CLI's config under ``home`` and returns the environment to run it with (see the module)."""
    folder = binary(cli).parent
    dirs = {name: home / sub for name, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"),
                                               ("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data"),
                                               ("XDG_STATE_HOME", "state"), ("TMPDIR", "tmp"))}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{folder}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
           "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1", **{k: str(v) for k, v in dirs.items()}}
    if cli == "codex":
        codex_home = home / "codex"
        codex_home.mkdir(exist_ok=True)
        (codex_home / "config.toml").write_text(_CODEX_CONFIG.format(model=model, base_url=base_url))
        env |= {"CODEX_HOME": str(codex_home), "FAKE_API_KEY": KEY}
    elif cli == "claude-code":
        env |= {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": KEY,
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
                "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}
    elif cli == "gemini-cli":
        settings = dirs["HOME"] / ".gemini" / "settings.json"
        settings.parent.mkdir(exist_ok=True)
        settings.write_text(json.dumps(_GEMINI_SETTINGS))
        env |= {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": base_url, "GEMINI_CLI_TRUST_WORKSPACE": "true"}
    elif cli == "opencode":
        prepared = _need("SPECRELAY_OPENCODE_CONFIG_DIR")
        _copy_tree(prepared, dirs["XDG_CONFIG_HOME"] / "opencode")
        config = home / "opencode.json"
        config.write_text(json.dumps(_opencode_config(base_url, model)))
        env |= {"OPENCODE_CONFIG": str(config), "OPENCODE_DISABLE_MODELS_FETCH": "1",
                "OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
                "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1"}
    elif cli == "aider":
        caches = dirs["HOME"] / ".aider" / "caches"
        caches.mkdir(parents=True, exist_ok=True)
        # Aider trusts this copy for 24 hours by its age: a fresh copy each run.
        shutil.copyfile(_need("SPECRELAY_AIDER_PRICES"), caches / "model_prices_and_context_window.json")
        # litellm, imported by Aider, fetches its own price map from raw.githubusercontent.com without this.
        env |= {"OPENAI_API_BASE": f"{base_url}/v1", "OPENAI_API_KEY": KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    else:
        raise ValueError(f"no such agent CLI: {cli}")
    return env


def _copy_tree(source: Path, target: Path) -> None:
    """A copy of ``source`` made of hard links where it can be (4000 files: 0.7 s, against 7 s copied on a
    busy machine), copied where it cannot (another filesystem). A copy made already (marked when whole) is
    kept: the same home prepared twice (``environment`` then ``run``) is not an error."""
    done = target / ".specrelay-copied"
    if done.exists():
        return

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, copy_function=link)
    done.touch()


def command(cli: str, prompt: str, *, write: bool = True, model: str = "fake-model", files: Sequence[str] = (),
            history: Path | None = None) -> list[str]:
    """The headless command line (see the module)."""
    if cli == "codex":
        return ["codex", "exec", "--json", "--skip-git-repo-check", "-s",
                "workspace-write" if write else "read-only", prompt]
    if cli == "claude-code":
        return ["claude", "-p", prompt, "--output-format", "json", "--model", model,
                "--permission-mode", "acceptEdits" if write else "plan"]
    if cli == "gemini-cli":
        return ["gemini", "-p", prompt, "--output-format", "json", "-m", model,
                "--approval-mode", "auto_edit" if write else "default"]
    if cli == "opencode":
        return ["opencode", "run", "--pure", "--format", "json", *([] if write else ["--agent", "plan"]), prompt]
    if cli == "aider":
        return ["aider", "--model", f"openai/{model}", "--edit-format", "whole", "--message", prompt,
                "--yes-always", "--no-auto-commits", "--no-check-update", "--no-show-release-notes",
                "--analytics-disable", "--no-show-model-warnings", "--no-gitignore", "--no-pretty",
                "--input-history-file", str(history / "input.history") if history else os.devnull,
                "--chat-history-file", str(history / "chat.history.md") if history else os.devnull,
                *([] if write else ["--dry-run"]), *files]
    raise ValueError(f"no such agent CLI: {cli}")


def run(cli: str, repo: Path, home: Path, base_url: str, prompt: str, *, write: bool = True,
        timeout: float = 180, files: Sequence[str] = (), model: str = "fake-model",
        extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Runs the CLI in ``repo`` (stdin closed, own process group, killed whole at ``timeout``), with the
    ``extra`` arguments after its own."""
    env = environment(cli, home, base_url, model)
    argv = [*command(cli, prompt, write=write, model=model, files=files, history=home), *extra]
    proc = subprocess.Popen(argv, cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            executable=shutil.which(argv[0], path=env["PATH"]))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{cli} did not finish in {timeout} s\nstdout:\n{out}\nstderr:\n{err}") from None
    finally:
        try:  # whatever it left behind (a server, a helper) goes with it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def jsonl(stdout: str) -> list[dict[str, Any]]:
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def output_json(stdout: str) -> dict[str, Any]:
    """The CLI's one JSON object (the last one, should anything come before it)."""
    start = stdout.find("{")
    decoded: dict[str, Any] = json.loads(stdout[start:]) if start >= 0 else {}
    return decoded


def reported_usage(cli: str, stdout: str) -> Usage:
    """The usage the CLI's own output reports (see the module)."""
    if cli == "codex":
        total = Usage(0, 0)
        for event in jsonl(stdout):
            if event.get("type") == "turn.completed":
                u = event["usage"]
                cached = int(u.get("cached_input_tokens", 0))
                total = total + Usage(int(u["input_tokens"]) - cached, int(u["output_tokens"]), cache_read=cached,
                                      cache_write=int(u.get("cache_write_input_tokens", 0)),
                                      reasoning=int(u.get("reasoning_output_tokens", 0)))
        return total
    if cli == "claude-code":
        u = output_json(stdout)["usage"]
        return Usage(int(u["input_tokens"]), int(u["output_tokens"]),
                     cache_read=int(u.get("cache_read_input_tokens", 0)),
                     cache_write=int(u.get("cache_creation_input_tokens", 0)))
    if cli == "gemini-cli":
        total = Usage(0, 0)
        for stats in output_json(stdout)["stats"]["models"].values():
            t = stats["tokens"]
            cached = int(t.get("cached", 0))
            total = total + Usage(int(t["prompt"]) - cached, int(t["candidates"]), cache_read=cached,
                                  reasoning=int(t.get("thoughts", 0)))
        return total
    if cli == "opencode":
        total = Usage(0, 0)
        for event in jsonl(stdout):
            if event.get("type") == "step_finish":
                t = event["part"]["tokens"]
                cache = t.get("cache") or {}
                total = total + Usage(int(t["input"]), int(t["output"]), cache_read=int(cache.get("read", 0)),
                                      cache_write=int(cache.get("write", 0)), reasoning=int(t.get("reasoning", 0)))
        return total
    if cli == "aider":
        total = Usage(0, 0)
        for sent, received in re.findall(r"Tokens: ([\d.,]+k?) sent, ([\d.,]+k?) received", stdout):
            total = total + Usage(_count(sent), _count(received))
        return total
    raise ValueError(f"no such agent CLI: {cli}")


def reported_cost(cli: str, stdout: str) -> float | None:
    """The cost in USD the CLI reports itself: Claude Code's ``total_cost_usd``, OpenCode's summed
    ``step_finish`` cost; None for the others."""
    if cli == "claude-code":
        return float(output_json(stdout)["total_cost_usd"])
    if cli == "opencode":
        return sum(float(e["part"].get("cost", 0)) for e in jsonl(stdout) if e.get("type") == "step_finish")
    return None


def _count(text: str) -> int:
    """Aider's token counts: ``950``, ``1.2k``, ``12k``."""
    text = text.replace(",", "")
    return round(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


_CODEX_CONFIG = """\
model = "{model}"
model_provider = "fake"
check_for_update_on_startup = false
[model_providers.fake]
name = "fake"
base_url = "{base_url}/v1"
env_key = "FAKE_API_KEY"
wire_api = "responses"
[analytics]
enabled = false
[features]
plugins = false
remote_plugin = false
apps = false
plugin_sharing = false
tool_suggest = false
"""

_GEMINI_SETTINGS = {"general": {"disableAutoUpdate": True, "disableUpdateNag": True},
                    "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
                    "security": {"auth": {"selectedType": "gemini-api-key"}}}


def _opencode_config(base_url: str, model: str) -> dict[str, Any]:
    return {"model": f"fake/{model}", "small_model": f"fake/{model}", "autoupdate": False, "share": "disabled",
            "provider": {"fake": {"npm": "@ai-sdk/openai-compatible", "name": "Fake",
                                  "options": {"baseURL": f"{base_url}/v1", "apiKey": KEY},
                                  "models": {model: {"name": "Fake Model", "cost": OPENCODE_PRICES,
                                                     "limit": {"context": 128000, "output": 4096}}}}}}
