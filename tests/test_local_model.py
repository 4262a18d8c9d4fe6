"""specrelay against a real model server: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct.

The server and the model come from ``.ci/setup-local-model`` (see tests/llamaserver.py); without
them the module is skipped, saying how to install them. One server serves the whole module, on one
xdist worker; a test that kills it starts it again on the same port.

The model is too small to write a usable spec, edit or review: these tests assert what specrelay
does with a real server (output bounded by ``max_tokens``, usage recorded, clean one-line failures
with the reply kept, a task that survives its server dying and resumes without paying twice), never
what the model says. It is deterministic at temperature 0 and writes ~75 tokens/s on one thread, so
every preset here keeps ``max_tokens`` small.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, make_repo, run_cli
from llamaserver import ALIAS, LlamaServer, StreamTap, installed
from taskkit import CALC, TEST_CALC

from specrelay.ledger import CallRow, Ledger

pytestmark = pytest.mark.xdist_group("llama-server")

#: Priced as if it cost something, so that a cost computed from the tokens is seen to be.
PRICE = "price = {input = 1.0, output = 2.0}"
#: Statuses a task that stopped on a failure may have, all of which ``specrelay resume`` continues.
RESUMABLE = ("failed", "paused", "interrupted")

WORKFLOW = """# Local

Every step on the local model.

### [ ] Step: Planning
<!-- agent: smol -->
Write spec.md for the request: Goal, Approach, Affected files, Edge cases, Verification criteria.

### [ ] Step: Implementation
<!-- agent: smol -->
Implement spec.md with SEARCH/REPLACE blocks.

### [ ] Step: Verification
<!-- kind: verify -->
The project's checks.

### [ ] Step: Review
<!-- agent: smol -->
Review the diff against spec.md.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    python, model = installed()
    llama = LlamaServer(python, model, tmp_path_factory.mktemp("llama") / "server.log")
    llama.start()
    try:
        yield llama
    finally:
        llama.stop()


@pytest.fixture
def llama(server: LlamaServer) -> LlamaServer:
    """The module's server, running (started again if a test before this one left it dead)."""
    if server.proc is None or server.proc.poll() is not None:
        server.proc = None
        server.start()
    return server


def smol(url: str, name: str = "smol", *, model: str = ALIAS, max_tokens: int = 24, extra: str = "") -> str:
    return (f'[presets.{name}]\nprovider = "openai-compatible"\nmodel = "{model}"\nbase_url = "{url}"\n'
            f"temperature = 0.0\nmax_tokens = {max_tokens}\ncontext_window = 4096\n{PRICE}\nfallbacks = []\n"
            f"{extra}\n")


def local_repo(tmp_path: Path, llama: LlamaServer, *, max_tokens: int = 24, extra: str = "",
               url: str | None = None) -> Path:
    """A repository whose project config points every route and the ``local`` workflow at the server."""
    repo = make_repo(tmp_path / "repo", {"calc.py": CALC, "test_calc.py": TEST_CALC, "README.md": "# calc\n"})
    sr = repo / ".specrelay"
    (sr / "workflows").mkdir(parents=True)
    (sr / "workflows" / "local.md").write_text(WORKFLOW)
    (sr / "config.toml").write_text(
        "[retry]\nattempts = 1\nbackoff_s = 0.01\n\n" + smol(url or llama.base_url, max_tokens=max_tokens)
        + '[routes]\nask = "smol"\nreview = "smol"\n\n'
        + f'[verify]\ncommands = ["{sys.executable} -m unittest -q"]\ntimeout_s = 60\n' + extra)
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "\n.specrelay/\n")
    return repo


def calls(repo: Path) -> list[CallRow]:
    ledger = Ledger(repo / ".specrelay" / "ledger.db")
    try:
        return ledger.calls()
    finally:
        ledger.close()


def tokenize(llama: LlamaServer, text: str) -> int:
    """How many tokens the server's own tokenizer makes of ``text``."""
    import urllib.request

    body = json.dumps({"input": text}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{llama.port}/extras/tokenize", data=body,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.load(response)["tokens"])


def run_json(repo: Path, *args: str, **kwargs: Any) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = run_cli(*args, "--json", cwd=repo, **kwargs)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(proc.stdout + proc.stderr) from None


# --- ask ------------------------------------------------------------------------------------------------


def test_ask_not_streamed_records_the_servers_usage(tmp_path: Path, llama: LlamaServer) -> None:
    repo = local_repo(tmp_path, llama)
    proc, answer = run_json(repo, "ask", "Say hello.")
    assert proc.returncode == 0, proc.stderr
    assert answer["text"].strip() and answer["model"] and answer["provider"] == "openai-compatible"
    assert not answer["estimated"] and 0 < answer["output_tokens"] <= 24 and answer["input_tokens"] > 5
    assert answer["cost_usd"] == pytest.approx((answer["input_tokens"] * 1 + answer["output_tokens"] * 2) / 1e6)
    [row] = calls(repo)
    assert (row.outcome, row.input_tokens, row.output_tokens, row.estimated) == (
        "ok", answer["input_tokens"], answer["output_tokens"], False)
    assert row.max_tokens == 24 and 0 < row.latency_s < 30


def test_ask_streamed_prints_the_answer_and_what_it_cost(tmp_path: Path, llama: LlamaServer) -> None:
    repo = local_repo(tmp_path, llama)
    proc = run_cli("ask", "Say hello.", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    [row] = calls(repo)
    footer = proc.stdout.splitlines()[-1]
    assert row.outcome == "ok" and f"smol · {ALIAS}" in footer
    answer = proc.stdout.rsplit("\n", 2)[0]  # streamed as it came, then the footer
    assert answer.strip() and tokenize(llama, answer) <= 25, proc.stdout
    # The server sends no usage in a stream: the tokens are estimated, and said to be, never a made-up 0.
    assert row.estimated and row.output_tokens > 0 and row.input_tokens > 0, row
    assert "estimated tokens" in footer


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_max_tokens_bounds_the_answer(tmp_path: Path, llama: LlamaServer, streamed: bool) -> None:
    repo = local_repo(tmp_path, llama, max_tokens=16)
    prompt = "Write a long story about a dragon who learns to read, in at least five paragraphs."
    proc = run_cli("ask", prompt, *([] if streamed else ["--json"]), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    text = json.loads(proc.stdout)["text"] if not streamed else proc.stdout.rsplit("\n", 2)[0]
    [row] = calls(repo)
    assert row.max_tokens == 16 and text.strip()
    # Counted by the server's own tokenizer: it stopped at the cap (one token of slack for re-tokenizing).
    assert 8 <= tokenize(llama, text) <= 17, text
    assert 0 < row.output_tokens <= 16, row


# --- review ---------------------------------------------------------------------------------------------


def review_repo(tmp_path: Path, llama: LlamaServer) -> Path:
    repo = local_repo(tmp_path, llama, max_tokens=48)
    (repo / "calc.py").write_text(CALC + "\n\ndef sub(a, b):\n    return a + b\n")
    return repo


def test_review_of_a_diff_fails_cleanly_and_keeps_the_reply(tmp_path: Path, llama: LlamaServer) -> None:
    repo = review_repo(tmp_path, llama)
    # A process of its own: review as the first command a process runs (it once failed on an import cycle).
    proc = run_cli("review", cwd=repo, subprocess=True)
    # A review's JSON does not fit in 48 tokens: one line saying it was cut off and what to raise, exit 2.
    assert_clean_error(proc, "smol", "cut off at its output cap of 48 tokens", "raise max_tokens")
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
        proc.stderr.splitlines()[-1]], proc.stderr
    [row] = calls(repo)  # no repair request: it would be cut off at the same cap
    assert row.outcome == "ok" and row.output_tokens == 48 and row.input_tokens > 100 and not row.estimated, row
    # What the model wrote is kept, and the error says where.
    [kept] = (repo / ".specrelay" / "reviews").glob("*/rejected_review_smol.md")
    assert str(kept) in proc.stderr
    reply = kept.read_text().split("## The reply", 1)[1].strip().strip("`").strip()
    assert 8 <= tokenize(llama, reply) <= 49, reply


# --- a task ---------------------------------------------------------------------------------------------


def test_a_task_on_the_local_model_fails_cleanly_and_resumes(tmp_path: Path, llama: LlamaServer) -> None:
    repo = local_repo(tmp_path, llama, max_tokens=32)
    proc, status = run_json(repo, "run", "-w", "local", "Add a sub function to calc.py")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 0 and status["status"] == "failed", (status, proc.stderr)
    first = calls(repo)
    assert first and all(r.task_id == status["id"] and r.outcome == "ok" for r in first)
    assert all(0 < r.output_tokens <= 32 and r.input_tokens > 100 and r.estimated for r in first), first
    assert all(r.cost_usd == pytest.approx((r.input_tokens + 2 * r.output_tokens) / 1e6) for r in first)
    _, shown = run_json(repo, "show", status["id"])
    [failed] = [s for s in shown["steps"] if s["status"] == "failed"]
    kept = [a for a in shown["artifacts"] if a.startswith("rejected_")]
    assert kept and kept[0] in failed["error"], (shown["artifacts"], failed)  # what the model wrote, kept
    assert run_cli("show", status["id"], kept[0], cwd=repo).stdout.strip()
    # Resumed, the failed step runs again with fresh calls (replaying the ones that failed it would fail
    # it again); what was recorded stays as it was.
    again, resumed = run_json(repo, "resume", status["id"])
    assert "Traceback" not in again.stderr, again.stderr
    assert resumed["status"] in ("failed", "done", "needs_attention", "paused"), resumed
    after = calls(repo)
    assert after[: len(first)] == first and len(after) > len(first)
    assert not {r.call_key for r in after[len(first):]} & {r.call_key for r in first}


# --- a timeout, a server that dies ----------------------------------------------------------------------

#: Long to read and long to answer.
LONG = "Write a long story about a dragon who learns to read, in at least five paragraphs."
#: How long the relay in front of the server holds its answer: what the call would take without its timeout.
HOLD_S = 60.0


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_call_over_its_timeout_is_a_clean_timeout(tmp_path: Path, llama: LlamaServer, streamed: bool) -> None:
    # The server answers through a relay that holds its answer for a minute, so that the call's end says
    # whether the timeout cut it, however fast the model writes and however loaded the machine is.
    slow = StreamTap(llama.port, hold_s=HOLD_S)
    repo = local_repo(tmp_path, llama, max_tokens=400, extra="", url=slow.base_url)
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace("max_tokens = 400", "max_tokens = 400\ntimeout_s = 1.0"))
    padding = tmp_path / "notes.txt"
    padding.write_text("".join(f"Note {i}: dragons hoard books, not gold.\n" for i in range(40)))
    t0 = time.perf_counter()
    try:
        proc = run_cli("ask", *([] if streamed else ["--json"]), "-f", str(padding), LONG, cwd=repo)
        took = time.perf_counter() - t0
        assert_clean_error(proc, "timeout", "raise timeout_s")
        [row] = calls(repo)
        assert (row.outcome, row.cost_usd) == ("timeout", None), row
        # cut at its 1 s limit, not at the minute the answer took (start-up included in took)
        assert 0.9 < row.latency_s < HOLD_S / 2 and took < HOLD_S / 2, (row.latency_s, took)
    finally:
        slow.close()
        llama.restart()  # it goes on answering what nobody waits for: the next test gets a fresh server


def test_server_killed_mid_stream_then_the_task_resumes(tmp_path: Path, llama: LlamaServer) -> None:
    tap = StreamTap(llama.port)
    repo = local_repo(tmp_path, llama, max_tokens=256, url=tap.base_url)
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTEST_CURRENT_TEST", None)
    task = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "-w", "local", "--json", "Add sub"],
                            cwd=repo, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        [done] = _wait_for(lambda: [r for r in calls(repo) if r.outcome == "ok"] if _ledger(repo) else [], 90)
        # What the test needs of the model: a first plan that ends before its cap, so that a second call
        # follows it (the plan sent back for its missing sections, or the build) to be cut mid-stream.
        assert not done.truncated, ("this test needs SmolLM's first plan to end before its cap of 256 tokens "
                                    f"(a plan cut off fails the task, with no second call to cut); it was cut "
                                    f"off: {done.reply!r}")
        streamed = tap.events
        # the next call's answer is streaming in (or the task ended, which the assertion below says)
        _wait_for(lambda: tap.events >= streamed + 3 or task.poll() is not None, 60)
        assert task.poll() is None, ("this test needs a second call after the first plan, to cut mid-stream; "
                                     f"the task ended after it instead: {task.communicate()}")
        llama.kill()
        out, err = task.communicate(timeout=60)
    finally:
        tap.close()
        if task.poll() is None:
            task.kill()
            task.wait()
    assert "Traceback" not in err, err
    status = json.loads(out)
    # A server that went away is a provider failure: the task is paused where it was, to be resumed.
    assert task.returncode != 0 and status["status"] == "paused", (status, err)
    assert "connection" in status["message"] and "smol" in status["message"], status
    before = calls(repo)
    assert [r.outcome for r in before] == ["ok", "connection"], [(r.outcome, r.error) for r in before]
    assert before[1].cost_usd is None  # cut off: its cost is unknown, not a made-up zero
    _, shown = run_json(repo, "show", status["id"])
    assert [st["status"] for st in shown["steps"]][:1] == ["pending"], shown["steps"]  # to be redone, not failed
    llama.start()
    config = repo / ".specrelay" / "config.toml"
    config.write_text(config.read_text().replace(tap.base_url, llama.base_url))
    again, resumed = run_json(repo, "resume", status["id"])
    assert "Traceback" not in again.stderr, again.stderr
    after = calls(repo)
    assert after[: len(before)] == before  # nothing recorded changed
    new = after[len(before):]
    # The call that had completed is replayed from the ledger, not sent (nor paid) again; the one cut
    # off is sent again, under the same key.
    assert new and done.call_key not in {r.call_key for r in new}
    assert new[0].call_key == before[1].call_key and new[0].outcome == "ok"
    assert resumed["status"] in ("failed", "done", "needs_attention"), resumed


def _ledger(repo: Path) -> bool:
    """The task's process has created the ledger (opening it first could race with its creation)."""
    path = repo / ".specrelay" / "ledger.db"
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as db:
            db.execute("select 1 from calls limit 1")
        return True
    except sqlite3.Error:
        return False


def _wait_for(probe: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not seen within {timeout} s")


# --- presets --check ------------------------------------------------------------------------------------


def test_presets_check_sees_the_server_and_its_model(tmp_path: Path, llama: LlamaServer) -> None:
    repo = local_repo(tmp_path, llama, extra="\n" + smol(llama.base_url, "other", model="qwen2.5-coder:7b")
                      + smol(llama.base_url, "local-coder"))
    proc, _ = run_json(repo, "presets", "--check")
    found = {c["name"]: c for c in json.loads(proc.stdout)}
    assert found["smol"]["state"] == "ok" and found["smol"]["model_served"] is True, found["smol"]
    assert ALIAS in found["smol"]["served"]
    assert found["other"]["model_served"] is False and proc.returncode == 1
