"""API keys never leave the environment: not in the ledger, artifacts, logs, errors or --json output.

Sentinel keys sit in the providers' usual variables and in a custom ``api_key_env`` variable. Tasks
run with scripted presets that name that variable; a loopback "provider" echoes the bearer token
back in its error bodies, as some real gateways do; a verification command prints its environment;
a real provider is refused under tests. Then every byte under ``.specrelay/`` (ledger and its WAL
included) and everything the CLI printed is searched for the sentinels.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from conftest import run_cli
from fleet import wait_until_settled
from taskkit import happy_replies, project

OPENAI = "sk-proj-SENTINEL-openai-5c1f09d2"
ANTHROPIC = "sk-ant-SENTINEL-anthropic-77aa31"
GEMINI = "AIza-SENTINEL-gemini-90b1c2"
CUSTOM = "gw-SENTINEL-custom-e4b8d6a0"
KEYS = {"OPENAI_API_KEY": OPENAI, "ANTHROPIC_API_KEY": ANTHROPIC, "GEMINI_API_KEY": GEMINI, "GATEWAY_TOKEN": CUSTOM}
SENTINELS = (OPENAI, ANTHROPIC, GEMINI, CUSTOM, "SENTINEL")


class _Echo(BaseHTTPRequestHandler):
    """Fails every request, quoting the credentials it was sent (401) or its headers (500)."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        auth = self.headers.get("authorization", "")
        status = 401 if "/auth/" in self.path else 500
        message = (f"Incorrect API key provided: {auth}" if status == 401
                   else f"upstream failed for request with headers {dict(self.headers)}")
        payload = json.dumps({"error": {"message": message, "type": "error"}}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in SENTINELS if s.encode() in data]


def everything_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_keys_never_reach_the_ledger_artifacts_logs_errors_or_json(tmp_path: Path) -> None:
    printed: list[str] = []

    def cli(*args: str, ok: bool = True) -> Any:
        proc = run_cli(*args, cwd=repo, env={**KEYS, "COLUMNS": "200"})
        printed.extend([proc.stdout, proc.stderr])
        assert "Traceback" not in proc.stderr, proc.stderr
        assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
        return proc

    with echo_server() as url:
        keyed = 'api_key_env = "GATEWAY_TOKEN"'
        gateway = (f'[presets.gateway]\nprovider = "openai-compatible"\nmodel = "m"\nbase_url = "{url}/auth/v1"\n'
                   f'{keyed}\nprice = {{input = 1.0, output = 1.0}}\nfallbacks = ["gateway-down"]\n\n'
                   f'[presets.gateway-down]\nprovider = "openai-compatible"\nmodel = "m"\n'
                   f'base_url = "{url}/down/v1"\n{keyed}\nprice = {{input = 1.0, output = 1.0}}\n')
        repo = project(tmp_path, happy_replies(), verify=["env | sort", "python3 -c 'import os; print(os.environ)'"],
                       extra=gateway)
        config = repo / ".specrelay" / "config.toml"
        # The scripted team takes its "key" from the custom variable too.
        config.write_text(config.read_text().replace('fallbacks = []\n', f'fallbacks = []\n{keyed}\n'))

        done = json.loads(cli("run", "Add sub", "--json").stdout)
        assert done["status"] == "done"
        folder = Path(done["folder"])
        log = (folder / "verify_r1_a0_1.log").read_text()
        assert "PATH=" in log and not leaks(log)  # the command printed its environment: no key was in it
        assert "GATEWAY_TOKEN=" not in log and "OPENAI_API_KEY=" not in log

        detached = json.loads(cli("run", "Add sub again", "--detach", "--json").stdout)
        rows = wait_until_settled(repo, 2, timeout=120, env=KEYS)
        assert {r["status"] for r in rows} == {"done"}
        assert not leaks(Path(detached["log"]).read_bytes())

        # A gateway that quotes the key back in its errors: the task pauses with its message, redacted.
        workflow = repo / ".specrelay" / "workflows" / "gw.md"
        workflow.parent.mkdir(exist_ok=True)
        workflow.write_text("### [ ] Step: Planning\n<!-- agent: gateway -->\nPlan it.\n")
        paused = cli("run", "Plan via the gateway", "--workflow", "gw", "--json", ok=False)
        assert "Incorrect API key provided: Bearer ***" in paused.stderr, paused.stderr
        assert "HTTP 500" in paused.stderr and len(paused.stderr.strip().splitlines()) == 1
        status = json.loads(paused.stdout)
        assert status["status"] == "paused" and "Bearer ***" in status["message"]
        ask = cli("ask", "hi", "--preset", "gateway", "--json", ok=False)
        assert "Bearer ***" in ask.stderr

    # Real providers are refused under tests, with the key set, and say so without it.
    for real in ("sonnet-reviewer", "gemini-reviewer"):
        refused = cli("ask", "hi", "--preset", real, ok=False)
        assert "refusing a real request" in refused.stderr
    for args in (("presets", "--json"), ("presets",), ("status", "--json"), ("status",), ("cost", "--json"),
                 ("show", done["id"], "--json"), ("show", done["id"]), ("show", status["id"], "--json")):
        cli(*args)
    missing = run_cli("ask", "hi", "--preset", "gateway", cwd=repo)  # no key at all: names the variable
    assert missing.returncode != 0 and "GATEWAY_TOKEN" in missing.stderr
    cli("gc", "--json")

    found = {name: leaks(data) for name, data in everything_under(repo / ".specrelay").items()}
    assert not {k: v for k, v in found.items() if v}, "keys written under .specrelay/"
    assert not leaks("".join(printed)), "keys printed by the CLI"
