"""Scripted replies chosen by prompt content: one preset's replies file serving several tasks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_user_config
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

from specrelay.config import load_config
from specrelay.errors import ConfigError, ProviderError
from specrelay.ledger import Ledger
from specrelay.llm import Client

PRESET = '[retry]\nattempts = 1\n[presets.s]\nprovider = "scripted"\nmodel = "s"\nreplies = "r.json"\n'


def client_with(tmp_path: Path, replies: Any, *, run_id: str | None = None) -> Client:
    write_user_config(PRESET)
    (tmp_path / "specrelay-home" / "r.json").write_text(json.dumps(replies), encoding="utf-8")
    return Client(load_config(None), Ledger(tmp_path / "ledger.db"), run_id=run_id)


BY_PROMPT = {"by_prompt": [{"when": "apples", "replies": ["a1", "a2"]},
                           {"when": "pears", "replies": ["p1"]},
                           {"when": "", "replies": ["any1", "any2", "any3"]}]}


def test_the_first_list_whose_when_the_prompt_holds_answers(tmp_path: Path) -> None:
    client = client_with(tmp_path, BY_PROMPT, run_id="r")
    assert client.call_sync("s", "sys", "about pears and apples", phase="t").text == "a1"  # first in file order
    # The cursor is the run's count of the preset's calls, whichever list answers: call 2 gets reply 2.
    assert client.call_sync("s", "sys", "apples again", phase="t").text == "a2"
    assert client.call_sync("s", "sys", "nothing known", phase="t").text == "any3"
    with pytest.raises(ProviderError, match="no reply left.*all 1 replies of the list its prompt chose"):
        client.call_sync("s", "sys", "pears", phase="t")


def test_a_list_of_whens_needs_every_text_in_the_prompt(tmp_path: Path) -> None:
    lists = {"by_prompt": [{"when": ["apples", "review"], "replies": ["reviewed apples"]},
                           {"when": "apples", "replies": ["x", "built apples"]}]}
    client = client_with(tmp_path, lists, run_id="r")
    assert client.call_sync("s", "please review", "the apples", phase="t").text == "reviewed apples"
    assert client.call_sync("s", "please build", "the apples", phase="t").text == "built apples"


def test_a_resumed_run_continues_within_its_list(tmp_path: Path) -> None:
    client = client_with(tmp_path, BY_PROMPT, run_id="task-1")
    assert client.call_sync("s", "", "apples", phase="t").text == "a1"
    again = Client(client.config, Ledger(tmp_path / "ledger.db"), run_id="task-1")
    assert again.call_sync("s", "", "apples", phase="t").text == "a2"
    other = Client(client.config, Ledger(tmp_path / "ledger.db"), run_id="task-2")
    assert other.call_sync("s", "", "apples", phase="t").text == "a1"


def test_a_prompt_no_when_matches_names_the_preset_and_the_file(tmp_path: Path) -> None:
    client = client_with(tmp_path, {"by_prompt": [{"when": "apples", "replies": ["a1"]}]})
    with pytest.raises(ConfigError, match=r"r\.json: scripted preset s has no reply for this prompt.*\"apples\""):
        client.call_sync("s", "", "pears", phase="t")


@pytest.mark.parametrize("content,needle", [
    ({"by_prompt": []}, r"r\.json: 'by_prompt' of preset s must be a non-empty list"),
    ({"by_prompt": [{"when": "a", "replies": ["x"]}], "extra": 1}, "unknown key 'extra' beside 'by_prompt'"),
    ({"by_prompt": ["x"]}, r"by_prompt\[0\] is a string \"x\""),
    ({"by_prompt": [{"when": "a", "replies": ["x"]}, {"replies": ["y"]}]}, r"by_prompt\[1\] needs 'when'"),
    ({"by_prompt": [{"when": ["a", 1], "replies": ["x"]}]}, r"by_prompt\[0\] needs 'when'.*a list \[\"a\", 1\]"),
    ({"by_prompt": [{"when": [], "replies": ["x"]}]}, r"by_prompt\[0\] needs 'when'"),
    ({"by_prompt": [{"when": "a", "replies": []}]}, r"by_prompt\[0\] needs 'replies', a non-empty list"),
    ({"by_prompt": [{"when": "a", "replies": ["x"], "then": 1}]}, r"by_prompt\[0\] has unknown key 'then'"),
    ({"by_prompt": [{"when": "a", "replies": ["x", {"txt": "y"}]}]}, r"by_prompt\[0\] reply \[1\] has unknown key"),
    ({"replies": ["x"]}, "must hold a JSON list, or an object"),
])
def test_bad_by_prompt_files_name_the_file_and_the_index(tmp_path: Path, content: Any, needle: str) -> None:
    client = client_with(tmp_path, content)
    with pytest.raises(ConfigError, match=needle):
        client.call_sync("s", "", "a", phase="t")


MUL = """calc.py
<<<<<<< SEARCH
def add(a, b):
    return a + b
=======
def add(a, b):
    return a + b


def mul(a, b):
    return a * b
>>>>>>> REPLACE
"""


def team(sub: dict[str, list[Any]], mul: dict[str, list[Any]]) -> dict[str, Any]:
    """One replies file per preset, serving both tasks: 'sub' and 'mul' choose the list."""
    return {name: {"by_prompt": [{"when": "mul", "replies": mul[name]}, {"when": "sub", "replies": sub[name]}]}
            for name in sub}


def write_team(repo: Path, replies: dict[str, Any]) -> None:
    for name, content in replies.items():
        (repo / ".specrelay" / f"{name}.json").write_text(json.dumps(content), encoding="utf-8")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_one_scripted_team_runs_two_tasks_each_by_its_own_script(tmp_path: Path) -> None:
    sub = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
           "gpt-reviewer": [review("request_changes", [MAJOR]), review()]}
    mul = {"opus-planner": [SPEC.replace("Subtraction", "Multiplication").replace("sub", "mul")],
           "flash-builder": [MUL], "gpt-reviewer": [review()]}
    repo = project(tmp_path, {name: [] for name in sub})
    write_team(repo, team(sub, mul))
    results = {}
    for request in ("Add a sub function", "Add a mul function"):
        proc = run_cli("run", request, "--json", cwd=repo)
        assert proc.returncode == 0, proc.stderr + proc.stdout
        results[request] = json.loads(proc.stdout)
    subbed, mulled = results["Add a sub function"], results["Add a mul function"]
    assert (subbed["status"], subbed["rounds"]) == ("done", 2)  # its reviewer's two replies, in order
    assert (mulled["status"], mulled["rounds"]) == ("done", 1)
    calc_sub = (Path(subbed["worktree"]) / "calc.py").read_text()
    calc_mul = (Path(mulled["worktree"]) / "calc.py").read_text()
    assert '"""a minus b."""' in calc_sub and "def mul" not in calc_sub
    assert "def mul(a, b):" in calc_mul and "def sub" not in calc_mul
    assert git(Path(mulled["worktree"]), "log", "-1", "--format=%s").strip() == "Multiplication"


def test_a_task_whose_prompt_no_list_answers_fails_with_one_clear_line(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [], "flash-builder": [], "gpt-reviewer": []})
    write_team(repo, {"opus-planner": {"by_prompt": [{"when": "mul", "replies": [SPEC]}]},
                      "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    proc = run_cli("run", "Add a sub function", cwd=repo)
    assert proc.returncode != 0
    assert "opus-planner.json: scripted preset opus-planner has no reply for this prompt" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
