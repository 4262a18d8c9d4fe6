"""What a prompt may carry: a builder's correction holds only what failed, bounded; a JSON repair quotes the
bad reply, bounded; a prompt over its preset's context window is refused before anything is sent, naming
its parts and their sizes; a budgeted call's default output cap fits the window."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import assert_clean_error, make_repo, run_cli, write_user_config
from fake_openai import base_url, fake_openai
from taskkit import ADD_SUB, SPEC, project, review
from wire import openai_chat as oc
from wire.server import FakeServer, serving

from specrelay.config import load_config
from specrelay.engine.steps.correction import CORRECTION_TOKENS
from specrelay.errors import ContextOverflow
from specrelay.ledger import Ledger
from specrelay.llm import Client, estimate_tokens
from specrelay.llm.client import REPAIR_QUOTE_TOKENS

PROSE = "This paragraph explains the change at great length, again and again. "
#: A long reply (about 10,000 tokens of prose) whose one block never closes.
LONG_MALFORMED = ("Here is my plan.\n" + "\n".join(PROSE * 8 for _ in range(80))
                  + "\n\ncalc.py\n<<<<<<< SEARCH\ndef add(a, b):\n    return a + b\n")
#: Eight new files of about 750 tokens each that would apply, and one block whose SEARCH matches nowhere.
NEW_FILES = "".join(f"new{i}.py\n<<<<<<< SEARCH\n=======\n" + f"VALUE_{i} = 'filler line of text'\n" * 90
                    + ">>>>>>> REPLACE\n\n" for i in range(8))
NO_MATCH = ("calc.py\n<<<<<<< SEARCH\ndef nope(a, b):\n    return a * b\n=======\ndef nope(a, b):\n    return 0\n"
            ">>>>>>> REPLACE\n")


def remote_builder(tmp_path: Path, server: FakeServer) -> Path:
    """The scripted team, with a builder served by ``server`` over the OpenAI chat wire."""
    table = (f'\n[presets.flash-builder]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
             f'base_url = "{server.url}/v1"\nfallbacks = []\nprice = {{input = 0.0, output = 0.0}}\n')
    return project(tmp_path, {"opus-planner": [SPEC], "gpt-reviewer": [review()]}, extra=table)


def builder_prompts(server: FakeServer) -> list[str]:
    return [next(m["content"] for m in r.body["messages"] if m["role"] == "user") for r in server.received]


def test_a_long_malformed_reply_gets_a_bounded_correction(tmp_path: Path) -> None:
    with serving() as server:
        server.queue(oc.reply(LONG_MALFORMED, "tiny", use=oc.usage(500, 10_000)),
                     oc.reply(ADD_SUB, "tiny", use=oc.usage(600, 40)))
        repo = remote_builder(tmp_path, server)
        proc = run_cli("run", "Add sub", "--json", cwd=repo)
        first, second = builder_prompts(server)
    assert json.loads(proc.stdout)["status"] == "done", proc.stderr
    assert len(LONG_MALFORMED) > 40_000
    added = len(second) - len(first)
    assert 0 < added <= CORRECTION_TOKENS * 4, added  # not the 40,000 characters of the reply
    assert "Malformed edit block" in second and "<<<<<<< SEARCH" in second  # the break, quoted
    assert second.count(PROSE) < LONG_MALFORMED.count(PROSE) / 4  # a few lines before the break, not all
    shown = json.loads(run_cli("show", json.loads(proc.stdout)["id"], "--json", cwd=repo).stdout)
    [_, corrected] = [c for c in shown["calls"] if c["phase"] == "implement"]
    assert corrected["context"]["previous"] + corrected["context"]["problem"] <= CORRECTION_TOKENS


def test_a_correction_quotes_the_failing_block_and_names_the_kept_ones(tmp_path: Path) -> None:
    with serving() as server:
        server.queue(oc.reply(NEW_FILES + NO_MATCH, "tiny", use=oc.usage(500, 6_000)),
                     oc.reply(ADD_SUB, "tiny", use=oc.usage(600, 40)))
        repo = remote_builder(tmp_path, server)
        proc = run_cli("run", "Add sub", "--json", cwd=repo)
        first, second = builder_prompts(server)
    assert json.loads(proc.stdout)["status"] == "done", proc.stderr
    correction = second[len(first) - 1:]
    assert "def nope(a, b):" in correction  # the failing block, quoted
    assert "new0.py: creates it (90 lines)" in correction and "new7.py: creates it" in correction  # the others,
    assert "filler line of text" not in correction  # ... named and not quoted, for they are kept:
    assert "do not send them again" in correction
    assert len(second) - len(first) <= CORRECTION_TOKENS * 4
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", json.loads(proc.stdout)["branch"]], cwd=repo,
                           capture_output=True, text=True, check=True).stdout.split()
    assert {f"new{i}.py" for i in range(8)} <= set(files)  # the kept blocks applied with the correction


def test_a_json_repair_quotes_the_bad_reply_bounded(tmp_path: Path) -> None:
    bad = "I think the change is fine. " * 2_000  # about 14,000 tokens and no JSON
    with serving() as server:
        server.queue(oc.reply(bad, "tiny", use=oc.usage(300, 14_000)),
                     oc.reply(review(), "tiny", use=oc.usage(300, 80)))
        write_user_config(f'[presets.rev]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
                          f'base_url = "{server.url}/v1"\n')
        repo = make_repo(tmp_path / "repo")
        (repo / "README.md").write_text("# changed\n")
        proc = run_cli("review", "--preset", "rev", "--json", cwd=repo)
        first, second = builder_prompts(server)
    assert proc.returncode == 0, proc.stderr
    assert second.startswith(first)  # the prompt, whole
    repair = second[len(first):]
    assert "the reply holds no JSON object" in repair and "I think the change is fine." in repair
    assert "characters left out" in repair and len(repair) <= (REPAIR_QUOTE_TOKENS + 100) * 4


def test_a_prompt_over_the_window_fails_before_any_call_naming_its_parts(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "gpt-reviewer": [review()]})
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace("[presets.flash-builder]\n",
                                                 "[presets.flash-builder]\ncontext_window = 400\nmax_tokens = 100\n"))
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "failed"
    assert_clean_error(proc, "preset flash-builder: the implement prompt is about",
                       "system about", "spec about", "files about",  # the parts, with their sizes
                       "with its output cap of 100 tokens (max_tokens)", "context window of 400 tokens",
                       "so it was not sent", f"raise context_window in [presets.flash-builder] of {config}",
                       f"or lower max_tokens in [presets.flash-builder] of {config} (now 100)")
    shown = json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)
    assert [c["phase"] for c in shown["calls"]] == ["plan"]  # nothing was sent, or recorded, for the build


def test_a_budgeted_call_without_max_tokens_is_capped_to_what_the_window_leaves(tmp_path: Path) -> None:
    with fake_openai() as server:
        table = (f'[presets.loc]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
                 f'base_url = "{base_url(server, "ok")}"\n'
                 'context_window = 4096\nprice = {input = 1.0, output = 2.0}\n')
        write_user_config(table)
        budgeted = json.loads(run_cli("ask", "hi", "--preset", "loc", "--budget", "1", "--json").stdout)
        write_user_config(table + "max_tokens = 4090\n")
        refused = run_cli("ask", "hi", "--preset", "loc")
        sent = [b.get("max_tokens", b.get("max_completion_tokens")) for b in server.bodies]
    assert 3_900 < budgeted["max_tokens"] <= 4096 - 40, budgeted  # not DEFAULT_MAX_OUTPUT's 8,192
    assert sent == [budgeted["max_tokens"]]  # the second was never sent
    assert_clean_error(refused, "preset loc: the ask prompt is about", "output cap of 4,090 tokens",
                       "context window of 4,096 tokens", "or lower max_tokens")


def test_a_prompt_too_large_for_a_preset_goes_to_a_fallback_whose_window_fits(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB], "big-builder": [ADD_SUB],
                              "gpt-reviewer": [review()]})
    config = repo / ".specrelay" / "config.toml"
    head, builder = config.read_text().split("[presets.flash-builder]\n", 1)
    config.write_text(head + "[presets.flash-builder]\ncontext_window = 400\n"
                      + builder.replace("fallbacks = []", 'fallbacks = ["big-builder"]', 1))
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    status = json.loads(proc.stdout)
    assert status["status"] == "done", proc.stderr
    shown = json.loads(run_cli("show", status["id"], "--json", cwd=repo).stdout)
    assert [c["preset"] for c in shown["calls"] if c["phase"] == "implement"] == ["big-builder"]
    # when no fallback fits either, the error says so
    head, big = config.read_text().split("[presets.big-builder]\n", 1)
    config.write_text(head + "[presets.big-builder]\ncontext_window = 500\n" + big)
    failed = run_cli("run", "Add sub again", cwd=repo)
    assert_clean_error(failed, "preset flash-builder: the implement prompt is about", "context window of 400 tokens",
                       "its fallbacks' windows are too small too: big-builder (500 tokens)")
    write_user_config('[presets.tiny]\nprovider = "scripted"\nmodel = "tiny"\nreplies = "a.json"\n'
                      'context_window = 100\nfallbacks = ["roomy"]\n'
                      '[presets.roomy]\nprovider = "scripted"\nmodel = "roomy"\nreplies = "a.json"\n')
    (tmp_path / "specrelay-home" / "a.json").write_text('["fine"]')
    asked = run_cli("ask", "x" * 600, "--preset", "tiny", "--json")
    assert json.loads(asked.stdout)["preset"] == "roomy", asked.stderr


#: Code of about 3,223 tokens at 4 characters a token, which a real tokenizer counts nearer 4,100.
CODE = "".join(f"def f{i}(a, b):\n    return (a[{i}] + b) * {i} // 7\n" for i in range(301))[:12_892]


def overflow_parts(message: str) -> tuple[int, dict[str, int]]:
    """The total a context-window refusal states, and each part it lists with its size."""
    total = int(re.search(r"prompt is about ([\d,]+) tokens", message)[1].replace(",", ""))  # type: ignore[index]
    listed = re.findall(r"(system|prompt|--file \S+) about ([\d,]+) tokens?", message)
    return total, {name: int(n.replace(",", "")) for name, n in listed}


def test_the_window_counts_a_prompt_as_the_budget_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3,223 estimated tokens and a cap of 300 fit 4,096; counted as a tokenizer may count code they do not.
    assert estimate_tokens(CODE) == 3_223
    code = tmp_path / "code.py"
    code.write_text(CODE)
    with serving() as server:
        server.queue(oc.reply("fine", "tiny", use=oc.usage(4_069, 1)))
        write_user_config(f'[presets.loc]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
                          f'base_url = "{server.url}/v1"\ncontext_window = 4096\nmax_tokens = 300\n')
        proc = run_cli("ask", "What does this do?", "--file", str(code), "--preset", "loc")
        client = Client(load_config(None), Ledger(tmp_path / "l.db"))
        with pytest.raises(ContextOverflow) as refused:  # the client's own layer, not only ask's check
            client.call_sync("loc", "Review this.", CODE, phase="review")
        assert server.received == []  # nothing was sent
    assert_clean_error(proc, "preset loc: the ask prompt is about", "counted as a tokenizer may count code",
                       "output cap of 300 tokens", "context window of 4,096 tokens", "so it was not sent")
    total, parts = overflow_parts(proc.stderr)
    assert total > 4_096 - 300 and set(parts) == {"system", "prompt", f"--file {code}"}
    fence = counted_like_the_budget(f"\n\nFile: {code}\n```\n\n```")  # not a part of its own
    assert total - fence - 3 <= sum(parts.values()) <= total  # the parts add up to the total
    assert parts[f"--file {code}"] >= counted_like_the_budget(CODE)
    assert "review prompt is about" in str(refused.value) and client.ledger.calls() == []


def counted_like_the_budget(text: str) -> int:
    return (estimate_tokens(text) * 3 + 1) // 2
