"""A builder's correction asks only for the failing blocks: the ones that would have applied are kept by
specrelay and applied with the corrected reply, all or nothing; a repeated kept block takes its place
instead of applying twice; a second failure is corrected the same way, from the combined set. The
correction stays within its allowance, and what it leaves out for room it names."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import run_cli
from taskkit import ADD_SUB, FIX_SUB, SPEC, project, review
from wire import openai_chat as oc
from wire.server import FakeServer, serving

from specrelay.engine.steps.correction import CORRECTION_TOKENS

SUB_PY = "sub.py\n<<<<<<< SEARCH\n=======\ndef sub(a, b):\n    return a - b\n>>>>>>> REPLACE\n"
TEST_SUB = ("test_sub.py\n<<<<<<< SEARCH\n=======\nimport unittest\n\nfrom sub import sub\n\n\n"
            "class S(unittest.TestCase):\n    def test_sub(self):\n        self.assertEqual(sub(3, 1), 2)\n"
            ">>>>>>> REPLACE\n")
README_BAD = "README.md\n<<<<<<< SEARCH\n# no such title\n=======\n# calc, with sub\n>>>>>>> REPLACE\n"
README_FIXED = "README.md\n<<<<<<< SEARCH\n# calc\n=======\n# calc, with sub\n>>>>>>> REPLACE\n"
NEW_ONE = "one.py\n<<<<<<< SEARCH\n=======\nONE = 1\n>>>>>>> REPLACE\n"
NEW_TWO = "two.py\n<<<<<<< SEARCH\n=======\nTWO = 2\n>>>>>>> REPLACE\n"
README_STILL_BAD = "README.md\n<<<<<<< SEARCH\n# also not the title\n=======\n# calc, with sub\n>>>>>>> REPLACE\n"


def remote_builder(tmp_path: Path, server: FakeServer) -> Path:
    """The scripted team, with a builder served by ``server`` over the OpenAI chat wire."""
    table = (f'\n[presets.flash-builder]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
             f'base_url = "{server.url}/v1"\nfallbacks = []\nprice = {{input = 0.0, output = 0.0}}\n')
    return project(tmp_path, {"opus-planner": [SPEC], "gpt-reviewer": [review()]}, extra=table)


def build(tmp_path: Path, *replies: str) -> tuple[Path, dict, list[str]]:
    """Run a task whose builder answers ``replies`` in turn: the repo, run's status, the builder's prompts."""
    with serving() as server:
        server.queue(*(oc.reply(text, "tiny", use=oc.usage(500, 100)) for text in replies))
        repo = remote_builder(tmp_path, server)
        proc = run_cli("run", "Add sub", "--json", cwd=repo)
        prompts = [next(m["content"] for m in r.body["messages"] if m["role"] == "user") for r in server.received]
    return repo, json.loads(proc.stdout), prompts


def committed(repo: Path, branch: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{branch}:{path}"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def test_a_correction_asks_only_for_the_failing_block_and_all_four_changes_land(tmp_path: Path) -> None:
    first = SUB_PY + "\n" + TEST_SUB + "\n" + ADD_SUB + "\n" + README_BAD
    repo, status, prompts = build(tmp_path, first, README_FIXED)
    assert status["status"] == "done", status
    assert len(prompts) == 2
    branch = status["branch"]
    assert committed(repo, branch, "sub.py") == "def sub(a, b):\n    return a - b\n"
    assert "class S(unittest.TestCase)" in committed(repo, branch, "test_sub.py")
    assert committed(repo, branch, "calc.py").count("def sub(a, b):") == 1
    assert committed(repo, branch, "README.md") == "# calc, with sub\n"
    correction = prompts[1][len(prompts[0]) - 1:]
    assert "# no such title" in correction  # the failing block, quoted
    assert "Kept: 3 blocks" in correction and "do not send them again" in correction
    for kept in ("sub.py: creates it", "test_sub.py: creates it", "calc.py: lines 1-2"):
        assert kept in correction, correction
    assert "from sub import sub" not in correction and "return a - b" not in correction  # named, not quoted
    assert "send them again too" not in correction and "Send all the blocks again" not in correction
    assert "Answer with corrected versions of the failing blocks only" in correction
    log = subprocess.run(["git", "log", "--format=%s", f"main..{branch}"], cwd=repo, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert len(log) == 1  # one commit, with all four changes


def test_kept_blocks_apply_in_their_order_each_on_what_the_ones_before_it_left(tmp_path: Path) -> None:
    # FIX_SUB's SEARCH is what ADD_SUB writes: it would have applied only after it, and does so again
    repo, status, prompts = build(tmp_path, ADD_SUB + "\n" + README_BAD + "\n" + FIX_SUB, README_FIXED)
    assert status["status"] == "done", status
    calc = committed(repo, status["branch"], "calc.py")
    assert calc.count("def sub(a, b):") == 1 and '"""a minus b."""' in calc, calc
    assert "Kept: 2 blocks" in prompts[1] and "calc.py: lines 5-6" in prompts[1]


def test_a_second_failure_is_corrected_from_the_combined_set(tmp_path: Path) -> None:
    repo, status, prompts = build(tmp_path, NEW_ONE + "\n" + README_BAD, README_STILL_BAD + "\n" + NEW_TWO,
                                  README_FIXED)
    assert status["status"] == "done", status
    assert len(prompts) == 3
    for path, text in (("one.py", "ONE = 1\n"), ("two.py", "TWO = 2\n"), ("README.md", "# calc, with sub\n")):
        assert committed(repo, status["branch"], path) == text
    third = prompts[2][prompts[2].index("## What failed in your previous reply"):]
    assert "Kept: 2 blocks" in third and "one.py: creates it" in third and "two.py: creates it" in third
    assert "# also not the title" in third and "# no such title" not in third  # the latest failing block
    assert "ONE = 1" not in third and "TWO = 2" not in third
    assert "1 of the 3 blocks could not be applied" in third


def test_a_corrected_reply_repeating_a_kept_block_replaces_it(tmp_path: Path) -> None:
    one_again = NEW_ONE.replace("ONE = 1", "ONE = 'one'")
    repo, status, prompts = build(tmp_path, NEW_ONE + "\n" + ADD_SUB + "\n" + README_BAD,
                                  one_again + "\n" + ADD_SUB + "\n" + README_FIXED)
    assert status["status"] == "done", status  # not "one.py already has content"
    assert committed(repo, status["branch"], "one.py") == "ONE = 'one'\n"  # the reply's version
    assert committed(repo, status["branch"], "calc.py").count("def sub(a, b):") == 1  # applied once


def test_what_a_correction_leaves_out_for_room_it_names(tmp_path: Path) -> None:
    # 30 failing blocks with long SEARCH texts and 40 that would apply: far more than the allowance
    failing = "".join("calc.py\n<<<<<<< SEARCH\n" + f"def missing_{i}(a, b):\n    return {i}\n" * 40
                      + f"=======\nx = {i}\n>>>>>>> REPLACE\n\n" for i in range(30))
    good = "".join(f"pkg/module_{i}.py\n<<<<<<< SEARCH\n=======\nVALUE = {i}\n>>>>>>> REPLACE\n\n"
                   for i in range(40))
    repo, status, prompts = build(tmp_path, good + failing, ADD_SUB)
    assert status["status"] == "done", status
    assert committed(repo, status["branch"], "pkg/module_39.py") == "VALUE = 39\n"  # kept, applied
    correction = prompts[1][len(prompts[0]) - 1:]
    assert len(correction) <= CORRECTION_TOKENS * 4
    assert "Kept: 40 blocks" in correction and "more blocks, on pkg/module_" in correction
    assert "Failing block 1 (calc.py)" in correction
    assert "are not quoted here, for room; they are on calc.py." in correction
    assert "30 of the 70 blocks could not be applied" in correction
    assert "left out here, for room" in correction or "Failing block 30 (calc.py):" in correction
    shown = json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)
    [_, corrected] = [c for c in shown["calls"] if c["phase"] == "implement"]
    assert corrected["context"]["previous"] + corrected["context"]["problem"] <= CORRECTION_TOKENS


def test_a_corrected_reply_that_does_not_parse_keeps_what_was_kept_and_what_is_to_correct(tmp_path: Path) -> None:
    malformed = "README.md\n<<<<<<< SEARCH\n# calc\n>>>>>>> REPLACE\n"
    repo, status, prompts = build(tmp_path, NEW_ONE + "\n" + README_BAD, malformed, README_FIXED)
    assert status["status"] == "done", status
    third = prompts[2][prompts[2].index("## What failed in your previous reply"):]
    assert "Kept: 1 block" in third and "one.py: creates it" in third and "do not send them again" in third
    assert "around line" in third and "Malformed edit block" in third  # the reply that did not parse
    assert "Blocks that failed before, still to correct:" in third and "# no such title" in third
    assert committed(repo, status["branch"], "one.py") == "ONE = 1\n"


def test_edits_refused_after_every_correction_keep_the_kept_blocks_in_the_report(tmp_path: Path) -> None:
    with serving() as server:
        server.queue(*(oc.reply(text, "tiny", use=oc.usage(500, 100))
                       for text in (NEW_ONE + "\n" + README_BAD, README_STILL_BAD, README_STILL_BAD)))
        repo = remote_builder(tmp_path, server)
        proc = run_cli("run", "Add sub", "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "failed"
    assert "could not be applied after 2 corrections: block 1 of the last reply (README.md, line 2): SEARCH not found" \
        in proc.stderr, proc.stderr
    report = (Path(status["folder"]) / "rejected_edits_r1.md").read_text()
    assert "## Blocks kept from earlier replies, applied before the last reply's" in report
    assert "ONE = 1" in report and "# also not the title" in report
