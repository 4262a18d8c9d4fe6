"""``specrelay presets --check``: does each local or OpenAI-compatible preset's server answer, and serve its model?

Against a fake server on 127.0.0.1 and a closed port; the real llama.cpp server is asked in
tests/test_local_model.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import run_cli, write_user_config
from fake_openai import base_url, fake_openai
from test_openai_compatible import _closed_port


def preset(name: str, url: str, model: str = "tiny", extra: str = "") -> str:
    return f'[presets.{name}]\nprovider = "openai-compatible"\nmodel = "{model}"\nbase_url = "{url}"\n{extra}\n'


def checks(*args: str) -> tuple[int, dict[str, dict[str, object]]]:
    proc = run_cli("presets", "--check", "--json", *args)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, {c["name"]: c for c in json.loads(proc.stdout)}


def test_each_server_is_asked_and_its_state_said(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}/v1"
    with fake_openai() as server:
        write_user_config(
            preset("local-coder", base_url(server, "ok"))  # the built-in one, moved onto the fake
            + preset("other-model", base_url(server, "ok"), model="qwen3-coder")
            + preset("untagged", base_url(server, "ok"), model="coder")  # Ollama's name for coder:latest
            + preset("broken", base_url(server, "down"))
            + preset("web-page", base_url(server, "html"))
            + preset("gone", closed)
            # not openai-compatible, but served from this machine: asked too
            + preset("anthropic-proxy", base_url(server, "ok")).replace("openai-compatible", "anthropic"))
        code, found = checks()
        table = run_cli("presets", "--check", env={"COLUMNS": "250"})
        gets = [mode for mode, _ in server.hits]
    assert code == 1 and table.returncode == 1
    assert found["local-coder"] | {"latency_s": 0} == {
        "name": "local-coder", "provider": "openai-compatible", "model": "tiny", "base_url": base_url(server, "ok"),
        "state": "ok", "http_status": 200, "served": ["tiny", "coder:latest"], "model_served": True, "detail": "",
        "latency_s": 0, "ok": True}
    assert found["anthropic-proxy"]["ok"] is True
    assert (found["other-model"]["state"], found["other-model"]["model_served"], found["other-model"]["ok"]) == (
        "ok", False, False)
    assert (found["broken"]["state"], found["broken"]["http_status"], found["broken"]["served"]) == ("http", 500, None)
    assert found["web-page"]["state"] == "invalid"
    assert found["gone"]["state"] == "refused" and found["gone"]["model_served"] is None
    assert f"127.0.0.1:{closed.split(':')[2].split('/')[0]}" in str(found["gone"]["detail"])
    # presets sharing a server share one request, per run; built-in presets of hosted providers are not asked
    assert sorted(gets) == sorted(["ok", "down", "html"] * 2)
    assert not {"opus-planner", "gpt-reviewer", "flash-builder"} & set(found)
    lines = {line.split()[0]: line for line in table.stdout.splitlines()[2:]}
    assert "ok (" in lines["local-coder"] and "tiny: served" in lines["local-coder"]
    assert "qwen3-coder: not served (it serves tiny, coder:latest)" in lines["other-model"]
    assert found["untagged"]["model_served"] is True
    assert "HTTP 500" in lines["broken"] and "refused: nothing listens on 127.0.0.1:" in lines["gone"]


def test_all_answering_is_exit_0() -> None:
    with fake_openai() as server:
        write_user_config(preset("local-coder", base_url(server, "ok")))
        proc = run_cli("presets", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "local-coder" in proc.stdout and "tiny: served" in proc.stdout


def test_a_silent_server_is_a_timeout_within_the_limit() -> None:
    with fake_openai() as server:
        write_user_config(preset("local-coder", base_url(server, "slow")))
        t0 = time.perf_counter()
        code, found = checks("--timeout", "0.3")
        took = time.perf_counter() - t0
    assert code == 1 and found["local-coder"]["state"] == "timeout"
    assert took < 20, took  # the server would hold the request for 60 s


def test_the_key_is_sent_and_never_shown() -> None:
    secret = "sk-local-SENTINEL-123"
    with fake_openai() as server:
        write_user_config(preset("local-coder", base_url(server, "ok"), extra='api_key_env = "LOCAL_KEY"'))
        proc = run_cli("presets", "--check", "--json", env={"LOCAL_KEY": secret})
        auth = [a for _, a in server.hits]
    assert auth == [f"Bearer {secret}"]
    assert secret not in proc.stdout + proc.stderr and proc.returncode == 0


def test_remote_servers_are_not_asked_offline() -> None:
    write_user_config(preset("local-coder", f"http://127.0.0.1:{_closed_port()}/v1")
                      + preset("router", "https://openrouter.ai/api/v1", model="qwen/qwen3-coder"))
    code, found = checks()
    assert code == 1
    assert found["router"]["state"] == "offline" and "SPECRELAY_OFFLINE" in str(found["router"]["detail"])


def test_nothing_to_check_says_so(tmp_path: Path) -> None:
    (tmp_path / "only.json").write_text("[]")
    write_user_config('[presets.local-coder]\nprovider = "scripted"\nmodel = "m"\nreplies = "only.json"\n')
    proc = run_cli("presets", "--check")
    assert proc.returncode == 0 and "No openai-compatible or local presets" in proc.stdout
    assert json.loads(run_cli("presets", "--check", "--json").stdout) == []
