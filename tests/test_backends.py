"""The executor seam: a backend joins through the registry, and the layers wrap any backend.

The proof: a backend from a module outside ``src/`` (``tests/plugins/echo_backend.py``), installed
through the ``specrelay.backends`` entry points as a plugin package would be, declared as a preset
in a project's config and called by ``specrelay ask``, is recorded and priced like any other.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import pytest
from conftest import assert_clean_error, make_repo, run_cli, scripted, write_user_config

from specrelay import registry
from specrelay.config import Preset, load_config
from specrelay.errors import ConfigError, FailureKind, PresetError, ProviderError
from specrelay.ledger import Ledger
from specrelay.llm import AttemptFailed, Backend, Client, Message, Reply, Request, Tool
from specrelay.llm.backend import OnDelta, estimate_tokens

PLUGINS = Path(__file__).parent / "plugins"


def _install_plugin(site: Path) -> dict[str, str]:
    """A folder holding the echo plugin's distribution metadata, as pip would write it; the
    environment a process needs to find it (and its module)."""
    info = site / "specrelay_echo-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: specrelay-echo\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[specrelay.backends]\necho = echo_backend\n", encoding="utf-8")
    path = os.pathsep.join([str(site), str(PLUGINS), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {"PYTHONPATH": path, "COLUMNS": "200"}


ECHO_PRESETS = """
[presets.echo-priced]
provider = "echo"
model = "echo-1"
prefix = "heard: "
price = {input = 1.0, output = 2.0}

[presets.echo-free]
provider = "echo"
model = "echo-1"
"""


def test_a_plugin_backend_is_one_module_and_one_registration(tmp_path: Path) -> None:
    # In fresh processes: finding a plugin installed in the environment is what start-up does.
    env = _install_plugin(tmp_path / "site")
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text(ECHO_PRESETS, encoding="utf-8")

    listed = json.loads(run_cli("presets", "--json", cwd=repo, env=env, subprocess=True).stdout)
    presets = {p["name"]: p for p in listed}
    assert presets["echo-priced"]["provider"] == "echo" and presets["echo-priced"]["source"] == "project"

    proc = run_cli("ask", "hello there", "--preset", "echo-priced", "--json", cwd=repo, env=env, subprocess=True)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["text"] == "heard: hello there" and answer["model"] == "echo-1-echo"
    assert answer["provider"] == "echo" and answer["cost_usd"] == pytest.approx(
        (answer["input_tokens"] * 1.0 + answer["output_tokens"] * 2.0) / 1e6)
    assert run_cli("ask", "hi", "--preset", "echo-free", cwd=repo, env=env, subprocess=True).returncode == 0

    rows = json.loads(run_cli("cost", "--by", "preset", "--json", cwd=repo, env=env, subprocess=True).stdout)["rows"]
    by = {r["key"]: r for r in rows}
    assert by["echo-priced"]["ok_calls"] == 1 and by["echo-priced"]["cost_usd"] > 0
    assert by["echo-free"]["ok_calls"] == 1 and by["echo-free"]["cost_usd"] is None  # unknown, not zero
    assert by["echo-free"]["unknown_cost_calls"] == 1

    # The plugin's own field is checked like a built-in's: one line naming the file, the field, the fix.
    (repo / ".specrelay/config.toml").write_text(ECHO_PRESETS + 'prefx = "x"\n', encoding="utf-8")
    assert_clean_error(run_cli("presets", cwd=repo, env=env, subprocess=True), "[presets.echo-free]", "'prefx'",
                       "Did you mean 'prefix'")
    # Without the plugin, the provider is unknown, and the message says how backends are added.
    assert_clean_error(run_cli("presets", cwd=repo, subprocess=True), "[presets.echo-priced]", "'echo'",
                       "specrelay.backends")


class FlakyPreset(Preset):
    provider: Literal["flaky"]
    failures: int = 1


class FlakyBackend(Backend):
    """Fails its first ``failures`` attempts with a rate limit, then answers with what it was sent."""

    reports_usage: ClassVar[bool] = False
    seen: ClassVar[list[Request]] = []

    async def complete(self, preset: Preset, request: Request, on_delta: OnDelta | None) -> Reply:
        assert isinstance(preset, FlakyPreset)
        FlakyBackend.seen.append(request)
        if len(FlakyBackend.seen) <= preset.failures:
            raise AttemptFailed(FailureKind.RATE_LIMIT, "slow down", status=429, retry_after=0.0)
        return Reply(text=" | ".join(f"{m.role}:{m.content}" for m in request.messages), usage=None,
                     model=preset.model)


@pytest.fixture
def flaky() -> Iterator[type[FlakyBackend]]:
    before = registry.registered()
    FlakyBackend.seen = []
    registry.register_backend(FlakyBackend, FlakyPreset)
    yield FlakyBackend
    with registry._lock:  # leave the registry as other tests expect it
        registry._registered.clear()
        registry._registered.update(before)


FAST = "[retry]\nattempts = 3\nbackoff_s = 0.001\nmax_backoff_s = 0.01\n"


def _client(tmp_path: Path, text: str) -> Client:
    write_user_config(text)
    return Client(load_config(None), Ledger(tmp_path / "ledger.db"))


def test_the_layers_wrap_a_registered_backend(tmp_path: Path, flaky: type[FlakyBackend]) -> None:
    client = _client(tmp_path, FAST + '[presets.f]\nprovider = "flaky"\nmodel = "f-1"\n')
    request = Request((Message("system", "be brief"), Message("user", "hi"), Message("assistant", "hello"),
                       Message("user", "again")))
    result = asyncio.run(client.send("f", request, phase="t", key="k1"))
    assert result.text == "system:be brief | user:hi | assistant:hello | user:again"
    assert result.attempts == 2 and result.cost_usd is None  # no price for the model: the cost is unknown
    rows = client.ledger.calls()
    assert [r.outcome for r in rows] == ["rate_limit", "ok"]
    # Usage absent: estimated from the text (never a made-up zero), and marked so.
    assert rows[1].provider == "flaky" and rows[1].cost_usd is None
    assert (rows[1].input_tokens, rows[1].output_tokens) == (7, estimate_tokens(result.text))  # 2 + 1 + 2 + 2
    assert rows[1].estimated and result.estimated
    # Replayed from the ledger under its key: the backend is not called again.
    again = asyncio.run(client.send("f", request, phase="t", key="k1"))
    assert again.reused and again.text == result.text and len(flaky.seen) == 2


def test_a_backend_that_keeps_failing_falls_back(tmp_path: Path, flaky: type[FlakyBackend]) -> None:
    client = _client(tmp_path, FAST + '[presets.f]\nprovider = "flaky"\nmodel = "f-1"\nfailures = 9\n'
                     'fallbacks = ["s"]\n' + scripted("s", ["from the fallback"]))
    assert client.call_sync("f", "sys", "q", phase="t").text == "from the fallback"
    assert [r.outcome for r in client.ledger.calls()] == ["rate_limit"] * 3 + ["ok"]
    client = _client(tmp_path, FAST + '[presets.f]\nprovider = "flaky"\nmodel = "f-1"\nfailures = 9\n')
    with pytest.raises(ProviderError, match="preset f \\(flaky\\) failed") as info:
        client.call_sync("f", "sys", "q", phase="t")
    assert info.value.kind is FailureKind.RATE_LIMIT


def test_tools_are_refused_by_a_backend_that_does_not_call_them(tmp_path: Path, flaky: type[FlakyBackend]) -> None:
    client = _client(tmp_path, FAST + '[presets.f]\nprovider = "flaky"\nmodel = "f-1"\n')
    request = Request.of("sys", "q", tools=(Tool("read", "read a file", {"type": "object"}),))
    with pytest.raises(PresetError, match="preset 'f' \\(flaky\\) cannot call tools"):
        asyncio.run(client.send("f", request, phase="t"))


def test_a_preset_moved_to_another_backend_drops_what_it_does_not_read(tmp_path: Path) -> None:
    # local-coder (built in) has a base_url; moved to scripted it drops it, instead of refusing it.
    write_user_config(scripted("local-coder", ["x"]))
    preset = load_config(None).preset("local-coder")
    assert preset.provider == "scripted" and preset.endpoint is None
    # Still checked as the backend that reads it checks it.
    path = write_user_config(scripted("mine", ["x"], extra="base_url = 5"))
    with pytest.raises(ConfigError, match=f"{path}: \\[presets.mine\\] field 'base_url' must be a string"):
        load_config(None)


def test_registering_needs_a_preset_type_with_one_provider_name() -> None:
    class Vague(Preset):
        provider: str

    with pytest.raises(TypeError, match="Literal of one name"):
        registry.register_backend(FlakyBackend, Vague)
    with pytest.raises(TypeError, match="at least one preset type"):
        registry.register_backend(FlakyBackend)



def test_a_conversation_reaches_a_pydantic_ai_model_turn_by_turn(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    seen: list[list[tuple[str, str]]] = []

    def answer(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen.append([(type(m).__name__ + "." + type(p).__name__, getattr(p, "content", ""))
                     for m in messages for p in m.parts])
        return ModelResponse(parts=[TextPart("fine")])

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    write_user_config("")
    client = Client(load_config(None), Ledger(tmp_path / "ledger.db"), models={"gpt-reviewer": FunctionModel(answer)})
    request = Request((Message("system", "be brief"), Message("user", "hi"), Message("assistant", "hello"),
                       Message("user", "again")))
    assert asyncio.run(client.send("gpt-reviewer", request, phase="t")).text == "fine"
    assert seen == [[("ModelRequest.SystemPromptPart", "be brief"), ("ModelRequest.UserPromptPart", "hi"),
                     ("ModelResponse.TextPart", "hello"), ("ModelRequest.UserPromptPart", "again")]]


def test_a_backend_plugin_that_fails_to_load_is_one_line_naming_it(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path / "site")
    (tmp_path / "site" / "specrelay_echo-1.0.dist-info" / "entry_points.txt").write_text(
        "[specrelay.backends]\nbroken = no_such_backend_module\n", encoding="utf-8")
    repo = make_repo(tmp_path / "repo")
    proc = run_cli("presets", cwd=repo, env=env, subprocess=True)
    assert_clean_error(proc, "backend plugin 'broken' (no_such_backend_module) failed to load", "Fix or uninstall")


def test_agent_mode_on_a_backend_that_cannot_call_tools_names_the_preset_and_field(
        tmp_path: Path, flaky: type[FlakyBackend]) -> None:
    from specrelay.llm import preflight

    path = write_user_config(FAST + '[presets.f]\nprovider = "flaky"\nmodel = "f-1"\nmode = "agent"\n')
    config = load_config(None)
    with pytest.raises(PresetError) as info:
        preflight([config.preset("f")])
    assert str(info.value).startswith("preset 'f' (flaky) cannot call tools, which mode = \"agent\" (mode in "
                                      f"[presets.f] of {path}) needs")


def test_a_step_in_agent_mode_with_a_backend_that_calls_no_tools_is_refused_before_it_starts(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path / "site")
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay" / "workflows").mkdir(parents=True)
    (repo / ".specrelay/config.toml").write_text(ECHO_PRESETS, encoding="utf-8")
    (repo / ".specrelay/workflows/looped.md").write_text(
        "# Looped\n\n### [ ] Step: Planning\n<!-- agent: echo-free -->\nWrite spec.md.\n\n"
        "### [ ] Step: Implementation\n<!-- agent: echo-free -->\n<!-- mode: agent -->\nImplement it.\n",
        encoding="utf-8")
    proc = run_cli("run", "Add sub", "--workflow", "looped", cwd=repo, env=env, subprocess=True)
    assert_clean_error(proc, "looped.md:9: step 'Implementation' runs in agent mode",
                       "preset 'echo-free' (echo) cannot call tools")
    assert json.loads(run_cli("status", "--json", cwd=repo, env=env, subprocess=True).stdout) == []
