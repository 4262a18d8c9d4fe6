"""The tokens the planner reads with and without a research step, on this repository's own source.

    python bench/research.py [--repo PATH]

The same request is planned twice in a clone of the repository (its committed HEAD), offline, with scripted
models priced as the real ones they stand for (planner as claude-opus-5-5, scouts as gemini-3.8-flash):

- **without research**: the Planning step of the built-in ``multi-model`` workflow alone: the planner reads
  the rules, the request, its instruction, the repository map and the README;
- **with research**: the Research and Planning steps of the built-in ``research-plan-build`` workflow: two
  read-only scouts (recorded tool calls: list, search, read, on the real files) answer its questions, and
  their notes (a hand-written research.md for this request, as a cheap model would write it) are what the
  planner reads instead of the map and the README.

Both planner calls are made through ``specrelay run``; the numbers are read back from ``specrelay show --json``
(the call's input tokens and the tokens of each part of its context, as the ledger recorded them). A scripted
call's tokens are estimated (four characters a token) the same way both times, so the ratio is what it
measures. Exits 1 when the research does not cut the planner's input at least in half.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REQUEST = ("Add a --since DURATION option to `specrelay status` that lists only the tasks created within that "
           "time (e.g. 30m, 2h, 3d), combinable with --status and --limit, with the same check and error style "
           "as --limit, in the JSON too.")

#: What the two scouts read (recorded tool calls on this repository's real files), then their notes.
SCOUT_CODE: list[Any] = [
    {"tool_calls": [{"name": "search", "arguments": {"pattern": "def status", "glob": "src/**/*.py"}}]},
    {"tool_calls": [{"name": "read_file", "arguments": {"path": "src/specrelay/cli/tasks.py", "start_line": 20,
                                                         "end_line": 80}},
                    {"name": "read_file", "arguments": {"path": "src/specrelay/app/tasks.py", "start_line": 40,
                                                         "end_line": 75}}]},
    {"tool_calls": [{"name": "search", "arguments": {"pattern": "def all_statuses|created_at", "glob":
                                                      "src/specrelay/app/views.py"}}]},
]
SCOUT_TESTS: list[Any] = [
    {"tool_calls": [{"name": "search", "arguments": {"pattern": "--limit", "glob": "tests/*.py"}}]},
    {"tool_calls": [{"name": "read_file", "arguments": {"path": "tests/test_cli_conventions.py", "start_line": 165,
                                                         "end_line": 190}}]},
]
NOTES_CODE = """## Answers
- `specrelay status` is `status_command` in `src/specrelay/cli/tasks.py:28-53`: it parses `--status` (through
  `_statuses`, `src/specrelay/cli/tasks.py:56-64`) and `--limit`, checks them, calls `tasks.status`, and prints
  JSON (`TaskView.to_json`) or the table (`_render_status`, `src/specrelay/cli/tasks.py:67-78`).
- The filtering is in the app layer: `status` in `src/specrelay/app/tasks.py:62-70` checks its arguments
  (`check_statuses` at 48-53, `check_limit` at 56-59) and calls `all_statuses` in
  `src/specrelay/app/views.py:222-228`, which sorts by `created_at` (newest first), filters by status, then
  cuts to `limit`. `--since` belongs there: filter `t.created_at >= time.time() - seconds` before the limit.
- Ages are printed by `age` in `src/specrelay/cli/common.py:128-133` (units s, m, h, d): the same units suit
  the parser of DURATION.

## Files and symbols
- `src/specrelay/cli/tasks.py:28-53` `status_command`: add the `--since` option beside `--limit`.
- `src/specrelay/app/tasks.py:56-70` `check_limit`, `status`: add `check_since` and a `since_s` argument.
- `src/specrelay/app/views.py:222-228` `all_statuses`: filter by age before `tasks[:limit]`.
- `src/specrelay/app/views.py:194-219` `task_view`: `age_s` is already in each row's JSON.

## Helpers to reuse
- `check_limit` (`src/specrelay/app/tasks.py:56-59`) is the model for the check: a `UserError` whose message
  names the option, the value and an example (`--limit 0: give a number of tasks, 1 or more (e.g. --limit
  10).`).
- `age` (`src/specrelay/cli/common.py:128-133`) has the unit table to mirror."""
NOTES_TESTS = """## Conventions
- The CLI is thin: options are parsed in `cli/`, checked and applied in `app/` (`check_*` raise `UserError`,
  printed as one `error:` line, exit 1, no traceback).
- Every listing has `--json`; filters apply to the text and the JSON alike.

## Tests
- `tests/test_cli_conventions.py:172-186` tests `--limit` and `--status` through the CLI: it starts three
  tasks with scripted presets (`tests/taskkit.py` `project`, `happy_replies`), then calls `status --json`
  with the filters and compares ids; bad values go through `assert_clean_error` (`tests/conftest.py`).
- Bad input also goes in the corpus: a `[[case]]` in `tests/bad_input/cases_cli.toml` with `args` and
  `expect`.
- Tests run with `pytest -n 2`; `mypy` (strict) and `ruff check src tests` must pass."""

SPEC = """# status --since

## Goal
List only the tasks created within a duration.

## Approach
A check_since beside check_limit, a since_s filter in all_statuses.

## Affected files
- `src/specrelay/cli/tasks.py`: the --since option
- `src/specrelay/app/tasks.py`: check_since, since_s
- `src/specrelay/app/views.py`: filter in all_statuses
- `tests/test_cli_conventions.py`: tests

## Edge cases
0, negative, no unit, an unknown unit.

## Verification criteria
status --since 1h lists only the newer tasks.
"""


def _steps(path: Path) -> dict[str, str]:
    """The step sections of a workflow file, by title (heading, directives and body, as written)."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^(?=### \[ \] Step: )", text, flags=re.MULTILINE)
    return {re.match(r"### \[ \] Step: (.+)", p).group(1).strip(): p.rstrip() + "\n"  # type: ignore[union-attr]
            for p in parts if p.startswith("### [ ] Step:")}


def _cli(repo: Path, env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "specrelay", *args, "--json"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"specrelay {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def _scripted(name: str, price_as: str) -> str:
    return (f'[presets.{name}]\nprovider = "scripted"\nmodel = "scripted-{name}"\nreplies = "{name}.json"\n'
            f'price_as = "{price_as}"\nmax_tokens = 16000\n\n')


def measure(source: Path) -> dict[str, Any]:
    from specrelay.paths import data_dir  # the built-in workflows of the specrelay being measured

    builtin = data_dir() / "workflows"
    with tempfile.TemporaryDirectory() as tmp:
        home, repo = Path(tmp) / "home", Path(tmp) / "repo"
        home.mkdir()
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(source), str(repo)], check=True)
        sr = repo / ".specrelay"
        (sr / "workflows").mkdir(parents=True)
        replies = {"planner": [SPEC, SPEC], "scout-code": [*SCOUT_CODE, NOTES_CODE],
                   "scout-tests": [*SCOUT_TESTS, NOTES_TESTS]}
        for name, items in replies.items():
            (sr / f"{name}.json").write_text(json.dumps(items), encoding="utf-8")
        (sr / "config.toml").write_text(
            _scripted("planner", "claude-opus-5-5") + _scripted("scout-code", "gemini-3.8-flash")
            + _scripted("scout-tests", "gemini-3.8-flash")
            + '[routes]\nplan = "planner"\nresearch = "scout-code"\nsearch = "scout-tests"\n', encoding="utf-8")
        multi, rpb = _steps(builtin / "multi-model.md"), _steps(builtin / "research-plan-build.md")
        (sr / "workflows" / "plan-only.md").write_text("# Plan only\n\n" + multi["Planning"], encoding="utf-8")
        (sr / "workflows" / "research-plan.md").write_text(
            "# Research, then plan\n\n" + rpb["Research"] + "\n" + rpb["Planning"], encoding="utf-8")
        env = {**os.environ, "SPECRELAY_HOME": str(home), "SPECRELAY_OFFLINE": "1"}
        env.pop("PYTEST_CURRENT_TEST", None)
        out: dict[str, Any] = {"files": len(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True,
                                                             text=True, check=True).stdout.splitlines())}
        for label, workflow in (("without", "plan-only"), ("with", "research-plan")):
            task = _cli(repo, env, "run", REQUEST, "--workflow", workflow)
            shown = _cli(repo, env, "show", task["id"])
            [plan] = [c for c in shown["calls"] if c["phase"] == "plan"]
            scouts = [c for c in shown["calls"] if c["phase"] == "research"]
            out[label] = {"planner_input": plan["input_tokens"], "parts": plan["context"],
                          "planner_cost": plan["cost_usd"], "scout_calls": len(scouts),
                          "scout_input": sum(c["input_tokens"] for c in scouts),
                          "scout_cost": sum(c["cost_usd"] or 0.0 for c in scouts)}
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the repository to plan in (default: this one)")
    args = parser.parse_args()
    found = measure(args.repo)
    without, with_ = found["without"], found["with"]
    ratio = with_["planner_input"] / without["planner_input"]
    print(f"Request: {REQUEST}\nRepository: {args.repo} ({found['files']} tracked files)\n")
    print("| planner context | input tokens | parts (tokens) | planner cost |")
    print("|---|---|---|---|")
    for label, row in (("without research (multi-model's Planning)", without),
                       ("with research (research-plan-build)", with_)):
        parts = ", ".join(f"{k} {v:,}" for k, v in row["parts"].items())
        print(f"| {label} | {row['planner_input']:,} | {parts} | ${row['planner_cost']:.4f} |")
    print(f"\nWith research the planner reads {ratio:.0%} of the tokens it reads without "
          f"({with_['planner_input']:,} / {without['planner_input']:,}).")
    print(f"The scouts: {with_['scout_calls']} turns, {with_['scout_input']:,} input tokens on the cheap model, "
          f"${with_['scout_cost']:.4f}; planner + scouts ${with_['planner_cost'] + with_['scout_cost']:.4f} "
          f"against ${without['planner_cost']:.4f} for the planner alone.")
    if ratio > 0.5:
        raise SystemExit(f"the research cut the planner's input to {ratio:.0%}, not at least in half")


if __name__ == "__main__":
    main()
