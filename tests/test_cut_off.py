"""A reply cut off at its output cap (finish reason "length") is recognised in every phase: the user is
told at how many tokens it stopped, on which preset, and which max_tokens to raise; no correction or
repair is sent at the same cap; the reply is kept where the phase keeps rejected replies."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import assert_clean_error, make_repo, run_cli, scripted, write_user_config
from fake_openai import base_url, fake_openai
from taskkit import ADD_SUB, SPEC, project, review


def run_task(repo: Path) -> tuple[int, dict, str]:
    proc = run_cli("run", "Add sub", "--json", cwd=repo)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def calls_of(repo: Path, task: str, preset: str) -> list[dict]:
    shown = json.loads(run_cli("show", task, "--json", cwd=repo).stdout)
    return [c for c in shown["calls"] if c["preset"] == preset]


def set_field(repo: Path, preset: str, line: str) -> Path:
    """Add ``line`` to ``[presets.PRESET]`` of the project's config."""
    config = repo / ".specrelay" / "config.toml"
    text = config.read_text()
    config.write_text(text.replace(f"[presets.{preset}]\n", f"[presets.{preset}]\n{line}\n", 1))
    return config


def test_a_builder_reply_cut_at_its_cap_fails_at_once_and_resumes_with_a_higher_cap(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, ADD_SUB],
                              "gpt-reviewer": [review()]})
    config = set_field(repo, "flash-builder", "max_tokens = 20")  # ADD_SUB is about 37 tokens
    code, status, err = run_task(repo)
    assert code != 0 and status["status"] == "failed", err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in ("the builder's reply from preset flash-builder was cut off at its output cap of 20 tokens",
                   'finish reason "length"', f"raise max_tokens in [presets.flash-builder] of {config} (now 20)",
                   "rejected_edits_r1.md"):
        assert needle in err, err
    assert "Malformed" not in err and "corrections" not in err, err
    assert len(calls_of(repo, status["id"], "flash-builder")) == 1  # no correction sent at the same cap
    kept = (Path(status["folder"]) / "rejected_edits_r1.md").read_text()
    assert "cut off at its output cap" in kept and ADD_SUB[:80] in kept
    # the fix the message names works: raise the cap, resume
    set_field(repo, "flash-builder", "max_tokens = 1000")
    config.write_text(config.read_text().replace("max_tokens = 20\n", ""))
    resumed = run_cli("resume", status["id"], "--json", cwd=repo)
    assert json.loads(resumed.stdout)["status"] == "done", resumed.stderr


def test_a_scripted_reply_marked_truncated_is_cut_off_whatever_its_length(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [{"text": ADD_SUB, "truncated": True}],
                              "gpt-reviewer": [review()]})
    code, status, err = run_task(repo)  # the blocks would apply: a cut reply is still not built on
    assert code != 0 and status["status"] == "failed"
    assert "the builder's reply from preset flash-builder was cut off at its output cap of 32,000 tokens" in err
    assert "raise max_tokens in [presets.flash-builder] of" in err and "(now 32,000)" in err
    assert "config.toml" in err and ".specrelay/config.toml" in err  # the project's file overrides the built-in


def test_a_spec_cut_at_its_cap_is_kept_and_not_built_on(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [{"text": SPEC, "truncated": True}], "flash-builder": [ADD_SUB],
                              "gpt-reviewer": [review()]})
    code, status, err = run_task(repo)
    assert code != 0 and status["status"] == "failed", err
    assert "the planner's reply from preset opus-planner was cut off at its output cap" in err, err
    assert "raise max_tokens in [presets.opus-planner]" in err and "rejected_spec.md" in err
    assert (Path(status["folder"]) / "rejected_spec.md").read_text().strip() == SPEC.strip()
    assert not (Path(status["folder"]) / "spec.md").exists()
    assert len(calls_of(repo, status["id"], "opus-planner")) == 1
    assert calls_of(repo, status["id"], "flash-builder") == []


def test_a_review_cut_at_its_cap_gets_no_repair_request(tmp_path: Path) -> None:
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB],
                              "gpt-reviewer": [review(), review()]})
    set_field(repo, "gpt-reviewer", "max_tokens = 15")
    code, status, err = run_task(repo)
    assert code != 0 and status["status"] == "failed", err
    assert "the review reply (JSON) from preset gpt-reviewer was cut off at its output cap of 15 tokens" in err, err
    assert "raise max_tokens in [presets.gpt-reviewer]" in err and "(now 15)" in err
    assert "invalid JSON" not in err and "repair" not in err, err
    assert len(calls_of(repo, status["id"], "gpt-reviewer")) == 1


def test_an_on_demand_review_cut_at_its_cap_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    config = write_user_config(scripted("sonnet-reviewer", [{"text": review()[:40], "truncated": True}],
                                        extra="max_tokens = 900"))
    (repo / "README.md").write_text("# changed\n")
    proc = run_cli("review", "--preset", "sonnet-reviewer", cwd=repo)
    assert_clean_error(proc, "sonnet-reviewer", "the review reply (JSON) from preset sonnet-reviewer was cut off "
                       "at its output cap of 900 tokens", f"raise max_tokens in [presets.sonnet-reviewer] of {config}")
    assert "invalid JSON" not in proc.stderr


def test_ask_shows_the_cut_answer_and_says_what_to_raise(tmp_path: Path) -> None:
    config = write_user_config(scripted("mock", ["a long answer " * 10], extra="max_tokens = 4"))
    proc = run_cli("ask", "q", "--preset", "mock")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("a long answer a ")  # what came back is shown
    assert "cut off at 4 tokens" in proc.stdout  # in the footer
    assert proc.stderr.startswith("warning: the answer was cut off at its output cap of 4 tokens")
    assert f"raise max_tokens in [presets.mock] of {config} (now 4)" in proc.stderr
    write_user_config(scripted("mock", ["a long answer " * 10], extra="max_tokens = 4"))
    data = json.loads(run_cli("ask", "q", "--preset", "mock", "--json").stdout)
    assert data["truncated"] is True and "cut off at its output cap of 4 tokens" in data["cut_off"]
    write_user_config(scripted("mock", ["short"], extra="max_tokens = 4"))
    whole = json.loads(run_cli("ask", "q", "--preset", "mock", "--json").stdout)
    assert whole["truncated"] is False and whole["cut_off"] is None


def test_a_server_answering_finish_reason_length_is_recognised_over_the_socket(tmp_path: Path) -> None:
    with fake_openai() as server:
        url = base_url(server, "length")
        config = write_user_config(f'[presets.loc]\nprovider = "openai-compatible"\nmodel = "tiny"\n'
                                   f'base_url = "{url}"\nmax_tokens = 50\n')
        for streamed in (True, False):
            proc = run_cli("ask", "hi", "--preset", "loc", *([] if streamed else ["--json"]))
            assert proc.returncode == 0, proc.stderr
            said = proc.stderr if streamed else json.loads(proc.stdout)["cut_off"]
            assert "the answer was cut off at its output cap of 50 tokens" in said, said
            assert "it wrote only 3, so the server may have a lower limit of its own" in said
            assert f"raise max_tokens in [presets.loc] of {config} (now 50)" in said
        repo = make_repo(tmp_path / "repo")
        (repo / "README.md").write_text("# changed\n")
        before = len(server.bodies)
        review_proc = run_cli("review", "--preset", "loc", cwd=repo)
        assert_clean_error(review_proc, "the review reply (JSON) from preset loc was cut off at its output cap")
        assert len(server.bodies) == before + 1  # no repair request at the same cap
