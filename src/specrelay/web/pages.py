"""The pages: every task, one task (its tabs), cost, and the on-demand reviews.

Each handler asks the application layer and renders what it returns; it reads nothing itself.
Handlers are plain functions: Starlette runs them on a worker thread, as the ledger and git are.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from specrelay.app import cost, findings, presets, tasks
from specrelay.app.events import events_path, read_events
from specrelay.errors import UserError
from specrelay.web.charts import Bar, bars
from specrelay.web.markup import diff_files, log_text

if TYPE_CHECKING:
    from specrelay.app.views import TaskDetail
    from specrelay.web.site import Site

#: The tabs of a task's page, by their path under /tasks/ID.
TABS = {"": "Overview", "spec": "Spec", "reviews": "Reviews", "diff": "Diff", "verification": "Verification",
        "events": "Events"}
#: How many of a task's last events its page shows at first.
EVENTS_SHOWN = 300


def routes(site: Site) -> list[BaseRoute]:
    """The GET routes."""

    def task_list(request: Request) -> Response:
        rows = site.board.views()
        counts = Counter(str(r.status) for r in rows)
        return site.page(request, "tasks.html", tasks=rows, counts=sorted(counts.items()), live="/live/tasks")

    def task_page(request: Request) -> Response:
        tab = request.path_params.get("tab", "")
        if tab not in TABS:
            raise UserError(f"no page '{tab}' of a task; its pages are: {', '.join(t or 'overview' for t in TABS)}.")
        detail = tasks.show(site.root, request.path_params["task_id"], asker=site.asker)
        context: dict[str, Any] = {"tabs": TABS, "tab": tab, "t": detail,
                                   "live": f"/live/tasks/{detail.id}"}
        context.update(_TAB_CONTEXT[tab](site, detail))
        return site.page(request, "task.html", **context)

    def artifact_page(request: Request) -> Response:
        task_id, name = request.path_params["task_id"], request.path_params["name"]
        detail = tasks.show(site.root, task_id, asker=site.asker)
        data = tasks.artifact(site.root, detail.id, name)
        return site.page(request, "task.html", tabs=TABS, tab="artifact", t=detail, live=f"/live/tasks/{detail.id}",
                         artifact_name=name, text=log_text(data), is_markdown=name.endswith(".md"))

    def cost_page(request: Request) -> Response:
        return site.page(request, "cost.html", **_cost_context(site, request.query_params.get("as")))

    def reviews_page(request: Request) -> Response:
        return site.page(request, "reviews.html", reviews=findings.saved_reviews(site.root))

    def review_page(request: Request) -> Response:
        review = findings.saved_review(site.root, request.path_params["review_id"])
        diff = review.diff
        return site.page(request, "review.html", review=review, report=review.markdown,
                         files=diff_files(diff) if diff else [])

    def favicon(request: Request) -> Response:
        return HTMLResponse("", status_code=204)

    return [Route("/", task_list), Route("/tasks/{task_id}", task_page),
            Route("/tasks/{task_id}/artifacts/{name}", artifact_page), Route("/tasks/{task_id}/{tab}", task_page),
            Route("/cost", cost_page), Route("/reviews", reviews_page), Route("/reviews/{review_id}", review_page),
            Route("/favicon.ico", favicon)]


def _overview(site: Site, t: TaskDetail) -> dict[str, Any]:
    return {}


def _spec(site: Site, t: TaskDetail) -> dict[str, Any]:
    spec = tasks.artifact(site.root, t.id, "spec.md").decode("utf-8", "replace") if "spec.md" in t.artifacts else None
    return {"spec": spec}


def _reviews(site: Site, t: TaskDetail) -> dict[str, Any]:
    name = next((n for n in ("final_review.md", "review.md") if n in t.artifacts), None)
    report = tasks.artifact(site.root, t.id, name).decode("utf-8", "replace") if name else None
    return {"rounds": findings.review_rounds(site.root, t.id)[::-1], "report": report, "report_name": name}


def _diff(site: Site, t: TaskDetail) -> dict[str, Any]:
    try:
        text = tasks.diff(site.root, tasks.task_of(site.root, t.id))
    except UserError as exc:
        return {"files": [], "no_diff": str(exc)}
    return {"files": diff_files(text), "no_diff": None if text.strip() else "No committed changes yet."}


def _verification(site: Site, t: TaskDetail) -> dict[str, Any]:
    logs = []
    for command in (t.verification.commands if t.verification else []):
        name = command.get("log")
        text = None
        if name and name in t.artifacts:
            text = log_text(tasks.artifact(site.root, t.id, name))
        logs.append({"command": command, "log": text})
    return {"logs": logs}


def _events(site: Site, t: TaskDetail) -> dict[str, Any]:
    read = read_events(events_path(site.root, t.id))
    return {"events": read.events[-EVENTS_SHOWN:], "events_offset": read.offset,
            "live": f"/live/tasks/{t.id}?events={read.offset}"}


_TAB_CONTEXT = {"": _overview, "spec": _spec, "reviews": _reviews, "diff": _diff, "verification": _verification,
                "events": _events}


def _cost_context(site: Site, as_preset: str | None) -> dict[str, Any]:
    groups = {by: cost.cost(site.root, by=by) for by in ("phase", "preset", "model")}
    total = groups["phase"].total
    names = presets.preset_names(site.root)
    used = [str(r["key"]) for r in groups["preset"].rows]
    chosen = as_preset or (used[0] if used else None)
    one = None
    if chosen:
        try:
            one = cost.cost(site.root, as_preset=chosen)
        except UserError as exc:
            raise UserError(f"?as={chosen}: {exc}") from None
    charts = {by: bars([Bar(str(r["key"]), r["cost_usd"]) for r in report.rows], title=f"Cost by {by}")
              for by, report in groups.items()}
    compare = None
    if one is not None and one.as_ is not None:
        compare = bars([Bar("these calls", total.get("cost_usd"), "a"),
                        Bar(f"all on {one.as_.preset}", one.as_.cost_usd, "b")], title="One-model counterfactual")
    return {"groups": groups, "total": total, "charts": charts, "presets": names, "chosen": chosen, "one": one,
            "compare": compare}
