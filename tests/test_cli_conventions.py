"""The conventions of a command line tool, through the CLI: version, -h, completion, readable usage,
pipes and signals, id prefixes and `last`, requests from files, diff and logs, consistent JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_clean_error, run_cli
from taskkit import happy_replies, project

from specrelay import __version__


def test_version_and_short_help(tmp_path: Path) -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"specrelay {__version__}"
    top = run_cli("-h")
    assert top.returncode == 0 and "Commands:" in top.stdout
    sub = run_cli("status", "-h")
    assert sub.returncode == 0 and "Usage: specrelay status" in sub.stdout


def test_help_lists_every_command_in_words(tmp_path: Path) -> None:
    from specrelay.cli import app
    from typer.main import get_command

    names = list(get_command(app).commands)  # type: ignore[attr-defined]
    top = run_cli("--help", env={"COLUMNS": "80"}).stdout
    listed = re.findall(r"^  (\w+)\s", top.split("Commands:")[1], flags=re.M)
    assert sorted(listed) == sorted(names)
    assert "..." not in top.split("Commands:")[1].replace("REQUEST...", "")  # no description cut short
    for name in names:
        text = run_cli(name, "--help", env={"COLUMNS": "80"}).stdout
        for placeholder in ("{", "<list[", "<str>", "<int", "<float>", "[[", "<path>"):
            assert placeholder not in text, f"{name} --help shows {placeholder!r}:\n{text}"
    assert "Usage: specrelay run [OPTIONS] REQUEST..." in run_cli("run", "--help").stdout


def test_completion_script_and_answers(tmp_path: Path) -> None:
    script = run_cli("completion", "bash")
    assert script.returncode == 0 and "_SPECRELAY_COMPLETE" in script.stdout
    env = {"_SPECRELAY_COMPLETE": "complete_bash", "COMP_WORDS": "specrelay sta", "COMP_CWORD": "1"}
    assert run_cli(env=env).stdout.split() == ["status"]
    assert_clean_error(run_cli("completion", "tcsh"), "tcsh", "bash")
