"""Config types are strict: values are taken as written, and a config path must be a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli, write_user_config
from taskkit import happy_replies, project

from specrelay.config import load_config
from specrelay.errors import ConfigError


def test_integers_fill_float_fields() -> None:
    write_user_config("[budget]\ntask_usd = 5\n[verify]\ntimeout_s = 30\n[presets.flash-builder]\ntemperature = 1\n")
    config = load_config(None)
    assert config.budget.task_usd == 5.0 and isinstance(config.budget.task_usd, float)
    assert config.verify.timeout_s == 30.0
    assert config.presets["flash-builder"].temperature == 1.0


@pytest.mark.parametrize("text,needles", [
    ('[budget]\ntask_usd = "5"\n', ["[budget]", "'task_usd'", "'5' (a string)"]),
    ("[presets.flash-builder]\nmax_concurrency = true\n", ["'max_concurrency'", "true (a boolean)"]),
    ("[presets.flash-builder]\nmax_concurrency = 2.0\n", ["'max_concurrency'", "whole number"]),
    ('[verify]\ncommands = [""]\n', ["'commands[0]'", "empty"]),
    ("[presets.flash-builder]\nmodel = 4\n", ["'model'", "must be a string"]),
    ("[presets.flash-builder]\napi_key_env = \"\"\n", ["'api_key_env'", "empty"]),
    ("[presets.flash-builder]\ntimeout_s = nan\n", ["'timeout_s'", "finite"]),
])
def test_no_coercion(text: str, needles: list[str]) -> None:
    path = write_user_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(None)
    assert str(info.value).startswith(str(path))
    for needle in needles:
        assert needle in str(info.value)


def test_project_config_that_is_a_directory(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    config = repo / ".specrelay" / "config.toml"
    config.unlink()
    config.mkdir()
    for args in (["run", "Add sub"], ["presets"], ["workflows"]):
        assert_clean_error(run_cli(*args, cwd=repo), ".specrelay/config.toml", "is a directory")
    assert not (repo / ".specrelay" / "worktrees").exists()


def test_user_config_that_is_a_directory(tmp_path: Path) -> None:
    home = write_user_config("").parent
    (home / "config.toml").unlink()
    (home / "config.toml").mkdir()
    assert_clean_error(run_cli("presets", cwd=tmp_path), "specrelay-home/config.toml", "is a directory")
