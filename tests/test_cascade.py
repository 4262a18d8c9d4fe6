"""Cheap-first cascades through the CLI: ``agent: flash-builder > sonnet-builder > opus-planner``.

The first preset builds; unappliable edits, verification still failing after its attempts, or review
rejecting it for ``escalate-after`` rounds move the task to the next preset for the rest of the loop.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

from specrelay import paths

CASCADE = """# Cascade

### [ ] Step: Planning
<!-- agent: opus-planner -->
Plan it.

### [ ] Step: Implementation
<!-- agent: flash-builder > sonnet-builder > opus-planner -->
{escalate}Build it.

### [ ] Step: Verification
<!-- kind: verify -->

### [ ] Step: Review
<!-- agent: gpt-reviewer -->
<!-- max-rounds: 3 -->
Review it.
"""

#: Edits whose SEARCH matches nothing in calc.py.
BAD = "calc.py\n<<<<<<< SEARCH\ndef mul(a, b):\n    return a * b\n=======\ndef mul(a, b):\n    pass\n>>>>>>> REPLACE\n"
BREAK = "calc.py\n<<<<<<< SEARCH\n    return a + b\n=======\n    return a - b\n>>>>>>> REPLACE\n"
STILL_BROKEN = ("calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a - b  # hmm\n"
                ">>>>>>> REPLACE\n")
REPAIR = ("calc.py\n<<<<<<< SEARCH\n    return a - b  # hmm\n=======\n    return a + b\n\n\ndef sub(a, b):\n"
          "    return a - b\n>>>>>>> REPLACE\n")
FIX_AGAIN = ('calc.py\n<<<<<<< SEARCH\n    """a minus b."""\n=======\n    """Return a minus b."""\n'
             ">>>>>>> REPLACE\n")


def cascade_project(tmp_path: Path, replies: dict[str, list[Any]], *, escalate_after: int | None = None,
                    verify_attempts: int | None = None) -> Path:
    repo = project(tmp_path, {"gpt-reviewer": [review()], **replies})
    folder = repo / ".specrelay" / "workflows"
    folder.mkdir()
    line = f"<!-- escalate-after: {escalate_after} -->\n" if escalate_after else ""
    (folder / "cheap-first.md").write_text(CASCADE.format(escalate=line))
    config = repo / ".specrelay" / "config.toml"
    text = config.read_text()
    if verify_attempts is not None:
        text = text.replace("timeout_s = 30", f"timeout_s = 30\nmax_attempts = {verify_attempts}")
    # The strongest preset costs more, as it would: the cascade's saving is then visible.
    text = re.sub(r'(\[presets\.opus-planner\][^\[]*?)price_as = "gpt-5.4"', r'\1price_as = "claude-opus-4-1"',
                  text)
    text = re.sub(r'(\[presets\.flash-builder\][^\[]*?)price_as = "gpt-5.4"', r'\1price_as = "gemini-2.5-flash"',
                  text)
    config.write_text(text)
    return repo


def cli_json(repo: Path, *args: str, ok: bool = True) -> Any:
    proc = run_cli(*args, "--json", cwd=repo)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def built_by(shown: dict[str, Any]) -> list[str]:
    return [c["preset"] for c in shown["calls"] if c["phase"] == "implement" and c["outcome"] == "ok"]


def test_unappliable_edits_escalate_to_the_next_preset(tmp_path: Path) -> None:
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [BAD] * 3,
                                      "sonnet-builder": [ADD_SUB]})
    status = cli_json(repo, "run", "Add sub", "--workflow", "cheap-first")
    assert status["status"] == "done", status["message"]
    [moved] = status["escalations"]
    assert moved["from_preset"] == "flash-builder" and moved["to_preset"] == "sonnet-builder"
    assert moved["reason"] == "edits" and moved["round"] == 1 and moved["step"] == "Implementation"
    assert "could not get its edits applied" in moved["why"]
    shown = cli_json(repo, "show", status["id"])
    assert built_by(shown) == ["flash-builder"] * 3 + ["sonnet-builder"]
    assert shown["steps"][1]["presets"] == ["flash-builder", "sonnet-builder", "opus-planner"]
    assert shown["steps"][1]["cascade"] is True
    assert "rejected_edits_r1.md" in shown["artifacts"]
    log = subprocess.run(["git", "log", "-1", "--format=%(trailers)"], cwd=status["worktree"], text=True,
                         capture_output=True, check=True).stdout
    assert "Specrelay-Model: scripted-sonnet-builder" in log and ".e1" in log
    text = run_cli("status", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "escalated flash-builder → sonnet-builder (Implementation, round 1)" in text
    listed = run_cli("workflows", cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "cascade: flash-builder > sonnet-builder > opus-planner" in listed
    shown_text = run_cli("show", status["id"], cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "flash-builder > sonnet-builder > opus-planner" in shown_text
    assert "Escalated flash-builder → sonnet-builder" in shown_text


def test_verification_still_failing_after_its_attempts_escalates(tmp_path: Path) -> None:
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [BREAK, STILL_BROKEN],
                                      "sonnet-builder": [REPAIR]}, verify_attempts=1)
    status = cli_json(repo, "run", "Add sub", "--workflow", "cheap-first")
    assert status["status"] == "done", status["message"]
    assert [(e["from_preset"], e["to_preset"], e["reason"]) for e in status["escalations"]] == [
        ("flash-builder", "sonnet-builder", "verify")]
    assert "still failed verification after 2 attempts" in status["escalations"][0]["why"]
    shown = cli_json(repo, "show", status["id"])
    assert built_by(shown) == ["flash-builder", "flash-builder", "sonnet-builder"]
    # The next preset was shown the failing output, as a fix attempt would be.
    sonnet = [c for c in shown["calls"] if c["preset"] == "sonnet-builder"]
    assert "verify" in sonnet[0]["context"]
    assert status["verification"]["passed"] is True


def test_review_rejection_escalates_after_the_configured_rounds(tmp_path: Path) -> None:
    rejected = review("request_changes", [MAJOR])
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                                      "sonnet-builder": [FIX_AGAIN],
                                      "gpt-reviewer": [rejected, rejected, review()]}, escalate_after=2)
    status = cli_json(repo, "run", "Add sub", "--workflow", "cheap-first")
    assert status["status"] == "done" and status["rounds"] == 3, status["message"]
    # One rejected round was not enough (escalate-after: 2); the second moved round 3 to sonnet-builder.
    [moved] = status["escalations"]
    assert (moved["reason"], moved["round"], moved["to_preset"]) == ("review", 3, "sonnet-builder")
    assert moved["why"] == "had changes requested in 2 review rounds"
    assert built_by(cli_json(repo, "show", status["id"])) == ["flash-builder", "flash-builder", "sonnet-builder"]


def test_the_default_is_one_rejected_round(tmp_path: Path) -> None:
    rejected = review("request_changes", [MAJOR])
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB],
                                      "sonnet-builder": [FIX_SUB], "gpt-reviewer": [rejected, review()]})
    status = cli_json(repo, "run", "Add sub", "--workflow", "cheap-first")
    assert status["status"] == "done" and status["rounds"] == 2
    assert [(e["reason"], e["round"]) for e in status["escalations"]] == [("review", 2)]


def test_a_cascade_that_runs_out_of_presets_fails_naming_what_each_tried(tmp_path: Path) -> None:
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC, *[BAD] * 3], "flash-builder": [BAD] * 3,
                                      "sonnet-builder": [BAD] * 3})
    proc = run_cli("run", "Add sub", "--workflow", "cheap-first", cwd=repo)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    [status] = cli_json(repo, "status")
    assert status["status"] == "failed"
    message = status["message"]
    assert "The cascade flash-builder > sonnet-builder > opus-planner ran out of presets" in message
    for preset in ("flash-builder", "sonnet-builder", "opus-planner"):
        assert f"{preset} could not get its edits applied" in message
    assert message in proc.stderr.replace("\n", " ") or "ran out of presets" in proc.stderr
    assert len(status["escalations"]) == 2
    shown = cli_json(repo, "show", status["id"])
    assert {"rejected_edits_r1.md", "rejected_edits_r1_e1.md", "rejected_edits_r1_e2.md"} <= set(shown["artifacts"])


def test_cost_shows_the_cascade_against_its_strongest_preset_alone(tmp_path: Path) -> None:
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [BAD] * 3,
                                      "sonnet-builder": [ADD_SUB]})
    status = cli_json(repo, "run", "Add sub", "--workflow", "cheap-first")
    report = cli_json(repo, "cost", "--task", status["id"])
    [c] = report["cascades"]
    assert c["step"] == "Implementation" and c["strongest"] == "opus-planner"
    assert set(c["by_preset"]) == {"flash-builder", "sonnet-builder"}
    calls = [x for x in cli_json(repo, "show", status["id"])["calls"] if x["phase"] == "implement"]
    assert c["spent_usd"] == sum(x["cost_usd"] for x in calls)
    # The same tokens at opus prices ($15/$75 per million against flash's and sonnet's cheaper ones).
    assert c["strongest_alone_usd"] > c["spent_usd"] > 0
    assert abs(c["saved_usd"] - (c["strongest_alone_usd"] - c["spent_usd"])) < 1e-12
    text = run_cli("cost", "--task", status["id"], cwd=repo, env={"COLUMNS": "200"}).stdout
    assert "Cascade flash-builder > sonnet-builder > opus-planner" in text
    assert "the same tokens on opus-planner alone" in text and "less" in text
    assert cli_json(repo, "cost")["cascades"] == report["cascades"]  # all tasks: the same one


CRASH_ON_ESCALATED_CALL = """
import os, signal, sys
from pathlib import Path
from specrelay import paths
from specrelay.config import load_config
from specrelay.engine import Runner, create_task, prepare_workflow
from specrelay.ledger import Ledger

root = Path.cwd()
config, ledger = load_config(root), Ledger(paths.ledger_path(root))

def emit(event):
    # The escalated preset's reply is recorded; its edits are not applied yet: a crash right there.
    if event.event == "call_finished" and event.fields().get("preset") == "sonnet-builder":
        os.kill(os.getpid(), signal.SIGKILL)

task = create_task(root, ledger, config, "Add sub", workflow=prepare_workflow(root, config, "cheap-first"))
Runner(root, ledger, config, task.id, emit=emit).run()
"""


def test_crash_mid_cascade_resumes_on_the_escalated_preset_paying_nothing_twice(tmp_path: Path) -> None:
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [BAD] * 3,
                                      "sonnet-builder": [ADD_SUB]})
    env = {**os.environ, "SPECRELAY_HOME": os.environ["SPECRELAY_HOME"]}
    env.pop("PYTEST_CURRENT_TEST", None)
    crashed = subprocess.run([sys.executable, "-c", CRASH_ON_ESCALATED_CALL], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -9, crashed.stderr
    [before] = cli_json(repo, "status")
    assert [e["to_preset"] for e in before["escalations"]] == ["sonnet-builder"]
    resumed = cli_json(repo, "resume", before["id"])
    assert resumed["status"] == "done", resumed["message"]
    assert len(resumed["escalations"]) == 1
    ledger = sqlite3.connect(paths.ledger_path(repo))
    rows = ledger.execute("SELECT preset, call_key FROM calls WHERE outcome='ok' AND phase='implement' "
                          "ORDER BY id").fetchall()
    assert [p for p, _ in rows] == ["flash-builder"] * 3 + ["sonnet-builder"]  # the reply reused, not re-bought
    keys = [k for _, k in ledger.execute("SELECT preset, call_key FROM calls WHERE outcome='ok'")]
    assert len(keys) == len(set(keys))
    assert rows[-1][1].startswith("s1.r1.a0.g0.e1.")


def test_cascade_validation_names_the_file_and_line(tmp_path: Path) -> None:
    repo = cascade_project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB],
                                      "sonnet-builder": [ADD_SUB]})
    folder = repo / ".specrelay" / "workflows"
    cases = {
        "unknown": ("<!-- agent: flash-builder > nope-builder -->", "unknown preset 'nope-builder'"),
        "empty": ("<!-- agent: flash-builder > > opus-planner -->", "link 2 of the cascade"),
        "trailing": ("<!-- agent: flash-builder > -->", "link 2 of the cascade"),
        "twice": ("<!-- agent: flash-builder > flash-builder -->", "names flash-builder twice"),
    }
    for name, (line, expected) in cases.items():
        text = CASCADE.format(escalate="").replace(
            "<!-- agent: flash-builder > sonnet-builder > opus-planner -->", line)
        (folder / f"{name}.md").write_text(text)
        proc = run_cli("run", "Add sub", "--workflow", name, cwd=repo)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, name
        assert f"{name}.md:8" in proc.stderr and expected in proc.stderr, (name, proc.stderr)
    reviewing = CASCADE.format(escalate="").replace("<!-- agent: gpt-reviewer -->",
                                                    "<!-- agent: gpt-reviewer > sonnet-builder -->")
    (folder / "review.md").write_text(reviewing)
    proc = run_cli("run", "Add sub", "--workflow", "review", cwd=repo)
    assert "review.md:15" in proc.stderr and "a cascade ('>') escalates a build" in proc.stderr
    lone = CASCADE.format(escalate="<!-- escalate-after: 2 -->\n").replace(
        "flash-builder > sonnet-builder > opus-planner", "flash-builder")
    (folder / "lone.md").write_text(lone)
    proc = run_cli("run", "Add sub", "--workflow", "lone", cwd=repo)
    assert "lone.md:9" in proc.stderr and "'escalate-after' is for a cascade" in proc.stderr
    zero = CASCADE.format(escalate="<!-- escalate-after: 0 -->\n")
    (folder / "zero.md").write_text(zero)
    proc = run_cli("run", "Add sub", "--workflow", "zero", cwd=repo)
    assert "zero.md:9" in proc.stderr and "'escalate-after' must be a positive whole number" in proc.stderr
    assert not (repo / ".specrelay" / "tasks").exists() or not list((repo / ".specrelay" / "tasks").iterdir())
