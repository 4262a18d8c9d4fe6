"""The CLI of the foundation, in fresh processes as a user runs it: presets, ask, cost, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_clean_error, make_repo, run_cli, scripted, write_user_config

SENTINEL = "sk-sentinel-DO-NOT-LEAK-4242"


def test_help_and_module_entry_point() -> None:
    proc = run_cli("--help", subprocess=True)  # `python -m specrelay` itself starts
    assert proc.returncode == 0 and "presets" in proc.stdout and "ask" in proc.stdout


def test_review_is_the_first_command_of_a_fresh_process(tmp_path: Path) -> None:
    # In a process that has imported nothing of the engine yet (not in this one, where other tests have).
    repo = make_repo(tmp_path / "repo")
    write_user_config(scripted("sonnet-reviewer", ['{"verdict": "approve", "summary": "ok", "findings": []}']))
    (repo / "README.md").write_text("# changed\n")
    proc = run_cli("review", cwd=repo, subprocess=True)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def test_presets_json_shows_sources_and_keys_never_the_key(tmp_path: Path) -> None:
    write_user_config('[presets.gpt-reviewer]\ntemperature = 0.3\n')
    repo = make_repo(tmp_path / "repo")
    (repo / ".specrelay").mkdir()
    (repo / ".specrelay/config.toml").write_text(scripted("mock", ["hi"], folder=repo / ".specrelay"))
    proc = run_cli("presets", "--json", cwd=repo, env={"OPENAI_API_KEY": SENTINEL})
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["gpt-reviewer"]["source"] == "user" and rows["gpt-reviewer"]["key_present"] is True
    assert rows["opus-planner"]["key_present"] is False
    assert rows["mock"]["source"] == "project" and rows["mock"]["input_per_mtok"] is None
    assert rows["local-coder"]["key_present"] is None
    assert rows["opus-planner"]["input_per_mtok"] > 0
    assert SENTINEL not in proc.stdout + proc.stderr
    table = run_cli("presets", cwd=repo, env={"COLUMNS": "160"})
    assert "unknown" in table.stdout and "opus-planner" in table.stdout


def test_ask_with_a_scripted_preset_then_cost(tmp_path: Path) -> None:
    write_user_config(scripted("mock", ["The answer is 4.", "Second."], extra='price_as = "gpt-5.4"')
                      + scripted("cheap", ["ok"], extra='price_as = "gemini-3.8-flash"'))
    (tmp_path / "notes.txt").write_text("two plus two\n")
    proc = run_cli("ask", "what is 2+2?", "--preset", "mock", "--file", "notes.txt")
    assert proc.returncode == 0, proc.stderr
    assert "The answer is 4." in proc.stdout
    assert "mock · mock ·" in proc.stdout and "(simulated)" in proc.stdout
    as_json = json.loads(run_cli("ask", "again", "--preset", "mock", "--json").stdout)
    # each standalone command is its own run: the replies start over
    assert as_json["text"] == "The answer is 4." and as_json["simulated"] and as_json["estimated"]
    run_cli("ask", "x", "--preset", "cheap")
    cost = json.loads(run_cli("cost", "--by", "preset", "--json").stdout)
    assert {r["key"] for r in cost["rows"]} == {"mock", "cheap"}
    assert cost["total"]["calls"] == 3 and cost["total"]["cost_usd"] > 0
    alt = json.loads(run_cli("cost", "--as", "opus-planner", "--json").stdout)["as"]
    # JSON gives amounts to the micro-dollar, each rounded on its own
    assert alt["cost_usd"] > 0 and abs(alt["difference_usd"] - (alt["cost_usd"] - cost["total"]["cost_usd"])) <= 2e-6
    text = run_cli("cost", "--by", "model", "--as", "flash-builder").stdout
    assert "mock" in text and "flash-builder" in text and "simulated" in text


def test_bad_input_gives_one_clean_line(tmp_path: Path) -> None:
    assert_clean_error(run_cli("ask", "hi", "--preset", "nope"), "unknown preset 'nope'", "opus-planner")
    assert_clean_error(run_cli("ask", "hi", "--preset", "opus-planner"), "ANTHROPIC_API_KEY")
    assert_clean_error(run_cli("ask", "hi", "--preset", "local-coder", "--file", "missing.py"),
                       "--file missing.py")
    assert_clean_error(run_cli("cost", "--by", "colour"), "--by colour")
    assert_clean_error(run_cli("cost", "--task", "nope"), "--task nope")
    write_user_config('[presets.x\n')
    assert_clean_error(run_cli("presets"), "config.toml", "line 1")
    write_user_config('[presets.s]\nprovider = "scripted"\nmodel = "s"\nreplies = "nowhere.json"\n')
    assert_clean_error(run_cli("ask", "hi", "--preset", "s"), "nowhere.json", "not found")


def test_corrupt_ledger_is_reported_and_left_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    ledger = repo / ".specrelay" / "ledger.db"
    ledger.parent.mkdir()
    ledger.write_bytes(b"this is not sqlite" * 100)
    before = ledger.read_bytes()
    proc = run_cli("cost", cwd=repo)
    assert_clean_error(proc, "ledger.db", "not a readable SQLite database", "move it aside")
    assert ledger.read_bytes() == before


def test_ask_outside_a_repo_uses_the_home_ledger(tmp_path: Path) -> None:
    write_user_config(scripted("mock", ["x"]))
    assert run_cli("ask", "q", "--preset", "mock").returncode == 0
    assert (tmp_path / "specrelay-home" / "ledger.db").is_file()


def test_ask_refuses_an_empty_prompt_before_anything_is_created(tmp_path: Path) -> None:
    write_user_config(scripted("mock", ["x"]))
    for prompt in ("", "   \n"):
        assert_clean_error(run_cli("ask", prompt, "--preset", "mock"), "the prompt is empty")
    assert not (tmp_path / "specrelay-home" / "ledger.db").exists()


def test_ask_refuses_files_it_cannot_send(tmp_path: Path) -> None:
    write_user_config(scripted("mock", ["x"], extra='price_as = "gpt-4"'))  # an 8,192-token window
    (tmp_path / "folder").mkdir()
    (tmp_path / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "big.txt").write_text("abcd" * 10_000)  # about 10,000 tokens
    assert_clean_error(run_cli("ask", "hi", "--preset", "mock", "--file", "folder"), "--file folder: is a directory")
    assert_clean_error(run_cli("ask", "hi", "--preset", "mock", "--file", "blob.bin"), "--file blob.bin: is a binary")
    proc = run_cli("ask", "hi", "--preset", "mock", "--file", "big.txt")
    assert_clean_error(proc, "--file big.txt", "big.txt about 10,000 tokens", "context window of 8,192 tokens",
                       "about $0.30")  # 10,000+ input tokens at gpt-4's $30/M
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "specrelay-home" / "ledger.db").exists()
    # a preset's own context_window wins over the price table's
    write_user_config(scripted("mock", ["x"], extra='price_as = "gpt-4"\ncontext_window = 20000'))
    assert run_cli("ask", "hi", "--preset", "mock", "--file", "big.txt").returncode == 0


def test_ask_honours_budget_and_ask_usd_by_lowering_the_cap_it_sends(tmp_path: Path) -> None:
    from fake_openai import base_url, fake_openai

    with fake_openai() as server:
        url = base_url(server, "ok")
        table = (f'[presets.loc]\nprovider = "openai-compatible"\nmodel = "tiny"\nbase_url = "{url}"\n'
                 'max_tokens = 4000\nprice = {input = 1.0, output = 2.0}\n')
        write_user_config(table)
        free = json.loads(run_cli("ask", "hi", "--preset", "loc", "--json").stdout)
        capped = json.loads(run_cli("ask", "hi", "--preset", "loc", "--budget", "0.002", "--json").stdout)
        write_user_config(table + "[budget]\nask_usd = 0.0015\n")
        by_config = json.loads(run_cli("ask", "hi", "--preset", "loc", "--json").stdout)
        refused = run_cli("ask", "hi", "--preset", "loc", "--budget", "0.0005")
    sent = [b.get("max_completion_tokens", b.get("max_tokens")) for b in server.bodies]
    assert free["max_tokens"] == 4000 and not free["capped_by_budget"]
    assert capped["capped_by_budget"] and 512 <= capped["max_tokens"] < 1000  # ($0.002 - input) / $2 per M
    assert by_config["budget_usd"] == 0.0015 and by_config["max_tokens"] < capped["max_tokens"]
    assert sent == [4000, capped["max_tokens"], by_config["max_tokens"]]  # the backend got the lowered caps
    assert_clean_error(refused, "ask not sent", "floor of 512 output tokens", "--budget")
