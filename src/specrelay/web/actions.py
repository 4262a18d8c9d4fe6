"""The actions: resume, merge, discard. Each is a POST carrying the CSRF value; each asks the
application layer, so it refuses exactly what the CLI refuses, with the CLI's own sentence.

The outcome is shown once on the task's page (post, redirect, get): a refusal in red, a success
in green. A resume starts the task in a background process, as ``run --detach`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from specrelay.app import run, tasks
from specrelay.errors import SpecRelayError, UserError
from specrelay.web.guard import csrf_ok

if TYPE_CHECKING:
    from specrelay.web.site import Site

#: The largest action form read (a few short fields).
_FORM_LIMIT = 16_384

CSRF_REFUSED = ("403 Forbidden: this action did not come from a page of this dashboard (its CSRF value is "
                "missing or wrong). Reload the page and use its button.\n")


def _number(form: dict[str, list[str]], name: str, kind: Callable[[str], float]) -> float | None:
    text = (form.get(name) or [""])[0].strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise UserError(f"{name} '{text}': give a number, or leave it empty.") from None


def resume(site: Site, task_id: str, form: dict[str, list[str]]) -> str:
    budget = _number(form, "budget", float)
    rounds = _number(form, "rounds", int)
    plan = run.plan_resume(site.root, [task_id], budget_usd=budget, rounds=None if rounds is None else int(rounds))
    if not plan.pending:
        return f"Task {plan.finished[0].id} has already finished; nothing to resume."
    started = run.detach_resume(plan)
    return f"Resuming {started.ids[0]} in the background (pid {started.pid}); its log is {started.logs[0]}."


def merge(site: Site, task_id: str, form: dict[str, list[str]]) -> str:
    result = tasks.merge(site.root, task_id)
    return f"Merged {result.branch} into {result.into} ({result.sha[:10]})."


def discard(site: Site, task_id: str, form: dict[str, list[str]]) -> str:
    result = tasks.discard(site.root, task_id)
    return f"Discarded {result.task_id}: worktree and branch removed; its record stays in {result.folder}."


ACTIONS: dict[str, Callable[[Site, str, dict[str, list[str]]], str]] = {
    "resume": resume, "merge": merge, "discard": discard}


def routes(site: Site) -> list[BaseRoute]:
    """The POST routes, one per action."""

    async def act(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:_FORM_LIMIT].decode("utf-8", "replace"))
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not csrf_ok(site.token, headers, form):
            return PlainTextResponse(CSRF_REFUSED, status_code=403)
        name, task_id = request.path_params["action"], request.path_params["task_id"]
        action = ACTIONS.get(name)
        if action is None:
            return PlainTextResponse(f"404: no action '{name}'; there are {', '.join(ACTIONS)}.\n", status_code=404)
        try:
            key = site.flash("ok", await anyio.to_thread.run_sync(action, site, task_id, form))
        except SpecRelayError as exc:  # the CLI's refusal, word for word
            key = site.flash("error", str(exc))
        return RedirectResponse(f"/tasks/{quote(task_id, safe='')}?flash={key}", status_code=303)

    return [Route("/tasks/{task_id}/{action}", act, methods=["POST"])]
