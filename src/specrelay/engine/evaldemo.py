"""The built-in evaluation suite: a sample repository whose history makes the cases, and a scripted team.

Everything ships as package data (``data/eval-demo/``): ``project/`` is the first commit's tree (cartkit,
a few helpers for shopping-cart amounts, tested with unittest); each folder of ``history/``, in name
order, is one later commit: its files are copied over the tree and committed with its ``MESSAGE``. Each
of those commits changes code together with its tests, so ``eval make --from-history`` takes one case
from each (the first commit has no parent to start from, and is no case).

The team's replies (``team/``) are chosen by prompt content (the ``by_prompt`` lists of
:mod:`specrelay.llm.backends.scripted`): a case's function name picks its script, and a cascade step's
own wording picks the scripts only a cascade reaches. They are written so the workflows differ on
purpose, for real: the edits are applied, the project's tests run, and each case's hidden check runs
the commit's own tests on the result.

- ``apply_discount``: every workflow builds it right the first time.
- ``split_evenly``: the builder forgets to refuse fewer than one part (a ZeroDivisionError, where the
  hidden tests expect ValueError); its own tests pass. single-model's planner reviews its own work and
  approves it, so the hidden check fails; multi-model's reviewer, of another family, finds it, and the
  fix passes; in the cascade that finding sends the step up to the stronger preset, whose fix passes.
- ``parse_price``: the cheap builder reads ``"0.5"`` as 5 cents and its own test says so: verification
  fails. multi-model's reviewer sees the failure and the builder fixes it; the cascade escalates to the
  stronger preset at once (``[verify] max_attempts = 0``), which fixes it.

The presets are priced as the real models they stand for (``price_as``): the costs are simulated at real
prices.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from specrelay import gitrepo, paths
from specrelay.engine.demo import new_folder, verify_command
from specrelay.fsutil import atomic_write_text

#: The suite's name, and the workflows it is run under.
SUITE = "demo"
WORKFLOWS = ("multi-model", "single-model", "cascade")

#: preset name → (replies file, the real model it stands for)
TEAM = {
    "opus-planner": ("opus-planner.json", "claude-opus-5-5"),
    "flash-builder": ("flash-builder.json", "gemini-3.8-flash"),
    "gpt-reviewer": ("gpt-reviewer.json", "gpt-5.5"),
}
#: Where the team's replies are copied, in the sample repository's ``.specrelay/``.
TEAM_DIR = "eval-demo-team"
MESSAGE = "MESSAGE"


def source() -> Path:
    return paths.data_dir() / "eval-demo"


def prepare_eval_demo(target: Path | None) -> Path:
    """Create the sample repository (in ``target``, new or empty; default: a new temporary folder) with
    its history and scripted team; returns its root."""
    root = new_folder(target, "specrelay-eval-demo-")
    shutil.copytree(source() / "project", root, dirs_exist_ok=True)
    gitrepo.run_git(["init", "-q", "-b", "main"], root)
    _commit(root, "cartkit: format_price\n", 0)
    history = sorted(p for p in (source() / "history").iterdir() if p.is_dir())
    for day, commit in enumerate(history, start=1):
        shutil.copytree(commit, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(MESSAGE))
        _commit(root, (commit / MESSAGE).read_text(encoding="utf-8"), day)
    gitrepo.add_exclude(root)
    shutil.copytree(source() / "team", paths.project_dir(root) / TEAM_DIR)
    atomic_write_text(paths.project_config(root), _config())
    return root


def _commit(root: Path, message: str, day: int) -> None:
    """Commit the tree as the sample project's own author, on a fixed day: the same history, the same
    commit ids and so the same case names, on every machine."""
    when = f"2026-01-{day + 1:02d}T10:00:00+00:00"
    who = {"GIT_AUTHOR_NAME": "cartkit", "GIT_AUTHOR_EMAIL": "dev@cartkit.example", "GIT_AUTHOR_DATE": when,
           "GIT_COMMITTER_NAME": "cartkit", "GIT_COMMITTER_EMAIL": "dev@cartkit.example", "GIT_COMMITTER_DATE": when}
    gitrepo.run_git(["add", "-A"], root)
    gitrepo.run_git(["-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", message], root, env=who)


def _config() -> str:
    lines = ["# specrelay eval demo: scripted stand-ins for a real team; costs are simulated at real prices.", ""]
    for name, (replies, real) in TEAM.items():
        lines += [f"[presets.{name}]", 'provider = "scripted"', f'model = "scripted-{name}"',
                  f'replies = "{TEAM_DIR}/{replies}"', f'price_as = "{real}"', "delay_s = 0.02", "fallbacks = []",
                  # What a user's own table of the same name must not change here: the replies answer once,
                  # and none is cut.
                  'mode = "answer"', "max_tokens = 16000", ""]
    # The routes the workflows name, set here: a user's own [routes] would send a step to a real model.
    lines += ["[routes]", 'plan = "opus-planner"', 'implement = "flash-builder"', 'review = "gpt-reviewer"', ""]
    lines += ["[verify]", f"commands = [{json.dumps(verify_command())}]", "timeout_s = 60",
              "# A failing check goes to the reviewer, or up a cascade at once.", "max_attempts = 0", ""]
    return "\n".join(lines)
