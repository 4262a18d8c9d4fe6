"""``specrelay mcp`` through the official SDK's own client, over stdio as an agent starts it: a real session
(initialize, list the tools, call each), scripted models behind it, and every error a tool error carrying
specrelay's one-line message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import make_repo, scripted, write_user_config
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review

from specrelay.mcp.tools import Tools

TOOLS = ["run_task", "task_status", "show_artifact", "review", "ask", "cost", "resume", "merge", "discard"]
WORKFLOW = Path(__file__).parents[1] / "src/specrelay/data/workflows/multi-model.md"
#: How long a scripted task (plan, build, verify, review, two rounds) may take on a loaded machine.
SETTLE_S = 120


class Session:
    """A client connected to ``specrelay mcp``; each call checks the answer is what a tool answer must be."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The tool's JSON answer; it must not be an error, and its text must be that same JSON."""
        result = await self.client.call_tool(tool, arguments)
        text = result.content[0].text
        assert not result.is_error, text
        assert json.loads(text) == result.structured_content
        answer: dict[str, Any] = result.structured_content
        return answer

    async def error(self, tool: str, **arguments: Any) -> str:
        """The tool's error: one line, no traceback."""
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error, result
        [block] = result.content
        assert "Traceback" not in block.text and "\n" not in block.text.strip(), block.text
        assert result.structured_content is None
        text: str = block.text
        return text

    async def settled(self, task_id: str) -> dict[str, Any]:
        """The task's status object once it has stopped running (polled through task_status: a task started
        in the background reads as running from the moment its process is started)."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            [row] = (await self.call("task_status", task_id=task_id))["tasks"]
            if row["status"] != "running":
                return row
            assert time.monotonic() < deadline, row
            await anyio.sleep(0.3)


@asynccontextmanager
async def session(cwd: Path, *args: str) -> AsyncIterator[Session]:
    """``specrelay mcp ARGS`` started in ``cwd`` by the SDK's stdio client, with this test's environment
    (its specrelay home, the offline switch), and initialized with the handshake every agent CLI uses."""
    from mcp import Client, StdioServerParameters

    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "specrelay", "mcp", *args], env=env,
                                   cwd=cwd)
    async with Client(params, mode="legacy", read_timeout_seconds=SETTLE_S) as client:
        yield Session(client)


def in_session(cwd: Path, scenario: Callable[[Session], Awaitable[None]], *args: str) -> None:
    async def go() -> None:
        async with session(cwd, *args) as s:
            await scenario(s)

    run_async(go)


def run_async(go: Callable[[], Awaitable[None]]) -> None:
    """``go()`` run to its end; what failed in it raised as itself, not wrapped in the client's task groups."""
    try:
        anyio.run(go)
    except BaseExceptionGroup as group:
        raise _leaf(group) from None


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def _team(tmp_path: Path) -> Path:
    """A repository whose scripted reviewer asks for a docstring once, then approves; a one-round workflow
    (the finding is left open: needs_attention) beside the built-in three-round one; a helper to ask."""
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": [review("request_changes", [MAJOR]), review()],
                              "sonnet-reviewer": [review("request_changes", [MAJOR])],
                              "helper": ["The answer is 4."]},
                   extra='\n[routes]\nask = "helper"\n')
    flows = repo / ".specrelay" / "workflows"
    flows.mkdir()
    (flows / "one-round.md").write_text(WORKFLOW.read_text().replace("<!-- max-rounds: 3 -->",
                                                                     "<!-- max-rounds: 1 -->"))
    return repo


def test_the_session_lists_every_tool_with_typed_parameters(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")

    async def scenario(s: Session) -> None:
        info = s.client.server_info
        assert info.name == "specrelay" and "run_task" in (s.client.instructions or "")
        listed = {t.name: t for t in (await s.client.list_tools()).tools}
        assert list(listed) == TOOLS
        for tool in listed.values():
            assert tool.description and tool.input_schema["type"] == "object", tool
        run_task = listed["run_task"].input_schema
        assert run_task["required"] == ["request"]
        assert run_task["properties"]["budget_usd"]["anyOf"][0] == {"type": "number"}
        for name in ("merge", "discard"):
            confirm = listed[name].input_schema["properties"]["confirm"]
            assert confirm["type"] == "boolean" and confirm["default"] is False
            assert "confirm: true" in (listed[name].description or "")
        assert listed["resume"].input_schema["properties"]["rounds"]["anyOf"][0]["minimum"] == 1
        # An argument of the wrong type is refused by its schema (the SDK's message), as a tool error.
        wrong = await s.client.call_tool("task_status", {"limit": "many"})
        assert wrong.is_error and "limit" in wrong.content[0].text and "Traceback" not in wrong.content[0].text
        assert await s.call("task_status") == {"tasks": []}

    in_session(repo, scenario)


def test_a_task_runs_to_done_through_the_tools_and_is_merged_only_when_confirmed(tmp_path: Path) -> None:
    repo = _team(tmp_path)

    async def scenario(s: Session) -> None:
        started = await s.call("run_task", request="Add sub")
        task_id = started["id"]
        assert started["pid"] > 0 and started["log"].endswith(f"{task_id}/run.log")
        row = await s.settled(task_id)
        assert row["status"] == "done" and row["rounds"] == 2 and row["open"] == [], row
        assert row["verification"]["state"] == "passed"
        # The same status objects `specrelay status --json` prints.
        cli = subprocess.run([sys.executable, "-m", "specrelay", "status", "--json"], cwd=repo, capture_output=True,
                             text=True, check=True)
        listed = (await s.call("task_status"))["tasks"]
        assert [r["id"] for r in listed] == [r["id"] for r in json.loads(cli.stdout)] == [task_id]
        assert {k: v for k, v in listed[0].items() if k != "age_s"} == {
            k: v for k, v in json.loads(cli.stdout)[0].items() if k != "age_s"}

        spec = await s.call("show_artifact", task_id=task_id, artifact="spec")
        assert spec == {"task": task_id, "artifact": "spec.md", "text": SPEC}
        diff = await s.call("show_artifact", task_id="last", artifact="diff")
        assert diff["task"] == task_id and "+def sub(a, b):" in diff["text"] and '"""a minus b."""' in diff["text"]
        findings = await s.call("show_artifact", task_id=task_id, artifact="findings")
        assert findings["artifact"] == "review.json" and findings["verdict"] == "approve"
        assert findings["findings"] == []
        first = await s.call("show_artifact", task_id=task_id, artifact="review_r1.json")
        assert json.loads(first["text"])["findings"][0]["title"] == MAJOR["title"]
        reviewed = await s.call("show_artifact", task_id=task_id, artifact="review")
        assert reviewed["artifact"] == "review.md" and "approve" in reviewed["text"]
        assert "has no artifact 'nope.md'. It has: " in await s.error("show_artifact", task_id=task_id,
                                                                      artifact="nope.md")

        costs = await s.call("cost", task_id=task_id, by="phase")
        assert costs["task"] == task_id and {r["key"] for r in costs["rows"]} >= {"plan", "implement", "review"}
        assert costs["total"]["cost_usd"] > 0 and costs["total"]["simulated"] is True

        head = git(repo, "rev-parse", "HEAD")
        would = await s.call("merge", task_id=task_id)
        assert would["done"] is False and would["into"] == "main" and would["branch"] == f"specrelay/{task_id}"
        assert would["would"].startswith(f"Would merge specrelay/{task_id} into main in {repo}")
        assert git(repo, "rev-parse", "HEAD") == head and "def sub" not in (repo / "calc.py").read_text()
        merged = await s.call("merge", task_id=task_id, confirm=True)
        assert merged["done"] is True and merged["into"] == "main" and merged["sha"] == git(
            repo, "rev-parse", "HEAD").strip()
        assert "def sub" in (repo / "calc.py").read_text()
        assert "merged" in await s.error("merge", task_id=task_id, confirm=True)
        [row] = (await s.call("task_status", task_id=task_id))["tasks"]
        assert row["status"] == "merged"

    in_session(repo, scenario)


def test_an_unfinished_task_is_refused_a_merge_resumed_and_discarded_only_when_confirmed(tmp_path: Path) -> None:
    repo = _team(tmp_path)

    async def scenario(s: Session) -> None:
        task_id = (await s.call("run_task", request="Add sub", workflow="one-round"))["id"]
        row = await s.settled(task_id)
        assert row["status"] == "needs_attention" and row["open"], row
        findings = await s.call("show_artifact", task_id=task_id, artifact="findings")
        assert findings["verdict"] == "request_changes"
        assert [f["title"] for f in findings["findings"]] == [MAJOR["title"]]
        # Refused with or without confirm, as the CLI refuses it, and nothing is merged.
        for confirm in (False, True):
            refused = await s.error("merge", task_id=task_id, confirm=confirm)
            assert f"task {task_id} is not finished" in refused and MAJOR["title"] in refused
        assert "def sub" not in (repo / "calc.py").read_text()
        forced = await s.call("merge", task_id=task_id, force=True)
        assert forced["done"] is False and "although it is not finished" in forced["would"]

        resumed = await s.call("resume", task_id=task_id, rounds=1)
        assert resumed["finished"] is None and resumed["started"]["id"] == task_id
        row = await s.settled(task_id)
        assert row["status"] == "done" and row["rounds"] == 2, row
        again = await s.call("resume", task_id=task_id)
        assert again["started"] is None and again["finished"][0]["status"] == "done"

        worktree = Path(row["worktree"])
        assert "2 commits on" in await s.error("discard", task_id=task_id)
        would = await s.call("discard", task_id=task_id, force=True)
        assert would["done"] is False and would["worktree"] == str(worktree)
        assert would["would"].startswith(f"Would remove the worktree {worktree} and the branch specrelay/{task_id}")
        assert "throwing away 2 commits" in would["would"] and worktree.is_dir()
        gone = await s.call("discard", task_id=task_id, force=True, confirm=True)
        assert gone["done"] is True and gone["removed_worktree"] and gone["removed_branch"]
        assert not worktree.exists() and f"specrelay/{task_id}" not in git(repo, "branch")
        assert "discarded" in await s.error("resume", task_id=task_id)

    in_session(repo, scenario)


def test_review_and_ask_answer_through_presets_and_routes(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n")

    async def scenario(s: Session) -> None:
        reviewed = await s.call("review")  # the uncommitted changes, by the default reviewer
        assert reviewed["verdict"] == "request_changes" and reviewed["files"] == ["calc.py"]
        assert [f["title"] for f in reviewed["findings"]] == [MAJOR["title"]]
        assert [r["preset"] for r in reviewed["reviewers"]] == ["sonnet-reviewer"]
        assert reviewed["reviewed"] == "the uncommitted changes against HEAD" and Path(reviewed["folder"]).is_dir()
        alone = await s.call("review", preset="gpt-reviewer")
        assert [r["preset"] for r in alone["reviewers"]] == ["gpt-reviewer"] and alone["verdict"] == "request_changes"
        panel = await s.call("review", panel=["gpt-reviewer", "sonnet-reviewer"])
        assert sorted(r["preset"] for r in panel["reviewers"]) == ["gpt-reviewer", "sonnet-reviewer"]
        assert panel["findings"][0]["agreement"] == 2
        nothing = await s.call("review", range="HEAD..HEAD")
        assert nothing["verdict"] == "approve" and nothing["findings"] == [] and nothing["folder"] is None
        assert "unknown preset 'nope'" in await s.error("review", preset="nope")

        answer = await s.call("ask", prompt="What is 2+2?", route="ask")
        assert answer["text"] == "The answer is 4." and answer["preset"] == "helper" and answer["simulated"]
        direct = await s.call("ask", prompt="And again?", preset="helper")
        assert direct["text"] == "The answer is 4."
        assert "'nope' is not a route." in await s.error("ask", prompt="x", route="nope")
        assert "give --preset or --route, not both" in await s.error("ask", prompt="x", route="ask", preset="helper")
        assert "is empty" in await s.error("ask", prompt="  ", preset="helper")
        by_preset = await s.call("cost", by="preset")
        assert {"helper", "sonnet-reviewer", "gpt-reviewer"} <= {r["key"] for r in by_preset["rows"]}

    in_session(repo, scenario)


def test_bad_requests_are_tool_errors_with_specrelays_message(tmp_path: Path) -> None:
    repo = _team(tmp_path)

    async def scenario(s: Session) -> None:
        unknown = await s.error("task_status", task_id="nope")
        assert unknown == (f"Error executing tool task_status: no task 'nope': {repo} has no tasks yet. Start one "
                           'with: specrelay run "describe the change"'), unknown
        for tool in ("show_artifact", "resume", "merge", "discard"):
            arguments = {"artifact": "spec"} if tool == "show_artifact" else {}
            assert "no task 'nope'" in await s.error(tool, task_id="nope", **arguments)
        assert "unknown workflow 'nosuch'" in await s.error("run_task", request="Add sub", workflow="nosuch")
        assert "must be a positive amount" in await s.error("run_task", request="Add sub", budget_usd=-1)
        assert "is empty" in await s.error("run_task", request=" ")
        assert "--status nope: no such status" in await s.error("task_status", status=["nope"])
        assert "--by nope" in await s.error("cost", by="nope")
        assert await s.call("task_status") == {"tasks": []}  # none of these started a task

    in_session(repo, scenario)


def test_outside_a_repository_the_tools_say_so_and_cost_reads_the_users_ledger(tmp_path: Path) -> None:
    write_user_config(scripted("helper", ["Hello."]))
    plain = tmp_path / "plain"
    plain.mkdir()

    async def scenario(s: Session) -> None:
        for tool, arguments in (("task_status", {}), ("run_task", {"request": "Add sub"}),
                                ("merge", {"task_id": "last"}), ("review", {})):
            message = await s.error(tool, **arguments)
            assert message.endswith(f"{plain} is not inside a git repository; run `git init` or cd into your "
                                    "repository, or start the server with `specrelay mcp --repo PATH`."), message
        assert (await s.call("ask", prompt="Hi", preset="helper"))["text"] == "Hello."
        assert (await s.call("cost"))["total"]["calls"] == 1

    in_session(plain, scenario)


def test_repo_names_the_repository_the_tools_work_in(tmp_path: Path) -> None:
    repo = _team(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    async def scenario(s: Session) -> None:
        task_id = (await s.call("run_task", request="Add sub"))["id"]
        row = await s.settled(task_id)
        assert row["status"] == "done" and Path(row["worktree"]).is_relative_to(repo)

    in_session(elsewhere, scenario, "--repo", str(repo))
    assert not (elsewhere / ".specrelay").exists()


def test_a_bad_repo_option_is_one_line_and_mcp_is_not_loaded_for_help(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "specrelay", "mcp", "--repo", str(tmp_path / "nope")],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --repo ") and "Traceback" not in proc.stderr
    code = "import sys, specrelay.cli; print(sorted(m for m in ('mcp', 'specrelay.mcp') if m in sys.modules))"
    light = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "[]", light.stdout + light.stderr


def test_a_bug_in_a_tool_is_one_line_naming_it_as_a_bug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client

    from specrelay.mcp.server import build

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("oops")

    monkeypatch.setattr("specrelay.app.tasks.status", broken)

    async def go() -> None:
        async with Client(build(make_repo(tmp_path / "repo"))) as client:  # in this process, to break it
            result = await client.call_tool("task_status", {})
        assert result.is_error and "internal error: KeyError: 'oops' (this is a bug in specrelay)" in (
            result.content[0].text)

    anyio.run(go)


def test_each_tool_is_a_method_of_the_tools_and_none_is_left_out() -> None:
    assert [t.__name__ for t in Tools(Path.cwd()).all()] == TOOLS


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_http_serves_the_same_tools_on_loopback(tmp_path: Path) -> None:
    from mcp import Client

    repo = _team(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    server = subprocess.Popen([sys.executable, "-m", "specrelay", "mcp", "--http", str(port)], cwd=repo, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    async def go() -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                    tools = [t.name for t in (await client.list_tools()).tools]
                    status = await client.call_tool("task_status", {})
                    missing = await client.call_tool("task_status", {"task_id": "nope"})
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()
                await anyio.sleep(0.3)
        assert tools == TOOLS and status.structured_content == {"tasks": []}
        assert missing.is_error and "no task 'nope'" in missing.content[0].text

    try:
        run_async(go)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert f"specrelay's MCP server: http://127.0.0.1:{port}/mcp" in err



def test_http_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "specrelay", "mcp", "--http", str(port)], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=60, cwd=make_repo(tmp_path / "repo"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: --http {port}: 127.0.0.1:{port} cannot be used (Address already in use)")
