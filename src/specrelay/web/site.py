"""What every page handler shares: the repository, the token, the templates, and the messages actions
leave for the next page."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from specrelay.app.board import TaskBoard
from specrelay.app.live import LIVE_TTL_S, Asker
from specrelay.web import format as fmt
from specrelay.web.guard import csrf_of
from specrelay.web.markup import markdown

#: How many flash messages (an action's outcome, shown once on the next page) are kept at most.
_FLASHES = 200


@dataclass
class Site:
    """What every handler needs: the repository, the token, the templates, the messages of actions."""

    root: Path
    token: str
    env: jinja2.Environment
    flashes: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Set when the server begins to stop: the event streams end, so that stopping waits for nothing.
    closing: threading.Event = field(default_factory=threading.Event)
    #: Every task's status, read once and then kept up to date: the task list of a big ledger stays quick.
    board: TaskBoard = field(init=False)
    #: Who asks Temporal about the tasks handed to it: every page and stream shares its answers, kept a few
    #: seconds, so that a refresh with many such tasks does not ask each again.
    asker: Asker = field(init=False)

    def __post_init__(self) -> None:
        self.asker = Asker(ttl_s=LIVE_TTL_S)
        self.board = TaskBoard(self.root, self.asker)

    @property
    def csrf(self) -> str:
        return csrf_of(self.token)

    def render(self, name: str, **context: Any) -> str:
        """A template rendered with the site's globals."""
        return self.env.get_template(name).render(root=self.root, csrf=self.csrf, **context)

    def page(self, request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """A whole page, with the message an action left for it (``?flash=``), if any."""
        flash = self.flashes.pop(request.query_params.get("flash", ""), None)
        return HTMLResponse(self.render(name, request=request, flash=flash, **context), status_code=status)

    def flash(self, kind: str, text: str) -> str:
        """Keep a message (``ok`` or ``error``) for the next page; its key goes in the URL."""
        while len(self.flashes) >= _FLASHES:
            self.flashes.pop(next(iter(self.flashes)))
        key = secrets.token_urlsafe(8)
        self.flashes[key] = (kind, text)
        return key


def environment() -> jinja2.Environment:
    """The templates, shipped in the package, with the filters that format numbers and Markdown."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("specrelay.web", "templates"),
                             autoescape=jinja2.select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    filters: dict[str, Callable[..., Any]] = {
        "money": fmt.money, "tokens": fmt.tokens, "duration": fmt.duration, "latency": fmt.latency,
        "timestamp": fmt.timestamp, "clock": fmt.clock, "moment": fmt.moment, "event_line": fmt.event_line,
        "task_cost": fmt.task_cost, "markdown": markdown}
    env.filters.update(filters)
    return env
