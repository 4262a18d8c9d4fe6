"""Config layers: built-in, user, project; merged field by field; errors name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_repo, write_user_config

from specrelay.config import load_config
from specrelay.errors import ConfigError, PresetError

BUILTIN = {"opus-planner", "sonnet-reviewer", "flash-builder", "gpt-reviewer", "gemini-reviewer", "local-coder"}


def test_builtin_presets_are_known_to_genai_prices() -> None:
    from specrelay.llm.pricing import unit_price

    config = load_config(None)
    assert BUILTIN <= set(config.presets)
    for name in BUILTIN:
        preset = config.preset(name)
        assert preset.source == "built-in"
        assert unit_price(preset) is not None, name
    assert config.preset("local-coder").base_url == "http://localhost:11434/v1"


def test_user_then_project_override_field_by_field(tmp_path: Path) -> None:
    write_user_config('[presets.flash-builder]\ntemperature = 0.7\n\n'
                      '[presets.mine]\nprovider = "openai"\nmodel = "gpt-5.4"\n')
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text('[presets.flash-builder]\nmax_tokens = 123\n')
    config = load_config(repo)
    fb = config.preset("flash-builder")
    assert (fb.temperature, fb.max_tokens, fb.model) == (0.7, 123, "gemini-3.8-flash")
    assert fb.source == "project"
    assert config.preset("mine").source == "user"
    assert load_config(None).preset("flash-builder").max_tokens != 123


def test_invalid_toml_names_file_and_line() -> None:
    path = write_user_config('[presets.x]\nmodel = "a"\nprovider = \n')
    with pytest.raises(ConfigError) as info:
        load_config(None)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_unknown_field_names_file_preset_field_and_allowed() -> None:
    path = write_user_config('[presets.opus-planner]\ntemprature = 0.1\n')
    with pytest.raises(ConfigError) as info:
        load_config(None)
    msg = str(info.value)
    assert str(path) in msg and "presets.opus-planner" in msg and "'temprature'" in msg
    assert "temperature" in msg and "max_concurrency" in msg


@pytest.mark.parametrize("text,needle", [
    ('[presets.opus-planner]\ntemperature = "hot"\n', "temperature"),
    ('[presets.opus-planner]\nprovider = "azure"\n', "provider"),
    ('[presets.new]\nprovider = "openai"\n', "missing required field 'model'"),
    ('[presets.opus-planner]\nfallbacks = ["nope"]\n', "unknown preset 'nope'"),
    ('[presets.s]\nprovider = "scripted"\nmodel = "s"\n', "replies"),
    ('[presets.l]\nprovider = "openai-compatible"\nmodel = "m"\n', "base_url"),
    ('[routes]\nask = "nope"\n', "unknown preset 'nope'"),
    ('[verify]\ncommand = "pytest"\n', "'command'"),
    ('[budgets]\ntask_usd = 1\n', "'budgets'"),
    ('[retry]\nattempts = 0\n', "attempts"),
])
def test_bad_values_name_the_field(text: str, needle: str) -> None:
    path = write_user_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(None)
    assert needle in str(info.value)
    assert str(path) in str(info.value) or "[routes]" in str(info.value)


def test_unknown_preset_lists_known_ones() -> None:
    with pytest.raises(PresetError) as info:
        load_config(None).preset("opus-planer")
    assert "Did you mean opus-planner" in str(info.value) and "local-coder" in str(info.value)


def test_key_present_reads_env_and_named_env(monkeypatch: pytest.MonkeyPatch) -> None:
    write_user_config('[presets.custom]\nprovider = "openai"\nmodel = "gpt-5.4"\napi_key_env = "MY_KEY"\n')
    config = load_config(None)
    assert config.preset("custom").key_present is False
    monkeypatch.setenv("MY_KEY", "sk-test")
    assert config.preset("custom").key_present is True
    assert config.preset("gemini-reviewer").key_envs == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "g")
    assert config.preset("gemini-reviewer").key_present is True
    assert config.preset("local-coder").key_present is None
