"""`specrelay init` and `specrelay workflows` in fresh processes, as a user runs them; the config template."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, make_repo, run_cli

from specrelay import paths
from specrelay.config import SECTIONS, Config, load_config

TEMPLATE = paths.data_dir() / "config_template.toml"
BUILTINS = {"multi-model", "single-model", "comprehensive-review", "zenflow", "research-plan-build",
            "cascade", "git-native", "debate"}


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under .specrelay/ and the git exclude file, byte for byte."""
    files = {p.relative_to(root).as_posix(): p.read_bytes()
             for p in sorted((root / ".specrelay").rglob("*")) if p.is_file()}
    files[".git/info/exclude"] = (root / ".git/info/exclude").read_bytes()
    return files


def _json(*args: str, cwd: Path) -> Any:
    proc = run_cli(*args, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ---- init ----------------------------------------------------------------------------------------


def test_init_creates_config_workflows_and_exclude_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    proc = run_cli("init", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    config = repo / ".specrelay/config.toml"
    assert config.read_bytes() == TEMPLATE.read_bytes()
    readme = repo / ".specrelay/workflows/README.md"
    assert "specrelay workflows --show" in readme.read_text() and "overrides" in readme.read_text()
    exclude = (repo / ".git/info/exclude").read_text().splitlines()
    assert exclude.count(".specrelay/") == 1
    assert not (repo / ".gitignore").exists()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
    assert status.stdout == ""  # .specrelay/ is ignored through the exclude file
    for text in ("created .specrelay/config.toml", "created .specrelay/workflows/README.md",
                 "added .specrelay/ to .git/info/exclude", "specrelay presets", 'specrelay run "..."'):
        assert text in proc.stdout, proc.stdout


def test_init_json_from_a_subfolder_sets_up_the_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"src/app.py": "x = 1\n"})
    result = _json("init", cwd=repo / "src")
    assert result["root"] == str(repo.resolve())
    assert result["created"] == [".specrelay/config.toml", ".specrelay/workflows/",
                                 ".specrelay/workflows/README.md"]
    assert result["kept"] == [] and result["exclude"]["added"] is True
    assert not (repo / "src/.specrelay").exists()


def test_second_init_changes_nothing_and_keeps_user_edits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run_cli("init", cwd=repo).returncode == 0
    edited = '[verify]\ncommands = ["make test"]\n'
    (repo / ".specrelay/config.toml").write_text(edited)
    (repo / ".specrelay/workflows/README.md").write_text("my notes\n")
    before = _snapshot(repo)
    proc = run_cli("init", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(repo) == before
    assert "kept existing .specrelay/config.toml" in proc.stdout
    assert "kept existing .specrelay/workflows/README.md" in proc.stdout
    assert "created" not in proc.stdout and "added" not in proc.stdout
    again = _json("init", cwd=repo)
    assert again["created"] == [] and again["exclude"]["added"] is False
    assert set(again["kept"]) == {".specrelay/config.toml", ".specrelay/workflows/",
                                  ".specrelay/workflows/README.md"}
    assert _snapshot(repo) == before


def test_init_fills_in_only_what_is_missing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text("# mine\n")
    (repo / ".git/info/exclude").write_text(".specrelay/\n")
    result = _json("init", cwd=repo)
    assert result["kept"] == [".specrelay/config.toml"]
    assert result["created"] == [".specrelay/workflows/", ".specrelay/workflows/README.md"]
    assert result["exclude"]["added"] is False
    assert (repo / ".specrelay/config.toml").read_text() == "# mine\n"
    assert (repo / ".git/info/exclude").read_text() == ".specrelay/\n"


def test_init_never_touches_gitignore(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {".gitignore": "build/\n*.pyc", "README.md": "hi\n"})
    before = (repo / ".gitignore").read_bytes()
    assert run_cli("init", cwd=repo).returncode == 0
    assert run_cli("init", cwd=repo).returncode == 0
    assert (repo / ".gitignore").read_bytes() == before


def test_init_outside_a_repository_is_a_clean_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_cli("init", cwd=plain, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert_clean_error(proc, "not inside a git repository", "git init")
    assert not (plain / ".specrelay").exists()


def test_init_refuses_a_file_where_the_folder_goes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/workflows").write_text("not a folder\n")
    assert_clean_error(run_cli("init", cwd=repo), ".specrelay/workflows is a file")
    assert (repo / ".specrelay/workflows").read_text() == "not a folder\n"


# ---- the config template -------------------------------------------------------------------------


def _blocks(text: str) -> list[list[str]]:
    """The template's blank-line-separated blocks of lines."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _is_example(line: str) -> bool:
    return line.startswith("# ") and not line.startswith("##")


def _uncomment(block: list[str]) -> str:
    """The block as a user would enable it: the "# " of each example line removed, prose kept."""
    return "\n".join(line[2:] if _is_example(line) else line for line in block) + "\n"


def _load_with(root: Path, text: str | None) -> Config:
    config = root / ".specrelay/config.toml"
    if text is None:
        config.unlink(missing_ok=True)
    else:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text, encoding="utf-8")
    return load_config(root)


def _settings(config: Config) -> dict[str, Any]:
    presets = {name: p.model_dump(exclude={"origins"}) for name, p in config.presets.items()}
    return {"presets": presets, **{s: getattr(config, s).model_dump() for s in SECTIONS}}


def test_template_lines_are_prose_examples_or_blank() -> None:
    for number, line in enumerate(TEMPLATE.read_text().splitlines(), 1):
        assert not line or line.startswith("##") or _is_example(line) or line == "#", (number, line)


def test_template_is_valid_and_changes_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    neutral = _settings(_load_with(root, None))
    with_template = _load_with(root, TEMPLATE.read_text())
    assert paths.project_config(root) in with_template.files
    assert _settings(with_template) == neutral


def test_every_example_block_uncommented_alone_is_valid_and_does_something(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    neutral = _settings(_load_with(root, None))
    examples = [b for b in _blocks(TEMPLATE.read_text()) if any(_is_example(line) for line in b)]
    assert len(examples) >= 10
    tables = []
    for block in examples:
        text = _uncomment(block)
        tables.append(text[text.index("["):].split("]")[0] + "]")
        try:
            config = _load_with(root, text)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"example block does not load: {exc}\n{text}")
        assert _settings(config) != neutral, f"example block changes nothing:\n{text}"
    for table in ("[presets.flash-builder]", "[routes]", "[verify]", "[budget]", "[retry]", "[review]"):
        assert table in tables


def test_all_examples_uncommented_together(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    config = _load_with(root, _uncomment(TEMPLATE.read_text().splitlines()))
    assert config.presets["flash-builder"].temperature == 0.1
    assert config.presets["flash-builder"].model == "gemini-3.8-flash"  # other fields untouched
    assert config.presets["opus-planner"].fallbacks == ["gpt-reviewer", "gemini-reviewer"]
    price = config.presets["gpt-reviewer"].price
    assert price is not None and price.input == 1.25
    local = config.presets["llamacpp-coder"]
    assert local.provider == "openai-compatible" and local.base_url and local.source == "project"
    scripted = config.presets["scripted-builder"]
    assert scripted.replies_path == root / ".specrelay/replies/scripted-builder.json"
    assert config.routes.ask == "sonnet-reviewer"
    assert config.verify.commands[0] == "python -m pytest -q" and config.verify.timeout_s == 900
    assert config.verify.max_attempts == 3
    assert config.budget.task_usd == 5.0
    assert config.retry.attempts == 6 and config.review.min_agreement == 2


# ---- workflows -----------------------------------------------------------------------------------


def test_workflows_lists_the_builtins_with_their_steps(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    rows = {r["name"]: r for r in _json("workflows", cwd=repo)}
    assert set(rows) == BUILTINS
    assert all(r["source"] == "built-in" and r["summary"] and r["steps"] for r in rows.values())
    multi = rows["multi-model"]
    assert multi["default"] is True
    assert [s["kind"] for s in multi["steps"]] == ["plan", "implement", "verify", "review"]
    assert multi["steps"][0] == {"title": "Planning", "kind": "plan", "presets": ["opus-planner"],
                                 "run": [], "max_rounds": None, "routes": ["@plan"]}
    assert multi["steps"][3]["max_rounds"] == 3
    assert len(rows["comprehensive-review"]["steps"][3]["presets"]) >= 2  # a panel
    assert rows["zenflow"]["error"] is None
    # without [verify] commands the Verification step is skipped at run time, not an error
    assert multi["error"] is None


def test_workflows_validate_against_the_project_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text('[verify]\ncommands = ["python -m pytest -q"]\n')
    rows = _json("workflows", cwd=repo)
    assert [r["error"] for r in rows] == [None] * len(BUILTINS)
    text = run_cli("workflows", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "multi-model" in text and "Planning" in text and "opus-planner" in text
    assert "python -m pytest -q" in text and "panel: gpt-reviewer" in text and "✗" not in text


def test_workflows_outside_a_repository_lists_the_builtins(tmp_path: Path) -> None:
    proc = run_cli("workflows", "--json", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert {r["name"] for r in json.loads(proc.stdout)} == BUILTINS


PROJECT_FLOW = """\
# Team flow

Our own take on the default. Plans with gpt.

### [ ] Step: Planning
<!-- agent: gpt-reviewer -->
Plan it.

### [ ] Step: Tests
<!-- run: python -m pytest -q -->
<!-- run: ruff check . -->
"""


def test_a_project_workflow_overrides_the_builtin_of_the_same_name(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run_cli("init", cwd=repo).returncode == 0
    (repo / ".specrelay/workflows/multi-model.md").write_text(PROJECT_FLOW)
    rows = {r["name"]: r for r in _json("workflows", cwd=repo)}
    assert set(rows) == BUILTINS  # the folder's README.md is not a workflow
    multi = rows["multi-model"]
    assert multi["source"] == "project" and multi["overrides_builtin"] is True and multi["error"] is None
    assert multi["path"].endswith(".specrelay/workflows/multi-model.md")
    assert multi["summary"] == "Our own take on the default."
    assert multi["steps"][1] == {"title": "Tests", "kind": "verify", "presets": [],
                                 "run": ["python -m pytest -q", "ruff check ."], "max_rounds": None, "routes": []}
    text = run_cli("workflows", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "project: .specrelay/workflows/multi-model.md, overrides the built-in" in text
    assert "run: python -m pytest -q; ruff check ." in text
    shown = run_cli("workflows", "--show", "multi-model", cwd=repo)
    assert shown.stdout == PROJECT_FLOW


def test_a_broken_project_workflow_is_listed_with_its_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    folder = repo / ".specrelay/workflows"
    folder.mkdir(parents=True)
    (folder / "broken.md").write_text("# Broken\n\n### [ ] Step: Planning\n<!-- agnet: opus-planner -->\n")
    (folder / "typo.md").write_text("# Typo\n\n### [ ] Step: Planning\n<!-- agent: opus-planer -->\n")
    as_json = run_cli("workflows", "--json", cwd=repo)
    assert as_json.returncode != 0  # listed, and the exit code says some cannot run
    assert "2 workflows cannot run: broken: " in as_json.stderr and len(as_json.stderr.splitlines()) == 1
    rows = {r["name"]: r for r in json.loads(as_json.stdout)}
    assert set(rows) == BUILTINS | {"broken", "typo"}
    broken, typo = rows["broken"], rows["typo"]
    assert broken["steps"] == [] and "broken.md:4: unknown directive 'agnet'" in broken["error"]
    assert broken["errors"] == [broken["error"]]
    assert typo["steps"][0]["presets"] == ["opus-planer"]
    assert "typo.md:4: unknown preset 'opus-planer'" in typo["error"] and "opus-planner" in typo["error"]
    assert all(rows[name]["errors"] == [] for name in BUILTINS)
    proc = run_cli("workflows", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert "broken.md:4: unknown directive 'agnet'" in proc.stdout
    assert "typo.md:4: unknown preset 'opus-planer'" in proc.stdout
    assert "zenflow" in proc.stdout  # the others are still listed


def test_show_prints_the_workflow_markdown_exactly(tmp_path: Path) -> None:
    source = paths.data_dir() / "workflows/zenflow.md"
    proc = run_cli("workflows", "--show", "zenflow")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == source.read_text()
    as_json = json.loads(run_cli("workflows", "--show", "zenflow.md", "--json").stdout)
    assert as_json["name"] == "zenflow" and as_json["text"] == source.read_text()


def test_show_an_unknown_workflow_is_a_clean_error(tmp_path: Path) -> None:
    proc = run_cli("workflows", "--show", "nope")
    assert_clean_error(proc, "unknown workflow 'nope'", "multi-model", "zenflow")
    close = run_cli("workflows", "--show", "zenflw")
    assert_clean_error(close, "Did you mean 'zenflow'?")


def test_the_commands_stay_light_to_import() -> None:
    code = ("import sys, specrelay.cli; "
            "print(sorted(m for m in ('pydantic', 'markdown_it', 'specrelay.config', 'specrelay.workflow') "
            "if m in sys.modules))")
    proc = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
    helped = run_cli("--help")
    assert "init" in helped.stdout and "workflows" in helped.stdout
