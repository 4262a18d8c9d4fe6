"""What the commands print, through the CLI: artifacts byte for byte, tables that never cut a cell,
piped text that is not hard-wrapped, usage that names its arguments, and messages that say what is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import assert_clean_error, run_cli
from taskkit import MAJOR, happy_replies, project, review

NARROW = {"COLUMNS": "40"}


def _done_task(tmp_path: Path) -> tuple[Path, str]:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add a sub function to calc.py", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    task_id = json.loads(run_cli("status", "--json", cwd=repo).stdout)[0]["id"]
    return repo, task_id


def test_show_artifact_prints_the_file_bytes_unchanged(tmp_path: Path) -> None:
    repo, task_id = _done_task(tmp_path)
    folder = repo / ".specrelay" / "tasks" / task_id
    long_line = "A line far longer than the forty columns of this terminal, which must stay one line. " * 3
    (folder / "notes.md").write_text(f"# Notes\n\n{long_line}\n| a | b |\n|---|---|\n", encoding="utf-8")
    for name in ("review_r1.json", "spec.md", "notes.md"):
        proc = run_cli("show", task_id, name, cwd=repo, env=NARROW)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == (folder / name).read_text(encoding="utf-8"), name
    json.loads(run_cli("show", "last", "review_r1.json", cwd=repo, env=NARROW).stdout)


def test_tables_never_cut_a_cell_when_narrow_or_piped(tmp_path: Path) -> None:
    repo, task_id = _done_task(tmp_path)
    cost = run_cli("cost", "--by", "preset", cwd=repo, env=NARROW).stdout
    rows = {line.split()[0]: line for line in cost.splitlines() if line.split()}
    for name in ("opus-planner", "flash-builder", "gpt-reviewer"):
        assert name in rows, cost
        assert rows[name].split()[-1].startswith("$0.00") and "…" not in rows[name], cost
    presets = run_cli("presets", cwd=repo, env=NARROW).stdout
    assert "…" not in presets and "scripted-opus-planner" in presets, presets
    assert "no: $ANTHROPIC_API_KEY" in presets, presets
    show = run_cli("show", task_id, cwd=repo, env=NARROW).stdout
    assert "…" not in show and "Implementation  implement  flash-builder" in show, show


def test_demo_task_has_a_run_log_like_any_run(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    proc = run_cli("demo", "--dir", str(target), env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    logs = run_cli("logs", "last", cwd=target)
    assert logs.returncode == 0, logs.stderr
    assert "▶ Planning" in logs.stdout and "is ready: `specrelay merge" in logs.stdout, logs.stdout
    assert "Where everything is:" in proc.stdout


def test_piped_text_is_not_hard_wrapped(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add a sub function to calc.py", cwd=repo, env=NARROW)
    assert proc.returncode == 0, proc.stderr
    task_id = json.loads(run_cli("status", "--json", cwd=repo).stdout)[0]["id"]
    assert f"is ready: `specrelay merge {task_id}`" in proc.stdout.splitlines()[-1], proc.stdout
    worktree = json.loads(run_cli("show", task_id, "--json", cwd=repo).stdout)["worktree"]
    show = run_cli("show", task_id, cwd=repo, env=NARROW).stdout
    assert any(line.endswith(f"worktree {worktree}") for line in show.splitlines()), show


def test_piped_review_report_has_no_padding(tmp_path: Path) -> None:
    repo = project(tmp_path, {"gpt-reviewer": [review("request_changes", [MAJOR])]})
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n")
    proc = run_cli("review", "--preset", "gpt-reviewer", cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert "sub has no docstring" in proc.stdout
    padded = [line for line in proc.stdout.splitlines() if line != line.rstrip()]
    assert not padded, padded


def test_usage_names_the_id_and_values_alike_everywhere(tmp_path: Path) -> None:
    for name in ("status", "show", "resume", "diff", "logs", "merge", "discard", "update"):
        usage = run_cli(name, "-h").stdout.splitlines()[0]
        assert re.search(r"[ \[]ID\b", usage) and "TASK_ID" not in usage, usage
    assert_clean_error(run_cli("show"), "Missing argument 'ID'", "(see `specrelay show -h`)")
    cost = run_cli("cost", "-h", env={"COLUMNS": "120"}).stdout
    assert "--by task|phase|preset|model" in cost and "--as PRESET" in cost and "AS_PRESET" not in cost, cost
    for name in ("run", "resume", "ask"):
        assert "--budget USD" in run_cli(name, "-h", env={"COLUMNS": "120"}).stdout, name


def test_a_tiny_budget_is_written_as_given(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    proc = run_cli("run", "Add a sub function to calc.py", "--budget", "0.000001", cwd=repo)
    assert_clean_error(proc, "of its $0.000001 budget")
    assert "e-06" not in proc.stderr


def test_a_user_config_that_is_a_folder_is_not_sent_to_init(tmp_path: Path) -> None:
    import os

    (Path(os.environ["SPECRELAY_HOME"]) / "config.toml").mkdir(parents=True)
    proc = run_cli("presets")
    assert_clean_error(proc, "config.toml: is a directory", "Move it aside")
    assert "specrelay init" not in proc.stderr


def test_help_lists_the_commands_in_one_order(tmp_path: Path) -> None:
    top = run_cli("--help", env={"COLUMNS": "200"}).stdout
    listed = re.findall(r"^  (\w+)\s", top.split("Commands:")[1], flags=re.M)
    assert listed == ["run", "resume", "status", "show", "diff", "logs", "merge", "discard", "update", "review",
                      "ask", "cost", "serve", "mcp", "presets", "routes", "workflows", "eval", "init", "demo",
                      "gc", "worker", "temporal", "completion"]


def test_init_asks_for_verify_commands_only_when_it_wrote_none(tmp_path: Path) -> None:
    from conftest import make_repo

    with_tests = make_repo(tmp_path / "a", {"test_a.py": "def test_a():\n    pass\n"})
    said = run_cli("init", cwd=with_tests).stdout
    assert "detected" in said and "Set [verify] commands" not in said, said
    bare = make_repo(tmp_path / "b")
    assert "Set [verify] commands" in run_cli("init", cwd=bare).stdout
    assert "Set [verify] commands" not in run_cli("init", cwd=bare).stdout  # its config is kept as it is


def test_a_long_title_is_cut_at_a_word(tmp_path: Path) -> None:
    repo = project(tmp_path, happy_replies())
    request = "Add a sub function to calc.py " + "and describe every one of its arguments carefully " * 3
    assert run_cli("run", request, cwd=repo).returncode == 0
    title = json.loads(run_cli("show", "last", "--json", cwd=repo).stdout)["title"]
    assert len(title) <= 80 and title.endswith("…") and not title[:-1].endswith(" "), repr(title)
    assert request.startswith(title[:-1]) and request[len(title) - 1] == " ", repr(title)  # a whole word
    assert run_cli("show", "last", cwd=repo, env={"COLUMNS": "200"}).stdout.splitlines()[0].endswith(title)


def test_show_of_a_discarded_task_says_its_worktree_is_removed(tmp_path: Path) -> None:
    repo, task_id = _done_task(tmp_path)
    worktree = json.loads(run_cli("show", task_id, "--json", cwd=repo).stdout)["worktree"]
    assert run_cli("discard", task_id, "--force", cwd=repo).returncode == 0
    show = run_cli("show", task_id, cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "worktree removed" in show and worktree not in show, show


def test_unknown_id_lists_recent_tasks_newest_first(tmp_path: Path) -> None:
    repo, first = _done_task(tmp_path)
    assert run_cli("run", "Second task", cwd=repo).returncode in (0, 1)
    second = json.loads(run_cli("status", "--json", cwd=repo).stdout)[0]["id"]
    assert second != first
    assert_clean_error(run_cli("show", "nope", cwd=repo), f"Recent tasks: {second}, {first} ")
