"""The dashboard over HTTP: the token, the CSRF check, every page, the actions and their refusals."""

from __future__ import annotations

import html
import http.client
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import assert_clean_error, make_repo, run_cli
from taskkit import happy_replies, project
from webkit import TOKEN, client, repo_with_tasks

from specrelay.web.guard import csrf_of


@pytest.fixture(scope="module")
def tasks_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """One repository for the read-only tests of this module (its tasks are only looked at)."""
    return repo_with_tasks(tmp_path_factory.mktemp("web"))


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match[1]


def test_a_request_without_the_token_is_refused(tasks_repo: Any) -> None:
    repo, done, _ = tasks_repo
    web = client(repo)
    for path in ("/", f"/tasks/{done['id']}", f"/tasks/{done['id']}/diff", "/cost", "/reviews",
                 "/static/app.css", "/live/tasks"):
        got = web.get(path)
        assert got.status_code == 403, path
        assert "token" in got.text and done["id"] not in got.text
    assert web.get("/?token=wrong").status_code == 403
    web.cookies.set("specrelay_token_80", "wrong")
    assert web.get("/").status_code == 403


def test_the_token_in_the_url_lets_in_and_leaves_a_cookie(tasks_repo: Any) -> None:
    repo, done, _ = tasks_repo
    web = client(repo)
    first = web.get(f"/?token={TOKEN}")
    assert first.status_code == 200 and done["id"] in first.text
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
    assert web.get(f"/tasks/{done['id']}").status_code == 200  # the cookie alone, from now on
    assert web.get("/static/app.css").headers["content-type"].startswith("text/css")


def test_every_page_renders(tasks_repo: Any) -> None:
    repo, done, paused = tasks_repo
    web = client(repo)
    web.get(f"/?token={TOKEN}")
    listing = web.get("/").text
    for status in (done, paused):
        assert f'id="task-{status["id"]}"' in listing
    assert "paused" in listing and "done" in listing
    task = f"/tasks/{done['id']}"
    pages = {task: ["Planning", "opus-planner", "flash-builder", "Model calls", "spec"],
             f"{task}/spec": ["<h1>Subtraction</h1>", "Verification criteria"],
             f"{task}/reviews": ["sub has no docstring", "gpt-reviewer", "approve"],
             f"{task}/diff": ["calc.py", "def sub(a, b):"],
             f"{task}/verification": ["unittest", "exit 0"],
             f"{task}/events": ["step started", "call finished"],
             f"{task}/artifacts/spec.md": ["Subtraction"],
             f"/tasks/{paused['id']}": ["paused", "budget"],
             "/cost": ["By phase", "By preset", "By model", "<svg", "One model for everything"],
             "/cost?as=opus-planner": ["all on opus-planner"],
             "/reviews": ["No saved reviews"]}
    for path, needles in pages.items():
        got = web.get(path)
        assert got.status_code == 200, (path, got.text[:500])
        for needle in needles:
            assert needle in got.text, (path, needle)


def test_a_missing_task_or_page_says_what_the_cli_says(tasks_repo: Any) -> None:
    repo, done, _ = tasks_repo
    web = client(repo)
    web.get(f"/?token={TOKEN}")
    got = web.get("/tasks/no-such-task")
    cli = run_cli("show", "no-such-task", cwd=repo)
    assert got.status_code == 404 and "no task 'no-such-task'" in cli.stderr
    assert cli.stderr.strip().removeprefix("error: ") in html.unescape(got.text)
    assert web.get(f"/tasks/{done['id']}/nope").status_code == 404
    assert "has no artifact" in web.get(f"/tasks/{done['id']}/artifacts/nope.md").text
    assert "Traceback" not in got.text


def test_an_action_without_the_csrf_value_or_from_another_site_is_refused(tmp_path: Path) -> None:
    repo, done, _ = repo_with_tasks(tmp_path)
    web = client(repo)
    page = web.get(f"/tasks/{done['id']}?token={TOKEN}").text
    csrf = _csrf(page)
    assert csrf == csrf_of(TOKEN)
    refused = [web.post(f"/tasks/{done['id']}/merge"),
               web.post(f"/tasks/{done['id']}/merge", data={"csrf": "forged"}),
               web.post(f"/tasks/{done['id']}/merge", data={"csrf": csrf}, headers={"Origin": "http://evil.example"})]
    for got in refused:
        assert got.status_code == 403 and "CSRF" in got.text
    assert "def sub" not in (repo / "calc.py").read_text()  # nothing was merged
    other = client(repo, token="another-token")  # the value of another server's pages
    assert other.post(f"/tasks/{done['id']}/merge?token=another-token", data={"csrf": csrf}).status_code == 403


def test_merge_of_a_task_not_done_is_refused_with_the_cli_message(tmp_path: Path) -> None:
    repo, _, paused = repo_with_tasks(tmp_path)
    web = client(repo)
    csrf = _csrf(web.get(f"/tasks/{paused['id']}?token={TOKEN}").text)
    got = web.post(f"/tasks/{paused['id']}/merge", data={"csrf": csrf})
    assert got.status_code == 200 and 'class="flash flash-error"' in got.text
    cli = run_cli("merge", paused["id"], cwd=repo)
    message = cli.stderr.strip().removeprefix("error: ")
    assert cli.returncode != 0 and message
    assert message in html.unescape(got.text)
    assert "flash" not in web.get(f"/tasks/{paused['id']}").text.split("<main>")[1][:60]  # shown once


def test_merge_and_discard_from_the_page(tmp_path: Path) -> None:
    repo, done, paused = repo_with_tasks(tmp_path)
    web = client(repo)
    csrf = _csrf(web.get(f"/tasks/{done['id']}?token={TOKEN}").text)
    merged = web.post(f"/tasks/{done['id']}/merge", data={"csrf": csrf})
    assert "flash-ok" in merged.text and f"Merged specrelay/{done['id']} into main" in merged.text
    assert "def sub" in (repo / "calc.py").read_text()
    assert "merged" in web.get("/").text
    again = web.post(f"/tasks/{done['id']}/resume", data={"csrf": csrf})
    assert "flash-error" in again.text and "merged" in again.text
    gone = web.post(f"/tasks/{paused['id']}/discard", data={"csrf": csrf})
    assert "flash-ok" in gone.text and f"Discarded {paused['id']}" in gone.text
    status = json.loads(run_cli("status", paused["id"], "--json", cwd=repo).stdout)[0]
    assert status["status"] == "discarded"


def test_a_bad_resume_field_is_one_clear_message(tmp_path: Path) -> None:
    repo, _, paused = repo_with_tasks(tmp_path)
    web = client(repo)
    csrf = _csrf(web.get(f"/tasks/{paused['id']}?token={TOKEN}").text)
    got = web.post(f"/tasks/{paused['id']}/resume", data={"csrf": csrf, "budget": "lots"})
    assert "flash-error" in got.text and "budget &#39;lots&#39;: give a number" in got.text
    negative = web.post(f"/tasks/{paused['id']}/resume", data={"csrf": csrf, "budget": "-1"})
    assert "flash-error" in negative.text and "must be a positive amount" in negative.text


def test_a_spec_with_html_is_shown_escaped(tmp_path: Path) -> None:
    from specrelay.web.markup import markdown

    out = str(markdown("# Plan\n<script>alert(1)</script>\n[x](javascript:alert(1))\n"))
    assert "<script>" not in out and "&lt;script&gt;" in out and 'href="javascript:' not in out


def test_saved_reviews_are_listed_and_shown(tmp_path: Path) -> None:
    from taskkit import MAJOR, review

    repo = project(tmp_path, {"gpt-reviewer": [review("request_changes", [MAJOR])]})
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n")
    proc = run_cli("review", "--preset", "gpt-reviewer", "--json", cwd=repo)
    report = json.loads(proc.stdout)
    web = client(repo)
    listing = web.get(f"/reviews?token={TOKEN}").text
    assert report["id"] in listing and "request changes" in listing
    shown = web.get(f"/reviews/{report['id']}").text
    assert "sub has no docstring" in shown and "gpt-reviewer" in shown and "calc.py" in shown
    assert web.get("/reviews/../../etc").status_code == 404


def test_the_live_stream_sends_a_task_as_the_ledger_changes(tmp_path: Path) -> None:
    from specrelay.app.workspace import ledger_of
    from specrelay.ledger import TaskStatus
    from specrelay.web.server import Background

    repo, done, _ = repo_with_tasks(tmp_path)
    server = Background(repo, token=TOKEN)
    try:
        where = urlsplit(server.base)
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        conn.request("GET", f"/live/tasks?token={TOKEN}")
        stream = conn.getresponse()
        assert stream.status == 200 and stream.getheader("content-type", "").startswith("text/event-stream")
        assert stream.readline().startswith(b": connected")
        time.sleep(0.5)  # the watch takes its first mark
        with ledger_of(repo) as ledger:
            ledger.update_task(done["id"], status=TaskStatus.NEEDS_ATTENTION, message="looked at again")
        wrote = time.monotonic()
        while True:  # the first event of this task (another one written just before may come too)
            lines = _event(stream)
            assert lines[0] == b"event: task\n"
            data = json.loads(lines[1].removeprefix(b"data: "))
            if data["id"] == done["id"]:
                break
        assert time.monotonic() - wrote < 2
        assert "needs attention" in data["html"]
        conn.close()
    finally:
        server.stop()


def _event(stream: Any) -> list[bytes]:
    """The next event's two lines (``event:``, ``data:``) of a server-sent event stream."""
    lines: list[bytes] = []
    while len(lines) < 2:
        line = stream.readline()
        if line.strip() and not line.startswith(b":"):
            lines.append(line)
    return lines


def test_serve_refuses_a_port_it_cannot_have_in_one_line(tmp_path: Path) -> None:
    import socket

    repo = make_repo(tmp_path / "repo")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("serve", "--port", str(port), cwd=repo)
    assert_clean_error(proc, f"--port {port}: cannot listen there")
    outside = run_cli("serve", cwd=tmp_path)
    assert_clean_error(outside, "not inside a git repository")


def test_serve_prints_a_url_with_its_token_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    import os
    import signal

    repo = project(tmp_path, happy_replies())
    proc = subprocess.Popen([sys.executable, "-m", "specrelay", "serve", "--port", "0"], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        url = next(line.split("Open: ", 1)[1].strip() for line in lines if line.startswith("Open: "))
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and re.fullmatch(r"token=[A-Za-z0-9_-]{32}", parts.query)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        for path, status in ((f"/?{parts.query}", 200), ("/", 403)):
            conn.request("GET", path)
            got = conn.getresponse()
            got.read()
            assert got.status == status, path
    finally:
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err, err


def test_help_does_not_import_the_web_stack() -> None:
    code = ("import sys, specrelay.cli; "
            "print(sorted(m for m in ('starlette', 'jinja2', 'uvicorn', 'pygments', 'specrelay.web.server') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr
    assert "serve" in run_cli("--help").stdout


def test_the_task_list_follows_the_ledger_between_requests(tmp_path: Path) -> None:
    from specrelay.app.board import TaskBoard
    from specrelay.app.tasks import status
    from specrelay.app.workspace import ledger_of
    from specrelay.ledger import TaskStatus

    repo, done, paused = repo_with_tasks(tmp_path)
    board = TaskBoard(repo)
    def shown(views: list[Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in view.to_json().items() if k != "age_s"} for view in views]

    assert shown(board.views()) == shown(status(repo))
    with ledger_of(repo) as ledger:
        ledger.update_task(paused["id"], status=TaskStatus.FAILED, message="stopped by hand")
    after = {v.id: v for v in board.views()}
    assert after[paused["id"]].status is TaskStatus.FAILED and after[paused["id"]].message == "stopped by hand"
    third = run_cli("run", "Add sub once more", "--budget", "0.001", "--json", cwd=repo)
    newest = board.views()
    assert [v.id for v in newest] == [v.id for v in status(repo)] and newest[0].id == json.loads(third.stdout)["id"]
    time.sleep(1.1)
    assert board.views()[-1].age_s > after[done["id"]].age_s  # ages are of the moment asked


def test_many_tasks_read_at_once_are_what_each_reads_alone(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        from serve import make_repo as big_repo  # the benchmark's ledger, small
    finally:
        sys.path.pop(0)
    from specrelay.app.views import all_statuses, task_view
    from specrelay.app.workspace import ledger_of
    from specrelay.engine.task import load_task

    root = tmp_path / "big"
    ids = big_repo(root, 30, 100)
    with ledger_of(root, readonly=True) as ledger:
        together = {v.id: v.to_json() for v in all_statuses(root, ledger)}
        alone = {i: task_view(ledger, load_task(root, ledger, i)).to_json() for i in ids}
    for view in (*together.values(), *alone.values()):
        view.pop("age_s")
    assert together == alone and len(together) == 30


def test_a_panel_round_shows_who_agreed_on_each_finding(tmp_path: Path) -> None:
    from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, review

    gemini_major = {**MAJOR, "line": 6, "title": "Function sub lacks a docstring"}
    repo = project(tmp_path, {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
                              "gpt-reviewer": [review("request_changes", [MAJOR]), review()],
                              "gemini-reviewer": [review("request_changes", [gemini_major]), review()],
                              "sonnet-reviewer": [review(), review()]})
    proc = run_cli("run", "Add sub", "--workflow", "comprehensive-review", "--json", cwd=repo)
    task = json.loads(proc.stdout)
    assert task["status"] == "done", proc.stderr
    web = client(repo)
    page = html.unescape(web.get(f"/tasks/{task['id']}/reviews?token={TOKEN}").text)
    first = page[page.index("Round 1"):]
    assert "request changes" in first[:200] and "(2 agree)" in first
    row = first[first.index("<tbody>"):first.index("</tbody>")]
    assert "gemini-reviewer" in row and "gpt-reviewer" in row and "blocks" in row
    assert "sonnet-reviewer" in first  # a reviewer of the round, though it raised nothing
