"""The dashboard in a real browser: Playwright for Python driving Debian's Chromium, against
``specrelay serve`` on 127.0.0.1 over repositories of scripted tasks.

Without the browser (``.ci/setup-browser`` installs it) these tests are skipped, saying so; with
``SPECRELAY_REQUIRE_BROWSER=1`` (``.ci/run``) they fail instead. Each page is screenshotted into
``$SPECRELAY_SCREENSHOTS`` (default: the test's temporary folder), to be looked at.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from taskkit import ADD_SUB, FIX_SUB, MAJOR, SPEC, project, review
from webkit import TOKEN, repo_with_tasks

from specrelay.web.server import Background

CHROMIUM = Path(os.environ.get("SPECRELAY_CHROMIUM") or "/usr/bin/chromium")
SETUP_HINT = 'eval "$(.ci/setup-browser)" (installs Debian\'s chromium) and pip install -e ".[dev]" (playwright)'


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no browser at {CHROMIUM}"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (a page per test)."""
    missing = _missing()
    if missing:
        reason = f"{missing}; run {SETUP_HINT}"
        if os.environ.get("SPECRELAY_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(reason + " (SPECRELAY_REQUIRE_BROWSER is set)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page of a fresh browser context (no cookie yet); a script error on it fails the test."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield tab
    finally:
        context.close()
    # A 403 a test asked for, and the stream cut when its server stopped, are no script errors.
    assert not [e for e in errors if "403" not in e and "net::ERR_" not in e], errors


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SPECRELAY_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _serve(repo: Path) -> Iterator[Background]:
    server = Background(repo, token=TOKEN)
    try:
        yield server
    finally:
        server.stop()


def _live(page: Any) -> None:
    """Wait until the page's event stream is connected."""
    page.wait_for_selector("#live-dot.on", timeout=10_000)


def test_every_page_loads(tmp_path: Path, page: Any, shots: Path) -> None:
    repo, done, paused = repo_with_tasks(tmp_path, subprocess=True)
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "\n\ndef mul(a, b):\n    return a * b\n")
    assert run_cli("review", "--preset", "gpt-reviewer", cwd=repo, subprocess=True).returncode in (0, 1)
    for server in _serve(repo):
        page.goto(server.url)
        assert page.title() == "Tasks · specrelay"
        assert page.locator(f"#task-{done['id']} .badge").inner_text() == "done"
        assert page.locator(f"#task-{paused['id']} .badge").inner_text() == "paused"
        page.screenshot(path=shots / "tasks.png", full_page=True)
        for tab, needle in (("", "Model calls"), ("spec", "Verification criteria"), ("reviews", "raised by"),
                            ("diff", "def sub"), ("verification", "exit 0"), ("events", "call finished")):
            page.goto(f"{server.base}/tasks/{done['id']}{'/' + tab if tab else ''}")
            assert needle in page.locator("main").inner_text(), tab
            page.screenshot(path=shots / f"task-{tab or 'overview'}.png", full_page=True)
        page.goto(f"{server.base}/cost")
        assert page.locator("svg.chart").count() == 4
        page.screenshot(path=shots / "cost.png", full_page=True)
        page.goto(f"{server.base}/reviews")
        page.locator("table a").first.click()
        assert "sub has no docstring" in page.locator("main").inner_text()
        page.screenshot(path=shots / "review.png", full_page=True)
        page.emulate_media(color_scheme="dark")  # the same pages as a dark desktop shows them
        for path, name in (("/", "tasks"), (f"/tasks/{done['id']}", "task-overview"),
                           (f"/tasks/{done['id']}/diff", "task-diff"), ("/cost", "cost")):
            page.goto(server.base + path)
            page.screenshot(path=shots / f"dark-{name}.png", full_page=True)


def test_a_task_progresses_live_while_its_run_advances(tmp_path: Path, page: Any, shots: Path) -> None:
    replies = {"opus-planner": [SPEC], "flash-builder": [ADD_SUB, FIX_SUB],
               "gpt-reviewer": [review("request_changes", [MAJOR]), review()]}
    repo = project(tmp_path, replies, delay=0.6)
    for server in _serve(repo):
        page.goto(server.url)
        _live(page)
        page.evaluate("window.notReloaded = true")
        run = subprocess.Popen([sys.executable, "-m", "specrelay", "run", "Add sub", "--json"], cwd=repo,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            row = page.locator("#task-rows tr").first
            row.wait_for(timeout=20_000)
            steps: list[str] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status, step = row.locator(".badge").inner_text(), row.locator(".step").inner_text()
                if not steps or steps[-1] != step:
                    steps.append(step)
                if status == "running" and len(steps) == 2:
                    page.screenshot(path=shots / "tasks-live.png", full_page=True)
                if status == "done":
                    break
                time.sleep(0.05)
            out, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, err
        assert row.locator(".badge").inner_text() == "done", steps
        assert {"Planning", "Implementation", "Review"} <= set(steps), steps
        assert page.evaluate("window.notReloaded") is True  # the same page all along: no reload
        assert row.locator(".num").nth(2).inner_text() != "0"  # its tokens came in too


def test_follow_a_task_to_its_diff_and_findings(tmp_path: Path, page: Any, shots: Path) -> None:
    repo, done, _ = repo_with_tasks(tmp_path, subprocess=True)
    for server in _serve(repo):
        page.goto(server.url)
        page.click(f"#task-{done['id']} a")
        page.wait_for_url(re.compile(f"/tasks/{done['id']}$"))
        assert page.locator("#task-steps li.step-done").count() == 4  # every step ticked
        page.click("nav.tabs >> text=Diff")
        page.wait_for_url(re.compile("/diff$"))
        added = page.locator("pre.highlight .gi")
        assert added.count() > 0 and "def sub(a, b):" in "".join(added.all_inner_texts())
        page.click("nav.tabs >> text=Reviews")
        finding = page.locator("table.findings tbody tr").first
        assert "sub has no docstring" in finding.inner_text()
        assert finding.locator(".who").inner_text() == "gpt-reviewer"  # who raised it
        page.screenshot(path=shots / "task-findings.png", full_page=True)


def test_resume_a_paused_task_with_the_button(tmp_path: Path, page: Any, shots: Path) -> None:
    repo, _, paused = repo_with_tasks(tmp_path, subprocess=True)
    for server in _serve(repo):
        page.goto(f"{server.url}".replace("/?", f"/tasks/{paused['id']}?"))
        assert page.locator("#task-head .badge").inner_text() == "paused"
        page.fill("input[name=budget]", "5")
        page.click("button:has-text('Resume')")
        flash = page.locator(".flash-ok")
        assert "Resuming " + paused["id"] in flash.inner_text()
        _live(page)
        page.evaluate("window.notReloaded = true")
        page.locator("#task-head .badge", has_text="done").wait_for(timeout=60_000)
        assert page.evaluate("window.notReloaded") is True
        assert page.locator("#task-steps li.step-done").count() == 4
        page.screenshot(path=shots / "task-resumed.png", full_page=True)


def test_a_merge_of_a_task_not_done_is_refused_on_the_page(tmp_path: Path, page: Any, shots: Path) -> None:
    repo, _, paused = repo_with_tasks(tmp_path, subprocess=True)
    refusal = run_cli("merge", paused["id"], cwd=repo, subprocess=True).stderr.strip().removeprefix("error: ")
    assert "is not finished" in refusal
    for server in _serve(repo):
        page.goto(server.url)
        page.click(f"#task-{paused['id']} a")
        page.click("button:has-text('Merge')")
        assert page.locator(".flash-error").inner_text() == refusal  # the CLI's own sentence
        page.screenshot(path=shots / "merge-refused.png", full_page=True)
        page.reload()
        assert page.locator(".flash").count() == 0  # said once
    assert "def sub" not in (repo / "calc.py").read_text()


def test_without_the_token_or_the_csrf_value_the_browser_gets_403(tmp_path: Path, browser: Any) -> None:
    repo, done, _ = repo_with_tasks(tmp_path, subprocess=True)
    for server in _serve(repo):
        context = browser.new_context()
        tab = context.new_page()
        got = tab.goto(server.base + "/")
        assert got.status == 403 and "token" in tab.inner_text("body")
        assert tab.goto(f"{server.base}/tasks/{done['id']}").status == 403
        tab.goto(server.url)  # now with the token: a cookie, and a page of its own origin
        forged = tab.evaluate("""async (id) => {
            const r = await fetch('/tasks/' + id + '/merge', {method: 'POST', body: new URLSearchParams({})});
            return [r.status, await r.text()];
        }""", done["id"])
        assert forged[0] == 403 and "CSRF" in forged[1]
        context.close()
    assert "def sub" not in (repo / "calc.py").read_text()
