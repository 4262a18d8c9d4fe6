"""Server-sent events: the task list and a task's page kept up to date without a reload.

Each stream polls the ledger through :class:`~specrelay.app.watch.TaskWatch` (a cheap query a few
times a second; the tasks' status built only when something was written) and sends each changed
task as HTML rendered by the same templates as the page, which the page's script puts in place. A
task's stream also sends the new lines of its ``events.jsonl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from specrelay.app import tasks
from specrelay.app.events import events_path, read_events
from specrelay.app.watch import TaskWatch

if TYPE_CHECKING:
    from specrelay.web.site import Site

#: How often the ledger is looked at: well inside the half second a change may take to show.
POLL_S = 0.2
#: A comment this often keeps proxies and the browser from closing a quiet stream.
KEEPALIVE_S = 15.0


def message(event: str, data: object) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def routes(site: Site) -> list[BaseRoute]:
    """The event streams."""

    async def task_list(request: Request) -> Response:
        watch = TaskWatch(site.root, asker=site.asker)

        def changed() -> list[str]:
            return [message("task", {"id": v.id, "html": site.render("_task_row_one.html", t=v)}) for v in watch.poll()]

        return _stream(site, request, changed)

    async def one_task(request: Request) -> Response:
        task_id = tasks.task_of(site.root, request.path_params["task_id"]).id
        watch = TaskWatch(site.root, only=task_id, asker=site.asker)
        path = events_path(site.root, task_id)
        given = request.query_params.get("events", "")
        offset = [int(given) if given.isdigit() else -1]  # where the page's events end; none: not followed

        def changed() -> list[str]:
            out = []
            if offset[0] >= 0:
                read = read_events(path, offset[0])
                offset[0] = read.offset
                out += [message("log", {"html": site.render("_event.html", e=e)}) for e in read.events]
            if watch.poll():
                detail = tasks.show(site.root, task_id, asker=site.asker)
                out.append(message("fragments", {
                    "task-head": site.render("_task_head.html", t=detail),
                    "task-overview": site.render("_task_overview.html", t=detail)}))
            return out

        return _stream(site, request, changed)

    return [Route("/live/tasks", task_list), Route("/live/tasks/{task_id}", one_task)]


def _stream(site: Site, request: Request, changed: Callable[[], list[str]]) -> Response:
    async def events() -> AsyncIterator[str]:
        yield ": connected\n\n"
        quiet_since = time.monotonic()
        while not site.closing.is_set() and not await request.is_disconnected():
            sent = await anyio.to_thread.run_sync(changed)
            for item in sent:
                yield item
            if sent:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_S:
                yield ": keepalive\n\n"
                quiet_since = time.monotonic()
            await anyio.sleep(POLL_S)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
